import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BinaryIndex, hammingDistance, inspectIndex, nativeInfo, packSigns, setSimdTier } from '../index.ts'
import type { Hit } from '../index.ts'
import { clustered, randomBytes, rng } from '../benches/lib/data.mjs'

type Rescore = 'none' | 'asymmetric' | 'int8' | 'float32'
const RESCORES: Rescore[] = ['none', 'asymmetric', 'int8', 'float32']

function popcount8(x: number): number {
  let c = 0
  for (; x; x &= x - 1) c++
  return c
}
function jsHamming(a: Uint8Array, b: Uint8Array): number {
  let d = 0
  for (let i = 0; i < a.length; i++) d += popcount8(a[i] ^ b[i])
  return d
}
function jsPack(v: Float32Array, dim: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(dim / 8))
  for (let i = 0; i < dim; i++) if (v[i] > 0) out[i >> 3] |= 0x80 >> (i & 7)
  return out
}
/** f32 dot product accumulated exactly as the core does (sequential, rounding each step). */
function dotF32(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s = Math.fround(s + Math.fround(a[i] * b[i]))
  return s
}

/**
 * Independent reference of BinaryIndex.search for threshold 'zero', metric 'ip', and int8
 * data whose per-dimension max |x| is 127 (so the int8 scale is exactly 1).
 */
function referenceSearch(data: Float32Array, dim: number, q: Float32Array, rescore: Rescore, k: number, candidates?: number): Hit[] {
  const n = data.length / dim
  const qc = jsPack(q, dim)
  const byHamming = Array.from({ length: n }, (_, i) => {
    const v = data.subarray(i * dim, (i + 1) * dim)
    return { i, h: jsHamming(qc, jsPack(v, dim)), v }
  }).sort((a, b) => a.h - b.h || a.i - b.i)
  if (rescore === 'none') return byHamming.slice(0, k).map(({ i, h }) => ({ id: i, score: dim - 2 * h }))
  const c = Math.max(candidates ?? 10 * k, k)
  const scored = byHamming.slice(0, c).map(({ i, v }) => {
    let score: number
    if (rescore === 'asymmetric') {
      const signs = Float32Array.from(v, (x) => (x > 0 ? 1 : -1))
      score = dotF32(q, signs)
    } else score = dotF32(q, v)
    return { id: i, score }
  })
  return scored.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k)
}

/** Integer-valued vectors in [-127, 127] with row 0 all 127: every float sum is exact. */
function integerData(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = i < dim ? 127 : r.below(9) * 30 - 120
  return out
}

test('nativeInfo reports the target, the SIMD tier and the version', (t) => {
  const info = nativeInfo()
  t.regex(info.target, /^[a-z0-9_]+-[a-z]+$/)
  t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(info.simd))
  t.regex(info.version, /^\d+\.\d+\.\d+/)
  t.log(`native: ${info.target}, SIMD ${info.simd} (detected ${info.simdDetected})`)
})

test('hammingDistance equals a JS popcount on every SIMD tier for lengths 1..2048 bits', (t) => {
  const detected = nativeInfo().simdDetected
  const tiers = ['scalar', 'avx2', 'avx512', 'neon'].filter((tier) => setSimdTier(tier as 'scalar') === tier)
  try {
    for (const tier of tiers) {
      setSimdTier(tier as 'scalar')
      for (let bits = 1; bits <= 2048; bits += bits < 80 ? 1 : 37) {
        const bytes = Math.ceil(bits / 8)
        const a = randomBytes(bytes, bits)
        const b = randomBytes(bytes, bits + 99991)
        const pad = bytes * 8 - bits
        if (pad) {
          a[bytes - 1] &= 0xff << pad
          b[bytes - 1] &= 0xff << pad
        }
        if (hammingDistance(a, b) !== jsHamming(a, b)) return t.fail(`${tier}: ${bits} bits`)
      }
    }
  } finally {
    setSimdTier(detected as 'scalar')
  }
  t.log(`tiers compared: ${tiers.join(', ')}`)
  t.pass()
})

test('packSigns packs most significant bit first, like numpy.packbits', (t) => {
  const v = new Float32Array([1, -1, 0, -2, -1, -1, -1, 0.5, 3, 0.1])
  t.deepEqual([...packSigns(v, 10)], [0b1000_0001, 0b1100_0000])
  const many = clustered({ n: 20, dim: 77, seed: 5 })
  const packed = packSigns(many, 77)
  for (let i = 0; i < 20; i++) {
    t.deepEqual(packed.subarray(i * 10, (i + 1) * 10), jsPack(many.subarray(i * 77, (i + 1) * 77), 77))
  }
})

test('top-k equals the brute-force reference exactly for every rescore mode, k = 1, N and N + 5', (t) => {
  const dim = 40
  const n = 150
  const data = integerData(n, dim, 11)
  const queries = integerData(8, dim, 12).subarray(dim) // skip the all-127 row
  for (const rescore of RESCORES) {
    const index = new BinaryIndex({ dim, rescore })
    index.addSync(undefined, data)
    for (const k of [1, 7, n, n + 5]) {
      for (const candidates of [undefined, 3, n]) {
        for (let qi = 0; qi < queries.length / dim; qi++) {
          const q = queries.subarray(qi * dim, (qi + 1) * dim)
          const got = index.search(q, { k, candidates })
          const want = referenceSearch(data, dim, q, rescore, k, candidates)
          t.deepEqual(got, want, `${rescore} k=${k} candidates=${candidates} query ${qi}`)
        }
      }
    }
  }
})

/** L2-normalises like the core: f64 norm, each component rounded to f32. */
function normalized(v: Float32Array): Float32Array {
  let sum = 0
  for (const x of v) sum += x * x
  const norm = Math.sqrt(sum)
  return Float32Array.from(v, (x) => x / norm)
}

test('recall@10 against exact cosine search on seeded clustered data (synthetic), per rescore mode', (t) => {
  const dim = 128
  const n = 4000
  // Queries come from the same clusters as the data (one draw, split), as real queries would.
  const all = clustered({ n: n + 50, dim, clusters: 40, spread: 0.5, seed: 21 })
  const data = all.subarray(0, n * dim)
  const queries = all.subarray(n * dim)
  const unit = Array.from({ length: n }, (_, i) => normalized(data.subarray(i * dim, (i + 1) * dim)))
  const exact: number[][] = []
  for (let qi = 0; qi < 50; qi++) {
    const q = normalized(queries.subarray(qi * dim, (qi + 1) * dim))
    const all = unit.map((v, i) => ({ i, s: dotF32(q, v) }))
    all.sort((a, b) => b.s - a.s || a.i - b.i)
    exact.push(all.slice(0, 10).map((x) => x.i))
  }
  const report: string[] = []
  const recallOf: Record<string, number> = {}
  for (const rescore of RESCORES) {
    const index = new BinaryIndex({ dim, rescore, metric: 'cosine' })
    index.addSync(undefined, data)
    for (const candidates of [100, 1000]) {
      const results = index.searchBatchSync(queries, { k: 10, candidates })
      let found = 0
      results.forEach((hits, qi) => {
        const want = new Set(exact[qi])
        found += hits.filter((h) => want.has(h.id as number)).length
      })
      const recall = found / (10 * 50)
      report.push(`${rescore}@${candidates}: ${recall.toFixed(3)}`)
      recallOf[`${rescore}@${candidates}`] = recall
    }
  }
  t.log(`recall@10 (n=${n}, dim=${dim}, synthetic clustered, cosine): ${report.join(', ')}`)
  t.is(recallOf['float32@1000'], 1, 'float32 rescoring with enough candidates is exact')
  // int8 keeps almost all of float32's quality at the same candidate count; both beat raw Hamming.
  for (const c of [100, 1000]) {
    t.true(recallOf[`int8@${c}`] >= 0.9 * recallOf[`float32@${c}`], `int8 vs float32 at ${c}`)
    t.true(recallOf[`float32@${c}`] > recallOf['none@100'], `rescoring beats Hamming order at ${c}`)
  }
})

test('cosine metric normalises vectors and queries; string ids round-trip', (t) => {
  const dim = 16
  const data = clustered({ n: 100, dim, seed: 3 })
  const ids = Array.from({ length: 100 }, (_, i) => `doc-${i}`)
  const index = new BinaryIndex({ dim, rescore: 'float32', metric: 'cosine' })
  index.addSync(ids, data)
  const q = data.slice(5 * dim, 6 * dim).map((x) => x * 7) // same direction, other norm
  const [best] = index.search(q, { k: 1, candidates: 100 })
  t.is(best.id, 'doc-5')
  t.true(Math.abs(best.score - 1) < 1e-5)
  const zero = new Float32Array(dim)
  t.throws(() => index.search(zero, { k: 1 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /zero norm/ })
})

test('threshold mean is learned from the first batch (or fit) and saved with the index', (t) => {
  const dim = 24
  const data = clustered({ n: 200, dim, seed: 8 }).map((x) => x + 3) // all positive: 'zero' would give all-ones codes
  const index = new BinaryIndex({ dim, threshold: 'mean', rescore: 'none' })
  index.addSync(undefined, data)
  const codes = index.codes()
  t.true(codes.some((b) => b !== 0xff), 'mean-centred codes are not all ones')
  const back = BinaryIndex.fromBuffer(index.toBuffer())
  t.deepEqual(back.search(data.subarray(0, dim), { k: 5 }), index.search(data.subarray(0, dim), { k: 5 }))
  t.throws(() => index.fit(data), { code: 'ERR_SLIMDEX_INVALID_STATE' })
})

test('persistence: save/load and toBuffer/fromBuffer round trips are bit-identical', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-binary-'))
  for (const rescore of RESCORES) {
    const index = new BinaryIndex({ dim: 100, rescore, threshold: 'mean' })
    await index.add(Array.from({ length: 300 }, (_, i) => i * 3), clustered({ n: 300, dim: 100, seed: 4 }))
    const path = join(dir, `${rescore}.slmdx`)
    await index.save(path)
    const loaded = await BinaryIndex.load(path)
    t.deepEqual(loaded.toBuffer(), index.toBuffer())
    t.deepEqual(BinaryIndex.loadSync(path).toBuffer(), readFileSync(path))
    t.deepEqual(loaded.options, index.options)
    const q = clustered({ n: 1, dim: 100, seed: 99 })
    t.deepEqual(loaded.search(q, { k: 10 }), index.search(q, { k: 10 }))
  }
})

test('corrupted, truncated, wrong-magic and newer-version files throw ERR_SLIMDEX_CORRUPT_FILE', (t) => {
  const index = new BinaryIndex({ dim: 64, rescore: 'int8' })
  index.addSync(undefined, clustered({ n: 50, dim: 64, seed: 1 }))
  const good = index.toBuffer()
  const corrupt = { code: 'ERR_SLIMDEX_CORRUPT_FILE' }
  for (const cut of [0, 5, 31, 32, 100, good.length - 1]) t.throws(() => BinaryIndex.fromBuffer(good.subarray(0, cut)), corrupt)
  const r = rng(5)
  for (let trial = 0; trial < 200; trial++) {
    const bad = Buffer.from(good)
    const at = r.below(bad.length)
    bad[at] ^= 1 << r.below(8)
    // A flip in alignment padding is harmless; anything else must be detected.
    try {
      const loaded = BinaryIndex.fromBuffer(bad)
      t.deepEqual(loaded.toBuffer(), good, `flip at ${at} accepted and changed the data`)
    } catch (e) {
      t.is((e as { code?: string }).code, 'ERR_SLIMDEX_CORRUPT_FILE')
    }
  }
  const magic = Buffer.from(good)
  magic[0] = 0x58
  t.throws(() => BinaryIndex.fromBuffer(magic), { ...corrupt, message: /magic/ })
  const newer = Buffer.from(good)
  newer.writeUInt16LE(99, 6)
  t.throws(() => BinaryIndex.fromBuffer(newer), { ...corrupt, message: /newer/ })
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-binary-'))
  const p = join(dir, 'truncated.slmdx')
  writeFileSync(p, good.subarray(0, good.length >> 1))
  t.throws(() => BinaryIndex.loadSync(p), corrupt)
  t.throws(() => BinaryIndex.loadSync(join(dir, 'missing.slmdx')), { code: 'ERR_SLIMDEX_IO' })
})

test('bad input gives a clear error with a code and leaves the index unchanged', async (t) => {
  const dim = 8
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  index.addSync([1, 2], clustered({ n: 2, dim, seed: 1 }))
  const before = index.toBuffer()
  const v = clustered({ n: 1, dim, seed: 2 })
  const arg = { code: 'ERR_SLIMDEX_INVALID_ARG' }
  t.throws(() => index.addSync([3], new Float32Array(dim + 1)), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => index.search(new Float32Array(dim - 1), { k: 1 }), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => index.addSync([3], Float32Array.from(v, (x, i) => (i === 3 ? NaN : x))), { ...arg, message: /finite/ })
  t.throws(() => index.addSync([3], Float32Array.from(v, (x, i) => (i === 0 ? Infinity : x))), arg)
  t.throws(() => index.search(Float32Array.from(v, () => NaN), { k: 1 }), arg)
  t.throws(() => index.addSync([], new Float32Array(0)), { ...arg, message: /empty/ })
  t.throws(() => index.addSync([3, 4], v), arg)
  t.throws(() => index.addSync([2], v), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => index.addSync([5, 5], clustered({ n: 2, dim, seed: 3 })), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => index.addSync(['x'], v), arg)
  t.throws(() => index.addSync([1.5], v), arg)
  t.throws(() => index.addSync([3], new Int32Array(dim) as unknown as Float32Array), { instanceOf: TypeError, ...arg })
  t.throws(() => index.addSync([3], 'nope' as unknown as Float32Array), { instanceOf: TypeError, ...arg })
  for (const k of [0, -1, 1.5, Infinity, NaN, 2 ** 32, '3']) {
    t.throws(() => index.search(v, { k: k as number }), arg, `k = ${String(k)}`)
  }
  t.throws(() => index.search(v, { k: 1, candidates: 0 }), arg)
  t.throws(() => index.search(v, { k: 1, bogus: 1 } as unknown as { k: number }), arg)
  await t.throwsAsync(index.add([3], new Float32Array(dim + 1)), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  await t.throwsAsync(index.add([1], v), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  await t.throwsAsync(index.searchBatch(v, { k: 0 }), arg)
  for (const opts of [{ dim: 0 }, { dim: 1.5 }, { dim: -3 }, { dim: 8, rescore: 'fp8' }, { dim: 8, metric: 'l2' }, {}]) {
    t.throws(() => new BinaryIndex(opts as { dim: number }), arg, JSON.stringify(opts))
  }
  t.throws(() => hammingDistance(new Uint8Array(3), new Uint8Array(4)), arg)
  t.deepEqual(index.toBuffer(), before, 'the index is unchanged after every rejected call')
  t.is(index.size, 2)
})

test('an aborted signal rejects with ABORT_ERR before the work starts', async (t) => {
  const index = new BinaryIndex({ dim: 8 })
  const controller = new AbortController()
  controller.abort()
  await t.throwsAsync(index.add(undefined, clustered({ n: 3, dim: 8 }), { signal: controller.signal }), { code: 'ABORT_ERR' })
  t.is(index.size, 0)
})

test('add reports progress up to the total, and aborting a running add leaves the index unchanged', async (t) => {
  const dim = 64
  const n = 60_000
  const data = clustered({ n, dim, clusters: 8, seed: 21 })
  const index = new BinaryIndex({ dim, rescore: 'none' })
  const reports: Array<[number, number]> = []
  await index.add(undefined, data, { onProgress: (done, total) => reports.push([done, total]) })
  // Reports travel through the event loop; the last one may land just after the promise.
  for (let i = 0; i < 100 && reports.at(-1)?.[0] !== n; i++) await new Promise((r) => setTimeout(r, 10))
  t.true(reports.length >= 1)
  t.deepEqual(reports.at(-1), [n, n])
  t.true(reports.every(([done, total], i) => total === n && done <= n && (i === 0 || done >= reports[i - 1][0])))
  t.is(index.size, n)

  const controller = new AbortController()
  const running = index.add(undefined, clustered({ n: 200_000, dim, clusters: 8, seed: 22 }), { signal: controller.signal })
  controller.abort()
  await t.throwsAsync(running, { code: 'ABORT_ERR' })
  t.is(index.size, n)
  await t.throwsAsync(index.add(undefined, data.subarray(0, dim), { onProgress: 5 as never }), { instanceOf: TypeError })
})

test('async searches racing with add never see a torn index', async (t) => {
  const dim = 64
  const first = clustered({ n: 3000, dim, seed: 31 })
  const second = clustered({ n: 3000, dim, seed: 32 })
  const queries = clustered({ n: 20, dim, seed: 33 })
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  index.addSync(undefined, first)
  const before = index.searchBatchSync(queries, { k: 5 })
  const racing = [index.searchBatch(queries, { k: 5 }), index.add(undefined, second), index.searchBatch(queries, { k: 5 })]
  const syncDuring = index.searchBatchSync(queries, { k: 5 })
  const [a, , b] = await Promise.all(racing)
  const after = index.searchBatchSync(queries, { k: 5 })
  t.is(index.size, 6000)
  for (const result of [a, b, syncDuring] as Hit[][][]) {
    t.true(
      JSON.stringify(result) === JSON.stringify(before) || JSON.stringify(result) === JSON.stringify(after),
      'each batch equals the state before or after the add',
    )
  }
})

test('memoryUsage reports codes at dim/8 bytes per vector and each rescore mode adds its storage', (t) => {
  const dim = 1024
  const n = 2000
  const data = clustered({ n, dim, seed: 1 })
  const usage: Record<string, number> = {}
  for (const rescore of RESCORES) {
    const index = new BinaryIndex({ dim, rescore })
    index.addSync(undefined, data)
    const m = index.memoryUsage()
    t.is(m.components.codes, n * dim / 8)
    usage[rescore] = m.total / n
  }
  t.is(usage.none, dim / 8, 'sequential ids cost nothing')
  t.is(usage.asymmetric, dim / 8)
  t.true(usage.int8 >= dim / 8 + dim && usage.int8 < dim / 8 + dim + 8)
  t.true(usage.float32 >= dim / 8 + 4 * dim && usage.float32 < dim / 8 + 4 * dim + 8)
  t.log(`bytes per vector at dim ${dim} (float32 = ${4 * dim}): ${JSON.stringify(usage)}`)
})

test('addCodes/searchCode on packed codes give the same results as adding the float vectors', (t) => {
  const dim = 100
  const data = clustered({ n: 300, dim, seed: 41 })
  const fromFloats = new BinaryIndex({ dim, rescore: 'none' })
  fromFloats.addSync(undefined, data)
  const fromCodes = new BinaryIndex({ dim, rescore: 'none' })
  fromCodes.addCodesSync(undefined, packSigns(data, dim))
  t.deepEqual(fromCodes.toBuffer(), fromFloats.toBuffer())
  const q = clustered({ n: 1, dim, seed: 42 })
  t.deepEqual(fromCodes.searchCode(packSigns(q, dim), { k: 7 }), fromFloats.search(q, { k: 7 }))
  const badPadding = packSigns(q, dim)
  badPadding[12] |= 1 // bit 103 of a 100-bit code
  t.throws(() => fromCodes.addCodesSync([1000], badPadding), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /padding/ })
  t.throws(() => fromCodes.searchCode(new Uint8Array(12), { k: 1 }), { code: 'ERR_SLIMDEX_DIM_MISMATCH' })
  t.throws(() => new BinaryIndex({ dim, rescore: 'float32' }).addCodesSync(undefined, packSigns(q, dim)), {
    code: 'ERR_SLIMDEX_INVALID_STATE',
  })
})

test('inspectIndex describes a saved index and rejects garbage', (t) => {
  const index = new BinaryIndex({ dim: 64, rescore: 'float32' })
  index.addSync(undefined, clustered({ n: 10, dim: 64, seed: 1 }))
  const buf = index.toBuffer()
  const info = inspectIndex(buf)
  t.is(info.kind, 'BinaryIndex')
  t.is(info.formatVersion, 1)
  t.is(info.bytes, buf.length)
  const sizes = Object.fromEntries(info.sections.map((s) => [s.tag, s.bytes]))
  t.is(sizes.CODE, 10 * 8)
  t.is(sizes.F32V, 10 * 64 * 4)
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-inspect-'))
  index.saveSync(join(dir, 'x.slmdx'))
  t.deepEqual(inspectIndex(join(dir, 'x.slmdx')), info)
  t.throws(() => inspectIndex(Buffer.from('not an index at all, definitely not')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})

test('an empty index returns no hits; searchBatch with a bounded thread count equals single searches', async (t) => {
  const empty = new BinaryIndex({ dim: 32, rescore: 'int8' })
  t.deepEqual(empty.search(new Float32Array(32).fill(1), { k: 5 }), [])
  t.deepEqual(await empty.searchBatch(new Float32Array(64).fill(1), { k: 5 }), [[], []])
  const dim = 48
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  index.addSync(undefined, clustered({ n: 500, dim, seed: 6 }))
  const queries = clustered({ n: 9, dim, seed: 7 })
  const one = Array.from({ length: 9 }, (_, i) => index.search(queries.subarray(i * dim, (i + 1) * dim), { k: 4 }))
  for (const threads of [1, 2, 3]) t.deepEqual(await index.searchBatch(queries, { k: 4, threads }), one)
})
