/**
 * One asynchronous search interface for every index, so that indexes compose (hybrid fusion,
 * multi-stage pipelines, evaluation). Each index keeps its fast synchronous `search`;
 * {@link asRetriever} wraps it.
 * @module
 */
import { z } from 'zod'
import { BinaryIndex } from './binary'
import type { BinarySearchOptions } from './binary'
import { FlatIndex } from './flat'
import { MultiVectorIndex } from './multivector'
import { PQIndex } from './pq'
import type { PQSearchOptions } from './pq'
import { SparseIndex } from './sparse'
import type { SparseSearchOptions } from './bm25'
import type { SparseVectorInput } from './sparse'
import type { MultiVectorSearchOptions } from './multivector'
import { invalidType, slimdexError } from './errors'
import type { Hit, Id, VectorInput } from './types'
import { checkSignal, parseOptions, positiveInt } from './validate'

/** Options of {@link Retriever.search} and {@link Retriever.searchBatch}. */
export interface RetrieverSearchOptions {
  /** Number of results, 1 … 2^32 − 1. Fewer are returned when fewer items match. */
  k: number
  /**
   * Keeps only ids for which this returns true. Indexes without native filtering over-fetch
   * (2·k, then doubling) until k hits pass or the index is exhausted, so a selective filter
   * costs up to a full scan.
   */
  filter?: (id: Id) => boolean
  /** Cancels the search if it has not started yet. */
  signal?: AbortSignal
}

/**
 * Anything that answers top-k queries asynchronously. Every slimdex index becomes one with
 * {@link asRetriever}; {@link HybridRetriever} and {@link Pipeline} are retrievers too, so they nest.
 * Results are sorted by score descending.
 *
 * @typeParam Q - the query type (`Float32Array` for dense indexes, `string` for BM25, …).
 */
export interface Retriever<Q = unknown> {
  /** The `k` best items for one query. */
  search(query: Q, options: RetrieverSearchOptions): Promise<Hit[]>
  /** One result list per query, in order. */
  searchBatch(queries: readonly Q[], options: RetrieverSearchOptions): Promise<Hit[][]>
}

/**
 * The minimal surface an index needs to become a {@link Retriever} through
 * {@link fromBackend}: a size and a top-k search (synchronous or not), optionally a batch search.
 */
export interface SearchBackend<Q> {
  /** Number of items searchable (bounds over-fetching for filters). */
  size(): number
  /** The `k` best for one query. */
  search(query: Q, k: number): Hit[] | Promise<Hit[]>
  /** The `k` best for each query (default: `search` per query). */
  searchBatch?(queries: readonly Q[], k: number, signal?: AbortSignal): Promise<Hit[][]>
}

const searchSchema = z.strictObject({
  k: positiveInt(),
  filter: z.function().optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/** Validates retriever search options (shared by every retriever in slimdex). */
export function parseSearchOptions(options: RetrieverSearchOptions, what = 'search options'): RetrieverSearchOptions {
  const o = parseOptions(searchSchema, options, what) as RetrieverSearchOptions
  checkSignal(o.signal)
  return o
}

function abortIfNeeded(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
}

const RETRIEVER = Symbol('slimdex.retriever')

/** A {@link Retriever} over a {@link SearchBackend}; filters by over-fetching. */
class BackendRetriever<Q> implements Retriever<Q> {
  readonly [RETRIEVER] = true
  constructor(readonly backend: SearchBackend<Q>) {}

  async search(query: Q, options: RetrieverSearchOptions): Promise<Hit[]> {
    const o = parseSearchOptions(options)
    abortIfNeeded(o.signal)
    const size = this.backend.size()
    if (size === 0) return []
    if (!o.filter) return await this.backend.search(query, Math.min(o.k, size))
    return this.#filtered(query, o.k, o.filter, size, null)
  }

  async searchBatch(queries: readonly Q[], options: RetrieverSearchOptions): Promise<Hit[][]> {
    const o = parseSearchOptions(options, 'searchBatch options')
    if (!Array.isArray(queries)) throw invalidType('queries must be an array')
    abortIfNeeded(o.signal)
    const size = this.backend.size()
    if (size === 0 || queries.length === 0) return queries.map(() => [])
    const depth = Math.min(o.filter ? 2 * o.k : o.k, size)
    const first = this.backend.searchBatch
      ? await this.backend.searchBatch(queries, depth, o.signal)
      : await Promise.all(queries.map((q) => this.backend.search(q, depth)))
    if (!o.filter) return first
    const filter = o.filter
    const out: Hit[][] = []
    for (let i = 0; i < queries.length; i++) {
      abortIfNeeded(o.signal)
      out.push(await this.#filtered(queries[i], o.k, filter, size, { hits: first[i], depth }))
    }
    return out
  }

  /** Over-fetches (2·k, doubling) until k hits pass `filter` or the whole index was ranked. */
  async #filtered(query: Q, k: number, filter: (id: Id) => boolean, size: number, prior: { hits: Hit[]; depth: number } | null): Promise<Hit[]> {
    let depth = prior?.depth ?? Math.min(2 * k, size)
    let hits = prior?.hits ?? (await this.backend.search(query, depth))
    for (;;) {
      const kept = hits.filter((h) => filter(h.id))
      if (kept.length >= k || depth >= size || hits.length < depth) return kept.slice(0, k)
      depth = Math.min(depth * 2, size)
      hits = await this.backend.search(query, depth)
    }
  }
}

/** Wraps a {@link SearchBackend} as a {@link Retriever}. */
export function fromBackend<Q>(backend: SearchBackend<Q>): Retriever<Q> {
  if (backend === null || typeof backend !== 'object' || typeof backend.search !== 'function' || typeof backend.size !== 'function') {
    throw invalidType('fromBackend takes { size(): number, search(query, k): Hit[] | Promise<Hit[]>, searchBatch?(...) }')
  }
  return new BackendRetriever(backend)
}

/**
 * An index with slimdex's search shape: `size`, `search(query, { k, ...extra })` and
 * optionally `searchBatch(queries, { k, signal, ...extra })`. BinaryIndex, PQIndex, FlatIndex,
 * SparseIndex, BM25Index and MultiVectorIndex all have it.
 */
export interface SearchableIndex<Q, O extends object = object> {
  readonly size: number
  search(query: Q, options: O & { k: number }): Hit[] | Promise<Hit[]>
  searchBatch?(queries: readonly Q[], options: O & { k: number; signal?: AbortSignal }): Promise<Hit[][]>
}

/**
 * Adapts any {@link SearchableIndex}. `extra` are index-specific search options (e.g.
 * `candidates`); `batchExtra` those of `searchBatch` (which may also take `threads`).
 */
function indexBackend<Q>(index: SearchableIndex<Q>, extra: object, batchExtra: object = extra): SearchBackend<Q> {
  return {
    size: () => index.size,
    search: (query, k) => index.search(query, { ...extra, k }),
    searchBatch: index.searchBatch
      ? (queries, k, signal) => index.searchBatch!(queries, { ...batchExtra, k, ...(signal ? { signal } : {}) })
      : undefined,
  }
}

/** Options of {@link asRetriever} for a {@link BinaryIndex}: its search options except `k`. */
export type BinaryRetrieverOptions = Omit<BinarySearchOptions, 'k'> & {
  /** Worker threads for batches (default: one per core). */
  threads?: number
}

/** Options of {@link asRetriever} for a {@link PQIndex}: its search options except `k`. */
export type PQRetrieverOptions = Omit<PQSearchOptions, 'k'> & {
  /** Worker threads for batches (default: one per core). */
  threads?: number
}

/** Options of {@link asRetriever} for a {@link FlatIndex}. */
export interface FlatRetrieverOptions {
  /** Worker threads for batches (default: one per core). */
  threads?: number
}

/** Dense indexes whose single search rejects `threads` (a batch-only option). */
function threadedBackend(index: SearchableIndex<unknown>, extra: object): SearchBackend<unknown> {
  const { threads, ...search } = extra as { threads?: number }
  return indexBackend(index, search, threads === undefined ? search : { ...search, threads })
}

/** Options of {@link asRetriever} for a {@link MultiVectorIndex}: its search options except `k`. */
export type MultiVectorRetrieverOptions = Omit<MultiVectorSearchOptions, 'k'> & {
  /** Worker threads for batches (default: one per core). */
  threads?: number
}

/** MultiVectorIndex: queries are token matrices; a batch goes to the index as one CSR batch. */
function multiVectorBackend(index: MultiVectorIndex, extra: MultiVectorRetrieverOptions): SearchBackend<Float32Array> {
  const { threads, ...search } = extra
  const { mode, ...batch } = search
  return {
    size: () => index.size,
    search: (query, k) => index.search(query, { ...search, k }),
    // The native batch runs MUVERA only; other modes go query by query.
    searchBatch:
      mode === undefined || mode === 'muvera'
        ? (queries, k, signal) => {
            let total = 0
            for (const q of queries) total += q.length
            const tokens = new Float32Array(total)
            const offsets = new Uint32Array(queries.length + 1)
            let at = 0
            queries.forEach((q, i) => {
              if (!(q instanceof Float32Array)) throw invalidType(`queries[${i}] must be a Float32Array of tokens × ${index.dim}`)
              if (q.length % index.dim !== 0) throw invalidType(`queries[${i}] has ${q.length} values, not a multiple of dim ${index.dim}`)
              tokens.set(q, at)
              at += q.length
              offsets[i + 1] = at / index.dim
            })
            return index.searchBatch({ tokens, offsets }, { ...batch, k, ...(threads === undefined ? {} : { threads }), ...(signal ? { signal } : {}) })
          }
        : undefined,
  }
}

/** Options of {@link asRetriever} for a {@link SparseIndex}: its search options except `k` and `filter`. */
export type SparseRetrieverOptions = Omit<SparseSearchOptions, 'k' | 'filter'> & {
  /** Worker threads for batches (default: one per core). */
  threads?: number
}

/** SparseIndex: its native batch takes both query forms; `threads` only applies to batches. */
function sparseBackend(index: SparseIndex, extra: SparseRetrieverOptions): SearchBackend<SparseVectorInput> {
  const { threads, ...search } = extra
  return {
    size: () => index.size,
    search: (query, k) => index.search(query, { ...search, k }),
    searchBatch: (queries, k, signal) => index.searchBatch(queries, { ...search, k, ...(threads === undefined ? {} : { threads }), ...(signal ? { signal } : {}) }),
  }
}

/**
 * One adapter per index class whose queries or batch call need translating (BinaryIndex,
 * PQIndex, FlatIndex: `threads` only for batches; MultiVectorIndex:
 * batches are CSR). Every other index with the standard shape — `size`, `search(query, { k })`,
 * `searchBatch(queries, { k, signal })`, e.g. BM25Index — goes through the
 * generic `indexBackend`; give it an `asRetriever` overload naming its query type.
 */
const ADAPTERS: Array<{ matches(x: unknown): boolean; wrap(x: unknown, extra: object): SearchBackend<unknown> }> = [
  { matches: (x) => x instanceof BinaryIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  { matches: (x) => x instanceof PQIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  { matches: (x) => x instanceof FlatIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  {
    matches: (x) => x instanceof SparseIndex,
    wrap: (x, extra) => sparseBackend(x as SparseIndex, extra as SparseRetrieverOptions) as SearchBackend<unknown>,
  },
  {
    matches: (x) => x instanceof MultiVectorIndex,
    wrap: (x, extra) => multiVectorBackend(x as MultiVectorIndex, extra as MultiVectorRetrieverOptions) as SearchBackend<unknown>,
  },
]

/**
 * Wraps an index as a {@link Retriever}: `search` becomes asynchronous, `searchBatch` uses the
 * index's parallel batch search, and `filter` works by over-fetching. `options` are the index's
 * own search options other than `k` (e.g. `candidates` for a BinaryIndex), applied to every call.
 *
 * Also accepts any object with `size` and `search(query, { k })` (sync or async) and returns a
 * {@link Retriever} unchanged.
 *
 * @example
 * ```ts
 * const dense = asRetriever(binaryIndex, { candidates: 200 })
 * const hits = await dense.search(queryVector, { k: 10, filter: (id) => allowed.has(id) })
 * ```
 */
export function asRetriever(index: BinaryIndex, options?: BinaryRetrieverOptions): Retriever<VectorInput>
export function asRetriever(index: PQIndex, options?: PQRetrieverOptions): Retriever<VectorInput>
export function asRetriever(index: FlatIndex, options?: FlatRetrieverOptions): Retriever<VectorInput>
export function asRetriever(index: MultiVectorIndex, options?: MultiVectorRetrieverOptions): Retriever<Float32Array>
export function asRetriever(index: SparseIndex, options?: SparseRetrieverOptions): Retriever<SparseVectorInput>
export function asRetriever<Q>(index: Retriever<Q>): Retriever<Q>
export function asRetriever<Q, O extends object>(index: SearchableIndex<Q, O>, options?: O): Retriever<Q>
export function asRetriever(index: unknown, options: object = {}): Retriever<unknown> {
  if (options === null || typeof options !== 'object') throw invalidType('asRetriever options must be an object')
  if (options && 'k' in options) throw invalidType('asRetriever options: k is given per search, not here')
  for (const a of ADAPTERS) if (a.matches(index)) return new BackendRetriever(a.wrap(index, options))
  if (isRetriever(index)) return index
  const x = index as Partial<SearchableIndex<unknown>> | null
  if (x && typeof x === 'object' && typeof x.search === 'function' && typeof x.size === 'number') {
    return new BackendRetriever(indexBackend(x as SearchableIndex<unknown>, options))
  }
  throw invalidType('asRetriever takes a slimdex index, a Retriever, or an object with size and search(query, { k })')
}

/** True for retrievers made by slimdex and for objects without `size` that have `search` and `searchBatch`. */
export function isRetriever(x: unknown): x is Retriever<unknown> {
  if (x === null || typeof x !== 'object') return false
  if ((x as { [RETRIEVER]?: boolean })[RETRIEVER]) return true
  const r = x as Partial<Retriever<unknown>> & { size?: unknown }
  return typeof r.search === 'function' && typeof r.searchBatch === 'function' && r.size === undefined
}

/** Marks a class's instances as slimdex retrievers (so {@link asRetriever} passes them through). */
export function markRetriever<T extends object>(x: T): T {
  Object.defineProperty(x, RETRIEVER, { value: true })
  return x
}

/** A query with its id, for {@link runQueries}. */
export interface IdentifiedQuery<Q> {
  id: string
  query: Q
}

/**
 * Runs every query through a retriever (in batches of `batchSize`, default 256) and returns the
 * run in the form {@link evaluate} and `writeTrecRun` take: query id → hits.
 */
export async function runQueries<Q>(
  retriever: Retriever<Q>,
  queries: ReadonlyArray<IdentifiedQuery<Q>>,
  options: RetrieverSearchOptions & { batchSize?: number },
): Promise<Record<string, Hit[]>> {
  const { batchSize = 256, ...search } = options
  if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidType('batchSize must be a positive integer')
  const run: Record<string, Hit[]> = Object.create(null)
  for (let i = 0; i < queries.length; i += batchSize) {
    const chunk = queries.slice(i, i + batchSize)
    const results = await retriever.searchBatch(
      chunk.map((q) => q.query),
      search,
    )
    chunk.forEach((q, j) => (run[q.id] = results[j]))
  }
  return run
}
