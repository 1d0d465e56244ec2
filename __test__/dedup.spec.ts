import test from 'ava'
import { MinHasher, dedup, dedupSync, exactPairs } from '../index.ts'
import type { DedupResult } from '../index.ts'
import { rng, spamAssassin, syntheticTexts } from '../benches/lib/data.mjs'

/** Exact pairs as a set of "a,b" (a < b) and, per document, whether an earlier one is a near-duplicate. */
function truthOf(texts: string[], threshold: number) {
  const ex = exactPairs(texts, { threshold })
  const pairs = new Set<string>()
  const dup = new Uint8Array(texts.length)
  for (let i = 0; i < ex.a.length; i++) {
    t0(ex.a[i] < ex.b[i])
    pairs.add(`${ex.a[i]},${ex.b[i]}`)
    dup[ex.b[i]] = 1
  }
  return { pairs, dup, exact: ex }
}
function t0(cond: boolean): void {
  if (!cond) throw new Error('exactPairs must return a < b')
}

function pairScores(r: DedupResult, truth: Set<string>) {
  let tp = 0
  const n = r.pairs!.a.length
  for (let i = 0; i < n; i++) tp += Number(truth.has(`${r.pairs!.a[i]},${r.pairs!.b[i]}`))
  return { precision: tp / n, recall: tp / truth.size, reported: n }
}
function decisionScores(r: DedupResult, truthDup: Uint8Array) {
  let tp = 0
  let fp = 0
  let pos = 0
  for (let i = 0; i < truthDup.length; i++) {
    pos += truthDup[i]
    if (r.isDuplicate[i]) truthDup[i] ? tp++ : fp++
  }
  return { precision: tp / (tp + fp), recall: tp / pos }
}

/** Clusters must be the connected components of the reported pairs, represented by their lowest index. */
function checkClusters(t: import('ava').ExecutionContext, r: DedupResult): void {
  const n = r.clusters.length
  const parent = Int32Array.from({ length: n }, (_, i) => i)
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]]
    return x
  }
  for (let i = 0; i < r.pairs!.a.length; i++) {
    const [x, y] = [find(r.pairs!.a[i]), find(r.pairs!.b[i])]
    if (x !== y) parent[Math.max(x, y)] = Math.min(x, y)
  }
  let mismatches = 0
  for (let i = 0; i < n; i++) mismatches += Number(r.clusters[i] !== find(i))
  t.is(mismatches, 0)
  let dups = 0
  for (let i = 0; i < n; i++) dups += r.isDuplicate[i]
  t.is(dups, r.duplicates)
}

test('SpamAssassin (real): dedup finds the exact all-pairs join’s near-duplicates at 0.8', async (t) => {
  // Message bodies: the headers carry per-message routing ids and dates, which the
  // whole-message numbers (logged below) are about rather than the content.
  const texts: string[] = await spamAssassin({ body: true })
  t.is(texts.length, 6046)
  const truth = truthOf(texts, 0.8)
  t.true(truth.pairs.size > 500, `exact pairs ${truth.pairs.size}`)
  for (let i = 0; i < truth.exact.a.length; i += 97) t.true(truth.exact.jaccard[i] >= 0.8)

  const lsh = await dedup(texts, { threshold: 0.8, mode: 'lsh', pairs: true })
  const ps = pairScores(lsh, truth.pairs)
  const ls = decisionScores(lsh, truth.dup)
  t.log(`lsh ${lsh.bands}×${lsh.rows}: pairs P ${ps.precision.toFixed(3)} R ${ps.recall.toFixed(3)} (${ps.reported} reported, ${truth.pairs.size} exact); duplicates P ${ls.precision.toFixed(3)} R ${ls.recall.toFixed(3)}`)
  t.true(ps.precision >= 0.9 && ps.recall >= 0.9, JSON.stringify(ps))
  t.true(ls.precision >= 0.9 && ls.recall >= 0.9, JSON.stringify(ls))
  for (let i = 0; i < lsh.pairs!.jaccard.length; i++) t0(lsh.pairs!.jaccard[i] >= 0.8)
  checkClusters(t, lsh)

  const bloom = await dedup(texts, { threshold: 0.8, mode: 'bloom' })
  t.is(bloom.pairs, undefined)
  const bs = decisionScores(bloom, truth.dup)
  t.log(`bloom ${bloom.bands}×${bloom.rows}: duplicates P ${bs.precision.toFixed(3)} R ${bs.recall.toFixed(3)} (${bloom.duplicates} flagged)`)
  t.true(bs.precision >= 0.9 && bs.recall >= 0.9, JSON.stringify(bs))
  for (let i = 0; i < texts.length; i++) t0(bloom.clusters[i] === (bloom.isDuplicate[i] ? -1 : i))

  const whole: string[] = await spamAssassin()
  const wt = truthOf(whole, 0.8)
  const w = pairScores(await dedup(whole, { threshold: 0.8, pairs: true }), wt.pairs)
  t.log(`whole messages: ${wt.pairs.size} exact pairs; lsh pairs P ${w.precision.toFixed(3)} R ${w.recall.toFixed(3)}`)
})

test('streaming input (async iterable) and progress give the same result as an array', async (t) => {
  const texts: string[] = syntheticTexts({ n: 3000, words: 80, seed: 4 })
  const want = dedupSync(texts, { pairs: true, batchSize: 1000 })
  t.true(want.duplicates > 150, `planted duplicates found: ${want.duplicates}`)
  async function* source() {
    for (const x of texts) yield x
  }
  const seen: number[] = []
  const got = await dedup(source(), { pairs: true, batchSize: 700, onProgress: (n) => seen.push(n) })
  t.deepEqual(got, want)
  t.deepEqual(seen, [700, 1400, 2100, 2800, 3000])
  t.deepEqual(await dedup(new Set(texts).values(), { pairs: true }), await dedup([...new Set(texts)], { pairs: true }))
  checkClusters(t, got)
})

test('planted near-duplicates are found and unrelated documents are kept', async (t) => {
  const r = rng(21)
  const base = Array.from({ length: 400 }, () => Array.from({ length: 60 }, () => `t${r.below(5000)}`).join(' '))
  const texts = [...base]
  const src: number[] = []
  for (let i = 0; i < 200; i++) {
    const j = r.below(400)
    src.push(j)
    texts.push(base[j] + ' trailing') // one changed 5-gram in ~56: J ≈ 0.98
  }
  for (const mode of ['lsh', 'bloom'] as const) {
    const res = await dedup(texts, { mode, threshold: 0.8 })
    t.is(res.duplicates, 200, mode)
    for (let i = 0; i < 400; i++) t.is(res.clusters[i], i)
    for (let i = 0; i < 200; i++) t.is(res.clusters[400 + i], mode === 'lsh' ? src[i] : -1)
  }
})

test('texts without letters or digits form one cluster; dedup rejects bad options', async (t) => {
  const res = await dedup(['', 'real words are here for once', '!!!', '   '])
  t.deepEqual(Array.from(res.clusters), [0, 1, 0, 0])
  t.is(res.duplicates, 2)
  const bad = (o: object) => t.throwsAsync(dedup(['a'], o), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  for (const threshold of [0, 1, -0.1, Number.NaN]) await bad({ threshold })
  await bad({ mode: 'minhash' })
  await bad({ numPerm: 0 })
  await bad({ numPerm: 32, bands: 9, rows: 13 })
  await bad({ falsePositiveRate: 0, mode: 'bloom' })
  await bad({ batchSize: 0 })
  await t.throwsAsync(dedup(['a'], { onProgress: 5 } as never), { instanceOf: TypeError, code: 'ERR_SLIMDEX_INVALID_ARG' })
  await bad({ typo: true })
  await t.throwsAsync(dedup('text' as never), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  await t.throwsAsync(dedup([1] as never), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const ac = new AbortController()
  ac.abort()
  await t.throwsAsync(dedup(['a b c'], { signal: ac.signal }), { code: 'ABORT_ERR' })
})

test('dedup uses the hasher’s shingling: char n-grams catch near-duplicates word 5-grams miss', async (t) => {
  const texts = ['colour organisation behaviour', 'color organization behavior']
  const h = new MinHasher({ shingle: 'char', ngram: 3 })
  t.true(h.shingles(texts[0]).length > 10)
  t.is((await dedup(texts, { threshold: 0.5 })).duplicates, 0)
  const exact = exactPairs(texts, { threshold: 0.3, shingle: 'char', ngram: 3 })
  t.is(exact.a.length, 1)
  const low = exact.jaccard[0]
  t.true(low > 0.3 && low < 0.8)
})
