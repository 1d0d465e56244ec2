/**
 * Streaming near-duplicate clustering of texts with MinHash + LSH (or LSHBloom).
 * @module
 */
import { z } from 'zod'
import { NativeDeduper, minhashExactPairs } from '../binding'
import { callNative, callNativeAsync, invalidType, slimdexError } from './errors'
import { checkWeights, type MinHasherOptions, parseHasherOptions } from './minhash'
import { type LongTaskOptions, runLongTask } from './progress'
import { parseOptions, positiveInt } from './validate'

/** Options of {@link dedup}. */
export interface DedupOptions extends MinHasherOptions, LongTaskOptions {
  /** Jaccard similarity (of shingle sets) above which texts are near-duplicates (default 0.8), in (0, 1). */
  threshold?: number
  /**
   * `'lsh'` (default): band tables; a duplicate joins the cluster of the earliest document it
   * collides with (union-find, lowest index as representative). `'bloom'`: LSHBloom filters, a
   * few bytes per document and no band tables; a duplicate is flagged but its earlier twin is
   * unknown, so its cluster is -1.
   */
  mode?: 'lsh' | 'bloom'
  /** Keep only candidates whose estimated Jaccard ≥ threshold (default true; `'lsh'` only). */
  verify?: boolean
  /** Return the verified duplicate pairs (default false). */
  pairs?: boolean
  /** LSH weights of false positives and false negatives (default [0.5, 0.5]). */
  weights?: [number, number]
  /** Texts expected (sizes the Bloom filters in `'bloom'` mode; default 1,000,000). */
  expectedItems?: number
  /** Total extra false-positive rate of the Bloom filters (default 1e-5). */
  falsePositiveRate?: number
  /** Texts signed per native call (default 4,096); larger batches use more memory. */
  batchSize?: number
  /** Worker threads for signing (default: one per core). */
  threads?: number
}

/** What {@link dedup} returns. */
export interface DedupResult {
  /**
   * For each text (in input order), the index of its cluster's representative (the earliest
   * member); -1 for a duplicate in `'bloom'` mode, whose twin is not recorded.
   */
  clusters: Int32Array
  /** 1 where a text is a near-duplicate of an earlier one. */
  isDuplicate: Uint8Array
  /** Number of texts flagged as near-duplicates of an earlier text. */
  duplicates: number
  /** Texts seen. */
  count: number
  /** Bands × rows used. */
  bands: number
  rows: number
  /** With `pairs: true`: verified pairs (earlier index, later index, estimated Jaccard). */
  pairs?: { a: Uint32Array; b: Uint32Array; jaccard: Float32Array }
}

const dedupSchema = z.strictObject({
  numPerm: z.unknown().optional(),
  seed: z.unknown().optional(),
  scheme: z.unknown().optional(),
  shingle: z.unknown().optional(),
  ngram: z.unknown().optional(),
  threshold: z.number().gt(0).lt(1).default(0.8),
  mode: z.enum(['lsh', 'bloom']).default('lsh'),
  verify: z.boolean().default(true),
  pairs: z.boolean().default(false),
  weights: z.tuple([z.number(), z.number()]).default([0.5, 0.5]),
  expectedItems: positiveInt(Number.MAX_SAFE_INTEGER).default(1_000_000),
  falsePositiveRate: z.number().gt(0).lt(1).default(1e-5),
  batchSize: positiveInt(1 << 20).default(4096),
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onProgress: z.unknown().optional(),
})

/**
 * Finds near-duplicate texts in one streaming pass: texts are signed in parallel batches and
 * clustered in input order, so the first occurrence is always the representative.
 * `onProgress(done, total)` counts texts (`total` is NaN for an async iterable).
 *
 * @example
 * ```ts
 * const { clusters, duplicates } = await dedup(mails, { threshold: 0.8, ngram: 5 })
 * ```
 */
export async function dedup(texts: readonly string[] | AsyncIterable<string> | Iterable<string>, options: DedupOptions = {}): Promise<DedupResult> {
  const o = parseOptions(dedupSchema, options, 'dedup options')
  const hasher = parseHasherOptions({ numPerm: options.numPerm, seed: options.seed, scheme: options.scheme, shingle: options.shingle, ngram: options.ngram })
  const [weightFp, weightFn] = checkWeights(o.weights)
  if (texts === null || typeof texts !== 'object' || !(Symbol.asyncIterator in texts || Symbol.iterator in texts)) {
    throw invalidType('texts must be an array or an (async) iterable of strings')
  }
  const total = Array.isArray(texts) ? texts.length : Number.NaN
  const native = callNative(
    () =>
      new NativeDeduper({
        hasher,
        threshold: o.threshold,
        mode: o.mode,
        verify: o.verify && o.mode === 'lsh',
        collectPairs: o.pairs,
        weightFp,
        weightFn,
        expectedItems: o.expectedItems,
        falsePositiveRate: o.falsePositiveRate,
      }),
  )
  return runLongTask(options, async ({ signal, onProgress }) => {
    let batch: string[] = []
    let seen = 0
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      const texts = batch
      batch = []
      seen = await callNativeAsync(() => native.push(texts, o.threads, signal))
      onProgress?.(seen, total)
    }
    let index = 0
    for await (const text of texts as AsyncIterable<string>) {
      if (typeof text !== 'string') throw invalidType(`texts[${index}] must be a string (got ${typeof text})`)
      index++
      batch.push(text)
      if (batch.length >= o.batchSize) await flush()
      if (signal?.aborted) break
    }
    await flush()
    if (signal?.aborted) throw slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
    const out = callNative(() => native.finish())
    return {
      clusters: out.clusters,
      isDuplicate: out.isDuplicate,
      duplicates: out.duplicates,
      count: seen,
      bands: out.bands,
      rows: out.rows,
      ...(o.pairs ? { pairs: { a: out.pairA, b: out.pairB, jaccard: out.pairJaccard } } : {}),
    }
  })
}

/** Options of {@link exactDuplicatePairs}. */
export interface ExactPairsOptions {
  /** Exact Jaccard of shingle sets at or above which a pair is reported (default 0.8), in (0, 1]. */
  threshold?: number
  /** `'word'` (default) or `'char'` shingles, as in {@link MinHasher}. */
  shingle?: 'word' | 'char'
  /** Shingle length (default 5). */
  ngram?: number
  /** Worker threads (default: one per core). */
  threads?: number
}

const exactSchema = z.strictObject({
  threshold: z.number().gt(0).max(1).default(0.8),
  shingle: z.enum(['word', 'char']).default('word'),
  ngram: positiveInt(1024).default(5),
  threads: positiveInt(1024).optional(),
})

/**
 * Every pair of texts whose shingle sets have exact Jaccard ≥ threshold (an all-pairs join
 * with prefix filtering): the ground truth to measure {@link dedup}'s recall and precision
 * on your own data. Pairs are (earlier index, later index).
 */
export function exactDuplicatePairs(texts: readonly string[], options: ExactPairsOptions = {}): { a: Uint32Array; b: Uint32Array; jaccard: Float64Array } {
  const o = parseOptions(exactSchema, options, 'exactDuplicatePairs options')
  if (!Array.isArray(texts) || texts.some((x) => typeof x !== 'string')) throw invalidType('texts must be an array of strings')
  return callNative(() => minhashExactPairs(texts as string[], o.shingle, o.ngram, o.threshold, o.threads))
}
