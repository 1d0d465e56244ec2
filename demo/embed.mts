// Dense vectors for the mails without a model (the demo runs offline): a count sketch of the
// mail's words with IDF weights, i.e. each word adds ±idf to two of `dim` buckets picked by
// hashing, then the vector is L2-normalised. Similar mails get similar vectors, which is all
// the compression part of the demo needs; a real deployment would use a sentence encoder.

const WORD = /[\p{L}\p{N}]{2,}/gu

function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? []
}

/** `texts.length × dim` unit vectors, row-major. */
export function sketchEmbed(texts: readonly string[], dim: number): Float32Array {
  const docs = texts.map(words)
  const df = new Map<string, number>()
  for (const doc of docs) for (const w of new Set(doc)) df.set(w, (df.get(w) ?? 0) + 1)
  const out = new Float32Array(texts.length * dim)
  docs.forEach((doc, row) => {
    const v = out.subarray(row * dim, (row + 1) * dim)
    const tf = new Map<string, number>()
    for (const w of doc) tf.set(w, (tf.get(w) ?? 0) + 1)
    for (const [w, count] of tf) {
      const weight = (1 + Math.log(count)) * Math.log(1 + texts.length / (df.get(w) ?? 1))
      for (const seed of [1, 2]) {
        const h = fnv1a(w, seed)
        v[h % dim] += h & 0x80000000 ? weight : -weight
      }
    }
    let norm = 0
    for (const x of v) norm += x * x
    norm = Math.sqrt(norm) || 1
    for (let i = 0; i < dim; i++) v[i] /= norm
  })
  return out
}
