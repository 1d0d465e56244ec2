/**
 * One asynchronous search interface for every index, so that indexes compose (hybrid fusion,
 * multi-stage pipelines, evaluation). Each index keeps its fast synchronous `search`;
 * {@link asRetriever} wraps it.
 * @module
 */
import { z } from 'zod'
import { BinaryIndex } from './binary'
import type { BinarySearchOptions } from './binary'
import { BM25Index } from './bm25'
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
import { TYPE_CHECK, checkSignal, parseOptions, positiveInt } from './validate'

/**
 * Which ids a search may return: a predicate, or an allow-list (a `Set` or an array of ids;
 * `1` and `'1'` are different ids, as everywhere in slimdex).
 */
export type IdFilter = ((id: Id) => boolean) | ReadonlySet<Id> | readonly Id[]

/** Options of {@link Retriever.search} and {@link Retriever.searchBatch}. */
export interface RetrieverSearchOptions {
  /** Number of results, 1 … 2^32 − 1. Fewer are returned when fewer items match. */
  k: number
  /**
   * Keeps only the ids this filter allows. An allow-list goes to the native search of a
   * SparseIndex or BM25Index (block-max pruning skips everything else; exact, no over-fetch).
   * Other indexes, and predicates everywhere, over-fetch (2·k, then doubling) until k hits pass
   * or the index is exhausted, so a selective filter costs up to a full scan.
   */
  filter?: IdFilter
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
  /**
   * The `k` best among `allowed` ids only (ids the index does not hold are ignored): native
   * allow-list filtering, used instead of over-fetching when the filter is an allow-list.
   */
  searchAllowed?(query: Q, k: number, allowed: readonly Id[]): Hit[] | Promise<Hit[]>
  /** Batch twin of `searchAllowed` (default: `searchAllowed` per query). */
  searchBatchAllowed?(queries: readonly Q[], k: number, allowed: readonly Id[], signal?: AbortSignal): Promise<Hit[][]>
}

const filterSchema = z.custom<IdFilter>(
  (v) => typeof v === 'function' || v instanceof Set || (Array.isArray(v) && v.every((id) => typeof id === 'string' || typeof id === 'number')),
  { message: 'must be a function (id) => boolean, a Set of ids or an array of ids', params: TYPE_CHECK },
)

const searchSchema = z.strictObject({
  k: positiveInt(),
  filter: filterSchema.optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/** Validates retriever search options (shared by every retriever in slimdex). */
export function parseSearchOptions(options: RetrieverSearchOptions, what = 'search options'): RetrieverSearchOptions {
  const o = parseOptions(searchSchema, options, what) as RetrieverSearchOptions
  checkSignal(o.signal)
  return o
}

/**
 * The filter as a predicate (for retrievers that filter results themselves). An allow-list is
 * looked up in a Set built once per call.
 */
export function filterPredicate(filter: IdFilter): (id: Id) => boolean {
  if (typeof filter === 'function') return filter
  const allowed: ReadonlySet<Id> = filter instanceof Set ? filter : new Set(filter as readonly Id[])
  return (id) => allowed.has(id)
}

/**
 * The filter as an id list for native filtering, or null for a predicate or for a list that
 * mixes strings and numbers (the native side takes one id type per call).
 */
function allowList(filter: IdFilter): readonly Id[] | null {
  if (typeof filter === 'function') return null
  const ids: readonly Id[] = filter instanceof Set ? [...filter] : (filter as readonly Id[])
  if (ids.length === 0) return ids
  const kind = typeof ids[0]
  for (const id of ids) if (typeof id !== kind) return null
  return ids
}

function abortIfNeeded(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
}

const RETRIEVER = Symbol('slimdex.retriever')

/** A {@link Retriever} over a {@link SearchBackend}; filters natively or by over-fetching. */
class BackendRetriever<Q> implements Retriever<Q> {
  readonly [RETRIEVER] = true
  constructor(readonly backend: SearchBackend<Q>) {}

  /** The allow-list to pass to the backend's native filter, if it has one and the filter is a list. */
  #nativeAllowList(filter: IdFilter | undefined): readonly Id[] | null {
    return filter !== undefined && this.backend.searchAllowed ? allowList(filter) : null
  }

  async search(query: Q, options: RetrieverSearchOptions): Promise<Hit[]> {
    const o = parseSearchOptions(options)
    abortIfNeeded(o.signal)
    const size = this.backend.size()
    if (size === 0) return []
    if (!o.filter) return await this.backend.search(query, Math.min(o.k, size))
    const allowed = this.#nativeAllowList(o.filter)
    if (allowed) return allowed.length === 0 ? [] : await this.backend.searchAllowed!(query, Math.min(o.k, size), allowed)
    return this.#filtered(query, o.k, filterPredicate(o.filter), size, null)
  }

  async searchBatch(queries: readonly Q[], options: RetrieverSearchOptions): Promise<Hit[][]> {
    const o = parseSearchOptions(options, 'searchBatch options')
    if (!Array.isArray(queries)) throw invalidType('queries must be an array')
    abortIfNeeded(o.signal)
    const size = this.backend.size()
    if (size === 0 || queries.length === 0) return queries.map(() => [])
    const allowed = this.#nativeAllowList(o.filter)
    if (allowed) {
      const k = Math.min(o.k, size)
      if (allowed.length === 0) return queries.map(() => [])
      const b = this.backend
      return b.searchBatchAllowed ? await b.searchBatchAllowed(queries, k, allowed, o.signal) : await Promise.all(queries.map((q) => b.searchAllowed!(q, k, allowed)))
    }
    const depth = Math.min(o.filter ? 2 * o.k : o.k, size)
    const first = this.backend.searchBatch
      ? await this.backend.searchBatch(queries, depth, o.signal)
      : await Promise.all(queries.map((q) => this.backend.search(q, depth)))
    if (!o.filter) return first
    const filter = filterPredicate(o.filter)
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

/** Options of {@link asRetriever} for a {@link BM25Index}: its search options except `k` and `filter`. */
export type BM25RetrieverOptions = SparseRetrieverOptions

/**
 * SparseIndex and BM25Index: native batches; `threads` only applies to batches; allow-list
 * filters go to the native `filter` (a bitset inside the block-max search).
 */
function sparseBackend<Q>(index: SparseIndex | BM25Index, extra: SparseRetrieverOptions): SearchBackend<Q> {
  if ('filter' in extra) throw invalidType('asRetriever options: filter is given per search, not here')
  const { threads, ...search } = extra
  const idx = index as unknown as SearchableIndex<Q, SparseSearchOptions>
  const batch = (queries: readonly Q[], k: number, signal: AbortSignal | undefined, filter?: readonly Id[]) =>
    idx.searchBatch!(queries, { ...search, k, ...(filter ? { filter } : {}), ...(threads === undefined ? {} : { threads }), ...(signal ? { signal } : {}) })
  return {
    size: () => index.size,
    search: (query, k) => idx.search(query, { ...search, k }),
    searchBatch: (queries, k, signal) => batch(queries, k, signal),
    searchAllowed: (query, k, allowed) => idx.search(query, { ...search, k, filter: allowed }),
    searchBatchAllowed: (queries, k, allowed, signal) => batch(queries, k, signal, allowed),
  }
}

/**
 * One adapter per index class whose queries or batch call need translating (BinaryIndex,
 * PQIndex, FlatIndex: `threads` only for batches; SparseIndex, BM25Index: native allow-list
 * filters; MultiVectorIndex: batches are CSR). Every other index with the standard shape —
 * `size`, `search(query, { k })`, `searchBatch(queries, { k, signal })` — goes through the
 * generic `indexBackend`; give it an `asRetriever` overload naming its query type.
 */
const ADAPTERS: Array<{ matches(x: unknown): boolean; wrap(x: unknown, extra: object): SearchBackend<unknown> }> = [
  { matches: (x) => x instanceof BinaryIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  { matches: (x) => x instanceof PQIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  { matches: (x) => x instanceof FlatIndex, wrap: (x, extra) => threadedBackend(x as SearchableIndex<unknown>, extra) },
  {
    matches: (x) => x instanceof SparseIndex || x instanceof BM25Index,
    wrap: (x, extra) => sparseBackend(x as SparseIndex | BM25Index, extra as SparseRetrieverOptions),
  },
  {
    matches: (x) => x instanceof MultiVectorIndex,
    wrap: (x, extra) => multiVectorBackend(x as MultiVectorIndex, extra as MultiVectorRetrieverOptions) as SearchBackend<unknown>,
  },
]

/**
 * Wraps an index as a {@link Retriever}: `search` becomes asynchronous, `searchBatch` uses the
 * index's parallel batch search, and `filter` works natively (allow-lists on SparseIndex and
 * BM25Index) or by over-fetching (see {@link RetrieverSearchOptions.filter}). `options` are the index's
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
export function asRetriever(index: BM25Index, options?: BM25RetrieverOptions): Retriever<string>
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
