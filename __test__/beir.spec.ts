import test from 'ava'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { evaluate, formatTrecRun, loadBeir, readQrels, readTrecRun, writeTrecRun } from '../index.ts'

const DATASETS = join(process.cwd(), '..', 'shared', 'datasets')
const tmp = () => mkdtempSync(join(tmpdir(), 'slimdex-beir-'))

function makeDataset(files: Record<string, string>): string {
  const dir = tmp()
  mkdirSync(join(dir, 'qrels'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const CORPUS = '{"_id":"d1","title":"T1","text":"first"}\n{"_id":"d2","text":"second"}\n{"_id":3,"title":null,"text":"third"}\n'
const QUERIES = '{"_id":"q1","text":"one"}\n{"_id":"q2","text":"two"}\n{"_id":"q3","text":"unjudged"}\n'

test('loadBeir reads corpus, queries and qrels, with and without a qrels header', async (t) => {
  for (const header of ['query-id\tcorpus-id\tscore\n', '']) {
    const dir = makeDataset({ 'corpus.jsonl': CORPUS, 'queries.jsonl': QUERIES, 'qrels/test.tsv': `${header}q1\td1\t2\nq1\td2\t0\nq2\t3\t1\n` })
    const ds = await loadBeir(dir)
    t.deepEqual(ds.corpus, [
      { id: 'd1', title: 'T1', text: 'first' },
      { id: 'd2', title: '', text: 'second' },
      { id: '3', title: '', text: 'third' },
    ])
    t.deepEqual(ds.queries, [
      { id: 'q1', text: 'one' },
      { id: 'q2', text: 'two' },
    ])
    t.deepEqual(ds.qrels, new Map([['q1', new Map([['d1', 2], ['d2', 0]])], ['q2', new Map([['3', 1]])]]))
    t.is((await loadBeir(dir, { judgedOnly: false })).queries.length, 3)
  }
})

test('loadBeir errors name the file and the line', async (t) => {
  const bad = makeDataset({ 'corpus.jsonl': '{"_id":"d1","text":"x"}\n{"_id":"d2","text":\n', 'queries.jsonl': QUERIES, 'qrels/test.tsv': 'q1\td1\t1\n' })
  await t.throwsAsync(loadBeir(bad), { code: 'ERR_SLIMDEX_PARSE', message: /corpus\.jsonl:2: invalid JSON/ })
  const noText = makeDataset({ 'corpus.jsonl': '{"_id":"d1"}\n', 'queries.jsonl': QUERIES, 'qrels/test.tsv': 'q1\td1\t1\n' })
  await t.throwsAsync(loadBeir(noText), { code: 'ERR_SLIMDEX_PARSE', message: /corpus\.jsonl:1: missing "text"/ })
  const noId = makeDataset({ 'corpus.jsonl': CORPUS, 'queries.jsonl': '{"text":"x"}\n', 'qrels/test.tsv': 'q1\td1\t1\n' })
  await t.throwsAsync(loadBeir(noId), { code: 'ERR_SLIMDEX_PARSE', message: /queries\.jsonl:1: missing or invalid "_id"/ })
  const badRel = makeDataset({ 'corpus.jsonl': CORPUS, 'queries.jsonl': QUERIES, 'qrels/test.tsv': 'q1\td1\t1\nq1\td2\thigh\n' })
  await t.throwsAsync(loadBeir(badRel), { code: 'ERR_SLIMDEX_PARSE', message: /test\.tsv:2: relevance "high" is not an integer/ })
  const noQrels = makeDataset({ 'corpus.jsonl': CORPUS, 'queries.jsonl': QUERIES })
  await t.throwsAsync(loadBeir(noQrels), { code: 'ERR_SLIMDEX_IO', message: /qrels\/test\.tsv: no such file/ })
  await t.throwsAsync(loadBeir(join(noQrels, 'nowhere')), { code: 'ERR_SLIMDEX_IO', message: /nowhere/ })
  await t.throwsAsync(loadBeir(noQrels, { split: '../x' }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /split/ })
})

test('readQrels also reads TREC qrels (qid iter docid rel)', async (t) => {
  const dir = tmp()
  writeFileSync(join(dir, 'q.txt'), '301 0 FT1 1\n301 0 FT2 0\n302 Q0 LA9 3\n')
  t.deepEqual(await readQrels(join(dir, 'q.txt')), new Map([['301', new Map([['FT1', 1], ['FT2', 0]])], ['302', new Map([['LA9', 3]])]]))
  writeFileSync(join(dir, 'bad.txt'), 'a b\n')
  await t.throwsAsync(readQrels(join(dir, 'bad.txt')), { message: /bad\.txt:1: expected 3 columns/ })
})

test('TREC runs: written in trec_eval order with exact scores, read back equal, duplicates rejected', async (t) => {
  const run = {
    q1: [
      { id: 'b', score: 0.1 + 0.2 },
      { id: 'a', score: 0.1 + 0.2 },
      { id: 'c', score: 1 / 3 },
    ],
    q2: { x: -1e-300, y: 5 },
  }
  t.is(formatTrecRun(run, 'mine'), `q1 Q0 c 1 ${1 / 3} mine\nq1 Q0 b 2 ${0.1 + 0.2} mine\nq1 Q0 a 3 ${0.1 + 0.2} mine\nq2 Q0 y 1 5 mine\nq2 Q0 x 2 -1e-300 mine\n`)
  const dir = tmp()
  await writeTrecRun(join(dir, 'r.trec'), run)
  const back = await readTrecRun(join(dir, 'r.trec'))
  t.deepEqual(
    back,
    new Map([
      ['q1', new Map([['c', 1 / 3], ['b', 0.1 + 0.2], ['a', 0.1 + 0.2]])],
      ['q2', new Map([['y', 5], ['x', -1e-300]])],
    ]),
  )
  const qrels = { q1: { a: 1, c: 2 }, q2: { x: 1 } }
  t.deepEqual(evaluate(back, qrels), evaluate(run, qrels))
  writeFileSync(join(dir, 'dup.trec'), 'q Q0 d 1 1 t\nq Q0 d 2 0.5 t\n')
  await t.throwsAsync(readTrecRun(join(dir, 'dup.trec')), { code: 'ERR_SLIMDEX_PARSE', message: /dup\.trec:2: document d appears twice for query q/ })
  writeFileSync(join(dir, 'cols.trec'), 'q Q0 d 1 1\n')
  await t.throwsAsync(readTrecRun(join(dir, 'cols.trec')), { message: /cols\.trec:1: expected 6 columns/ })
  writeFileSync(join(dir, 'nan.trec'), 'q Q0 d 1 abc t\n')
  await t.throwsAsync(readTrecRun(join(dir, 'nan.trec')), { message: /nan\.trec:1: score "abc"/ })
  t.throws(() => formatTrecRun({ 'a b': [] }), { message: /whitespace/ })
})

const MSMARCO = join(DATASETS, 'msmarco-sample')
;(existsSync(MSMARCO) ? test : test.skip)('loadBeir on the real msmarco-sample (no qrels header) and arcd-sample (header, Arabic)', async (t) => {
  const ms = await loadBeir(MSMARCO)
  t.is(ms.corpus.length, 5000)
  t.is(ms.queries.length, 43)
  t.is(ms.qrels.size, 43)
  const lines = readFileSync(join(MSMARCO, 'qrels', 'test.tsv'), 'utf8').trim().split('\n').length
  t.is(
    [...ms.qrels.values()].reduce((a, q) => a + q.size, 0),
    lines,
  )
  const arcd = await loadBeir(join(DATASETS, 'arcd-sample'))
  t.is(arcd.corpus.length, 255)
  t.true(arcd.queries.length > 0 && arcd.queries.every((q) => arcd.qrels.has(q.id)))
  t.true(/[\u0600-\u06ff]/.test(arcd.corpus[0].text))
})
