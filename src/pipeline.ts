/**
 * Multi-stage retrieval: a cheap retriever proposes candidates, later stages re-score them
 * (BM25 → dense, binary → float, MUVERA → Chamfer, or any callback).
 * @module
 */
import { z } from 'zod'
import { invalidRange, invalidType } from './errors'
import { parseSearchOptions, type Retriever, type SearchOptions } from './retriever'
import type { Hit, Id } from './types'
import { parseOptions, positiveInt } from './validate'

/** New scores for `candidates` (same order, larger is better) for `query`. */
export type Rescorer<Q> = (query: Q, candidates: readonly Hit[]) => ArrayLike<number> | Promise<ArrayLike<number>>

/** A re-scoring stage of a {@link Pipeline}. */
export interface PipelineStage<Q> {
  rescore: Rescorer<Q>
  /** Candidates this stage passes on, best first (default: all it received). */
  keep?: number
}

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /** Candidates asked of the first retriever (default 100, at least `k`). */
  candidates?: number
}

const stageSchema = z.strictObject({
  rescore: z.custom<Rescorer<unknown>>((f) => typeof f === 'function', 'rescore must be a function (query, candidates) => scores'),
  keep: positiveInt().optional(),
})
const optionsSchema = z.strictObject({ candidates: positiveInt().default(100) })

/** Sorts by score descending; equal scores keep their previous (earlier-stage) order. */
function rank(hits: Hit[]): Hit[] {
  return hits
    .map((h, i) => ({ h, i }))
    .sort((a, b) => b.h.score - a.h.score || a.i - b.i)
    .map(({ h }) => h)
}

/**
 * First-stage candidates, then each stage re-scores them in order.
 *
 * @example
 * ```ts
 * // BM25 proposes 200 candidates; exact dense similarity orders them.
 * const pipeline = new Pipeline(asRetriever(bm25), [
 *   { rescore: exactRescorer({ vector: (id) => embeddings.get(id), query: (q) => embed(q) }) },
 * ], { candidates: 200 })
 * ```
 */
export class Pipeline<Q = unknown> implements Retriever<Q> {
  readonly #first: Retriever<Q>
  readonly #stages: Array<{ rescore: Rescorer<Q>; keep: number | undefined }>
  readonly #candidates: number

  constructor(first: Retriever<Q>, stages: ReadonlyArray<PipelineStage<Q>>, options: PipelineOptions = {}) {
    if (first === null || typeof first !== 'object' || typeof first.search !== 'function') {
      throw invalidType('Pipeline needs a first-stage retriever with search(query, { k })')
    }
    if (!Array.isArray(stages)) throw invalidType('stages must be an array of { rescore, keep? }')
    this.#first = first
    this.#stages = stages.map((s, i) => {
      const p = parseOptions(stageSchema, s, `stage ${i}`)
      return { rescore: p.rescore as Rescorer<Q>, keep: p.keep }
    })
    this.#candidates = parseOptions(optionsSchema, options, 'Pipeline options').candidates
  }

  async search(query: Q, options: SearchOptions): Promise<Hit[]> {
    const o = parseSearchOptions(options)
    let hits = await this.#first.search(query, { k: Math.max(this.#candidates, o.k), filter: o.filter })
    for (const [i, stage] of this.#stages.entries()) {
      const scores = await stage.rescore(query, hits)
      if (scores === null || typeof scores !== 'object' || scores.length !== hits.length) {
        throw invalidRange(`stage ${i} returned ${scores?.length ?? 'no'} scores for ${hits.length} candidates`)
      }
      hits = rank(hits.map((h, j) => ({ id: h.id, score: scores[j] })))
      if (stage.keep !== undefined) hits = hits.slice(0, stage.keep)
    }
    return hits.slice(0, o.k)
  }

  async searchBatch(queries: readonly Q[], options: SearchOptions): Promise<Hit[][]> {
    const out: Hit[][] = []
    for (const q of queries) out.push(await this.search(q, options))
    return out
  }
}

/** Options of {@link exactRescorer}. */
export interface ExactRescorerOptions<Q> {
  /** The stored float vector of a candidate (`undefined`: the candidate gets -Infinity). */
  vector: (id: Id) => Float32Array | undefined
  /** The query's float vector. */
  query: (query: Q) => Float32Array
  /** `'ip'` (default) or `'cosine'`. */
  metric?: 'ip' | 'cosine'
}

/** A stage that scores candidates by exact inner product or cosine with stored float vectors. */
export function exactRescorer<Q>(options: ExactRescorerOptions<Q>): Rescorer<Q> {
  if (typeof options?.vector !== 'function' || typeof options.query !== 'function') {
    throw invalidType('exactRescorer needs vector(id) and query(q) functions')
  }
  const cosine = (options.metric ?? 'ip') === 'cosine'
  if (!['ip', 'cosine'].includes(options.metric ?? 'ip')) throw invalidRange("metric must be 'ip' or 'cosine'")
  return (query, candidates) => {
    const q = options.query(query)
    if (!(q instanceof Float32Array)) throw invalidType('exactRescorer: query(q) must return a Float32Array')
    let qNorm = 0
    for (const x of q) qNorm += x * x
    qNorm = Math.sqrt(qNorm) || 1
    return candidates.map((c) => {
      const v = options.vector(c.id)
      if (v === undefined) return -Infinity
      if (v.length !== q.length) throw invalidRange(`vector of ${c.id} has ${v.length} dimensions, the query ${q.length}`)
      let dot = 0
      let norm = 0
      for (let i = 0; i < q.length; i++) {
        dot += q[i] * v[i]
        norm += v[i] * v[i]
      }
      return cosine ? dot / (qNorm * (Math.sqrt(norm) || 1)) : dot
    })
  }
}
