import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FlatIndex } from '../index.ts'
import { clustered } from '../benches/lib/data.mjs'

type Storage = 'float32' | 'float16' | 'float8' | 'int8'
const STORAGES: Storage[] = ['float32', 'float16', 'float8', 'int8']

function normalize(v: Float32Array): Float32Array {
  let s = 0
  for (const x of v) s += x * x
  const n = Math.sqrt(s)
  return Float32Array.from(v, (x) => x / n)
}

test('round-trip error of every storage is within the format bound', (t) => {
  const dim = 48
  const n = 300
  const data = clustered({ n, dim, seed: 1 })
  const lo = new Float64Array(dim).fill(Infinity)
  const hi = new Float64Array(dim).fill(-Infinity)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      lo[j] = Math.min(lo[j], data[i * dim + j])
      hi[j] = Math.max(hi[j], data[i * dim + j])
    }
  }
  for (const storage of STORAGES) {
    const index = new FlatIndex({ dim, storage, metric: 'ip' })
    index.addSync(undefined, data)
    for (let i = 0; i < n; i += 7) {
      const r = index.reconstruct(i)!
      for (let j = 0; j < dim; j++) {
        const x = data[i * dim + j]
        const err = Math.abs(r[j] - x)
        const a = Math.abs(x)
        const bound = {
          float32: 0,
          float16: a >= 2 ** -14 ? a * 2 ** -11 : 2 ** -25,
          float8: a >= 2 ** -6 ? a * 2 ** -4 : 2 ** -10,
          int8: ((hi[j] - lo[j]) / 255) * 0.5 + 1e-6,
        }[storage]
        t.true(err <= bound, `${storage}: ${x} -> ${r[j]}`)
      }
    }
    t.is(index.reconstruct(n), undefined)
    const bytes = index.memoryUsage().components.vectors
    t.is(bytes, n * dim * { float32: 4, float16: 2, float8: 1, int8: 1 }[storage])
  }
})

test('search is exact over the stored vectors, for every storage and metric', (t) => {
  const dim = 40
  const n = 500
  const data = clustered({ n, dim, seed: 2 })
  for (const storage of STORAGES) {
    for (const metric of ['ip', 'l2', 'cosine'] as const) {
      const index = new FlatIndex({ dim, storage, metric })
      index.addSync(undefined, data)
      const stored = Array.from({ length: n }, (_, i) => index.reconstruct(i)!)
      for (let qi = 0; qi < 5; qi++) {
        let q: Float32Array = data.slice(qi * 61 * dim, (qi * 61 + 1) * dim)
        if (metric === 'cosine') q = normalize(q)
        const scores = stored.map((x, i) => {
          let s = 0
          for (let j = 0; j < dim; j++) s += metric === 'l2' ? -((q[j] - x[j]) ** 2) : q[j] * x[j]
          return { i, s }
        })
        scores.sort((a, b) => b.s - a.s || a.i - b.i)
        const got = index.search(q, { k: 10 })
        const kth = scores[9].s
        for (let r = 0; r < 10; r++) {
          t.true(Math.abs(got[r].score - scores[r].s) <= 1e-4 * (1 + Math.abs(scores[r].s)), `${storage} ${metric}`)
          const truth = scores.find((s) => s.i === got[r].id)!.s
          t.true(truth >= kth - 1e-4 * (1 + Math.abs(kth)))
        }
      }
    }
  }
})

test('Matryoshka truncation equals indexing the explicitly truncated, renormalised vectors', async (t) => {
  const dim = 64
  const cut = 24
  const n = 400
  const data = clustered({ n, dim, seed: 3 })
  const truncated = new Float32Array(n * cut)
  for (let i = 0; i < n; i++) truncated.set(data.subarray(i * dim, i * dim + cut), i * cut)
  const a = new FlatIndex({ dim, truncateTo: cut, storage: 'float8' })
  await a.add(undefined, data)
  const b = new FlatIndex({ dim: cut, storage: 'float8' })
  await b.add(undefined, truncated)
  for (let qi = 0; qi < 10; qi++) {
    const q = data.subarray(qi * dim, (qi + 1) * dim)
    t.deepEqual(a.search(q, { k: 10 }), b.search(q.subarray(0, cut), { k: 10 }))
  }
  const r = a.reconstruct(0)!
  t.is(r.length, cut)
  t.true(Math.abs(r.reduce((s, x) => s + x * x, 0) - 1) < 0.05)
  t.throws(() => new FlatIndex({ dim, truncateTo: dim + 1 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('FlatIndex persistence and bad input', async (t) => {
  const dim = 16
  const data = clustered({ n: 100, dim, seed: 4 })
  const index = new FlatIndex({ dim, storage: 'int8', metric: 'l2', truncateTo: 12 })
  index.fit(data)
  index.addSync(Array.from({ length: 100 }, (_, i) => i * 10), data)
  const path = join(mkdtempSync(join(tmpdir(), 'slimdex-flat-')), 'flat.slmdx')
  index.saveSync(path)
  const back = await FlatIndex.load(path)
  t.deepEqual(back.options, index.options)
  t.deepEqual(back.toBuffer(), index.toBuffer())
  const q = data.subarray(5 * dim, 6 * dim)
  t.deepEqual(back.search(q, { k: 3 }), index.search(q, { k: 3 }))
  t.is(index.search(q, { k: 1 })[0].id, 50)
  const batch = await index.searchBatch(data.subarray(0, 3 * dim), { k: 4 })
  t.deepEqual(batch[2], index.search(data.subarray(2 * dim, 3 * dim), { k: 4 }))
  const buf = index.toBuffer()
  t.throws(() => FlatIndex.fromBuffer(buf.subarray(0, buf.length - 1)), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.throws(() => index.fit(data), { code: 'ERR_SLIMDEX_INVALID_STATE' })
  t.throws(() => index.addSync([10], data.subarray(0, dim)), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => new FlatIndex({ dim, storage: 'bf16' as 'float8' }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search(new Float32Array(dim - 1), { k: 1 }), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  const cos = new FlatIndex({ dim: 2 })
  t.throws(() => cos.addSync([1], [0, 0]), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /zero norm/ })
})
