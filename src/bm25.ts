/**
 * BM25 with the five bm25s variants, scored eagerly at build time and searched with
 * block-max pruning (exact top-k, no O(N) work per query). Scores equal bm25s's.
 * @module
 */
import { z } from 'zod'
import { NativeBm25Index } from '../binding'
import type { SparseSearchInit } from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import type { TokenizerOptions } from './tokenizer'
import { toTokenizerInit } from './tokenizer'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** A document for {@link BM25Index.build}. */
export interface TextDocument {
  /** A unique id (all numbers or all strings). */
  id: Id
  /** The text; empty texts are allowed (they never match). */
  text: string
}

/** Options of {@link BM25Index.build}. */
export interface BM25Options extends AsyncOptions {
  /** bm25s variant (default `'lucene'`). `'bm25l'` and `'bm25+'` include bm25s's score shift. */
  method?: 'lucene' | 'robertson' | 'atire' | 'bm25l' | 'bm25+'
  /** Term-frequency saturation, ≥ 0 (default 1.5). */
  k1?: number
  /** Length normalisation, 0 … 1 (default 0.75). */
  b?: number
  /** δ of BM25L / BM25+, ≥ 0 (default 0.5). */
  delta?: number
  /** How texts (and queries) are tokenized (default: bm25s's tokenizer with English stop words). */
  tokenizer?: TokenizerOptions
  /** Documents per block of the block-max index, 1 … 256 (default 32). */
  blockSize?: number
}

/** Options of {@link BM25Index.search}. */
export interface SparseSearchOptions {
  /** Number of results, 1 … 2^32 − 1. Only documents sharing a token with the query are returned. */
  k: number
  /** Approximation: stop when the k-th score beats alpha × the next block's bound; (0, 1], default 1 (exact). */
  alpha?: number
  /** Keep the ceil(beta · n) heaviest query terms; (0, 1], default 1 (exact). */
  beta?: number
  /** Only these ids may be returned. */
  filter?: readonly Id[]
  /** Scan every block (a baseline for verification and benchmarks; same results as the default). */
  exhaustive?: boolean
}

/** Options of {@link BM25Index.searchBatch}. */
export interface SparseBatchOptions extends SparseSearchOptions, AsyncOptions {
  /** Worker threads for the batch (default: one per core). */
  threads?: number
}

const buildSchema = z.strictObject({
  method: z.enum(['lucene', 'robertson', 'atire', 'bm25l', 'bm25+']).default('lucene'),
  k1: z.number().min(0).finite().default(1.5),
  b: z.number().min(0).max(1).default(0.75),
  delta: z.number().min(0).finite().default(0.5),
  tokenizer: z.any().optional(),
  blockSize: positiveInt(256).default(32),
  signal: z.instanceof(AbortSignal).optional(),
})

/** @internal */
export const searchSchema = z.strictObject({
  k: positiveInt(),
  alpha: z.number().gt(0).max(1).default(1),
  beta: z.number().gt(0).max(1).default(1),
  filter: z.array(z.union([z.string(), z.number()])).optional(),
  exhaustive: z.boolean().default(false),
})

/** @internal */
export const batchSchema = searchSchema.extend({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/** @internal */
export function toSearchInit(o: z.output<typeof searchSchema>): SparseSearchInit {
  const filter = o.filter === undefined ? undefined : toIds(o.filter, o.filter.length, 0)
  return { alpha: o.alpha, beta: o.beta, exhaustive: o.exhaustive, filter }
}

function splitDocs(docs: readonly TextDocument[]): { ids: Float64Array | string[]; texts: string[] } {
  if (!Array.isArray(docs)) throw invalidType('docs must be an array of { id, text }')
  const ids: Id[] = new Array(docs.length)
  const texts: string[] = new Array(docs.length)
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i]
    if (d === null || typeof d !== 'object' || typeof d.text !== 'string') throw invalidType(`docs[${i}] must be { id, text: string }`)
    ids[i] = d.id
    texts[i] = d.text
  }
  return { ids: toIds(ids, ids.length, 0), texts }
}

/**
 * A BM25 index over texts.
 *
 * @example
 * ```ts
 * const bm25 = await BM25Index.build([{ id: 'a', text: 'the cat sat' }, { id: 'b', text: 'dogs bark' }])
 * bm25.search('cat', { k: 10 }) // [{ id: 'a', score: 0.46… }]
 * ```
 */
export class BM25Index {
  #native: NativeBm25Index
  readonly #buffers = new ResultBuffers()

  private constructor(native: NativeBm25Index) {
    this.#native = native
  }

  /** Tokenizes and scores `docs` on the libuv pool. */
  static async build(docs: readonly TextDocument[], options: BM25Options = {}): Promise<BM25Index> {
    const o = parseOptions(buildSchema, options, 'BM25Index options')
    const { ids, texts } = splitDocs(docs)
    const init = { method: o.method, k1: o.k1, b: o.b, delta: o.delta, blockSize: o.blockSize, tokenizer: toTokenizerInit(o.tokenizer) }
    const signal = checkSignal(o.signal)
    return new BM25Index(await callNativeAsync(() => NativeBm25Index.build(ids, texts, init, signal)))
  }

  /** Synchronous twin of {@link BM25Index.build}. */
  static buildSync(docs: readonly TextDocument[], options: Omit<BM25Options, 'signal'> = {}): BM25Index {
    const o = parseOptions(buildSchema, options, 'BM25Index options')
    const { ids, texts } = splitDocs(docs)
    const init = { method: o.method, k1: o.k1, b: o.b, delta: o.delta, blockSize: o.blockSize, tokenizer: toTokenizerInit(o.tokenizer) }
    return new BM25Index(callNative(() => NativeBm25Index.buildSync(ids, texts, init)))
  }

  /** Number of documents. */
  get size(): number {
    return this.#native.size
  }

  /** Number of distinct tokens in the corpus. */
  get vocabularySize(): number {
    return this.#native.vocabularySize
  }

  /** The options the index was built with (defaults filled in; stop words as a list). */
  get options(): { method: string; k1: number; b: number; delta: number; blockSize: number; tokenizer: TokenizerOptions } {
    const o = this.#native.options()
    const t = o.tokenizer
    return {
      method: o.method, k1: o.k1, b: o.b, delta: o.delta, blockSize: o.blockSize,
      tokenizer: { lowercase: t.lowercase, stopwords: t.stopwords ?? 'english', stemmer: t.stemmer as TokenizerOptions['stemmer'], cjkBigrams: t.cjkBigrams, vocabulary: t.vocabulary },
    }
  }

  /** The `k` best documents for a query text, on the calling thread. Scores are BM25 values. */
  search(text: string, options: SparseSearchOptions): Hit[] {
    if (typeof text !== 'string') throw invalidType('query must be a string')
    const o = parseOptions(searchSchema, options, 'search options')
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(text, o.k, toSearchInit(o), out.ids, out.scores)))
  }

  /** Many queries in parallel on the libuv pool; one result list per query. */
  async searchBatch(texts: readonly string[], options: SparseBatchOptions): Promise<Hit[][]> {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw invalidType('queries must be an array of strings')
    const signal = checkSignal(o.signal)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(texts as string[], o.k, toSearchInit(o), o.threads, signal)))
  }

  /** Synchronous twin of {@link BM25Index.searchBatch} (still parallel across queries). */
  searchBatchSync(texts: readonly string[], options: Omit<SparseBatchOptions, 'signal'>): Hit[][] {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw invalidType('queries must be an array of strings')
    return toHitBatches(callNative(() => this.#native.searchBatchSync(texts as string[], o.k, toSearchInit(o), o.threads)))
  }

  /** Bytes held, by component (`forward`, `blockMaxDense`, `blockMaxSparse`, `kthImpacts`, `vocabulary`, `statistics`, `ids`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an index from {@link BM25Index.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): BM25Index {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return new BM25Index(callNative(() => NativeBm25Index.fromBuffer(buffer)))
  }

  /** Writes the index to `path` atomically on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link BM25Index.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /** Loads a saved index (`mmap: true` maps the file instead of reading it). Corrupt files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions & { mmap?: boolean } = {}): Promise<BM25Index> {
    const signal = checkSignal(options.signal)
    return new BM25Index(await callNativeAsync(() => NativeBm25Index.load(checkPath(path), options.mmap === true, signal)))
  }

  /** Synchronous twin of {@link BM25Index.load}. */
  static loadSync(path: string, options: { mmap?: boolean } = {}): BM25Index {
    return new BM25Index(callNative(() => NativeBm25Index.loadSync(checkPath(path), options.mmap === true)))
  }
}
