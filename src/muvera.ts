/**
 * MUVERA fixed-dimensional encodings (FDE) and exact Chamfer (MaxSim) scoring of point
 * clouds (token embeddings, ColBERT-style).
 *
 * Point clouds cross the boundary in CSR layout: `tokens` is one `Float32Array` of
 * `totalTokens × dim`, `offsets` has one entry per point cloud plus one (`offsets[0] = 0`,
 * non-decreasing, last = `totalTokens`); cloud i owns tokens `offsets[i] … offsets[i + 1] − 1`.
 * Every batch function also takes `{ tokens, offsets }` or an array of per-cloud token
 * matrices (each a flat `n_i × dim` array), normalised here once.
 * @module
 */
import { z } from 'zod'
import { NativeFdeEncoder, chamfer as nativeChamfer, chamferRerank as nativeRerank, chamferRerankSync as nativeRerankSync } from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType } from './errors'
import type { AsyncOptions } from './types'
import { checkInt, checkSignal, parseOptions, positiveInt } from './validate'

/** Largest token dimension. */
export const MAX_TOKEN_DIM = 65_536

/**
 * Options of {@link FdeEncoder}. Defaults are the MUVERA paper's Pareto point
 * (R, k, p) = (20, 5, 16) → 20 · 2^5 · 16 = 10,240 dimensions; a compact preset is
 * `{ repetitions: 20, simhashBits: 4, projectionDim: 8 }` → 2,560.
 */
export interface FdeEncoderOptions {
  /** Token dimension, 1 … 65,536. */
  dim: number
  /** Independent repetitions R, 1 … 4,096 (default 20). */
  repetitions?: number
  /** SimHash bits k per repetition, 0 … 30 (default 5 → 2^5 = 32 partitions). */
  simhashBits?: number
  /**
   * Inner projection of each token before it is accumulated (default `'countsketch'`, the
   * reference's sparse `AMS_SKETCH`, unscaled); `'dense'`: ±1/√p Rademacher (the paper,
   * fastembed, Weaviate); `'identity'`: no projection (p = dim).
   */
  projection?: 'countsketch' | 'identity' | 'dense'
  /** Projected width p per partition, 1 … 65,536 (default 16; ignored with `'identity'`). */
  projectionDim?: number
  /** Optional Count-Sketch final projection of the whole encoding to this many dimensions. */
  finalDim?: number
  /**
   * Fill a document's empty partitions with its token whose sign bits are nearest in Hamming
   * distance (lowest token index on ties). Default true, as in the paper; the reference
   * defaults to false.
   */
  fillEmpty?: boolean
  /** Seed of every random matrix, a safe integer ≥ 0 (default 42). */
  seed?: number
}

/** A CSR batch of point clouds. */
export interface PointClouds {
  /** `totalTokens × dim` floats. */
  tokens: Float32Array
  /** `n + 1` token offsets: `offsets[0] = 0`, non-decreasing, last = `totalTokens`. */
  offsets: Uint32Array | readonly number[]
}

/** One point cloud's tokens, flat (`n × dim`): `Float32Array` is the fast path. */
export type TokensInput = Float32Array | Float64Array | readonly number[]

/** A batch of point clouds: CSR `{ tokens, offsets }` or one flat token array per cloud. */
export type PointCloudsInput = PointClouds | ReadonlyArray<TokensInput>

/** Options of a batch encode. */
export interface EncodeBatchOptions extends AsyncOptions {
  /** Worker threads (default: one per core). */
  threads?: number
}

export const encoderSchema = z.strictObject({
  dim: positiveInt(MAX_TOKEN_DIM),
  repetitions: positiveInt(4096).default(20),
  simhashBits: z.number().int().min(0).max(30).default(5),
  projection: z.enum(['countsketch', 'identity', 'dense']).default('countsketch'),
  projectionDim: positiveInt(MAX_TOKEN_DIM).default(16),
  finalDim: positiveInt(1 << 22).optional(),
  fillEmpty: z.boolean().default(true),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(42),
})

const batchSchema = z.strictObject({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

function dimMismatch(message: string): Error {
  const err = invalidRange(message)
  ;(err as { code: string }).code = 'ERR_SLIMDEX_DIM_MISMATCH'
  return err
}

/**
 * Normalises one point cloud to a flat Float32Array of `n × dim` (no copy for a
 * Float32Array). `allowEmpty` admits n = 0.
 */
export function toTokens(v: unknown, dim: number, name: string, allowEmpty = false): Float32Array {
  let out: Float32Array
  if (v instanceof Float32Array) out = v
  else if (v instanceof Float64Array) out = Float32Array.from(v)
  else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out = Float32Array.from(v as number[])
  else throw invalidType(`${name} must be a Float32Array (n × ${dim} floats), a Float64Array or a number[]`)
  if (out.length % dim !== 0) throw dimMismatch(`${name} holds ${out.length} floats, not a multiple of dim ${dim}`)
  if (!allowEmpty && out.length === 0) throw invalidRange(`${name} has no tokens (at least one is needed)`)
  return out
}

function toOffsets(offsets: unknown): Uint32Array {
  if (offsets instanceof Uint32Array) return offsets
  if (Array.isArray(offsets) && offsets.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) return Uint32Array.from(offsets)
  throw invalidType('offsets must be a Uint32Array or an array of integers in [0, 2^32 − 1]')
}

/**
 * Normalises a batch of point clouds to CSR. Offsets are checked here (monotone, ending at
 * the token count) so errors name the batch; the native side checks them again.
 */
export function toPointClouds(v: unknown, dim: number, name: string): { tokens: Float32Array; offsets: Uint32Array; count: number } {
  if (Array.isArray(v)) {
    const parts = v.map((p, i) => toTokens(p, dim, `${name}[${i}]`, true))
    const offsets = new Uint32Array(parts.length + 1)
    let total = 0
    parts.forEach((p, i) => {
      total += p.length / dim
      offsets[i + 1] = total
    })
    const tokens = new Float32Array(total * dim)
    parts.forEach((p, i) => tokens.set(p, offsets[i] * dim))
    return { tokens, offsets, count: parts.length }
  }
  if (v === null || typeof v !== 'object' || !('tokens' in v) || !('offsets' in v)) {
    throw invalidType(`${name} must be { tokens: Float32Array, offsets } or an array of token arrays`)
  }
  const tokens = toTokens((v as PointClouds).tokens, dim, `${name}.tokens`, true)
  const offsets = toOffsets((v as PointClouds).offsets)
  if (offsets.length === 0 || offsets[0] !== 0) throw invalidRange(`${name}.offsets must start with 0 and have n + 1 entries`)
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) throw invalidRange(`${name}.offsets must be non-decreasing (offsets[${i}] = ${offsets[i]} < ${offsets[i - 1]})`)
  }
  const last = offsets[offsets.length - 1]
  if (last * dim !== tokens.length) {
    throw invalidRange(`${name}.offsets ends at ${last} but tokens holds ${tokens.length / dim} tokens of dim ${dim}`)
  }
  return { tokens, offsets, count: offsets.length - 1 }
}

/** Resolved encoder options (defaults filled in). */
export type ResolvedFdeOptions = Readonly<Required<Omit<FdeEncoderOptions, 'finalDim'>> & { finalDim?: number }>

let adoptedEncoder: NativeFdeEncoder | undefined

/**
 * MUVERA fixed-dimensional encodings: a point cloud becomes one vector whose inner product
 * with another approximates their Chamfer similarity, so ordinary vector search finds
 * multi-vector candidates. Queries **sum** their (projected) tokens per SimHash partition,
 * documents **average** them; scores grow with `repetitions` and are only meaningful for
 * ranking. With identity projection, one repetition and `fillEmpty`, query · document ≤
 * Chamfer(query, document) for any inputs (MUVERA Lemma A.3).
 *
 * The random matrices come from our own seeded generator (spec-versioned) and are saved by
 * {@link FdeEncoder.toBuffer} and with every index, so encodings never change across
 * versions or platforms. Encodings are bit-identical on every CPU.
 *
 * @example
 * ```ts
 * const enc = new FdeEncoder({ dim: 128 })                 // 10,240-d encodings
 * const docs = await enc.encodeDocuments(tokens, offsets)  // n × 10,240 floats
 * const q = enc.encodeQuery(queryTokens)
 * ```
 */
export class FdeEncoder {
  readonly #native: NativeFdeEncoder
  /** The options the encoder was built with (defaults filled in). */
  readonly options: ResolvedFdeOptions

  constructor(options: FdeEncoderOptions) {
    this.options = parseOptions(encoderSchema, options, 'FdeEncoder options')
    this.#native = adoptedEncoder ?? callNative(() => new NativeFdeEncoder(this.options))
  }

  /** Token dimension. */
  get dim(): number {
    return this.options.dim
  }

  /** Length of every encoding: `repetitions · 2^simhashBits · p`, or `finalDim`. */
  get outputDim(): number {
    return this.#native.outputDim
  }

  /** Query encoding of one point cloud (`n × dim` floats); an empty cloud encodes to zeros. */
  encodeQuery(tokens: TokensInput): Float32Array {
    const t = toTokens(tokens, this.dim, 'tokens', true)
    return callNative(() => this.#native.encodeQuery(t))
  }

  /** Document encoding of one point cloud; an empty cloud encodes to zeros (never NaN). */
  encodeDocument(tokens: TokensInput): Float32Array {
    const t = toTokens(tokens, this.dim, 'tokens', true)
    return callNative(() => this.#native.encodeDocument(t))
  }

  /**
   * Query encodings of a batch, in parallel on the libuv pool: one flat `n × outputDim`
   * Float32Array. Pass CSR `(tokens, offsets)`, `{ tokens, offsets }` or one token array per
   * query. Inputs are copied before the call returns.
   */
  encodeQueries(tokens: Float32Array, offsets: PointClouds['offsets'], options?: EncodeBatchOptions): Promise<Float32Array>
  encodeQueries(clouds: PointCloudsInput, options?: EncodeBatchOptions): Promise<Float32Array>
  async encodeQueries(a: unknown, b?: unknown, c?: unknown): Promise<Float32Array> {
    return this.#encodeAsync(a, b, c, false)
  }

  /** Document encodings of a batch (see {@link FdeEncoder.encodeQueries}). */
  encodeDocuments(tokens: Float32Array, offsets: PointClouds['offsets'], options?: EncodeBatchOptions): Promise<Float32Array>
  encodeDocuments(clouds: PointCloudsInput, options?: EncodeBatchOptions): Promise<Float32Array>
  async encodeDocuments(a: unknown, b?: unknown, c?: unknown): Promise<Float32Array> {
    return this.#encodeAsync(a, b, c, true)
  }

  /** Synchronous twin of {@link FdeEncoder.encodeQueries} (still parallel). */
  encodeQueriesSync(tokens: Float32Array, offsets: PointClouds['offsets'], options?: Omit<EncodeBatchOptions, 'signal'>): Float32Array
  encodeQueriesSync(clouds: PointCloudsInput, options?: Omit<EncodeBatchOptions, 'signal'>): Float32Array
  encodeQueriesSync(a: unknown, b?: unknown, c?: unknown): Float32Array {
    const { clouds, o } = splitBatchArgs(a, b, c, this.dim)
    return callNative(() => this.#native.encodeBatchSync(clouds.tokens, clouds.offsets, false, o.threads))
  }

  /** Synchronous twin of {@link FdeEncoder.encodeDocuments} (still parallel). */
  encodeDocumentsSync(tokens: Float32Array, offsets: PointClouds['offsets'], options?: Omit<EncodeBatchOptions, 'signal'>): Float32Array
  encodeDocumentsSync(clouds: PointCloudsInput, options?: Omit<EncodeBatchOptions, 'signal'>): Float32Array
  encodeDocumentsSync(a: unknown, b?: unknown, c?: unknown): Float32Array {
    const { clouds, o } = splitBatchArgs(a, b, c, this.dim)
    return callNative(() => this.#native.encodeBatchSync(clouds.tokens, clouds.offsets, true, o.threads))
  }

  async #encodeAsync(a: unknown, b: unknown, c: unknown, document: boolean): Promise<Float32Array> {
    const { clouds, o } = splitBatchArgs(a, b, c, this.dim)
    const signal = checkSignal(o.signal)
    return callNativeAsync(() => this.#native.encodeBatch(clouds.tokens, clouds.offsets, document, o.threads, signal))
  }

  /** Serialises the encoder with its random matrices. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an encoder from {@link FdeEncoder.toBuffer}; bad bytes throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static fromBuffer(buffer: Uint8Array): FdeEncoder {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return FdeEncoder.wrapNative(callNative(() => NativeFdeEncoder.fromBuffer(buffer)))
  }

  /** @internal The native encoder (to share matrices with an index). */
  get native(): NativeFdeEncoder {
    return this.#native
  }

  /** @internal Wraps a native encoder (from `fromBuffer` or an index). */
  static wrapNative(native: NativeFdeEncoder): FdeEncoder {
    adoptedEncoder = native
    try {
      const o = native.options()
      return new FdeEncoder({ ...o, finalDim: o.finalDim ?? undefined, projection: o.projection as FdeEncoderOptions['projection'] })
    } finally {
      adoptedEncoder = undefined
    }
  }
}

/** `(tokens, offsets, options?)` or `(clouds, options?)` → CSR + parsed options. */
export function splitBatchArgs(a: unknown, b: unknown, c: unknown, dim: number, name = 'clouds') {
  const csr = a instanceof Float32Array || a instanceof Float64Array
  const clouds = csr ? toPointClouds({ tokens: a, offsets: b }, dim, name) : toPointClouds(a, dim, name)
  const o = parseOptions(batchSchema, csr ? c : b, 'options')
  return { clouds, o }
}

/** Options of {@link chamfer} and {@link chamferRerank}. */
export interface ChamferOptions {
  /**
   * Clamp each query token's best dot product at 0 before summing (ColBERT's CPU path and
   * PyLate compute this; they start the max at 0). Default false: the true max.
   */
  clampNegative?: boolean
}

/** Options of {@link chamferRerank}. */
export interface ChamferRerankOptions extends ChamferOptions, AsyncOptions {
  /** Worker threads (default: one per core). */
  threads?: number
}

const rerankSchema = z.strictObject({
  clampNegative: z.boolean().default(false),
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/**
 * Chamfer similarity (MaxSim): Σ over query tokens of the largest dot product with any
 * document token (the true max, from −∞). SIMD, f32, identical on every CPU tier. An empty
 * query scores 0; an empty document is an error.
 */
export function chamfer(query: TokensInput, doc: TokensInput, dim: number, options: ChamferOptions = {}): number {
  checkInt(dim, 'dim', 1, MAX_TOKEN_DIM)
  const o = parseOptions(rerankSchema, options, 'chamfer options')
  const q = toTokens(query, dim, 'query', true)
  const d = toTokens(doc, dim, 'doc', q.length === 0)
  return callNative(() => nativeChamfer(q, d, dim, o.clampNegative))
}

/**
 * Exact Chamfer scores of a batch of candidate documents against one query, in input order,
 * in parallel on the libuv pool (query tokens stay resident in SIMD registers while document
 * tokens stream through). Every candidate needs at least one token.
 */
export async function chamferRerank(query: TokensInput, candidates: PointCloudsInput, dim: number, options: ChamferRerankOptions = {}): Promise<Float32Array> {
  checkInt(dim, 'dim', 1, MAX_TOKEN_DIM)
  const o = parseOptions(rerankSchema, options, 'chamferRerank options')
  const q = toTokens(query, dim, 'query')
  const c = toPointClouds(candidates, dim, 'candidates')
  const signal = checkSignal(o.signal)
  return callNativeAsync(() => nativeRerank(q, dim, c.tokens, c.offsets, o.clampNegative, o.threads, signal))
}

/** Synchronous twin of {@link chamferRerank} (still parallel across candidates). */
export function chamferRerankSync(query: TokensInput, candidates: PointCloudsInput, dim: number, options: Omit<ChamferRerankOptions, 'signal'> = {}): Float32Array {
  checkInt(dim, 'dim', 1, MAX_TOKEN_DIM)
  const o = parseOptions(rerankSchema, options, 'chamferRerank options')
  const q = toTokens(query, dim, 'query')
  const c = toPointClouds(candidates, dim, 'candidates')
  return callNative(() => nativeRerankSync(q, dim, c.tokens, c.offsets, o.clampNegative, o.threads))
}
