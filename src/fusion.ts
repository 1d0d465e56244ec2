/**
 * Hybrid retrieval: several retrievers (e.g. BM25 and a dense index) queried together, their
 * rankings fused by reciprocal rank fusion or by a weighted sum of normalised scores.
 * @module
 */
import { z } from 'zod'
import { invalidRange, invalidType } from './errors'
import { asRetriever, markRetriever, parseSearchOptions } from './retriever'
import type { Retriever, RetrieverSearchOptions } from './retriever'
import type { Hit, Id } from './types'
import { parseOptions, positiveInt } from './validate'

/** How rankings are combined. */
export type FusionMethod = 'rrf' | 'weighted'

/** How each list's scores are put on one scale before a weighted sum. */
export type ScoreNormalization = 'minmax' | 'zscore'

/** Options of {@link fuseRankings} (and the fusion part of {@link HybridOptions}). */
export interface FusionOptions {
  /**
   * `'rrf'` (default): reciprocal rank fusion, score = Σ wᵢ / (rrfK + rankᵢ), rank from 1
   * (Cormack et al. 2009); it ignores the scores. `'weighted'`: score = Σ wᵢ · norm(scoreᵢ).
   */
  fusion?: FusionMethod
  /** The RRF constant, ≥ 0 (default 60). */
  rrfK?: number
  /**
   * Normalisation for `'weighted'` (default `'minmax'`): `'minmax'` maps each list to [0, 1]
   * ((s − min) / (max − min); all 1 when every score is equal); `'zscore'` to (s − mean) / std
   * (population std; all 0 when it is 0). A document missing from a list gets that list's lowest
   * normalised value (0 with min-max), so being absent never beats being ranked last.
   */
  normalization?: ScoreNormalization
}

/** One retriever of a {@link HybridRetriever}. */
export interface HybridPart<Q> {
  /** A retriever or an index (wrapped with {@link asRetriever}). */
  retriever: Retriever<any> | object
  /** Weight of this part, ≥ 0 (default 1). */
  weight?: number
  /** Candidates taken from this part per query (default {@link HybridOptions.depth}, at least k). */
  depth?: number
  /**
   * Turns the hybrid query into this part's query (default: the query itself). E.g.
   * `{ retriever: bm25, query: (q) => q.text }` and `{ retriever: dense, query: (q) => q.vector }`.
   */
  query?: (query: Q) => unknown
}

/** Options of {@link HybridRetriever}. */
export interface HybridOptions extends FusionOptions {
  /** Candidates taken from each part per query unless the part sets its own (default 100, at least k). */
  depth?: number
}

const fusionSchema = z.strictObject({
  fusion: z.enum(['rrf', 'weighted']).default('rrf'),
  rrfK: z.number().min(0).max(1e9).default(60),
  normalization: z.enum(['minmax', 'zscore']).default('minmax'),
})

const hybridSchema = fusionSchema.extend({ depth: positiveInt().default(100) })

const weightSchema = z.number().min(0).max(1e12)

function normalize(scores: number[], method: ScoreNormalization): { values: number[]; absent: number } {
  const n = scores.length
  if (method === 'minmax') {
    let min = Infinity
    let max = -Infinity
    for (const s of scores) {
      if (s < min) min = s
      if (s > max) max = s
    }
    const span = max - min
    return { values: scores.map((s) => (span > 0 ? (s - min) / span : 1)), absent: 0 }
  }
  let mean = 0
  for (const s of scores) mean += s
  mean /= n
  let v = 0
  for (const s of scores) v += (s - mean) * (s - mean)
  const std = Math.sqrt(v / n)
  const values = scores.map((s) => (std > 0 ? (s - mean) / std : 0))
  let absent = Infinity
  for (const z of values) if (z < absent) absent = z
  return { values, absent: n ? absent : 0 }
}

/**
 * Fuses ranked lists into one, best first, cut to `k`. Deterministic: equal fused scores are
 * ordered by first appearance, scanning the lists rank by rank (rank 1 of list 0, rank 1 of
 * list 1, …, rank 2 of list 0, …). Within a list, a repeated id counts at its first rank.
 * Each list must be sorted best first.
 *
 * @param lists - one ranking per retriever.
 * @param weights - one weight ≥ 0 per list (default all 1).
 */
export function fuseRankings(lists: ReadonlyArray<readonly Hit[]>, options: FusionOptions & { k: number; weights?: readonly number[] }): Hit[] {
  if (!Array.isArray(lists)) throw invalidType('lists must be an array of Hit[]')
  const { k, weights, ...rest } = options ?? ({} as never)
  const o = parseOptions(fusionSchema, rest, 'fusion options')
  positiveOrThrow(k)
  const w = weights ?? lists.map(() => 1)
  if (w.length !== lists.length) throw invalidRange(`weights has ${w.length} entries for ${lists.length} lists`)
  w.forEach((x, i) => {
    if (!weightSchema.safeParse(x).success) throw invalidRange(`weights[${i}] must be a finite number ≥ 0 (got ${x})`)
  })

  // Unique entries of each list, in rank order.
  const uniq = lists.map((list, i) => {
    if (!Array.isArray(list)) throw invalidType(`lists[${i}] must be a Hit[]`)
    const seen = new Set<Id>()
    return list.filter((h) => (seen.has(h.id) ? false : (seen.add(h.id), true)))
  })
  // First-seen order, rank-major across lists.
  const order = new Map<Id, number>()
  const longest = Math.max(0, ...uniq.map((l) => l.length))
  for (let r = 0; r < longest; r++) {
    for (const list of uniq) if (r < list.length && !order.has(list[r].id)) order.set(list[r].id, order.size)
  }
  const fused = new Float64Array(order.size)
  uniq.forEach((list, i) => {
    const weight = w[i]
    if (o.fusion === 'rrf') {
      list.forEach((h, r) => (fused[order.get(h.id)!] += weight / (o.rrfK + r + 1)))
      return
    }
    if (list.length === 0) return
    const scores = list.map((h) => h.score)
    if (scores.some((s) => typeof s !== 'number' || !Number.isFinite(s))) throw invalidRange(`lists[${i}] has a non-finite score`)
    const { values, absent } = normalize(scores, o.normalization)
    const present = new Set<number>()
    list.forEach((h, r) => {
      const at = order.get(h.id)!
      present.add(at)
      fused[at] += weight * values[r]
    })
    if (absent !== 0) for (let at = 0; at < fused.length; at++) if (!present.has(at)) fused[at] += weight * absent
  })
  const ids = [...order.keys()]
  const idx = ids.map((_, i) => i).sort((a, b) => fused[b] - fused[a] || a - b)
  return idx.slice(0, k).map((i) => ({ id: ids[i], score: fused[i] }))
}

function positiveOrThrow(k: unknown): void {
  if (!positiveInt().safeParse(k).success) throw invalidRange(`k must be an integer in [1, 4294967295] (got ${String(k)})`)
}

interface ResolvedPart<Q> {
  retriever: Retriever<unknown>
  weight: number
  depth: number | undefined
  query: (q: Q) => unknown
}

/**
 * A retriever that queries several retrievers and fuses their rankings. It is itself a
 * {@link Retriever}, so it can feed a {@link Pipeline} or another HybridRetriever.
 *
 * Each part is asked for `depth` candidates (per part, default 100, never fewer than k); the
 * filter is passed to every part; the fused list is cut to k. Ties are broken deterministically
 * (see {@link fuseRankings}).
 *
 * @example
 * ```ts
 * const hybrid = new HybridRetriever<{ text: string; vector: Float32Array }>(
 *   [
 *     { retriever: bm25, query: (q) => q.text },
 *     { retriever: asRetriever(dense), query: (q) => q.vector, weight: 0.7 },
 *   ],
 *   { fusion: 'rrf' },
 * )
 * const hits = await hybrid.search({ text, vector }, { k: 10 })
 * ```
 */
export class HybridRetriever<Q = unknown> implements Retriever<Q> {
  readonly #parts: ResolvedPart<Q>[]
  readonly #options: Required<HybridOptions>

  constructor(parts: ReadonlyArray<HybridPart<Q>>, options: HybridOptions = {}) {
    this.#options = parseOptions(hybridSchema, options, 'HybridRetriever options')
    if (!Array.isArray(parts) || parts.length === 0) throw invalidType('HybridRetriever needs a non-empty array of { retriever, weight?, depth?, query? }')
    this.#parts = parts.map((p, i) => {
      if (p === null || typeof p !== 'object' || !('retriever' in p)) throw invalidType(`parts[${i}] must be { retriever, weight?, depth?, query? }`)
      const extra = Object.keys(p).filter((key) => !['retriever', 'weight', 'depth', 'query'].includes(key))
      if (extra.length) throw invalidType(`parts[${i}]: unknown option ${extra[0]}`)
      const weight = p.weight ?? 1
      if (!weightSchema.safeParse(weight).success) throw invalidRange(`parts[${i}].weight must be a finite number ≥ 0 (got ${weight})`)
      if (p.depth !== undefined && !positiveInt().safeParse(p.depth).success) throw invalidRange(`parts[${i}].depth must be a positive integer (got ${p.depth})`)
      if (p.query !== undefined && typeof p.query !== 'function') throw invalidType(`parts[${i}].query must be a function`)
      return { retriever: asRetriever(p.retriever as Retriever<unknown>), weight, depth: p.depth, query: p.query ?? ((q: Q) => q) }
    })
    if (this.#parts.every((p) => p.weight === 0)) throw invalidRange('at least one part needs a weight > 0')
    markRetriever(this)
  }

  /** The fusion options in force (defaults filled in). */
  get options(): Readonly<Required<HybridOptions>> {
    return this.#options
  }

  #partOptions(part: ResolvedPart<Q>, o: RetrieverSearchOptions): RetrieverSearchOptions {
    const depth = Math.max(o.k, part.depth ?? this.#options.depth)
    return { k: depth, ...(o.filter ? { filter: o.filter } : {}), ...(o.signal ? { signal: o.signal } : {}) }
  }

  #fuse(lists: Hit[][], k: number): Hit[] {
    const { fusion, rrfK, normalization } = this.#options
    return fuseRankings(lists, { fusion, rrfK, normalization, k, weights: this.#parts.map((p) => p.weight) })
  }

  /** Queries every part (concurrently) and fuses the rankings. */
  async search(query: Q, options: RetrieverSearchOptions): Promise<Hit[]> {
    const o = parseSearchOptions(options)
    const lists = await Promise.all(this.#parts.map((p) => p.retriever.search(p.query(query), this.#partOptions(p, o))))
    return this.#fuse(lists, o.k)
  }

  /** Batch twin of {@link HybridRetriever.search}: each part answers the whole batch at once. */
  async searchBatch(queries: readonly Q[], options: RetrieverSearchOptions): Promise<Hit[][]> {
    const o = parseSearchOptions(options, 'searchBatch options')
    if (!Array.isArray(queries)) throw invalidType('queries must be an array')
    const perPart = await Promise.all(this.#parts.map((p) => p.retriever.searchBatch(queries.map(p.query), this.#partOptions(p, o))))
    return queries.map((_, q) => this.#fuse(perPart.map((lists) => lists[q]), o.k))
  }
}
