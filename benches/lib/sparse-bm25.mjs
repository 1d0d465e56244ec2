// The BM25 section of benches/sparse.mjs: slimdex's BM25Index (per query: `search`; batch:
// `searchColumnsSync`, typed-array results) vs bm25s (PyPI, NumPy and numba backends, per query
// and batch `retrieve`, query tokenization included on both sides), single thread, side by
// side; and vs the npm BM25 libraries (minisearch, wink-bm25-text-search, @orama/orama) per
// query. Answers are checked before any speed is reported: searchColumns = search, BMP =
// exhaustive, nDCG@10 equal to bm25s's (±0.005) on real data, top-k overlap and scores.
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rng, zipfSampler } from './data.mjs'
import { ensureNpmPeers } from './npm-peers.mjs'
import { PyWorker, ensureVenv } from './python.mjs'
import { alternate, benchDir, fmt, ratios, stats } from './report.mjs'

const BM25S = 'bm25s==0.2.14'
const NUMPY = 'numpy==2.2.6'
const NUMBA = 'numba==0.68.1'
const NPM_PEERS = ['minisearch@7.1.2', 'wink-bm25-text-search@3.1.2', '@orama/orama@3.1.18']

/** Seeded Zipfian "text": words w0, w1, … with P(rank r) ∝ 1/(r+1). */
export function zipfTexts(n, { vocab, minWords, maxWords, seed }) {
  const r = rng(seed)
  const draw = zipfSampler(r, vocab)
  return Array.from({ length: n }, () => {
    const len = minWords + r.below(maxWords - minWords + 1)
    return Array.from({ length: len }, () => `w${draw()}`).join(' ')
  })
}

function loadMsmarco() {
  const dir = join(benchDir, '..', '..', 'shared', 'datasets', 'msmarco-sample')
  if (!existsSync(dir)) return null
  const read = (f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const corpus = read('corpus.jsonl')
  const qrels = {}
  for (const l of readFileSync(join(dir, 'qrels', 'test.tsv'), 'utf8').trim().split('\n')) {
    const [q, d, rel] = l.split('\t')
    if (rel === undefined || Number.isNaN(Number(rel))) continue // header
    ;(qrels[q] ??= {})[d] = Number(rel)
  }
  const judged = read('queries.jsonl').filter((q) => qrels[q._id])
  return { texts: corpus.map((d) => `${d.title ?? ''} ${d.text}`), ids: corpus.map((d) => d._id), queries: judged.map((q) => q.text), queryIds: judged.map((q) => q._id), qrels }
}

/** bm25s's tokenizer in JS (lowercase, \b\w\w+\b, its 33 English stop words), for wink. */
const STOP = new Set('a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(' '))
const tokenize = (t) => (t.toLowerCase().match(/\b\w\w+\b/gu) ?? []).filter((w) => !STOP.has(w))

/** The npm peers' build and per-query search, each behind the same small interface. */
const NPM_ENGINES = {
  minisearch: (req, docs) => {
    const mod = req('minisearch')
    const MiniSearch = mod.default ?? mod
    const ms = new MiniSearch({ fields: ['text'], idField: 'id' })
    ms.addAll(docs)
    return (q, k) => ms.search(q).slice(0, k).map((h) => h.id)
  },
  'wink-bm25-text-search': (req, docs) => {
    const engine = req('wink-bm25-text-search')()
    engine.defineConfig({ fldWeights: { text: 1 }, bm25Params: { k1: 1.5, b: 0.75, k: 1 } })
    engine.definePrepTasks([tokenize])
    for (const d of docs) engine.addDoc({ text: d.text }, d.id)
    engine.consolidate(4)
    return (q, k) => engine.search(q, k).map((h) => Number(h[0]))
  },
  '@orama/orama': (req, docs) => {
    const orama = req('@orama/orama')
    const db = orama.create({ schema: { text: 'string' } })
    orama.insertMultiple(db, docs.map((d) => ({ id: String(d.id), text: d.text })), 10_000)
    return (q, k) => orama.search(db, { term: q, properties: ['text'], limit: k, relevance: { k: 1.5, b: 0.75, d: 0.5 } }).hits.map((h) => Number(h.id))
  },
}

function heapNow() {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

/** nDCG@10 of runs given as per-query lists of corpus positions, with their scores. */
function ndcg10(slimdex, corpus, lists, scores) {
  const run = {}
  lists.forEach((docs, i) => {
    const qid = corpus.queryIds[i]
    if (!qid) return
    run[qid] = {}
    docs.forEach((d, j) => {
      // Rank order is what counts: a strictly decreasing pseudo-score when none is given.
      run[qid][corpus.ids[d]] = scores ? scores[i][j] : docs.length - j
    })
  })
  return slimdex.evaluate(run, corpus.qrels, { metrics: ['ndcg@10'] }).mean['ndcg@10']
}

const speedRow = (corpus, k, form, name, nq, ts, base, bytes) => {
  const st = stats(ts)
  const r = base ? ratios(ts, base) : null
  return [corpus, String(k), form, name, fmt(nq / st.median, 0), fmt((st.median / nq) * 1e6, 1), r ? `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})` : '1×', bytes]
}

/**
 * Runs the BM25 section; returns `{ rows, columns, dataNote }` and fills `notes`, `peers`,
 * `measurements`. The synthetic sizes: 100k and 1M documents (SLIMDEX_BM25_MAX_DOCS caps them).
 */
export async function bm25Section({ slimdex, smoke, reps, notes, peers, measurements }) {
  const { BM25Index } = slimdex
  const rows = []
  const python = smoke ? null : ensureVenv([BM25S, NUMPY])
  const withNumba = python ? ensureVenv([BM25S, NUMPY, NUMBA]) : null
  const npmPeers = smoke ? null : ensureNpmPeers(NPM_PEERS)
  peers['pure JS'] = `Node ${process.version}`
  if (!smoke && !python) notes.push('bm25s could not be installed into the bench venv: its rows are missing')
  if (python && !withNumba) notes.push('numba did not install: the bm25s numba backend is not measured')
  if (!smoke && !npmPeers) notes.push(`the npm peers (${NPM_PEERS.join(', ')}) could not be installed: their rows are missing`)

  const corpora = []
  const real = loadMsmarco()
  if (real) corpora.push({ name: 'msmarco-sample (real)', ...real, repeat: smoke ? 2 : 20, npm: true })
  const synQueries = zipfTexts(smoke ? 50 : 200, { vocab: 100_000, minWords: 2, maxWords: 5, seed: 8 })
  const maxDocs = process.env.SLIMDEX_BM25_MAX_DOCS === undefined ? Infinity : Number(process.env.SLIMDEX_BM25_MAX_DOCS)
  // SLIMDEX_BM25_SIZES (comma-separated document counts) replaces the default synthetic sizes.
  const sizes = process.env.SLIMDEX_BM25_SIZES ? process.env.SLIMDEX_BM25_SIZES.split(',').map(Number) : [100_000, 1_000_000]
  if (sizes.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`SLIMDEX_BM25_SIZES must list positive integers (got ${process.env.SLIMDEX_BM25_SIZES})`)
  for (const nSyn of (smoke ? [20_000] : sizes).filter((x) => x <= maxDocs)) {
    const big = nSyn >= 1_000_000
    corpora.push({
      name: `Zipf ${nSyn.toLocaleString('en-US')} docs (synthetic)`,
      n: nSyn,
      queries: big ? synQueries.slice(0, 100) : synQueries,
      repeat: 1,
      // The npm libraries need minutes and GBs of heap at 10⁶ documents; SLIMDEX_BM25_NPM_SYNTHETIC=1
      // runs them on the smaller synthetic corpora (one of them did not finish building 100k
      // documents in 15 minutes here, spinning in Array.prototype.includes).
      npm: !big && process.env.SLIMDEX_BM25_NPM_SYNTHETIC === '1',
      reps: big ? 3 : reps,
    })
  }
  if (maxDocs < 1_000_000 && !smoke) notes.push(`SLIMDEX_BM25_MAX_DOCS=${maxDocs}: the synthetic corpora above that size were not run`)

  for (const corpus of corpora) {
    console.error(`[bm25] ${corpus.name}: building (${new Date().toISOString()})`)
    const texts = corpus.texts ?? zipfTexts(corpus.n, { vocab: 100_000, minWords: 20, maxWords: 60, seed: 7 })
    const n = texts.length
    const docs = texts.map((text, i) => ({ id: i, text }))
    let t = performance.now()
    let index = await BM25Index.build(docs)
    const buildSeconds = (performance.now() - t) / 1000
    const queries = Array.from({ length: corpus.repeat }, () => corpus.queries).flat()
    const nq = queries.length
    const bytesPerDoc = fmt(index.memoryUsage().total / n, 0)
    const m = (measurements[`${corpus.name} BM25`] = { n, queries: nq, buildSeconds, bytesPerDoc: index.memoryUsage().total / n })
    let worker = null
    let numba = false
    let bm25sBytes = '—'
    if (python) {
      const dir = mkdtempSync(join(tmpdir(), 'slimdex-bm25s-'))
      writeFileSync(join(dir, 'corpus.jsonl'), texts.map((x) => JSON.stringify(x)).join('\n') + '\n')
      writeFileSync(join(dir, 'queries.json'), JSON.stringify(queries))
      worker = new PyWorker(withNumba ?? python, join(benchDir, 'py', 'bm25s_worker.py'))
      try {
        const loaded = await worker.call({ cmd: 'load', corpus: join(dir, 'corpus.jsonl'), queries: join(dir, 'queries.json') })
        numba = Boolean(loaded.numba)
        peers.bm25s = `${loaded.version} (NumPy ${loaded.numpy}${numba ? `; numba ${loaded.numba}` : ''})`
        m.bm25s = loaded
        bm25sBytes = `${fmt((loaded.rssGrowthMB * 2 ** 20) / n, 0)} (RSS growth)`
      } catch (e) {
        notes.push(`bm25s could not run on ${corpus.name} (${e.message}); its rows are missing`)
        worker.close()
        worker = null
      }
      rmSync(dir, { recursive: true, force: true })
    }

    for (const k of [10, 1000]) {
      if (k > n) continue
      // Answers first. searchColumns equals search; BMP equals the exhaustive scan.
      const ours = corpus.queries.map((q) => index.search(q, { k }))
      const cols = index.searchColumnsSync(corpus.queries, { k, threads: 1 })
      ours.forEach((hits, i) => {
        const ids = cols.ids(i)
        const scores = cols.scores.subarray(cols.offsets[i], cols.offsets[i + 1])
        if (ids.length !== hits.length || hits.some((h, j) => h.id !== ids[j] || h.score !== scores[j])) throw new Error(`${corpus.name}: searchColumns differs from search on query ${i}`)
        if (JSON.stringify(hits) !== JSON.stringify(index.search(corpus.queries[i], { k, exhaustive: true }))) throw new Error(`${corpus.name}: BMP and exhaustive results differ on query ${i}`)
      })
      const check = { bmpEqualsExhaustive: true, columnsEqualSearch: true }
      if (corpus.qrels) check.ndcg10 = ndcg10(slimdex, corpus, ours.map((h) => h.map((x) => x.id)), ours.map((h) => h.map((x) => x.score)))
      if (worker) {
        const theirs = await worker.call({ cmd: 'search', k, results: true, limit: corpus.queries.length })
        let hit = 0
        let total = 0
        let maxRel = 0
        ours.forEach((hits, i) => {
          const want = new Set(theirs.ids[i].slice(0, hits.length))
          total += hits.length
          hit += hits.filter((h) => want.has(h.id)).length
          // Same score sequence (ties may order differently, the scores cannot).
          hits.forEach((h, j) => (maxRel = Math.max(maxRel, Math.abs(h.score - theirs.scores[i][j]) / Math.max(1e-9, Math.abs(h.score)))))
        })
        check.overlapWithBm25s = hit / total
        check.maxRelScoreDiff = maxRel
        if (corpus.qrels) {
          // bm25s pads with zero scores when fewer than k documents match: drop those.
          const lists = theirs.ids.map((ids, i) => ids.filter((_, j) => theirs.scores[i][j] > 0))
          const sc = theirs.scores.map((s) => s.filter((x) => x > 0))
          check.bm25sNdcg10 = ndcg10(slimdex, corpus, lists, sc)
          if (Math.abs(check.bm25sNdcg10 - check.ndcg10) > 0.005) throw new Error(`${corpus.name}: nDCG@10 ${check.ndcg10} differs from bm25s's ${check.bm25sNdcg10} by more than 0.005`)
        }
        if (maxRel > 1e-4) throw new Error(`${corpus.name}, k = ${k}: scores differ from bm25s's (max relative difference ${maxRel})`)
      }
      m[`k=${k} check`] = check
      notes.push(`${corpus.name}, k = ${k}: searchColumns = search and BMP = exhaustive on every query${check.overlapWithBm25s === undefined ? '' : `; top-k overlap with bm25s ${fmt(check.overlapWithBm25s * 100, 1)}% (the rest are ties ordered differently), scores within ${check.maxRelScoreDiff.toExponential(1)} relative`}${check.ndcg10 === undefined ? '' : `; nDCG@10 ${fmt(check.ndcg10, 4)} slimdex${check.bm25sNdcg10 === undefined ? '' : `, ${fmt(check.bm25sNdcg10, 4)} bm25s`}`}`)

      // Per query: one call per query on each side (slimdex `search`, bm25s tokenize + retrieve).
      const perQuery = {
        'slimdex search': async () => {
          const s = performance.now()
          for (const q of queries) index.search(q, { k })
          return (performance.now() - s) / 1000
        },
      }
      if (worker) perQuery.bm25s = async () => (await worker.call({ cmd: 'search', k, form: 'query' })).seconds
      if (worker && numba) perQuery['bm25s numba'] = async () => (await worker.call({ cmd: 'search', k, form: 'query', backend: 'numba' })).seconds
      // Batch: all queries in one call (slimdex searchColumnsSync on one thread; bm25s tokenize(all) + retrieve(all)).
      const batch = {
        'slimdex searchColumns': async () => {
          const s = performance.now()
          index.searchColumnsSync(queries, { k, threads: 1 })
          return (performance.now() - s) / 1000
        },
        'slimdex searchColumns exhaustive': async () => {
          const s = performance.now()
          index.searchColumnsSync(queries, { k, threads: 1, exhaustive: true })
          return (performance.now() - s) / 1000
        },
        'slimdex searchBatch (objects)': async () => {
          const s = performance.now()
          index.searchBatchSync(queries, { k, threads: 1 })
          return (performance.now() - s) / 1000
        },
      }
      if (worker) batch.bm25s = async () => (await worker.call({ cmd: 'search', k })).seconds
      if (worker && numba) batch['bm25s numba'] = async () => (await worker.call({ cmd: 'search', k, backend: 'numba' })).seconds
      const r = corpus.reps ?? reps
      console.error(`[bm25] ${corpus.name}, k = ${k}: timing (${new Date().toISOString()})`)
      const tq = await alternate(perQuery, r)
      const tb = await alternate(batch, r)
      for (const [name, ts] of Object.entries(tq)) rows.push(speedRow(corpus.name, k, 'per query', name, nq, ts, name === 'slimdex search' ? null : tq['slimdex search'], name.startsWith('slimdex') ? bytesPerDoc : bm25sBytes))
      for (const [name, ts] of Object.entries(tb)) rows.push(speedRow(corpus.name, k, 'batch', name, nq, ts, name === 'slimdex searchColumns' ? null : tb['slimdex searchColumns'], name.startsWith('slimdex') ? bytesPerDoc : bm25sBytes))
      m[`k=${k} times`] = { perQuery: tq, batch: tb }
    }
    worker?.close()

    // The npm libraries, per query (they have no batch form), alternating with slimdex `search`.
    if (npmPeers && corpus.npm) {
      // Fewer queries on the synthetic corpus: @orama/orama takes ~0.5 s per query at 100k documents.
      const sample = corpus.queries.slice(0, Math.min(corpus.queries.length, corpus.qrels ? 50 : 20))
      const built = {}
      for (const [name, make] of Object.entries(NPM_ENGINES)) {
        peers[name] = npmPeers.versions[name]
        const heap0 = heapNow()
        t = performance.now()
        let search
        try {
          search = make(npmPeers.require, docs)
        } catch (e) {
          notes.push(`${name} failed on ${corpus.name} (${e.message})`)
          continue
        }
        const seconds = (performance.now() - t) / 1000
        built[name] = { search, seconds, bytesPerDoc: (heapNow() - heap0) / n }
        if (corpus.qrels) built[name].ndcg10 = ndcg10(slimdex, corpus, corpus.queries.map((q) => search(q, 10)))
        // Dropping the engine's own reference here would free its heap before the next one is
        // measured; each keeps only its search closure (the index it holds) until the end.
      }
      for (const k of [10, 1000]) {
        const contenders = {
          'slimdex search': async () => {
            const s = performance.now()
            for (const q of sample) index.search(q, { k })
            return (performance.now() - s) / 1000
          },
        }
        for (const [name, b] of Object.entries(built)) {
          contenders[name] = async () => {
            const s = performance.now()
            for (const q of sample) b.search(q, k)
            return (performance.now() - s) / 1000
          }
        }
        const ts = await alternate(contenders, Math.min(reps, 3))
        for (const [name, b] of Object.entries(built)) rows.push(speedRow(corpus.name, k, 'per query', name, sample.length, ts[name], ts['slimdex search'], `${fmt(b.bytesPerDoc, 0)} (heap growth)`))
        m[`npm k=${k} times`] = ts
      }
      m.npm = Object.fromEntries(Object.entries(built).map(([name, b]) => [name, { buildSeconds: b.seconds, bytesPerDoc: b.bytesPerDoc, ndcg10: b.ndcg10 }]))
      notes.push(`${corpus.name}: build ${fmt(buildSeconds)} s slimdex${m.bm25s ? `, ${fmt(m.bm25s.indexSeconds)} s bm25s` : ''}, ${Object.entries(built).map(([name, b]) => `${fmt(b.seconds)} s ${name}`).join(', ')}${corpus.qrels ? `; nDCG@10 of the npm libraries with their own tokenizers and scoring: ${Object.entries(built).map(([name, b]) => `${name} ${fmt(b.ndcg10, 4)}`).join(', ')}` : ''}`)
    } else {
      notes.push(`${corpus.name}: build ${fmt(buildSeconds)} s slimdex${m.bm25s ? `, ${fmt(m.bm25s.indexSeconds)} s bm25s` : ''}${corpus.npm ? '' : '; the npm libraries were not run on this corpus'}`)
    }
    index = null
  }
  return {
    columns: ['corpus', 'k', 'form', 'engine', 'queries/s', 'µs/query', 'its time / slimdex (median, min–max)', 'bytes/doc'],
    rows,
    dataNote: `msmarco-sample (real: 5,000 passages, 43 judged queries, repeated 20× to time them) and seeded synthetic Zipf text (${corpora.filter((c) => c.n).map((c) => c.n.toLocaleString('en-US')).join(' and ') || 'no'} documents of 20–60 words over 100,000 words, P(rank r) ∝ 1/(r+1), seed 7; 2–5-word queries, seed 8)`,
  }
}
