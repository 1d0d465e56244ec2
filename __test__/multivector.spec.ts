import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FdeEncoder, MultiVectorIndex, chamfer, chamferRerank, chamferRerankSync } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

type Clouds = { tokens: Float32Array; offsets: Uint32Array }

/** Synthetic ColBERT-like documents: unit tokens around a few of `topics` shared centres. */
function corpus(seed: number, docs: number, dim: number, topics = 30, minTokens = 4, spread = 12): Clouds {
  const r = rng(seed)
  const centres = Array.from({ length: topics }, () => Float32Array.from({ length: dim }, () => r.normal()))
  const offsets = [0]
  const tokens: number[] = []
  for (let d = 0; d < docs; d++) {
    const count = minTokens + r.below(spread)
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

/** Unnormalised Gaussian tokens (mixed signs, so per-token maxima can be negative). */
function gaussian(seed: number, n: number, dim: number): Float32Array {
  const r = rng(seed)
  return Float32Array.from({ length: n * dim }, () => r.normal())
}

/** The brute-force reference, in f64: Σ_q max_d ⟨q, d⟩ (true max; optional clamp at 0). */
function jsChamfer(q: Float32Array, d: Float32Array, dim: number, clamp = false): number {
  let total = 0
  for (let i = 0; i < q.length; i += dim) {
    let best = -Infinity
    for (let j = 0; j < d.length; j += dim) {
      let dot = 0
      for (let x = 0; x < dim; x++) dot += q[i + x] * d[j + x]
      best = Math.max(best, dot)
    }
    total += clamp ? Math.max(best, 0) : best
  }
  return total
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0)
const doc = (c: Clouds, i: number, dim: number) => c.tokens.subarray(c.offsets[i] * dim, c.offsets[i + 1] * dim)
const close = (a: number, b: number, tol = 1e-4) => Math.abs(a - b) <= tol * (1 + Math.abs(b))

test('chamfer, chamferRerank and chamferRerankSync equal a JS MaxSim reference (true max and clamped)', async (t) => {
  const dim = 37 // not a multiple of any SIMD width
  const r = rng(99)
  const docs = Array.from({ length: 40 }, (_, i) => gaussian(100 + i, 1 + r.below(30), dim))
  const q = gaussian(1, 19, dim)
  const sync = chamferRerankSync(q, docs, dim)
  const asyncScores = await chamferRerank(q, docs, dim, { threads: 2 })
  const clamped = chamferRerankSync(q, docs, dim, { clampNegative: true })
  let differ = 0
  docs.forEach((d, i) => {
    const want = jsChamfer(q, d, dim)
    const wantClamped = jsChamfer(q, d, dim, true)
    t.true(close(chamfer(q, d, dim), want), `doc ${i}: ${chamfer(q, d, dim)} vs ${want}`)
    t.true(close(sync[i], want) && close(asyncScores[i], want))
    t.true(close(clamped[i], wantClamped))
    t.is(chamfer(q, d, dim, { clampNegative: true }), clamped[i])
    if (wantClamped !== want) differ++
  })
  t.true(differ > 0, 'Gaussian inputs exercise negative maxima')
  // The CSR form gives the same scores as the per-document form.
  const c = corpus(2, 25, 48)
  const qc = doc(corpus(3, 1, 48), 0, 48)
  const csr = chamferRerankSync(qc, c, 48)
  for (let i = 0; i < 25; i++) t.is(csr[i], chamfer(qc, doc(c, i, 48), 48))
  // An empty query scores 0; an empty document, a ragged array or a NaN are errors.
  t.is(chamfer(new Float32Array(0), q, dim), 0)
  t.throws(() => chamfer(q, new Float32Array(0), dim), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => chamfer(q, new Float32Array(dim + 1), dim), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => chamferRerankSync(q, [docs[0], new Float32Array(0)], dim), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const nan = gaussian(5, 2, dim)
  nan[7] = Number.NaN
  t.throws(() => chamfer(q, nan, dim), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => chamfer(q, q, 0), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('FDE output length is R·2^k·p (or finalDim) and encodings are deterministic for a seed', (t) => {
  for (const [o, want] of [
    [{ dim: 128 }, 20 * 32 * 16],
    [{ dim: 128, simhashBits: 4, projectionDim: 8 }, 2560],
    [{ dim: 7, repetitions: 3, simhashBits: 0, projection: 'identity' as const }, 21],
    [{ dim: 9, repetitions: 2, simhashBits: 3, projection: 'dense' as const, projectionDim: 5 }, 80],
    [{ dim: 9, repetitions: 4, simhashBits: 2, finalDim: 33 }, 33],
  ] as const) {
    const enc = new FdeEncoder(o)
    t.is(enc.outputDim, want)
    t.is(enc.encodeQuery(gaussian(1, 5, o.dim)).length, want)
    t.is(enc.encodeDocument(gaussian(2, 5, o.dim)).length, want)
  }
  const c = corpus(4, 12, 32)
  const a = new FdeEncoder({ dim: 32, seed: 5, projection: 'dense', projectionDim: 8, finalDim: 300 })
  const b = new FdeEncoder({ dim: 32, seed: 5, projection: 'dense', projectionDim: 8, finalDim: 300 })
  const other = new FdeEncoder({ dim: 32, seed: 6, projection: 'dense', projectionDim: 8, finalDim: 300 })
  const ea = a.encodeDocumentsSync(c)
  t.deepEqual(ea, b.encodeDocumentsSync(c.tokens, c.offsets))
  t.notDeepEqual(ea, other.encodeDocumentsSync(c))
  const restored = FdeEncoder.fromBuffer(a.toBuffer())
  t.deepEqual(restored.options, a.options)
  t.deepEqual(restored.encodeDocumentsSync(c), ea)
  t.deepEqual(restored.encodeQueriesSync(c), a.encodeQueriesSync(c))
  // Batch (CSR or per-cloud array) = one at a time.
  const perCloud = Array.from({ length: 12 }, (_, i) => doc(c, i, 32))
  t.deepEqual(a.encodeDocumentsSync(perCloud), ea)
  for (let i = 0; i < 12; i++) t.deepEqual(ea.subarray(i * 300, (i + 1) * 300), a.encodeDocument(perCloud[i]))
})

test('FDE one-sided bound (MUVERA Lemma A.3): identity, R = 1, fill on ⇒ FDE(q) · FDE(d) ≤ Chamfer(q, d)', (t) => {
  const r = rng(7)
  let tight = 0
  for (let trial = 0; trial < 150; trial++) {
    const dim = 1 + r.below(12)
    const enc = new FdeEncoder({ dim, repetitions: 1, simhashBits: r.below(6), projection: 'identity', seed: trial })
    const q = gaussian(1000 + trial, 1 + r.below(10), dim)
    const d = gaussian(2000 + trial, 1 + r.below(15), dim)
    const lhs = dot(enc.encodeQuery(q), enc.encodeDocument(d))
    const rhs = jsChamfer(q, d, dim)
    t.true(lhs <= rhs + 1e-4 * (1 + Math.abs(rhs)), `trial ${trial}: FDE ${lhs} > Chamfer ${rhs}`)
    if (rhs - lhs < 1e-3 * (1 + Math.abs(rhs))) tight++
  }
  t.true(tight < 150, 'the bound is not trivially an equality')
  // k = 0 (one partition), no fill: query · document = Σ_q q · mean(d), exactly the formula.
  const dim = 16
  const enc = new FdeEncoder({ dim, repetitions: 1, simhashBits: 0, projection: 'identity', fillEmpty: false })
  const c = corpus(3, 2, dim)
  const q = doc(c, 0, dim)
  const d = doc(c, 1, dim)
  let want = 0
  for (let i = 0; i < q.length; i += dim) {
    for (let x = 0; x < dim; x++) {
      let mean = 0
      for (let j = 0; j < d.length; j += dim) mean += d[j + x]
      want += q[i + x] * (mean / (d.length / dim))
    }
  }
  t.true(close(dot(enc.encodeQuery(q), enc.encodeDocument(d)), want))
})

test('FDE structure: a one-token document fills every block; query encodings have ≤ |Q|·R non-zero blocks; empty clouds are zeros', (t) => {
  const dim = 10
  const enc = new FdeEncoder({ dim, repetitions: 4, simhashBits: 3, projection: 'identity' })
  const x = gaussian(11, 1, dim)
  const f = enc.encodeDocument(x)
  for (let b = 0; b < 4 * 8; b++) t.deepEqual(f.subarray(b * dim, (b + 1) * dim), x)
  // Lemma A.1: each query token touches one block per repetition.
  const cs = new FdeEncoder({ dim: 32, repetitions: 6, simhashBits: 5, projectionDim: 16 })
  for (const n of [1, 3, 9]) {
    const fq = cs.encodeQuery(gaussian(20 + n, n, 32))
    let nonZero = 0
    for (let b = 0; b < fq.length / 16; b++) if (fq.subarray(b * 16, (b + 1) * 16).some((v) => v !== 0)) nonZero++
    t.true(nonZero >= 1 && nonZero <= n * 6, `${n} tokens: ${nonZero} blocks`)
  }
  // Empty point clouds and zero vectors: defined, finite, zero (the reference gives NaN or reads out of bounds).
  for (const e of [cs, new FdeEncoder({ dim: 32, simhashBits: 0 })]) {
    t.true(e.encodeDocument(new Float32Array(0)).every((v) => v === 0))
    t.true(e.encodeQuery(new Float32Array(0)).every((v) => v === 0))
    t.true(e.encodeDocument(new Float32Array(64)).every((v) => v === 0))
  }
  const batch = cs.encodeDocumentsSync([new Float32Array(0), gaussian(3, 2, 32), new Float32Array(0)])
  t.true(batch.every(Number.isFinite))
  t.true(batch.subarray(0, cs.outputDim).every((v) => v === 0))
  t.deepEqual(batch.subarray(cs.outputDim, 2 * cs.outputDim), cs.encodeDocument(gaussian(3, 2, 32)))
})

test('FdeEncoder rejects bad options and inputs with clear errors', async (t) => {
  const bad = (o: unknown, instanceOf: typeof Error) => t.throws(() => new FdeEncoder(o as { dim: number }), { code: 'ERR_SLIMDEX_INVALID_ARG', instanceOf })
  bad({ dim: 0 }, RangeError)
  bad({ dim: 8, simhashBits: 31 }, RangeError)
  bad({ dim: 8, repetitions: 1.5 }, Error)
  bad({ dim: 8, projection: 'gaussian' }, RangeError)
  bad({ dim: 8, seeed: 1 }, TypeError)
  bad({ dim: '8' }, TypeError)
  // 20 · 2^30 · 16 floats per encoding: refused before allocating anything.
  t.throws(() => new FdeEncoder({ dim: 8, simhashBits: 30 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /limit/ })
  const enc = new FdeEncoder({ dim: 4 })
  t.throws(() => enc.encodeQuery(new Float32Array(5)), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => enc.encodeDocumentsSync(new Float32Array(12), [0, 2, 1, 3]), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /non-decreasing/ })
  t.throws(() => enc.encodeDocumentsSync(new Float32Array(12), [1, 3]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => enc.encodeDocumentsSync(new Float32Array(12), [0, 2]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const nan = new Float32Array(8)
  nan[5] = Number.NaN
  await t.throwsAsync(enc.encodeQueries(nan, [0, 2]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => FdeEncoder.fromBuffer(Buffer.from('not an encoder')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})

test('MultiVectorIndex: brute force equals the JS reference; MUVERA with candidates = N equals it exactly; recall reported', async (t) => {
  const dim = 32
  const n = 400
  const c = corpus(7, n, dim)
  const index = new MultiVectorIndex({ dim, storage: 'f32', fdeStorage: 'f32' })
  await index.add(undefined, c.tokens, c.offsets)
  t.is(index.size, n)
  t.is(index.tokenCount, c.offsets[n])
  t.is(index.fdeDim, 10240)
  t.is(new MultiVectorIndex({ dim: 6, fde: { projection: 'identity', repetitions: 3, simhashBits: 2 } }).fdeDim, 3 * 4 * 6)
  const queries = corpus(8, 20, dim)
  let found = 0
  for (let qi = 0; qi < 20; qi++) {
    const q = doc(queries, qi, dim)
    const ref = Array.from({ length: n }, (_, i) => ({ id: i, score: jsChamfer(q, doc(c, i, dim), dim) })).sort((a, b) => b.score - a.score || a.id - b.id)
    const brute = index.search(q, { k: 10, mode: 'bruteforce' })
    t.deepEqual(brute.map((h) => h.id), ref.slice(0, 10).map((h) => h.id))
    brute.forEach((h, i) => t.true(close(h.score, ref[i].score)))
    t.deepEqual(index.search(q, { k: 10, candidates: n }), brute)
    t.deepEqual(index.search(q, { k: 10, candidates: n, mode: 'singlevector' }), brute)
    const approx = index.search(q, { k: 10, candidates: 80 })
    const want = new Set(ref.slice(0, 10).map((h) => h.id))
    found += approx.filter((h) => want.has(h.id as number)).length
    // Re-ranked scores are exact Chamfer scores of the returned documents.
    for (const h of approx) t.true(close(h.score, jsChamfer(q, doc(c, h.id as number, dim), dim)))
  }
  t.log(`MUVERA (R=20, k=5, countsketch 16) + exact rerank of 80/400 candidates: recall@10 ${(found / 200).toFixed(3)} (synthetic clustered)`)
  t.true(found / 200 > 0.7)
  // FDE candidate scores are the inner products of the encoder's own encodings.
  const enc = index.encoder()
  const q = doc(queries, 0, dim)
  const fq = enc.encodeQuery(q)
  const cands = index.candidates(q, { n: 5 })
  t.is(cands.length, 5)
  for (const h of cands) t.true(close(h.score, dot(fq, enc.encodeDocument(doc(c, h.id as number, dim))), 1e-3))
  const sv = index.candidates(q, { n: 30, method: 'singlevector' })
  t.is(new Set(sv.map((h) => h.id)).size, 30)
})

test('MultiVectorIndex: searchBatch equals search; f16/int8 storage stays close to f32; merging gives lower bounds', async (t) => {
  const dim = 24
  const c = corpus(12, 150, dim)
  const queries = corpus(13, 6, dim)
  const f32 = new MultiVectorIndex({ dim, fde: { repetitions: 10, simhashBits: 4, projectionDim: 8 }, storage: 'f32' }).addSync(undefined, c)
  const batch = await f32.searchBatch(queries, { k: 5, candidates: 40 })
  t.deepEqual(f32.searchBatchSync(queries.tokens, queries.offsets, { k: 5, candidates: 40, threads: 1 }), batch)
  for (let i = 0; i < 6; i++) t.deepEqual(batch[i], f32.search(doc(queries, i, dim), { k: 5, candidates: 40 }))
  for (const storage of ['f16', 'int8'] as const) {
    const idx = new MultiVectorIndex({ dim, fde: f32.encoder(), storage }).addSync(undefined, c)
    for (let i = 0; i < 6; i++) {
      const q = doc(queries, i, dim)
      const exact = f32.search(q, { k: 150, candidates: 150 })
      const got = idx.search(q, { k: 150, candidates: 150 })
      const tol = storage === 'f16' ? 2e-3 : 2e-2
      for (const h of got) t.true(Math.abs(h.score - exact.find((e) => e.id === h.id)!.score) < tol * (q.length / dim), `${storage}`)
    }
  }
  const q = doc(c, 7, dim)
  const exact = f32.search(q, { k: 150, candidates: 150 })
  const merged = f32.search(q, { k: 150, candidates: 150, mergeThreshold: 0.7 })
  for (const m of merged) t.true(m.score <= exact.find((e) => e.id === m.id)!.score + 1e-3)
  t.deepEqual(f32.search(q, { k: 150, candidates: 150, mergeThreshold: 1e9 }), exact)
  t.is(f32.search(q, { k: 1 })[0].id, 7, "a document's own tokens find it first")
})

test('MultiVectorIndex persistence round-trips (encoder matrices included) and rejects corruption', async (t) => {
  const dim = 16
  const c = corpus(9, 50, dim)
  const index = new MultiVectorIndex({ dim, fde: { projection: 'dense', projectionDim: 8, finalDim: 1000, seed: 3 }, storage: 'int8' })
  index.addSync(Array.from({ length: 50 }, (_, i) => `doc-${i}`), c)
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-mv-'))
  await index.save(join(dir, 'mv.slmdx'))
  const loaded = await MultiVectorIndex.load(join(dir, 'mv.slmdx'))
  t.deepEqual(loaded.options, index.options)
  t.is(loaded.fdeDim, 1000)
  t.is(loaded.encoder().outputDim, 1000)
  const q = doc(c, 4, dim)
  t.deepEqual(loaded.search(q, { k: 5 }), index.search(q, { k: 5 }))
  t.is(loaded.search(q, { k: 1 })[0].id, 'doc-4')
  t.deepEqual(loaded.encoder().encodeQuery(q), index.encoder().encodeQuery(q))
  t.deepEqual(MultiVectorIndex.fromBuffer(index.toBuffer()).toBuffer(), index.toBuffer())
  index.saveSync(join(dir, 'sync.slmdx'))
  t.deepEqual(MultiVectorIndex.loadSync(join(dir, 'sync.slmdx')).toBuffer(), index.toBuffer())
  const bytes = readFileSync(join(dir, 'mv.slmdx'))
  for (const at of [40, 200, bytes.length - 9]) {
    const bad = Buffer.from(bytes)
    bad[at] ^= 1
    writeFileSync(join(dir, 'bad.slmdx'), bad)
    t.throws(() => MultiVectorIndex.loadSync(join(dir, 'bad.slmdx')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  }
  t.throws(() => MultiVectorIndex.fromBuffer(bytes.subarray(0, bytes.length - 1)), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.throws(() => FdeEncoder.fromBuffer(bytes), { code: 'ERR_SLIMDEX_CORRUPT_FILE' }, 'wrong kind')
  await t.throwsAsync(MultiVectorIndex.load(join(dir, 'missing.slmdx')), { code: 'ERR_SLIMDEX_IO' })
})

test('MultiVectorIndex rejects bad input and leaves the index unchanged; add reports progress and honours abort', async (t) => {
  const dim = 16
  const index = new MultiVectorIndex({ dim, fde: { repetitions: 4, simhashBits: 3 } })
  index.addSync(['a', 'b'], [gaussian(1, 3, dim), gaussian(2, 1, dim)])
  const before = index.toBuffer()
  const inv = { code: 'ERR_SLIMDEX_INVALID_ARG' }
  t.throws(() => index.addSync(['x'], new Float32Array(dim * 2), [0, 3]), inv) // last offset ≠ tokens
  t.throws(() => index.addSync(['x', 'y'], new Float32Array(dim * 2), [0, 2, 2]), inv) // empty document
  t.throws(() => index.addSync(['x', 'y'], { tokens: new Float32Array(dim * 3), offsets: [0, 2, 1, 3] }), inv) // not monotone
  t.throws(() => index.addSync(['x', 'y'], [gaussian(3, 1, dim), new Float32Array(0)]), inv) // empty document
  t.throws(() => index.addSync(['x'], new Float32Array(dim + 3), [0, 1]), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => index.addSync(['x', 'y'], new Float32Array(dim), [0, 1]), inv) // ids count
  t.throws(() => index.addSync(['a'], new Float32Array(dim), [0, 1]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  const nan = new Float32Array(dim)
  nan[3] = Number.NaN
  t.throws(() => index.addSync(['z'], nan, [0, 1]), inv)
  await t.throwsAsync(index.add(['z'], nan, [0, 1]), inv)
  t.deepEqual(index.toBuffer(), before)
  t.throws(() => index.search(new Float32Array(dim + 1), { k: 3 }), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => index.search(new Float32Array(0), { k: 3 }), inv)
  t.throws(() => index.search(gaussian(1, 1, dim), { k: 0 }), inv)
  t.throws(() => index.search(gaussian(1, 1, dim), { k: 2, mergeThreshold: Number.NaN }), inv)
  t.throws(() => index.search(gaussian(1, 1, dim), { k: 2, mode: 'exact' as 'muvera' }), inv)
  t.is(index.search(gaussian(1, 1, dim), { k: 10 }).length, 2, 'k above size returns everything')
  t.throws(() => new MultiVectorIndex({ dim: 8, fde: new FdeEncoder({ dim: 16 }) }), inv)
  t.throws(() => new MultiVectorIndex({ dim: 8, fdeStorage: 'int8' as 'f16' }), inv)
  // Progress: 1300 documents are encoded in steps of 512, and the last report is the total.
  const big = corpus(21, 1300, dim, 10, 1, 3)
  const seen: Array<[number, number]> = []
  const idx = new MultiVectorIndex({ dim, fde: { repetitions: 4, simhashBits: 3 } })
  await idx.add(undefined, big, { onProgress: (d, total) => seen.push([d, total]) })
  await new Promise((r) => setImmediate(r))
  t.true(seen.length >= 1)
  t.deepEqual(seen[seen.length - 1], [1300, 1300])
  const aborted = new AbortController()
  aborted.abort()
  await t.throwsAsync(idx.add(undefined, big, { signal: aborted.signal }), { code: 'ABORT_ERR' })
  await t.throwsAsync(idx.add(undefined, big, { onProgress: 5 as never }), { instanceOf: TypeError, code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.is(idx.size, 1300)
  t.true(idx.memoryUsage().components.tokens === big.tokens.length * 2)
  t.true(idx.memoryUsage().components.fde > 0)
})

test("MultiVectorIndex fdeStorage 'pq': candidates = N equals brute force exactly; recall reported; saved with its codebooks; memory by component", async (t) => {
  const dim = 32
  const n = 500
  const c = corpus(21, n, dim)
  const queries = corpus(22, 15, dim)
  const fde = { repetitions: 20, simhashBits: 4, projectionDim: 8 } // 2,560 dims
  const f16 = new MultiVectorIndex({ dim, fde, storage: 'f32' }).addSync(undefined, c)
  for (const nbits of [8, 4] as const) {
    const pq = new MultiVectorIndex({ dim, fde: f16.encoder(), storage: 'f32', fdeStorage: 'pq', pq: { nbits, iterations: 6 } })
    t.deepEqual(pq.options.pq, { nbits, trainingSize: 8192, iterations: 6, seed: 42 })
    // First batch trains the codebooks (≥ 256 documents for 8-bit), the second reuses them.
    const split = { tokens: c.tokens.subarray(0, c.offsets[300] * dim), offsets: c.offsets.subarray(0, 301) }
    await pq.add(undefined, split.tokens, split.offsets)
    const restOffsets = Uint32Array.from(c.offsets.subarray(300), (o) => o - c.offsets[300])
    await pq.add(Array.from({ length: n - 300 }, (_, i) => 300 + i), c.tokens.subarray(c.offsets[300] * dim), restOffsets)
    let recPq = 0
    let recF16 = 0
    for (let qi = 0; qi < 15; qi++) {
      const q = doc(queries, qi, dim)
      const brute = f16.search(q, { k: 10, mode: 'bruteforce' })
      t.deepEqual(pq.search(q, { k: 10, candidates: n }), brute, `nbits ${nbits} query ${qi}`)
      const want = new Set(brute.map((h) => h.id))
      recPq += pq.search(q, { k: 10, candidates: 60 }).filter((h) => want.has(h.id)).length / 150
      recF16 += f16.search(q, { k: 10, candidates: 60 }).filter((h) => want.has(h.id)).length / 150
    }
    t.log(`PQ ${nbits}-bit FDEs (2,560 dims, m = ${nbits === 8 ? 320 : 640}): recall@10 after re-ranking 60 of ${n} candidates ${recPq.toFixed(3)} (f16 FDEs ${recF16.toFixed(3)})`)
    t.true(recPq > recF16 - 0.15 && recPq > 0.4)
    pq.shrinkToFit()
    const mem = pq.memoryUsage()
    t.is(mem.components.fde, nbits === 8 ? n * 320 : Math.ceil(n / 32) * 16 * 640)
    t.is(mem.components.fdeCodebooks, 2560 * (1 << nbits) * 4)
    const back = MultiVectorIndex.fromBuffer(pq.toBuffer())
    t.deepEqual(back.options, pq.options)
    const q = doc(queries, 3, dim)
    t.deepEqual(back.candidates(q, { n: 30 }), pq.candidates(q, { n: 30 }))
    t.deepEqual(back.search(q, { k: 5, candidates: 40 }), pq.search(q, { k: 5, candidates: 40 }))
    const bytes = pq.toBuffer()
    const bad = Buffer.from(bytes)
    bad[Math.floor(bytes.length * 0.9)] ^= 4
    t.throws(() => MultiVectorIndex.fromBuffer(bad), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  }
  // The first batch must be large enough to train 2^nbits centroids; the index stays empty.
  const small = new MultiVectorIndex({ dim, fde, fdeStorage: 'pq' })
  t.throws(() => small.addSync(undefined, { tokens: c.tokens.subarray(0, c.offsets[50] * dim), offsets: c.offsets.subarray(0, 51) }), { message: /at least 2\^nbits = 256 documents/ })
  t.is(small.size, 0)
  // Two adds started together on an empty PQ index: the second waits for the first's codebooks,
  // so the index equals adding the batches one after the other (default ids continue).
  const split = { tokens: c.tokens.subarray(0, c.offsets[300] * dim), offsets: c.offsets.subarray(0, 301) }
  const rest = { tokens: c.tokens.subarray(c.offsets[300] * dim), offsets: Uint32Array.from(c.offsets.subarray(300), (o) => o - c.offsets[300]) }
  const pqOptions = { dim, fde: f16.encoder(), fdeStorage: 'pq', pq: { nbits: 4, iterations: 4 } } as const
  const together = new MultiVectorIndex(pqOptions)
  const restTokens = rest.tokens.slice()
  const adds = [together.add(undefined, split), together.add(undefined, restTokens, rest.offsets)]
  restTokens.fill(0) // the waiting add() copied its input when called
  // A synchronous add cannot wait: it is refused while the codebooks train, and changes nothing.
  t.throws(() => together.addSync(undefined, split), { code: 'ERR_SLIMDEX_INVALID_STATE' })
  await Promise.all(adds)
  const inTurn = new MultiVectorIndex(pqOptions)
  await inTurn.add(undefined, split)
  await inTurn.add(undefined, rest)
  t.is(together.size, n)
  t.deepEqual(together.toBuffer(), inTurn.toBuffer())
  // A failed first add lets the waiting one train instead.
  const retry = new MultiVectorIndex(pqOptions)
  const tooFew = { tokens: c.tokens.subarray(0, c.offsets[3] * dim), offsets: c.offsets.subarray(0, 4) }
  const [first, second] = await Promise.allSettled([retry.add(undefined, tooFew), retry.add(undefined, split)])
  t.is(first.status, 'rejected')
  t.is(second.status, 'fulfilled')
  t.is(retry.size, 300)
  t.throws(() => new MultiVectorIndex({ dim, fde, fdeStorage: 'pq', pq: { nbits: 5 as 8 } }), { instanceOf: RangeError, message: /pq.nbits/ })
  t.throws(() => new MultiVectorIndex({ dim, fde, fdeStorage: 'pq', pq: { m: 7 } }), { message: /m must divide dim/ })
})
