import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { evaluate, loadBeir, readQrels, readRun, writeRun } from '../index.ts'

const fixtures = join(process.cwd(), '__test__', 'fixtures')
const msmarco = join(process.cwd(), '..', 'shared', 'datasets', 'msmarco-sample')
const hasData = existsSync(msmarco)

// pytrec_eval's measure names for ours.
const names: Record<string, string> = {
  'ndcg@10': 'ndcg_cut_10',
  'ndcg@100': 'ndcg_cut_100',
  'recall@10': 'recall_10',
  'recall@100': 'recall_100',
  map: 'map',
  'map@10': 'map_cut_10',
  mrr: 'recip_rank',
  'mrr@10': 'recip_rank_cut_10',
  'precision@10': 'P_10',
}

test('evaluate equals pytrec_eval on a real run over msmarco-sample (ties included), to 1e-6', async (t) => {
  if (!hasData) return t.pass('skipped: ../shared/datasets/msmarco-sample is absent')
  const expected = JSON.parse(readFileSync(join(fixtures, 'msmarco-tfidf.pytrec_eval.json'), 'utf8')) as {
    perQuery: Record<string, Record<string, number>>
  }
  const run = await readRun(join(fixtures, 'msmarco-tfidf.run'))
  const qrels = await readQrels(join(msmarco, 'qrels', 'test.tsv'))
  const result = evaluate(run, qrels, { metrics: Object.keys(names) as never })
  t.is(result.queries, Object.keys(expected.perQuery).length)
  let ties = 0
  for (const hits of run.values()) ties += hits.length - new Set(hits.map((h) => h.score)).size
  t.true(ties > 100, 'the fixture exercises the tie-break')
  for (const [q, want] of Object.entries(expected.perQuery)) {
    for (const [ours, theirs] of Object.entries(names)) {
      const got = result.perQuery[q][ours]
      t.true(Math.abs(got - want[theirs]) <= 1e-6, `${q} ${ours}: ${got} vs pytrec_eval ${want[theirs]}`)
    }
  }
  t.log('msmarco-sample TF-IDF run:', Object.entries(result.mean).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', '))
})

test('evaluate on hand-computed cases: graded nDCG, recall, MRR, MAP, precision, ties by id descending', (t) => {
  const qrels = { q: { a: 3, b: 0, c: 1, d: 2 } }
  // Ranking after the tie-break: x (9), c (5), b (5)... ids descending among equal scores: c before b.
  const run = { q: [{ id: 'b', score: 5 }, { id: 'x', score: 9 }, { id: 'c', score: 5 }, { id: 'a', score: 1 }] }
  const r = evaluate(run, qrels, { metrics: ['ndcg@3', 'recall@2', 'mrr@10', 'map', 'precision@4'] }).perQuery.q
  const dcg = 1 / Math.log2(3) // c (grade 1) at rank 2; b (0) at rank 3
  const idcg = 3 + 2 / Math.log2(3) + 1 / 2
  t.true(Math.abs(r['ndcg@3'] - dcg / idcg) < 1e-12)
  t.is(r['recall@2'], 1 / 3)
  t.is(r['mrr@10'], 1 / 2)
  t.true(Math.abs(r.map - (1 / 2 + 2 / 4) / 3) < 1e-12) // relevant at ranks 2 (c) and 4 (a); d never retrieved
  t.is(r['precision@4'], 2 / 4)
})

test('evaluate ignores unjudged queries, can count missing ones as zero, and rejects bad input', (t) => {
  const qrels = new Map([['q1', new Map([['d1', 1]])], ['q2', new Map([['d2', 1]])]])
  const run = new Map([['q1', [{ id: 'd1', score: 1 }]], ['unjudged', [{ id: 'd1', score: 1 }]]])
  t.deepEqual(evaluate(run, qrels, { metrics: ['recall@10'] }).mean, { 'recall@10': 1 })
  const zero = evaluate(run, qrels, { metrics: ['recall@10'], missingQueries: 'zero' })
  t.is(zero.queries, 2)
  t.is(zero.mean['recall@10'], 0.5)
  t.throws(() => evaluate(run, qrels, { metrics: ['ndcg'] as never }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /needs a cut/ })
  t.throws(() => evaluate(run, qrels, { metrics: ['bleu@4'] as never }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const twice = new Map([['q1', [{ id: 'd1', score: 1 }, { id: 'd1', score: 0.5 }]]])
  t.throws(() => evaluate(twice, qrels), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /retrieved twice/ })
  t.throws(() => evaluate(new Map([['q1', [{ id: 'd1', score: Number.NaN }]]]), qrels), { instanceOf: TypeError })
})

test('loadBeir reads corpus, judged queries and headerless graded qrels', async (t) => {
  if (!hasData) return t.pass('skipped: ../shared/datasets/msmarco-sample is absent')
  const { corpus, queries, qrels } = await loadBeir(msmarco)
  t.is(corpus.length, 5000)
  t.is(queries.length, 43)
  t.is(qrels.size, 43)
  t.true(queries.every((q) => qrels.has(q.id) && q.text.length > 0))
  t.deepEqual([...new Set([...qrels.values()].flatMap((m) => [...m.values()]))].sort(), [1, 2, 3])
})

test('loadBeir, readQrels and readRun report malformed lines with file and line number', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-beir-'))
  writeFileSync(join(dir, 'corpus.jsonl'), '{"_id": "d1", "text": "one"}\n{"_id": "d2", "text": "two"\n')
  writeFileSync(join(dir, 'queries.jsonl'), '{"_id": "q1", "text": "one"}\n')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(join(dir, 'qrels'))
  writeFileSync(join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t1\n')
  await t.throwsAsync(loadBeir(dir), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /corpus\.jsonl:2: malformed JSON/ })
  writeFileSync(join(dir, 'corpus.jsonl'), '{"_id": "d1", "text": "one"}\n{"_id": "d2"}\n')
  await t.throwsAsync(loadBeir(dir), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /corpus\.jsonl:2: .*"text"/ })
  writeFileSync(join(dir, 'corpus.jsonl'), '{"_id": "d1", "text": "one"}\n')
  const ok = await loadBeir(dir)
  t.deepEqual(ok.qrels, new Map([['q1', new Map([['d1', 1]])]]))
  writeFileSync(join(dir, 'bad.tsv'), 'q1\td1\t1\nq1\td2\thigh\n')
  await t.throwsAsync(readQrels(join(dir, 'bad.tsv')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /bad\.tsv:2: grade "high"/ })
  await t.throwsAsync(loadBeir(join(dir, 'missing')), { code: 'ERR_SLIMDEX_IO' })
  writeFileSync(join(dir, 'bad.run'), 'q1 Q0 d1 1 0.5 sys\nq1 Q0 d2 2\n')
  await t.throwsAsync(readRun(join(dir, 'bad.run')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /bad\.run:2: expected 6 fields/ })
})

test('writeRun then readRun round-trips a run, best first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-run-'))
  const path = join(dir, 'x.run')
  const run = { q1: [{ id: 'b', score: 0.25 }, { id: 'a', score: 1.5 }], q2: [{ id: 7, score: -1 }] }
  await writeRun(path, run, 'test')
  t.is(readFileSync(path, 'utf8'), 'q1 Q0 a 1 1.5 test\nq1 Q0 b 2 0.25 test\nq2 Q0 7 1 -1 test\n')
  const back = await readRun(path)
  t.deepEqual(back.get('q1'), [{ id: 'a', score: 1.5 }, { id: 'b', score: 0.25 }])
  await t.throwsAsync(writeRun(path, { q: [{ id: 'has space', score: 1 }] }), { instanceOf: TypeError })
})
