/**
 * BM25 with the five bm25s variants, scored eagerly at build time and searched with
 * block-max pruning (exact top-k, no O(N) work per query). Scores equal bm25s's.
 * Incremental: `add` (a new segment), `delete` (tombstones), `compact` (one fresh segment).
 * @module
 */
import { z } from 'zod'
import { NativeBm25Index } from '../binding'
import type { SparseSearchInit } from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import type { TokenizerOptions } from './tokenizer'
import { toTokenizerInit } from './tokenizer'
import { fromBufferOf, loadOf, loadSyncOf, mmapOption, saveOf, saveSyncOf, toBufferOf } from './persist'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { HalvesBuffer, toHitBatches, toMemoryUsage } from './types'
import { BM25Results } from './bm25-results'
import { checkSignal, parseOptions, positiveInt, toIds } from './validate'

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
  /**
   * Score every block of the index with no pruning (no block bounds, no threshold seeding, no
   * early stop): the verification baseline, same results as the default, ties included. It is a
   * term-at-a-time scan of every query term's postings (the index is term-major; the default
   * search runs the same loop but skips the blocks whose bound cannot enter the top k).
   */
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

/** The native knobs of `{ k }` alone (exact search, no filter). */
const EXACT_INIT: SparseSearchInit = Object.freeze({ alpha: 1, beta: 1, exhaustive: false, filter: undefined })

/**
 * `k` when `options` is exactly `{ k }` with a valid k (the common case): the same checks as
 * the schema without its per-call cost (a few µs, comparable to a query on a small corpus).
 * Anything else returns undefined and goes through the schema (and its error messages).
 */
function plainK(options: unknown): number | undefined {
  if (options === null || typeof options !== 'object' || Object.getPrototypeOf(options) !== Object.prototype) return undefined
  const keys = Object.keys(options)
  if (keys.length !== 1 || keys[0] !== 'k') return undefined
  const k = (options as { k: unknown }).k
  return typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= 2 ** 32 - 1 ? k : undefined
}

function checkTexts(texts: readonly string[]): string[] {
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw invalidType('queries must be an array of strings')
  return texts as string[]
}

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

const idListSchema = z.array(z.union([z.string(), z.number()]))

/** Validates a list of ids for `delete` (all numbers or all strings). @internal */
export function toIdList(ids: unknown): Float64Array | string[] {
  const r = idListSchema.safeParse(ids)
  if (!r.success) throw invalidType('ids must be an array of numbers or strings')
  return toIds(r.data, r.data.length, 0)
}

/**
 * A BM25 index over texts.
 *
 * **Incremental updates.** {@link BM25Index.add} puts new documents in a new segment (a block
 * index of its own, searched together with the others: results stay exact with `alpha = 1`);
 * {@link BM25Index.delete} tombstones documents (they never appear in results, filters still
 * work); {@link BM25Index.compact} rebuilds one segment. Statistics between compactions
 * (Lucene's semantics):
 * - N (for the idf) = every document added since the last build/compact, **deleted ones
 *   included**; df(t) = how many of those contain t. The idf is applied at query time from
 *   these global N and df, so an `add` changes the idf of every segment exactly as a fresh
 *   build over all N documents would.
 * - avgdl is **per segment, frozen** at the segment's build: the mean length of the documents
 *   of that `build` / `add` call. A document's length normalisation uses its own segment's avgdl.
 * - `compact()` drops deleted documents and recomputes N, df and one avgdl: afterwards results
 *   equal a fresh `build` over the live documents exactly (ids, scores, tie order).
 *
 * With one segment and no deletions the statistics are bm25s's. Ties rank in insertion order
 * (a document added later ranks after an equal-scoring earlier one). More than 64 segments are
 * never kept: the `add` that would create the 65th compacts the index instead.
 *
 * @example
 * ```ts
 * const bm25 = await BM25Index.build([{ id: 'a', text: 'the cat sat' }, { id: 'b', text: 'dogs bark' }])
 * bm25.search('cat', { k: 10 }) // [{ id: 'a', score: 0.46… }]
 * ```
 */
export class BM25Index {
  #native: NativeBm25Index
  readonly #hits = new HalvesBuffer()

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

  /** Number of live (not deleted) documents. */
  get size(): number {
    return this.#native.size
  }

  /** Number of segments: 1 after `build` or `compact`, one more per non-empty `add`. */
  get segments(): number {
    return this.#native.segments
  }

  /** Deleted documents still stored (and counted in N and df) until {@link BM25Index.compact}. */
  get deleted(): number {
    return this.#native.deleted
  }

  /** N of the idf: documents added since the last build/compact, deleted ones included (= size + deleted). */
  get statisticsDocuments(): number {
    return this.#native.statisticsDocuments
  }

  /**
   * Adds documents as a new segment, on the libuv pool (searches issued meanwhile see the index
   * as it was before). Ids must be new: the id of a live document throws
   * `ERR_SLIMDEX_DUPLICATE_ID` (to replace a document, `delete` it first; a deleted document's id
   * may be added again). On any error nothing is added. The new segment's avgdl is the mean
   * length of `docs`; N and df grow, so every segment's idf follows.
   */
  async add(docs: readonly TextDocument[], options: AsyncOptions = {}): Promise<void> {
    const { ids, texts } = splitDocs(docs)
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.add(ids, texts, signal))
  }

  /** Synchronous twin of {@link BM25Index.add}. */
  addSync(docs: readonly TextDocument[]): void {
    const { ids, texts } = splitDocs(docs)
    callNative(() => this.#native.addSync(ids, texts))
  }

  /**
   * Deletes documents by id and returns how many were deleted. Ids that are not in the index
   * (never added, already deleted) are ignored: check the count if that matters. Deleted
   * documents never appear in results but keep counting in N and df until `compact()`.
   */
  delete(ids: readonly Id[]): number {
    const list = toIdList(ids)
    return callNative(() => this.#native.delete(list))
  }

  /**
   * Rebuilds the index as one segment over the live documents (insertion order kept) with fresh
   * N, df and avgdl, on the libuv pool: identical to a fresh `build` over them.
   */
  async compact(options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.compact(signal))
  }

  /** Synchronous twin of {@link BM25Index.compact}. */
  compactSync(): void {
    callNative(() => this.#native.compactSync())
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
    const quick = plainK(options)
    const o = quick === undefined ? parseOptions(searchSchema, options, 'search options') : undefined
    const k = quick ?? o!.k
    const init = o === undefined ? EXACT_INIT : toSearchInit(o)
    const native = this.#native
    return callNative(() => this.#hits.search((out) => native.search(text, k, init.alpha, init.beta, init.exhaustive, init.filter, out)))
  }

  /**
   * Many queries, tokenized and searched in native code, with the hits returned as flat typed
   * arrays ({@link BM25Results}) instead of one object per hit: the form to use for throughput
   * (evaluation runs, re-ranking pipelines, benchmarks). Query q's hits equal `search(texts[q])`'s
   * (same ids, scores and order). Runs on the libuv pool; `threads` (default: one per core) are
   * the workers searching the batch, `threads: 1` searches on one of them alone.
   */
  async searchColumns(texts: readonly string[], options: SparseBatchOptions): Promise<BM25Results> {
    const o = parseOptions(batchSchema, options, 'searchColumns options')
    const list = checkTexts(texts)
    const signal = checkSignal(o.signal)
    return new BM25Results(await callNativeAsync(() => this.#native.searchColumns(list, o.k, toSearchInit(o), o.threads, signal)))
  }

  /** Synchronous twin of {@link BM25Index.searchColumns} (`threads: 1` searches on the calling thread). */
  searchColumnsSync(texts: readonly string[], options: Omit<SparseBatchOptions, 'signal'>): BM25Results {
    const o = parseOptions(batchSchema, options, 'searchColumns options')
    const list = checkTexts(texts)
    return new BM25Results(callNative(() => this.#native.searchColumnsSync(list, o.k, toSearchInit(o), o.threads)))
  }

  /** Many queries in parallel on the libuv pool; one result list per query (see {@link BM25Index.searchColumns} for the object-free form). */
  async searchBatch(texts: readonly string[], options: SparseBatchOptions): Promise<Hit[][]> {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const list = checkTexts(texts)
    const signal = checkSignal(o.signal)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(list, o.k, toSearchInit(o), o.threads, signal)))
  }

  /** Synchronous twin of {@link BM25Index.searchBatch} (still parallel across queries). */
  searchBatchSync(texts: readonly string[], options: Omit<SparseBatchOptions, 'signal'>): Hit[][] {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const list = checkTexts(texts)
    return toHitBatches(callNative(() => this.#native.searchBatchSync(list, o.k, toSearchInit(o), o.threads)))
  }

  /**
   * Bytes held, by component: `postings` (term-major; `forward` for an index loaded from a file
   * written before that layout), `headRows` (dense impact rows of the terms in at least half
   * the documents, derived from the postings at build and load), `blockMaxDense`,
   * `blockMaxSparse`, `kthImpacts` (summed
   * over segments), `segments` (their bookkeeping), `tombstones` (live-document bitsets of
   * segments with deletions), `vocabulary`, `statistics` (df, document lengths, segment avgdl),
   * `termFrequencies` (kept so `compact` can rescore), `ids`.
   */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index (the same bytes `save` writes), segments and deletions included. */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }

  /** Restores an index from {@link BM25Index.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): BM25Index {
    return new BM25Index(fromBufferOf(NativeBm25Index, buffer))
  }

  /** Writes the index to `path` atomically on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    await saveOf(this.#native, path, options)
  }

  /** Synchronous twin of {@link BM25Index.save}. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }

  /** Loads a saved index (`mmap: true` maps the file instead of reading it). Corrupt files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions & { mmap?: boolean } = {}): Promise<BM25Index> {
    return new BM25Index(await loadOf(NativeBm25Index, path, options, mmapOption(options)))
  }

  /** Synchronous twin of {@link BM25Index.load}. */
  static loadSync(path: string, options: { mmap?: boolean } = {}): BM25Index {
    return new BM25Index(loadSyncOf(NativeBm25Index, path, mmapOption(options)))
  }
}
