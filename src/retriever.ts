/**
 * One search interface for every index, so they compose (hybrid fusion, pipelines, eval).
 * @module
 */
import { z } from 'zod'
import { invalidType } from './errors'
import type { Hit, Id } from './types'
import { parseOptions, positiveInt } from './validate'

/** Options of {@link Retriever.search}. */
export interface SearchOptions {
  /** Number of results, ≥ 1. */
  k: number
  /**
   * Keeps only ids for which this returns true. Retrievers over-fetch until `k` results pass or
   * the index is exhausted, so a selective filter costs more searches.
   */
  filter?: (id: Id) => boolean
}

/** Anything that answers a query of type `Q` with scored ids, best first. */
export interface Retriever<Q = unknown> {
  search(query: Q, options: SearchOptions): Promise<Hit[]>
  /** One result list per query (default: the queries one after another). */
  searchBatch(queries: readonly Q[], options: SearchOptions): Promise<Hit[][]>
}

/** What {@link asRetriever} adapts: every slimdex index has this shape. */
export interface Searchable<Q, O> {
  search(query: Q, options: O & { k: number }): Hit[] | Promise<Hit[]>
  /** Items in the index (bounds the over-fetching of filtered searches). */
  readonly size: number
}

const searchSchema = z.strictObject({
  k: positiveInt(),
  filter: z.custom<(id: Id) => boolean>((f) => typeof f === 'function', 'filter must be a function (id) => boolean').optional(),
})

/** Validates {@link SearchOptions} (a `filter` must be a function). */
export function parseSearchOptions(options: SearchOptions): SearchOptions {
  return parseOptions(searchSchema, options, 'search options')
}

/**
 * Runs `search(k')` with growing `k'` until `k` hits pass `filter` or all `size` items were
 * seen; without a filter, one call with `k`.
 */
export async function filteredSearch(
  search: (k: number) => Hit[] | Promise<Hit[]>,
  size: number,
  { k, filter }: SearchOptions,
): Promise<Hit[]> {
  if (filter === undefined) return search(k)
  let fetch = Math.min(Math.max(k * 4, 32), Math.max(size, 1))
  for (;;) {
    const hits = await search(fetch)
    const kept = hits.filter((h) => filter(h.id))
    if (kept.length >= k || hits.length < fetch || fetch >= size) return kept.slice(0, k)
    fetch = Math.min(fetch * 4, size)
  }
}

/**
 * Wraps an index's synchronous `search` as a {@link Retriever}. `defaults` are passed to every
 * search (e.g. `{ candidates: 200 }` for a `BinaryIndex`, `{ nprobe: 16 }` for a `PQIndex`).
 *
 * @example
 * ```ts
 * const dense = asRetriever(binaryIndex, { candidates: 100 })
 * const hits = await dense.search(queryVector, { k: 10, filter: (id) => allowed.has(id) })
 * ```
 */
export function asRetriever<Q, O extends object>(index: Searchable<Q, O>, defaults?: Omit<O, 'k'>): Retriever<Q> {
  if (index === null || typeof index !== 'object' || typeof index.search !== 'function') {
    throw invalidType('asRetriever needs an index with a search(query, { k }) method')
  }
  return retrieverFrom<Q>((query, k) => index.search(query, { ...defaults, k } as O & { k: number }), () => index.size)
}

/**
 * A {@link Retriever} from a function (for anything that is not a slimdex index). `size`
 * (a number, or a function read at each search) bounds over-fetching under a filter.
 */
export function retrieverFrom<Q>(search: (query: Q, k: number) => Hit[] | Promise<Hit[]>, size: number | (() => number) = Infinity): Retriever<Q> {
  if (typeof search !== 'function') throw invalidType('retrieverFrom needs a function (query, k) => hits')
  // async: bad options reject the promise rather than throwing synchronously.
  const searchOne = async (query: Q, options: SearchOptions): Promise<Hit[]> =>
    filteredSearch((k) => search(query, k), typeof size === 'function' ? size() : size, parseSearchOptions(options))
  return {
    search: searchOne,
    async searchBatch(queries, options) {
      const out: Hit[][] = []
      for (const q of queries) out.push(await searchOne(q, options))
      return out
    },
  }
}
