import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LSHBloom, MinHashLSH, MinHasher, jaccard, packTokenSets, signatureFamily } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

const K = 32

/**
 * Signatures of `n` documents in families: members of a family copy the family's base slots and
 * redraw each with probability `noise`, so some bands coincide and many do not.
 */
function familySignatures(n: number, seed: number, noise = 0.15, families = 10): Uint32Array {
  const r = rng(seed)
  const bases = Array.from({ length: families }, () => Uint32Array.from({ length: K }, () => r.next()))
  const out = new Uint32Array(n * K)
  for (let i = 0; i < n; i++) {
    const base = bases[r.below(families)]
    for (let s = 0; s < K; s++) out[i * K + s] = r.uniform() < noise ? r.next() : base[s]
  }
  return out
}

function shareBand(sigs: Uint32Array, x: number, y: number, bands: number, rows: number): boolean {
  for (let b = 0; b < bands; b++) {
    let same = true
    for (let s = b * rows; s < (b + 1) * rows && same; s++) same = sigs[x * K + s] === sigs[y * K + s]
    if (same) return true
  }
  return false
}

function estJ(sigs: Uint32Array, x: number, y: number): number {
  return jaccard(sigs.subarray(x * K, (x + 1) * K), sigs.subarray(y * K, (y + 1) * K))
}

test('MinHashLSH chooses datasketch’s banding and reports it', (t) => {
  const lsh = new MinHashLSH({ threshold: 0.8, numPerm: 128 })
  t.is(lsh.bands, 9)
  t.is(lsh.rows, 13)
  t.is(new MinHashLSH().options.threshold, 0.9)
  const explicit = new MinHashLSH({ numPerm: K, bands: 8, rows: 4 })
  t.deepEqual([explicit.bands, explicit.rows], [8, 4])
})

test('query, queryBatch and candidatePairs equal brute-force band comparison', async (t) => {
  const n = 300
  const sigs = familySignatures(n, 1)
  const bands = 8
  const rows = 4
  const lsh = new MinHashLSH({ threshold: 0.5, numPerm: K, bands, rows })
  const ids = Array.from({ length: n }, (_, i) => `doc${i}`)
  await lsh.insertBatch(ids, sigs)
  t.is(lsh.size, n)

  const batch = await lsh.queryBatch(sigs)
  t.deepEqual(lsh.queryBatchSync(sigs), batch)
  let pairs = 0
  for (let q = 0; q < n; q++) {
    const want = ids.filter((_, i) => shareBand(sigs, q, i, bands, rows))
    t.deepEqual(batch[q].map((m) => m.id), want)
    if (q % 37 === 0) t.deepEqual(lsh.query(sigs.subarray(q * K, (q + 1) * K)).map((m) => m.id), want)
    // Verified: only candidates with estimated Jaccard ≥ 0.5, with the estimate attached.
    const verified = lsh.query(sigs.subarray(q * K, (q + 1) * K), { verify: true })
    const wantV = want.map((id) => Number(id.slice(3))).filter((i) => estJ(sigs, q, i) >= 0.5)
    t.deepEqual(verified.map((m) => m.id), wantV.map((i) => `doc${i}`))
    for (const m of verified) t.is(m.jaccard, estJ(sigs, q, Number(String(m.id).slice(3))))
    pairs += want.length - 1
  }
  const cp = lsh.candidatePairs()
  t.is(cp.length, pairs / 2)
  for (const p of cp) {
    const [a, b] = [Number(String(p.a).slice(3)), Number(String(p.b).slice(3))]
    t.true(a < b && shareBand(sigs, a, b, bands, rows))
  }
  const cpv = lsh.candidatePairs({ verify: 0.7 })
  t.true(cpv.every((p) => p.jaccard! >= 0.7))
  t.is(cpv.length, cp.filter((p) => estJ(sigs, Number(String(p.a).slice(3)), Number(String(p.b).slice(3))) >= 0.7).length)
})

test('remove, has, duplicate ids, single insert and persistence', async (t) => {
  const sigs = familySignatures(40, 2)
  const lsh = new MinHashLSH({ threshold: 0.5, numPerm: K, bands: 8, rows: 4 })
  lsh.insertBatchSync(Array.from({ length: 40 }, (_, i) => i), sigs)
  t.throws(() => lsh.insert(5, sigs.subarray(0, K)), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.true(lsh.has(5))
  t.true(lsh.remove(5))
  t.false(lsh.remove(5))
  t.false(lsh.has(5))
  t.is(lsh.size, 39)
  t.false(lsh.query(sigs.subarray(5 * K, 6 * K)).some((m) => m.id === 5))
  lsh.insert(1000, sigs.subarray(5 * K, 6 * K))
  t.true(lsh.query(sigs.subarray(5 * K, 6 * K)).some((m) => m.id === 1000))

  const dir = mkdtempSync(join(tmpdir(), 'slimdex-lsh-'))
  const path = join(dir, 'lsh.slmdx')
  await lsh.save(path)
  const back = await MinHashLSH.load(path)
  t.deepEqual(back.options, lsh.options)
  t.is(back.size, lsh.size)
  t.deepEqual(back.queryBatchSync(sigs, { verify: true }), lsh.queryBatchSync(sigs, { verify: true }))
  t.deepEqual(MinHashLSH.fromBuffer(lsh.toBuffer()).candidatePairs(), lsh.candidatePairs())
  t.deepEqual(MinHashLSH.loadSync(path).candidatePairs(), lsh.candidatePairs())
  const bytes = readFileSync(path)
  bytes[bytes.length - 3] ^= 0x5a
  writeFileSync(path, bytes)
  t.throws(() => MinHashLSH.loadSync(path), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.throws(() => MinHashLSH.fromBuffer(lsh.toBuffer().subarray(0, 50)), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.true(lsh.memoryUsage().total > 40 * K * 4)
})

test('MinHashLSH rejects bad options and signatures', (t) => {
  const bad = (fn: () => unknown, code = 'ERR_SLIMDEX_INVALID_ARG') => t.throws(fn as () => void, { code })
  for (const threshold of [0, 1, -1, 1.5, Number.NaN]) bad(() => new MinHashLSH({ threshold }))
  bad(() => new MinHashLSH({ numPerm: 16, bands: 5, rows: 4 })) // 20 > 16 slots
  bad(() => new MinHashLSH({ numPerm: 16, bands: 4 })) // rows missing
  bad(() => new MinHashLSH({ numPerm: 16, bands: 1, rows: 2.5 }))
  const lsh = new MinHashLSH({ numPerm: 16, bands: 4, rows: 4 })
  bad(() => lsh.insert(1, new Uint32Array(15)), 'ERR_SLIMDEX_DIM_MISMATCH')
  bad(() => lsh.insertBatchSync([1, 2], new Uint32Array(16)), 'ERR_SLIMDEX_INVALID_ARG')
  bad(() => lsh.query(new Uint32Array(32)), 'ERR_SLIMDEX_DIM_MISMATCH')
  bad(() => lsh.query(new Uint32Array(16), { verify: 2 }))
  bad(() => lsh.insert(1.5, new Uint32Array(16)))
})

test('LSHBloom agrees with MinHashLSH query-then-insert and sizes itself from the total rate', (t) => {
  const n = 2000
  const sigs = familySignatures(n, 3, 0.3, 200)
  const bands = 8
  const rows = 4
  const bloom = new LSHBloom({ numPerm: K, bands, rows, expectedItems: n, falsePositiveRate: 1e-4 })
  t.is(bloom.bands, 8)
  const lsh = new MinHashLSH({ numPerm: K, bands, rows, keepSignatures: false })
  let agree = 0
  let dups = 0
  for (let i = 0; i < n; i++) {
    const s = sigs.subarray(i * K, (i + 1) * K)
    // LSHBloom's rule on a MinHashLSH: query, and insert only documents seen as new.
    const lshNew = lsh.query(s).length === 0
    if (lshNew) lsh.insert(i, s)
    const bloomNew = bloom.insertIfNew(s)
    agree += Number(lshNew === bloomNew)
    dups += Number(!lshNew)
    // A Bloom filter never misses what it holds: LSH duplicates are always Bloom duplicates.
    if (!lshNew) t.false(bloomNew)
  }
  t.true(dups > 200 && dups < n - 200, `duplicates ${dups}`)
  t.true(agree / n >= 0.999, `agreement ${agree / n}`)
  t.is(bloom.count, n - dups)
  // Per-band rate derived from the total: 1 − (1 − 1e-4)^(1/8).
  t.true(Math.abs(bloom.bandFalsePositiveRate - (1 - (1 - 1e-4) ** (1 / 8))) < 1e-9)
  // ≈ bands · 1.44 · log2(1/p_band) bits, plus blocking overhead.
  const ideal = (bands * Math.log(1 / bloom.bandFalsePositiveRate)) / Math.LN2 ** 2 / 8
  const bpd = bloom.bytesPerDocument()
  t.true(bpd >= ideal && bpd < 1.6 * ideal, `bytes/doc ${bpd} vs ideal ${ideal}`)
  t.true(Math.abs(bloom.memoryUsage().total - bpd * n) < 1)
})

test('LSHBloom total false-positive rate on fresh documents is the one asked for', (t) => {
  const n = 5000
  const r = rng(17)
  const target = 0.02
  const bloom = new LSHBloom({ numPerm: K, bands: 8, rows: 4, expectedItems: n, falsePositiveRate: target })
  const ins = Uint32Array.from({ length: n * K }, () => r.next())
  // Inserting also meets false positives (up to `target` once the filters are full).
  const inserted = bloom.insertIfNewBatch(ins).reduce((a, x) => a + x, 0)
  t.true(inserted >= n * (1 - target), `inserted ${inserted}`)
  const m = 40_000
  const fresh = Uint32Array.from({ length: m * K }, () => r.next())
  const hits = bloom.hasBatch(fresh).reduce((s, x) => s + x, 0)
  const rate = hits / m
  const se = Math.sqrt((target * (1 - target)) / m)
  t.true(rate <= target + 4 * se && rate >= target / 3, `measured ${rate} vs ${target}`)
})

test('LSHBloom merge is the union of shards; save/load with and without mmap', async (t) => {
  const n = 600
  const sigs = familySignatures(n, 4, 0.5, 600)
  const opts = { numPerm: K, bands: 8, rows: 4, expectedItems: n, falsePositiveRate: 1e-5 }
  const left = new LSHBloom(opts)
  const right = new LSHBloom(opts)
  const all = new LSHBloom(opts)
  left.insertIfNewBatch(sigs.subarray(0, (n / 2) * K))
  right.insertIfNewBatch(sigs.subarray((n / 2) * K))
  for (let i = 0; i < n; i++) all.insertIfNew(sigs.subarray(i * K, (i + 1) * K))
  left.merge(right)
  t.deepEqual(left.hasBatch(sigs), all.hasBatch(sigs))
  t.true(left.hasBatch(sigs).every((x) => x === 1))
  t.throws(() => left.merge(new LSHBloom({ ...opts, expectedItems: 10 * n })), { code: 'ERR_SLIMDEX_INVALID_ARG' })

  const dir = mkdtempSync(join(tmpdir(), 'slimdex-bloom-'))
  const path = join(dir, 'bloom.slmdx')
  left.saveSync(path)
  for (const mmap of [false, true]) {
    const back = await LSHBloom.load(path, { mmap })
    t.is(back.isMapped, mmap)
    t.deepEqual(back.options, left.options)
    t.deepEqual(back.hasBatch(sigs), left.hasBatch(sigs))
  }
  const mapped = LSHBloom.loadSync(path, { mmap: true })
  const fresh = new Uint32Array(K).fill(7)
  t.true(mapped.insertIfNew(fresh))
  t.false(mapped.isMapped) // the first write copies the filters
  t.false(LSHBloom.loadSync(path).has(fresh)) // the file is untouched
  t.deepEqual(LSHBloom.fromBuffer(left.toBuffer()).hasBatch(sigs), left.hasBatch(sigs))
  const bytes = left.toBuffer()
  bytes[100] ^= 1
  t.throws(() => LSHBloom.fromBuffer(bytes), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})

test('LSHBloom rejects bad options and signatures', (t) => {
  const bad = (fn: () => unknown, code = 'ERR_SLIMDEX_INVALID_ARG') => t.throws(fn as () => void, { code })
  bad(() => new LSHBloom({} as never))
  bad(() => new LSHBloom({ expectedItems: 0 }))
  for (const falsePositiveRate of [0, 1, Number.NaN]) bad(() => new LSHBloom({ expectedItems: 10, falsePositiveRate }))
  for (const threshold of [0, 1, Number.NaN]) bad(() => new LSHBloom({ expectedItems: 10, threshold }))
  const b = new LSHBloom({ expectedItems: 10 })
  bad(() => b.insertIfNew(new Uint32Array(64)), 'ERR_SLIMDEX_DIM_MISMATCH')
  bad(() => b.has([1, 2] as unknown as Uint32Array))
})

test('signatures from a MinHasher flow into both indexes', async (t) => {
  const h = new MinHasher({ numPerm: 128 })
  const base = Array.from({ length: 12 }, (_, i) => `the committee approved budget ${i} for the new library`).join(' ')
  const texts = [base, base + ' today', 'an entirely different sentence about cats sleeping in the warm afternoon sun']
  const sigs = await h.sign(texts)
  const lsh = new MinHashLSH({ threshold: 0.5, numPerm: 128 })
  await lsh.insertBatch([0, 2], new Uint32Array([...h.signature(sigs, 0), ...h.signature(sigs, 2)]))
  t.deepEqual(lsh.query(h.signature(sigs, 1)).map((m) => m.id), [0])
  const bloom = new LSHBloom({ threshold: 0.5, numPerm: 128, expectedItems: 100 })
  t.deepEqual(Array.from(bloom.insertIfNewBatch(sigs)), [1, 0, 1])
})

test('signatures of another hasher (seed or scheme) are refused by jaccard and both indexes, and the family persists', async (t) => {
  const texts = ['the quick brown fox jumps over the lazy dog near the river bank', 'the quick brown fox jumps over the lazy dog near the river bend', 'a completely unrelated sentence about the weather in spring']
  const h1 = new MinHasher({ numPerm: 64, seed: 1 })
  const h2 = new MinHasher({ numPerm: 64, seed: 2 })
  const hc = new MinHasher({ numPerm: 64, seed: 1, scheme: 'classic' })
  const s1 = await h1.sign(texts)
  const s2 = h2.signSync(texts)
  const sc = hc.signTokensSync(texts.map((x) => hc.shingles(x)))
  const mismatch = { code: 'ERR_SLIMDEX_SIGNATURE_MISMATCH' }
  // Every result array and its views carry the family; copies do not.
  t.deepEqual(signatureFamily(s1), { scheme: 'oph', seed: 1 })
  t.deepEqual(signatureFamily(h1.signature(s1, 2)), h1.family)
  t.deepEqual(signatureFamily(sc), { scheme: 'classic', seed: 1 })
  t.deepEqual(signatureFamily(await h2.signTokenOffsets(packTokenSets(texts.map((x) => h2.shingles(x))))), h2.family)
  t.is(signatureFamily(s1.slice()), undefined)
  // jaccard: the same text under two seeds shares no slot; mixing them is refused.
  t.is(jaccard(h1.signature(s1, 0), h1.signature(s1, 0)), 1)
  t.throws(() => jaccard(h1.signature(s1, 0), h2.signature(s2, 0)), mismatch)
  t.throws(() => jaccard(h1.signature(s1, 0), hc.signature(sc, 0)), mismatch)
  t.is(jaccard(s1.slice(0, 64), s2.slice(0, 64)) < 0.2, true, 'untagged copies are compared as they are')

  const lsh = new MinHashLSH({ threshold: 0.5, numPerm: 64 })
  t.is(lsh.family, undefined)
  lsh.insert('untagged', s2.slice(128, 192)) // unknown family: accepted, nothing recorded
  t.is(lsh.family, undefined)
  await lsh.insertBatch(['a', 'b'], s1.subarray(0, 128))
  t.deepEqual(lsh.family, { scheme: 'oph', seed: 1 })
  t.throws(() => lsh.insert('c', h2.signature(s2, 2)), mismatch)
  await t.throwsAsync(lsh.insertBatch(['c'], h2.signature(s2, 2)), mismatch)
  t.is(lsh.size, 3, 'a refused insert adds nothing')
  t.throws(() => lsh.query(h2.signature(s2, 0)), mismatch)
  t.throws(() => lsh.queryBatchSync(s2), mismatch)
  await t.throwsAsync(lsh.queryBatch(sc), mismatch)
  t.deepEqual(lsh.query(h1.signature(s1, 1)).map((m) => m.id), ['a', 'b'])
  const back = MinHashLSH.fromBuffer(lsh.toBuffer())
  t.deepEqual(back.family, h1.family)
  t.throws(() => back.query(h2.signature(s2, 0)), mismatch)
  t.deepEqual(back.query(h1.signature(s1, 1)).map((m) => m.id), ['a', 'b'])

  const opts = { threshold: 0.5, numPerm: 64, expectedItems: 100 }
  const bloom = new LSHBloom(opts)
  t.deepEqual(Array.from(bloom.insertIfNewBatch(s1)), [1, 0, 1])
  t.deepEqual(bloom.family, h1.family)
  t.throws(() => bloom.insertIfNew(h2.signature(s2, 0)), mismatch)
  t.throws(() => bloom.insertIfNewBatch(s2), mismatch)
  t.throws(() => bloom.has(h2.signature(s2, 0)), mismatch)
  t.throws(() => bloom.hasBatch(sc), mismatch)
  t.is(bloom.count, 2)
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-family-'))
  bloom.saveSync(join(dir, 'b.slmdx'))
  const mapped = LSHBloom.loadSync(join(dir, 'b.slmdx'), { mmap: true })
  t.deepEqual(mapped.family, h1.family)
  t.throws(() => mapped.has(h2.signature(s2, 0)), mismatch)
  // Merge: an unknown family takes the other's; two known families must agree.
  const empty = new LSHBloom(opts)
  empty.merge(bloom)
  t.deepEqual(empty.family, h1.family)
  const other = new LSHBloom(opts)
  other.insertIfNewBatch(s2)
  t.throws(() => other.merge(bloom), mismatch)
  t.deepEqual(other.family, h2.family)
})
