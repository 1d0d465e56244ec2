/**
 * Multi-vector (late-interaction, ColBERT-style) retrieval: MUVERA fixed-dimensional
 * encodings find candidates with one inner product per document, then exact Chamfer (MaxSim)
 * re-ranks them over the stored document tokens.
 * @module
 */
import { z } from 'zod'
import { NativeMultiVectorIndex } from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType, slimdexError } from './errors'
import { encoderSchema, FdeEncoder, type FdeEncoderOptions, type PointClouds, type PointCloudsInput, type ResolvedFdeOptions, type TokensInput, toPointClouds, toTokens } from './muvera'
import { type LongTaskOptions, runLongTask } from './progress'
import { fromBufferOf, loadOf, loadSyncOf, saveOf, saveSyncOf, toBufferOf } from './persist'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { callbackOption, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** Options of {@link MultiVectorIndex}. */
export interface MultiVectorIndexOptions {
  /** Token dimension, 1 … 65,536. */
  dim: number
  /**
   * The FDE used for candidates: encoder options without `dim` (defaults: R = 20, k = 5,
   * Count-Sketch to 16 → 10,240 dims), or an {@link FdeEncoder} whose parameters and seed are
   * reused (its `dim` must equal `dim`). The matrices are saved with the index.
   */
  fde?: Omit<FdeEncoderOptions, 'dim'> | FdeEncoder
  /**
   * Document token storage for re-ranking (default `'f16'`: 2 bytes per coordinate, scores
   * within about 1e-3 of f32); `'f32'` is exact; `'int8'`: 1 byte per coordinate plus a 4-byte
   * scale per token.
   */
  storage?: 'f32' | 'f16' | 'int8'
  /**
   * Document FDE storage for candidate generation (default `'f16'`, 2 bytes per FDE float;
   * `'f32'`: 4 bytes). `'pq'`: product-quantized FDEs (the paper's PQ-256-8 by default, 1 byte
   * per 8 FDE floats, 16× smaller than f16): the codebooks are trained on a sample of the
   * first `add()` batch (which needs at least 2^nbits documents) and saved with the index;
   * candidates come from asymmetric inner products, then the same exact Chamfer re-rank. See
   * {@link FdePqOptions}.
   */
  fdeStorage?: 'f32' | 'f16' | 'pq'
  /** Product quantization of the FDEs; only used with `fdeStorage: 'pq'`. */
  pq?: FdePqOptions
}

/** Product quantization of the FDEs (`fdeStorage: 'pq'`). */
export interface FdePqOptions {
  /**
   * Sub-quantizers; must divide the FDE length. Default: FDE length / 8 with 8-bit codes
   * (1 byte per 8 floats) or / 4 with 4-bit codes (the same bytes); when that does not divide,
   * the divisor whose sub-vector width is nearest.
   */
  m?: number
  /** Bits per sub-quantizer code: 8 (256 centroids, table lookups; default) or 4 (16, fast scan). */
  nbits?: 4 | 8
  /** FDEs of the first batch sampled to train the codebooks, 2^nbits … 2^24 (default 8,192). */
  trainingSize?: number
  /** k-means iterations per sub-quantizer, 1 … 1,000 (default 10). */
  iterations?: number
  /** Seed of the training sample and k-means, a safe integer ≥ 0 (default 42). */
  seed?: number
}

/** Options of {@link MultiVectorIndex.search}. */
export interface MultiVectorSearchOptions {
  /** Results, 1 … 2^32 − 1. Fewer are returned when the index is smaller. */
  k: number
  /**
   * FDE candidates re-ranked by exact Chamfer (default 10·k, raised to at least k). With
   * `candidates ≥ size` every document is scored exactly (the brute-force answer).
   */
  candidates?: number
  /**
   * Ball carving (MUVERA §C.3): before re-ranking, query tokens whose dot product with an
   * earlier unmerged token is ≥ this are summed into it (the paper uses 0.7 on unit vectors).
   * Faster re-ranking; scores become a lower bound of the exact Chamfer. Default: no merging.
   */
  mergeThreshold?: number
  /** Clamp each token's best dot product at 0 (PyLate / ColBERT-CPU semantics; default false). */
  clampNegative?: boolean
  /**
   * `'muvera'` (default): FDE candidates + exact re-rank. Baselines on the same data:
   * `'bruteforce'` (exact Chamfer against every document, parallel) and `'singlevector'`
   * (PLAID-style: each query token's nearest documents, merged round-robin, then re-ranked).
   */
  mode?: 'muvera' | 'bruteforce' | 'singlevector'
}

/** Options of {@link MultiVectorIndex.searchBatch}. */
export interface MultiVectorBatchOptions extends Omit<MultiVectorSearchOptions, 'mode'>, AsyncOptions {
  /** Worker threads for the batch (default: one per core). */
  threads?: number
}

/** Options of {@link MultiVectorIndex.candidates}. */
export interface CandidateOptions {
  /** Candidates to return, ≥ 1. */
  n: number
  /**
   * `'fde'` (default): the documents with the largest FDE inner product (score = that inner
   * product). `'singlevector'`: the single-vector heuristic's candidates (score = 0).
   */
  method?: 'fde' | 'singlevector'
}

/** Options of {@link MultiVectorIndex.add}. */
export interface MultiVectorAddOptions extends LongTaskOptions {
  /** Worker threads for encoding (default: one per core). */
  threads?: number
}

const fdeSchema = encoderSchema.omit({ dim: true }).partial()

const indexSchema = z.strictObject({
  dim: positiveInt(65_536),
  fde: z.union([z.instanceof(FdeEncoder), fdeSchema]).default({}),
  storage: z.enum(['f32', 'f16', 'int8']).default('f16'),
  fdeStorage: z.enum(['f32', 'f16', 'pq']).default('f16'),
  pq: z
    .strictObject({
      m: positiveInt(1 << 22).optional(),
      nbits: z.union([z.literal(4), z.literal(8)]).default(8),
      trainingSize: positiveInt(1 << 24).default(8192),
      iterations: positiveInt(1000).default(10),
      seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(42),
    })
    .prefault({}),
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

const candidateSchema = z.strictObject({
  n: positiveInt(),
  method: z.enum(['fde', 'singlevector']).default('fde'),
})

const addSchema = z.strictObject({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onProgress: callbackOption<(done: number, total: number) => void>('must be a function (done, total) => void').optional(),
})

/** The options of an index, as resolved (defaults filled in). */
export interface ResolvedMultiVectorOptions {
  dim: number
  fde: ResolvedFdeOptions
  storage: 'f32' | 'f16' | 'int8'
  fdeStorage: 'f32' | 'f16' | 'pq'
  /** PQ options as resolved (present with `fdeStorage: 'pq'`). */
  pq?: Required<Omit<FdePqOptions, 'm'>> & Pick<FdePqOptions, 'm'>
}

let adoptedIndex: NativeMultiVectorIndex | undefined

/**
 * Documents as token sets (e.g. ColBERT token embeddings): MUVERA candidates, exact Chamfer
 * re-ranking. Scores are Chamfer similarities (Σ over query tokens of the best dot product),
 * sorted descending, ties by insertion order.
 *
 * @example
 * ```ts
 * const index = new MultiVectorIndex({ dim: 128 })
 * await index.add(ids, tokens, offsets)          // CSR: n_tokens × 128 floats + n + 1 offsets
 * await index.add(['a', 'b'], [docA, docB])      // or one flat token matrix per document
 * const hits = index.search(queryTokens, { k: 10, candidates: 200 })
 * ```
 */
export class MultiVectorIndex {
  #native: NativeMultiVectorIndex
  readonly #buffers = new ResultBuffers()
  readonly #options: ResolvedMultiVectorOptions
  /** With `fdeStorage: 'pq'`: the add() that is training the codebooks, while it runs. */
  #trainingAdd: Promise<void> | undefined

  constructor(options: MultiVectorIndexOptions) {
    const o = parseOptions(indexSchema, options, 'MultiVectorIndex options')
    let fde: ResolvedFdeOptions
    if (o.fde instanceof FdeEncoder) {
      if (o.fde.dim !== o.dim) throw invalidRange(`MultiVectorIndex options: fde has dim ${o.fde.dim} but the index has dim ${o.dim}`)
      fde = o.fde.options
    } else {
      fde = parseOptions(encoderSchema, { ...o.fde, dim: o.dim }, 'MultiVectorIndex options.fde')
    }
    const pq = o.fdeStorage === 'pq' ? o.pq : undefined
    this.#options = { dim: o.dim, fde, storage: o.storage, fdeStorage: o.fdeStorage, ...(pq ? { pq } : {}) }
    this.#native = adoptedIndex ?? callNative(() => new NativeMultiVectorIndex({ fde, storage: o.storage, fdeStorage: o.fdeStorage, pq }))
  }

  /** Token dimension. */
  get dim(): number {
    return this.#options.dim
  }

  /** The options the index was built with (defaults filled in). */
  get options(): Readonly<ResolvedMultiVectorOptions> {
    return this.#options
  }

  /** Documents in the index. */
  get size(): number {
    return this.#native.size
  }

  /** Tokens stored over all documents. */
  get tokenCount(): number {
    return this.#native.tokenCount
  }

  /** Length of each document's FDE: `finalDim`, else repetitions · 2^simhashBits · p. */
  get fdeDim(): number {
    const f = this.#options.fde
    return f.finalDim ?? f.repetitions * 2 ** f.simhashBits * (f.projection === 'identity' ? f.dim : f.projectionDim)
  }

  /** The encoder that produced the document FDEs (same matrices), to encode elsewhere compatibly. */
  encoder(): FdeEncoder {
    return FdeEncoder.wrapNative(this.#native.encoder())
  }

  /**
   * Adds documents on the libuv pool: CSR `(ids, tokens, offsets)`, `(ids, { tokens, offsets })`
   * or `(ids, [docTokens, …])` with one flat `n_i × dim` token matrix per document. `ids`
   * (numbers or strings, unique; `undefined` for 0, 1, 2, … continuing from `size`) must match
   * the number of documents; every document needs at least one token. All-or-nothing: a
   * rejected or aborted batch leaves the index unchanged. Inputs are copied before the call
   * returns. `onProgress(done, total)` counts encoded documents (every 512); `signal` also
   * stops an add that is already running.
   */
  add(ids: readonly Id[] | undefined, tokens: Float32Array, offsets: PointClouds['offsets'], options?: MultiVectorAddOptions): Promise<void>
  add(ids: readonly Id[] | undefined, docs: PointCloudsInput, options?: MultiVectorAddOptions): Promise<void>
  async add(ids: readonly Id[] | undefined, a: unknown, b?: unknown, c?: unknown): Promise<void> {
    let { tokens, offsets, nativeIds, o } = this.#prepare(ids, a, b, c)
    if (this.#trainingAdd) {
      // A PQ index trains its codebooks on the first batch, so a batch added meanwhile waits
      // for them (it would be encoded with other codebooks); if that add fails, this one trains.
      // The inputs are copied now, and default ids continue from the size after the wait.
      ;[tokens, offsets] = [tokens.slice(), offsets.slice()]
      while (this.#trainingAdd) await this.#trainingAdd.catch(() => undefined)
      if (ids === undefined) nativeIds = toIds(undefined, offsets.length - 1, this.size)
    }
    const run = runLongTask(o as LongTaskOptions, ({ signal, onProgress, token }) =>
      callNativeAsync(() => this.#native.add(nativeIds, tokens, offsets, o.threads, signal, onProgress, token)),
    )
    if (this.#options.fdeStorage !== 'pq' || this.#native.size > 0) return run
    const training = run.finally(() => {
      if (this.#trainingAdd === training) this.#trainingAdd = undefined
    })
    this.#trainingAdd = training
    return training
  }

  /** Synchronous twin of {@link MultiVectorIndex.add} (encoding still runs in parallel). */
  addSync(ids: readonly Id[] | undefined, tokens: Float32Array, offsets: PointClouds['offsets'], options?: { threads?: number }): this
  addSync(ids: readonly Id[] | undefined, docs: PointCloudsInput, options?: { threads?: number }): this
  addSync(ids: readonly Id[] | undefined, a: unknown, b?: unknown, c?: unknown): this {
    const { tokens, offsets, nativeIds, o } = this.#prepare(ids, a, b, c)
    if (o.signal !== undefined || o.onProgress !== undefined) throw invalidType('addSync takes no signal or onProgress (use add)')
    if (this.#trainingAdd) throw slimdexError(Error, 'ERR_SLIMDEX_INVALID_STATE', "addSync: an add() is training the 'pq' codebooks; await it first")
    callNative(() => this.#native.addSync(nativeIds, tokens, offsets, o.threads))
    return this
  }

  /**
   * The `k` best documents for one query's tokens (`n × dim` floats, n ≥ 1), on the calling
   * thread: FDE candidates, then exact Chamfer re-ranking (see {@link MultiVectorSearchOptions}).
   */
  search(queryTokens: TokensInput, options: MultiVectorSearchOptions): Hit[] {
    const o = parseOptions(searchSchema, options, 'search options')
    const q = toTokens(queryTokens, this.dim, 'queryTokens')
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    const { mode, ...init } = o
    return out.hits(callNative(() => this.#native.search(q, init, mode, out.ids, out.scores)))
  }

  /**
   * Many queries (CSR `(tokens, offsets)`, `{ tokens, offsets }` or one token array per query)
   * in parallel on the libuv pool, MUVERA mode; one result list per query.
   */
  searchBatch(tokens: Float32Array, offsets: PointClouds['offsets'], options: MultiVectorBatchOptions): Promise<Hit[][]>
  searchBatch(queries: PointCloudsInput, options: MultiVectorBatchOptions): Promise<Hit[][]>
  async searchBatch(a: unknown, b: unknown, c?: unknown): Promise<Hit[][]> {
    const { q, o } = this.#batchArgs(a, b, c)
    const { threads, signal: s, ...init } = o
    const signal = checkSignal(s)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(q.tokens, q.offsets, init, threads, signal)))
  }

  /** Synchronous twin of {@link MultiVectorIndex.searchBatch} (still parallel across queries). */
  searchBatchSync(tokens: Float32Array, offsets: PointClouds['offsets'], options: Omit<MultiVectorBatchOptions, 'signal'>): Hit[][]
  searchBatchSync(queries: PointCloudsInput, options: Omit<MultiVectorBatchOptions, 'signal'>): Hit[][]
  searchBatchSync(a: unknown, b: unknown, c?: unknown): Hit[][] {
    const { q, o } = this.#batchArgs(a, b, c)
    const { threads, signal, ...init } = o
    if (signal !== undefined) throw invalidType('searchBatchSync takes no signal (use searchBatch)')
    return toHitBatches(callNative(() => this.#native.searchBatchSync(q.tokens, q.offsets, init, threads)))
  }

  /**
   * Candidate documents for one query, best first, without re-ranking: the first stage of
   * {@link MultiVectorIndex.search}, for measuring candidate recall.
   */
  candidates(queryTokens: TokensInput, options: CandidateOptions): Hit[] {
    const o = parseOptions(candidateSchema, options, 'candidates options')
    const q = toTokens(queryTokens, this.dim, 'queryTokens')
    return toHitBatches(callNative(() => this.#native.candidates(q, o.n, o.method)))[0]
  }

  /** Bytes in memory by component (`tokens`, `fde`, `offsets`, `ids`, `encoder`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Releases spare capacity after the last add, so memory matches the data. */
  shrinkToFit(): this {
    this.#native.shrinkToFit()
    return this
  }

  /** Serialises the index (the same bytes `save` writes), encoder matrices included. */
  toBuffer(): Buffer {
    return toBufferOf(this.#native)
  }

  /** Restores an index from {@link MultiVectorIndex.toBuffer}, validating every byte. */
  static fromBuffer(buffer: Uint8Array): MultiVectorIndex {
    return MultiVectorIndex.#wrap(fromBufferOf(NativeMultiVectorIndex, buffer))
  }

  /** Writes the index to `path` atomically (temp file, fsync, rename) on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    await saveOf(this.#native, path, options)
  }

  /** Synchronous twin of {@link MultiVectorIndex.save}. */
  saveSync(path: string): void {
    saveSyncOf(this.#native, path)
  }

  /**
   * Loads an index saved with {@link MultiVectorIndex.save}. Truncated, corrupted, wrong-kind
   * or newer-version files throw `ERR_SLIMDEX_CORRUPT_FILE`.
   */
  static async load(path: string, options: AsyncOptions = {}): Promise<MultiVectorIndex> {
    return MultiVectorIndex.#wrap(await loadOf(NativeMultiVectorIndex, path, options))
  }

  /** Synchronous twin of {@link MultiVectorIndex.load}. */
  static loadSync(path: string): MultiVectorIndex {
    return MultiVectorIndex.#wrap(loadSyncOf(NativeMultiVectorIndex, path))
  }

  #prepare(ids: readonly Id[] | undefined, a: unknown, b: unknown, c: unknown) {
    const csr = a instanceof Float32Array || a instanceof Float64Array
    const docs = csr ? toPointClouds({ tokens: a, offsets: b }, this.dim, 'docs') : toPointClouds(a, this.dim, 'docs')
    const o = parseOptions(addSchema, csr ? c : b, 'add options')
    const nativeIds = toIds(ids, docs.count, this.size)
    return { tokens: docs.tokens, offsets: docs.offsets, nativeIds, o }
  }

  #batchArgs(a: unknown, b: unknown, c: unknown) {
    const csr = a instanceof Float32Array || a instanceof Float64Array
    const q = csr ? toPointClouds({ tokens: a, offsets: b }, this.dim, 'queries') : toPointClouds(a, this.dim, 'queries')
    const o = parseOptions(batchSchema, csr ? c : b, 'searchBatch options')
    return { q, o }
  }

  static #wrap(native: NativeMultiVectorIndex): MultiVectorIndex {
    adoptedIndex = native
    try {
      const o = native.options()
      const { dim, ...fde } = o.fde
      return new MultiVectorIndex({
        dim,
        fde: { ...fde, finalDim: fde.finalDim ?? undefined, projection: fde.projection as FdeEncoderOptions['projection'] },
        storage: o.storage as ResolvedMultiVectorOptions['storage'],
        fdeStorage: o.fdeStorage as ResolvedMultiVectorOptions['fdeStorage'],
        ...(o.pq ? { pq: { ...(o.pq.m != null ? { m: o.pq.m } : {}), nbits: o.pq.nbits as 4 | 8, trainingSize: o.pq.trainingSize, iterations: o.pq.iterations, seed: o.pq.seed } } : {}),
      })
    } finally {
      adoptedIndex = undefined
    }
  }
}

