/**
 * Retrieval evaluation with trec_eval's definitions (and its tie-break), so numbers match
 * `trec_eval` / `pytrec_eval` / `ir-measures` to floating-point precision.
 * @module
 */
import { z } from 'zod'
import { invalidRange, invalidType } from './errors'
import type { Hit } from './types'
import { parseOptions } from './validate'

/** Relevance judgments: query id → document id → graded relevance (0 = not relevant). */
export type Qrels = ReadonlyMap<string, ReadonlyMap<string, number>> | Readonly<Record<string, Readonly<Record<string, number>>>>

/** A run: query id → retrieved documents with scores (any order; they are ranked here). */
export type Run = ReadonlyMap<string, readonly Hit[]> | Readonly<Record<string, readonly Hit[]>>

/**
 * A metric name, optionally cut at a rank: `ndcg@10`, `recall@100`, `mrr@10`, `mrr`, `map`,
 * `map@10`, `precision@10` (alias `p@10`).
 */
export type MetricName = `${'ndcg' | 'recall' | 'mrr' | 'map' | 'precision' | 'p'}${'' | `@${number}`}`

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Metrics to compute (default `['ndcg@10', 'recall@100', 'mrr@10']`). `ndcg` and `recall` need a cut. */
  metrics?: readonly MetricName[]
  /** Lowest grade that counts as relevant for recall, precision, MRR and MAP (default 1, like trec_eval). */
  relevanceLevel?: number
  /**
   * Queries judged in `qrels` but absent from the run: `'ignore'` (default, trec_eval's
   * behaviour) leaves them out of the mean; `'zero'` counts them as 0 (trec_eval `-c`).
   */
  missingQueries?: 'ignore' | 'zero'
}

/** What {@link evaluate} returns. */
export interface Evaluation {
  /** Mean of each metric over the evaluated queries. */
  mean: Record<string, number>
  /** Each metric for each evaluated query. */
  perQuery: Record<string, Record<string, number>>
  /** Number of evaluated queries (judged and, unless `missingQueries: 'zero'`, in the run). */
  queries: number
}

const METRIC = /^(ndcg|recall|mrr|map|precision|p)(?:@([1-9]\d*))?$/

const optionsSchema = z.strictObject({
  metrics: z
    .array(z.string().regex(METRIC, 'a metric like ndcg@10, recall@100, mrr@10, map or precision@10'))
    .min(1)
    .default(['ndcg@10', 'recall@100', 'mrr@10']),
  relevanceLevel: z.number().int().min(1).default(1),
  missingQueries: z.enum(['ignore', 'zero']).default('ignore'),
})

interface ParsedMetric {
  name: string
  kind: 'ndcg' | 'recall' | 'mrr' | 'map' | 'precision'
  cut: number
}

function parseMetric(name: string): ParsedMetric {
  const m = METRIC.exec(name)
  if (!m) throw invalidRange(`unknown metric ${JSON.stringify(name)}`)
  const kind = m[1] === 'p' ? 'precision' : (m[1] as ParsedMetric['kind'])
  if (m[2] === undefined && (kind === 'ndcg' || kind === 'recall' || kind === 'precision')) {
    throw invalidRange(`metric ${name} needs a cut, e.g. ${name}@10`)
  }
  return { name, kind, cut: m[2] === undefined ? Infinity : Number(m[2]) }
}

function entries<V>(x: ReadonlyMap<string, V> | Readonly<Record<string, V>>): Iterable<[string, V]> {
  return x instanceof Map ? x.entries() : Object.entries(x as Record<string, V>)
}

/** trec_eval's order: score descending, then document id descending (byte order). */
function trecOrder(hits: readonly Hit[], query: string): Array<{ id: string; score: number }> {
  const seen = new Set<string>()
  const ranked = hits.map((h) => {
    if (h === null || typeof h !== 'object' || (typeof h.id !== 'string' && typeof h.id !== 'number')) {
      throw invalidType(`run for query ${query}: every hit must be { id: string | number, score: number }`)
    }
    if (typeof h.score !== 'number' || Number.isNaN(h.score)) {
      throw invalidType(`run for query ${query}: document ${h.id} has a score that is not a number`)
    }
    const id = String(h.id)
    if (seen.has(id)) throw invalidRange(`run for query ${query}: document ${id} is retrieved twice`)
    seen.add(id)
    return { id, score: h.score }
  })
  return ranked.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
}

function scoreQuery(ranked: ReadonlyArray<{ id: string }>, rels: ReadonlyMap<string, number>, metrics: ParsedMetric[], level: number): Record<string, number> {
  const grades = ranked.map((d) => rels.get(d.id) ?? 0)
  const relevantTotal = [...rels.values()].filter((g) => g >= level).length
  const ideal = [...rels.values()].filter((g) => g > 0).sort((a, b) => b - a)
  const out: Record<string, number> = {}
  for (const m of metrics) {
    const depth = Math.min(m.cut, grades.length)
    switch (m.kind) {
      case 'ndcg': {
        let dcg = 0
        for (let i = 0; i < depth; i++) if (grades[i] > 0) dcg += grades[i] / Math.log2(i + 2)
        let idcg = 0
        for (let i = 0; i < Math.min(m.cut, ideal.length); i++) idcg += ideal[i] / Math.log2(i + 2)
        out[m.name] = idcg > 0 ? dcg / idcg : 0
        break
      }
      case 'recall': {
        let found = 0
        for (let i = 0; i < depth; i++) if (grades[i] >= level) found++
        out[m.name] = relevantTotal > 0 ? found / relevantTotal : 0
        break
      }
      case 'precision': {
        let found = 0
        for (let i = 0; i < depth; i++) if (grades[i] >= level) found++
        out[m.name] = found / m.cut
        break
      }
      case 'mrr': {
        let rr = 0
        for (let i = 0; i < depth; i++) {
          if (grades[i] >= level) {
            rr = 1 / (i + 1)
            break
          }
        }
        out[m.name] = rr
        break
      }
      case 'map': {
        let found = 0
        let sum = 0
        for (let i = 0; i < depth; i++) {
          if (grades[i] >= level) {
            found++
            sum += found / (i + 1)
          }
        }
        out[m.name] = relevantTotal > 0 ? sum / relevantTotal : 0
        break
      }
    }
  }
  return out
}

/**
 * Scores a run against relevance judgments. Definitions follow trec_eval: nDCG with the grade
 * as gain and a log2(rank + 1) discount, the ideal ranking from all judged grades; recall and
 * MAP over all judged-relevant documents; precision@k divides by k; documents with equal scores
 * are ranked by id, descending. Queries without judgments are ignored.
 *
 * @example
 * ```ts
 * const { mean } = evaluate(run, qrels, { metrics: ['ndcg@10', 'recall@100'] })
 * ```
 */
export function evaluate(run: Run, qrels: Qrels, options: EvaluateOptions = {}): Evaluation {
  const o = parseOptions(optionsSchema, options, 'evaluate options')
  const metrics = o.metrics.map(parseMetric)
  if (run === null || typeof run !== 'object') throw invalidType('run must be a Map or an object of query id → hits')
  if (qrels === null || typeof qrels !== 'object') throw invalidType('qrels must be a Map or an object of query id → { doc id: grade }')
  const judged = new Map<string, Map<string, number>>()
  for (const [q, docs] of entries<ReadonlyMap<string, number> | Readonly<Record<string, number>>>(qrels)) {
    const m = new Map<string, number>()
    for (const [d, g] of entries(docs)) {
      if (!Number.isFinite(g)) throw invalidType(`qrels for query ${q}: document ${d} has a grade that is not a number`)
      m.set(d, g)
    }
    judged.set(q, m)
  }
  const perQuery: Record<string, Record<string, number>> = {}
  const inRun = new Set<string>()
  for (const [q, hits] of entries<readonly Hit[]>(run)) {
    inRun.add(q)
    const rels = judged.get(q)
    if (rels === undefined) continue
    if (!Array.isArray(hits)) throw invalidType(`run for query ${q} must be an array of hits`)
    perQuery[q] = scoreQuery(trecOrder(hits, q), rels, metrics, o.relevanceLevel)
  }
  if (o.missingQueries === 'zero') {
    for (const [q, rels] of judged) if (!inRun.has(q)) perQuery[q] = scoreQuery([], rels, metrics, o.relevanceLevel)
  }
  const queries = Object.keys(perQuery).length
  const mean: Record<string, number> = {}
  for (const m of metrics) {
    let sum = 0
    for (const q in perQuery) sum += perQuery[q][m.name]
    mean[m.name] = queries > 0 ? sum / queries : 0
  }
  return { mean, perQuery, queries }
}
