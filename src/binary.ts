/**
 * Binary codes: one bit per dimension, Hamming-distance candidates, float rescoring
 * (BPR / binary embedding retrieval). 32× smaller than float32 with `rescore: 'none'` or
 * `'asymmetric'`.
 * @module
 */
import { z } from 'zod'
import { NativeBinaryIndex } from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import { Adoption, fromBufferOf, loadOf, loadSyncOf, saveOf, saveSyncOf, toBufferOf } from './persist'
import type { AsyncOptions, Hit, Id, MemoryUsage, VectorInput, VectorsInput } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { type LongTaskOptions, runLongTask } from './progress'
import { checkSignal, parseOptions, positiveInt, toBatch, toIds, toVector } from './validate'

/** Options of {@link BinaryIndex}. */
export interface BinaryIndexOptions {
  /** Vector dimension (bits per code), 1 … 1,048,576. */
  dim: number
  /**
   * Where a dimension becomes a bit. `'zero'` (default): bit = x > 0, identical to
   * sentence-transformers' `ubinary`. `'mean'`: bit = x > the dimension's mean, learned by
   * {@link BinaryIndex.fit} or from the first `add` batch and saved with the index.
   */
  threshold?: 'zero' | 'mean'
  /**
   * How the Hamming candidates are re-ranked (default `'asymmetric'`):
   * - `'none'`: Hamming order; score = dim − 2·hamming. dim/8 bytes per vector.
   * - `'asymmetric'`: float query · (±1 code). No extra memory.
   * - `'int8'`: float query · int8 vector (per-dimension scale from the first batch or `fit`;
   *   later values beyond that range saturate). dim extra bytes per vector.
   * - `'float32'`: float query · stored float vector, exact. 4·dim extra bytes per vector.
   */
  rescore?: 'none' | 'asymmetric' | 'int8' | 'float32'
  /** `'ip'` (default): inner product. `'cosine'`: vectors and queries are L2-normalised on the way in. */
  metric?: 'ip' | 'cosine'
}

/** Options of {@link BinaryIndex.search}. */
export interface BinarySearchOptions {
  /** Number of results, 1 … 2^32 − 1. Fewer are returned when the index is smaller. */
  k: number
  /**
   * Hamming candidates that are rescored (default 10·k, at least k). Larger is slower and
   * closer to exact. Ignored with `rescore: 'none'`.
   */
  candidates?: number
}

/** Options of {@link BinaryIndex.searchBatch}. */
export interface BinaryBatchOptions extends BinarySearchOptions, AsyncOptions {
  /** Worker threads for the batch (default: one per core). */
  threads?: number
}

const optionsSchema = z.strictObject({
  dim: positiveInt(1 << 20),
  threshold: z.enum(['zero', 'mean']).default('zero'),
  rescore: z.enum(['none', 'asymmetric', 'int8', 'float32']).default('asymmetric'),
  metric: z.enum(['ip', 'cosine']).default('ip'),
})

const searchSchema = z.strictObject({
  k: positiveInt(),
  candidates: positiveInt().optional(),
})

const codeSearchSchema = z.strictObject({ k: positiveInt() })

const batchSchema = searchSchema.extend({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/**
 * An index of binary codes with rescoring.
 *
 * @example
 * ```ts
 * const index = new BinaryIndex({ dim: 384, rescore: 'float32', metric: 'cosine' })
 * await index.add(ids, embeddings)           // Float32Array of n × 384
 * const hits = index.search(query, { k: 10 }) // [{ id, score }, …]
 * ```
 */
export class BinaryIndex {
  #native: NativeBinaryIndex
  readonly #buffers = new ResultBuffers()
  readonly #options: Required<BinaryIndexOptions>

  constructor(options: BinaryIndexOptions) {
    this.#options = parseOptions(optionsSchema, options, 'BinaryIndex options')
    this.#native = adoption.take() ?? callNative(() => new NativeBinaryIndex(this.#options))
  }

  /** Vector dimension. */
  get dim(): number {
    return this.#options.dim
  }

  /** Number of vectors in the index. */
  get size(): number {
    return this.#native.size
  }

  /** The options the index was built with (defaults filled in). */
  get options(): Readonly<Required<BinaryIndexOptions>> {
    return this.#options
  }

  /**
   * Learns the per-dimension means (`threshold: 'mean'`) and int8 scales (`rescore: 'int8'`)
   * from a sample. Must be called before the first `add`; without it the first batch is used.
   */
  fit(sample: VectorsInput): this {
    const { data } = toBatch(sample, this.dim, 'sample')
    callNative(() => this.#native.fit(data))
    return this
  }

  /**
   * Adds vectors on the libuv pool. `ids` (numbers or strings, unique; `undefined` for
   * 0, 1, 2, … continuing from `size`) must match the number of vectors. All-or-nothing:
   * a rejected or aborted batch leaves the index unchanged. The vectors are copied before the
   * call returns. `onProgress(done, total)` counts encoded vectors; `signal` also stops an add
   * that is already running.
   */
  async add(ids: readonly Id[] | undefined, vectors: VectorsInput, options: LongTaskOptions = {}): Promise<void> {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    await runLongTask(options, ({ signal, onProgress, token }) =>
      callNativeAsync(() => this.#native.add(nativeIds, data, signal, onProgress, token)),
    )
  }

  /** Synchronous twin of {@link BinaryIndex.add}. */
  addSync(ids: readonly Id[] | undefined, vectors: VectorsInput): this {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    callNative(() => this.#native.addSync(nativeIds, data))
    return this
  }

  /**
   * Adds already-packed codes: `n × ceil(dim/8)` bytes, most significant bit first (NumPy
   * `packbits`, sentence-transformers `ubinary`), padding bits zero. Only with `rescore: 'none'`
   * or `'asymmetric'`, which need nothing but the codes.
   */
  addCodesSync(ids: readonly Id[] | undefined, codes: Uint8Array): this {
    if (!(codes instanceof Uint8Array)) throw invalidType('codes must be a Uint8Array')
    const bytes = Math.ceil(this.dim / 8)
    const nativeIds = toIds(ids, Math.floor(codes.length / bytes), this.size)
    callNative(() => this.#native.addCodesSync(nativeIds, codes))
    return this
  }

  /** Hamming top-k for a packed query code (score = dim − 2·hamming), on the calling thread. */
  searchCode(code: Uint8Array, options: { k: number }): Hit[] {
    if (!(code instanceof Uint8Array)) throw invalidType('code must be a Uint8Array')
    const o = parseOptions(codeSearchSchema, options, 'searchCode options')
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.searchCode(code, o.k, out.ids, out.scores)))
  }

  /** The `k` best vectors for one query, on the calling thread. */
  search(query: VectorInput, options: BinarySearchOptions): Hit[] {
    const o = parseOptions(searchSchema, options, 'search options')
    const q = toVector(query, this.dim)
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(q, o.k, o.candidates, out.ids, out.scores)))
  }

  /** Searches many queries in parallel on the libuv pool; one result list per query. */
  async searchBatch(queries: VectorsInput, options: BinaryBatchOptions): Promise<Hit[][]> {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    const signal = checkSignal(o.signal)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(data, o.k, o.candidates, o.threads, signal)))
  }

  /** Synchronous twin of {@link BinaryIndex.searchBatch} (still parallel across queries). */
  searchBatchSync(queries: VectorsInput, options: Omit<BinaryBatchOptions, 'signal'>): Hit[][] {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    return toHitBatches(callNative(() => this.#native.searchBatchSync(data, o.k, o.candidates, o.threads)))
  }

  /** Bytes held in memory, by component (`codes`, `ids`, `int8`, `float32`, `means`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** A copy of the packed codes, `size × ceil(dim/8)` bytes (NumPy `packbits` bit order). */
  codes(): Uint8Array {
    return this.#native.codes()
  }

  /** Serialises the index (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }

  /** Restores an index from {@link BinaryIndex.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): BinaryIndex {
    return BinaryIndex.#wrap(fromBufferOf(NativeBinaryIndex, buffer))
  }

  /** Writes the index to `path` atomically (temp file, fsync, rename) on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    await saveOf(this.#native, path, options)
  }

  /** Synchronous twin of {@link BinaryIndex.save}. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }

  /**
   * Loads an index saved with {@link BinaryIndex.save}. Truncated, corrupted, wrong-kind or
   * newer-version files throw `ERR_SLIMDEX_CORRUPT_FILE`.
   */
  static async load(path: string, options: AsyncOptions = {}): Promise<BinaryIndex> {
    return BinaryIndex.#wrap(await loadOf(NativeBinaryIndex, path, options))
  }

  /** Synchronous twin of {@link BinaryIndex.load}. */
  static loadSync(path: string): BinaryIndex {
    return BinaryIndex.#wrap(loadSyncOf(NativeBinaryIndex, path))
  }

  static #wrap(native: NativeBinaryIndex): BinaryIndex {
    return adoption.adopt(native, () => new BinaryIndex(native.options() as BinaryIndexOptions))
  }
}

/** A native index being wrapped by `load`/`fromBuffer` (read once by the constructor). */
const adoption = new Adoption<NativeBinaryIndex>()
