import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MinHasher, bBits, bBitsJaccard, bandKeys, collisionProbability, jaccard, optimalParams, packTokenSets, signatureFamily } from '../index.ts'
import type { MinHashScheme } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'
import * as native from '../binding'

const golden = JSON.parse(readFileSync(join(process.cwd(), 'crates/core/src/minhash/testdata/datasketch_golden.json'), 'utf8'))

/** A pair of token sets of size n with intersection ≈ j·|union|, and their exact Jaccard. */
function setPair(r: ReturnType<typeof rng>, n: number, j: number, tag: number): { a: string[]; b: string[]; exact: number } {
  const shared = Math.round((2 * n * j) / (1 + j))
  const a: string[] = []
  const b: string[] = []
  for (let i = 0; i < shared; i++) {
    const t = `s${tag}_${i}_${r.next()}`
    a.push(t)
    b.push(t)
  }
  for (let i = shared; i < n; i++) {
    a.push(`a${tag}_${i}_${r.next()}`)
    b.push(`b${tag}_${i}_${r.next()}`)
  }
  return { a, b, exact: shared / (2 * n - shared) }
}

function exactJaccard(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a)
  const sb = new Set(b)
  let inter = 0
  for (const x of sa) if (sb.has(x)) inter++
  return inter / (sa.size + sb.size - inter)
}

test('sign returns n × numPerm slots, async equals sync, and identical texts get identical signatures', async (t) => {
  const h = new MinHasher({ numPerm: 64, seed: 3 })
  const texts = ['the quick brown fox jumps over the lazy dog', 'The  QUICK brown fox, jumps over the lazy dog!', 'a b']
  const sigs = await h.sign(texts)
  t.true(sigs instanceof Uint32Array)
  t.is(sigs.length, 3 * 64)
  t.deepEqual(h.signSync(texts, { threads: 1 }), sigs)
  // Normalisation (case, punctuation, whitespace) makes the first two the same shingle set.
  t.deepEqual(h.shingles(texts[0]), h.shingles(texts[1]))
  t.deepEqual(h.signature(sigs, 0), h.signature(sigs, 1))
  t.is(jaccard(h.signature(sigs, 0), h.signature(sigs, 1)), 1)
  // Shorter than the n-gram: the whole token sequence is one shingle.
  t.deepEqual(h.shingles('a b'), ['a b'])
})

test('signTokens over a text’s shingles equals sign of the text', async (t) => {
  for (const scheme of ['oph', 'classic', 'datasketch'] as MinHashScheme[]) {
    const h = new MinHasher({ numPerm: 32, scheme, ngram: 3 })
    const texts = ['one two three four five six seven', 'alpha beta gamma delta epsilon zeta eta theta']
    const viaText = await h.sign(texts)
    const viaTokens = await h.signTokens(texts.map((x) => h.shingles(x)))
    t.deepEqual(viaTokens, viaText, scheme)
  }
})

test('packed token sets (signTokenOffsets) sign exactly like signTokens, and bad offsets are refused', async (t) => {
  const sets = [['alpha beta', 'gamma', ''], ['école 日本語', '🙂'], ['x', 'alpha beta', 'lone \ud800 surrogate']]
  const packed = packTokenSets(sets)
  t.deepEqual(Array.from(packed.docOffsets), [0, 3, 5, 8])
  t.is(packed.tokenOffsets[packed.tokenOffsets.length - 1], packed.data.length)
  for (const scheme of ['oph', 'classic', 'datasketch'] as MinHashScheme[]) {
    const h = new MinHasher({ numPerm: 32, scheme })
    const want = h.signTokensSync(sets)
    t.deepEqual(h.signTokenOffsetsSync(packed), want, scheme)
    t.deepEqual(await h.signTokenOffsets(packed), want, `${scheme} async`)
  }
  const h = new MinHasher({ numPerm: 16 })
  const { data, tokenOffsets } = packed
  t.throws(() => h.signTokenOffsetsSync({ data, tokenOffsets: Uint32Array.of(0, 5, 3), docOffsets: Uint32Array.of(0, 2) }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => h.signTokenOffsetsSync({ data, tokenOffsets: Uint32Array.of(0, data.length + 1), docOffsets: Uint32Array.of(0, 1) }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => h.signTokenOffsetsSync({ data, tokenOffsets, docOffsets: Uint32Array.of(0, tokenOffsets.length) }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => h.signTokenOffsetsSync({ data, tokenOffsets, docOffsets: Uint32Array.of(0, 0) }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => h.signTokenOffsetsSync({ data: [1, 2] as unknown as Uint8Array, tokenOffsets, docOffsets: Uint32Array.of(0) }), { instanceOf: TypeError })
  t.is(h.signTokenOffsetsSync({ data, tokenOffsets, docOffsets: Uint32Array.of(0) }).length, 0)
})

/** Token sets that stress the string[][] path: empty tokens, U+001F inside tokens, non-ASCII, lone surrogates. */
function trickyTokenSets(): string[][] {
  return [
    ['alpha beta', 'gamma', ''],
    [''],
    ['', ''],
    ['école 日本語', '🙂', 'naïve'],
    ['has\u001fseparator', 'x'],
    ['\u001f'],
    ['\u001f\u001f', '', '\u001f'],
    ['lone \ud800 surrogate', 'trailing \udc00', 'pair \ud83d\ude42'],
    ['latin-1 ÿ é', 'ascii only'],
    ['x', 'alpha beta'],
  ]
}

/** The reference: one N-API string per token, converted by napi-rs, signed in Rust (no join, no packing). */
function perTokenReference(h: MinHasher, sets: string[][]): Uint32Array {
  const o = h.options
  return new native.NativeMinHasher(o).signTokensSync(sets, 1)
}

test('signTokens signs exactly like one string per token and like the packed form, tricky tokens included', async (t) => {
  const sets = trickyTokenSets()
  for (const scheme of ['oph', 'classic', 'datasketch'] as MinHashScheme[]) {
    const h = new MinHasher({ numPerm: 32, scheme, seed: 5 })
    const want = perTokenReference(h, sets)
    t.deepEqual(h.signTokensSync(sets), want, `${scheme} sync`)
    t.deepEqual(h.signTokensSync(sets, { threads: 2 }), want, `${scheme} sync, 2 threads`)
    t.deepEqual(await h.signTokens(sets), want, `${scheme} async`)
    t.deepEqual(h.signTokenOffsetsSync(packTokenSets(sets)), want, `${scheme} packed`)
  }
  // A lone surrogate is the replacement character U+FFFD, as TextEncoder encodes it.
  const h = new MinHasher({ numPerm: 32 })
  t.deepEqual(h.signTokensSync([['a \ud800 b']]), h.signTokensSync([['a \ufffd b']]))
  t.deepEqual(Array.from(packTokenSets([['\ud800']]).data), Array.from(new TextEncoder().encode('\ud800')))
  // Order and multiplicity do not matter (a set), the separator inside a token does.
  t.deepEqual(h.signTokensSync([['b', 'a', 'b']]), h.signTokensSync([['a', 'b']]))
  t.notDeepEqual(h.signTokensSync([['a\u001fb']]), h.signTokensSync([['a', 'b']]))
})

test('signTokens over many chunks, a document larger than a chunk and separators in later chunks', async (t) => {
  const r = rng(11)
  const word = () => `w${r.below(50_000)}x${r.below(1000)}`
  // ≈ 11 MB of joined tokens: several 4 MiB chunks; every 97th document has a token with U+001F.
  const sets = Array.from({ length: 2500 }, (_, d) => {
    const set = Array.from({ length: 300 }, word)
    if (d % 97 === 13) set[d % 300] = `odd\u001f${d}`
    return set
  })
  sets.splice(1200, 0, Array.from({ length: 500_000 }, word)) // ≈ 6 MB on its own
  for (const scheme of ['oph', 'datasketch'] as MinHashScheme[]) {
    const h = new MinHasher({ numPerm: 64, scheme })
    const want = perTokenReference(h, sets)
    t.true(Buffer.from(h.signTokensSync(sets).buffer).equals(Buffer.from(want.buffer)), `${scheme} sync`)
    t.true(Buffer.from((await h.signTokens(sets, { threads: 2 })).buffer).equals(Buffer.from(want.buffer)), `${scheme} async`)
  }
})

test('signTokens over more documents than one chunk holds (tiny documents), into a reused result array', async (t) => {
  const r = rng(12)
  // 40,000 one- or two-token documents: chunks end at the document cap, not the byte cap;
  // U+001F and non-ASCII tokens sit in every chunk, the last chunk is partial.
  const sets = Array.from({ length: 40_000 }, (_, d) => {
    const set = [`t${r.below(5000)}`]
    if (d % 3 === 0) set.push(d % 1001 === 7 ? `sep\u001f${d}` : d % 999 === 5 ? `é${d}🙂` : `u${d}`)
    return set
  })
  const h = new MinHasher({ numPerm: 32 })
  const want = perTokenReference(h, sets)
  for (let pass = 0; pass < 2; pass++) {
    t.true(Buffer.from(h.signTokensSync(sets).buffer).equals(Buffer.from(want.buffer)), `sync pass ${pass}`)
  }
  t.true(Buffer.from((await h.signTokens(sets)).buffer).equals(Buffer.from(want.buffer)), 'async')
  // A smaller batch after a large one: stale scratch contents must not leak into it.
  t.deepEqual(h.signTokensSync(sets.slice(5, 9)), want.slice(5 * 32, 9 * 32))
})

test('signTokens refuses bad token sets with errors that name the culprit', async (t) => {
  const h = new MinHasher({ numPerm: 16 })
  const typeError = (sets: unknown, where: RegExp) => {
    const e = t.throws(() => h.signTokensSync(sets as string[][]), { instanceOf: TypeError, code: 'ERR_SLIMDEX_INVALID_ARG' })
    t.regex(e!.message, where)
  }
  typeError('a b', /tokenSets must be an array/)
  typeError([['a'], 'b c'], /tokenSets\[1\] must be an array of strings/)
  typeError([['a', 'b'], ['c', 3]], /tokenSets\[1\]\[1\] must be a string \(got number\)/)
  typeError([['a', null]], /tokenSets\[0\]\[1\] must be a string \(got object\)/)
  typeError([['a', undefined]], /tokenSets\[0\]\[1\].*undefined/)
  // eslint-disable-next-line no-sparse-arrays
  typeError([['a', , 'c']], /tokenSets\[0\]\[1\].*undefined/)
  typeError([[new String('boxed')]], /tokenSets\[0\]\[0\] must be a string \(got object\)/)
  typeError([[Symbol('s')]], /tokenSets\[0\]\[0\] must be a string \(got symbol\)/)
  const empty = t.throws(() => h.signTokensSync([['a'], ['b'], []]), { instanceOf: RangeError, code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.regex(empty!.message, /tokenSets\[2\] has no token/)
  await t.throwsAsync(h.signTokens([[], ['a']]), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /tokenSets\[0\]/ })
  await t.throwsAsync(h.signTokens([['a'], [1 as unknown as string]]), { instanceOf: TypeError })
  t.throws(() => packTokenSets([['a', 2 as unknown as string]]), { instanceOf: TypeError, message: /tokenSets\[0\]\[1\]/ })
  t.is(h.signTokensSync([]).length, 0)
  t.is((await h.signTokens([])).length, 0)
  const ac = new AbortController()
  ac.abort()
  await t.throwsAsync(h.signTokens([['x']], { signal: ac.signal }), { code: 'ABORT_ERR' })
})

test('the datasketch scheme reproduces datasketch’s golden signatures bit for bit', (t) => {
  let checked = 0
  for (const c of golden.cases) {
    const h = new MinHasher({ numPerm: c.numPerm, seed: c.seed, scheme: 'datasketch' })
    for (const ts of c.tokenSets) {
      t.deepEqual(Array.from(h.signTokensSync([ts.tokens])), ts.signature, `tokens ${JSON.stringify(ts.tokens).slice(0, 40)} seed ${c.seed}`)
      checked++
    }
    for (const tc of c.texts) {
      t.deepEqual(Array.from(h.signSync([tc.text])), tc.signature, `text seed ${c.seed}`)
      checked++
    }
  }
  t.true(checked >= 40, `fixture has ${checked} cases`)
})

test('every scheme’s Jaccard estimate is unbiased, including sets far smaller than numPerm', (t) => {
  const r = rng(7)
  for (const scheme of ['oph', 'classic', 'datasketch'] as MinHashScheme[]) {
    for (const n of [8, 40, 400]) {
      for (const j of [0.2, 0.5, 0.9]) {
        const trials = 60
        const errs: number[] = []
        for (let s = 0; s < trials; s++) {
          const h = new MinHasher({ numPerm: 128, seed: 100 + s, scheme })
          const { a, b, exact } = setPair(r, n, j, s)
          const sig = h.signTokensSync([a, b])
          errs.push(jaccard(h.signature(sig, 0), h.signature(sig, 1)) - exact)
        }
        const mean = errs.reduce((x, y) => x + y, 0) / trials
        const v = errs.reduce((x, y) => x + (y - mean) ** 2, 0) / (trials - 1)
        const se = Math.max(Math.sqrt(v / trials), 0.003)
        t.true(Math.abs(mean) <= 4.5 * se, `${scheme} |S|=${n} J=${j}: mean error ${mean.toFixed(4)} (SE ${se.toFixed(4)})`)
      }
    }
  }
})

test('estimates track the exact Jaccard of real shingle sets', async (t) => {
  const h = new MinHasher({ numPerm: 256 })
  const r = rng(3)
  const words = Array.from({ length: 300 }, () => `w${r.below(2000)}`)
  const texts = [words.join(' ')]
  for (const p of [0.02, 0.05, 0.1, 0.3]) texts.push(words.map((w) => (r.uniform() < p ? `x${r.below(1e6)}` : w)).join(' '))
  const sigs = await h.sign(texts)
  for (let i = 1; i < texts.length; i++) {
    const exact = exactJaccard(h.shingles(texts[0]), h.shingles(texts[i]))
    const est = jaccard(h.signature(sigs, 0), h.signature(sigs, i))
    // Standard deviation sqrt(J(1 − J)/k) ≤ 0.032 at k = 256.
    t.true(Math.abs(est - exact) < 0.13, `edit ${i}: estimate ${est} vs exact ${exact}`)
  }
})

test('b-bit compaction keeps the estimate unbiased after correction', (t) => {
  const r = rng(11)
  for (const bits of [1, 2, 4, 8, 16]) {
    const errs: number[] = []
    for (let s = 0; s < 80; s++) {
      const h = new MinHasher({ numPerm: 128, seed: s, scheme: 'classic' })
      const { a, b, exact } = setPair(r, 200, 0.5, s)
      const sigs = h.signTokensSync([a, b])
      const packed = bBits(sigs, { numPerm: 128, bits })
      const per = Math.ceil((128 * bits) / 8)
      t.is(packed.length, 2 * per)
      errs.push(bBitsJaccard(packed.subarray(0, per), packed.subarray(per), { numPerm: 128, bits }) - exact)
    }
    const mean = errs.reduce((x, y) => x + y, 0) / errs.length
    t.true(Math.abs(mean) < 0.03, `bits ${bits}: mean error ${mean}`)
  }
  t.throws(() => bBits(new Uint32Array(128), { numPerm: 128, bits: 17 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  // Packed bytes keep the hasher family: packed signatures of two seeds are not compared.
  const texts = ['one two three four five six', 'one two three four five seven']
  const h1 = new MinHasher({ numPerm: 64, seed: 1 })
  const h2 = new MinHasher({ numPerm: 64, seed: 2 })
  const p1 = bBits(h1.signSync(texts), { numPerm: 64, bits: 8 })
  const p2 = bBits(h2.signSync(texts), { numPerm: 64, bits: 8 })
  t.deepEqual(signatureFamily(p1.subarray(64)), h1.family)
  t.is(signatureFamily(bBits(new Uint32Array(64), { numPerm: 64, bits: 8 })), undefined)
  t.is(bBitsJaccard(p1.subarray(0, 64), p1.subarray(0, 64), { numPerm: 64, bits: 8 }), 1)
  t.throws(() => bBitsJaccard(p1.subarray(0, 64), p2.subarray(0, 64), { numPerm: 64, bits: 8 }), { code: 'ERR_SLIMDEX_SIGNATURE_MISMATCH' })
})

test('optimalParams reproduces datasketch’s (bands, rows) table', (t) => {
  const table: [number, [number, number][]][] = [
    [128, [[25, 5], [14, 9], [9, 13], [8, 16], [5, 25]]],
    [200, [[33, 6], [20, 10], [14, 14], [11, 18], [8, 25]]],
    [256, [[42, 6], [25, 10], [17, 15], [13, 19], [9, 28]]],
  ]
  const thresholds = [0.5, 0.7, 0.8, 0.85, 0.9]
  for (const [numPerm, row] of table) {
    row.forEach(([bands, rows], i) => {
      t.deepEqual(optimalParams({ threshold: thresholds[i], numPerm }), { bands, rows }, `${numPerm} @ ${thresholds[i]}`)
    })
  }
  t.is(collisionProbability(0.8, { bands: 9, rows: 13 }), 1 - (1 - 0.8 ** 13) ** 9)
  for (const threshold of [0, 1, Number.NaN, -0.5]) {
    t.throws(() => optimalParams({ threshold, numPerm: 128 }), { code: 'ERR_SLIMDEX_INVALID_ARG' }, String(threshold))
  }
})

test('band keys are equal exactly when the band’s slots are equal', (t) => {
  const r = rng(5)
  const k = 16
  const n = 50
  const sigs = new Uint32Array(n * k)
  // Slots take few values so that bands often coincide.
  for (let i = 0; i < sigs.length; i++) sigs[i] = r.below(2)
  const bands = 4
  const rows = 3
  const keys = bandKeys(sigs, { numPerm: k, bands, rows })
  t.is(keys.length, n * bands)
  let equalBands = 0
  for (let x = 0; x < n; x++) {
    for (let y = x + 1; y < n; y++) {
      for (let b = 0; b < bands; b++) {
        let same = true
        for (let s = b * rows; s < (b + 1) * rows; s++) same &&= sigs[x * k + s] === sigs[y * k + s]
        equalBands += Number(same)
        t.is(keys[x * bands + b] === keys[y * bands + b], same)
      }
    }
  }
  t.true(equalBands > 100)
  // Salted with the band index: identical slot values in different bands give different keys.
  const flat = new Uint32Array(k)
  const fk = bandKeys(flat, { numPerm: k, bands, rows })
  t.is(new Set(fk).size, bands)
  t.throws(() => bandKeys(sigs, { numPerm: k, bands: 6, rows: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('bad input gives clear errors', async (t) => {
  const h = new MinHasher({ numPerm: 16 })
  const bad = (fn: () => unknown, code = 'ERR_SLIMDEX_INVALID_ARG', what = '') => t.throws(fn as () => void, { code }, what)
  bad(() => new MinHasher({ numPerm: 0 }))
  bad(() => new MinHasher({ numPerm: 1.5 }))
  bad(() => new MinHasher({ numPerm: 70_000 }))
  bad(() => new MinHasher({ seed: -1 }))
  bad(() => new MinHasher({ scheme: 'sha' as MinHashScheme }))
  bad(() => new MinHasher({ scheme: 'datasketch', seed: 2 ** 32 }))
  bad(() => new MinHasher({ ngram: 0 }))
  bad(() => new MinHasher({ numperm: 16 } as never))
  const empty = t.throws(() => h.signSync(['fine text here', '']), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.regex(empty!.message, /shingle/)
  await t.throwsAsync(h.sign(['!!! ...']), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  bad(() => h.signSync([1 as unknown as string]))
  bad(() => h.signSync('text' as unknown as string[]))
  bad(() => jaccard(new Uint32Array(16), new Uint32Array(8)), 'ERR_SLIMDEX_DIM_MISMATCH')
  bad(() => jaccard(new Float32Array(16) as unknown as Uint32Array, new Uint32Array(16)))
  bad(() => h.signature(new Uint32Array(20), 0), 'ERR_SLIMDEX_DIM_MISMATCH')
  const ac = new AbortController()
  ac.abort()
  await t.throwsAsync(h.sign(['x'], { signal: ac.signal }), { code: 'ABORT_ERR' })
})

test('huge documents are signed', async (t) => {
  const h = new MinHasher({ numPerm: 128 })
  const r = rng(9)
  const big = Array.from({ length: 400_000 }, () => `w${r.below(100_000)}`).join(' ')
  const sigs = await h.sign([big, big.slice(0, big.length / 2)])
  const est = jaccard(h.signature(sigs, 0), h.signature(sigs, 1))
  t.true(est > 0.3 && est < 0.7, `half a document: estimate ${est}`)
})
