import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BM25Index, Tokenizer } from '../index.ts'

const DATA = '/work/shared/datasets/msmarco-sample'
function loadCorpus(): { id: string; text: string }[] {
  return readFileSync(join(DATA, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map((d: { _id: string; title?: string; text: string }) => ({ id: d._id, text: `${d.title ?? ''} ${d.text}` }))
}
function loadQueries(): { id: string; text: string }[] {
  return readFileSync(join(DATA, 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((q: { _id: string; text: string }) => ({ id: q._id, text: q.text }))
}

/** bm25s's lucene formula per document, straight from the tokens (the reference). */
function referenceLucene(docs: string[][], query: string[], k1 = 1.5, b = 0.75): number[] {
  const n = docs.length
  const lavg = docs.reduce((s, d) => s + d.length, 0) / n
  const df = new Map<string, number>()
  for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1)
  const q = query.filter((t) => df.has(t))
  return docs.map((d) => {
    if (!q.some((t) => d.includes(t))) return 0
    let s = 0
    for (const t of q) {
      const tf = d.filter((x) => x === t).length
      const f = df.get(t) as number
      const idf = Math.log(1 + (n - f + 0.5) / (f + 0.5))
      s += (idf * tf) / (k1 * (1 - b + (b * d.length) / lavg) + tf)
    }
    return s
  })
}

test('tokenizer defaults follow bm25s: lowercase, 2+ char words, English stop words', (t) => {
  const tok = new Tokenizer()
  t.deepEqual(tok.tokenize('The quick-brown fox, a dog_2 & I 42x.'), ['quick', 'brown', 'fox', 'dog_2', '42x'])
  t.deepEqual(tok.tokenize(''), [])
  t.deepEqual(new Tokenizer({ stemmer: 'english' }).tokenize('The runners were running'), ['runner', 'were', 'run'])
  t.deepEqual(new Tokenizer({ cjkBigrams: true }).tokenize('東京都'), ['東京', '京都'])
  t.deepEqual(new Tokenizer({ stopwords: 'none' }).tokenize('the cat'), ['the', 'cat'])
  t.throws(() => new Tokenizer({ stemmer: 'klingon' as never }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

test('BM25 scores on real text equal the bm25s lucene formula and safe search equals exhaustive', async (t) => {
  const corpus = loadCorpus()
  const index = await BM25Index.build(corpus)
  t.is(index.size, corpus.length)
  const tok = new Tokenizer()
  const docs = corpus.map((d) => tok.tokenize(d.text))
  for (const q of loadQueries().slice(0, 5)) {
    const ref = referenceLucene(docs, tok.tokenize(q.text))
    const hits = index.search(q.text, { k: 20 })
    const sorted = ref.filter((s) => s > 0).sort((a, b) => b - a)
    t.is(hits.length, Math.min(20, sorted.length))
    hits.forEach((h, r) => {
      const want = ref[corpus.findIndex((d) => d.id === h.id)]
      t.true(Math.abs(h.score - want) <= 1e-5 * want, `${q.text}: ${h.id} ${h.score} vs ${want}`)
      t.true(Math.abs(h.score - sorted[r]) <= 1e-5 * sorted[r])
    })
    for (const k of [1, 10, 1000, corpus.length + 5]) {
      t.deepEqual(index.search(q.text, { k }), index.search(q.text, { k, exhaustive: true }))
    }
  }
})

test('filters, batches, approximate knobs and persistence', async (t) => {
  const corpus = loadCorpus().slice(0, 2000)
  const index = BM25Index.buildSync(corpus, { method: 'bm25+', blockSize: 16 })
  const queries = loadQueries().map((q) => q.text)
  const allowed = corpus.filter((_, i) => i % 4 === 0).map((d) => d.id)
  const allowedSet = new Set(allowed)
  const batch = await index.searchBatch(queries, { k: 10 })
  t.deepEqual(batch, queries.map((q) => index.search(q, { k: 10 })))
  t.deepEqual(index.searchBatchSync(queries, { k: 10, threads: 1 }), batch)
  for (const q of queries.slice(0, 10)) {
    const f = index.search(q, { k: 10, filter: allowed })
    t.true(f.every((h) => allowedSet.has(h.id as string)))
    t.deepEqual(f, index.search(q, { k: 10, filter: allowed, exhaustive: true }))
    t.true(index.search(q, { k: 10, alpha: 0.5, beta: 0.5 }).length <= 10)
  }
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-bm25-'))
  const path = join(dir, 'bm25.slmdx')
  await index.save(path)
  const back = await BM25Index.load(path, { mmap: true })
  t.deepEqual(back.search(queries[0], { k: 10 }), batch[0])
  t.deepEqual(BM25Index.fromBuffer(index.toBuffer()).search(queries[1], { k: 10 }), batch[1])
  t.is(back.options.method, 'bm25+')
  t.deepEqual(BM25Index.loadSync(path, { mmap: true }).search(queries[0], { k: 10 }), batch[0])
  // A mistyped option is an error, not a silent "read it whole".
  t.throws(() => BM25Index.loadSync(path, { mmap: 'yes' as unknown as boolean }), { instanceOf: TypeError, message: /mmap must be a boolean/ })
  const bytes = readFileSync(path)
  bytes[bytes.length - 5] ^= 0xff
  writeFileSync(path, bytes)
  t.throws(() => BM25Index.loadSync(path), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  const mem = index.memoryUsage()
  t.true(mem.total > 0 && mem.components.postings > 0)
})

test('edge cases: empty docs and queries, unknown tokens, invalid options', (t) => {
  const index = BM25Index.buildSync([{ id: 1, text: '' }, { id: 2, text: 'hello world' }, { id: 3, text: 'hello' }])
  t.deepEqual(index.search('', { k: 5 }), [])
  t.deepEqual(index.search('zzz unknown', { k: 5 }), [])
  t.deepEqual(index.search('world', { k: 5 }).map((h) => h.id), [2])
  t.deepEqual(index.search('hello', { k: 5 }).map((h) => h.id), [3, 2])
  t.throws(() => index.search('hello', { k: 0 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search('hello', { k: 1.5 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search('hello', { k: 1, alpha: 2 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => BM25Index.buildSync([], { b: 2 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => BM25Index.buildSync([{ id: 1, text: 'a' }, { id: 1, text: 'b' }]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.deepEqual(BM25Index.buildSync([]).search('x', { k: 3 }), [])
})

/** A result id column as a plain array (numbers or strings). */
const idList = (ids: Float64Array | string[]): Array<number | string> => Array.from(ids as ArrayLike<number | string>)

test('searchColumns equals search (ids, float32 scores, order) and the exhaustive scan on real text, sync and async', async (t) => {
  const corpus = loadCorpus()
  const index = await BM25Index.build(corpus)
  const queries = loadQueries().map((q) => q.text).slice(0, 60)
  for (const k of [1, 10, 1000, corpus.length + 5]) {
    const cols = index.searchColumnsSync(queries, { k, threads: 1 })
    t.is(cols.length, queries.length)
    t.is(cols.offsets.length, queries.length + 1)
    t.is(cols.offsets[0], 0)
    t.is(cols.docs.length, cols.offsets[queries.length])
    t.is(cols.scores.length, cols.docs.length)
    const all = cols.ids()
    queries.forEach((q, i) => {
      const want = index.search(q, { k })
      const ids = cols.ids(i)
      const scores = Array.from(cols.scores.subarray(cols.offsets[i], cols.offsets[i + 1]))
      t.deepEqual(idList(ids), want.map((h) => h.id))
      // search returns the float32 scores as numbers: the column holds the same values exactly.
      t.deepEqual(scores, want.map((h) => h.score))
      t.deepEqual(cols.hits(i), want)
      t.deepEqual(idList(all).slice(cols.offsets[i], cols.offsets[i + 1]), want.map((h) => h.id))
      // docs are positions in the build order (one build: the index into `corpus`).
      t.deepEqual(Array.from(cols.docs.subarray(cols.offsets[i], cols.offsets[i + 1])).map((d) => corpus[d].id), want.map((h) => h.id))
    })
    const exhaustive = index.searchColumnsSync(queries, { k, threads: 1, exhaustive: true })
    t.deepEqual(exhaustive.docs, cols.docs)
    t.deepEqual(exhaustive.scores, cols.scores)
    const parallel = await index.searchColumns(queries, { k })
    t.deepEqual(parallel.docs, cols.docs)
    t.deepEqual(parallel.scores, cols.scores)
    t.deepEqual(parallel.offsets, cols.offsets)
  }
  const filter = corpus.filter((_, i) => i % 3 === 0).map((d) => d.id)
  const filtered = index.searchColumnsSync(queries, { k: 10, filter, threads: 2 })
  queries.forEach((q, i) => t.deepEqual(filtered.hits(i), index.search(q, { k: 10, filter })))
})

test('searchColumns: numeric ids as a Float64Array, results keep the snapshot searched, empty batches', async (t) => {
  const index = BM25Index.buildSync([{ id: 10, text: 'red apple' }, { id: 20, text: 'green apple pie' }, { id: 30, text: 'red wine' }])
  const cols = index.searchColumnsSync(['apple', 'red', 'nothing here'], { k: 5, threads: 1 })
  t.true(cols.ids() instanceof Float64Array)
  t.deepEqual(Array.from(cols.offsets), [0, 2, 4, 4])
  t.deepEqual(cols.hits(0), index.search('apple', { k: 5 }))
  t.deepEqual(cols.hits(2), [])
  t.deepEqual(idList(cols.ids(0)), [10, 20])
  t.deepEqual(Array.from(cols.docs.subarray(0, 2)), [0, 1])
  // compact renumbers the documents; the results still resolve against what was searched.
  index.delete([10])
  index.compactSync()
  t.deepEqual(idList(cols.ids(0)), [10, 20])
  t.deepEqual(index.searchColumnsSync(['apple'], { k: 5 }).hits(0).map((h) => h.id), [20])
  const empty = index.searchColumnsSync([], { k: 5 })
  t.is(empty.length, 0)
  t.deepEqual(Array.from(empty.offsets), [0])
  t.deepEqual(idList(empty.ids()), [])
  t.is((await index.searchColumns([], { k: 1 })).length, 0)
})

test('searchColumns and the search fast path reject bad input with clear errors', async (t) => {
  const index = BM25Index.buildSync([{ id: 'a', text: 'hello world' }, { id: 'b', text: 'hello' }])
  const arg = { code: 'ERR_SLIMDEX_INVALID_ARG' }
  t.throws(() => index.searchColumnsSync('hello' as unknown as string[], { k: 1 }), { ...arg, instanceOf: TypeError })
  t.throws(() => index.searchColumnsSync(['hello', 3 as unknown as string], { k: 1 }), { ...arg, instanceOf: TypeError })
  t.throws(() => index.searchColumnsSync(['hello'], { k: 0 }), arg)
  t.throws(() => index.searchColumnsSync(['hello'], { k: 2 ** 32 }), arg)
  t.throws(() => index.searchColumnsSync(['hello'], { k: 1, threads: 0 }), arg)
  t.throws(() => index.searchColumnsSync(['hello'], { k: 1, nope: true } as never), arg)
  await t.throwsAsync(index.searchColumns(['hello'], { k: -1 }), arg)
  const cols = index.searchColumnsSync(['hello'], { k: 2 })
  t.deepEqual(cols.hits(0).map((h) => h.id), ['b', 'a'])
  t.deepEqual(cols.ids(0), ['b', 'a'])
  for (const q of [-1, 1, 0.5, Number.NaN]) t.throws(() => cols.hits(q), { ...arg, instanceOf: RangeError })
  t.throws(() => cols.ids('0' as unknown as number), { ...arg, instanceOf: TypeError })
  // `{ k }` alone skips the schema; everything else still meets it, with the same checks.
  t.deepEqual(index.search('hello', { k: 2 }), index.search('hello', { k: 2, alpha: 1, beta: 1 }))
  for (const k of [0, 1.5, -3, 2 ** 32, Number.NaN, Infinity]) t.throws(() => index.search('hello', { k }), arg)
  t.throws(() => index.search('hello', { k: '2' } as unknown as { k: number }), arg)
  t.throws(() => index.search('hello', null as unknown as { k: number }), arg)
  t.throws(() => index.search('hello', Object.assign(Object.create({ alpha: 5 }), { k: 1 })), arg)
})

test('search returns every hit when more match than its result buffer held, with numeric and string ids, after adds too', (t) => {
  for (const kind of ['number', 'string'] as const) {
    const id = (i: number) => (kind === 'number' ? i : `d${i}`)
    // 300 documents share 'common' with different lengths (distinct scores per length).
    const docs = Array.from({ length: 300 }, (_, i) => ({ id: id(i), text: `common ${'filler '.repeat(i % 17)}w${i}` }))
    const index = BM25Index.buildSync(docs)
    const small = index.search('common', { k: 5 })
    t.is(small.length, 5)
    const all = index.search('common', { k: 1000 })
    t.is(all.length, 300)
    t.deepEqual(all.slice(0, 5), small)
    t.deepEqual(all, index.search('common', { k: 1000, exhaustive: true }))
    t.deepEqual(all, index.searchColumnsSync(['common'], { k: 1000, threads: 1 }).hits(0))
    for (let r = 1; r < all.length; r++) t.true(all[r - 1].score >= all[r].score)
    t.deepEqual(all.map((h) => String(h.id)).sort(), docs.map((d) => String(d.id)).sort())
    // A later, larger result set still fits (the buffer grows again) and equals the columns form.
    index.addSync(Array.from({ length: 500 }, (_, i) => ({ id: id(1000 + i), text: `common w${1000 + i}` })))
    const more = index.search('common', { k: 1000 })
    t.is(more.length, 800)
    t.deepEqual(more, index.searchColumnsSync(['common'], { k: 1000, threads: 1 }).hits(0))
    t.deepEqual(index.search('common', { k: 3 }), more.slice(0, 3))
    t.deepEqual(index.search('nothing', { k: 1000 }), [])
  }
})
