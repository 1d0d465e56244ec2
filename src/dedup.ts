/**
 * Streaming near-duplicate clustering of texts: batches are shingled and signed in parallel in
 * Rust, then clustered in order with banded LSH + union-find or with LSHBloom.
 * @module
 */
import { z } from 'zod'
import * as native from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import { checkTexts, hasherShape, MAX_NUM_PERM, thresholdSchema } from './minhash'
import type { MinHasherOptions, PairColumns } from './minhash'
import { callbackOption, checkSignal, parseOptions, positiveInt } from './validate'

/** Options of {@link dedup}. Hasher options (`numPerm`, `seed`, `scheme`, `shingle`, `ngram`) as in `MinHasher`. */
export interface DedupOptions extends MinHasherOptions {
  /** Jaccard threshold in (0, 1) (default 0.8). */
  threshold?: number
  /**
   * `'lsh'` (default): banded LSH; each document is joined (union-find, lowest index as the
   * representative) with every earlier document sharing a band, after verification.
   * `'bloom'`: LSHBloom, first seen wins: a document is a duplicate when a band was seen
   * before; its earlier twin is unknown, so its cluster is −1. A few bytes per document.
   */
  mode?: 'lsh' | 'bloom'
  /** `'lsh'`: count a candidate only if its estimated Jaccard is ≥ threshold (default true). */
  verify?: boolean
  /** `'lsh'`: also return the counted pairs with their estimated Jaccard (default false). */
  pairs?: boolean
  /**
   * [false-positive, false-negative] weights of the (bands, rows) choice. Default [0.2, 0.8] for
   * `'lsh'` with `verify` (verification removes the extra candidates, so the banding leans toward
   * recall: 12 × 10 instead of 9 × 13 at 0.8/128), else [0.5, 0.5] (datasketch's).
   */
  weights?: [number, number]
  /** Explicit bands (with `rows`); default chosen from `threshold` like datasketch. */
  bands?: number
  /** Explicit rows per band (with `bands`). */
  rows?: number
  /** `'bloom'`: documents the filters are sized for (default: the array's length, or 1,000,000 for an iterable). */
  expectedItems?: number
  /** `'bloom'`: total extra false-positive rate in (0, 1) (default 1e-5). */
  falsePositiveRate?: number
  /** Texts signed per native call (default 4096). */
  batchSize?: number
  /** Worker threads for signing (default: one per core). */
  threads?: number
  /** Cancels between batches. */
  signal?: AbortSignal
  /** Called after each batch with the number of documents processed so far. */
  onProgress?: (processed: number) => void
}

/** The result of {@link dedup}. */
export interface DedupResult {
  /**
   * Cluster of each document: the index of its cluster's first document (so `clusters[i] === i`
   * for documents that are kept). `'bloom'` mode: −1 for duplicates (their twin is unknown).
   */
  clusters: Int32Array
  /** 1 for documents that have an earlier near-duplicate (the ones to drop), else 0. */
  isDuplicate: Uint8Array
  /** Number of duplicates (documents to drop). */
  duplicates: number
  /** With `pairs: true` (`'lsh'` mode): every counted (earlier, later) pair and its estimated Jaccard. */
  pairs?: PairColumns
  /** The banding used. */
  bands: number
  rows: number
}

const dedupSchema = z.strictObject({
  ...hasherShape,
  threshold: thresholdSchema.default(0.8),
  mode: z.enum(['lsh', 'bloom']).default('lsh'),
  verify: z.boolean().default(true),
  pairs: z.boolean().default(false),
  weights: z.tuple([z.number().min(0), z.number().min(0)]).optional(),
  bands: positiveInt(MAX_NUM_PERM).optional(),
  rows: positiveInt(MAX_NUM_PERM).optional(),
  expectedItems: positiveInt(Number.MAX_SAFE_INTEGER).optional(),
  falsePositiveRate: z.number().gt(0).lt(1).default(1e-5),
  batchSize: positiveInt(1 << 24).default(4096),
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onProgress: callbackOption<(n: number) => void>('must be a function (n) => void').optional(),
})

type Source = readonly string[] | Iterable<string> | AsyncIterable<string>

function isAsyncIterable(x: unknown): x is AsyncIterable<string> {
  return x != null && typeof (x as AsyncIterable<string>)[Symbol.asyncIterator] === 'function'
}
function isIterable(x: unknown): x is Iterable<string> {
  return x != null && typeof x !== 'string' && typeof (x as Iterable<string>)[Symbol.iterator] === 'function'
}

function makeDeduper(o: z.output<typeof dedupSchema>, expected: number): native.NativeDeduper {
  const weights = o.weights ?? (o.mode === 'lsh' && o.verify ? [0.2, 0.8] : [0.5, 0.5])
  return callNative(
    () =>
      new native.NativeDeduper({
        hasher: { numPerm: o.numPerm, seed: o.seed, scheme: o.scheme, shingle: o.shingle, ngram: o.ngram },
        threshold: o.threshold,
        mode: o.mode,
        verify: o.verify,
        collectPairs: o.pairs,
        weightFp: weights[0],
        weightFn: weights[1],
        bands: o.bands,
        rows: o.rows,
        expectedItems: o.expectedItems ?? Math.max(1, expected),
        falsePositiveRate: o.falsePositiveRate,
      }),
  )
}

function toResult(r: native.DedupOutput, withPairs: boolean): DedupResult {
  const out: DedupResult = {
    clusters: r.clusters,
    isDuplicate: r.isDuplicate,
    duplicates: r.duplicates,
    bands: r.bands,
    rows: r.rows,
  }
  if (withPairs) out.pairs = { a: r.pairA, b: r.pairB, jaccard: r.pairJaccard }
  return out
}

/**
 * Finds near-duplicates in a corpus, streaming: texts are consumed in batches (an array, any
 * iterable, or an async iterable such as a file reader), so only signatures/filters stay in
 * memory. Documents are numbered in arrival order. A text without letters or digits has no
 * shingle; all such texts form one cluster of their own.
 *
 * @example
 * ```ts
 * const { clusters, duplicates } = await dedup(texts, { threshold: 0.8 })
 * const kept = texts.filter((_, i) => clusters[i] === i)
 * ```
 */
export async function dedup(texts: Source, options: DedupOptions = {}): Promise<DedupResult> {
  const o = parseOptions(dedupSchema, options, 'dedup options')
  checkSignal(o.signal)
  const isArray = Array.isArray(texts)
  if (!isArray && !isIterable(texts) && !isAsyncIterable(texts)) {
    throw invalidType('texts must be an array, an iterable or an async iterable of strings')
  }
  const d = makeDeduper(o, isArray ? (texts as readonly string[]).length : 1_000_000)
  const push = async (batch: string[]): Promise<void> => {
    const signal = checkSignal(o.signal)
    const done = await callNativeAsync(() => d.push(batch, o.threads, signal))
    o.onProgress?.(done)
  }
  if (isArray) {
    const all = checkTexts(texts)
    for (let i = 0; i < all.length; i += o.batchSize) await push(all.slice(i, i + o.batchSize))
  } else {
    let batch: string[] = []
    let n = 0
    for await (const t of texts as AsyncIterable<string>) {
      if (typeof t !== 'string') throw invalidType(`texts[${n}] must be a string (got ${typeof t})`)
      batch.push(t)
      n++
      if (batch.length === o.batchSize) {
        await push(batch)
        batch = []
      }
    }
    if (batch.length) await push(batch)
  }
  return toResult(callNative(() => d.finish()), o.pairs)
}

/** Synchronous {@link dedup} of an array (blocks the event loop; signing is still parallel). */
export function dedupSync(texts: readonly string[], options: Omit<DedupOptions, 'signal'> = {}): DedupResult {
  const o = parseOptions(dedupSchema, options, 'dedup options')
  const all = checkTexts(texts)
  const d = makeDeduper(o, all.length)
  for (let i = 0; i < all.length; i += o.batchSize) {
    const done = callNative(() => d.pushSync(all.slice(i, i + o.batchSize), o.threads))
    o.onProgress?.(done)
  }
  return toResult(callNative(() => d.finish()), o.pairs)
}
