// The learned-sparse comparison with the BMP reference at 10⁶ documents, run apart from the
// suite and merged into benches/results/sparse.{json,md}: in a suite run the reference's load
// (≈ 9.5 GB for its 2 GB bincode index) did not fit beside the suite's other 10⁶-document
// structures on this shared 24 GB machine and was OOM-killed. This process holds only slimdex's
// index. Same protocol as the suite: same CIFF index and docid order (the generator's), answers
// checked first, alternated passes, the alpha curve alternated per alpha.
// Usage: node --expose-gc scripts/sparse-ref-1m.mjs   (needs the suite's caches and venv)
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { loadavg } from 'node:os'
import { alternate, fmt, loadSlimdex, machine, ratios, resultsDir, stats, writeResults } from '../benches/lib/report.mjs'
import { cacheDir, ensureVenv } from '../benches/lib/python.mjs'
import { cachedCorpus, rowsOf } from '../benches/lib/sparse-data.mjs'
import { ALPHAS, compareTopK, perQuery, recall, startWorker } from '../benches/sparse.mjs'

const n = 1_000_000
const nQueries = 200
const nTimed = 50
const reps = 3
const N = n.toLocaleString('en-US')
globalThis.__benchMachine = await machine()
const { SparseIndex } = await loadSlimdex()
const dir = join(cacheDir, 'sparse-data')
const key0 = `topics-v1-n${n}-q${nQueries}-s21`
if (!existsSync(join(dir, `${key0}.csr`))) throw new Error('run the sparse suite first (corpus cache missing)')
let corpus = cachedCorpus(dir, key0, () => null)
const queries = rowsOf(corpus.queries, { ids: false }).slice(0, nTimed)
let index = await SparseIndex.build(rowsOf(corpus.docs), { blockSize: 32, quantization: { scale: 1 } })
corpus = null
let ciffBytes = index.toCiff('input order')
const key = `${key0}-input-${createHash('sha256').update(ciffBytes).digest('hex').slice(0, 16)}`
ciffBytes = null
globalThis.gc?.()
const bmpIndex = join(dir, `${key}.b32.bmp`)
if (!existsSync(bmpIndex)) throw new Error(`the reference's index ${bmpIndex} is not in the cache (the suite builds it)`)
const notes = []
const python = ensureVenv(['bmp==0.2.8'])
const started = await startWorker(python, 'bmp_worker.py', { cmd: 'build', ciff: join(dir, `${key}.ciff`), index: bmpIndex, bsize: 32 }, notes, 'the BMP reference')
if (!started) throw new Error(notes.join('; '))
const worker = started.worker
const loaded = await worker.call({ cmd: 'load', index: bmpIndex, queries: join(dir, `${key}.queries.json`) })
const refSearch = (k, alpha = 1) => async () => (await worker.call({ cmd: 'search', k, alpha, limit: nTimed })).seconds / nTimed
const label = `topical ${N} docs (synthetic)`
const refRows = []
const measurements = { [`BMP reference index ${N}`]: { build: started.reply, load: loaded, loadavgBefore: loadavg() } }
const exact10 = queries.map((q) => index.search(q, { k: 10 }))
for (const k of [10, 1000]) {
  const exact = k === 10 ? exact10 : queries.map((q) => index.search(q, { k }))
  const theirs = await worker.call({ cmd: 'search', k, results: true, limit: nTimed })
  const check = compareTopK(exact, theirs.ids, theirs.scores)
  measurements[`BMP reference ${N} agreement k=${k}`] = { ...check, maxScore: Math.max(...exact.map((h) => h[0]?.score ?? 0)) }
  const times = await alternate({ 'slimdex BMP': perQuery(queries, (q) => index.search(q, { k })), 'BMP reference': refSearch(k) }, reps)
  const r = ratios(times['slimdex BMP'], times['BMP reference'])
  refRows.push([label, 'generator order', String(k), 'slimdex BMP', fmt(stats(times['slimdex BMP']).median * 1e6, 0), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`, `${check.same}/${check.total} queries identical up to ties`])
  refRows.push([label, 'generator order', String(k), 'BMP reference', fmt(stats(times['BMP reference']).median * 1e6, 0), '1×', check.shorter ? `returned fewer than k on ${check.shorter} queries` : '—'])
  measurements[`BMP reference ${N} k=${k}`] = { times, ratio: r }
}
const alphaRows = []
for (const a of ALPHAS) {
  const res = await worker.call({ cmd: 'search', k: 10, alpha: a, results: true, limit: nTimed })
  const ours = queries.map((q) => index.search(q, { k: 10, alpha: a }))
  const times = await alternate({ slimdex: perQuery(queries, (q) => index.search(q, { k: 10, alpha: a })), ref: refSearch(10, a) }, reps)
  const r = ratios(times.slimdex, times.ref)
  const rec = { slimdex: recall(ours, exact10), ref: recall(res.ids.map((ids) => ids.map((id) => ({ id }))), exact10) }
  alphaRows.push([String(a), fmt(stats(times.slimdex).median * 1e6, 0), fmt(rec.slimdex, 3), fmt(stats(times.ref).median * 1e6, 0), fmt(rec.ref, 3), `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`])
  measurements[`alpha ${a} ${N}`] = { times, recall: rec, ratio: r }
}
worker.close()
index = null

// Merge into the suite's results: the reference table gains the 10⁶ rows, the 10⁶ alpha table
// gains the reference's columns, the OOM notes are replaced by one naming this run.
const file = join(resultsDir, 'sparse.json')
const res = JSON.parse(readFileSync(file, 'utf8'))
const refTable = res.tables.find((t) => t.title.startsWith('Learned sparse vs the BMP reference'))
refTable.rows = refTable.rows.filter((r) => r[0] !== label).concat(refRows)
const alphaTable = res.tables.find((t) => t.title.includes(`topical ${N} docs`) && t.title.startsWith('Recall@10'))
alphaTable.rows = alphaRows
alphaTable.title = alphaTable.title.replace('; the engines alternate', '; separate run (see the notes), the engines alternate')
res.notes = res.notes.filter((x) => !x.startsWith('the BMP reference could not load') && !x.startsWith('no BMP reference rows'))
res.notes.push(`${N} docs vs the BMP reference (rows marked ${N} in the reference table and its alpha table): a separate run (scripts/sparse-ref-1m.mjs, ${globalThis.__benchMachine.date}, load average ${loadavg().map((x) => x.toFixed(1)).join('/')}) merged into this file, because in the suite run the reference's index load (≈ 9.5 GB resident for its ${fmt(started.reply.bytes / 2 ** 20, 0)} MiB file) was OOM-killed beside the suite's other 10⁶-document structures; same cached CIFF index, docid order and queries (the first ${nTimed} of ${nQueries}), reference loaded in ${fmt(loaded.seconds, 1)} s, RSS growth ${fmt(loaded.rssGrowthMB, 0)} MiB`)
// benches/sparse.mjs rebuilds the file from its two sections (SLIMDEX_SPARSE_PART=bm25 keeps
// learnedSection), so the learned section must carry these rows and notes too.
const learned = res.measurements.learnedSection
if (learned) {
  const bm25Notes = new Set(res.measurements.bm25Section?.notes ?? [])
  learned.tables = res.tables
  learned.notes = res.notes.filter((x) => !bm25Notes.has(x))
}
res.measurements[`BMP reference ${N} separate run machine`] = globalThis.__benchMachine
Object.assign(res.measurements, measurements)
// The header keeps the suite run's machine line (its date); this run's date is in the note.
globalThis.__benchMachine = res.machine
writeResults('sparse', res)
