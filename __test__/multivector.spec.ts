import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FdeEncoder, MultiVectorIndex, chamfer, chamferScoresSync } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

/** Synthetic ColBERT-like documents: unit tokens around a few of `topics` shared centres. */
function corpus(seed: number, docs: number, dim: number, topics = 30) {
  const r = rng(seed)
  const centres = Array.from({ length: topics }, () => Float32Array.from({ length: dim }, () => r.normal()))
  const offsets = [0]
  const tokens: number[] = []
  for (let d = 0; d < docs; d++) {
    const count = 4 + r.below(12)
    const mine = [r.below(topics), r.below(topics), r.below(topics)]
    for (let t = 0; t < count; t++) {
      const c = centres[mine[r.below(3)]]
      const v = Array.from(c, (x) => x + 0.6 * r.normal())
      const norm = Math.hypot(...v)
      tokens.push(...v.map((x) => x / norm))
    }
    offsets.push(offsets[d] + count)
  }
  return { tokens: Float32Array.from(tokens), offsets: Uint32Array.from(offsets) }
}

function jsChamfer(q: Float32Array, d: Float32Array, dim: number): number {
  let total = 0
  for (let i = 0; i < q.length; i += dim) {
    let best = -Infinity
    for (let j = 0; j < d.length; j += dim) {
      let dot = 0
      for (let x = 0; x < dim; x++) dot += q[i + x] * d[j + x]
      best = Math.max(best, dot)
    }
    total += best
  }
  return total
}

const doc = (c: { tokens: Float32Array; offsets: Uint32Array }, i: number, dim: number) => c.tokens.subarray(c.offsets[i] * dim, c.offsets[i + 1] * dim)

test('chamfer and chamferScoresSync equal a JS MaxSim reference', (t) => {
  const dim = 48
  const c = corpus(1, 30, dim)
  const q = doc(corpus(2, 1, dim), 0, dim)
  const batch = chamferScoresSync(q, c, dim)
  for (let i = 0; i < 30; i++) {
    const want = jsChamfer(q, doc(c, i, dim), dim)
    t.true(Math.abs(chamfer(q, doc(c, i, dim), dim) - want) < 1e-4)
    t.true(Math.abs(batch[i] - want) < 1e-4)
  }
  t.throws(() => chamfer(q, new Float32Array(47), dim), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('FDE with one partition and identity projection: query · document = Σ q · mean(d)', (t) => {
  const dim = 16
  const enc = new FdeEncoder({ dim, repetitions: 1, simhashBits: 0, projection: 'identity', fillEmpty: false })
  t.is(enc.outputDim, dim)
  const c = corpus(3, 2, dim)
  const q = doc(c, 0, dim)
  const d = doc(c, 1, dim)
  const fq = enc.encodeQuery(q)
  const fd = enc.encodeDocument(d)
  let want = 0
  for (let i = 0; i < q.length; i += dim) {
    for (let x = 0; x < dim; x++) {
      let mean = 0
      for (let j = 0; j < d.length; j += dim) mean += d[j + x]
      want += q[i + x] * (mean / (d.length / dim))
    }
  }
  const got = fq.reduce((s, v, i) => s + v * fd[i], 0)
  t.true(Math.abs(got - want) < 1e-4, `${got} vs ${want}`)
  const again = FdeEncoder.fromBuffer(new FdeEncoder({ dim: 32, seed: 5 }).toBuffer())
  t.deepEqual(again.encodeQuery(doc(corpus(4, 1, 32), 0, 32)), new FdeEncoder({ dim: 32, seed: 5 }).encodeQuery(doc(corpus(4, 1, 32), 0, 32)))
})

test('MultiVectorIndex: brute force equals the JS reference; MUVERA with all candidates equals brute force; recall reported', async (t) => {
  const dim = 32
  const n = 400
  const c = corpus(7, n, dim)
  const index = new MultiVectorIndex({ fde: { dim }, storage: 'f32' })
  await index.add(undefined, c)
  t.is(index.size, n)
  t.is(index.tokenCount, c.offsets[n])
  const queries = corpus(8, 20, dim)
  let found = 0
  for (let qi = 0; qi < 20; qi++) {
    const q = doc(queries, qi, dim)
    const ref = Array.from({ length: n }, (_, i) => ({ id: i, score: jsChamfer(q, doc(c, i, dim), dim) })).sort((a, b) => b.score - a.score || a.id - b.id)
    const brute = index.search(q, { k: 10, mode: 'bruteforce' })
    t.deepEqual(brute.map((h) => h.id), ref.slice(0, 10).map((h) => h.id))
    brute.forEach((h, i) => t.true(Math.abs(h.score - ref[i].score) < 1e-4))
    t.deepEqual(index.search(q, { k: 10, candidates: n }), brute)
    const approx = index.search(q, { k: 10, candidates: 80 })
    const want = new Set(ref.slice(0, 10).map((h) => h.id))
    found += approx.filter((h) => want.has(h.id as number)).length
  }
  t.log(`MUVERA (R=20, k=5, countsketch 16) + Chamfer rerank of 80 candidates: recall@10 ${(found / 200).toFixed(3)} (synthetic, ${n} docs)`)
  t.true(found / 200 > 0.7)
  const batch = await index.searchBatch(queries, { k: 5, candidates: 50 })
  t.deepEqual(batch[3], index.search(doc(queries, 3, dim), { k: 5, candidates: 50 }))
})

test('MultiVectorIndex persistence round-trips and rejects corruption; bad input leaves it unchanged', async (t) => {
  const dim = 16
  const c = corpus(9, 50, dim)
  const index = new MultiVectorIndex({ fde: { dim } })
  index.addSync(Array.from({ length: 50 }, (_, i) => `doc-${i}`), c)
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-mv-'))
  await index.save(join(dir, 'mv.slmdx'))
  const loaded = await MultiVectorIndex.load(join(dir, 'mv.slmdx'))
  const q = doc(c, 4, dim)
  t.deepEqual(loaded.search(q, { k: 5 }), index.search(q, { k: 5 }))
  t.is(loaded.search(q, { k: 1 })[0].id, 'doc-4')
  t.deepEqual(MultiVectorIndex.fromBuffer(index.toBuffer()).toBuffer(), index.toBuffer())
  const bytes = readFileSync(join(dir, 'mv.slmdx'))
  bytes[200] ^= 1
  writeFileSync(join(dir, 'bad.slmdx'), bytes)
  t.throws(() => MultiVectorIndex.loadSync(join(dir, 'bad.slmdx')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  const before = index.size
  t.throws(() => index.addSync(['x'], { tokens: new Float32Array(dim * 2), offsets: [0, 3] }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.addSync(['x', 'y'], { tokens: new Float32Array(dim * 2), offsets: [0, 2, 2] }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.addSync(['doc-1'], { tokens: new Float32Array(dim), offsets: [0, 1] }), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  const nan = new Float32Array(dim)
  nan[3] = Number.NaN
  t.throws(() => index.addSync(['z'], { tokens: nan, offsets: [0, 1] }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search(new Float32Array(dim + 1), { k: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search(q, { k: 0 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.is(index.size, before)
  t.true(index.memoryUsage().components.tokens > 0)
})
