// Evaluation speed: slimdex `evaluate` against pytrec_eval (trec_eval's C code) on the same real
// runs and qrels, after checking that both give the same values. npm run bench -- eval [--smoke]
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { alternate, benchDir, fmt, loadSlimdex, ratios, stats, writeResults } from './lib/report.mjs'
import { ensureVenv, PyWorker } from './lib/python.mjs'

const PYTREC = 'pytrec_eval-terrier==0.5.11'
const DATASETS = join(benchDir, '..', '..', 'shared', 'datasets')
const FIXTURES = join(benchDir, '..', '__test__', 'fixtures', 'eval')
const METRICS = { 'ndcg@10': 'ndcg_cut_10', 'recall@100': 'recall_100', mrr: 'recip_rank', map: 'map' }
const PY_MEASURES = ['ndcg_cut.10', 'recall.100', 'recip_rank', 'map']

export async function run({ smoke }) {
  const { evaluate, readQrels, readTrecRun } = await loadSlimdex()
  const sets = ['msmarco-sample', 'arcd-sample'].filter((d) => existsSync(join(DATASETS, d, 'qrels', 'test.tsv')))
  if (sets.length === 0) {
    console.log(`eval: skipped, no datasets in ${DATASETS}`)
    return
  }
  const repeat = smoke ? 3 : 200
  const reps = smoke ? 1 : 7
  const python = smoke ? null : ensureVenv([PYTREC])
  const peers = {}
  const rows = []
  const measurements = {}
  for (const name of sets) {
    const qrelsPath = join(DATASETS, name, 'qrels', 'test.tsv')
    const runPath = join(FIXTURES, `${name}.run`)
    const qrels = await readQrels(qrelsPath)
    const trecRun = await readTrecRun(runPath)
    const metrics = Object.keys(METRICS)
    const ours = evaluate(trecRun, qrels, { metrics })
    const docs = [...trecRun.values()].reduce((a, q) => a + q.size, 0)
    const contenders = {
      slimdex: async () => {
        const t = performance.now()
        for (let i = 0; i < repeat; i++) evaluate(trecRun, qrels, { metrics })
        return (performance.now() - t) / 1e3
      },
    }
    let worker = null
    if (python) {
      worker = new PyWorker(python, join(benchDir, 'py', 'pytrec_eval_worker.py'))
      peers.pytrec_eval = (await worker.call({ cmd: 'load', qrels: qrelsPath, run: runPath })).version
      const check = await worker.call({ cmd: 'evaluate', measures: PY_MEASURES, repeat: 1, results: true })
      for (const [qid, values] of Object.entries(check.perQuery)) {
        for (const [m, key] of Object.entries(METRICS)) {
          if (Math.abs(values[key] - ours.perQuery[qid][m]) > 1e-9) throw new Error(`${name}: slimdex and pytrec_eval disagree on ${qid} ${m}`)
        }
      }
      if (Object.keys(check.perQuery).length !== ours.queries) throw new Error(`${name}: different query counts`)
      contenders['pytrec_eval'] = async () => (await worker.call({ cmd: 'evaluate', measures: PY_MEASURES, repeat })).seconds
    } else if (!smoke) {
      peers.pytrec_eval = 'not available (virtualenv or pip install failed)'
    }
    const times = await alternate(contenders, reps)
    worker?.close()
    measurements[name] = { queries: ours.queries, docs, repeat, times, mean: ours.mean }
    for (const [who, ts] of Object.entries(times)) {
      const s = stats(ts)
      const ratio = who === 'slimdex' ? null : ratios(ts, times.slimdex)
      rows.push([
        name,
        who,
        `${ours.queries} × ${Math.round(docs / ours.queries)}`,
        fmt((s.median / repeat) * 1e3, 3),
        `${fmt((s.min / repeat) * 1e3, 3)}–${fmt((s.max / repeat) * 1e3, 3)}`,
        ratio ? `${fmt(ratio.median)}× (${fmt(ratio.min)}–${fmt(ratio.max)})` : '1×',
      ])
    }
  }
  writeResults(
    'eval',
    {
      title: 'evaluate: slimdex vs pytrec_eval',
      data: `real: BM25 runs in __test__/fixtures/eval (scripts/eval_fixture.py) against the qrels of ${sets.map((s) => `../shared/datasets/${s}`).join(' and ')}`,
      peers,
      table: { columns: ['data', 'implementation', 'queries × docs', 'ms per evaluation (median)', 'min–max', 'time vs slimdex'], rows },
      notes: [
        `metrics: ${Object.keys(METRICS).join(', ')} (pytrec_eval ${PY_MEASURES.join(', ')}); values checked equal to 1e-9 per query before timing`,
        `each repetition evaluates the run ${repeat} times; pytrec_eval builds its evaluator each time, as slimdex reads qrels on each call; ${reps} repetitions after a warm-up, alternating`,
        "time vs slimdex: per-repetition ratio of the contender's time to slimdex's (> 1 means slimdex is faster), median (min–max)",
      ],
      measurements,
    },
    { smoke },
  )
}
