/**
 * MinHash signatures: shingling and signing in Rust (one flat `Uint32Array` per batch, computed
 * in parallel), the Jaccard estimate, b-bit compaction, datasketch's (bands, rows) choice and
 * band keys for external group-by engines.
 * @module
 */
import { z } from 'zod'
import * as native from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType, slimdexError } from './errors'
import { checkSameFamily, signatureFamily, tagSignatures } from './signature-family'
import type { SignatureFamily } from './signature-family'
import type { AsyncOptions } from './types'
import { checkSignal, parseOptions, positiveInt } from './validate'

/**
 * How a signature is computed:
 * - `'oph'` (default): one-permutation hashing with optimal densification — one xxh3 hash per
 *   shingle, O(|S| + numPerm); every slot collides with probability J even for tiny sets.
 * - `'classic'`: numPerm independent universal hashes `(a·x + b) mod 2^61 − 1` (128-bit product).
 * - `'datasketch'`: bit-compatible with Python datasketch's default `MinHash` (SHA-1 32-bit token
 *   hash, NumPy `RandomState(seed)` permutations, its uint64 wrap-around). Seed < 2^32.
 */
export type MinHashScheme = 'oph' | 'classic' | 'datasketch'

/** How a text becomes a set of shingles. */
export type ShingleKind = 'word' | 'char'

/** Options of {@link MinHasher}. */
export interface MinHasherOptions {
  /** Slots per signature, 1 … 65,536 (default 128). */
  numPerm?: number
  /** Seed of every hash, a safe non-negative integer (default 1, datasketch's); `'datasketch'` needs < 2^32. */
  seed?: number
  /** Signature construction (default `'oph'`). */
  scheme?: MinHashScheme
  /**
   * `'word'` (default): word n-grams; `'char'`: character n-grams (Unicode scalar values). Text is
   * lowercased (Unicode-aware) and every run of non-alphanumeric characters becomes one space.
   * A document shorter than `ngram` is one shingle (its whole token sequence).
   */
  shingle?: ShingleKind
  /** n-gram length in words or characters, 1 … 1024 (default 5). */
  ngram?: number
}

/** Options of {@link MinHasher.sign} and {@link MinHasher.signTokens}. */
export interface SignOptions extends AsyncOptions {
  /** Worker threads (default: one per core). */
  threads?: number
}

export const MAX_NUM_PERM = 65_536

/** Schema of the hasher options, shared with `dedup`. */
export const hasherShape = {
  numPerm: positiveInt(MAX_NUM_PERM).default(128),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(1),
  scheme: z.enum(['oph', 'classic', 'datasketch']).default('oph'),
  shingle: z.enum(['word', 'char']).default('word'),
  ngram: positiveInt(1024).default(5),
}
const hasherSchema = z.strictObject(hasherShape)
const signSchema = z.strictObject({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/** Checks a batch of texts: an array of strings. */
export function checkTexts(texts: unknown, name = 'texts'): string[] {
  if (!Array.isArray(texts)) throw invalidType(`${name} must be an array of strings`)
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== 'string') throw invalidType(`${name}[${i}] must be a string (got ${typeof texts[i]})`)
  }
  return texts as string[]
}

/**
 * Checks a flat batch of signatures: a `Uint32Array` whose length is a multiple of `numPerm`
 * (`count` signatures when given). Wrong lengths throw `ERR_SLIMDEX_DIM_MISMATCH`.
 */
export function checkSignatures(sigs: unknown, numPerm: number, name = 'signatures', count?: number): Uint32Array {
  if (!(sigs instanceof Uint32Array)) throw invalidType(`${name} must be a Uint32Array (from MinHasher.sign)`)
  const bad = count === undefined ? sigs.length % numPerm !== 0 : sigs.length !== count * numPerm
  if (bad) {
    const want = count === undefined ? `a multiple of numPerm ${numPerm}` : `${count} × numPerm ${numPerm}`
    throw slimdexError(RangeError, 'ERR_SLIMDEX_DIM_MISMATCH', `${name} has ${sigs.length} slots, expected ${want}`)
  }
  return sigs
}

/**
 * Token sets packed Arrow-style (like an Arrow `List<Binary>` column): token t is the UTF-8
 * bytes `data[tokenOffsets[t], tokenOffsets[t + 1])` and document d holds tokens
 * `docOffsets[d] … docOffsets[d + 1] − 1`. Both offset arrays are non-decreasing; their last
 * entries are at most `data.length` and `tokenOffsets.length − 1`. Build one with
 * {@link packTokenSets} or straight from your own buffers.
 */
export interface PackedTokenSets {
  /** The UTF-8 bytes of every token, concatenated. */
  data: Uint8Array
  /** Byte offset of every token in `data`, plus the end of the last: tokens + 1 entries. */
  tokenOffsets: Uint32Array
  /** Index of every document's first token, plus the end: documents + 1 entries. */
  docOffsets: Uint32Array
}

function checkPacked(p: unknown): PackedTokenSets {
  const x = p as Partial<PackedTokenSets> | null
  if (typeof x !== 'object' || x === null) throw invalidType('packed token sets must be { data, tokenOffsets, docOffsets }')
  if (!(x.data instanceof Uint8Array)) throw invalidType('packed.data must be a Uint8Array')
  if (!(x.tokenOffsets instanceof Uint32Array)) throw invalidType('packed.tokenOffsets must be a Uint32Array')
  if (!(x.docOffsets instanceof Uint32Array)) throw invalidType('packed.docOffsets must be a Uint32Array')
  return x as PackedTokenSets
}

/** Checks a token set (an array of strings) and returns the sum of its tokens' UTF-16 lengths. */
function checkTokenSet(set: unknown, d: number): number {
  if (!Array.isArray(set)) throw invalidType(`tokenSets[${d}] must be an array of strings`)
  let units = 0
  for (let i = 0; i < set.length; i++) {
    const token: unknown = set[i]
    if (typeof token !== 'string') throw invalidType(`tokenSets[${d}][${i}] must be a string (got ${typeof token})`)
    units += token.length
  }
  return units
}

/** `set.join(separator)`, with V8's string-length limit turned into a RangeError naming the document. */
function joinTokens(set: readonly string[], separator: string, d: number): string {
  try {
    return set.join(separator)
  } catch (e) {
    if (e instanceof RangeError) throw invalidRange(`tokenSets[${d}]: its tokens are too long to join into one JS string`)
    throw e
  }
}

/**
 * Packs token sets (arrays of strings) into the flat form {@link MinHasher.signTokenOffsets}
 * takes: all tokens UTF-8-encoded into one buffer, with token and document offsets. Throws a
 * RangeError when the bytes or tokens exceed 2^32 − 1 (the offsets are 32-bit).
 */
export function packTokenSets(tokenSets: ReadonlyArray<readonly string[]>): PackedTokenSets {
  if (!Array.isArray(tokenSets)) throw invalidType('tokenSets must be an array of string arrays')
  const sets = tokenSets as unknown[]
  const docOffsets = new Uint32Array(sets.length + 1)
  let tokens = 0
  for (let d = 0; d < sets.length; d++) {
    const set = sets[d]
    if (!Array.isArray(set)) throw invalidType(`tokenSets[${d}] must be an array of strings`)
    tokens += set.length
    if (tokens > 0xffff_ffff) throw invalidRange('packTokenSets: more than 2^32 − 1 tokens')
    docOffsets[d + 1] = tokens
  }
  const tokenOffsets = new Uint32Array(tokens + 1)
  let data = Buffer.allocUnsafeSlow(1024)
  let pos = 0
  let t = 0
  for (let d = 0; d < sets.length; d++) {
    // One document at a time, checked, joined and encoded while its strings are in cache.
    const set = sets[d] as string[]
    const units = checkTokenSet(set, d)
    const joined = joinTokens(set, '', d)
    const bytes = Buffer.byteLength(joined, 'utf8')
    if (data.length - pos < bytes) {
      const grown = Buffer.allocUnsafeSlow(Math.max(pos + bytes, data.length * 2))
      data.copy(grown, 0, 0, pos)
      data = grown
    }
    // One byte per UTF-16 unit means every token is ASCII: its Latin-1 bytes are its UTF-8
    // bytes (a plain copy, much faster than V8's UTF-8 writer) and byte lengths are string lengths.
    const ascii = bytes === units
    const written = data.write(joined, pos, ascii ? 'latin1' : 'utf8')
    let end = pos
    for (let i = 0; i < set.length; i++) {
      end += ascii ? set[i].length : Buffer.byteLength(set[i], 'utf8')
      tokenOffsets[++t] = end
    }
    pos += written
    if (pos > 0xffff_ffff) throw invalidRange('packTokenSets: more than 2^32 − 1 bytes of tokens')
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, pos), tokenOffsets, docOffsets }
}

/**
 * A run of documents `first …` as `signJoinedTokens` takes them: each document's tokens
 * joined by U+001F, UTF-8, concatenated in `data`, with byte offsets and token counts.
 * Views of module-level scratch arrays: valid until the next chunk is asked for.
 */
interface JoinedChunk {
  first: number
  data: Uint8Array
  docOffsets: Uint32Array
  counts: Uint32Array
}

const TOKEN_SEPARATOR = '\u001f'
/** Bytes of joined documents handed to Rust per call: small enough to stay in cache. */
const CHUNK_BYTES = 1 << 22
/** Documents per chunk at most (the size of the reused offset and count arrays). */
const CHUNK_DOCS = 1 << 14
/** Reused between calls (a fresh buffer costs a page fault per 4 KiB); dropped when it grew past this. */
const SCRATCH_KEEP_BYTES = 1 << 26
let scratch = Buffer.allocUnsafe(CHUNK_BYTES)
// Reused too: one chunk's document end offsets (entry 0 stays 0) and token counts. No array
// is allocated per chunk, so signing a corpus leaves V8's heap as it found it.
const chunkDocOffsets = new Uint32Array(CHUNK_DOCS + 1)
const chunkTokenCounts = new Uint32Array(CHUNK_DOCS)

/**
 * Checks token sets and yields them in chunks of joined documents. Why joined: one native
 * `join` per document plus one Latin-1 copy (when it is ASCII, the usual case) is far cheaper
 * than encoding tokens one by one in JS or passing one string per token through N-API. The
 * chunks share the scratch arrays: consume (copy) each before asking for the next. Each
 * chunk is written within one `next()` call, so interleaved calls cannot mix their bytes.
 */
function* joinedChunks(tokenSets: unknown): Generator<JoinedChunk, void, undefined> {
  if (!Array.isArray(tokenSets)) throw invalidType('tokenSets must be an array of string arrays')
  const sets = tokenSets as unknown[]
  let first = 0
  let pos = 0
  let docs = 0
  const chunk = (): JoinedChunk => ({
    first,
    data: scratch.subarray(0, pos),
    docOffsets: chunkDocOffsets.subarray(0, docs + 1),
    counts: chunkTokenCounts.subarray(0, docs),
  })
  for (let d = 0; d < sets.length; d++) {
    // Checked, joined and copied one document at a time, while its strings are in cache.
    const set = sets[d] as string[]
    checkTokenSet(set, d)
    if (set.length === 0) {
      throw slimdexError(RangeError, 'ERR_SLIMDEX_INVALID_ARG', `tokenSets[${d}] has no token: a MinHash signature is undefined for the empty set`)
    }
    const joined = joinTokens(set, TOKEN_SEPARATOR, d)
    const bytes = Buffer.byteLength(joined, 'utf8')
    if (docs > 0 && (pos + bytes > scratch.length || docs === CHUNK_DOCS)) {
      yield chunk()
      first = d
      pos = 0
      docs = 0
    }
    if (bytes > scratch.length) scratch = Buffer.allocUnsafe(bytes)
    // One byte per UTF-16 unit means ASCII, whose Latin-1 bytes are its UTF-8 bytes (a plain copy).
    pos += scratch.write(joined, pos, bytes === joined.length ? 'latin1' : 'utf8')
    chunkTokenCounts[docs] = set.length
    chunkDocOffsets[++docs] = pos
  }
  if (docs > 0) yield chunk()
  if (scratch.length > SCRATCH_KEEP_BYTES) scratch = Buffer.allocUnsafe(CHUNK_BYTES)
}

/** Copies row i of `rows` (numPerm slots each) to row `at[i]` of `sigs`. */
function placeRows(sigs: Uint32Array, at: ArrayLike<number>, rows: Uint32Array, numPerm: number): void {
  for (let i = 0; i < at.length; i++) sigs.set(rows.subarray(i * numPerm, (i + 1) * numPerm), at[i] * numPerm)
}

/**
 * Computes MinHash signatures of texts (or of ready-made token sets) in Rust.
 *
 * @example
 * ```ts
 * const hasher = new MinHasher({ numPerm: 128 })
 * const sigs = await hasher.sign(['a b c d e f', 'a b c d e g'])  // Uint32Array of 2 × 128
 * jaccard(hasher.signature(sigs, 0), hasher.signature(sigs, 1))
 * ```
 */
export class MinHasher {
  #native: native.NativeMinHasher
  readonly #options: Required<MinHasherOptions>
  readonly #family: SignatureFamily

  constructor(options: MinHasherOptions = {}) {
    this.#options = parseOptions(hasherSchema, options, 'MinHasher options')
    if (this.#options.scheme === 'datasketch' && this.#options.seed >= 2 ** 32) {
      throw invalidRange(`MinHasher options: seed must be < 2^32 with scheme 'datasketch' (got ${this.#options.seed})`)
    }
    this.#native = callNative(() => new native.NativeMinHasher(this.#options))
    this.#family = Object.freeze({ scheme: this.#options.scheme, seed: this.#options.seed })
  }

  /** Slots per signature. */
  get numPerm(): number {
    return this.#options.numPerm
  }

  /**
   * The scheme and seed of this hasher: every signature array it returns is tagged with them
   * (see {@link signatureFamily}), so that signatures of different hashers are never mixed.
   */
  get family(): SignatureFamily {
    return this.#family
  }

  /** The options the hasher was built with (defaults filled in). */
  get options(): Readonly<Required<MinHasherOptions>> {
    return this.#options
  }

  /**
   * Signs texts on the libuv pool (parallel across texts): one flat `Uint32Array` of
   * `texts.length × numPerm` slots, text i at `[i·numPerm, (i+1)·numPerm)`. A text without any
   * letter or digit has no shingle, so MinHash is undefined for it: the call throws
   * `ERR_SLIMDEX_INVALID_ARG` naming the first such text (`dedup` handles them itself).
   */
  async sign(texts: readonly string[], options: SignOptions = {}): Promise<Uint32Array> {
    const o = parseOptions(signSchema, options, 'sign options')
    const t = checkTexts(texts)
    const signal = checkSignal(o.signal)
    return tagSignatures(await callNativeAsync(() => this.#native.sign(t, o.threads, signal)), this.#family)
  }

  /** Synchronous twin of {@link MinHasher.sign} (still parallel across texts). */
  signSync(texts: readonly string[], options: Omit<SignOptions, 'signal'> = {}): Uint32Array {
    const o = parseOptions(signSchema, options, 'sign options')
    return tagSignatures(callNative(() => this.#native.signSync(checkTexts(texts), o.threads)), this.#family)
  }

  /**
   * Signs ready-made token sets (each token is one set element, hashed as its UTF-8 bytes; no
   * shingling or normalisation). With `scheme: 'datasketch'` the result equals datasketch's
   * `MinHash.update(token.encode('utf8'))` over the same tokens. Any string is a token (empty
   * ones and ones containing U+001F too); a lone surrogate is encoded as U+FFFD, as
   * `TextEncoder` does. A document without tokens throws `ERR_SLIMDEX_INVALID_ARG`, a
   * non-string token a TypeError naming it.
   */
  async signTokens(tokenSets: ReadonlyArray<readonly string[]>, options: SignOptions = {}): Promise<Uint32Array> {
    const o = parseOptions(signSchema, options, 'signTokens options')
    const signal = checkSignal(o.signal)
    const k = this.numPerm
    const sigs = new Uint32Array(Array.isArray(tokenSets) ? tokenSets.length * k : 0)
    const ambiguous: number[] = []
    // Pipelined: the native call copies a chunk before returning, so JS joins the next chunk
    // while the pool signs this one.
    let pending: Promise<void> | null = null
    for (const c of joinedChunks(tokenSets)) {
      const task = callNativeAsync(() => this.#native.signJoinedTokens(c.data, c.docOffsets, c.counts, o.threads, signal))
      const previous = pending
      pending = (async () => {
        const r = await task
        sigs.set(r.signatures, c.first * k)
        for (const d of r.ambiguous) ambiguous.push(c.first + d)
      })()
      // Handled when awaited below; this stops an early rejection from being reported as unhandled.
      pending.catch(() => {})
      await previous
    }
    await pending
    if (ambiguous.length > 0) {
      // Documents with U+001F inside a token: signed from their tokens, packed.
      ambiguous.sort((a, b) => a - b)
      const p = packTokenSets(ambiguous.map((d) => tokenSets[d]))
      placeRows(sigs, ambiguous, await callNativeAsync(() => this.#native.signTokenOffsets(p.data, p.tokenOffsets, p.docOffsets, o.threads, signal)), k)
    }
    return tagSignatures(sigs, this.#family)
  }

  /** Synchronous twin of {@link MinHasher.signTokens}. */
  signTokensSync(tokenSets: ReadonlyArray<readonly string[]>, options: Omit<SignOptions, 'signal'> = {}): Uint32Array {
    const o = parseOptions(signSchema, options, 'signTokens options')
    const k = this.numPerm
    const sigs = new Uint32Array(Array.isArray(tokenSets) ? tokenSets.length * k : 0)
    const ambiguous: number[] = []
    for (const c of joinedChunks(tokenSets)) {
      // Signed straight into this chunk's rows of the result (no array per chunk).
      const rows = sigs.subarray(c.first * k, (c.first + c.counts.length) * k)
      const r = callNative(() => this.#native.signJoinedTokensIntoSync(c.data, c.docOffsets, c.counts, rows, o.threads))
      for (const d of r) ambiguous.push(c.first + d)
    }
    if (ambiguous.length > 0) {
      const p = packTokenSets(ambiguous.map((d) => tokenSets[d]))
      placeRows(sigs, ambiguous, callNative(() => this.#native.signTokenOffsetsSync(p.data, p.tokenOffsets, p.docOffsets, o.threads)), k)
    }
    return tagSignatures(sigs, this.#family)
  }

  /**
   * Signs token sets packed Arrow-style ({@link packTokenSets}): the same signatures as
   * {@link MinHasher.signTokens} over the same tokens, without one JS string per token crossing
   * into Rust (the typed arrays are read in place by the sync twin, copied once by this one).
   * Offsets that decrease or run past their buffer throw `ERR_SLIMDEX_INVALID_ARG`.
   */
  async signTokenOffsets(packed: PackedTokenSets, options: SignOptions = {}): Promise<Uint32Array> {
    const o = parseOptions(signSchema, options, 'signTokenOffsets options')
    const p = checkPacked(packed)
    const signal = checkSignal(o.signal)
    return tagSignatures(await callNativeAsync(() => this.#native.signTokenOffsets(p.data, p.tokenOffsets, p.docOffsets, o.threads, signal)), this.#family)
  }

  /** Synchronous twin of {@link MinHasher.signTokenOffsets} (reads the typed arrays in place). */
  signTokenOffsetsSync(packed: PackedTokenSets, options: Omit<SignOptions, 'signal'> = {}): Uint32Array {
    const o = parseOptions(signSchema, options, 'signTokenOffsets options')
    const p = checkPacked(packed)
    return tagSignatures(callNative(() => this.#native.signTokenOffsetsSync(p.data, p.tokenOffsets, p.docOffsets, o.threads)), this.#family)
  }

  /** The shingles of one text under this hasher's options (for inspection). */
  shingles(text: string): string[] {
    if (typeof text !== 'string') throw invalidType('text must be a string')
    return this.#native.shingles(text)
  }

  /** Signature `i` of a flat batch, as a view (no copy). */
  signature(sigs: Uint32Array, i: number): Uint32Array {
    checkSignatures(sigs, this.numPerm)
    const n = sigs.length / this.numPerm
    if (!Number.isInteger(i) || i < 0 || i >= n) throw invalidRange(`i must be an integer in [0, ${n - 1}] (got ${i})`)
    return sigs.subarray(i * this.numPerm, (i + 1) * this.numPerm)
  }
}

/**
 * Estimated Jaccard similarity of two signatures: the fraction of equal slots. Both must come
 * from hashers with the same options (numPerm, seed, scheme, shingling); signatures tagged with
 * different families (see {@link signatureFamily}) throw `ERR_SLIMDEX_SIGNATURE_MISMATCH`.
 */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  if (!(a instanceof Uint32Array) || !(b instanceof Uint32Array)) throw invalidType('signatures must be Uint32Arrays')
  if (a.length !== b.length) {
    throw slimdexError(RangeError, 'ERR_SLIMDEX_DIM_MISMATCH', `signatures have different lengths (${a.length} and ${b.length})`)
  }
  checkSameFamily(a, b)
  return callNative(() => native.minhashJaccard(a, b))
}

/** Options of {@link bBits} and {@link bBitsJaccard}. */
export interface BBitOptions {
  /** Slots per signature. */
  numPerm: number
  /** Bits kept per slot, 1 … 16 (the lowest bits). */
  bits: number
}
const bbitSchema = z.strictObject({ numPerm: positiveInt(MAX_NUM_PERM), bits: positiveInt(16) })

/**
 * b-bit compaction (Li & König): keeps the lowest `bits` bits of every slot. Returns the packed
 * bytes of every signature, `ceil(numPerm·bits/8)` bytes each, concatenated. Compare two packed
 * signatures with {@link bBitsJaccard}; the bytes keep the signatures' family (see
 * {@link signatureFamily}), and packed signatures of different hashers are refused there.
 */
export function bBits(sigs: Uint32Array, options: BBitOptions): Uint8Array {
  const o = parseOptions(bbitSchema, options, 'bBits options')
  checkSignatures(sigs, o.numPerm)
  // The packed bytes keep the signatures' family, so bBitsJaccard can refuse a mix.
  return tagSignatures(callNative(() => native.minhashBbitCompact(sigs, o.numPerm, o.bits)), signatureFamily(sigs))
}

/**
 * Jaccard estimate of two packed b-bit signatures, corrected for accidental matches of the low
 * bits: (raw − 2^−b) / (1 − 2^−b), clamped to [0, 1] (the sparse-data limit of Li & König's estimator).
 */
export function bBitsJaccard(a: Uint8Array, b: Uint8Array, options: BBitOptions): number {
  const o = parseOptions(bbitSchema, options, 'bBitsJaccard options')
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw invalidType('packed signatures must be Uint8Arrays')
  checkSameFamily(a, b)
  return callNative(() => native.minhashBbitJaccard(a, b, o.numPerm, o.bits))
}

/** A banded LSH layout: `bands` bands of `rows` slots each (bands·rows ≤ numPerm). */
export interface BandsRows {
  bands: number
  rows: number
}

/** A Jaccard threshold, strictly between 0 and 1. */
export const thresholdSchema = z.number().gt(0).lt(1)
const weightsSchema = z.tuple([z.number().min(0), z.number().min(0)]).default([0.5, 0.5])
const optimalSchema = z.strictObject({
  threshold: thresholdSchema,
  numPerm: positiveInt(MAX_NUM_PERM),
  weights: weightsSchema,
})

/**
 * datasketch's (bands, rows) choice: minimises `wFP·∫₀ᵗ P(s) ds + wFN·∫ₜ¹ (1 − P(s)) ds` with
 * `P(s) = 1 − (1 − s^rows)^bands` over every bands·rows ≤ numPerm. `weights` = [wFP, wFN]
 * (default [0.5, 0.5]). E.g. threshold 0.8, numPerm 128 → 9 × 13.
 */
export function optimalParams(options: { threshold: number; numPerm: number; weights?: [number, number] }): BandsRows {
  const o = parseOptions(optimalSchema, options, 'optimalParams options')
  return callNative(() => native.minhashOptimalParams(o.threshold, o.numPerm, o.weights[0], o.weights[1]))
}

/** Probability that a pair with Jaccard `s` shares at least one band: 1 − (1 − s^rows)^bands. */
export function collisionProbability(s: number, { bands, rows }: BandsRows): number {
  return 1 - (1 - s ** rows) ** bands
}

const bandKeysSchema = z.strictObject({
  numPerm: positiveInt(MAX_NUM_PERM),
  bands: positiveInt(MAX_NUM_PERM),
  rows: positiveInt(MAX_NUM_PERM),
  threads: positiveInt(1024).optional(),
})

/**
 * 64-bit band keys of a flat batch of signatures (`n × bands`, document-major): xxh3 of each
 * band's slots salted with the band index, stable across platforms. Two documents share a band
 * key exactly when their signatures agree on that band (up to 2^−64 collisions), so an external
 * engine (SQL, Spark, Polars) can group by `(band, key)`.
 */
export function bandKeys(sigs: Uint32Array, options: { numPerm: number; bands: number; rows: number; threads?: number }): BigUint64Array {
  const o = parseOptions(bandKeysSchema, options, 'bandKeys options')
  checkSignatures(sigs, o.numPerm)
  return callNative(() => native.minhashBandKeys(sigs, o.numPerm, o.bands, o.rows, o.threads))
}

/** Pairs `(a[i], b[i])` of document indices (a < b) with their Jaccard similarity. */
export interface PairColumns {
  a: Uint32Array
  b: Uint32Array
  jaccard: Float64Array | Float32Array
}

const exactSchema = z.strictObject({
  threshold: thresholdSchema,
  shingle: z.enum(['word', 'char']).default('word'),
  ngram: positiveInt(1024).default(5),
  threads: positiveInt(1024).optional(),
})

/**
 * Every pair of texts whose shingle sets (the same shingling as {@link MinHasher}) have an exact
 * Jaccard ≥ `threshold`: an exact all-pairs join (prefix filtering, then verification). The
 * ground truth for evaluating `dedup`; quadratic in the worst case.
 */
export function exactPairs(
  texts: readonly string[],
  options: { threshold: number; shingle?: ShingleKind; ngram?: number; threads?: number },
): PairColumns {
  const o = parseOptions(exactSchema, options, 'exactPairs options')
  return callNative(() => native.minhashExactPairs(checkTexts(texts), o.shingle, o.ngram, o.threshold, o.threads))
}
