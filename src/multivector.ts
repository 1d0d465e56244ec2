/**
 * Multi-vector (late-interaction, ColBERT-style) retrieval: MUVERA fixed-dimensional
 * encodings find candidates with one inner product per document, then exact Chamfer (MaxSim)
 * re-ranks them.
 *
 * Point clouds cross the boundary in CSR layout: `tokens` is one `Float32Array` of
 * `totalTokens × dim`, `offsets` has one entry per document plus one (`offsets[0] = 0`, last =
 * `totalTokens`); document i owns tokens `offsets[i] … offsets[i + 1] − 1`.
 * @module
 */
import { z } from 'zod'
import { NativeFdeEncoder, NativeMultiVectorIndex, chamfer as nativeChamfer, chamferRerank, chamferRerankSync } from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType } from './errors'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkInt, checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** Options of {@link FdeEncoder} (defaults: the MUVERA paper's Pareto point, 20 × 2^5 × 16 = 10,240 dims). */
export interface FdeEncoderOptions {
  /** Token dimension, 1 … 65,536. */
  dim: number
  /** Independent repetitions R (default 20), 1 … 4,096. */
  repetitions?: number
  /** SimHash bits k per repetition (default 5 → 32 partitions), 0 … 30. */
  simhashBits?: number
  /** Inner projection of each partition's sum (default `'countsketch'`; `'identity'` keeps all `dim`). */
  projection?: 'countsketch' | 'identity' | 'dense'
  /** Projected dimension per partition (default 16; ignored with `'identity'`). */
  projectionDim?: number
  /** Final Count-Sketch to this many dimensions (default: none). */
  finalDim?: number
  /** Fill a document's empty partitions from its nearest token (default true, as in the paper). */
  fillEmpty?: boolean
  /** Seed of every random matrix (default 42). */
  seed?: number
}

/** A CSR batch of point clouds. */
export interface PointClouds {
  /** `totalTokens × dim` floats. */
  tokens: Float32Array
  /** `n + 1` token offsets. */
  offsets: Uint32Array | readonly number[]
}

const encoderSchema = z.strictObject({
  dim: positiveInt(65_536),
  repetitions: positiveInt(4096).default(20),
  simhashBits: z.number().int().min(0).max(30).default(5),
  projection: z.enum(['countsketch', 'identity', 'dense']).default('countsketch'),
  projectionDim: positiveInt(65_536).default(16),
  finalDim: positiveInt().optional(),
  fillEmpty: z.boolean().default(true),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(42),
})

function checkTokens(tokens: unknown, dim: number, name: string): Float32Array {
  if (!(tokens instanceof Float32Array)) throw invalidType(`${name} must be a Float32Array of tokens × ${dim}`)
  if (tokens.length === 0 || tokens.length % dim !== 0) throw invalidRange(`${name} holds ${tokens.length} floats, not a positive multiple of dim ${dim}`)
  return tokens
}

function toOffsets(offsets: unknown): Uint32Array {
  if (offsets instanceof Uint32Array) return offsets
  if (Array.isArray(offsets) && offsets.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) return Uint32Array.from(offsets)
  throw invalidType('offsets must be a Uint32Array or an array of non-negative integers')
}

/**
 * MUVERA fixed-dimensional encodings: a point cloud becomes one vector whose inner product
 * approximates Chamfer similarity (queries sum per partition, documents average).
 */
export class FdeEncoder {
  readonly #native: NativeFdeEncoder
  readonly options: Readonly<Required<Omit<FdeEncoderOptions, 'finalDim'>> & { finalDim?: number }>

  constructor(options: FdeEncoderOptions) {
    this.options = parseOptions(encoderSchema, options, 'FdeEncoder options')
    this.#native = adoptedEncoder ?? callNative(() => new NativeFdeEncoder(this.options))
  }

  /** Length of every encoding. */
  get outputDim(): number {
    return this.#native.outputDim
  }

  /** Query encoding of one point cloud (`tokens × dim` floats). */
  encodeQuery(tokens: Float32Array): Float32Array {
    return callNative(() => this.#native.encodeQuery(checkTokens(tokens, this.options.dim, 'tokens')))
  }

  /** Document encoding of one point cloud. */
  encodeDocument(tokens: Float32Array): Float32Array {
    return callNative(() => this.#native.encodeDocument(checkTokens(tokens, this.options.dim, 'tokens')))
  }

  /** Encodes a CSR batch in parallel: `n × outputDim` floats. */
  async encodeBatch(clouds: PointClouds, options: AsyncOptions & { kind: 'query' | 'document'; threads?: number }): Promise<Float32Array> {
    const tokens = checkTokens(clouds.tokens, this.options.dim, 'tokens')
    const offsets = toOffsets(clouds.offsets)
    const signal = checkSignal(options.signal)
    return callNativeAsync(() => this.#native.encodeBatch(tokens, offsets, options.kind === 'document', options.threads, signal))
  }

  /** Serialises the encoder (its random matrices), so encodings stay comparable elsewhere. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an encoder from {@link FdeEncoder.toBuffer}. */
  static fromBuffer(buffer: Uint8Array): FdeEncoder {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return FdeEncoder.wrapNative(callNative(() => NativeFdeEncoder.fromBuffer(buffer)))
  }

  /** @internal Wraps a native encoder (from `fromBuffer` or an index). */
  static wrapNative(native: NativeFdeEncoder): FdeEncoder {
    adoptedEncoder = native
    try {
      return new FdeEncoder(native.options() as FdeEncoderOptions)
    } finally {
      adoptedEncoder = undefined
    }
  }
}

let adoptedEncoder: NativeFdeEncoder | undefined

/**
 * Chamfer similarity (MaxSim): Σ over query tokens of the largest dot product with any
 * document token. SIMD, exact in f32.
 */
export function chamfer(query: Float32Array, doc: Float32Array, dim: number, options: { clampNegative?: boolean } = {}): number {
  checkInt(dim, 'dim', 1, 65_536)
  return callNative(() => nativeChamfer(checkTokens(query, dim, 'query'), checkTokens(doc, dim, 'doc'), dim, options.clampNegative ?? false))
}

/** Chamfer scores of a CSR batch of documents against one query, in input order (parallel). */
export async function chamferScores(
  query: Float32Array,
  docs: PointClouds,
  dim: number,
  options: AsyncOptions & { clampNegative?: boolean; threads?: number } = {},
): Promise<Float32Array> {
  checkInt(dim, 'dim', 1, 65_536)
  const q = checkTokens(query, dim, 'query')
  const tokens = checkTokens(docs.tokens, dim, 'tokens')
  const offsets = toOffsets(docs.offsets)
  const signal = checkSignal(options.signal)
  return callNativeAsync(() => chamferRerank(q, dim, tokens, offsets, options.clampNegative ?? false, options.threads, signal))
}

/** Synchronous twin of {@link chamferScores}. */
export function chamferScoresSync(query: Float32Array, docs: PointClouds, dim: number, options: { clampNegative?: boolean; threads?: number } = {}): Float32Array {
  const q = checkTokens(query, dim, 'query')
  const tokens = checkTokens(docs.tokens, dim, 'tokens')
  return callNative(() => chamferRerankSync(q, dim, tokens, toOffsets(docs.offsets), options.clampNegative ?? false, options.threads))
}

/** Options of {@link MultiVectorIndex}. */
export interface MultiVectorIndexOptions {
  /** The FDE encoder's options (its `dim` is the token dimension). */
  fde: FdeEncoderOptions
  /** How document tokens are stored for re-ranking (default `'f16'`: half the memory, scores within 1e-3). */
  storage?: 'f32' | 'f16' | 'int8'
  /** How document FDEs are stored (default `'f16'`). */
  fdeStorage?: 'f32' | 'f16'
}

/** Options of {@link MultiVectorIndex.search}. */
export interface MultiVectorSearchOptions {
  /** Results, ≥ 1. */
  k: number
  /** FDE candidates re-ranked by exact Chamfer (default 10·k). */
  candidates?: number
  /**
   * Merge query tokens whose cosine with an earlier token is ≥ this before re-ranking (the
   * paper uses 0.7): faster, scores become a lower bound. Default: no merging.
   */
  mergeThreshold?: number
  /** Clamp each token's best dot product at 0 (PyLate / ColBERT-CPU semantics; default false). */
  clampNegative?: boolean
  /** `'muvera'` (default), `'bruteforce'` (exact Chamfer over all documents) or `'singlevector'` (per-token nearest-neighbour candidates). */
  mode?: 'muvera' | 'bruteforce' | 'singlevector'
}

const indexSchema = z.strictObject({
  fde: z.unknown(),
  storage: z.enum(['f32', 'f16', 'int8']).default('f16'),
  fdeStorage: z.enum(['f32', 'f16']).default('f16'),
})

const searchSchema = z.strictObject({
  k: positiveInt(),
  candidates: positiveInt().optional(),
  mergeThreshold: z.number().finite().optional(),
  clampNegative: z.boolean().default(false),
  mode: z.enum(['muvera', 'bruteforce', 'singlevector']).default('muvera'),
})

const batchSchema = searchSchema.omit({ mode: true }).extend({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/**
 * Documents as token sets: MUVERA candidates, exact Chamfer re-ranking.
 *
 * @example
 * ```ts
 * const index = new MultiVectorIndex({ fde: { dim: 128 } })
 * await index.add(ids, { tokens, offsets })        // ColBERT token embeddings
 * const hits = index.search(queryTokens, { k: 10, candidates: 200 })
 * ```
 */
export class MultiVectorIndex {
  #native: NativeMultiVectorIndex
  readonly #buffers = new ResultBuffers()
  readonly dim: number

  constructor(options: MultiVectorIndexOptions) {
    const o = parseOptions(indexSchema, options, 'MultiVectorIndex options')
    const fde = parseOptions(encoderSchema, o.fde ?? {}, 'fde options')
    this.#native = adoptedIndex ?? callNative(() => new NativeMultiVectorIndex({ fde, storage: o.storage, fdeStorage: o.fdeStorage }))
    this.dim = fde.dim
  }

  /** Documents in the index. */
  get size(): number {
    return this.#native.size
  }

  /** Tokens stored over all documents. */
  get tokenCount(): number {
    return this.#native.tokenCount
  }

  /** The encoder that produced the document FDEs (to encode elsewhere compatibly). */
  encoder(): FdeEncoder {
    return FdeEncoder.wrapNative(this.#native.encoder())
  }

  /** Adds documents (all-or-nothing) on the libuv pool; every document needs ≥ 1 token. */
  async add(ids: readonly Id[] | undefined, docs: PointClouds, options: AsyncOptions & { threads?: number } = {}): Promise<void> {
    const { tokens, offsets, nativeIds } = this.#prepare(ids, docs)
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.add(nativeIds, tokens, offsets, options.threads, signal))
  }

  /** Synchronous twin of {@link MultiVectorIndex.add}. */
  addSync(ids: readonly Id[] | undefined, docs: PointClouds, options: { threads?: number } = {}): this {
    const { tokens, offsets, nativeIds } = this.#prepare(ids, docs)
    callNative(() => this.#native.addSync(nativeIds, tokens, offsets, options.threads))
    return this
  }

  /** The `k` best documents for one query's tokens, on the calling thread. */
  search(queryTokens: Float32Array, options: MultiVectorSearchOptions): Hit[] {
    const o = parseOptions(searchSchema, options, 'search options')
    const q = checkTokens(queryTokens, this.dim, 'queryTokens')
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    const { mode, ...init } = o
    return out.hits(callNative(() => this.#native.search(q, init, mode, out.ids, out.scores)))
  }

  /** Many queries (CSR) in parallel on the libuv pool, MUVERA mode. */
  async searchBatch(queries: PointClouds, options: Omit<MultiVectorSearchOptions, 'mode'> & AsyncOptions & { threads?: number }): Promise<Hit[][]> {
    const { threads, signal: s, ...init } = parseOptions(batchSchema, options, 'searchBatch options')
    const tokens = checkTokens(queries.tokens, this.dim, 'tokens')
    const offsets = toOffsets(queries.offsets)
    const signal = checkSignal(s)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(tokens, offsets, init, threads, signal)))
  }

  /** Bytes in memory by component (`tokens`, `fde`, `offsets`, `ids`, `encoder`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an index from {@link MultiVectorIndex.toBuffer}, validating every byte. */
  static fromBuffer(buffer: Uint8Array): MultiVectorIndex {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return MultiVectorIndex.#wrap(callNative(() => NativeMultiVectorIndex.fromBuffer(buffer)))
  }

  /** Writes atomically to `path`. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link MultiVectorIndex.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /** Loads a saved index; bad files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<MultiVectorIndex> {
    const signal = checkSignal(options.signal)
    return MultiVectorIndex.#wrap(await callNativeAsync(() => NativeMultiVectorIndex.load(checkPath(path), false, signal)))
  }

  /** Synchronous twin of {@link MultiVectorIndex.load}. */
  static loadSync(path: string): MultiVectorIndex {
    return MultiVectorIndex.#wrap(callNative(() => NativeMultiVectorIndex.loadSync(checkPath(path), false)))
  }

  #prepare(ids: readonly Id[] | undefined, docs: PointClouds) {
    if (docs === null || typeof docs !== 'object') throw invalidType('docs must be { tokens, offsets }')
    const tokens = checkTokens(docs.tokens, this.dim, 'tokens')
    const offsets = toOffsets(docs.offsets)
    const nativeIds = toIds(ids, Math.max(offsets.length - 1, 0), this.size)
    return { tokens, offsets, nativeIds }
  }

  static #wrap(native: NativeMultiVectorIndex): MultiVectorIndex {
    adoptedIndex = native
    try {
      const o = native.options()
      return new MultiVectorIndex({ fde: o.fde as FdeEncoderOptions, storage: o.storage as 'f32', fdeStorage: o.fdeStorage as 'f32' })
    } finally {
      adoptedIndex = undefined
    }
  }
}

let adoptedIndex: NativeMultiVectorIndex | undefined
