// Sparse retrieval: BM25Index vs bm25s (PyPI, numpy backend) on real MS MARCO passages, and
// learned sparse BMP (safe and approximate) vs an exhaustive scan of the same index on a seeded
// synthetic SPLADE-like corpus (Zipf-distributed terms: synthetic, said so in the results).
// The BMP reference (pisa-engine/BMP) needs a nightly toolchain and CIFF input; it is not run here.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rng } from './lib/data.mjs'
import { alternate, fmt, loadSlimdex, ratios, stats, writeResults } from './lib/report.mjs'
import { ensureVenv, PyWorker } from './lib/python.mjs'
import { benchDir } from './lib/report.mjs'

const BM25S = 'bm25s==0.2.14'
const NUMPY = 'numpy==2.2.6'
const SCIPY = 'scipy==1.15.3'
const DATA = process.env.SLIMDEX_DATASETS ?? '/work/shared/datasets'

/** Seeded SPLADE-like docs: ~nnz terms drawn Zipf(1.1)-like from vocab, log-normal-ish weights. */
function spladeLike(n, vocab, nnz, seed) {
  const r = rng(seed).uniform
  const docs = new Array(n)
  for (let i = 0; i < n; i++) {
    const m = new Map()
    const len = Math.max(1, Math.round(nnz * (0.5 + r())))
    while (m.size < len) m.set(Math.min(vocab - 1, Math.floor(Math.pow(vocab, r()) - 1)), 0.05 + 3 * r() * r())
    docs[i] = { id: i, indices: Uint32Array.from(m.keys()), values: Float32Array.from(m.values()) }
  }
  return docs
}

export async function run({ smoke }) {
  const { BM25Index, SparseIndex } = await loadSlimdex()
  const reps = smoke ? 2 : 7
  const rows = []
  const notes = []
  const measurements = {}
  const peers = {}

  // ---- BM25 on msmarco-sample (real text) ----
  const corpusPath = join(DATA, 'msmarco-sample', 'corpus.jsonl')
  const corpus = readFileSync(corpusPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const docs = corpus.map((d) => ({ id: d._id, text: `${d.title ?? ''} ${d.text}` }))
  const queries = readFileSync(join(DATA, 'msmarco-sample', 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text)
  const bm25 = BM25Index.buildSync(docs)
  const mem = bm25.memoryUsage()
  const python = ensureVenv([NUMPY, SCIPY, BM25S])
  let worker = null
  if (python) {
    worker = new PyWorker(python, join(benchDir, 'py', 'bm25s_worker.py'))
    const info = await worker.call({ cmd: 'index', corpus: corpusPath })
    peers.bm25s = info.version
    const qpath = join(mkdtempSync(join(tmpdir(), 'slimdex-sparse-')), 'q.json')
    writeFileSync(qpath, JSON.stringify(queries))
    await worker.call({ cmd: 'queries', path: qpath })
    measurements.bm25sBytes = info.bytes
  } else notes.push('bm25s could not be installed: BM25 rows show slimdex only')
  for (const k of [10, 1000]) {
    const ours = () => {
      const t = process.hrtime.bigint()
      for (const q of queries) bm25.search(q, { k })
      return Number(process.hrtime.bigint() - t) / 1e9
    }
    const contenders = { slimdex: async () => ours() }
    if (worker) {
      const check = await worker.call({ cmd: 'search', k: 10, results: true })
      const mine = queries.map((q) => bm25.search(q, { k: 10 }).map((h) => h.id))
      let same = 0, tot = 0
      check.ids.forEach((ids, qi) => { const s = new Set(mine[qi]); tot += Math.min(10, mine[qi].length); same += ids.map((i) => docs[i].id).filter((x) => s.has(x)).length })
      measurements.top10Agreement = same / tot
      contenders.bm25s = async () => (await worker.call({ cmd: 'search', k })).seconds
    }
    const times = await alternate(contenders, reps)
    const sq = stats(times.slimdex.map((s) => queries.length / s))
    rows.push([`BM25 msmarco-sample (5k docs, real)`, `k=${k}`, 'slimdex', fmt(sq.median), '1.00', fmt((mem.total / bm25.size))])
    if (times.bm25s) {
      const bq = stats(times.bm25s.map((s) => queries.length / s))
      const r = ratios(times.bm25s, times.slimdex)
      rows.push([`BM25 msmarco-sample (5k docs, real)`, `k=${k}`, 'bm25s (numpy)', fmt(bq.median), `${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})`, fmt(measurements.bm25sBytes / bm25.size)])
    }
  }
  worker?.close()

  // ---- learned sparse on synthetic SPLADE-like vectors ----
  const n = smoke ? 20_000 : 1_000_000
  const vocab = 30_000
  const sdocs = spladeLike(n, vocab, 120, 1)
  const squeries = spladeLike(smoke ? 20 : 200, vocab, 20, 2).map(({ indices, values }) => ({ indices, values }))
  const t0 = process.hrtime.bigint()
  const sparse = SparseIndex.buildSync(sdocs, { blockSize: 32 })
  measurements.sparseBuildSeconds = Number(process.hrtime.bigint() - t0) / 1e9
  const smem = sparse.memoryUsage()
  measurements.sparseMemory = smem
  const bmShare = (smem.components.blockMaxDense + smem.components.blockMaxSparse) / smem.components.forward
  for (const k of [10, 1000]) {
    const timeIt = (opts) => () => {
      const t = process.hrtime.bigint()
      for (const q of squeries) sparse.search(q, { k, ...opts })
      return Number(process.hrtime.bigint() - t) / 1e9 / squeries.length
    }
    // Answers first: safe BMP must equal the exhaustive scan.
    for (const q of squeries.slice(0, 5)) {
      if (JSON.stringify(sparse.search(q, { k })) !== JSON.stringify(sparse.search(q, { k, exhaustive: true }))) throw new Error('safe BMP differs from exhaustive')
    }
    const times = await alternate({ bmp: async () => timeIt({})(), exhaustive: async () => timeIt({ exhaustive: true })() }, reps)
    const r = ratios(times.exhaustive, times.bmp)
    rows.push([`learned sparse ${n.toLocaleString('en-US')} docs (synthetic Zipf)`, `k=${k}`, 'BMP safe', `${fmt(stats(times.bmp).median * 1e3, 3)} ms/q`, '1.00', fmt(smem.total / sparse.postings)])
    rows.push([`learned sparse ${n.toLocaleString('en-US')} docs (synthetic Zipf)`, `k=${k}`, 'exhaustive scan', `${fmt(stats(times.exhaustive).median * 1e3, 3)} ms/q`, `${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})`, '—'])
  }
  const exact = squeries.map((q) => sparse.search(q, { k: 10, exhaustive: true }))
  for (const alpha of [0.9, 0.8, 0.7, 0.5]) {
    const t = process.hrtime.bigint()
    const got = squeries.map((q) => sparse.search(q, { k: 10, alpha }))
    const ms = Number(process.hrtime.bigint() - t) / 1e6 / squeries.length
    let hit = 0, tot = 0
    got.forEach((hs, i) => { tot += exact[i].length; hit += hs.filter((h) => exact[i].some((e) => e.id === h.id)).length })
    rows.push([`learned sparse (synthetic)`, 'k=10', `BMP alpha=${alpha}`, `${fmt(ms, 3)} ms/q`, `recall@10 ${fmt(hit / tot, 3)}`, '—'])
  }
  notes.push(`Learned sparse index: ${sparse.postings.toLocaleString('en-US')} postings, ${fmt(smem.total / sparse.postings)} bytes/posting in total; block-max structure = ${fmt(bmShare * 100, 1)} % of the forward index; build ${fmt(measurements.sparseBuildSeconds)} s.`)
  notes.push('Ratio column: peer time / slimdex time (higher = slimdex faster); median and min–max over alternating repetitions. Memory column: bytes per document (BM25) or per posting (sparse).')
  notes.push('BM25 speed is single-query, single-thread on both sides; bm25s scores each query into a dense N-document array.')
  notes.push('The BMP reference (pisa-engine/BMP) was not built (nightly toolchain, CIFF-only input); the exhaustive scan over the same index is the baseline.')
  writeResults('sparse', {
    title: 'Sparse retrieval: BM25 vs bm25s, learned sparse BMP vs exhaustive',
    data: 'msmarco-sample (5,000 real MS MARCO passages, 50 queries) for BM25; seeded synthetic SPLADE-like vectors (Zipf terms over 30k vocabulary, ~120 non-zeros per doc, ~20-term queries) for learned sparse',
    peers,
    table: { columns: ['data', 'k', 'system', 'queries/s or latency', 'ratio vs slimdex', 'memory'], rows },
    notes,
    measurements,
  }, { smoke })
}
