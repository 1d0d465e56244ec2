// Seeded synthetic learned-sparse (SPLADE-like) corpora for benches/sparse.mjs, as CSR typed
// arrays (so 10⁶ documents fit without 10⁸ JS objects), cached on disk: generating 1M documents
// takes tens of seconds, reading them back well under one.
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { rng } from './data.mjs'

/** A sampler over ranks 0 … n − 1 with P(r) ∝ 1/(r + 1)^s, drawing uniforms from `r`. */
export function powerLawSampler(r, n, s = 1) {
  const cdf = powerLawCdf(n, s)
  return () => searchCdf(cdf, r.uniform())
}

function powerLawCdf(n, s) {
  const cdf = new Float64Array(n)
  let acc = 0
  for (let t = 0; t < n; t++) cdf[t] = acc += 1 / Math.pow(t + 1, s)
  for (let t = 0; t < n; t++) cdf[t] /= acc
  return cdf
}

function searchCdf(cdf, u) {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cdf[mid] < u) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Inverse-CDF lookup table with 2^16 cells (cell i holds the rank at the cell's midpoint): one
 * table read per draw instead of a binary search; ranks rarer than ~2^-16 are folded into their
 * neighbours, which changes nothing that matters for a synthetic corpus.
 */
function powerLawTable(n, s) {
  const cdf = powerLawCdf(n, s)
  const table = new Uint16Array(65536)
  for (let i = 0; i < 65536; i++) table[i] = searchCdf(cdf, (i + 0.5) / 65536)
  return table
}

/** 2^16 standard-normal quantiles at (i + ½)/2^16 (inverse CDF by bisection on erf). */
function normalTable() {
  const erf = (x) => {
    // erfc by the Numerical Recipes Chebyshev fit (relative error < 1.2e-7).
    const t = 1 / (1 + 0.5 * Math.abs(x))
    const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return x >= 0 ? y : -y
  }
  const cdf = (x) => 0.5 * (1 + erf(x / Math.SQRT2))
  const table = new Float64Array(65536)
  for (let i = 0; i < 65536; i++) {
    const u = (i + 0.5) / 65536
    let lo = -9
    let hi = 9
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2
      if (cdf(mid) < u) lo = mid
      else hi = mid
    }
    table[i] = (lo + hi) / 2
  }
  return table
}

/**
 * Default parameters of the topic-mixture generator (every one is recorded with the results).
 * - `vocab` terms; a global head: the first `head` term ids, Zipf(`headExponent`) — SPLADE's
 *   ubiquitous expansion terms, with low weights;
 * - `topics` latent topics; each owns `topicTerms` distinct terms drawn (without replacement)
 *   from a Zipf(`topicPopularity`) over the whole vocabulary (so popular terms are shared by many
 *   topics), ranked in a random order and drawn with Zipf(`topicExponent`) inside the topic;
 * - a document has one primary and one secondary topic (uniform), ~`nnz` distinct terms
 *   (log-normal length, σ = `nnzSigma`), each from the head with probability `pHead`, else from
 *   the primary topic with probability `pPrimary` / (1 − `pHead`), else the secondary;
 * - weights are log-normal, exp(μ + σ·N(0, 1)) with σ = `weightSigma` and μ = `muPrimary`,
 *   `muSecondary` or `muHead` by source, quantised to impacts round(40 · w) clamped to 1 … 255
 *   (8-bit, as the BMP reference requires);
 * - a query picks one topic and draws `queryTerms` distinct terms, from the head with probability
 *   `qHead`, else from the topic; weights exp(σ·N) (head μ = −0.7), scaled so the largest is 32
 *   and rounded to integers ≥ 1 (the BMP reference's own query quantisation is then exact).
 */
export const TOPIC_DEFAULTS = Object.freeze({
  vocab: 30_000,
  head: 1_000,
  headExponent: 1.0,
  topics: 512,
  topicTerms: 800,
  topicPopularity: 0.7,
  topicExponent: 0.9,
  nnz: 120,
  nnzSigma: 0.25,
  pHead: 0.25,
  pPrimary: 0.6,
  weightSigma: 0.5,
  muPrimary: 0.2,
  muSecondary: -0.2,
  muHead: -0.9,
  queryTerms: 20,
  qHead: 0.2,
})

const MAX_QUERY_WEIGHT = 32

function csrBuilder(n, expected) {
  const ptr = new Uint32Array(n + 1)
  let terms = new Uint32Array(expected)
  let vals = new Float32Array(expected)
  let len = 0
  return {
    push(t, v) {
      if (len === terms.length) {
        const t2 = new Uint32Array(terms.length * 2)
        t2.set(terms)
        terms = t2
        const v2 = new Float32Array(vals.length * 2)
        v2.set(vals)
        vals = v2
      }
      terms[len] = t
      vals[len++] = v
    },
    end(i) {
      ptr[i + 1] = len
    },
    done: () => ({ ptr, terms: terms.slice(0, len), vals: vals.slice(0, len) }),
  }
}

/** Sorts each row's (term, value) pairs by term (the index needs no order, but CIFF/BMP like it). */
function sortRows({ ptr, terms, vals }) {
  const n = ptr.length - 1
  const keys = new Float64Array(4096)
  const t = new Uint32Array(4096)
  const v = new Float32Array(4096)
  for (let i = 0; i < n; i++) {
    const lo = ptr[i]
    const len = ptr[i + 1] - lo
    // Key = term · 2^12 + position: a native numeric sort, then a gather.
    const k = keys.subarray(0, len)
    for (let j = 0; j < len; j++) k[j] = terms[lo + j] * 4096 + j
    k.sort()
    for (let j = 0; j < len; j++) {
      const src = lo + (k[j] % 4096)
      t[j] = terms[src]
      v[j] = vals[src]
    }
    terms.set(t.subarray(0, len), lo)
    vals.set(v.subarray(0, len), lo)
  }
}

/**
 * Topic-mixture SPLADE-like corpus: `{ docs, queries }`, each a CSR `{ ptr, terms, vals }`
 * (row i = ptr[i] … ptr[i+1]); doc values are integer impacts 1 … 255, query values integers
 * 1 … 32 with the largest exactly 32. Deterministic for (n, nQueries, seed, params).
 */
export function topicMixture({ n, nQueries, seed = 21, ...overrides }) {
  const p = { ...TOPIC_DEFAULTS, ...overrides }
  const r = rng(seed)
  const popular = powerLawSampler(r, p.vocab, p.topicPopularity)
  // Topic supports: distinct terms, popular ones shared across topics, in random rank order.
  const support = new Uint32Array(p.topics * p.topicTerms)
  const seen = new Int32Array(p.vocab).fill(-1)
  for (let z = 0; z < p.topics; z++) {
    let m = 0
    while (m < p.topicTerms) {
      const t = popular()
      if (seen[t] === z) continue
      seen[t] = z
      support[z * p.topicTerms + m++] = t
    }
    for (let i = p.topicTerms - 1; i > 0; i--) {
      const j = r.below(i + 1)
      const a = support[z * p.topicTerms + i]
      support[z * p.topicTerms + i] = support[z * p.topicTerms + j]
      support[z * p.topicTerms + j] = a
    }
  }
  // Hot loop: table lookups on 16-bit slices of one 32-bit draw (10⁸ draws for 1M documents).
  const inTopic = powerLawTable(p.topicTerms, p.topicExponent)
  const headTable = powerLawTable(p.head, p.headExponent)
  const gauss = normalTable()
  const stamp = new Int32Array(p.vocab).fill(-1)
  const pHead = Math.floor(p.pHead * 65536)
  const pTopic = Math.floor((p.pHead + p.pPrimary) * 65536)
  const impacts = new Float64Array(3 * 65536)
  ;[p.muHead, p.muPrimary, p.muSecondary].forEach((mu, s) => {
    for (let i = 0; i < 65536; i++) impacts[s * 65536 + i] = Math.min(255, Math.max(1, Math.round(40 * Math.exp(mu + p.weightSigma * gauss[i]))))
  })
  const T = p.topicTerms
  const docs = csrBuilder(n, Math.ceil(n * p.nnz * 1.15))
  for (let i = 0; i < n; i++) {
    const z1 = r.below(p.topics) * T
    const z2 = r.below(p.topics) * T
    const len = Math.max(8, Math.min(4 * p.nnz, Math.round(p.nnz * Math.exp(p.nnzSigma * gauss[r.next() >>> 16]))))
    let got = 0
    for (let tries = 0; got < len && tries < 8 * len; tries++) {
      const x = r.next()
      const src = x >>> 16
      const pick = x & 0xffff
      let t
      let s
      if (src < pHead) {
        t = headTable[pick]
        s = 0
      } else if (src < pTopic) {
        t = support[z1 + inTopic[pick]]
        s = 1
      } else {
        t = support[z2 + inTopic[pick]]
        s = 2
      }
      if (stamp[t] === i) continue
      stamp[t] = i
      docs.push(t, impacts[s * 65536 + (r.next() >>> 16)])
      got++
    }
    docs.end(i)
  }
  const queries = csrBuilder(nQueries, nQueries * p.queryTerms)
  const qstamp = new Int32Array(p.vocab).fill(-1)
  for (let i = 0; i < nQueries; i++) {
    const z = r.below(p.topics)
    const ts = []
    const ws = []
    for (let tries = 0; ts.length < p.queryTerms && tries < 50 * p.queryTerms; tries++) {
      const head = r.uniform() < p.qHead
      const t = head ? headTable[r.next() >>> 16] : support[z * T + inTopic[r.next() >>> 16]]
      if (qstamp[t] === i) continue
      qstamp[t] = i
      ts.push(t)
      ws.push(Math.exp((head ? -0.7 : 0) + 0.5 * r.normal()))
    }
    const max = Math.max(...ws)
    ts.forEach((t, j) => queries.push(t, Math.max(1, Math.round((MAX_QUERY_WEIGHT * ws[j]) / max))))
    queries.end(i)
  }
  const out = { docs: docs.done(), queries: queries.done(), params: p }
  sortRows(out.docs)
  sortRows(out.queries)
  return out
}

/**
 * The previous runs' i.i.d. corpus (kept for honesty: no topical structure, so block maxima are
 * loose): each document draws 120 terms independently, term = ⌊30000^u⌋ − 1 (log-uniform ranks),
 * float weights 0.1 + 3u² (duplicates keep the last draw); queries 20 terms, weights 0.2 + u.
 */
export function iidCorpus({ n, nQueries, seed = 11, vocab = 30_000, nnz = 120, queryTerms = 20 }) {
  const r = rng(seed)
  const zipf = () => Math.min(vocab - 1, Math.floor(Math.exp(r.uniform() * Math.log(vocab))) - 1)
  const rows = (count, len, weight) => {
    const b = csrBuilder(count, count * len)
    const last = new Map()
    for (let i = 0; i < count; i++) {
      last.clear()
      for (let j = 0; j < len; j++) last.set(zipf(), weight())
      for (const [t, v] of last) b.push(t, Math.fround(v))
      b.end(i)
    }
    return b.done()
  }
  const docs = rows(n, nnz, () => 0.1 + 3 * r.uniform() ** 2)
  const queries = rows(nQueries, queryTerms, () => 0.2 + r.uniform())
  sortRows(docs)
  sortRows(queries)
  return { docs, queries, params: { vocab, nnz, queryTerms, seed } }
}

/**
 * `{ id, indices, values }` views of CSR rows (no copies), the shape `SparseIndex.build` takes;
 * ids are the row numbers, or `idOf[row]`; `ids: false` leaves them out (queries).
 */
export function rowsOf({ ptr, terms, vals }, { ids = true, idOf = null } = {}) {
  const out = new Array(ptr.length - 1)
  for (let i = 0; i < out.length; i++) {
    const v = { indices: terms.subarray(ptr[i], ptr[i + 1]), values: vals.subarray(ptr[i], ptr[i + 1]) }
    out[i] = ids ? { id: idOf ? idOf[i] : i, ...v } : v
  }
  return out
}

// ---- disk cache: a JSON header line, then the raw arrays (little-endian, as the machine) ----

function writeCsr(file, corpus) {
  const arrays = [corpus.docs.ptr, corpus.docs.terms, corpus.docs.vals, corpus.queries.ptr, corpus.queries.terms, corpus.queries.vals]
  const header = Buffer.from(JSON.stringify({ params: corpus.params, lengths: arrays.map((a) => a.length) }) + '\n')
  const parts = [header, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]
  writeFileSync(file + '.tmp', Buffer.concat(parts))
  renameSync(file + '.tmp', file)
}

function readCsr(file) {
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(size)
    let off = 0
    while (off < size) off += readSync(fd, buf, off, size - off, off)
    const nl = buf.indexOf(10)
    const { params, lengths } = JSON.parse(buf.subarray(0, nl).toString('utf8'))
    // Copy into aligned typed arrays (the header length is arbitrary).
    let pos = nl + 1
    const take = (Ctor, len) => {
      const a = new Ctor(len)
      new Uint8Array(a.buffer).set(buf.subarray(pos, pos + a.byteLength))
      pos += a.byteLength
      return a
    }
    const kinds = [Uint32Array, Uint32Array, Float32Array, Uint32Array, Uint32Array, Float32Array]
    const [dp, dt, dv, qp, qt, qv] = kinds.map((C, i) => take(C, lengths[i]))
    return { docs: { ptr: dp, terms: dt, vals: dv }, queries: { ptr: qp, terms: qt, vals: qv }, params }
  } finally {
    closeSync(fd)
  }
}

/** `make()` once per `key`, cached under `dir` (a cache outside the repo). */
export function cachedCorpus(dir, key, make) {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${key}.csr`)
  if (existsSync(file) && statSync(file).size > 0) {
    try {
      return { ...readCsr(file), cached: true }
    } catch {
      // fall through: regenerate a damaged cache file
    }
  }
  const c = make()
  writeCsr(file, c)
  return { ...c, cached: false }
}

/**
 * The document order of a CIFF file written by `SparseIndex.toCiff`: `order[docid]` = the
 * document's external id (a decimal integer). Lets a bench reuse a BP order computed once.
 */
export function ciffDocOrder(buf) {
  let pos = 0
  const varint = () => {
    let v = 0
    let mul = 1
    let b
    do {
      b = buf[pos++]
      v += (b & 0x7f) * mul
      mul *= 128
    } while (b & 0x80)
    return v
  }
  // Calls `field(number, value)` for each field of the next length-delimited message.
  const message = (field) => {
    const end = varint() + pos
    while (pos < end) {
      const key = varint()
      const wire = key % 8
      if (wire === 0) field(Math.floor(key / 8), varint())
      else if (wire === 1) pos += 8
      else if (wire === 2) {
        const len = varint()
        field(Math.floor(key / 8), buf.subarray(pos, pos + len))
        pos += len
      } else throw new Error(`CIFF: unsupported wire type ${wire}`)
    }
    pos = end
  }
  let lists = 0
  let docs = 0
  message((f, v) => {
    if (f === 2) lists = v
    if (f === 3) docs = v
  })
  for (let i = 0; i < lists; i++) {
    const len = varint()
    pos += len
  }
  const order = new Uint32Array(docs)
  for (let i = 0; i < docs; i++) {
    let docid = 0
    let name = ''
    message((f, v) => {
      if (f === 1) docid = v
      if (f === 2) name = Buffer.from(v).toString('utf8')
    })
    order[docid] = Number(name)
  }
  return order
}

/** CSR rows reordered: row j of the result is row `order[j]` of `csr`. */
export function permuteRows({ ptr, terms, vals }, order) {
  const out = { ptr: new Uint32Array(order.length + 1), terms: new Uint32Array(terms.length), vals: new Float32Array(vals.length) }
  let len = 0
  for (let j = 0; j < order.length; j++) {
    const lo = ptr[order[j]]
    const hi = ptr[order[j] + 1]
    out.terms.set(terms.subarray(lo, hi), len)
    out.vals.set(vals.subarray(lo, hi), len)
    len += hi - lo
    out.ptr[j + 1] = len
  }
  return out
}
