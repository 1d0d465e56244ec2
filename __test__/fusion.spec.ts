import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import {
  BM25Index,
  BinaryIndex,
  FlatIndex,
  HybridRetriever,
  PQIndex,
  MultiVectorIndex,
  SparseIndex,
  Pipeline,
  VectorStore,
  asRetriever,
  chamferRescorer,
  evaluate,
  exactRescorer,
  fromBackend,
  fuseRankings,
  loadBeir,
  runQueries,
} from '../index.ts'
import type { Hit, Id, Retriever } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

/** n × dim standard normal vectors (seeded). */
function gaussian(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed)
  return Float32Array.from({ length: n * dim }, () => r.normal())
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

/** Brute-force exact top-k by float64 inner product, ties by lower row. */
function exactTopK(data: Float32Array, dim: number, q: Float32Array, k: number, keep: (id: number) => boolean = () => true): Hit[] {
  const n = data.length / dim
  const all: Hit[] = []
  for (let i = 0; i < n; i++) if (keep(i)) all.push({ id: i, score: dot(q, data.subarray(i * dim, (i + 1) * dim)) })
  return all.sort((a, b) => b.score - a.score || (a.id as number) - (b.id as number)).slice(0, k)
}

/** Independent RRF / weighted reference: a dictionary, then a sort on (score, first-seen). */
function referenceFuse(lists: Hit[][], method: 'rrf' | 'minmax' | 'zscore', weights: number[], k: number, rrfK = 60): Hit[] {
  const seenOrder: Id[] = []
  for (let r = 0; ; r++) {
    let any = false
    for (const l of lists) {
      if (r < l.length) {
        any = true
        if (!seenOrder.includes(l[r].id)) seenOrder.push(l[r].id)
      }
    }
    if (!any) break
  }
  const score = new Map<Id, number>(seenOrder.map((id) => [id, 0]))
  lists.forEach((l, i) => {
    if (method === 'rrf') return l.forEach((h, r) => score.set(h.id, score.get(h.id)! + weights[i] / (rrfK + r + 1)))
    if (l.length === 0) return
    const s = l.map((h) => h.score)
    let norm: number[]
    let absent = 0
    if (method === 'minmax') {
      const lo = Math.min(...s)
      const hi = Math.max(...s)
      norm = s.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 1))
    } else {
      const mean = s.reduce((a, b) => a + b, 0) / s.length
      const std = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length)
      norm = s.map((x) => (std > 0 ? (x - mean) / std : 0))
      absent = Math.min(...norm)
    }
    const ids = new Set(l.map((h) => h.id))
    l.forEach((h, r) => score.set(h.id, score.get(h.id)! + weights[i] * norm[r]))
    for (const id of seenOrder) if (!ids.has(id)) score.set(id, score.get(id)! + weights[i] * absent)
  })
  return seenOrder
    .map((id, at) => ({ id, score: score.get(id)!, at }))
    .sort((a, b) => b.score - a.score || a.at - b.at)
    .slice(0, k)
    .map(({ id, score }) => ({ id, score }))
}

function randomList(r: ReturnType<typeof rng>, universe: number, len: number): Hit[] {
  const ids = new Set<number>()
  while (ids.size < len) ids.add(r.below(universe))
  // Scores on a coarse grid so that ties happen; sorted best first.
  return [...ids].map((id) => ({ id, score: Math.round(r.normal() * 4) / 4 })).sort((a, b) => b.score - a.score)
}

function close(t: { true(v: boolean, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void }, got: Hit[], want: Hit[], what: string) {
  t.deepEqual(
    got.map((h) => h.id),
    want.map((h) => h.id),
    what,
  )
  got.forEach((h, i) => t.true(Math.abs(h.score - want[i].score) < 1e-12, `${what}: score ${i}`))
}

test('fuseRankings matches an independent RRF and weighted (min-max, z-score) reference on random lists with ties', (t) => {
  const r = rng(7)
  for (let trial = 0; trial < 40; trial++) {
    const lists = [randomList(r, 60, 1 + r.below(40)), randomList(r, 60, r.below(40)), randomList(r, 60, 1 + r.below(10))]
    const weights = [1, 0.5 + r.uniform(), r.below(3)]
    const k = 1 + r.below(70)
    close(t, fuseRankings(lists, { k, weights }), referenceFuse(lists, 'rrf', weights, k), `rrf trial ${trial}`)
    close(t, fuseRankings(lists, { k, weights, rrfK: 10 }), referenceFuse(lists, 'rrf', weights, k, 10), `rrf k=10 trial ${trial}`)
    for (const normalization of ['minmax', 'zscore'] as const) {
      close(t, fuseRankings(lists, { k, weights, fusion: 'weighted', normalization }), referenceFuse(lists, normalization, weights, k), `${normalization} trial ${trial}`)
    }
  }
})

test('RRF: equal fused scores keep first-seen order (rank by rank across lists)', (t) => {
  const a: Hit[] = [
    { id: 'x', score: 9 },
    { id: 'y', score: 8 },
  ]
  const b: Hit[] = [
    { id: 'y', score: 1 },
    { id: 'x', score: 0 },
  ]
  // x and y both get 1/61 + 1/62; x was seen first (rank 1 of list 0).
  t.deepEqual(
    fuseRankings([a, b], { k: 2 }).map((h) => h.id),
    ['x', 'y'],
  )
  t.deepEqual(
    fuseRankings([b, a], { k: 2 }).map((h) => h.id),
    ['y', 'x'],
  )
  // A document only in the second list at rank 1 beats one only in the first list at rank 2.
  const c: Hit[] = [{ id: 'z', score: 3 }]
  t.deepEqual(
    fuseRankings([[{ id: 'p', score: 1 }, { id: 'q', score: 0 }], c], { k: 3 }).map((h) => h.id),
    ['p', 'z', 'q'],
  )
})

test('weighted fusion: absent from a list never beats ranked last; ids 1 and "1" stay distinct', (t) => {
  const a: Hit[] = [
    { id: 1, score: 10 },
    { id: 2, score: 5 },
    { id: 3, score: 0 },
  ]
  const b: Hit[] = [{ id: '1', score: 1 }]
  const fused = fuseRankings([a, b], { k: 10, fusion: 'weighted', normalization: 'zscore' })
  t.is(fused.length, 4)
  t.true(fused.some((h) => h.id === '1') && fused.some((h) => h.id === 1))
  t.throws(() => fuseRankings([a], { k: 0 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => fuseRankings([a], { k: 1, weights: [-1] }), { message: /weights\[0\]/ })
  t.throws(() => fuseRankings([a], { k: 1, fusion: 'sum' as never }), { message: /fusion/ })
})

/** A retriever over a fixed score table that records the k it was asked for. */
function tableRetriever(scores: Map<Id, number>, calls: number[] = []): Retriever<string> {
  const ranked = [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score)
  return fromBackend<string>({
    size: () => ranked.length,
    search: (_q, k) => {
      calls.push(k)
      return ranked.slice(0, k)
    },
  })
}

test('asRetriever(BinaryIndex) answers like the index, with filters equal to filtering the full ranking', async (t) => {
  const dim = 32
  const n = 300
  const data = gaussian(n, dim, 1)
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  index.addSync(undefined, data)
  const retriever = asRetriever(index, { candidates: n })
  const queries = Array.from({ length: 5 }, (_, i) => gaussian(1, dim, 100 + i))
  for (const q of queries) {
    t.deepEqual(await retriever.search(q, { k: 10 }), index.search(q, { k: 10, candidates: n }))
    const keep = (id: Id) => (id as number) % 7 === 3
    const full = index.search(q, { k: n, candidates: n })
    const filtered = await retriever.search(q, { k: 10, filter: keep })
    t.deepEqual(filtered, full.filter((h) => keep(h.id)).slice(0, 10))
    t.is(filtered.length, 10)
  }
  const batch = await retriever.searchBatch(queries, { k: 5, filter: (id) => (id as number) < 40 })
  for (let i = 0; i < queries.length; i++) {
    t.deepEqual(batch[i], (await retriever.search(queries[i], { k: 5, filter: (id) => (id as number) < 40 })))
  }
  // A filter matching nothing scans everything and returns nothing; k beyond size returns size.
  t.deepEqual(await retriever.search(queries[0], { k: 3, filter: () => false }), [])
  t.is((await retriever.search(queries[0], { k: 1000 })).length, n)
  await t.throwsAsync(retriever.search(queries[0], { k: 1.5 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => asRetriever(index, { k: 3 } as never), { message: /k is given per search/ })
  t.throws(() => asRetriever({} as never), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('HybridRetriever over a BinaryIndex and a table retriever fuses their outputs with per-part depth', async (t) => {
  const dim = 16
  const data = gaussian(200, dim, 3)
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  index.addSync(undefined, data)
  const r = rng(9)
  const table = new Map<Id, number>(Array.from({ length: 150 }, (_, i) => [i * 2, r.normal()]))
  const calls: number[] = []
  const sparse = tableRetriever(table, calls)
  const dense = asRetriever(index, { candidates: 200 })
  type Q = { text: string; vector: Float32Array }
  const hybrid = new HybridRetriever<Q>(
    [
      { retriever: index, query: (q) => q.vector, depth: 30 },
      { retriever: sparse, query: (q) => q.text, weight: 2, depth: 50 },
    ],
    { fusion: 'rrf' },
  )
  const q: Q = { text: 'anything', vector: gaussian(1, dim, 77) }
  const hits = await hybrid.search(q, { k: 10 })
  t.deepEqual(calls, [50])
  const want = fuseRankings([index.search(q.vector, { k: 30 }), await sparse.search('', { k: 50 })], { k: 10, weights: [1, 2] })
  t.deepEqual(hits, want)
  // k larger than a part's depth raises that part's depth to k.
  calls.length = 0
  await hybrid.search(q, { k: 80 })
  t.deepEqual(calls, [80])
  // Filters reach every part; the batch form equals the single form.
  const keep = (id: Id) => (id as number) % 4 === 0
  const filtered = await hybrid.search(q, { k: 10, filter: keep })
  t.true(filtered.every((h) => keep(h.id)))
  const batch = await hybrid.searchBatch([q, q], { k: 10, filter: keep })
  t.deepEqual(batch, [filtered, filtered])
  // Weighted z-score fusion with the dense part through asRetriever.
  const weighted = new HybridRetriever<Q>(
    [
      { retriever: dense, query: (x) => x.vector },
      { retriever: sparse, query: (x) => x.text },
    ],
    { fusion: 'weighted', normalization: 'zscore', depth: 40 },
  )
  const w = await weighted.search(q, { k: 5 })
  t.deepEqual(w, fuseRankings([await dense.search(q.vector, { k: 40 }), await sparse.search('', { k: 40 })], { k: 5, fusion: 'weighted', normalization: 'zscore' }))
  // Hybrids nest.
  const nested = new HybridRetriever<Q>([{ retriever: hybrid }, { retriever: weighted }])
  t.is((await nested.search(q, { k: 7 })).length, 7)
  t.throws(() => new HybridRetriever([]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => new HybridRetriever([{ retriever: sparse, weight: 0 }]), { message: /weight > 0/ })
  t.throws(() => new HybridRetriever([{ retriever: sparse, depth: 0 }]), { message: /depth/ })
  t.throws(() => new HybridRetriever([{ retriever: sparse }], { rrfK: -1 }), { message: /rrfK/ })
})

test('Pipeline: binary candidates + exact float rescoring equals brute-force exact search', async (t) => {
  const dim = 48
  const n = 400
  const data = gaussian(n, dim, 11)
  const index = new BinaryIndex({ dim, rescore: 'none' })
  index.addSync(undefined, data)
  const store = new VectorStore(undefined, data, dim)
  const full = new Pipeline<Float32Array>(index, { depth: n }).rescore(exactRescorer(store))
  const shallow = new Pipeline<Float32Array>(index, { depth: 40 }).rescore(exactRescorer(store))
  let shallowRecall = 0
  for (let i = 0; i < 8; i++) {
    const q = gaussian(1, dim, 500 + i)
    const exact = exactTopK(data, dim, q, 10)
    const got = await full.search(q, { k: 10 })
    t.deepEqual(
      got.map((h) => h.id),
      exact.map((h) => h.id),
    )
    got.forEach((h, j) => t.true(Math.abs(h.score - exact[j].score) < 1e-9))
    const s = await shallow.search(q, { k: 10 })
    shallowRecall += s.filter((h) => exact.some((e) => e.id === h.id)).length / 10
  }
  t.log(`binary(40 candidates) → float rescoring recall@10 = ${(shallowRecall / 8).toFixed(2)} (synthetic gaussian, n=${n}, dim=${dim})`)
  t.true(shallowRecall / 8 > 0.3)
  const queries = [gaussian(1, dim, 1), gaussian(1, dim, 2)]
  t.deepEqual(await full.searchBatch(queries, { k: 5 }), [await full.search(queries[0], { k: 5 }), await full.search(queries[1], { k: 5 })])
})

test('Pipeline stages: callbacks, keep, cosine / l2, Chamfer with a scoring function, stable ties, errors', async (t) => {
  const base = tableRetriever(new Map<Id, number>([['a', 5], ['b', 4], ['c', 3], ['d', 2], ['e', 1]]))
  // A callback that gives equal scores keeps the previous order; keep trims.
  const flat = new Pipeline(base).rescore((_q, c) => c.map(() => 1))
  t.deepEqual(
    (await flat.search('q', { k: 5 })).map((h) => h.id),
    ['a', 'b', 'c', 'd', 'e'],
  )
  const reversed = new Pipeline(base).rescore({ score: (_q, c) => c.map((h) => -h.score), keep: 3 }).rescore(async (_q, c) => c.map((h) => (h.id === 'd' ? 1 : 0)))
  t.is(reversed.stages, 2)
  t.deepEqual(
    (await reversed.search('q', { k: 5 })).map((h) => h.id),
    ['d', 'e', 'c'],
  )
  // Exact stages over string ids.
  const store = new VectorStore(['a', 'b', 'c', 'd', 'e'], [[1, 0], [0, 2], [3, 3], [-1, 0], [0, 0]], 2)
  const q = Float32Array.of(1, 1)
  const cos = await new Pipeline(base).rescore(exactRescorer<string>(store, { metric: 'cosine', query: () => q })).search('q', { k: 5 })
  t.deepEqual(
    cos.map((h) => h.id),
    ['c', 'a', 'b', 'e', 'd'],
  )
  t.true(Math.abs(cos[0].score - 1) < 1e-9)
  const l2 = await new Pipeline(base).rescore(exactRescorer<string>(store, { metric: 'l2', query: () => q })).search('q', { k: 2 })
  t.deepEqual(l2, [
    { id: 'a', score: -1 },
    { id: 'b', score: -2 },
  ])
  // Chamfer: Σ over query tokens of the best inner product, computed by the given function.
  const tokens = new Map<Id, Float32Array>([
    ['a', Float32Array.of(1, 0, 0, 1)],
    ['b', Float32Array.of(1, 1)],
    ['c', Float32Array.of(0, 0)],
    ['d', Float32Array.of(-1, -1)],
    ['e', Float32Array.of(3, 0)],
  ])
  const maxSim = (qt: Float32Array, dt: Float32Array, d: number) => {
    let s = 0
    for (let i = 0; i < qt.length; i += d) {
      let best = -Infinity
      for (let j = 0; j < dt.length; j += d) best = Math.max(best, qt[i] * dt[j] + qt[i + 1] * dt[j + 1])
      s += best
    }
    return s
  }
  const ch = await new Pipeline(base)
    .rescore(chamferRescorer<string>({ documents: (id) => tokens.get(id), dim: 2, score: maxSim, query: () => Float32Array.of(1, 0, 0, 1) }))
    .search('q', { k: 5 })
  t.deepEqual(
    ch.map((h) => h.id),
    ['e', 'a', 'b', 'c', 'd'], // a and b tie at 2: previous order
  )
  t.deepEqual(
    ch.map((h) => h.score),
    [3, 2, 2, 0, -2],
  )
  // Errors name the stage and the id.
  await t.throwsAsync(new Pipeline(base).rescore(() => [1]).search('q', { k: 2 }), { message: /returned 1 scores for 5 candidates/ })
  const partial = new VectorStore(['a'], [[1, 0]], 2)
  await t.throwsAsync(new Pipeline(base).rescore(exactRescorer<string>(partial, { query: () => q })).search('q', { k: 2 }), {
    code: 'ERR_SLIMDEX_INVALID_STATE',
    message: /id b/,
  })
  t.throws(() => new Pipeline(base).rescore({ score: () => [], keep: 0 }), { message: /keep/ })
  t.throws(() => new VectorStore(['a', 'a'], [[1], [2]], 1), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
})

test('asRetriever(MultiVectorIndex): single and CSR-batched searches equal the index; Chamfer stage defaults to native chamfer', async (t) => {
  const dim = 8
  const r = rng(21)
  const lens = Array.from({ length: 60 }, () => 1 + r.below(6))
  const offsets = Uint32Array.from([0, ...lens.map(((s) => (l: number) => (s += l))(0))])
  const tokens = Float32Array.from({ length: offsets[lens.length] * dim }, () => r.normal())
  const index = new MultiVectorIndex({ dim, storage: 'f32' })
  index.addSync(undefined, { tokens, offsets })
  const queries = Array.from({ length: 4 }, (_, i) => Float32Array.from({ length: (2 + i) * dim }, () => r.normal()))
  const retriever = asRetriever(index, { candidates: 60 })
  const single = await Promise.all(queries.map((q) => retriever.search(q, { k: 5 })))
  t.deepEqual(single, queries.map((q) => index.search(q, { k: 5, candidates: 60 })))
  t.deepEqual(await retriever.searchBatch(queries, { k: 5 }), single)
  const brute = asRetriever(index, { mode: 'bruteforce' })
  t.deepEqual(await brute.searchBatch(queries, { k: 3 }), queries.map((q) => index.search(q, { k: 3, mode: 'bruteforce' })))
  // Brute-force candidates re-scored by the default Chamfer stage keep the brute-force order and scores.
  const doc = (id: Id) => tokens.subarray(offsets[id as number] * dim, offsets[(id as number) + 1] * dim)
  const piped = await new Pipeline<Float32Array>(brute, { depth: 10 }).rescore(chamferRescorer({ documents: doc, dim })).search(queries[0], { k: 10 })
  const want = index.search(queries[0], { k: 10, mode: 'bruteforce' })
  t.deepEqual(
    piped.map((h) => h.id),
    want.map((h) => h.id),
  )
  piped.forEach((h, i) => t.true(Math.abs(h.score - want[i].score) < 1e-4))
})

test('asRetriever(SparseIndex): term-map and numeric queries, single and batched, with filters', async (t) => {
  const r = rng(31)
  const docs = Array.from({ length: 300 }, (_, i) => {
    const terms: Record<string, number> = {}
    for (let j = 0; j < 1 + r.below(8); j++) terms[`t${r.below(40)}`] = 1 + r.below(5)
    return { id: `d${i}`, terms }
  })
  const index = SparseIndex.buildSync(docs)
  const retriever = asRetriever(index)
  const queries = Array.from({ length: 5 }, () => ({ terms: { [`t${r.below(40)}`]: 1, [`t${r.below(40)}`]: 2 } }))
  const want = queries.map((q) => index.search(q, { k: 7 }))
  t.deepEqual(await retriever.searchBatch(queries, { k: 7 }), want)
  t.deepEqual(await retriever.search(queries[0], { k: 7 }), want[0])
  const keep = (id: Id) => Number(String(id).slice(1)) % 2 === 0
  t.deepEqual(await retriever.search(queries[1], { k: 4, filter: keep }), index.search(queries[1], { k: 300 }).filter((h) => keep(h.id)).slice(0, 4))
})

test('sparse adapters filter natively: allow-lists (Set, array, numeric ids) equal brute-force post-filtering of the full ranking, k unchanged', async (t) => {
  const r = rng(77)
  const n = 2000
  const docs = Array.from({ length: n }, (_, i) => {
    const terms: Record<string, number> = {}
    for (let j = 0; j < 1 + r.below(10); j++) terms[`t${r.below(60)}`] = 0.25 * (1 + r.below(12))
    return { id: `d${i}`, terms }
  })
  const sparse = SparseIndex.buildSync(docs)
  const texts = docs.map((d) => ({ id: d.id, text: Object.keys(d.terms).map((w) => `${w.replace('t', 'w')}x`).join(' ') }))
  const bm25 = await BM25Index.build(texts)
  const numeric = SparseIndex.buildSync(docs.map((d, i) => ({ id: i, terms: d.terms })))
  const queries = Array.from({ length: 12 }, () => ({ terms: { [`t${r.below(60)}`]: 1, [`t${r.below(60)}`]: 0.5, [`t${r.below(60)}`]: 2 } }))
  const textQueries = queries.map((q) => Object.keys(q.terms).map((w) => `${w.replace('t', 'w')}x`).join(' '))
  // Selective allow-lists (1 %, 10 %, 50 % of the documents) and one with ids the index lacks.
  const lists = [0.01, 0.1, 0.5].map((p) => docs.filter(() => r.uniform() < p).map((d) => d.id))
  lists.push([...lists[0], 'nope', 'd-1'])
  const k = 10
  // Record what the adapter asks of each index: a native filter and no over-fetching.
  const spy = <T extends { search: (q: never, o: { k: number; filter?: readonly Id[] }) => Hit[] }>(index: T) => {
    const calls: Array<{ k: number; filter?: readonly Id[] }> = []
    const search = index.search.bind(index)
    ;(index as { search: unknown }).search = (q: never, o: { k: number; filter?: readonly Id[] }) => (calls.push(o), search(q, o))
    return calls
  }
  const sparseCalls = spy(sparse)
  const bm25Calls = spy(bm25)
  const sr = asRetriever(sparse)
  const br = asRetriever(bm25)
  for (const allowed of lists) {
    const set = new Set<Id>(allowed)
    for (let q = 0; q < queries.length; q++) {
      // Brute force: the exhaustive full ranking, post-filtered.
      const wantSparse = sparse.search(queries[q], { k: n, exhaustive: true }).filter((h) => set.has(h.id)).slice(0, k)
      const wantBm25 = bm25.search(textQueries[q], { k: n, exhaustive: true }).filter((h) => set.has(h.id)).slice(0, k)
      sparseCalls.length = 0
      bm25Calls.length = 0
      t.deepEqual(await sr.search(queries[q], { k, filter: set }), wantSparse)
      t.deepEqual(await sr.search(queries[q], { k, filter: allowed }), wantSparse)
      t.deepEqual(await br.search(textQueries[q], { k, filter: set }), wantBm25)
      t.deepEqual(sparseCalls.map((c) => [c.k, c.filter?.length]), [
        [k, set.size],
        [k, allowed.length],
      ])
      t.deepEqual(bm25Calls.map((c) => [c.k, c.filter?.length]), [[k, set.size]])
      // A predicate gives the same answer (by over-fetching).
      t.deepEqual(await sr.search(queries[q], { k, filter: (id) => set.has(id) }), wantSparse)
    }
    // Batches go to the native batch with the filter.
    t.deepEqual(
      await sr.searchBatch(queries, { k, filter: set }),
      queries.map((q) => sparse.search(q, { k: n, exhaustive: true }).filter((h) => set.has(h.id)).slice(0, k)),
    )
    t.deepEqual(
      await br.searchBatch(textQueries, { k, filter: allowed }),
      textQueries.map((q) => bm25.search(q, { k: n, exhaustive: true }).filter((h) => set.has(h.id)).slice(0, k)),
    )
  }
  // Numeric ids: 1 and '1' are different ids; a mixed list falls back to membership tests.
  const nr = asRetriever(numeric)
  const evens = Array.from({ length: n / 2 }, (_, i) => 2 * i)
  const wantEven = numeric.search(queries[0], { k: n, exhaustive: true }).filter((h) => (h.id as number) % 2 === 0).slice(0, k)
  t.deepEqual(await nr.search(queries[0], { k, filter: evens }), wantEven)
  t.deepEqual(await nr.search(queries[0], { k, filter: evens.map(String) }), [])
  t.deepEqual(await nr.search(queries[0], { k, filter: [...evens, 'd1'] }), wantEven)
  t.deepEqual(await nr.search(queries[0], { k, filter: [] }), [])
  t.deepEqual(await nr.searchBatch(queries.slice(0, 2), { k, filter: new Set() }), [[], []])
  // Allow-lists on indexes without native filtering are membership tests on over-fetched results.
  const table = fromBackend<number>({ size: () => 5, search: (_q, kk) => [4, 3, 2, 1, 0].slice(0, kk).map((i) => ({ id: i, score: i })) })
  t.deepEqual(await table.search(0, { k: 2, filter: [0, 2, 9] }), [
    { id: 2, score: 2 },
    { id: 0, score: 0 },
  ])
  await t.throwsAsync(sr.search(queries[0], { k, filter: 'd1' as never }), { instanceOf: TypeError, message: /filter/ })
  await t.throwsAsync(sr.search(queries[0], { k, filter: [{}] as never }), { instanceOf: TypeError, message: /filter/ })
  t.throws(() => asRetriever(sparse, { filter: ['d1'] } as never), { instanceOf: TypeError, message: /filter is given per search/ })
})

test('asRetriever(PQIndex / FlatIndex): equal to the indexes; PQ candidates + exact rescoring equal FlatIndex float32 search', async (t) => {
  const dim = 16
  const n = 300
  const data = gaussian(n, dim, 41)
  const flat = new FlatIndex({ dim })
  flat.addSync(undefined, data)
  const pq = PQIndex.trainSync(data, { dim, m: 4, nbits: 4, seed: 3, metric: 'ip' })
  pq.addSync(undefined, data)
  const queries = Array.from({ length: 4 }, (_, i) => gaussian(1, dim, 900 + i))
  const flatR = asRetriever(flat, { threads: 1 })
  const pqR = asRetriever(pq, { candidates: 50, threads: 1 })
  t.deepEqual(await flatR.searchBatch(queries, { k: 5 }), queries.map((q) => flat.search(q, { k: 5 })))
  t.deepEqual(await pqR.searchBatch(queries, { k: 5 }), queries.map((q) => pq.search(q, { k: 5, candidates: 50 })))
  t.deepEqual(await pqR.search(queries[0], { k: 5 }), pq.search(queries[0], { k: 5, candidates: 50 }))
  const keep = (id: Id) => (id as number) % 3 === 0
  t.deepEqual(await flatR.search(queries[1], { k: 6, filter: keep }), flat.search(queries[1], { k: n }).filter((h) => keep(h.id)).slice(0, 6))
  // Every PQ candidate re-scored exactly: the exact inner-product top-k.
  const exact = new Pipeline<Float32Array>(pq, { depth: n }).rescore(exactRescorer(new VectorStore(undefined, data, dim)))
  for (const q of queries) {
    t.deepEqual(
      (await exact.search(q, { k: 10 })).map((h) => h.id),
      exactTopK(data, dim, q, 10).map((h) => h.id),
    )
  }
})

// ---- real data: msmarco-sample -------------------------------------------------------------

const MSMARCO = join(process.cwd(), '..', 'shared', 'datasets', 'msmarco-sample')

/** A small BM25 (k1 0.9, b 0.4) over token lists, as an in-test retriever. */
function bm25Retriever(docs: { id: string; tokens: string[] }[], tokenize: (s: string) => string[]): Retriever<string> {
  const postings = new Map<string, Array<[number, number]>>()
  let total = 0
  docs.forEach((d, i) => {
    total += d.tokens.length
    const tf = new Map<string, number>()
    for (const tok of d.tokens) tf.set(tok, (tf.get(tok) ?? 0) + 1)
    for (const [tok, c] of tf) {
      if (!postings.has(tok)) postings.set(tok, [])
      postings.get(tok)!.push([i, c])
    }
  })
  const avgdl = total / docs.length
  return fromBackend<string>({
    size: () => docs.length,
    search(query, k) {
      const scores = new Float64Array(docs.length)
      for (const tok of new Set(tokenize(query))) {
        const p = postings.get(tok)
        if (!p) continue
        const idf = Math.log(1 + (docs.length - p.length + 0.5) / (p.length + 0.5))
        for (const [i, tf] of p) scores[i] += (idf * tf * 1.9) / (tf + 0.9 * (0.6 + (0.4 * docs[i].tokens.length) / avgdl))
      }
      const idx = Array.from(scores.keys()).filter((i) => scores[i] > 0)
      idx.sort((a, b) => scores[b] - scores[a] || a - b)
      return idx.slice(0, k).map((i) => ({ id: docs[i].id, score: scores[i] }))
    },
  })
}

const words = (s: string) => s.toLowerCase().match(/\w+/g) ?? []
/** Character 4-grams inside words: a second, differently wrong lexical view. */
const grams = (s: string) => words(s).flatMap((w) => (w.length <= 4 ? [w] : Array.from({ length: w.length - 3 }, (_, i) => w.slice(i, i + 4))))

;(existsSync(MSMARCO) ? test : test.skip)('hybrid of BM25Index and a 4-gram BM25 on msmarco-sample matches or beats the better part on nDCG@10', async (t) => {
  const { corpus, queries, qrels } = await loadBeir(MSMARCO)
  const texts = corpus.map((d) => `${d.title} ${d.text}`)
  const bm25 = await BM25Index.build(corpus.map((d, i) => ({ id: d.id, text: texts[i] })))
  const wordBm25 = asRetriever(bm25)
  const gramBm25 = bm25Retriever(
    corpus.map((d, i) => ({ id: d.id, tokens: grams(texts[i]) })),
    grams,
  )
  const hybrid = new HybridRetriever<string>([{ retriever: wordBm25 }, { retriever: gramBm25 }], { fusion: 'rrf', depth: 100 })
  const qs = queries.map((q) => ({ id: q.id, query: q.text }))
  // The adapter answers like the index, batched and filtered.
  t.deepEqual(await wordBm25.search(qs[0].query, { k: 10 }), bm25.search(qs[0].query, { k: 10 }))
  const keep = (id: Id) => String(id).endsWith('7')
  t.deepEqual(await wordBm25.search(qs[0].query, { k: 5, filter: keep }), bm25.search(qs[0].query, { k: 5000 }).filter((h) => keep(h.id)).slice(0, 5))
  const score = async (r: Retriever<string>) => evaluate(await runQueries(r, qs, { k: 10 }), qrels, { metrics: ['ndcg@10'] }).mean['ndcg@10']
  const [w, g, h] = [await score(wordBm25), await score(gramBm25), await score(hybrid)]
  t.log(`msmarco-sample (real, ${queries.length} queries) nDCG@10: BM25Index ${w.toFixed(4)}, 4-gram BM25 ${g.toFixed(4)}, RRF hybrid ${h.toFixed(4)}`)
  t.true(h >= Math.max(w, g) - 1e-9)
})

/**
 * Real embeddings (all-MiniLM-L6-v2, 384-d, L2-normalised) written by the bench data script
 * (benches/py/embed_minilm.py): <name>.f32 (float32 rows) and <name>.ids.json (row ids).
 */
const EMBEDDINGS = join(process.env.SLIMDEX_BENCH_CACHE ?? join(homedir(), '.cache', 'slimdex-bench'), 'embeddings', 'msmarco-sample-all-MiniLM-L6-v2')
const EMBEDDING_FILES = ['corpus.f32', 'corpus.ids.json', 'queries.f32', 'queries.ids.json'].map((f) => join(EMBEDDINGS, f))
const HAS_EMBEDDINGS = EMBEDDING_FILES.every((f) => existsSync(f)) && existsSync(MSMARCO)
const DENSE_TITLE = 'hybrid BM25 + dense (real MiniLM embeddings) on msmarco-sample: nDCG@10 of each part, of RRF and of a cross-validated fusion printed'

function readEmbeddings(name: string): { ids: string[]; data: Float32Array; dim: number } {
  const ids: string[] = JSON.parse(readFileSync(join(EMBEDDINGS, `${name}.ids.json`), 'utf8'))
  const bytes = readFileSync(join(EMBEDDINGS, `${name}.f32`))
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
  return { ids, data, dim: data.length / ids.length }
}

;(HAS_EMBEDDINGS ? test : test.skip)(HAS_EMBEDDINGS ? DENSE_TITLE : `${DENSE_TITLE} [skipped: no real embeddings in ${EMBEDDINGS}]`, async (t) => {
  const { corpus, queries, qrels } = await loadBeir(MSMARCO)
  const docs = readEmbeddings('corpus')
  const qemb = readEmbeddings('queries')
  t.is(docs.dim, 384)
  t.is(docs.ids.length, corpus.length)
  const index = new BinaryIndex({ dim: docs.dim, rescore: 'float32', metric: 'cosine' })
  index.addSync(docs.ids, docs.data)
  const byId = new Map(corpus.map((d) => [d.id, d]))
  const lexical = asRetriever(await BM25Index.build(docs.ids.map((id) => ({ id, text: `${byId.get(id)!.title} ${byId.get(id)!.text}` }))))
  const qRow = new Map(qemb.ids.map((id, i) => [id, i]))
  const qv = (id: string) => qemb.data.subarray(qRow.get(id)! * qemb.dim, (qRow.get(id)! + 1) * qemb.dim)
  type Q = { text: string; vector: Float32Array }
  const dense = asRetriever(index, { candidates: 1000 })
  const hybrid = new HybridRetriever<Q>(
    [
      { retriever: lexical, query: (q) => q.text },
      { retriever: dense, query: (q) => q.vector },
    ],
    { fusion: 'rrf', depth: 100 },
  )
  const nd = async <T>(r: Retriever<T>, f: (q: { id: string; text: string }) => T) =>
    evaluate(await runQueries(r, queries.map((q) => ({ id: q.id, query: f(q) })), { k: 10 }), qrels, { metrics: ['ndcg@10'] }).mean['ndcg@10']
  const l = await nd(lexical, (q) => q.text)
  const d = await nd(dense, (q) => qv(q.id))
  const h = await nd(hybrid, (q) => ({ text: q.text, vector: qv(q.id) }))
  t.log(`msmarco-sample (real, ${queries.length} queries, all-MiniLM-L6-v2) nDCG@10: BM25 ${l.toFixed(4)}, dense ${d.toFixed(4)}, RRF hybrid ${h.toFixed(4)}`)
  // Measured (43 queries): BM25 0.6876, dense 0.7977, RRF 1:1 0.7821 — in-domain MiniLM (trained on
  // MS MARCO) is stronger than the fusion, so "matches the better part" does not hold here; RRF 1:2
  // gives 0.7948, weighted min-max 0.7859. What must hold: fusion is far above the weaker part and
  // the per-part numbers are the adapters' (checked against the indexes elsewhere in this file).
  t.true(h > Math.min(l, d) + 0.05, `hybrid ${h} is not clearly above the weaker part ${Math.min(l, d)}`)
  t.true(Math.abs(l - 0.6876) < 5e-4, `BM25Index nDCG@10 ${l} (expected 0.6876, as bm25s)`)

  // Can a fusion chosen without looking at the evaluated queries beat dense alone? Each query's
  // configuration (fusion, weights, normalisation, depth, or BM25 → dense re-scoring) is the one
  // best on the *other* queries (cross-validation), so the held-out number is an honest estimate,
  // not a weight tuned on the test queries. Leave-one-out, and 5 folds as a check on stability.
  const depth = 1000
  const lexRuns = await runQueries(lexical, queries.map((q) => ({ id: q.id, query: q.text })), { k: depth })
  const denRuns = await runQueries(dense, queries.map((q) => ({ id: q.id, query: qv(q.id) })), { k: depth })
  const perQuery = (run: Record<string, Hit[]>) => evaluate(run, qrels, { metrics: ['ndcg@10'] }).perQuery
  const judged = Object.keys(perQuery(lexRuns)).sort()
  const configs = hybridConfigs()
  const scores = configs.map((c) => perQuery(Object.fromEntries(judged.map((q) => [q, c.fuse(lexRuns[q], denRuns[q])]))))
  const denseScores = perQuery(denRuns)
  const meanOf = (per: Record<string, Record<string, number>>, ids: readonly string[]) => ids.reduce((s, q) => s + per[q]['ndcg@10'], 0) / ids.length
  /** Held-out nDCG@10 with `folds` folds (query i in fold i mod folds), and the configurations chosen. */
  const crossValidate = (folds: number) => {
    const heldOut: Record<string, number> = {}
    const chosen = new Map<string, number>()
    for (let f = 0; f < folds; f++) {
      const train = judged.filter((_, i) => i % folds !== f)
      let best = 0
      configs.forEach((_, i) => {
        if (meanOf(scores[i], train) > meanOf(scores[best], train)) best = i
      })
      chosen.set(configs[best].name, (chosen.get(configs[best].name) ?? 0) + 1)
      for (const q of judged.filter((_, i) => i % folds === f)) heldOut[q] = scores[best][q]['ndcg@10']
    }
    const mean = judged.reduce((s, q) => s + heldOut[q], 0) / judged.length
    const wins = judged.filter((q) => heldOut[q] > denseScores[q]['ndcg@10'] + 1e-12).length
    const losses = judged.filter((q) => heldOut[q] < denseScores[q]['ndcg@10'] - 1e-12).length
    // Paired difference against dense, with its standard error over queries.
    const diffs = judged.map((q) => heldOut[q] - denseScores[q]['ndcg@10'])
    const diff = diffs.reduce((a, b) => a + b, 0) / diffs.length
    const se = Math.sqrt(diffs.reduce((a, x) => a + (x - diff) ** 2, 0) / (diffs.length - 1) / diffs.length)
    t.log(
      `${folds === judged.length ? 'leave-one-out' : `${folds}-fold`} cross-validated fusion: held-out nDCG@10 ${mean.toFixed(4)} vs dense ${d.toFixed(4)} ` +
        `(difference ${diff >= 0 ? '+' : ''}${diff.toFixed(4)} ± ${se.toFixed(4)} s.e.; better on ${wins}, worse on ${losses} of ${judged.length} queries; ` +
        `chosen: ${[...chosen].map(([n, c]) => `${n} ×${c}`).join(', ')})`,
    )
    return { mean, se }
  }
  const loo = crossValidate(judged.length)
  const fiveFold = crossValidate(5)
  const tuned = Math.max(...scores.map((per) => meanOf(per, judged)))
  t.log(`for comparison only (tuned on the evaluated queries, not a result): best configuration ${tuned.toFixed(4)}`)
  // Measured (43 queries): leave-one-out 0.7929, 5-fold 0.7920 against dense 0.7977, about one
  // standard error below it; tuned on the test queries the best configuration would show 0.8039,
  // which is not a result. (With exact FlatIndex dense lists, whose tail differs and so moves the
  // z-score / min-max statistics, leave-one-out gave 0.8039 and 5-fold 0.794–0.803 over five
  // random splits: the sign of the difference is within the noise of 43 queries.) So "matches or
  // beats the better part" is not reliably met by a configuration
  // chosen on held-out queries: in-domain MiniLM leaves BM25 little to add on this sample. What
  // holds, and is asserted: the held-out fusion stays within two standard errors of dense, far
  // above BM25, and above plain 1:1 RRF.
  for (const cv of [loo, fiveFold]) {
    t.true(cv.mean > d - 2 * cv.se - 1e-9, `cross-validated fusion ${cv.mean} is more than two standard errors below dense ${d}`)
    t.true(cv.mean > l + 0.05, `cross-validated fusion ${cv.mean} is not clearly above BM25 ${l}`)
    t.true(cv.mean > h, `cross-validated fusion ${cv.mean} is not above 1:1 RRF ${h}`)
  }
  t.true(tuned >= loo.mean - 1e-12)
})

/** Fusion configurations for the cross-validated hybrid: lists are BM25 (0) and dense (1), best first. */
function hybridConfigs(): Array<{ name: string; fuse: (lexical: Hit[], dense: Hit[]) => Hit[] }> {
  const out: Array<{ name: string; fuse: (lexical: Hit[], dense: Hit[]) => Hit[] }> = []
  for (const depth of [20, 50, 100, 1000]) {
    for (const w of [1, 1.5, 2, 3, 4]) {
      out.push({ name: `rrf 1:${w} depth ${depth}`, fuse: (a, b) => fuseRankings([a.slice(0, depth), b.slice(0, depth)], { fusion: 'rrf', weights: [1, w], k: 10 }) })
    }
    for (const normalization of ['minmax', 'zscore'] as const) {
      for (const a of [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9]) {
        out.push({
          name: `${normalization} ${+(1 - a).toFixed(2)}:${a} depth ${depth}`,
          fuse: (x, y) => fuseRankings([x.slice(0, depth), y.slice(0, depth)], { fusion: 'weighted', normalization, weights: [1 - a, a], k: 10 }),
        })
      }
    }
  }
  // Pipeline: BM25's top n re-scored by the dense cosine (a candidate outside dense's top 1000 ranks last).
  for (const n of [20, 50, 100, 1000]) {
    out.push({
      name: `BM25@${n} → dense`,
      fuse: (a, b) => {
        const cos = new Map(b.map((h) => [h.id, h.score]))
        return a
          .slice(0, n)
          .map((h) => ({ id: h.id, score: cos.get(h.id) ?? -Infinity }))
          .sort((x, y) => y.score - x.score)
          .slice(0, 10)
      },
    })
  }
  return out
}
