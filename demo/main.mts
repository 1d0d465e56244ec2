// slimdex demo: compress a set of embeddings into binary codes and search them.
// (The composition work turns this into the full tour: BM25, MinHash dedup, PQ, hybrid search.)
import { BinaryIndex, nativeInfo } from '../index.ts'
import { clustered } from '../benches/lib/data.mjs'

const dim = 384
const n = 20_000
const info = nativeInfo()
console.log(`slimdex ${info.version} on ${info.target}, SIMD ${info.simd}`)
console.log(`data: ${n} synthetic clustered embeddings × ${dim} dims (seeded), 50 held-out queries`)

const all = clustered({ n: n + 50, dim, clusters: 200, spread: 0.5, seed: 7 })
const data = all.subarray(0, n * dim)
const queries = all.subarray(n * dim)

const exact = new BinaryIndex({ dim, rescore: 'float32', metric: 'cosine' })
exact.addSync(undefined, data)
const truth = exact.searchBatchSync(queries, { k: 10, candidates: n })

const rows: string[][] = [['rescore', 'bytes/vector', 'vs float32', 'recall@10', 'ms/query']]
for (const rescore of ['none', 'asymmetric', 'int8', 'float32'] as const) {
  const index = new BinaryIndex({ dim, rescore, metric: 'cosine' })
  const t0 = performance.now()
  await index.add(undefined, data)
  const built = performance.now() - t0
  const t1 = performance.now()
  const results = index.searchBatchSync(queries, { k: 10, candidates: 100, threads: 1 })
  const perQuery = (performance.now() - t1) / 50
  let found = 0
  results.forEach((hits, qi) => {
    const want = new Set(truth[qi].map((h) => h.id))
    found += hits.filter((h) => want.has(h.id)).length
  })
  const bytes = index.memoryUsage().total / n
  rows.push([rescore, bytes.toFixed(0), `${((4 * dim) / bytes).toFixed(1)}×`, (found / 500).toFixed(3), perQuery.toFixed(2)])
  if (rescore === 'none') console.log(`built ${n} codes in ${built.toFixed(0)} ms`)
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c])).join('  '))
