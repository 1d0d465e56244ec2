/**
 * Exact search over compact scalar storage: float32, float16, float8 (E4M3) or per-dimension
 * int8, with optional Matryoshka truncation.
 * @module
 */
import { z } from 'zod'
import { NativeFlatIndex } from '../binding'
import { callNative, callNativeAsync } from './errors'
import { Adoption, fromBufferOf, loadOf, loadSyncOf, saveOf, saveSyncOf, toBufferOf } from './persist'
import type { DenseMetric } from './pq'
import type { AsyncOptions, Hit, Id, MemoryUsage, VectorInput, VectorsInput } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkInt, checkSignal, parseOptions, positiveInt, toBatch, toIds, toVector } from './validate'

/** Options of {@link FlatIndex}. */
export interface FlatIndexOptions {
  /** Input vector dimension, 1 … 1,048,576. */
  dim: number
  /**
   * How vectors are stored (default `'float32'`):
   * - `'float32'`: 4 bytes per dimension, exact.
   * - `'float16'`: IEEE half, 2 bytes (relative error ≤ 2⁻¹¹).
   * - `'float8'`: E4M3, 1 byte (relative error ≤ 2⁻⁴, saturating at ±448).
   * - `'int8'`: 1 byte, 256 levels between per-dimension min and max learned by `fit` or from
   *   the first `add` batch (values outside that range are clamped).
   */
  storage?: 'float32' | 'float16' | 'float8' | 'int8'
  /** `'cosine'` (default; vectors and queries are L2-normalised), `'ip'` or `'l2'`. */
  metric?: DenseMetric
  /**
   * Matryoshka truncation: keep the first `truncateTo` dimensions (1 … dim) of every vector and
   * query; with `'cosine'` they are renormalised after the cut. Default: keep all.
   */
  truncateTo?: number
}

/** Options of {@link FlatIndex.searchBatch}. */
export interface FlatBatchOptions extends AsyncOptions {
  k: number
  /** Worker threads for the batch (default: one per core). */
  threads?: number
}

const optionsSchema = z.strictObject({
  dim: positiveInt(1 << 20),
  storage: z.enum(['float32', 'float16', 'float8', 'int8']).default('float32'),
  metric: z.enum(['l2', 'ip', 'cosine']).default('cosine'),
  truncateTo: positiveInt(1 << 20).optional(),
})
const searchSchema = z.strictObject({ k: positiveInt() })
const batchSchema = searchSchema.extend({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

type ResolvedFlatOptions = Required<Omit<FlatIndexOptions, 'truncateTo'>> & { truncateTo?: number }

/**
 * Exhaustive (exact) search over vectors kept as float32, float16, float8 or int8. The query
 * stays float32; stored vectors are decoded inside the SIMD dot product. Scores: inner product
 * (cosine / ip) or negated squared distance (l2).
 *
 * @example
 * ```ts
 * const index = new FlatIndex({ dim: 768, storage: 'float8', truncateTo: 384 })
 * index.addSync(ids, embeddings)
 * index.search(query, { k: 10 })
 * ```
 */
export class FlatIndex {
  #native: NativeFlatIndex
  readonly #buffers = new ResultBuffers()
  readonly #options: ResolvedFlatOptions

  constructor(options: FlatIndexOptions) {
    const o = parseOptions(optionsSchema, options, 'FlatIndex options')
    this.#native = adoption.take() ?? callNative(() => new NativeFlatIndex(o))
    this.#options = o
  }

  get dim(): number {
    return this.#options.dim
  }
  get size(): number {
    return this.#native.size
  }
  get options(): Readonly<ResolvedFlatOptions> {
    return this.#options
  }

  /** Learns the int8 ranges from a sample (storage `'int8'` only, before the first add). */
  fit(sample: VectorsInput): this {
    const { data } = toBatch(sample, this.dim, 'sample')
    callNative(() => this.#native.fit(data))
    return this
  }

  /** Adds vectors on the libuv pool. All-or-nothing. */
  async add(ids: readonly Id[] | undefined, vectors: VectorsInput, options: AsyncOptions = {}): Promise<void> {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.add(nativeIds, data, signal))
  }

  /** Synchronous twin of {@link FlatIndex.add}. */
  addSync(ids: readonly Id[] | undefined, vectors: VectorsInput): this {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    callNative(() => this.#native.addSync(nativeIds, data))
    return this
  }

  /** The stored form of the vector at insertion position `index`, decoded (truncated dimension). */
  reconstruct(index: number): Float32Array | undefined {
    const i = checkInt(index, 'index', 0, 2 ** 32 - 1)
    return this.#native.reconstruct(i) ?? undefined
  }

  /** The `k` best vectors for one query, on the calling thread. */
  search(query: VectorInput, options: { k: number }): Hit[] {
    const o = parseOptions(searchSchema, options, 'search options')
    const q = toVector(query, this.dim)
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(q, o.k, out.ids, out.scores)))
  }

  async searchBatch(queries: VectorsInput, options: FlatBatchOptions): Promise<Hit[][]> {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    const signal = checkSignal(o.signal)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(data, o.k, o.threads, signal)))
  }

  searchBatchSync(queries: VectorsInput, options: Omit<FlatBatchOptions, 'signal'>): Hit[][] {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    return toHitBatches(callNative(() => this.#native.searchBatchSync(data, o.k, o.threads)))
  }

  /** Bytes held, by component (`vectors`, `norms`, `ids`, `calibration`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  shrinkToFit(): this {
    this.#native.shrinkToFit()
    return this
  }

  /** Serialises the index (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }
  /** Restores an index from {@link FlatIndex.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): FlatIndex {
    return FlatIndex.#wrap(fromBufferOf(NativeFlatIndex, buffer))
  }
  /** Writes the index to `path` atomically (temp file, fsync, rename) on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    await saveOf(this.#native, path, options)
  }
  /** Synchronous twin of {@link FlatIndex.save}. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }
  /** Loads a saved index; corrupt or wrong-kind files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<FlatIndex> {
    return FlatIndex.#wrap(await loadOf(NativeFlatIndex, path, options))
  }
  /** Synchronous twin of {@link FlatIndex.load}. */
  static loadSync(path: string): FlatIndex {
    return FlatIndex.#wrap(loadSyncOf(NativeFlatIndex, path))
  }

  static #wrap(native: NativeFlatIndex): FlatIndex {
    const o = native.options()
    return adoption.adopt(native, () => new FlatIndex({ dim: o.dim, storage: o.storage as 'float32', metric: o.metric as DenseMetric, ...(o.truncateTo ? { truncateTo: o.truncateTo } : {}) }))
  }
}

/** A native index being wrapped by `load`/`fromBuffer` (read once by the constructor). */
const adoption = new Adoption<NativeFlatIndex>()
