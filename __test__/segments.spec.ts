import test from 'ava'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BM25Index, SparseIndex, Tokenizer } from '../index.ts'
import type { Hit } from '../index.ts'

// Incremental updates on real data (msmarco-sample): build on half, add the rest, delete some,
// compare with a reference computed from the documented statistics; after compact, with a fresh
// build exactly (ids, scores, tie order).

const DATA = '/work/shared/datasets/msmarco-sample'
function loadCorpus(): { id: string; text: string }[] {
  return readFileSync(join(DATA, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map((d: { _id: string; title?: string; text: string }) => ({ id: d._id, text: `${d.title ?? ''} ${d.text}` }))
}
function loadQueries(): string[] {
  return readFileSync(join(DATA, 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text)
}

/**
 * Lucene BM25 per the documented semantics between compactions: N and df over every document
 * ever added (deleted ones included), avgdl per add batch; deleted documents are not returned.
 */
function reference(batches: string[][][], dead: Set<number>, query: string[], k1 = 1.5, b = 0.75): Map<number, number> {
  const all: { d: string[]; avg: number }[] = []
  for (const batch of batches) {
    const avg = batch.reduce((s, d) => s + d.length, 0) / batch.length
    for (const d of batch) all.push({ d, avg })
  }
  const n = all.length
  const df = new Map<string, number>()
  for (const { d } of all) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1)
  const q = query.filter((t) => df.has(t))
  const out = new Map<number, number>()
  all.forEach(({ d, avg }, i) => {
    if (dead.has(i) || !q.some((t) => d.includes(t))) return
    let s = 0
    for (const t of q) {
      const tf = d.filter((x) => x === t).length
      const f = df.get(t) as number
      s += (Math.log(1 + (n - f + 0.5) / (f + 0.5)) * tf) / (k1 * (1 - b + (b * d.length) / avg) + tf)
    }
    out.set(i, s)
  })
  return out
}

test('BM25Index: add/delete follow the documented statistics; compact equals a fresh build exactly', async (t) => {
  const corpus = loadCorpus()
  const queries = loadQueries().slice(0, 30)
  const n = corpus.length
  const cuts = [0, n / 2, (3 * n) / 4, n].map(Math.floor)
  const index = await BM25Index.build(corpus.slice(0, cuts[1]))
  await index.add(corpus.slice(cuts[1], cuts[2]))
  index.addSync(corpus.slice(cuts[2]))
  t.is(index.segments, 3)
  const dead = new Set<number>()
  for (let i = 0; i < n; i += 6) dead.add(i)
  const deadIds = [...dead].map((i) => corpus[i].id)
  t.is(index.delete([...deadIds, 'not-an-id']), dead.size, 'unknown ids are ignored, the count says so')
  t.is(index.delete(deadIds), 0, 'deleting again deletes nothing')
  t.is(index.size, n - dead.size)
  t.is(index.deleted, dead.size)
  t.is(index.statisticsDocuments, n, 'deleted documents still count in N')

  const tok = new Tokenizer()
  const batches = [0, 1, 2].map((s) => corpus.slice(cuts[s], cuts[s + 1]).map((d) => tok.tokenize(d.text)))
  const pos = new Map(corpus.map((d, i) => [d.id, i]))
  const allowed = corpus.filter((_, i) => i % 3 === 0).map((d) => d.id)
  const batch = await index.searchBatch(queries, { k: 100 })
  for (const [qi, q] of queries.entries()) {
    const ref = reference(batches, dead, tok.tokenize(q))
    const want = [...ref.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])
    const top = Math.max(1, want[0]?.[1] ?? 1)
    for (const k of [10, 100]) {
      const got = index.search(q, { k })
      t.deepEqual(got, index.search(q, { k, exhaustive: true }), 'safe BMP = exhaustive scan across segments')
      t.is(got.length, Math.min(k, want.length), `query ${qi}: result count`)
      for (const h of got) {
        const i = pos.get(h.id as string) as number
        t.false(dead.has(i), 'a deleted document was returned')
        t.true(Math.abs(h.score - (ref.get(i) as number)) <= 1e-5 * top, `query ${qi}: ${h.score} vs reference ${ref.get(i)}`)
      }
      if (got.length > 0) t.true(Math.abs(got[got.length - 1].score - want[got.length - 1][1]) <= 1e-5 * top, 'k-th score agrees')
    }
    t.deepEqual(batch[qi], index.search(q, { k: 100 }), 'searchBatch = search')
    // A filter over segments with deletions = the unfiltered ranking restricted to the allowed ids.
    const allowedSet = new Set(allowed)
    const filtered = index.search(q, { k: 20, filter: allowed })
    t.deepEqual(filtered, index.search(q, { k: n }).filter((h) => allowedSet.has(h.id as string)).slice(0, 20))
  }

  // Persistence keeps segments and tombstones.
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-seg-'))
  await index.save(join(dir, 'bm25.slmdx'))
  const loaded = await BM25Index.load(join(dir, 'bm25.slmdx'))
  const fromBuf = BM25Index.fromBuffer(index.toBuffer())
  t.deepEqual([loaded.segments, loaded.deleted, loaded.size], [3, dead.size, n - dead.size])
  for (const q of queries.slice(0, 10)) {
    t.deepEqual(loaded.search(q, { k: 50 }), index.search(q, { k: 50 }))
    t.deepEqual(fromBuf.search(q, { k: 50 }), index.search(q, { k: 50 }))
  }
  const usage = loaded.memoryUsage()
  t.true(usage.components.tombstones > 0 && usage.components.termFrequencies > 0 && usage.components.segments > 0)

  // compact(): exactly a fresh build over the live documents, and the same bytes.
  const fresh = BM25Index.buildSync(corpus.filter((_, i) => !dead.has(i)))
  await loaded.compact()
  t.deepEqual([loaded.segments, loaded.deleted, loaded.size, loaded.statisticsDocuments], [1, 0, n - dead.size, n - dead.size])
  t.true(Buffer.compare(loaded.toBuffer(), fresh.toBuffer()) === 0, 'compact() writes the bytes of a fresh build')
  for (const q of queries) {
    for (const k of [1, 10, 1000]) t.deepEqual(loaded.search(q, { k }), fresh.search(q, { k }))
    t.deepEqual(loaded.search(q, { k: 10, filter: allowed }), fresh.search(q, { k: 10, filter: allowed }))
  }
})

test('BM25Index: bad input to add/delete gives clear errors and changes nothing', async (t) => {
  const index = BM25Index.buildSync([{ id: 'a', text: 'the cat sat' }, { id: 'b', text: 'dogs bark' }])
  const before = index.toBuffer()
  t.throws(() => index.addSync([{ id: 'a', text: 'cat' }]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  await t.throwsAsync(index.add([{ id: 'c', text: 'x' }, { id: 'c', text: 'y' }]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => index.addSync([{ id: 3, text: 'cat' }]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.addSync([{ id: 'd', text: 42 as unknown as string }]), { instanceOf: TypeError })
  t.throws(() => index.addSync('nope' as unknown as []), { instanceOf: TypeError })
  t.throws(() => index.delete([{}] as unknown as string[]), { instanceOf: TypeError })
  t.throws(() => index.delete(['a', 1] as unknown as string[]), { instanceOf: TypeError })
  t.true(Buffer.compare(index.toBuffer(), before) === 0, 'a rejected add leaves the index unchanged')
  // Replace = delete + add; the new document is last in insertion order.
  t.is(index.delete(['a']), 1)
  index.addSync([{ id: 'a', text: 'cat cat' }])
  t.deepEqual(index.search('cat', { k: 5 }).map((h: Hit) => h.id), ['a'])
  // Add after load works and searches in flight keep their snapshot.
  const loaded = BM25Index.fromBuffer(index.toBuffer())
  const pending = loaded.searchBatch(['cat', 'dogs'], { k: 5 })
  const adding = loaded.add([{ id: 'z', text: 'cat dogs' }])
  await adding
  const results = await pending
  t.true(results[0].length >= 1)
  t.deepEqual(loaded.search('dogs', { k: 5 }).map((h: Hit) => h.id).sort(), ['b', 'z'])
  t.is(loaded.segments, 3)
})

test('SparseIndex: add/delete equal a fresh build with the same scale; compact too; errors', async (t) => {
  const corpus = loadCorpus().slice(0, 2000)
  const tok = new Tokenizer()
  // Learned-sparse-like vectors from real text: weight = 1 + ln(tf).
  const docs = corpus.map((d) => {
    const terms: Record<string, number> = {}
    for (const w of tok.tokenize(d.text)) terms[w] = (terms[w] ?? 0) + 1
    for (const w of Object.keys(terms)) terms[w] = 1 + Math.log(terms[w])
    return { id: d.id, terms }
  })
  const queries = loadQueries().slice(0, 20).map((q) => ({ terms: Object.fromEntries(tok.tokenize(q).map((w) => [w, 1])) }))
  for (const reorder of ['none', 'bp'] as const) {
    const index = await SparseIndex.build(docs.slice(0, 1000), { blockSize: 16, reorder, quantization: { clamp: true } })
    await index.add(docs.slice(1000, 1500))
    index.addSync(docs.slice(1500))
    const dead = new Set(docs.filter((_, i) => i % 4 === 2).map((d) => d.id))
    t.is(index.delete([...dead]), dead.size)
    t.deepEqual([index.segments, index.deleted, index.size], [3, dead.size, docs.length - dead.size])
    const fresh = SparseIndex.buildSync(docs.filter((d) => !dead.has(d.id)), { blockSize: 16, reorder, quantization: { scale: index.scale, clamp: true } })
    const allowed = docs.filter((_, i) => i % 3 === 0).map((d) => d.id)
    const loaded = SparseIndex.fromBuffer(index.toBuffer())
    for (const q of queries) {
      for (const k of [1, 10, 100]) {
        const want = fresh.search(q, { k })
        t.deepEqual(index.search(q, { k }), want)
        t.deepEqual(index.search(q, { k, exhaustive: true }), want)
        t.deepEqual(loaded.search(q, { k }), want)
      }
      t.deepEqual(index.search(q, { k: 10, filter: allowed }), fresh.search(q, { k: 10, filter: allowed }))
    }
    t.deepEqual(await index.searchBatch(queries, { k: 10 }), fresh.searchBatchSync(queries, { k: 10 }))
    index.compactSync()
    t.deepEqual([index.segments, index.deleted, index.postings], [1, 0, fresh.postings])
    for (const q of queries) t.deepEqual(index.search(q, { k: 50 }), fresh.search(q, { k: 50 }))
  }
  const small = SparseIndex.buildSync([{ id: 1, terms: { a: 2 } }])
  t.throws(() => small.addSync([{ id: 1, terms: { b: 1 } }]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => small.addSync([{ id: 2, terms: { b: 100 } }]), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /clamp/ })
  t.throws(() => small.addSync([{ id: 3, indices: [1], values: [1] }]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.is(small.delete([7, 8]), 0)
  t.is(small.size, 1)
})
