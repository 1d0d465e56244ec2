// Cross-index summary charts, drawn from the suites' results JSON (benches/results/<suite>.json)
// after a bench run, or alone with `npm run bench -- --charts`. Each suite measures on its own
// data, so every series names its data set; a chart compares the shape of the trade-off (how
// much recall a byte buys), not one data set across indexes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lineChart } from './svg.mjs'

/** A number from a formatted table cell ("1,584", "0.970", "388.0"). */
const num = (cell) => Number(String(cell).replace(/,/g, ''))

function readSuite(dir, suite, smoke) {
  const file = join(dir, `${smoke ? `${suite}.smoke` : suite}.json`)
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null
}

/** Binary codes: each rescore mode at its best recall (the most candidates), bytes from the same table. */
function binarySeries(binary) {
  const table = binary?.tables?.find((t) => t.columns.includes('bytes/vector') && t.columns.includes('recall@10'))
  if (!table) return []
  const c = (name) => table.columns.indexOf(name)
  const best = new Map()
  for (const row of table.rows) {
    const mode = row[c('rescore')]
    const point = [num(row[c('bytes/vector')]), num(row[c('recall@10')]), mode]
    if (!best.has(mode) || point[1] > best.get(mode)[1]) best.set(mode, point)
  }
  const size = /([\d,]+ × \d+)/.exec(table.title)?.[1] ?? ''
  return [{ name: `binary + rescore (${size})`, points: [...best.values()].sort((a, b) => a[0] - b[0]) }]
}

/** Dense: PQ and IVF-PQ configurations (no float rescoring) and scalar storage. */
function denseSeries(dense) {
  const out = []
  const configs = dense?.measurements?.configs ?? []
  const pq = []
  for (const cfg of configs) {
    const bytes = cfg.bytesPerVector?.slimdex
    if (!(bytes > 0) || !(cfg.ourRecall >= 0)) continue
    const ivf = /^IVF/.test(cfg.name)
    const label = cfg.name.includes('4-bit') ? 'PQ 4-bit' : ivf ? 'IVF-PQ' : 'PQ 8-bit'
    // One point per configuration: the best recall over its sweep (e.g. nprobe).
    const prior = pq.find((p) => p[2] === label)
    if (!prior) pq.push([bytes, cfg.ourRecall, label])
    else if (cfg.ourRecall > prior[1]) prior.splice(0, 2, bytes, cfg.ourRecall)
  }
  const n = /([\d,]+ × \d+)/.exec(dense?.data ?? '')?.[1] ?? ''
  if (pq.length) out.push({ name: `PQ / IVF-PQ (${n})`, points: pq.sort((a, b) => a[0] - b[0]) })
  const scalar = dense?.measurements?.scalar ?? []
  if (scalar.length) {
    // Rows: storage, recall, q/s, bytes/vector, …; the vector count is in the suite's note.
    const note = (dense.notes ?? []).find((x) => x.startsWith('scalar storage'))
    const count = /([\d,]+) vectors/.exec(note ?? '')?.[1]
    const dim = /× (\d+)/.exec(dense?.data ?? '')?.[1]
    const name = count && dim ? `scalar storage (${count} × ${dim})` : 'scalar storage'
    out.push({ name, points: scalar.map((r) => [num(r[3]), num(r[1]), r[0].replace('truncate', 'trunc.')]).sort((a, b) => a[0] - b[0]) })
  }
  // Real MiniLM embeddings of msmarco-sample, when the run had them (recall against float32 search).
  const real = dense?.measurements?.real ?? []
  if (real.length) out.push({ name: 'real MiniLM, msmarco (5,000 × 384)', points: real.map((r) => [r.bytes, r.recall, r.name.replace('truncate', 'trunc.')]).sort((a, b) => a[0] - b[0]) })
  return out
}

/**
 * Multi-vector: bytes per document of each measured index (tokens + FDE + offsets), at the
 * recall@10 its FDE reaches with 200 re-ranked candidates.
 */
function multivectorSeries(mv) {
  const m = mv?.measurements
  const configs = ['(20, 5, 16) → 10,240', '(20, 4, 8) → 2,560']
  const n = m?.params?.n
  if (!m?.memory?.indexes || !n) return []
  const points = []
  m.memory.indexes.forEach((mem, i) => {
    const hit = (m.sweep ?? []).find((s) => s.config === configs[i] && s.candidates === 200)
    if (hit) points.push([mem.total / n, hit.recall, `FDE ${configs[i].split(' → ')[1]} f16`])
  })
  return points.length ? [{ name: `multi-vector (${n.toLocaleString('en-US')} docs × ${Math.round(m.memory.f32BytesPerDoc / 4 / m.params.dim)} tok)`, points: points.sort((a, b) => a[0] - b[0]) }] : []
}

/**
 * Writes benches/results/bytes-recall.svg (smoke: bytes-recall.smoke.svg) from whichever suite
 * results exist; returns the file written, or null when there is nothing to draw.
 */
export function writeSummaryCharts(dir, { smoke = false } = {}) {
  // Scalar storage second: its float32 / float16 points coincide with binary's float32 rescoring.
  const [pq, scalar] = denseSeries(readSuite(dir, 'dense', smoke)).reduce((acc, s) => (acc[s.name.startsWith('scalar') ? 1 : 0].push(s), acc), [[], []])
  const series = [...binarySeries(readSuite(dir, 'binary', smoke)), ...scalar, ...pq, ...multivectorSeries(readSuite(dir, 'multivector', smoke))].filter((s) => s.points.length > 0)
  if (series.length === 0) return null
  const file = join(dir, smoke ? 'bytes-recall.smoke.svg' : 'bytes-recall.svg')
  writeFileSync(
    file,
    lineChart(series, {
      title: 'Bytes per item against recall@10 (each suite on its own data)',
      xLabel: 'bytes per item (log scale; per document for multi-vector)',
      yLabel: 'recall@10 vs exact search',
      logX: true,
      width: 1000,
      height: 440,
      pointLabels: true,
    }),
  )
  return file
}
