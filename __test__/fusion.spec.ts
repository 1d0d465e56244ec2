import test from 'ava'
import { BinaryIndex, HybridRetriever, Pipeline, asRetriever, exactRescorer, fuse, retrieverFrom } from '../index.ts'
import type { Hit } from '../index.ts'
import { clustered } from '../benches/lib/data.mjs'

const list = (...ids: string[]): Hit[] => ids.map((id, i) => ({ id, score: 10 - i }))

test('RRF adds weight / (60 + rank) per list; ties go to the document seen first', (t) => {
  const fused = fuse([{ hits: list('a', 'b', 'c'), weight: 1 }, { hits: list('c', 'a', 'd'), weight: 2 }])
  const rrf = (r: number) => 1 / (60 + r)
  const want = new Map([
    ['a', rrf(1) + 2 * rrf(2)],
    ['b', rrf(2)],
    ['c', rrf(3) + 2 * rrf(1)],
    ['d', 2 * rrf(3)],
  ])
  t.deepEqual(fused.map((h) => h.id), ['c', 'a', 'd', 'b'])
  for (const h of fused) t.true(Math.abs(h.score - want.get(h.id as string)!) < 1e-15)
  // Equal fused scores: first seen wins (x before y, both rank 1 in one list each).
  t.deepEqual(fuse([{ hits: list('x'), weight: 1 }, { hits: list('y'), weight: 1 }]).map((h) => h.id), ['x', 'y'])
})

test('weighted fusion with min-max and z-score normalisation matches the formulas', (t) => {
  const a = [{ id: 'p', score: 10 }, { id: 'q', score: 6 }, { id: 'r', score: 2 }]
  const b = [{ id: 'r', score: 0.9 }, { id: 'p', score: 0.3 }]
  const mm = new Map(fuse([{ hits: a, weight: 1 }, { hits: b, weight: 0.5 }], { fusion: 'weighted' }).map((h) => [h.id, h.score]))
  t.deepEqual(mm, new Map([['p', 1 + 0], ['q', 0.5], ['r', 0 + 0.5]]))
  const z = new Map(fuse([{ hits: a, weight: 1 }], { fusion: 'weighted', normalization: 'zscore' }).map((h) => [h.id, h.score]))
  const sd = Math.sqrt((16 + 0 + 16) / 3)
  t.true(Math.abs(z.get('p')! - 4 / sd) < 1e-12 && Math.abs(z.get('q')!) < 1e-12 && Math.abs(z.get('r')! + 4 / sd) < 1e-12)
  t.throws(() => fuse([], { fusion: 'borda' as never }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('asRetriever over a BinaryIndex: filtered search equals the brute-force filtered top-k', async (t) => {
  const dim = 32
  const index = new BinaryIndex({ dim, rescore: 'float32' })
  const data = clustered({ n: 2000, dim, clusters: 10, seed: 3 })
  index.addSync(undefined, data)
  const retriever = asRetriever(index, { candidates: 2000 })
  const query = data.subarray(0, dim)
  const all = index.search(query, { k: 2000, candidates: 2000 })
  const filter = (id: unknown) => (id as number) % 7 === 3
  const got = await retriever.search(query, { k: 10, filter })
  t.deepEqual(got, all.filter((h) => filter(h.id)).slice(0, 10))
  t.deepEqual(await retriever.search(query, { k: 5 }), all.slice(0, 5))
  t.deepEqual(await retriever.search(query, { k: 5, filter: () => false }), [])
  await t.throwsAsync(retriever.search(query, { k: 0 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  await t.throwsAsync(retriever.search(query, { k: 3, filter: 'odd' as never }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('HybridRetriever maps the query per part, fetches depth from each, and fuses with RRF', async (t) => {
  const asked: Array<[string, number]> = []
  const lexical = retrieverFrom((q: string, k) => (asked.push([q, k]), list('a', 'b', 'c').slice(0, k)))
  const dense = retrieverFrom((q: number[], k) => (asked.push([`v${q.length}`, k]), list('c', 'd').slice(0, k)))
  const hybrid = new HybridRetriever<{ text: string; vector: number[] }>(
    [
      { retriever: lexical, query: (q) => q.text, depth: 3 },
      { retriever: dense, query: (q) => q.vector },
    ],
    { depth: 20 },
  )
  const hits = await hybrid.search({ text: 'hello', vector: [1, 2] }, { k: 2 })
  t.deepEqual(asked, [['hello', 3], ['v2', 20]])
  t.deepEqual(hits.map((h) => h.id), ['c', 'a'])
  t.throws(() => new HybridRetriever([]), { instanceOf: TypeError })
  t.throws(() => new HybridRetriever([{ retriever: lexical, weight: -1 }]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('Pipeline: binary candidates re-ranked by exact float vectors equal exact search over the candidates', async (t) => {
  const dim = 64
  const n = 3000
  const data = clustered({ n, dim, clusters: 20, seed: 5 })
  const coarse = new BinaryIndex({ dim, rescore: 'none' })
  coarse.addSync(undefined, data)
  const exact = new BinaryIndex({ dim, rescore: 'float32' })
  exact.addSync(undefined, data)
  const vector = (id: unknown) => data.subarray((id as number) * dim, ((id as number) + 1) * dim)
  const pipeline = new Pipeline(asRetriever(coarse), [{ rescore: exactRescorer({ vector, query: (q: Float32Array) => q }), keep: 50 }], {
    candidates: 300,
  })
  const query = data.subarray(7 * dim, 8 * dim)
  const candidates = coarse.search(query, { k: 300 })
  const got = await pipeline.search(query, { k: 10 })
  const want = candidates
    .map((h) => {
      let dot = 0
      const v = vector(h.id)
      for (let i = 0; i < dim; i++) dot += query[i] * v[i]
      return { id: h.id, score: dot }
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, 10)
  t.deepEqual(got.map((h) => h.id), want.map((h) => h.id))
  // With all items as candidates the pipeline is exact search.
  const full = new Pipeline(asRetriever(coarse), [{ rescore: exactRescorer({ vector, query: (q: Float32Array) => q }) }], { candidates: n })
  t.deepEqual((await full.search(query, { k: 10 })).map((h) => h.id), exact.search(query, { k: 10, candidates: n }).map((h) => h.id))
  const broken = new Pipeline(asRetriever(coarse), [{ rescore: () => [1, 2] }])
  await t.throwsAsync(broken.search(query, { k: 5 }), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /returned 2 scores/ })
})
