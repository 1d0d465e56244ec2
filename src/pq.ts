/**
 * Product quantization: {@link ProductQuantizer} (codebooks, encode/decode, ADC tables) and
 * {@link PQIndex} (8-bit ADC scan or 4-bit fast scan, optional IVF, optional float32 rescoring).
 * @module
 */
import { z } from 'zod'
import { NativePqIndex, NativeProductQuantizer } from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import { fromBufferOf, loadOf, loadSyncOf, saveOf, saveSyncOf, toBufferOf } from './persist'
import type { AsyncOptions, Hit, Id, MemoryUsage, VectorInput, VectorsInput } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkSignal, parseOptions, positiveInt, toBatch, toIds, toVector } from './validate'

/** Distance used by PQ: `'l2'` (squared Euclidean), `'ip'` (inner product), `'cosine'` (normalised ip). */
export type DenseMetric = 'l2' | 'ip' | 'cosine'

/** Options of {@link ProductQuantizer.train}. */
export interface ProductQuantizerOptions {
  /** Vector dimension, 1 … 65,536. */
  dim: number
  /** Sub-quantizers; must divide `dim`. Code size is `m` bytes (8-bit) or `ceil(m/2)` bytes (4-bit). */
  m: number
  /** Bits per sub-quantizer code: 8 (default, 256 centroids) or 4 (16 centroids, fast scan). */
  nbits?: 4 | 8
  /** k-means iterations per codebook (default 25). */
  iters?: number
  /** Seed of every random choice (default 0): same seed, same codebooks on every machine. */
  seed?: number
}

const seedSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0)

const pqSchema = z.strictObject({
  dim: positiveInt(1 << 16),
  m: positiveInt(1 << 16),
  nbits: z.union([z.literal(4), z.literal(8)]).default(8),
  iters: positiveInt(1000).default(25),
  seed: seedSchema,
})

/**
 * A trained product quantizer. Training needs at least 2^nbits vectors and uses at most 256
 * per centroid (a seeded sample), as FAISS does.
 */
export class ProductQuantizer {
  #native: NativeProductQuantizer

  private constructor(native: NativeProductQuantizer) {
    this.#native = native
  }

  /** Trains the codebooks on the libuv pool. `vectors` is `n × dim` (flat or one array per vector). */
  static async train(vectors: VectorsInput, options: ProductQuantizerOptions & AsyncOptions): Promise<ProductQuantizer> {
    const { signal, ...rest } = options ?? ({} as ProductQuantizerOptions)
    const o = parseOptions(pqSchema, rest, 'ProductQuantizer options')
    const { data } = toBatch(vectors, o.dim)
    const s = checkSignal(signal)
    return new ProductQuantizer(await callNativeAsync(() => NativeProductQuantizer.train(data, o, s)))
  }

  /** Synchronous twin of {@link ProductQuantizer.train}. */
  static trainSync(vectors: VectorsInput, options: ProductQuantizerOptions): ProductQuantizer {
    const o = parseOptions(pqSchema, options, 'ProductQuantizer options')
    const { data } = toBatch(vectors, o.dim)
    return new ProductQuantizer(callNative(() => NativeProductQuantizer.trainSync(data, o)))
  }

  get dim(): number {
    return this.#native.dim
  }
  get m(): number {
    return this.#native.m
  }
  get nbits(): 4 | 8 {
    return this.#native.nbits as 4 | 8
  }
  /** Bytes per code: `m` (8-bit) or `ceil(m/2)` (4-bit, sub-quantizer 2i in the low nibble). */
  get codeSize(): number {
    return this.#native.codeSize
  }

  /** Packed codes of `n` vectors, `n × codeSize` bytes. */
  encode(vectors: VectorsInput): Uint8Array {
    const { data } = toBatch(vectors, this.dim)
    return callNative(() => this.#native.encode(data))
  }

  /** Reconstructions (`n × dim`) of packed codes. */
  decode(codes: Uint8Array): Float32Array {
    if (!(codes instanceof Uint8Array)) throw invalidType('codes must be a Uint8Array')
    return callNative(() => this.#native.decode(codes))
  }

  /**
   * The asymmetric-distance table of a query: `m × 2^nbits` values, row s holding the term of
   * every centroid of sub-quantizer s — squared distances for `'l2'`, dot products for `'ip'`
   * and `'cosine'` (the query is normalised first). The sum of a code's entries is the distance
   * (or inner product) to its reconstruction.
   */
  adcTable(query: VectorInput, metric: DenseMetric = 'l2'): Float32Array {
    const m = parseOptions(z.enum(['l2', 'ip', 'cosine']), metric, 'metric')
    const q = toVector(query, this.dim)
    return callNative(() => this.#native.adcTable(q, m))
  }

  /** A copy of the codebooks: `m × 2^nbits × (dim/m)` floats. */
  codebooks(): Float32Array {
    return this.#native.codebooks()
  }

  /** Serialises the codebooks (the same bytes `saveSync` writes). */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }
  /** Restores a quantizer from {@link ProductQuantizer.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): ProductQuantizer {
    return new ProductQuantizer(fromBufferOf(NativeProductQuantizer, buffer))
  }
  /** Writes the quantizer to `path` atomically. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }
  /** Loads a quantizer saved with {@link ProductQuantizer.saveSync}. */
  static loadSync(path: string): ProductQuantizer {
    return new ProductQuantizer(loadSyncOf(NativeProductQuantizer, path))
  }
}

/** Options of {@link PQIndex.train}. */
export interface PQIndexOptions extends ProductQuantizerOptions {
  /** `'l2'` (default), `'ip'` or `'cosine'` (vectors and queries are L2-normalised). */
  metric?: DenseMetric
  /**
   * Inverted file: `lists` coarse k-means centroids (needs ≥ lists training vectors); each
   * vector is stored in its nearest list with its residual PQ-encoded, and a query scans the
   * `nprobe` closest lists (default 8, at most `lists`). `iters`: k-means iterations of the
   * lists (default 10, as FAISS's IndexIVF). Omit `ivf` for one exhaustive scan.
   */
  ivf?: { lists: number; nprobe?: number; iters?: number }
  /**
   * `'none'` (default): rank by ADC distance. `'float32'`: keep the float vectors
   * (4·dim extra bytes per vector) and re-rank the best `candidates` exactly.
   */
  rescore?: 'none' | 'float32'
}

/** Options of {@link PQIndex.search}. */
export interface PQSearchOptions {
  /** Number of results, 1 … 2^32 − 1. */
  k: number
  /** IVF lists to scan (default: the index's `ivf.nprobe`). Ignored without IVF. */
  nprobe?: number
  /**
   * How many hits of the coarser stage the next stage re-ranks. 4-bit without rescoring:
   * fast-scan candidates re-ranked with the float ADC table (default: exactly as many as
   * needed for the result to equal the plain 4-bit ADC top-k). With `rescore: 'float32'`:
   * ADC hits re-scored exactly (default 10·k).
   */
  candidates?: number
}

/** Options of {@link PQIndex.searchBatch}. */
export interface PQBatchOptions extends PQSearchOptions, AsyncOptions {
  /** Worker threads for the batch (default: one per core). */
  threads?: number
}

const indexSchema = pqSchema.extend({
  metric: z.enum(['l2', 'ip', 'cosine']).default('l2'),
  ivf: z
    .strictObject({ lists: positiveInt(1 << 24), nprobe: positiveInt().optional(), iters: positiveInt(1000).optional() })
    .optional(),
  rescore: z.enum(['none', 'float32']).default('none'),
})

const searchSchema = z.strictObject({
  k: positiveInt(),
  nprobe: positiveInt().optional(),
  candidates: positiveInt().optional(),
})
const batchSchema = searchSchema.extend({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

type ResolvedPQIndexOptions = Required<Omit<PQIndexOptions, 'ivf'>> & { ivf?: { lists: number; nprobe: number; iters: number } }

function toNative(o: z.output<typeof indexSchema>) {
  const lists = o.ivf?.lists ?? 0
  const nprobe = Math.min(o.ivf?.nprobe ?? 8, Math.max(lists, 1))
  const ivfIters = o.ivf?.iters ?? 10
  return { dim: o.dim, m: o.m, nbits: o.nbits, metric: o.metric, lists, nprobe, rescore: o.rescore, iters: o.iters, ivfIters, seed: o.seed }
}

/**
 * A product-quantized vector index: `m` bytes (8-bit) or `m/2` bytes (4-bit) per vector plus
 * the id. Scores: inner product for `'ip'`/`'cosine'`, negated squared distance for `'l2'`, so
 * larger is always better.
 *
 * @example
 * ```ts
 * const index = await PQIndex.train(sample, { dim: 384, m: 48, nbits: 8, ivf: { lists: 1024, nprobe: 16 } })
 * await index.add(ids, vectors)
 * const hits = index.search(query, { k: 10 })
 * ```
 */
export class PQIndex {
  #native: NativePqIndex
  readonly #buffers = new ResultBuffers()
  readonly #options: ResolvedPQIndexOptions

  private constructor(native: NativePqIndex) {
    this.#native = native
    const o = native.options()
    this.#options = {
      dim: o.dim,
      m: o.m,
      nbits: o.nbits as 4 | 8,
      iters: o.iters,
      seed: o.seed,
      metric: o.metric as DenseMetric,
      rescore: o.rescore as 'none' | 'float32',
      ...(o.lists > 0 ? { ivf: { lists: o.lists, nprobe: o.nprobe, iters: o.ivfIters } } : {}),
    }
  }

  /**
   * Trains the coarse quantizer (with `ivf`) and the PQ codebooks on the libuv pool; the
   * returned index is empty (add the vectors with {@link PQIndex.add}).
   */
  static async train(vectors: VectorsInput, options: PQIndexOptions & AsyncOptions): Promise<PQIndex> {
    const { signal, ...rest } = options ?? ({} as PQIndexOptions)
    const o = parseOptions(indexSchema, rest, 'PQIndex options')
    const { data } = toBatch(vectors, o.dim)
    const s = checkSignal(signal)
    return new PQIndex(await callNativeAsync(() => NativePqIndex.train(data, toNative(o), s)))
  }

  /** Synchronous twin of {@link PQIndex.train}. */
  static trainSync(vectors: VectorsInput, options: PQIndexOptions): PQIndex {
    const o = parseOptions(indexSchema, options, 'PQIndex options')
    const { data } = toBatch(vectors, o.dim)
    return new PQIndex(callNative(() => NativePqIndex.trainSync(data, toNative(o))))
  }

  get dim(): number {
    return this.#options.dim
  }
  /** Number of vectors in the index. */
  get size(): number {
    return this.#native.size
  }
  /** The options the index was trained with (defaults filled in). */
  get options(): Readonly<ResolvedPQIndexOptions> {
    return this.#options
  }

  /**
   * Encodes and adds vectors on the libuv pool. `ids` (unique numbers or strings; `undefined`
   * for size, size+1, …) must match the vector count. All-or-nothing.
   */
  async add(ids: readonly Id[] | undefined, vectors: VectorsInput, options: AsyncOptions = {}): Promise<void> {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.add(nativeIds, data, signal))
  }

  /** Synchronous twin of {@link PQIndex.add}. */
  addSync(ids: readonly Id[] | undefined, vectors: VectorsInput): this {
    const { data, count } = toBatch(vectors, this.dim)
    const nativeIds = toIds(ids, count, this.size)
    callNative(() => this.#native.addSync(nativeIds, data))
    return this
  }

  /** The `k` best vectors for one query, on the calling thread. */
  search(query: VectorInput, options: PQSearchOptions): Hit[] {
    const o = parseOptions(searchSchema, options, 'search options')
    const q = toVector(query, this.dim)
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(q, o.k, o.nprobe, o.candidates, out.ids, out.scores)))
  }

  /** Searches many queries in parallel on the libuv pool; one result list per query. */
  async searchBatch(queries: VectorsInput, options: PQBatchOptions): Promise<Hit[][]> {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    const signal = checkSignal(o.signal)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(data, o.k, o.nprobe, o.candidates, o.threads, signal)))
  }

  /** Synchronous twin of {@link PQIndex.searchBatch} (still parallel across queries). */
  searchBatchSync(queries: VectorsInput, options: Omit<PQBatchOptions, 'signal'>): Hit[][] {
    const o = parseOptions(batchSchema, options, 'searchBatch options')
    const { data } = toBatch(queries, this.dim, 'queries')
    return toHitBatches(callNative(() => this.#native.searchBatchSync(data, o.k, o.nprobe, o.candidates, o.threads)))
  }

  /** Bytes held, by component (`codes`, `listIds`, `ids`, `codebooks`, `coarse`, `float32`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Releases spare capacity after the last add. */
  shrinkToFit(): this {
    this.#native.shrinkToFit()
    return this
  }

  /** Serialises the index (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }
  /** Restores an index from {@link PQIndex.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): PQIndex {
    return new PQIndex(fromBufferOf(NativePqIndex, buffer))
  }
  /** Writes the index to `path` atomically on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    await saveOf(this.#native, path, options)
  }
  /** Synchronous twin of {@link PQIndex.save}. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }
  /** Loads a saved index; corrupt or wrong-kind files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<PQIndex> {
    return new PQIndex(await loadOf(NativePqIndex, path, options))
  }
  /** Synchronous twin of {@link PQIndex.load}. */
  static loadSync(path: string): PQIndex {
    return new PQIndex(loadSyncOf(NativePqIndex, path))
  }
}
