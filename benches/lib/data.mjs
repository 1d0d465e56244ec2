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
  let a = splitmix32(), b = splitmix32(), c = splitmix32(), d = splitmix32()
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t >>> 0
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
