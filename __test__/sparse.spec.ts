import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SparseIndex } from '../index.ts'
import type { Hit, SparseDocument } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'

/** Seeded Zipf-like sparse docs with a few distinct weights (ties are common). */
function zipfDocs(n: number, vocab: number, nnz: number, seed: number): { indices: number[]; values: number[] }[] {
  const r = rng(seed).uniform
  return Array.from({ length: n }, () => {
    const m = new Map<number, number>()
    const len = Math.floor(r() * nnz * 2)
    for (let j = 0; j < len; j++) m.set(Math.floor(r() ** 3 * vocab), (1 + Math.floor(r() * 6)) * 0.5)
    return { indices: [...m.keys()], values: [...m.values()] }
  })
}

/** Brute force: byte = round(w / scale), score = Σ in term order of fround(q·scale)·byte (f32), positive only. */
function brute(docs: { indices: number[]; values: number[] }[], scale: number, q: Map<number, number>, k: number, allowed?: Set<number>): Hit[] {
  const qs = new Map([...q].map(([t, w]) => [t, Math.fround(w * scale)]))
  const hits: Hit[] = []
  docs.forEach((d, i) => {
    if (allowed && !allowed.has(i)) return
    const pairs = d.indices.map((t, j) => [t, d.values[j]] as const).sort((a, b) => a[0] - b[0])
    let s = 0
    for (const [t, w] of pairs) {
      const qv = qs.get(t)
      if (qv !== undefined) s = Math.fround(s + Math.fround(qv * Math.round(Math.fround(w / scale))))
    }
    if (s > 0) hits.push({ id: i, score: s })
  })
  hits.sort((a, b) => b.score - a.score || (a.id as number) - (b.id as number))
  return hits.slice(0, k)
}

test('safe BMP equals brute force for k, block sizes, filters and reordering', async (t) => {
  const raw = zipfDocs(1200, 300, 10, 5)
  const docs: SparseDocument[] = raw.map((d, i) => ({ id: i, ...d }))
  const r = rng(9).uniform
  const queries = Array.from({ length: 8 }, () => {
    const m = new Map<number, number>()
    for (let j = 0; j < 5; j++) m.set(Math.floor(r() ** 3 * 300), 1 + Math.floor(r() * 4))
    return m
  })
  const allowed = new Set(raw.map((_, i) => i).filter((i) => i % 3 === 0))
  for (const blockSize of [8, 32, 128]) {
    for (const reorder of ['none', 'bp'] as const) {
      const index = await SparseIndex.build(docs, { blockSize, reorder })
      for (const q of queries) {
        const query = { indices: [...q.keys()], values: [...q.values()] }
        for (const k of [1, 10, 100, 1000, 1205]) {
          t.deepEqual(index.search(query, { k }), brute(raw, index.scale, q, k), `bs ${blockSize} ${reorder} k ${k}`)
          t.deepEqual(index.search(query, { k, filter: [...allowed] }), brute(raw, index.scale, q, k, allowed))
        }
      }
    }
  }
})

test('named terms, batches, recall of approximate settings, persistence and errors', async (t) => {
  const docs: SparseDocument[] = zipfDocs(3000, 1000, 20, 7).map((d, i) => ({ id: `d${i}`, terms: Object.fromEntries(d.indices.map((x, j) => [`t${x}`, d.values[j]])) }))
  const index = SparseIndex.buildSync(docs)
  const r = rng(3).uniform
  const queries = Array.from({ length: 20 }, () => ({ terms: Object.fromEntries(Array.from({ length: 12 }, () => [`t${Math.floor(r() ** 3 * 1000)}`, 1 + Math.floor(r() * 3)])) }))
  const exact = await index.searchBatch(queries, { k: 10, exhaustive: true })
  t.deepEqual(await index.searchBatch(queries, { k: 10 }), exact)
  for (const [alpha, beta] of [[0.8, 1], [1, 0.5]]) {
    const approx = index.searchBatchSync(queries, { k: 10, alpha, beta })
    let hit = 0, tot = 0
    approx.forEach((hs, q) => { tot += exact[q].length; hit += hs.filter((h) => exact[q].some((e) => e.id === h.id)).length })
    t.log(`alpha ${alpha} beta ${beta}: recall@10 ${(hit / tot).toFixed(3)}`)
    t.true(hit / tot > 0.3)
  }
  const path = join(mkdtempSync(join(tmpdir(), 'slimdex-sparse-')), 'sparse.slmdx')
  index.saveSync(path)
  t.deepEqual((await SparseIndex.load(path)).search(queries[0], { k: 10 }), exact[0])
  t.deepEqual(SparseIndex.fromBuffer(index.toBuffer()).search(queries[1], { k: 10 }), exact[1])
  t.throws(() => SparseIndex.fromBuffer(index.toBuffer().subarray(0, 100)), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.deepEqual(index.search({ terms: {} }, { k: 3 }), [])
  t.deepEqual(index.search({ terms: { unknown: 1 } }, { k: 3 }), [])
  t.throws(() => index.search({ terms: { t1: -1 } }, { k: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search({ indices: [1], values: [1] }, { k: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => SparseIndex.buildSync([{ id: 1, terms: { a: 10 } }], { quantization: { scale: 0.01 } }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  const clamped = SparseIndex.buildSync([{ id: 1, terms: { a: 10 } }], { quantization: { scale: 0.01, clamp: true } })
  t.true(Math.abs(clamped.search({ terms: { a: 1 } }, { k: 1 })[0].score - 2.55) < 1e-5)
  const mem = index.memoryUsage()
  t.true(mem.components.forward > 0)
  t.log(`bytes per posting: ${(mem.total / index.postings).toFixed(2)}`)
  t.is(index.layout, 'blocks')
  // The term-major layout returns the same hits (ids, scores, order), through add, save/load.
  const terms = SparseIndex.buildSync(docs.slice(0, 2000), { layout: 'terms' })
  terms.addSync(docs.slice(2000))
  t.is(terms.layout, 'terms')
  t.is(terms.segments, 2)
  t.deepEqual(await terms.searchBatch(queries, { k: 10 }), exact)
  t.deepEqual(terms.searchBatchSync(queries, { k: 10, exhaustive: true }), exact)
  const terms2 = SparseIndex.fromBuffer(terms.toBuffer())
  t.is(terms2.layout, 'terms')
  t.deepEqual(queries.map((q) => terms2.search(q, { k: 1000 })), queries.map((q) => index.search(q, { k: 1000 })))
  t.true(terms.memoryUsage().components.postings > 0 && terms.memoryUsage().components.forward === undefined)
  t.throws(() => SparseIndex.buildSync(docs, { layout: 'rows' as unknown as 'terms' }), { instanceOf: RangeError, message: /layout/ })
  t.is(SparseIndex.buildSync([], { layout: 'terms' }).memoryUsage().components.postings, 0)
})

test('CIFF round trip keeps scores; corrupted CIFF is rejected', (t) => {
  const docs: SparseDocument[] = zipfDocs(400, 200, 8, 11).map((d, i) => ({ id: `doc${i}`, terms: Object.fromEntries(d.indices.map((x, j) => [`t${x}`, Math.round(d.values[j] * 20)])) }))
  const index = SparseIndex.buildSync(docs, { quantization: { scale: 1 }, reorder: 'bp' })
  const ciff = index.toCiff('slimdex test')
  const back = SparseIndex.fromCiff(ciff)
  t.is(back.size, index.size)
  t.is(back.postings, index.postings)
  t.deepEqual(back.toCiff('slimdex test'), ciff)
  const q = { terms: { t1: 2, t5: 1, t17: 3 } }
  t.deepEqual(back.search(q, { k: 20 }).map((h) => h.score), index.search(q, { k: 20 }).map((h) => h.score))
  t.throws(() => SparseIndex.fromCiff(ciff.subarray(0, ciff.length - 3)), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
})
