// BM25 with block-max pruning vs bm25s (PyPI, NumPy and numba backends) and the npm BM25
// libraries (lib/sparse-bm25.mjs), single thread, side by side in one run; learned sparse
// (synthetic SPLADE-like corpora) vs the BMP reference (PyPI `bmp`, pisa-engine/BMP) on the same CIFF-exported index, and vs our
// exhaustive scan. Python peers that cannot be installed or started become notes.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PyWorker, cacheDir, ensureVenv } from './lib/python.mjs'
import { alternate, benchDir, fmt, loadSlimdex, ratios, resultsDir, stats, writeResults } from './lib/report.mjs'
import { bm25Section } from './lib/sparse-bm25.mjs'
import { TOPIC_DEFAULTS, cachedCorpus, ciffDocOrder, iidCorpus, permuteRows, rowsOf, topicMixture } from './lib/sparse-data.mjs'

const BMP = 'bmp==0.2.8'

/** Starts a Python worker and runs `first` on it; a peer that fails becomes a note (null). */
async function startWorker(python, script, first, notes, what) {
  if (!python) return null
  const worker = new PyWorker(python, join(benchDir, 'py', script))
  try {
    return { worker, reply: await worker.call(first) }
  } catch (e) {
    notes.push(`${what} could not run (${e.message}); its rows are missing`)
    worker.close()
    return null
  }
}

// SLIMDEX_SPARSE_PART=bm25 (or =learned) runs one of the two sections and keeps the other's
// tables, notes and peers from the previous results file (benches/results/sparse.json).
export async function run({ smoke }) {
  const slimdex = await loadSlimdex()
  const part = process.env.SLIMDEX_SPARSE_PART ?? 'all'
  if (!['all', 'bm25', 'learned'].includes(part)) throw new Error(`SLIMDEX_SPARSE_PART must be bm25, learned or all (got ${part})`)
  const reps = smoke ? 2 : 5
  const previous = part !== 'all' && existsSync(join(resultsDir, `sparse${smoke ? '.smoke' : ''}.json`)) ? JSON.parse(readFileSync(join(resultsDir, `sparse${smoke ? '.smoke' : ''}.json`), 'utf8')) : null
  if (part !== 'all' && !previous) throw new Error(`SLIMDEX_SPARSE_PART=${part} needs a previous benches/results/sparse.json to merge into`)

  let bm25
  if (part === 'learned') {
    bm25 = previous.measurements.bm25Section
  } else {
    const notes = []
    const peers = {}
    const measurements = {}
    const r = await bm25Section({ slimdex, smoke, reps, notes, peers, measurements })
    bm25 = { table: { columns: r.columns, rows: r.rows }, dataNote: r.dataNote, notes, peers, measurements, date: new Date().toISOString() }
  }
  let ls
  if (part === 'bm25') {
    ls = previous.measurements.learnedSection ?? legacyLearned(previous)
  } else {
    const notes = []
    const peers = {}
    const measurements = {}
    const r = await learnedSparseSection({ slimdex, smoke, reps, notes, peers, measurements })
    ls = { tables: r.tables, dataNote: r.dataNote, notes, peers, measurements, date: new Date().toISOString() }
  }
  const merged = part === 'all' ? '' : `; this file merges a ${part === 'bm25' ? 'BM25' : 'learned-sparse'} run (${part === 'bm25' ? bm25.date : ls.date}) with the other section from the run of ${part === 'bm25' ? ls.date : bm25.date}`

  writeResults(
    'sparse',
    {
      title: 'BM25 and learned sparse: block-max pruning vs bm25s, the npm libraries, the BMP reference and an exhaustive scan, single thread',
      data: `BM25: ${bm25.dataNote}; learned sparse: SPLADE-like vectors, ${ls.dataNote}${merged}`,
      peers: { ...bm25.peers, ...ls.peers },
      table: bm25.table,
      tables: ls.tables,
      notes: [...bm25.notes, ...ls.notes],
      measurements: { bm25Section: bm25, learnedSection: ls },
    },
    { smoke },
  )
}

/** The learned-sparse part of a results file written before the two sections were kept apart. */
function legacyLearned(prev) {
  const first = prev.notes.findIndex((n) => n.startsWith('topical corpus'))
  const bm25Peers = ['pure JS', 'bm25s', 'minisearch']
  return {
    tables: prev.tables,
    dataNote: (prev.data.match(/SPLADE-like vectors: ([^)]*)\)/) ?? [null, 'see the tables'])[1],
    notes: first < 0 ? [] : prev.notes.slice(first),
    peers: Object.fromEntries(Object.entries(prev.peers).filter(([k]) => !bm25Peers.includes(k))),
    measurements: Object.fromEntries(Object.entries(prev.measurements).filter(([k]) => !k.startsWith('msmarco') && !k.startsWith('Zipf'))),
    date: prev.machine?.date,
  }
}

const ALPHAS = [1, 0.95, 0.9, 0.8, 0.7, 0.6]

/** Mean seconds per query of `search(q)` over `queries`, as a contender for `alternate`. */
const perQuery = (queries, search) => async () => {
  const s = performance.now()
  for (const q of queries) search(q)
  return (performance.now() - s) / 1000 / queries.length
}

/** Fraction of the exact top-k ids that `got` finds. */
function recall(got, exact) {
  let hit = 0
  let total = 0
  got.forEach((hits, i) => {
    const want = new Set(exact[i].map((h) => Number(h.id)))
    total += want.size
    hit += hits.filter((h) => want.has(Number(h.id))).length
  })
  return total ? hit / total : 1
}

/**
 * Safe results compared with the reference's: identical score sequences, and identical ids
 * wherever a score is above the k-th one (documents tied at the k-th score may differ).
 */
function compareTopK(ours, ids, scores) {
  let same = 0
  let shorter = 0
  const differ = []
  ours.forEach((hits, i) => {
    const a = hits.map((h) => h.score)
    const b = scores[i]
    if (b.length < a.length) shorter++
    let ok = a.length === b.length && a.every((x, j) => x === b[j])
    if (ok && a.length) {
      const last = a[a.length - 1]
      const mine = new Set(hits.filter((h) => h.score > last).map((h) => Number(h.id)))
      const theirs = ids[i].filter((_, j) => b[j] > last)
      ok = theirs.length === mine.size && theirs.every((x) => mine.has(x))
    }
    if (ok) same++
    else if (differ.length < 5) differ.push(i)
  })
  return { same, total: ours.length, shorter, differ }
}

function indexSize(index) {
  const mem = index.memoryUsage().components
  const blockMax = (mem.blockMaxDense ?? 0) + (mem.blockMaxSparse ?? 0)
  const p = index.postings
  return { forward: mem.forward, blockMax, kth: mem.kthImpacts ?? 0, postings: p, bytesPerPosting: (mem.forward + blockMax + (mem.kthImpacts ?? 0)) / p, share: blockMax / mem.forward, totalOverForward: (mem.forward + blockMax + (mem.kthImpacts ?? 0)) / mem.forward }
}

/**
 * Learned sparse on seeded synthetic SPLADE-like corpora (benches/lib/sparse-data.mjs):
 * topical (topic mixture) with and without BP reordering, and the earlier i.i.d. corpus; safe
 * BMP vs our exhaustive scan, the alpha curve, index size, and the BMP reference on the same
 * (CIFF-exported, BP-ordered) index.
 */
async function learnedSparseSection({ slimdex, smoke, reps, notes, peers, measurements }) {
  const { SparseIndex } = slimdex
  const n = smoke ? 5_000 : Math.min(1_000_000, Number(process.env.SLIMDEX_SPARSE_DOCS) || Infinity)
  const nQueries = smoke ? 20 : 200
  const nExhaustive = smoke ? 5 : 40
  const dir = join(cacheDir, 'sparse-data')
  mkdirSync(dir, { recursive: true })
  const N = n.toLocaleString('en-US')
  const tables = []
  const vsExhaustive = []
  const sizeRows = []
  const out = {}

  // One index per corpus/order; quantization scale 1: the generated impacts are bytes already.
  // `bpCache`: BP over 10⁶ documents takes many minutes on 2 cores, so its order is computed
  // once (by SparseIndex itself, reorder: 'bp'), kept as a CIFF file in the cache, and later
  // runs build the index over the rows in that order (ids unchanged).
  const runCorpus = async (label, corpus, reorder, bpCache = null) => {
    let index
    let buildSeconds
    let cachedOrder = false
    if (reorder === 'bp' && bpCache && existsSync(bpCache.ciff) && existsSync(bpCache.meta)) {
      const order = ciffDocOrder(readFileSync(bpCache.ciff))
      index = await SparseIndex.build(rowsOf(permuteRows(corpus.docs, order), { idOf: order }), { blockSize: 32, quantization: { scale: 1 } })
      buildSeconds = JSON.parse(readFileSync(bpCache.meta, 'utf8')).buildSeconds
      cachedOrder = true
    } else {
      const t = performance.now()
      index = await SparseIndex.build(rowsOf(corpus.docs), { blockSize: 32, quantization: { scale: 1 }, reorder })
      buildSeconds = (performance.now() - t) / 1000
      if (reorder === 'bp' && bpCache) {
        writeFileSync(bpCache.ciff, index.toCiff('bp order'))
        writeFileSync(bpCache.meta, JSON.stringify({ buildSeconds, date: new Date().toISOString() }))
      }
    }
    const queries = rowsOf(corpus.queries, { ids: false })
    const few = queries.slice(0, nExhaustive)
    // Answers first: safe BMP equals the exhaustive scan, ties included.
    for (const k of [10, 1000]) {
      for (const q of few) {
        if (JSON.stringify(index.search(q, { k })) !== JSON.stringify(index.search(q, { k, exhaustive: true }))) throw new Error(`${label}: safe BMP and exhaustive results differ at k = ${k}`)
      }
    }
    const times = await alternate({ 'BMP safe': perQuery(queries, (q) => index.search(q, { k: 10 })), exhaustive: perQuery(few, (q) => index.search(q, { k: 10, exhaustive: true })) }, reps)
    const r = ratios(times.exhaustive, times['BMP safe'])
    const size = indexSize(index)
    vsExhaustive.push([label, reorder, fmt(stats(times['BMP safe']).median * 1e6, 0), fmt(stats(times.exhaustive).median * 1e6, 0), `${fmt(r.median, 1)}× (${fmt(r.min, 1)}–${fmt(r.max, 1)})`, `${fmt(buildSeconds, 1)}${cachedOrder ? ' (BP order from the cache)' : ''}`])
    sizeRows.push([label, reorder, fmt(size.bytesPerPosting), fmt(size.forward / size.postings), fmt(size.blockMax / size.postings), `${fmt(size.share * 100, 0)}%`, `${fmt(size.totalOverForward)}×`])
    measurements[`learned sparse ${label} ${reorder}`] = { buildSeconds, cachedOrder, times, size }
    return { index, queries, buildSeconds }
  }

  const t0 = performance.now()
  const topical = cachedCorpus(dir, `topics-v1-n${n}-q${nQueries}-s21`, () => topicMixture({ n, nQueries, seed: 21 }))
  notes.push(`topical corpus ${topical.cached ? 'read from the cache' : 'generated'} in ${fmt((performance.now() - t0) / 1000, 1)} s: ${N} docs, ${fmt(topical.docs.terms.length / n, 1)} non-zeros per doc on average, ${nQueries} queries of ${TOPIC_DEFAULTS.queryTerms} terms; generator parameters ${JSON.stringify(topical.params)}`)
  const topicalLabel = `topical ${N} docs (synthetic)`
  const plain = await runCorpus(topicalLabel, topical, 'none')
  const topicalKey = `topics-v1-n${n}-q${nQueries}-s21`
  const bpCache = smoke ? null : { ciff: join(dir, `${topicalKey}.bp-v2.ciff`), meta: join(dir, `${topicalKey}.bp-v2.json`) }
  // BP at 10⁶ documents runs for tens of minutes on this 2-core machine: in a suite run it is
  // used only from the cache (fill it once with SLIMDEX_SPARSE_BP=1).
  const canBp = n <= 200_000 || (bpCache && existsSync(bpCache.meta)) || process.env.SLIMDEX_SPARSE_BP === '1'
  let bp = null
  if (canBp) {
    bp = await runCorpus(topicalLabel, topical, 'bp', bpCache)
    plain.index = null
  } else {
    notes.push(`BP order for the ${N}-document topical corpus is not in the cache (${bpCache.ciff}); BP at this size takes tens of minutes on 2 cores, so this run compares the input order only (run once with SLIMDEX_SPARSE_BP=1 to fill the cache)`)
  }
  const main = bp ?? plain
  const mainOrder = bp ? 'BP order' : 'input order'

  // Recall/latency over alpha (ours), k = 10, main order.
  const exact10 = main.queries.map((q) => main.index.search(q, { k: 10 }))
  const exact1000 = main.queries.map((q) => main.index.search(q, { k: 1000 }))
  const alphaTimes = await alternate(Object.fromEntries(ALPHAS.map((a) => [`alpha ${a}`, perQuery(main.queries, (q) => main.index.search(q, { k: 10, alpha: a }))])), Math.min(reps, 3))
  const alphaRecall = Object.fromEntries(ALPHAS.map((a) => [a, recall(main.queries.map((q) => main.index.search(q, { k: 10, alpha: a })), exact10)]))

  // The BMP reference on the same index: our BP-ordered index exported as CIFF, then ciff2bmp.
  const bmpPython = smoke ? null : ensureVenv([BMP])
  if (!smoke && !bmpPython) notes.push(`the BMP reference (${BMP}) could not be installed into the bench venv: no reference rows`)
  let ref = null
  if (bmpPython) {
    // Keyed by content: the reference's index must hold exactly this docid order.
    const ciffBytes = main.index.toCiff(bp ? 'bp order' : 'input order')
    const key = `topics-v1-n${n}-q${nQueries}-s21-${bp ? 'bp' : 'input'}-${createHash('sha256').update(ciffBytes).digest('hex').slice(0, 16)}`
    const ciff = join(dir, `${key}.ciff`)
    if (!existsSync(ciff)) writeFileSync(ciff, ciffBytes)
    const qfile = join(dir, `${key}.queries.json`)
    writeFileSync(qfile, JSON.stringify(main.queries.map((q) => [Array.from(q.indices), Array.from(q.values)])))
    const started = await startWorker(bmpPython, 'bmp_worker.py', { cmd: 'build', ciff, index: join(dir, `${key}.b32.bmp`), bsize: 32 }, notes, 'the BMP reference')
    if (started) {
      const { worker } = started
      try {
        const loaded = await worker.call({ cmd: 'load', index: join(dir, `${key}.b32.bmp`), queries: qfile })
        peers['BMP reference'] = `bmp ${loaded.version} (PyPI, pisa-engine/BMP)`
        measurements['BMP reference index'] = { build: started.reply, load: loaded }
        ref = { worker, loaded, build: started.reply }
      } catch (e) {
        notes.push(`the BMP reference could not load its index (${e.message})`)
        worker.close()
      }
    }
  }
  if (ref) {
    const rows = []
    const check = {}
    for (const [k, exact] of [
      [10, exact10],
      [1000, exact1000],
    ]) {
      const theirs = await ref.worker.call({ cmd: 'search', k, results: true })
      check[k] = compareTopK(exact, theirs.ids, theirs.scores)
      const maxScore = Math.max(...exact.map((h) => h[0]?.score ?? 0))
      measurements[`BMP reference agreement k=${k}`] = { ...check[k], maxScore }
      const times = await alternate({ 'slimdex BMP': perQuery(main.queries, (q) => main.index.search(q, { k })), 'BMP reference': async () => (await ref.worker.call({ cmd: 'search', k })).seconds / nQueries }, reps)
      const r = ratios(times['slimdex BMP'], times['BMP reference'])
      rows.push([String(k), 'slimdex BMP', fmt(stats(times['slimdex BMP']).median * 1e6, 0), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`, `${check[k].same}/${check[k].total} queries identical up to ties`])
      rows.push([String(k), 'BMP reference', fmt(stats(times['BMP reference']).median * 1e6, 0), '1×', check[k].shorter ? `returned fewer than k on ${check[k].shorter} queries` : '—'])
      measurements[`BMP reference k=${k}`] = { times, ratio: r }
      if (maxScore > 65_535) notes.push(`k = ${k}: some top score (${maxScore}) exceeds 65,535, where the reference's u16 block scores wrap`)
    }
    tables.push({ title: `Learned sparse vs the BMP reference, safe (alpha = beta = 1): topical ${N} docs (synthetic), ${mainOrder}, block 32, same CIFF index`, columns: ['k', 'engine', 'mean µs/query', 'time vs the reference', 'outputs'], rows })
    const refAlpha = {}
    for (const a of ALPHAS) {
      const res = await ref.worker.call({ cmd: 'search', k: 10, alpha: a, results: true })
      const times = []
      for (let i = 0; i < Math.min(reps, 3); i++) times.push((await ref.worker.call({ cmd: 'search', k: 10, alpha: a })).seconds / nQueries)
      refAlpha[a] = { times, recall: recall(res.ids.map((ids) => ids.map((id) => ({ id }))), exact10) }
    }
    measurements['BMP reference alpha'] = refAlpha
    out.refAlpha = refAlpha
    notes.push(`BMP reference: ciff2bmp ${ref.build.built ? `built its index in ${fmt(ref.build.seconds, 1)} s` : 'index read from the cache'} (${fmt(ref.build.bytes / 2 ** 20, 0)} MiB file), loaded in ${fmt(ref.loaded.seconds, 1)} s, RSS growth ${fmt(ref.loaded.rssGrowthMB, 0)} MiB; slimdex's index ${fmt((indexSize(main.index).forward + indexSize(main.index).blockMax) / 2 ** 20, 0)} MiB`)
    ref.worker.close()
  } else if (!smoke && bmpPython) {
    notes.push('no BMP reference rows (see above)')
  }
  tables.push({
    title: `Recall@10 against the safe results over alpha: topical ${N} docs (synthetic), ${mainOrder}, block 32${out.refAlpha ? ', both engines' : ''}`,
    columns: ['alpha', 'slimdex µs/query', 'slimdex recall@10', ...(out.refAlpha ? ['BMP reference µs/query', 'reference recall@10'] : [])],
    rows: ALPHAS.map((a) => [String(a), fmt(stats(alphaTimes[`alpha ${a}`]).median * 1e6, 0), fmt(alphaRecall[a], 3), ...(out.refAlpha ? [fmt(stats(out.refAlpha[a].times).median * 1e6, 0), fmt(out.refAlpha[a].recall, 3)] : [])]),
  })
  measurements['learned sparse alpha'] = { alphaTimes, alphaRecall }
  main.index = null

  // The i.i.d. corpus of the earlier runs (no topical structure), input order only.
  const t1 = performance.now()
  const iid = cachedCorpus(dir, `iid-v1-n${n}-q${nQueries}-s11`, () => iidCorpus({ n, nQueries, seed: 11 }))
  notes.push(`i.i.d. corpus ${iid.cached ? 'read from the cache' : 'generated'} in ${fmt((performance.now() - t1) / 1000, 1)} s: ${JSON.stringify(iid.params)}; weights are floats, quantised with scale 3.1/255`)
  iid.docs.vals = iid.docs.vals.map((v) => Math.round(v * (255 / 3.1)))
  await runCorpus(`i.i.d. ${N} docs (synthetic)`, iid, 'none')

  tables.push({ title: 'Learned sparse: safe BMP vs our exhaustive scan, k = 10 (synthetic)', columns: ['corpus', 'order', 'BMP safe µs/query', 'exhaustive µs/query', 'speed-up (median, min–max)', 'build s'], rows: vsExhaustive })
  tables.push({ title: 'Learned sparse index size', columns: ['corpus', 'order', 'bytes/posting', 'forward', 'block maxima', 'block-max share of forward', 'total / forward'], rows: sizeRows })
  return { tables, dataNote: `a seeded topic mixture and an i.i.d. draw, ${N} docs each, ~120 non-zeros, 30,000 terms, 20-term queries` }
}
