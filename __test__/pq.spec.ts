import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PQIndex, ProductQuantizer } from '../index.ts'
import type { Hit } from '../index.ts'
import { clustered } from '../benches/lib/data.mjs'

const f = Math.fround

/** Σ_s table[s·ksub + code_s] accumulated in f32 in sub-quantizer order, as the core does. */
function adcSum(table: Float32Array, ksub: number, codes: Uint8Array, i: number, m: number, nbits: number): number {
  let s = 0
  for (let j = 0; j < m; j++) {
    const c = nbits === 8 ? codes[i * m + j] : (codes[i * Math.ceil(m / 2) + (j >> 1)] >> (4 * (j & 1))) & 15
    s = f(s + table[j * ksub + c])
  }
  return s
}

function exactTopK(data: Float32Array, dim: number, q: Float32Array, k: number): number[] {
  const n = data.length / dim
  const d = Array.from({ length: n }, (_, i) => {
    let s = 0
    for (let j = 0; j < dim; j++) s += (q[j] - data[i * dim + j]) ** 2
    return { i, s }
  })
  return d.sort((a, b) => a.s - b.s || a.i - b.i).slice(0, k).map((x) => x.i)
}

test('ProductQuantizer: ADC table sums equal distances to the decoded vectors; persistence', (t) => {
  const dim = 24
  const data = clustered({ n: 600, dim, seed: 3 })
  for (const nbits of [4, 8] as const) {
    const pq = ProductQuantizer.trainSync(data, { dim, m: 6, nbits, iters: 8, seed: 5 })
    t.is(pq.codeSize, nbits === 8 ? 6 : 3)
    const codes = pq.encode(data.subarray(0, 40 * dim))
    t.is(codes.length, 40 * pq.codeSize)
    const dec = pq.decode(codes)
    const q = data.subarray(100 * dim, 101 * dim)
    const table = pq.adcTable(q, 'l2')
    t.is(table.length, 6 << nbits)
    for (let i = 0; i < 40; i++) {
      let want = 0
      for (let j = 0; j < dim; j++) want += (q[j] - dec[i * dim + j]) ** 2
      t.true(Math.abs(adcSum(table, 1 << nbits, codes, i, 6, nbits) - want) <= 1e-4 * (1 + want))
    }
    const back = ProductQuantizer.fromBuffer(pq.toBuffer())
    t.deepEqual(back.encode(data.subarray(0, 40 * dim)), codes)
    t.deepEqual(back.codebooks(), pq.codebooks())
  }
  t.throws(() => ProductQuantizer.trainSync(data, { dim, m: 5 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /divisible/ })
  t.throws(() => ProductQuantizer.trainSync(data, { dim, m: 6, nbits: 6 as 8 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => ProductQuantizer.trainSync(data.subarray(0, 100 * dim), { dim, m: 6 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /at least/ })
  const nan = data.slice(0, 300 * dim)
  nan[7] = NaN
  t.throws(() => ProductQuantizer.trainSync(nan, { dim, m: 6, nbits: 4 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /finite/ })
})

test('PQIndex without IVF returns exactly the brute-force ADC top-k (8-bit scan and 4-bit fast scan)', async (t) => {
  const dim = 32
  const n = 2000
  const data = clustered({ n, dim, seed: 4 })
  for (const nbits of [8, 4] as const) {
    const m = 8
    // With n ≤ 256·2^nbits the index trains its codebooks on all rows, like this quantizer.
    const pq = ProductQuantizer.trainSync(data, { dim, m, nbits, iters: 6, seed: 9 })
    const index = await PQIndex.train(data, { dim, m, nbits, iters: 6, seed: 9 })
    await index.add(undefined, data)
    t.is(index.size, n)
    const codes = pq.encode(data)
    const ksub = 1 << nbits
    for (let qi = 0; qi < 10; qi++) {
      const q = data.subarray(qi * 131 * dim, (qi * 131 + 1) * dim)
      const table = pq.adcTable(q, 'l2')
      const all: Hit[] = Array.from({ length: n }, (_, i) => ({ id: i, score: -adcSum(table, ksub, codes, i, m, nbits) }))
      all.sort((a, b) => b.score - a.score || (a.id as number) - (b.id as number))
      t.deepEqual(index.search(q, { k: 10 }), all.slice(0, 10), `nbits ${nbits} query ${qi}`)
    }
    const batch = await index.searchBatch(data.subarray(0, 5 * dim), { k: 7 })
    for (let i = 0; i < 5; i++) t.deepEqual(batch[i], index.search(data.subarray(i * dim, (i + 1) * dim), { k: 7 }))
    const mem = index.shrinkToFit().memoryUsage()
    t.is(mem.components.codes, nbits === 8 ? n * m : Math.ceil(n / 32) * 32 * (m / 2))
  }
})

test('PQIndex recall@10 against exact float search (IVF, fast scan, float32 rescoring)', async (t) => {
  const dim = 64
  const n = 5000
  const data = clustered({ n, dim, clusters: 50, seed: 5 })
  const queries = clustered({ n: 30, dim, clusters: 50, seed: 5 }).map((x, i) => x + 0.01 * Math.sin(i))
  const truth = Array.from({ length: 30 }, (_, i) => exactTopK(data, dim, queries.subarray(i * dim, (i + 1) * dim), 10))
  const configs = [
    { name: 'pq8 m16', o: { m: 16, nbits: 8 as const }, floor: 0.3 },
    { name: 'pq4 m32 fast scan', o: { m: 32, nbits: 4 as const }, floor: 0.3 },
    { name: 'ivf32 pq8 m16 nprobe 8', o: { m: 16, nbits: 8 as const, ivf: { lists: 32, nprobe: 8 } }, floor: 0.3 },
    { name: 'ivf32 pq4 m32 + float32', o: { m: 32, nbits: 4 as const, ivf: { lists: 32, nprobe: 8 }, rescore: 'float32' as const }, floor: 0.8 },
  ]
  for (const c of configs) {
    const index = PQIndex.trainSync(data, { dim, iters: 10, ...c.o })
    index.addSync(undefined, data)
    const res = index.searchBatchSync(queries, { k: 10 })
    let hits = 0
    res.forEach((r, i) => (hits += r.filter((h) => truth[i].includes(h.id as number)).length))
    const recall = hits / 300
    t.log(`recall@10 ${c.name}: ${recall.toFixed(3)} (synthetic clustered data)`)
    t.true(recall >= c.floor, `${c.name}: ${recall}`)
    // nprobe = lists scans everything: never worse than the default.
    if (c.o.ivf) {
      const full = index.searchBatchSync(queries, { k: 10, nprobe: 32 })
      let fh = 0
      full.forEach((r, i) => (fh += r.filter((h) => truth[i].includes(h.id as number)).length))
      t.true(fh >= hits - 3)
    }
  }
})

test('PQIndex persistence round-trips bytes and results; corrupt files are rejected', async (t) => {
  const dim = 16
  const data = clustered({ n: 800, dim, seed: 6 })
  const index = PQIndex.trainSync(data, { dim, m: 4, nbits: 4, metric: 'cosine', ivf: { lists: 4, nprobe: 2 }, rescore: 'float32' })
  index.addSync(Array.from({ length: 800 }, (_, i) => `doc-${i}`), data)
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-pq-'))
  const path = join(dir, 'index.slmdx')
  await index.save(path)
  const loaded = await PQIndex.load(path)
  t.deepEqual(loaded.options, index.options)
  t.deepEqual(loaded.toBuffer(), index.toBuffer())
  const q = data.subarray(0, dim)
  t.deepEqual(loaded.search(q, { k: 5 }), index.search(q, { k: 5 }))
  t.is(index.search(q, { k: 1 })[0].id, 'doc-0')
  t.deepEqual(PQIndex.fromBuffer(index.toBuffer()).search(q, { k: 5 }), index.search(q, { k: 5 }))
  const bytes = readFileSync(path)
  writeFileSync(path, bytes.subarray(0, bytes.length - 9))
  t.throws(() => PQIndex.loadSync(path), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  const flipped = Buffer.from(bytes)
  flipped[flipped.length - 40] ^= 1
  t.throws(() => PQIndex.fromBuffer(flipped), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})

test('PQIndex rejects bad options and input without changing the index', (t) => {
  const dim = 8
  const data = clustered({ n: 300, dim, seed: 7 })
  t.throws(() => PQIndex.trainSync(data, { dim, m: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => PQIndex.trainSync(data, { dim, m: 4, nbits: 2 as 4 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => PQIndex.trainSync(data, { dim, m: 4, ivf: { lists: 0 } }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => PQIndex.trainSync(data, { dim, m: 4, nbits: 4, ivf: { lists: 301 } }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => PQIndex.trainSync(data, { dim, m: 4, bogus: 1 } as never), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const index = PQIndex.trainSync(data, { dim, m: 4 })
  index.addSync([1, 2], data.subarray(0, 2 * dim))
  const before = index.toBuffer()
  t.throws(() => index.addSync([2], data.subarray(0, dim)), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  const bad = data.slice(0, dim)
  bad[3] = Infinity
  t.throws(() => index.addSync([3], bad), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search(data.subarray(0, dim - 1), { k: 1 }), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => index.search(data.subarray(0, dim), { k: 1.5 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.deepEqual(index.toBuffer(), before)
})
