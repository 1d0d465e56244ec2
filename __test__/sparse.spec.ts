import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BM25Index, SparseIndex, Tokenizer, evaluate, loadBeir } from '../index.ts'
import type { Hit } from '../index.ts'
import { rng, zipfSampler } from '../benches/lib/data.mjs'

const datasets = join(process.cwd(), '..', 'shared', 'datasets')
const msmarco = join(datasets, 'msmarco-sample')

/** Seeded Zipfian sparse documents (synthetic, SPLADE-like): few distinct weights so ties are common. */
function zipfDocs(seed: number, n: number, vocab: number, perDoc: number) {
  const r = rng(seed)
  const draw = zipfSampler(r, vocab)
  return Array.from({ length: n }, (_, i) => {
    const terms: Record<string, number> = {}
    for (let j = 0; j < 1 + r.below(perDoc); j++) terms[`t${draw()}`] = (1 + r.below(12)) * 0.25
    return { id: `doc${i}`, terms }
  })
}

/** Independent exhaustive scorer over the quantized weights (scale = max / 255), ties by insertion order. */
function reference(docs: ReturnType<typeof zipfDocs>, query: Record<string, number>, k: number, allowed?: Set<string>): Hit[] {
  const max = Math.max(...docs.flatMap((d) => Object.values(d.terms)))
  const scale = Math.fround(max / 255)
  const qTerms = Object.keys(query).sort()
  const scored: Array<Hit & { order: number }> = []
  docs.forEach((d, order) => {
    if (allowed && !allowed.has(d.id)) return
    let s = Math.fround(0)
    let hit = false
    for (const t of qTerms) {
      const w = d.terms[t]
      if (w === undefined) continue
      const q8 = Math.min(255, Math.round(Math.fround(w / scale)))
      if (q8 === 0) continue
      s = Math.fround(s + Math.fround(Math.fround(query[t] * scale) * q8))
      hit = true
    }
    if (hit) scored.push({ id: d.id, score: s, order })
  })
  return scored.sort((a, b) => b.score - a.score || a.order - b.order).slice(0, k).map(({ id, score }) => ({ id, score }))
}

test('SparseIndex: safe BMP equals an independent exhaustive scorer (ids, scores, ties) for every k, block size and filter', (t) => {
  const docs = zipfDocs(1, 2000, 400, 25)
  const r = rng(2)
  for (const blockSize of [8, 32, 128]) {
    const index = SparseIndex.buildSync(docs, { blockSize })
    t.is(index.size, 2000)
    for (let qi = 0; qi < 8; qi++) {
      const query: Record<string, number> = {}
      for (let j = 0; j < 1 + r.below(6); j++) query[`t${r.below(80)}`] = Math.fround(1 + r.below(4))
      const allowed = qi % 2 ? new Set(docs.filter((_, i) => i % 3 !== 0).map((d) => d.id)) : undefined
      for (const k of [1, 10, 100, 1000, 2005]) {
        const got = index.search(query, { k, filter: allowed && [...allowed] })
        t.deepEqual(got, reference(docs, query, k, allowed), `bs ${blockSize} k ${k} ${JSON.stringify(query)}`)
        t.deepEqual(index.search(query, { k, exhaustive: true, filter: allowed && [...allowed] }), got)
      }
    }
  }
})

test('SparseIndex: approximate alpha/beta report recall; numeric term ids, batch, persistence and bad input', async (t) => {
  const docs = zipfDocs(3, 5000, 600, 40)
  const index = await SparseIndex.build(docs)
  const r = rng(4)
  const queries = Array.from({ length: 40 }, () => {
    const q: Record<string, number> = {}
    for (let j = 0; j < 12; j++) q[`t${r.below(200)}`] = 1 + r.below(9)
    return q
  })
  for (const [alpha, beta] of [[0.9, 1], [0.7, 1], [1, 0.5]]) {
    let found = 0
    let total = 0
    for (const q of queries) {
      const exact = new Set(index.search(q, { k: 10 }).map((h) => h.id))
      total += exact.size
      found += index.search(q, { k: 10, alpha, beta }).filter((h) => exact.has(h.id)).length
    }
    t.log(`alpha ${alpha} beta ${beta}: recall@10 ${(found / total).toFixed(3)} (synthetic Zipf, 5,000 docs)`)
    t.true(found / total > 0.5)
  }
  const numeric = SparseIndex.buildSync(
    docs.map((d, i) => ({ id: i, indices: Object.keys(d.terms).map((x) => Number(x.slice(1))), values: Object.values(d.terms) })),
  )
  const q = { indices: [3, 17, 40], values: [1, 2, 0.5] }
  const named = index.search({ t3: 1, t17: 2, t40: 0.5 }, { k: 5 })
  t.deepEqual(numeric.search(q, { k: 5 }).map((h) => `doc${h.id}`), named.map((h) => h.id))
  const [batch] = await numeric.searchBatch([q], { k: 5 })
  t.deepEqual(batch, numeric.search(q, { k: 5 }))
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-sparse-'))
  await index.save(join(dir, 's.slmdx'))
  const loaded = await SparseIndex.load(join(dir, 's.slmdx'))
  t.deepEqual(loaded.search(queries[0], { k: 20 }), index.search(queries[0], { k: 20 }))
  const bytes = readFileSync(join(dir, 's.slmdx'))
  bytes[bytes.length - 100] ^= 0x40
  writeFileSync(join(dir, 'bad.slmdx'), bytes)
  t.throws(() => SparseIndex.loadSync(join(dir, 'bad.slmdx')), { code: 'ERR_SLIMDEX_CORRUPT_FILE' })
  t.throws(() => SparseIndex.buildSync([{ id: 1, terms: { a: -1 } }]), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => SparseIndex.buildSync([{ id: 1, terms: { a: 1 } }, { id: 1, terms: { b: 1 } }]), { code: 'ERR_SLIMDEX_DUPLICATE_ID' })
  t.throws(() => SparseIndex.buildSync([{ id: 1, terms: { a: 1 } }], { blockSize: 300 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search({ t1: Number.NaN }, { k: 3 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.throws(() => index.search({ t1: 1 }, { k: 3, alpha: 0 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  t.deepEqual(index.search({ unknown: 1 }, { k: 3 }), [])
  t.deepEqual(index.search({}, { k: 3 }), [])
  const mem = index.memoryUsage().components
  t.log(`bytes per posting: ${((mem.forward + mem.blockMax) / index.postings).toFixed(2)} (forward ${(mem.forward / index.postings).toFixed(2)}, block maxima ${(mem.blockMax / index.postings).toFixed(2)})`)
})

test('Tokenizer golden cases: English (stop words, stemming), Arabic, CJK bigrams, punctuation, empty', (t) => {
  t.deepEqual(new Tokenizer().tokenize("The cat's 2 hats, e-mail AND I/O!"), ['cat', 'hats', 'mail'])
  t.deepEqual(new Tokenizer({ stemmer: 'english' }).tokenize('Running runners ran easily'), ['run', 'runner', 'ran', 'easili'])
  t.deepEqual(new Tokenizer({ stopwords: 'none' }).tokenize('to be or not'), ['to', 'be', 'or', 'not'])
  t.deepEqual(new Tokenizer().tokenize('من هو عبد المطلب بن هاشم؟'), ['من', 'هو', 'عبد', 'المطلب', 'بن', 'هاشم'])
  t.deepEqual(new Tokenizer({ cjkBigrams: true }).tokenize('東京大学で勉強'), ['東京', '京大', '大学', '学で', 'で勉', '勉強'])
  t.deepEqual(new Tokenizer().tokenize(''), [])
  t.deepEqual(new Tokenizer().tokenizeBatch(['a b', 'cd ef']), [[], ['cd', 'ef']])
  t.throws(() => new Tokenizer({ stemmer: 'klingon' }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
})

// bm25s's formulas, written out (bm25s/scoring.py), for the reference below.
const idf: Record<string, (n: number, df: number) => number> = {
  robertson: (n, df) => Math.log(Math.max(1, (n - df + 0.5) / (df + 0.5))),
  lucene: (n, df) => Math.log(1 + (n - df + 0.5) / (df + 0.5)),
  atire: (n, df) => Math.log(n / df),
  bm25l: (n, df) => Math.log((n + 1) / (df + 0.5)),
  'bm25+': (n, df) => Math.log((n + 1) / df),
}
function tfc(method: string, tf: number, len: number, avg: number, k1 = 1.5, b = 0.75, delta = 0.5): number {
  const norm = 1 - b + (b * len) / avg
  if (method === 'atire') return ((k1 + 1) * tf) / (tf + k1 * norm)
  if (method === 'bm25l') return ((k1 + 1) * (tf / norm + delta)) / (k1 + tf / norm + delta)
  if (method === 'bm25+') return ((k1 + 1) * tf) / (k1 * norm + tf) + delta
  return tf / (k1 * norm + tf)
}

test('BM25Index: each bm25s variant matches the formulas within 1e-5 relative on real text (msmarco-sample)', async (t) => {
  if (!existsSync(msmarco)) return t.pass('skipped: ../shared/datasets/msmarco-sample is absent')
  const { corpus, queries } = await loadBeir(msmarco)
  const docs = corpus.slice(0, 1500).map((d) => ({ id: d.id, text: `${d.title} ${d.text}` }))
  const tok = new Tokenizer()
  const tokens = tok.tokenizeBatch(docs.map((d) => d.text))
  const n = tokens.length
  const avg = tokens.reduce((s, x) => s + x.length, 0) / n
  const df = new Map<string, number>()
  for (const doc of tokens) for (const w of new Set(doc)) df.set(w, (df.get(w) ?? 0) + 1)
  const tf = tokens.map((doc) => {
    const m = new Map<string, number>()
    for (const w of doc) m.set(w, (m.get(w) ?? 0) + 1)
    return m
  })
  for (const method of ['lucene', 'robertson', 'atire', 'bm25l', 'bm25+'] as const) {
    const index = await BM25Index.build(docs, { method })
    for (const q of queries.slice(0, 10)) {
      const qt = tok.tokenize(q.text).filter((w) => df.has(w))
      const hits = index.search(q.text, { k: 20 })
      t.true(hits.length > 0)
      for (const h of hits) {
        const d = docs.findIndex((x) => x.id === h.id)
        let want = 0
        for (const w of qt) want += idf[method](n, df.get(w)!) * tfc(method, tf[d].get(w) ?? 0, tokens[d].length, avg)
        t.true(Math.abs(h.score - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${method} ${q.id} ${h.id}: ${h.score} vs ${want}`)
      }
    }
  }
})

test('BM25Index nDCG@10 on msmarco-sample equals bm25s (0.6876) within 0.005; BMP equals exhaustive; persistence', async (t) => {
  if (!existsSync(msmarco)) return t.pass('skipped: ../shared/datasets/msmarco-sample is absent')
  // bm25s 0.2.14: BM25(method="lucene", k1=1.5, b=0.75) over title + " " + text, bm25s.tokenize(stopwords="en"),
  // retrieve(k=10), nDCG@10 by pytrec_eval = 0.68756 (the dataset README records 0.6877).
  const { corpus, queries, qrels } = await loadBeir(msmarco)
  const index = await BM25Index.build(corpus.map((d) => ({ id: d.id, text: `${d.title} ${d.text}` })))
  const run = Object.fromEntries(queries.map((q) => [q.id, index.search(q.text, { k: 10 })]))
  const ndcg = evaluate(run, qrels, { metrics: ['ndcg@10'] }).mean['ndcg@10']
  t.log(`BM25 (lucene, k1 1.5, b 0.75) nDCG@10 on msmarco-sample: ${ndcg.toFixed(4)} (bm25s 0.6876)`)
  t.true(Math.abs(ndcg - 0.68756) <= 0.005)
  for (const q of queries) {
    for (const k of [1, 10, 100, 5005]) t.deepEqual(index.search(q.text, { k }), index.search(q.text, { k, exhaustive: true }))
  }
  const batch = await index.searchBatch(queries.map((q) => q.text), { k: 10 })
  t.deepEqual(batch[5], run[queries[5].id])
  const restored = BM25Index.fromBuffer(index.toBuffer())
  t.deepEqual(restored.search(queries[0].text, { k: 10 }), run[queries[0].id])
  const allowed = corpus.slice(0, 2500).map((d) => d.id)
  const filtered = index.search(queries[1].text, { k: 10, filter: allowed })
  const set = new Set(allowed)
  t.deepEqual(filtered, index.search(queries[1].text, { k: 5000 }).filter((h) => set.has(h.id as string)).slice(0, 10))
  const mem = index.memoryUsage()
  t.log(`${index.postings} postings, ${(mem.total / index.size).toFixed(0)} bytes per document`)
  await t.throwsAsync(BM25Index.build([{ id: 1, text: 'x' }], { k1: -1 }), { code: 'ERR_SLIMDEX_INVALID_ARG' })
  await t.throwsAsync(BM25Index.build([{ id: 1, text: 5 as never }]), { instanceOf: TypeError })
})

test('BM25Index on Arabic text (arcd-sample) finds the judged document for most queries', async (t) => {
  const arcd = join(datasets, 'arcd-sample')
  if (!existsSync(arcd)) return t.pass('skipped: ../shared/datasets/arcd-sample is absent')
  const { corpus, queries, qrels } = await loadBeir(arcd)
  const index = BM25Index.buildSync(corpus.map((d) => ({ id: d.id, text: `${d.title} ${d.text}` })), { tokenizer: { stopwords: 'none' } })
  const run = Object.fromEntries(queries.map((q) => [q.id, index.search(q.text, { k: 10 })]))
  const m = evaluate(run, qrels, { metrics: ['ndcg@10', 'recall@10'] }).mean
  t.log(`arcd-sample BM25: nDCG@10 ${m['ndcg@10'].toFixed(4)}, recall@10 ${m['recall@10'].toFixed(4)}`)
  t.true(m['recall@10'] > 0.5)
})
