/**
 * Hybrid retrieval: several retrievers answer the same query and their lists are fused.
 * @module
 */
import { z } from 'zod'
import { invalidType } from './errors'
import { parseSearchOptions, type Retriever, type SearchOptions } from './retriever'
import type { Hit, Id } from './types'
import { parseOptions, positiveInt } from './validate'

/** One member of a {@link HybridRetriever}. */
export interface HybridPart<Q> {
  retriever: Retriever<unknown>
  /** Weight of this list in the fusion (default 1), ≥ 0. */
  weight?: number
  /** Results taken from this retriever before fusing (default: the hybrid's `depth`). */
  depth?: number
  /** Turns the hybrid query into this retriever's query (default: passed unchanged). */
  query?: (query: Q) => unknown
}

/** Options of {@link HybridRetriever}. */
export interface HybridOptions {
  /**
   * `'rrf'` (default): reciprocal rank fusion, Σ weight / (rrfK + rank), robust to scores on
   * different scales. `'weighted'`: Σ weight · normalised score.
   */
  fusion?: 'rrf' | 'weighted'
  /** RRF's rank offset (default 60, as in Cormack et al. 2009), ≥ 0. */
  rrfK?: number
  /**
   * Score normalisation for `'weighted'` fusion, per list (default `'minmax'`: best 1, worst
   * 0; `'zscore'`: mean 0, unit variance). A document missing from a list gets nothing from it.
   */
  normalization?: 'minmax' | 'zscore'
  /** Results taken from each retriever (default 100, at least `k`). */
  depth?: number
}

const partSchema = z.strictObject({
  retriever: z.custom<Retriever<unknown>>(
    (r) => r !== null && typeof r === 'object' && typeof (r as Retriever).search === 'function',
    'retriever must implement search(query, { k })',
  ),
  weight: z.number().finite().min(0).default(1),
  depth: positiveInt().optional(),
  query: z.custom<(q: unknown) => unknown>((f) => typeof f === 'function', 'query must be a function').optional(),
})

const optionsSchema = z.strictObject({
  fusion: z.enum(['rrf', 'weighted']).default('rrf'),
  rrfK: z.number().finite().min(0).default(60),
  normalization: z.enum(['minmax', 'zscore']).default('minmax'),
  depth: positiveInt().default(100),
})

function normalise(hits: readonly Hit[], how: 'minmax' | 'zscore'): number[] {
  const s = hits.map((h) => h.score)
  if (s.length === 0) return s
  if (how === 'minmax') {
    const max = Math.max(...s)
    const min = Math.min(...s)
    return s.map((x) => (max > min ? (x - min) / (max - min) : 1))
  }
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length)
  return s.map((x) => (sd > 0 ? (x - mean) / sd : 0))
}

/**
 * Fuses ranked lists. Ties in the fused score go to the document seen first (lists in part
 * order, each best first), so results are deterministic.
 */
export function fuse(lists: ReadonlyArray<{ hits: readonly Hit[]; weight: number }>, options: HybridOptions = {}): Hit[] {
  const o = parseOptions(optionsSchema, options, 'fusion options')
  const fused = new Map<Id, { score: number; first: number }>()
  let seen = 0
  for (const { hits, weight } of lists) {
    const norm = o.fusion === 'weighted' ? normalise(hits, o.normalization) : []
    hits.forEach((h, rank) => {
      const contribution = o.fusion === 'rrf' ? weight / (o.rrfK + rank + 1) : weight * norm[rank]
      const entry = fused.get(h.id)
      if (entry === undefined) fused.set(h.id, { score: contribution, first: seen++ })
      else entry.score += contribution
    })
  }
  return [...fused.entries()]
    .sort((a, b) => b[1].score - a[1].score || a[1].first - b[1].first)
    .map(([id, { score }]) => ({ id, score }))
}

/**
 * A retriever that asks several retrievers (e.g. BM25 and a dense index) and fuses their
 * results. Retrievers run concurrently.
 *
 * @example
 * ```ts
 * const hybrid = new HybridRetriever<{ text: string; vector: Float32Array }>([
 *   { retriever: asRetriever(bm25), query: (q) => q.text },
 *   { retriever: asRetriever(dense), query: (q) => q.vector },
 * ], { fusion: 'rrf' })
 * const hits = await hybrid.search({ text, vector }, { k: 10 })
 * ```
 */
export class HybridRetriever<Q = unknown> implements Retriever<Q> {
  readonly #parts: Array<{ retriever: Retriever<unknown>; weight: number; depth: number | undefined; query: ((q: Q) => unknown) | undefined }>
  readonly #options: Required<HybridOptions>

  constructor(parts: ReadonlyArray<HybridPart<Q>>, options: HybridOptions = {}) {
    if (!Array.isArray(parts) || parts.length === 0) throw invalidType('HybridRetriever needs a non-empty array of { retriever, weight? }')
    this.#parts = parts.map((p, i) => {
      const parsed = parseOptions(partSchema, p, `part ${i}`)
      return { retriever: parsed.retriever, weight: parsed.weight, depth: parsed.depth, query: parsed.query as ((q: Q) => unknown) | undefined }
    })
    this.#options = parseOptions(optionsSchema, options, 'HybridRetriever options')
  }

  async search(query: Q, options: SearchOptions): Promise<Hit[]> {
    const o = parseSearchOptions(options)
    const lists = await Promise.all(
      this.#parts.map(async (p) => ({
        hits: await p.retriever.search(p.query ? p.query(query) : query, {
          k: Math.max(p.depth ?? this.#options.depth, o.k),
          filter: o.filter,
        }),
        weight: p.weight,
      })),
    )
    return fuse(lists, this.#options).slice(0, o.k)
  }

  async searchBatch(queries: readonly Q[], options: SearchOptions): Promise<Hit[][]> {
    const out: Hit[][] = []
    for (const q of queries) out.push(await this.search(q, options))
    return out
  }
}
