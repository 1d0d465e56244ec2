/**
 * Retrieval evaluation with trec_eval's definitions (the values pytrec_eval and BEIR report):
 * nDCG@k, recall@k, precision@k, MRR@k and MAP, per query and averaged.
 * @module
 */
import { z } from 'zod'
import { invalidRange, invalidType } from './errors'
import type { Hit } from './types'
import { parseOptions } from './validate'

/**
 * Relevance judgments: query id → document id → graded relevance (an integer; ≥ 1 is
 * relevant, 0 or less is judged non-relevant). The format of pytrec_eval and `loadBeir`.
 */
export type Qrels = Readonly<Record<string, Readonly<Record<string, number>>>> | ReadonlyMap<string, ReadonlyMap<string, number>>

/**
 * A run: query id → either document id → score (pytrec_eval's format, as `readTrecRun`
 * returns) or the `Hit[]` a retriever returned. Only the scores decide the order (see
 * {@link evaluate}), never the position in a `Hit[]`.
 */
export type Run =
  | Readonly<Record<string, Readonly<Record<string, number>> | readonly Hit[]>>
  | ReadonlyMap<string, ReadonlyMap<string, number> | Readonly<Record<string, number>> | readonly Hit[]>

/**
 * A metric name: `ndcg@k`, `recall@k`, `p@k`, `mrr@k`, `map@k` (k a positive integer), or
 * `ndcg`, `mrr`, `map` over the whole ranking. Same as trec_eval's `ndcg_cut.k`, `recall.k`,
 * `P.k`, `recip_rank` (on the top k), `map_cut.k`, `ndcg`, `recip_rank`, `map`.
 */
export type MetricName = string

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Metrics to compute (default `['ndcg@10', 'recall@100', 'mrr@10', 'map']`). */
  metrics?: readonly MetricName[]
  /**
   * Queries judged in `qrels` that the run does not contain: `'skip'` (default, like
   * trec_eval and pytrec_eval: they are left out of the mean) or `'zero'` (they count as 0,
   * like `trec_eval -c`).
   */
  missing?: 'skip' | 'zero'
}

/** What {@link evaluate} returns. */
export interface EvaluationResult {
  /** The mean of each metric over the evaluated queries (0 when there are none). */
  mean: Record<MetricName, number>
  /** Each evaluated query's value of each metric. */
  perQuery: Record<string, Record<MetricName, number>>
  /** Number of queries averaged. */
  queries: number
}

const DEFAULT_METRICS = ['ndcg@10', 'recall@100', 'mrr@10', 'map']

const METRIC = /^(ndcg|recall|p|precision|mrr|map)(?:@([1-9][0-9]*))?$/

interface ParsedMetric {
  name: string
  kind: 'ndcg' | 'recall' | 'p' | 'mrr' | 'map'
  /** Cutoff, Infinity for none. */
  k: number
}

const optionsSchema = z.strictObject({
  metrics: z.array(z.string()).min(1).default(DEFAULT_METRICS),
  missing: z.enum(['skip', 'zero']).default('skip'),
})

function parseMetric(name: string): ParsedMetric {
  const m = METRIC.exec(name.trim().toLowerCase())
  if (!m) {
    throw invalidRange(`unknown metric ${JSON.stringify(name)}: expected ndcg@k, recall@k, p@k, mrr@k, map@k, ndcg, mrr or map`)
  }
  const kind = (m[1] === 'precision' ? 'p' : m[1]) as ParsedMetric['kind']
  if (m[2] === undefined && (kind === 'recall' || kind === 'p')) {
    throw invalidRange(`metric ${JSON.stringify(name)} needs a cutoff, e.g. ${kind}@10`)
  }
  const k = m[2] === undefined ? Infinity : Number(m[2])
  if (!Number.isSafeInteger(k) && k !== Infinity) throw invalidRange(`metric ${JSON.stringify(name)}: cutoff too large`)
  return { name, kind, k }
}

/** C `strcmp` order (UTF-8 bytes, i.e. code points), which trec_eval uses for document ids. */
export function compareDocIds(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      // Surrogates (U+D800–DFFF) encode code points above U+FFFF, which sort after U+E000–FFFF in UTF-8.
      if (x >= 0xd800 && y >= 0xd800 && (x < 0xe000) !== (y < 0xe000)) return x < 0xe000 ? 1 : -1
      return x - y
    }
  }
  return a.length - b.length
}

/**
 * One query's ranking in trec_eval's order: score descending, then document id descending
 * (C `strcmp`), whatever order the run listed them in. An id listed twice in a `Hit[]` throws
 * (as trec_eval does).
 */
export function rankRun(docs: Readonly<Record<string, number>> | ReadonlyMap<string, number> | readonly Hit[]): Array<{ id: string; score: number }> {
  let list: Array<{ id: string; score: number }>
  if (Array.isArray(docs)) {
    const seen = new Set<string>()
    list = []
    for (const h of docs as readonly Hit[]) {
      const id = String(h?.id)
      // trec_eval rejects a document listed twice for one query; so do we.
      if (seen.has(id)) throw invalidRange(`run: document ${id} is retrieved twice for one query`)
      seen.add(id)
      list.push({ id, score: h.score })
    }
  } else if (docs instanceof Map) {
    list = [...docs].map(([id, score]) => ({ id: String(id), score }))
  } else if (docs !== null && typeof docs === 'object') {
    const record = docs as Record<string, number>
    list = []
    for (const id in record) list.push({ id, score: record[id] })
  } else {
    throw invalidType('each query of a run must be a Hit[] or a { docId: score } object')
  }
  // Runs usually arrive best first already (retrievers, TREC files): check before sorting.
  let sorted = true
  for (let i = 0; i < list.length; i++) {
    const d = list[i]
    if (typeof d.score !== 'number' || Number.isNaN(d.score)) throw invalidType(`run: document ${d.id} has no numeric score`)
    if (sorted && i > 0 && byTrecOrder(list[i - 1], d) > 0) sorted = false
  }
  return sorted ? list : list.sort(byTrecOrder)
}

function byTrecOrder(a: { id: string; score: number }, b: { id: string; score: number }): number {
  return b.score - a.score || compareDocIds(b.id, a.id)
}

/** One query's judgments, from a Map or a plain object. */
type Judged = ReadonlyMap<string, number> | Readonly<Record<string, number>>

/** Metrics of one query: `ranked` in trec_eval order, `judged` the query's qrels. */
function evaluateQuery(ranked: ReadonlyArray<{ id: string }>, judged: Judged, metrics: ParsedMetric[]) {
  const rels = new Float64Array(ranked.length)
  const positive: number[] = []
  if (judged instanceof Map) {
    for (let i = 0; i < ranked.length; i++) rels[i] = judged.get(ranked[i].id) ?? 0
    for (const g of judged.values()) if (g > 0) positive.push(g)
  } else {
    const j = judged as Readonly<Record<string, number>>
    for (let i = 0; i < ranked.length; i++) rels[i] = Object.prototype.hasOwnProperty.call(j, ranked[i].id) ? j[ranked[i].id] : 0
    for (const id in j) if (j[id] > 0) positive.push(j[id])
  }
  // Native numeric sort (no comparator), then best first.
  const gains = Float64Array.from(positive).sort().reverse()
  const numRel = gains.length
  const out: Record<string, number> = {}
  for (const m of metrics) {
    const depth = Math.min(m.k, rels.length)
    switch (m.kind) {
      case 'ndcg': {
        // trec_eval ≥ 9.0: gain = relevance (> 0 only), discount log2(rank + 1), rank from 1.
        let dcg = 0
        for (let i = 0; i < depth; i++) if (rels[i] > 0) dcg += rels[i] / Math.log2(i + 2)
        let ideal = 0
        const idealDepth = Math.min(m.k, gains.length)
        for (let i = 0; i < idealDepth; i++) ideal += gains[i] / Math.log2(i + 2)
        out[m.name] = ideal > 0 ? dcg / ideal : 0
        break
      }
      case 'recall':
      case 'p': {
        let hits = 0
        for (let i = 0; i < depth; i++) if (rels[i] > 0) hits++
        // trec_eval's P@k divides by k even when fewer documents were retrieved.
        out[m.name] = m.kind === 'p' ? hits / m.k : numRel > 0 ? hits / numRel : 0
        break
      }
      case 'mrr': {
        let rr = 0
        for (let i = 0; i < depth; i++) {
          if (rels[i] > 0) {
            rr = 1 / (i + 1)
            break
          }
        }
        out[m.name] = rr
        break
      }
      case 'map': {
        let hits = 0
        let sum = 0
        for (let i = 0; i < depth; i++) {
          if (rels[i] > 0) {
            hits++
            sum += hits / (i + 1)
          }
        }
        out[m.name] = numRel > 0 ? sum / numRel : 0
        break
      }
    }
  }
  return out
}

/**
 * Evaluates a run against relevance judgments, with trec_eval's definitions (verified against
 * pytrec_eval to 1e-6 on real runs in the test suite):
 *
 * - documents are ranked by score descending, ties by document id descending (as trec_eval
 *   does; the order of the run's entries does not matter);
 * - `ndcg@k`: graded gains (the relevance value, only when > 0) with discount log2(rank + 1),
 *   normalised by the ideal ranking of all judged documents of the query;
 * - `recall@k`: relevant documents in the top k / relevant documents judged;
 * - `p@k`: relevant documents in the top k / k;
 * - `mrr@k`: 1 / rank of the first relevant document within the top k, else 0;
 * - `map` / `map@k`: sum of precision at each relevant rank (within k) / relevant judged.
 *
 * Only queries present in `qrels` are evaluated; see {@link EvaluateOptions.missing} for judged
 * queries the run lacks. A query whose judgments hold no relevant document scores 0.
 *
 * @example
 * ```ts
 * const { mean } = evaluate(run, qrels, { metrics: ['ndcg@10', 'recall@100', 'mrr@10'] })
 * ```
 */
export function evaluate(run: Run, qrels: Qrels, options: EvaluateOptions = {}): EvaluationResult {
  const o = parseOptions(optionsSchema, options, 'evaluate options')
  if (run === null || typeof run !== 'object') throw invalidType('run must be an object: query id → Hit[] or { docId: score }')
  if (qrels === null || typeof qrels !== 'object') throw invalidType('qrels must be an object: query id → { docId: relevance }')
  const metrics = o.metrics.map(parseMetric)
  const runOf = run instanceof Map ? (q: string) => run.get(q) : (q: string) => (Object.prototype.hasOwnProperty.call(run, q) ? (run as Record<string, never>)[q] : undefined)
  const judgedOf = (q: string): Judged => {
    const j = qrels instanceof Map ? qrels.get(q) : (qrels as Record<string, Record<string, number>>)[q]
    if (j === null || typeof j !== 'object') throw invalidType(`qrels: query ${q} must map document ids to relevance`)
    return j
  }
  const perQuery: Record<string, Record<string, number>> = {}
  for (const qid of qrels instanceof Map ? [...qrels.keys()] : Object.keys(qrels)) {
    const docs = runOf(qid)
    if (docs === undefined) {
      if (o.missing === 'zero') perQuery[qid] = Object.fromEntries(metrics.map((m) => [m.name, 0]))
      continue
    }
    perQuery[qid] = evaluateQuery(rankRun(docs), judgedOf(qid), metrics)
  }
  const ids = Object.keys(perQuery)
  const mean: Record<string, number> = {}
  for (const m of metrics) {
    let s = 0
    for (const q of ids) s += perQuery[q][m.name]
    mean[m.name] = ids.length ? s / ids.length : 0
  }
  return { mean, perQuery, queries: ids.length }
}

/** Formats `mean` as an aligned two-column text table (metric, value with 4 decimals). */
export function formatMetrics(mean: Record<string, number>): string {
  const names = Object.keys(mean)
  const w = Math.max(6, ...names.map((n) => n.length))
  return names.map((n) => `${n.padEnd(w)}  ${mean[n].toFixed(4)}`).join('\n')
}
