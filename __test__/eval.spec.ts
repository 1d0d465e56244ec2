import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { evaluate, formatMetrics, rankRun, readQrels, readTrecRun } from '../index.ts'

const FIXTURES = join(process.cwd(), '__test__', 'fixtures', 'eval')
const DATASETS = join(process.cwd(), '..', 'shared', 'datasets')

interface Expected {
  pytrec_eval: string
  runs: Record<string, { run: string; queries: number; mean: Record<string, number>; perQuery: Record<string, Record<string, number>> }>
}
const expected: Expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'))

for (const [name, ref] of Object.entries(expected.runs)) {
  const qrelsPath = join(DATASETS, name, 'qrels', 'test.tsv')
  const available = existsSync(qrelsPath)
  ;(available ? test : test.skip)(`evaluate matches pytrec_eval ${expected.pytrec_eval} on a real BM25 run over ${name} to 1e-6`, async (t) => {
    const qrels = await readQrels(qrelsPath)
    const run = await readTrecRun(join(FIXTURES, ref.run))
    const metrics = Object.keys(ref.mean)
    const result = evaluate(run, qrels, { metrics })
    t.is(result.queries, ref.queries)
    t.deepEqual(Object.keys(result.perQuery).sort(), Object.keys(ref.perQuery).sort())
    let compared = 0
    for (const [qid, values] of Object.entries(ref.perQuery)) {
      for (const [m, v] of Object.entries(values)) {
        const got = result.perQuery[qid][m]
        if (Math.abs(got - v) > 1e-6) t.fail(`${name} query ${qid} ${m}: slimdex ${got}, pytrec_eval ${v}`)
        compared++
      }
    }
    for (const m of metrics) t.true(Math.abs(result.mean[m] - ref.mean[m]) <= 1e-6, `${m}: ${result.mean[m]} vs ${ref.mean[m]}`)
    t.log(`${name}: ${compared} per-query values; ndcg@10 ${result.mean['ndcg@10'].toFixed(4)}`)
  })
}

test('the fixture runs contain tied scores, so the tie order is exercised', async (t) => {
  const run = await readTrecRun(join(FIXTURES, 'msmarco-sample.run'))
  let ties = 0
  for (const docs of run.values()) {
    const scores = [...docs.values()]
    ties += scores.length - new Set(scores).size
  }
  t.true(ties > 100, `${ties} tied scores`)
})

test('ties are ranked by document id descending, whatever the order in the run', (t) => {
  const ranked = rankRun([
    { id: 'a', score: 1 },
    { id: 'c', score: 1 },
    { id: 'b', score: 2 },
    { id: 'B', score: 1 },
  ])
  t.deepEqual(
    ranked.map((d) => d.id),
    ['b', 'c', 'a', 'B'],
  )
  // Only 'a' is relevant: at rank 3 (after b, c) MRR is 1/3 regardless of the list order.
  const qrels = { q: { a: 1 } }
  t.is(evaluate({ q: [{ id: 'a', score: 1 }, { id: 'c', score: 1 }, { id: 'b', score: 2 }] }, qrels, { metrics: ['mrr'] }).mean.mrr, 1 / 3)
})

test('graded nDCG follows the published formula (gain = relevance, log2(rank + 1) discount)', (t) => {
  const qrels = { q: { d1: 3, d2: 2, d3: 0, d4: 1 } }
  const run = { q: { d3: 0.9, d2: 0.8, d1: 0.7, x: 0.6 } } // ranks: d3 (0), d2 (2), d1 (3), x (0)
  const dcg = 0 / Math.log2(2) + 2 / Math.log2(3) + 3 / Math.log2(4)
  const idcg = 3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4)
  const r = evaluate(run, qrels, { metrics: ['ndcg@3', 'ndcg@2', 'ndcg', 'recall@2', 'p@5', 'mrr@1', 'mrr@10', 'map', 'map@2'] })
  t.true(Math.abs(r.mean['ndcg@3'] - dcg / idcg) < 1e-12)
  t.true(Math.abs(r.mean['ndcg@2'] - 2 / Math.log2(3) / (3 + 2 / Math.log2(3))) < 1e-12)
  t.true(Math.abs(r.mean.ndcg - dcg / (idcg + 0)) < 1e-12) // x is unjudged: no gain
  t.is(r.mean['recall@2'], 1 / 3)
  t.is(r.mean['p@5'], 2 / 5)
  t.is(r.mean['mrr@1'], 0)
  t.is(r.mean['mrr@10'], 1 / 2)
  t.true(Math.abs(r.mean.map - (1 / 2 + 2 / 3) / 3) < 1e-12)
  t.true(Math.abs(r.mean['map@2'] - 1 / 2 / 3) < 1e-12)
})

test('queries without a run are skipped (trec_eval) or zero (-c); unjudged queries are ignored', (t) => {
  const qrels = { a: { d: 1 }, b: { d: 1 } }
  const run = { a: { d: 1 }, z: { d: 1 } }
  const skip = evaluate(run, qrels, { metrics: ['ndcg@10'] })
  t.is(skip.queries, 1)
  t.is(skip.mean['ndcg@10'], 1)
  const zero = evaluate(run, qrels, { metrics: ['ndcg@10'], missing: 'zero' })
  t.is(zero.queries, 2)
  t.is(zero.mean['ndcg@10'], 0.5)
  t.is(evaluate({}, qrels).queries, 0)
})

test('a query with no relevant judgments scores 0, not NaN', (t) => {
  const r = evaluate({ q: { d: 1 } }, { q: { d: 0 } }, { metrics: ['ndcg@10', 'recall@10', 'map', 'mrr'] })
  t.deepEqual(r.perQuery.q, { 'ndcg@10': 0, 'recall@10': 0, map: 0, mrr: 0 })
})

test('bad metric names and inputs are rejected with the name in the message', (t) => {
  t.throws(() => evaluate({}, {}, { metrics: ['ndcg@0'] }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /ndcg@0/ })
  t.throws(() => evaluate({}, {}, { metrics: ['bleu'] }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /bleu/ })
  t.throws(() => evaluate({}, {}, { metrics: ['recall'] }), { message: /cutoff/ })
  t.throws(() => evaluate({ q: { d: Number.NaN } }, { q: { d: 1 } }), { message: /numeric score/ })
  t.throws(() => evaluate(null as never, {}), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('formatMetrics prints one aligned line per metric', (t) => {
  t.is(formatMetrics({ 'ndcg@10': 0.5, map: 0.25 }), 'ndcg@10  0.5000\nmap      0.2500')
})

test('Maps work for runs and qrels; a document listed twice in a Hit[] is rejected like trec_eval does', (t) => {
  const qrels = new Map([['q', new Map([['a', 2], ['b', 1]])]])
  const asMap = evaluate(new Map([['q', [{ id: 'b', score: 2 }, { id: 'a', score: 1 }]]]), qrels, { metrics: ['ndcg@2', 'precision@1'] })
  const asRecord = evaluate({ q: { b: 2, a: 1 } }, { q: { a: 2, b: 1 } }, { metrics: ['ndcg@2', 'p@1'] })
  t.is(asMap.mean['ndcg@2'], asRecord.mean['ndcg@2'])
  t.is(asMap.mean['precision@1'], 1)
  t.true(asMap.mean['ndcg@2'] < 1)
  t.throws(() => evaluate({ q: [{ id: 'a', score: 1 }, { id: 'a', score: 0 }] }, { q: { a: 1 } }), { message: /retrieved twice/ })
})
