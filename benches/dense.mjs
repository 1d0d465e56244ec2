// Dense compression: PQ (8-bit ADC, 4-bit fast scan), IVF-PQ and scalar storage against
// faiss-cpu on identical data and parameters, single thread: recall@10 against exact L2
// search, queries/s, training time and bytes per vector.
// Data: synthetic seeded clustered Gaussians (1,000 centres, spread 0.6) — 1M × 384 in full
// mode (SLIMDEX_DENSE_N overrides), 5,000 × 384 with --smoke. No real embeddings here.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clustered } from './lib/data.mjs'
import { alternate, fmt, loadSlimdex, ratios, resultsDir, stats, writeResults } from './lib/report.mjs'
import { ensureVenv, PyWorker } from './lib/python.mjs'
import { lineChart } from './lib/svg.mjs'

const FAISS = 'faiss-cpu==1.15.1'
const NUMPY = 'numpy==2.2.6'

function recallAt(results, truth, k) {
  let found = 0
  results.forEach((ids, qi) => {
    const t = new Set(truth[qi].slice(0, k))
    found += ids.slice(0, k).filter((id) => t.has(id)).length
  })
  return found / (k * results.length)
}

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

export async function run({ smoke }) {
  // Single thread on our side too (rayon reads this when its pool starts, at the first call).
  process.env.RAYON_NUM_THREADS = '1'
  const { PQIndex, FlatIndex } = await loadSlimdex()
  const dim = 384
  const n = smoke ? 5_000 : Number(process.env.SLIMDEX_DENSE_N ?? 1_000_000)
  const nq = smoke ? 10 : 100
  const k = 10
  const m = 48
  const lists = smoke ? 16 : Math.max(16, Math.round(Math.sqrt(n)))
  const ntrain = Math.min(n, smoke ? n : 100_000)
  const reps = smoke ? 2 : 5
  const t0 = process.hrtime.bigint()
  const pool = clustered({ n: n + nq, dim, clusters: smoke ? 50 : 1000, spread: 0.6, seed: 31 })
  const data = pool.subarray(0, n * dim)
  const queries = pool.subarray(n * dim)
  const train = data.subarray(0, ntrain * dim)
  console.log(`data ${n} × ${dim} generated in ${fmt(seconds(t0))} s`)

  // Ground truth: exact L2 over float32.
  const exact = new FlatIndex({ dim, metric: 'l2' })
  exact.addSync(undefined, data)
  const truth = exact.searchBatchSync(queries, { k }).map((hits) => hits.map((h) => h.id))

  const peers = {}
  let faiss = null
  const python = ensureVenv([FAISS, NUMPY])
  if (python) {
    const dir = mkdtempSync(join(tmpdir(), 'slimdex-bench-dense-'))
    writeFileSync(join(dir, 'data.f32'), data)
    writeFileSync(join(dir, 'queries.f32'), queries)
    faiss = new PyWorker(python, join(import.meta.dirname, 'py', 'faiss_dense.py'))
    const info = await faiss.call({ cmd: 'load', dim, ntrain, data: join(dir, 'data.f32'), queries: join(dir, 'queries.f32') })
    peers['faiss-cpu'] = info.version
  } else {
    peers['faiss-cpu'] = 'not available (virtualenv or pip install failed)'
  }

  const ourSearch = (index, opts) => () => {
    const out = []
    const t = process.hrtime.bigint()
    for (let qi = 0; qi < nq; qi++) out.push(index.search(queries.subarray(qi * dim, (qi + 1) * dim), { k, ...opts }).map((h) => h.id))
    return { seconds: seconds(t), ids: out }
  }

  const rows = []
  const curves = []
  const measurements = { configs: [] }
  /** Builds one slimdex / faiss pair, checks recall of both, then times them alternately. */
  async function compare(name, ours, theirs, sweeps) {
    const tTrain = process.hrtime.bigint()
    const index = PQIndex.trainSync(train, ours)
    const trainS = seconds(tTrain)
    const tAdd = process.hrtime.bigint()
    index.addSync(undefined, data)
    const addS = seconds(tAdd)
    const bytes = index.shrinkToFit().memoryUsage().total / n
    let fb = null
    if (faiss) fb = await faiss.call({ cmd: 'build', ...theirs })
    const oursCurve = []
    const theirsCurve = []
    for (const sweep of sweeps) {
      const once = ourSearch(index, sweep.ours)
      const ourRecall = recallAt(once().ids, truth, k)
      const contenders = { slimdex: async () => once().seconds }
      let theirRecall = null
      if (faiss) {
        const check = await faiss.call({ cmd: 'search', k, results: true, ...sweep.theirs })
        theirRecall = recallAt(check.ids, truth, k)
        contenders.faiss = async () => (await faiss.call({ cmd: 'search', k, ...sweep.theirs })).seconds
      }
      const times = await alternate(contenders, reps)
      const ourQps = nq / stats(times.slimdex).median
      const theirQps = faiss ? nq / stats(times.faiss).median : null
      const r = faiss ? ratios(times.faiss, times.slimdex) : null
      oursCurve.push([ourRecall, ourQps])
      if (faiss) theirsCurve.push([theirRecall, theirQps])
      rows.push([
        `${name}${sweep.label ? ` ${sweep.label}` : ''}`,
        `${fmt(ourRecall, 3)} / ${faiss ? fmt(theirRecall, 3) : '—'}`,
        `${fmt(ourQps, 0)} / ${faiss ? fmt(theirQps, 0) : '—'}`,
        r ? `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})` : '—',
        `${fmt(trainS, 1)} / ${fb ? fmt(fb.train, 1) : '—'}`,
        `${fmt(bytes, 1)} / ${fb ? fmt(fb.bytesPerVector, 0) : '—'}`,
      ])
      measurements.configs.push({ name, sweep: sweep.label ?? null, ourRecall, theirRecall, times, trainSeconds: { slimdex: trainS, faiss: fb?.train }, addSeconds: { slimdex: addS, faiss: fb?.add }, bytesPerVector: { slimdex: bytes, faiss: fb?.bytesPerVector } })
      console.log(rows[rows.length - 1].join(' | '))
    }
    if (sweeps.length > 1) {
      curves.push({ name: `slimdex ${name}`, points: oursCurve })
      if (faiss) curves.push({ name: `faiss ${name}`, points: theirsCurve })
    }
  }

  await compare('PQ m=48 8-bit (IndexPQ)', { dim, m, nbits: 8 }, { kind: 'pq', m }, [{ ours: {}, theirs: {} }])
  await compare('PQ m=48 4-bit fast scan (IndexPQFastScan)', { dim, m, nbits: 4 }, { kind: 'pqfs', m }, [
    { label: 'exact ADC re-rank', ours: {}, theirs: {} },
    { label: `${4 * k} candidates`, ours: { candidates: 4 * k }, theirs: {} },
  ])
  const probes = smoke ? [1, 4, 16] : [1, 4, 16, 64]
  await compare(
    `IVF${lists} PQ m=48 8-bit (IndexIVFPQ)`,
    { dim, m, nbits: 8, ivf: { lists } },
    { kind: 'ivfpq', m, lists },
    probes.map((p) => ({ label: `nprobe ${p}`, ours: { nprobe: p }, theirs: { nprobe: p } })),
  )

  // Scalar storage: exact search over float16 / float8 / int8 (and Matryoshka-style truncation)
  // against faiss IndexScalarQuantizer fp16 / 8bit.
  const scalarRows = []
  const scalarN = Math.min(n, smoke ? n : 200_000)
  const sData = data.subarray(0, scalarN * dim)
  const sExact = new FlatIndex({ dim, metric: 'l2' })
  sExact.addSync(undefined, sData)
  const sTruth = sExact.searchBatchSync(queries, { k }).map((hits) => hits.map((h) => h.id))
  let sFaiss = null
  if (faiss && scalarN !== n) {
    faiss.close()
    faiss = null
  }
  for (const [storage, truncateTo, peer] of [
    ['float32', undefined, null],
    ['float16', undefined, 'fp16'],
    ['float8', undefined, null],
    ['int8', undefined, '8bit'],
    ['float8', dim / 2, null],
  ]) {
    const index = new FlatIndex({ dim, storage, metric: 'l2', ...(truncateTo ? { truncateTo } : {}) })
    index.addSync(undefined, sData)
    const once = () => {
      const out = []
      const t = process.hrtime.bigint()
      for (let qi = 0; qi < nq; qi++) out.push(index.search(queries.subarray(qi * dim, (qi + 1) * dim), { k }).map((h) => h.id))
      return { seconds: seconds(t), ids: out }
    }
    const recall = recallAt(once().ids, sTruth, k)
    const times = await alternate({ slimdex: async () => once().seconds }, reps)
    const bytes = index.shrinkToFit().memoryUsage().total / scalarN
    let peerCell = '—'
    if (peer && faiss) {
      await faiss.call({ cmd: 'build', kind: 'sq', qtype: peer })
      const check = await faiss.call({ cmd: 'search', k, results: true })
      const fr = recallAt(check.ids, sTruth, k)
      const ft = []
      for (let r = 0; r < reps; r++) ft.push((await faiss.call({ cmd: 'search', k })).seconds)
      peerCell = `SQ ${peer}: recall ${fmt(fr, 3)}, ${fmt(nq / stats(ft).median, 0)} q/s`
    }
    scalarRows.push([`${storage}${truncateTo ? ` truncate ${truncateTo}` : ''}`, fmt(recall, 3), fmt(nq / stats(times.slimdex).median, 0), fmt(bytes, 1), `${fmt((4 * dim) / bytes, 1)}×`, peerCell])
    console.log(scalarRows[scalarRows.length - 1].join(' | '))
  }
  sFaiss = faiss
  sFaiss?.close()
  measurements.scalar = scalarRows

  if (!smoke && curves.length) {
    writeFileSync(
      join(resultsDir, 'dense-ivfpq.svg'),
      lineChart(curves, {
        title: `IVF-PQ: recall@10 vs queries/s (${n.toLocaleString('en-US')} × ${dim}, synthetic, 1 thread)`,
        xLabel: 'recall@10 against exact L2',
        yLabel: 'queries/s (log)',
        logY: true,
      }),
    )
  }

  writeResults(
    'dense',
    {
      title: 'Dense compression: PQ / fast scan / IVF-PQ / scalar storage vs faiss-cpu, single thread',
      data: `synthetic: ${n.toLocaleString('en-US')} × ${dim} seeded clustered Gaussians (seed 31, ${smoke ? 50 : 1000} centres, spread 0.6), ${nq} held-out queries from the same distribution; training on the first ${ntrain.toLocaleString('en-US')} vectors; ground truth = exact L2 top-${k} over float32`,
      peers,
      table: {
        columns: ['configuration', 'recall@10 slimdex / faiss', 'queries/s slimdex / faiss', 'faiss time / slimdex time', 'train s slimdex / faiss', 'bytes/vector slimdex / faiss'],
        rows,
      },
      notes: [
        'one query per call on one thread for both (RAYON_NUM_THREADS=1, faiss.omp_set_num_threads(1)); repetitions alternate; ratio > 1 means slimdex is faster, median (min–max)',
        'the implementations train their own codebooks with the same parameters (k-means 25 iterations, ≤ 256 points per centroid), so results are compared by recall, not id by id',
        'slimdex 4-bit fast scan re-ranks by default with the float ADC table so its result is exactly the 4-bit ADC top-k; faiss IndexPQFastScan returns its quantized-table order (no refine)',
        `bytes/vector: slimdex memoryUsage().total / n (codes + sequential ids + list ids + codebooks amortised); faiss: sa_code_size (+ 8-byte ids in inverted lists); float32 = ${4 * dim} bytes`,
        `scalar storage (exact search over the stored form, ${scalarN.toLocaleString('en-US')} vectors, L2): ` +
          scalarRows.map((r) => `${r[0]}: recall ${r[1]}, ${r[2]} q/s, ${r[3]} B/vector (${r[4]} smaller)${r[5] !== '—' ? `; faiss ${r[5]}` : ''}`).join(' · '),
        'truncation on synthetic (not Matryoshka-trained) data shows the cost of dropping dimensions with no MRL training; real MRL embeddings were not measured here',
        smoke ? 'smoke run: tiny data, numbers are not meaningful' : 'chart: dense-ivfpq.svg',
      ],
      measurements,
    },
    { smoke },
  )
}
