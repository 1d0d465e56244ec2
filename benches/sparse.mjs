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
export async function startWorker(python, script, first, notes, what) {
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

export const ALPHAS = [1, 0.95, 0.9, 0.8, 0.7, 0.6]

/** Mean seconds per query of `search(q)` over `queries`, as a contender for `alternate`. */
export const perQuery = (queries, search) => async () => {
  const s = performance.now()
  for (const q of queries) search(q)
  return (performance.now() - s) / 1000 / queries.length
}

/** Fraction of the exact top-k ids that `got` finds. */
export function recall(got, exact) {
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
export function compareTopK(ours, ids, scores) {
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
 * A term-at-a-time exhaustive scan, the baseline a user would write: an inverted index (per
 * term: doc ids, impacts) over the same byte impacts, a dense Float32Array accumulator per
 * query, then a top-k heap over all documents (score desc, lower doc id first). Plain JS.
 */
function buildTaat({ ptr, terms, vals }, nTerms) {
  const n = ptr.length - 1
  const tptr = new Uint32Array(nTerms + 1)
  for (let i = 0; i < terms.length; i++) tptr[terms[i] + 1]++
  for (let t = 0; t < nTerms; t++) tptr[t + 1] += tptr[t]
  const fill = tptr.slice(0, nTerms)
  const doc = new Uint32Array(terms.length)
  const imp = new Uint8Array(terms.length) // the benches' impacts are bytes
  for (let d = 0; d < n; d++) {
    for (let p = ptr[d]; p < ptr[d + 1]; p++) {
      const at = fill[terms[p]]++
      doc[at] = d
      imp[at] = vals[p]
    }
  }
  return { n, nTerms, tptr, doc, imp, acc: new Float32Array(n) }
}

function taatSearch(inv, q, k) {
  const { tptr, doc, imp, acc, n, nTerms } = inv
  acc.fill(0)
  for (let j = 0; j < q.indices.length; j++) {
    const t = q.indices[j]
    if (t >= nTerms) continue
    const w = q.values[j]
    // f32 product then f32 sum (the sum of two f32 values is exact in a double, so storing it
    // rounds once): the same arithmetic as slimdex's, for float query weights too.
    for (let p = tptr[t]; p < tptr[t + 1]; p++) acc[doc[p]] += Math.fround(w * imp[p])
  }
  // Min-heap of the best k (worst on top: lower score, or equal score and higher id).
  const hs = new Float32Array(k)
  const hi = new Uint32Array(k)
  let size = 0
  const worse = (a, b) => hs[a] < hs[b] || (hs[a] === hs[b] && hi[a] > hi[b])
  const swap = (a, b) => {
    const s = hs[a]
    hs[a] = hs[b]
    hs[b] = s
    const i = hi[a]
    hi[a] = hi[b]
    hi[b] = i
  }
  for (let d = 0; d < n; d++) {
    const s = acc[d]
    if (s <= 0) continue
    if (size < k) {
      hs[size] = s
      hi[size] = d
      let c = size++
      while (c > 0 && worse(c, (c - 1) >> 1)) {
        swap(c, (c - 1) >> 1)
        c = (c - 1) >> 1
      }
    } else if (s > hs[0]) {
      // d is the highest id so far: on an equal score it loses, so only a higher score enters.
      hs[0] = s
      hi[0] = d
      let c = 0
      for (;;) {
        const l = 2 * c + 1
        const r = l + 1
        let m = c
        if (l < size && worse(l, m)) m = l
        if (r < size && worse(r, m)) m = r
        if (m === c) break
        swap(c, m)
        c = m
      }
    }
  }
  const out = Array.from({ length: size }, (_, i) => ({ id: hi[i], score: hs[i] }))
  return out.sort((a, b) => b.score - a.score || a.id - b.id)
}

/**
 * Learned sparse on seeded synthetic SPLADE-like corpora (benches/lib/sparse-data.mjs), per
 * size (100,000 documents: input and BP order, plus the i.i.d. corpus; 1,000,000 documents: the
 * generator's order, a subset of the queries timed): safe BMP vs our block-forward scan and a
 * term-at-a-time scan, one segment vs four, the cost of a delete, index size, the BMP reference
 * on the same (CIFF-exported) index and docid order, and the alpha curve alternated per alpha.
 */
async function learnedSparseSection({ slimdex, smoke, reps, notes, peers, measurements }) {
  const cap = Number(process.env.SLIMDEX_SPARSE_DOCS) || Infinity
  const sizes = (smoke ? [5_000] : [100_000, 1_000_000]).filter((n) => n <= cap)
  if (!smoke && cap < 100_000) sizes.push(cap)
  const tables = []
  const vsExhaustive = []
  const sizeRows = []
  const segRows = []
  const refRows = []
  const alphaTables = []
  for (const n of sizes) {
    const big = n >= 1_000_000
    await learnedSparseAt({ slimdex, smoke, reps: big ? Math.min(reps, 3) : reps, notes, peers, measurements, n, big, vsExhaustive, sizeRows, segRows, refRows, alphaTables })
  }
  if (refRows.length) tables.push({ title: 'Learned sparse vs the BMP reference, safe (alpha = beta = 1): topical corpus (synthetic), block 32, the same CIFF index and docid order for both', columns: ['corpus', 'order', 'k', 'engine', 'mean µs/query', 'time vs the reference (median, min–max)', 'outputs'], rows: refRows })
  tables.push(...alphaTables)
  tables.push({ title: 'Learned sparse: safe BMP vs exhaustive scans, k = 10 (synthetic); "block-forward" is `exhaustive: true` (every block of our index scored), "term-at-a-time" a plain JS inverted-index scan over the same impacts', columns: ['corpus', 'order', 'BMP safe µs/query', 'block-forward scan µs/query', 'speed-up vs block-forward', 'term-at-a-time scan µs/query', 'speed-up vs term-at-a-time', 'build s'], rows: vsExhaustive })
  tables.push({ title: 'Learned sparse: one segment vs four (built, then three `add`s; same docid order), safe BMP; the k-th score is carried from segment to segment', columns: ['corpus', 'order', 'k', '1 segment µs/query', '4 segments µs/query', '4 segments / 1 (median, min–max)', 'delete µs/call (1 id, snapshot copy)'], rows: segRows })
  tables.push({ title: 'Learned sparse index size', columns: ['corpus', 'order', 'bytes/posting', 'forward', 'block maxima', 'block-max share of forward', 'total / forward'], rows: sizeRows })
  return { tables, dataNote: `a seeded topic mixture at ${sizes.map((x) => x.toLocaleString('en-US')).join(' and ')} docs and an i.i.d. draw at ${Math.min(...sizes).toLocaleString('en-US')}, ~120 non-zeros, 30,000 terms, 20-term queries` }
}

async function learnedSparseAt({ slimdex, smoke, reps, notes, peers, measurements, n, big, vsExhaustive, sizeRows, segRows, refRows, alphaTables }) {
  const { SparseIndex } = slimdex
  const nQueries = smoke ? 20 : 200
  // At 10⁶ documents a query costs ~10× more: time a prefix of the queries (all are checked).
  const nTimed = big ? 50 : nQueries
  const nExhaustive = smoke ? 5 : big ? 10 : 40
  const dir = join(cacheDir, 'sparse-data')
  mkdirSync(dir, { recursive: true })
  const N = n.toLocaleString('en-US')

  // One index per corpus/order; quantization scale 1: the generated impacts are bytes already.
  // `bpCache`: BP over 10⁶ documents takes many minutes on 2 cores, so its order is computed
  // once (by SparseIndex itself, reorder: 'bp'), kept as a CIFF file in the cache, and later
  // runs build the index over the rows in that order (ids unchanged).
  const runCorpus = async (label, corpus, reorder, bpCache = null) => {
    let index
    let buildSeconds
    let cachedOrder = false
    let order = null
    if (reorder === 'bp' && bpCache && existsSync(bpCache.ciff) && existsSync(bpCache.meta)) {
      order = ciffDocOrder(readFileSync(bpCache.ciff))
      index = await SparseIndex.build(rowsOf(permuteRows(corpus.docs, order), { idOf: order }), { blockSize: 32, quantization: { scale: 1 } })
      buildSeconds = JSON.parse(readFileSync(bpCache.meta, 'utf8')).buildSeconds
      cachedOrder = true
    } else {
      const t = performance.now()
      index = await SparseIndex.build(rowsOf(corpus.docs), { blockSize: 32, quantization: { scale: 1 }, reorder })
      buildSeconds = (performance.now() - t) / 1000
      if (reorder === 'bp') {
        const ciffBytes = index.toCiff('bp order')
        order = ciffDocOrder(ciffBytes)
        if (bpCache) {
          writeFileSync(bpCache.ciff, ciffBytes)
          writeFileSync(bpCache.meta, JSON.stringify({ buildSeconds, date: new Date().toISOString() }))
        }
      }
    }
    const queries = rowsOf(corpus.queries, { ids: false })
    const timed = queries.slice(0, nTimed)
    const few = queries.slice(0, nExhaustive)
    // Answers first: safe BMP equals the exhaustive scan, ties included; the term-at-a-time
    // scan (ties by input row, not by our docid order) gives the same scores and ids above the k-th.
    const taat = buildTaat(corpus.docs, corpus.params.vocab)
    for (const k of [10, 1000]) {
      const ours = few.map((q) => index.search(q, { k }))
      ours.forEach((hits, i) => {
        if (JSON.stringify(hits) !== JSON.stringify(index.search(few[i], { k, exhaustive: true }))) throw new Error(`${label}: safe BMP and exhaustive results differ at k = ${k}`)
      })
      const theirs = few.map((q) => taatSearch(taat, q, k))
      const agree = compareTopK(ours, theirs.map((h) => h.map((x) => x.id)), theirs.map((h) => h.map((x) => x.score)))
      if (agree.same !== agree.total) throw new Error(`${label}: the term-at-a-time scan disagrees on queries ${agree.differ} at k = ${k}`)
    }
    const times = await alternate(
      {
        'BMP safe': perQuery(timed, (q) => index.search(q, { k: 10 })),
        exhaustive: perQuery(few, (q) => index.search(q, { k: 10, exhaustive: true })),
        taat: perQuery(timed, (q) => taatSearch(taat, q, 10)),
      },
      reps,
    )
    const r = ratios(times.exhaustive, times['BMP safe'])
    const rt = ratios(times.taat, times['BMP safe'])
    const size = indexSize(index)
    vsExhaustive.push([label, reorder, fmt(stats(times['BMP safe']).median * 1e6, 0), fmt(stats(times.exhaustive).median * 1e6, 0), `${fmt(r.median, 1)}× (${fmt(r.min, 1)}–${fmt(r.max, 1)})`, fmt(stats(times.taat).median * 1e6, 0), `${fmt(rt.median, 2)}× (${fmt(rt.min, 2)}–${fmt(rt.max, 2)})`, `${fmt(buildSeconds, 1)}${cachedOrder ? ' (BP order from the cache)' : ''}`])
    sizeRows.push([label, reorder, fmt(size.bytesPerPosting), fmt(size.forward / size.postings), fmt(size.blockMax / size.postings), `${fmt(size.share * 100, 0)}%`, `${fmt(size.totalOverForward)}×`])
    measurements[`learned sparse ${label} ${reorder}`] = { buildSeconds, cachedOrder, times, size, timedQueries: timed.length, exhaustiveQueries: few.length }
    // Internal ids follow the rows as inserted: the BP-ordered rows (cached order, or input
    // order) give ties the same order as an index built segment by segment over those rows.
    return { index, queries, timed, buildSeconds, order, sameTies: cachedOrder || reorder === 'none' }
  }

  /** One segment vs four over the same rows in the same order, and the cost of a delete. */
  const segmented = async (label, orderName, corpus, main) => {
    const rows = main.order ? rowsOf(permuteRows(corpus.docs, main.order), { idOf: main.order }) : rowsOf(corpus.docs)
    const cut = [0, 1, 2, 3, 4].map((i) => Math.round((i * rows.length) / 4))
    const seg = await SparseIndex.build(rows.slice(cut[0], cut[1]), { blockSize: 32, quantization: { scale: 1 } })
    for (let i = 1; i < 4; i++) await seg.add(rows.slice(cut[i], cut[i + 1]))
    if (seg.segments !== 4) throw new Error(`${label}: ${seg.segments} segments, expected 4`)
    const few = main.queries.slice(0, nExhaustive)
    for (const k of [10, 1000]) {
      const a = few.map((q) => seg.search(q, { k }))
      const b = few.map((q) => main.index.search(q, { k }))
      const ok = main.sameTies ? JSON.stringify(a) === JSON.stringify(b) : compareTopK(a, b.map((h) => h.map((x) => x.id)), b.map((h) => h.map((x) => x.score))).same === few.length
      if (!ok) throw new Error(`${label}: the 4-segment index differs from the 1-segment one at k = ${k}`)
    }
    let deleteMicros = null
    for (const k of [10, 1000]) {
      const times = await alternate({ one: perQuery(main.timed, (q) => main.index.search(q, { k })), four: perQuery(main.timed, (q) => seg.search(q, { k })) }, reps)
      const r = ratios(times.four, times.one)
      if (k === 10) {
        // Deletes of single ids, each publishing a new snapshot (after the timings: deletions
        // turn off threshold seeding in a segment until compact()).
        const nDel = 200
        const dead = Array.from({ length: nDel }, (_, i) => rows[(i * 7919) % rows.length].id)
        const t = performance.now()
        for (const id of dead) seg.delete([id])
        deleteMicros = ((performance.now() - t) / nDel) * 1000
        if (seg.size !== rows.length - nDel) throw new Error(`${label}: ${seg.size} documents after ${nDel} deletes`)
        const gone = new Set(dead)
        for (const q of few.slice(0, 5)) if (seg.search(q, { k: 1000 }).some((h) => gone.has(h.id))) throw new Error(`${label}: a deleted document was returned`)
        measurements[`learned sparse ${label} delete`] = { deleteMicros, deletes: nDel, docs: rows.length }
      }
      segRows.push([label, orderName, String(k), fmt(stats(times.one).median * 1e6, 0), fmt(stats(times.four).median * 1e6, 0), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`, k === 10 ? fmt(deleteMicros, 1) : '—'])
      measurements[`learned sparse ${label} segments k=${k}`] = { times }
    }
    return seg
  }

  const t0 = performance.now()
  const topical = cachedCorpus(dir, `topics-v1-n${n}-q${nQueries}-s21`, () => topicMixture({ n, nQueries, seed: 21 }))
  notes.push(`topical corpus ${topical.cached ? 'read from the cache' : 'generated'} in ${fmt((performance.now() - t0) / 1000, 1)} s: ${N} docs, ${fmt(topical.docs.terms.length / n, 1)} non-zeros per doc on average, ${nQueries} queries of ${TOPIC_DEFAULTS.queryTerms} terms${nTimed < nQueries ? ` (the first ${nTimed} timed)` : ''}; generator parameters ${JSON.stringify(topical.params)}`)
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
    notes.push(`${N} documents: no BP order (not in the cache; BP at this size did not finish in 35 min on this machine), so the BMP reference, the alpha curve and the segment rows at this size use the generator's document order, the same for both engines`)
  }
  const main = bp ?? plain
  const mainOrder = bp ? 'BP order' : 'generator order'
  const orderName = bp ? 'bp' : 'none'
  let seg = await segmented(topicalLabel, orderName, topical, main)
  seg = null

  // The BMP reference on the same index: our index exported as CIFF, then ciff2bmp.
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
        measurements[`BMP reference index ${N}`] = { build: started.reply, load: loaded }
        ref = { worker, loaded, build: started.reply }
      } catch (e) {
        notes.push(`the BMP reference could not load its index (${e.message})`)
        worker.close()
      }
    }
  }
  // Answers are checked on every query at 10⁵ documents, on the timed ones at 10⁶.
  const checked = main.queries.slice(0, big ? nTimed : nQueries)
  const exact10 = checked.map((q) => main.index.search(q, { k: 10 }))
  const alphaRows = []
  if (ref) {
    const refSearch = (k, alpha = 1) => async () => (await ref.worker.call({ cmd: 'search', k, alpha, limit: nTimed })).seconds / nTimed
    for (const k of [10, 1000]) {
      const exact = k === 10 ? exact10 : checked.map((q) => main.index.search(q, { k }))
      const theirs = await ref.worker.call({ cmd: 'search', k, results: true, limit: checked.length })
      const check = compareTopK(exact, theirs.ids, theirs.scores)
      const maxScore = Math.max(...exact.map((h) => h[0]?.score ?? 0))
      measurements[`BMP reference ${N} agreement k=${k}`] = { ...check, maxScore }
      const times = await alternate({ 'slimdex BMP': perQuery(main.timed, (q) => main.index.search(q, { k })), 'BMP reference': refSearch(k) }, reps)
      const r = ratios(times['slimdex BMP'], times['BMP reference'])
      refRows.push([topicalLabel, mainOrder, String(k), 'slimdex BMP', fmt(stats(times['slimdex BMP']).median * 1e6, 0), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`, `${check.same}/${check.total} queries identical up to ties`])
      refRows.push([topicalLabel, mainOrder, String(k), 'BMP reference', fmt(stats(times['BMP reference']).median * 1e6, 0), '1×', check.shorter ? `returned fewer than k on ${check.shorter} queries` : '—'])
      measurements[`BMP reference ${N} k=${k}`] = { times, ratio: r }
      if (maxScore > 65_535) notes.push(`${N} docs, k = ${k}: some top score (${maxScore}) exceeds 65,535, where the reference's u16 block scores wrap`)
    }
    // The alpha curve, alternated per alpha (the two engines take turns at each alpha, as in
    // the safe table), then a diagnostic at alpha = 1: each engine's passes back to back.
    for (const a of ALPHAS) {
      const res = await ref.worker.call({ cmd: 'search', k: 10, alpha: a, results: true, limit: checked.length })
      const ours = checked.map((q) => main.index.search(q, { k: 10, alpha: a }))
      const times = await alternate({ slimdex: perQuery(main.timed, (q) => main.index.search(q, { k: 10, alpha: a })), ref: refSearch(10, a) }, Math.min(reps, 3))
      const r = ratios(times.slimdex, times.ref)
      const rec = { slimdex: recall(ours, exact10), ref: recall(res.ids.map((ids) => ids.map((id) => ({ id }))), exact10) }
      alphaRows.push([String(a), fmt(stats(times.slimdex).median * 1e6, 0), fmt(rec.slimdex, 3), fmt(stats(times.ref).median * 1e6, 0), fmt(rec.ref, 3), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`])
      measurements[`alpha ${a} ${N}`] = { times, recall: rec, ratio: r }
    }
    const backToBack = { slimdex: [], ref: [] }
    for (let i = 0; i < 3; i++) backToBack.ref.push(await refSearch(10)())
    for (let i = 0; i < 3; i++) backToBack.slimdex.push(await perQuery(main.timed, (q) => main.index.search(q, { k: 10 }))())
    measurements[`alpha 1 back to back ${N}`] = backToBack
    notes.push(`${N} docs, alpha = 1, k = 10, each engine's 3 passes back to back (not alternated): slimdex ${fmt(stats(backToBack.slimdex).median * 1e6, 0)} µs/query, the reference ${fmt(stats(backToBack.ref).median * 1e6, 0)} µs/query`)
    notes.push(`BMP reference, ${N} docs: ciff2bmp ${ref.build.built ? `built its index in ${fmt(ref.build.seconds, 1)} s` : 'index read from the cache'} (${fmt(ref.build.bytes / 2 ** 20, 0)} MiB file), loaded in ${fmt(ref.loaded.seconds, 1)} s, RSS growth ${fmt(ref.loaded.rssGrowthMB, 0)} MiB; slimdex's index ${fmt((indexSize(main.index).forward + indexSize(main.index).blockMax) / 2 ** 20, 0)} MiB`)
    ref.worker.close()
  } else {
    const alphaTimes = await alternate(Object.fromEntries(ALPHAS.map((a) => [`alpha ${a}`, perQuery(main.timed, (q) => main.index.search(q, { k: 10, alpha: a }))])), Math.min(reps, 3))
    for (const a of ALPHAS) alphaRows.push([String(a), fmt(stats(alphaTimes[`alpha ${a}`]).median * 1e6, 0), fmt(recall(checked.map((q) => main.index.search(q, { k: 10, alpha: a })), exact10), 3), '—', '—', '—'])
    if (!smoke && bmpPython) notes.push('no BMP reference rows (see above)')
  }
  alphaTables.push({ title: `Recall@10 against the safe results over alpha: topical ${N} docs (synthetic), ${mainOrder}, block 32; the engines alternate at each alpha`, columns: ['alpha', 'slimdex µs/query', 'slimdex recall@10', 'BMP reference µs/query', 'reference recall@10', 'time vs the reference'], rows: alphaRows })
  main.index = null

  if (!big) {
    // The i.i.d. corpus of the earlier runs (no topical structure), input order only.
    const t1 = performance.now()
    const iid = cachedCorpus(dir, `iid-v1-n${n}-q${nQueries}-s11`, () => iidCorpus({ n, nQueries, seed: 11 }))
    notes.push(`i.i.d. corpus ${iid.cached ? 'read from the cache' : 'generated'} in ${fmt((performance.now() - t1) / 1000, 1)} s: ${JSON.stringify(iid.params)}; weights are floats, quantised with scale 3.1/255`)
    iid.docs.vals = iid.docs.vals.map((v) => Math.round(v * (255 / 3.1)))
    await runCorpus(`i.i.d. ${N} docs (synthetic)`, iid, 'none')
  }
}
