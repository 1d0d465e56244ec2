/**
 * Banded LSH over MinHash signatures: {@link MinHashLSH} (hash tables, candidate ids, removal,
 * verification) and {@link LSHBloom} (one cache-blocked Bloom filter per band: a few bytes per
 * document, first seen wins, mergeable, memory-mappable).
 * @module
 */
import { z } from 'zod'
import * as native from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import { bandKeys, checkSignatures, MAX_NUM_PERM, thresholdSchema } from './minhash'
import { fromNativeFamily, signatureFamily } from './signature-family'
import type { SignatureFamily } from './signature-family'
import type { AsyncOptions, Id, MemoryUsage } from './types'
import { toMemoryUsage } from './types'
import { checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** Options shared by {@link MinHashLSH} and {@link LSHBloom}. */
export interface BandingOptions {
  /** Jaccard threshold in (0, 1) the banding is tuned for. */
  threshold?: number
  /** Slots per signature, 1 … 65,536 (default 128); must equal the hasher's `numPerm`. */
  numPerm?: number
  /** [false-positive, false-negative] weights of datasketch's (bands, rows) objective (default [0.5, 0.5]). */
  weights?: [number, number]
  /** Explicit number of bands (with `rows`); default: chosen from `threshold` like datasketch. */
  bands?: number
  /** Explicit rows per band (with `bands`); bands·rows ≤ numPerm. */
  rows?: number
}

/** Options of {@link MinHashLSH}. */
export interface MinHashLSHOptions extends BandingOptions {
  /** Jaccard threshold in (0, 1) (default 0.9, datasketch's). */
  threshold?: number
  /**
   * Keep each signature (4·numPerm bytes per document) so that queries and candidate pairs can
   * be verified by estimated Jaccard (default true).
   */
  keepSignatures?: boolean
}

/** Options of {@link LSHBloom}. */
export interface LSHBloomOptions extends BandingOptions {
  /** Jaccard threshold in (0, 1) (default 0.8, the LSHBloom paper's). */
  threshold?: number
  /** Documents the filters are sized for (over all future inserts and merges), ≥ 1. */
  expectedItems: number
  /**
   * Total extra false-positive rate, in (0, 1) (default 1e-5): the probability that a new
   * document with no near-duplicate is reported as one because of the filters. The per-band
   * rate is derived from it: 1 − (1 − total)^(1/bands).
   */
  falsePositiveRate?: number
}

/** Verification: `true` = estimated Jaccard ≥ the index threshold; a number = that threshold. */
export type Verify = boolean | number

/** One query match. */
export interface LSHMatch {
  id: Id
  /** Estimated Jaccard with the query (present when verified). */
  jaccard?: number
}

/** One candidate pair, `a` inserted before `b`. */
export interface LSHPair {
  a: Id
  b: Id
  /** Estimated Jaccard (present when verified). */
  jaccard?: number
}

const banding = {
  numPerm: positiveInt(MAX_NUM_PERM).default(128),
  weights: z.tuple([z.number().min(0), z.number().min(0)]).default([0.5, 0.5]),
  bands: positiveInt(MAX_NUM_PERM).optional(),
  rows: positiveInt(MAX_NUM_PERM).optional(),
}
const lshSchema = z.strictObject({
  ...banding,
  threshold: thresholdSchema.default(0.9),
  keepSignatures: z.boolean().default(true),
})
const bloomSchema = z.strictObject({
  ...banding,
  threshold: thresholdSchema.default(0.8),
  expectedItems: positiveInt(Number.MAX_SAFE_INTEGER),
  falsePositiveRate: z.number().gt(0).lt(1).default(1e-5),
})
const verifySchema = z.union([z.boolean(), thresholdSchema, z.literal(1)]).optional()
const queryBatchSchema = z.strictObject({
  verify: verifySchema,
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})
const insertSchema = z.strictObject({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

function toVerify(v: unknown, threshold: number): number | undefined {
  if (v === undefined || v === false) return undefined
  const r = parseOptions(verifySchema, v, 'verify')
  return r === true ? threshold : r === false ? undefined : r
}

function toMatch(m: { id: string | number; jaccard?: number | null }): LSHMatch {
  return m.jaccard == null ? { id: m.id } : { id: m.id, jaccard: m.jaccard }
}

/**
 * A banded MinHash LSH index: documents sharing at least one band with a query are its
 * candidates. With threshold t the probability that a pair of Jaccard s is found is
 * 1 − (1 − s^rows)^bands.
 *
 * @example
 * ```ts
 * const hasher = new MinHasher({ numPerm: 128 })
 * const lsh = new MinHashLSH({ threshold: 0.8, numPerm: 128 })   // 9 bands × 13 rows
 * await lsh.insertBatch(ids, await hasher.sign(texts))
 * lsh.query(hasher.signSync([text]), { verify: true })           // [{ id, jaccard }, …]
 * ```
 */
export class MinHashLSH {
  #native: native.NativeMinHashLsh
  readonly #options: native.MinHashLshOptionsOut

  constructor(options: MinHashLSHOptions = {}) {
    if (adoptedLsh) {
      this.#native = adoptedLsh
    } else {
      const o = parseOptions(lshSchema, options, 'MinHashLSH options')
      this.#native = callNative(
        () =>
          new native.NativeMinHashLsh({
            threshold: o.threshold,
            numPerm: o.numPerm,
            weightFp: o.weights[0],
            weightFn: o.weights[1],
            bands: o.bands,
            rows: o.rows,
            keepSignatures: o.keepSignatures,
          }),
      )
    }
    this.#options = this.#native.options()
  }

  /** Threshold, numPerm, weights, bands, rows and keepSignatures in effect. */
  get options(): Readonly<native.MinHashLshOptionsOut> {
    return this.#options
  }
  /** Number of bands. */
  get bands(): number {
    return this.#options.bands
  }
  /** Slots per band. */
  get rows(): number {
    return this.#options.rows
  }
  /** Slots per signature. */
  get numPerm(): number {
    return this.#options.numPerm
  }
  /**
   * The scheme and seed of the hasher whose signatures the index holds: recorded from the
   * first tagged signatures inserted (see {@link signatureFamily}), kept in saved files;
   * `undefined` while unknown. Tagged signatures of another family are refused with
   * `ERR_SLIMDEX_SIGNATURE_MISMATCH`.
   */
  get family(): SignatureFamily | undefined {
    return fromNativeFamily(this.#native.family)
  }
  /** Documents in the index (removed ones excluded). */
  get size(): number {
    return this.#native.size
  }

  /** Inserts one document. Throws `ERR_SLIMDEX_DUPLICATE_ID` if `id` is already present. */
  insert(id: Id, signature: Uint32Array): this {
    checkSignatures(signature, this.numPerm, 'signature', 1)
    callNative(() => this.#native.insertSync(toIds([id], 1, 0), signature, undefined, signatureFamily(signature)))
    return this
  }

  /**
   * Inserts `ids.length` documents on the libuv pool (band keys computed in parallel).
   * All-or-nothing: a rejected batch leaves the index unchanged.
   */
  async insertBatch(ids: readonly Id[], signatures: Uint32Array, options: AsyncOptions & { threads?: number } = {}): Promise<void> {
    const o = parseOptions(insertSchema, options, 'insertBatch options')
    const nativeIds = this.#batchIds(ids, signatures)
    const signal = checkSignal(o.signal)
    await callNativeAsync(() => this.#native.insert(nativeIds, signatures, o.threads, signatureFamily(signatures), signal))
  }

  /** Synchronous twin of {@link MinHashLSH.insertBatch}. */
  insertBatchSync(ids: readonly Id[], signatures: Uint32Array, options: { threads?: number } = {}): this {
    const o = parseOptions(insertSchema, options, 'insertBatch options')
    const nativeIds = this.#batchIds(ids, signatures)
    callNative(() => this.#native.insertSync(nativeIds, signatures, o.threads, signatureFamily(signatures)))
    return this
  }

  #batchIds(ids: readonly Id[], signatures: Uint32Array): Float64Array | string[] {
    checkSignatures(signatures, this.numPerm)
    if (ids === undefined) throw invalidType('ids are required')
    return toIds(ids, signatures.length / this.numPerm, 0)
  }

  /**
   * Documents sharing at least one band with `signature`, in insertion order. With `verify`
   * only those whose estimated Jaccard reaches the threshold (needs `keepSignatures`).
   */
  query(signature: Uint32Array, options: { verify?: Verify } = {}): LSHMatch[] {
    checkSignatures(signature, this.numPerm, 'signature', 1)
    const verify = toVerify(options.verify, this.#options.threshold)
    return callNative(() => this.#native.query(signature, verify, signatureFamily(signature))).map(toMatch)
  }

  /** {@link MinHashLSH.query} for a flat batch of signatures, in parallel on the libuv pool. */
  async queryBatch(signatures: Uint32Array, options: { verify?: Verify; threads?: number } & AsyncOptions = {}): Promise<LSHMatch[][]> {
    const o = parseOptions(queryBatchSchema, options, 'queryBatch options')
    checkSignatures(signatures, this.numPerm)
    const verify = toVerify(o.verify, this.#options.threshold)
    const signal = checkSignal(o.signal)
    const r = await callNativeAsync(() => this.#native.queryBatch(signatures, verify, o.threads, signatureFamily(signatures), signal))
    return r.map((ms) => ms.map(toMatch))
  }

  /** Synchronous twin of {@link MinHashLSH.queryBatch}. */
  queryBatchSync(signatures: Uint32Array, options: { verify?: Verify; threads?: number } = {}): LSHMatch[][] {
    const o = parseOptions(queryBatchSchema, options, 'queryBatch options')
    checkSignatures(signatures, this.numPerm)
    const verify = toVerify(o.verify, this.#options.threshold)
    return callNative(() => this.#native.queryBatchSync(signatures, verify, o.threads, signatureFamily(signatures))).map((ms) => ms.map(toMatch))
  }

  /** Removes a document; returns whether it was present. */
  remove(id: Id): boolean {
    toIds([id], 1, 0) // type and safe-integer check
    return callNative(() => this.#native.remove(id))
  }

  /** Whether a document with this id is in the index. */
  has(id: Id): boolean {
    toIds([id], 1, 0) // type and safe-integer check
    return callNative(() => this.#native.has(id))
  }

  /** Every pair of documents sharing at least one band (each pair once), optionally verified. */
  candidatePairs(options: { verify?: Verify } = {}): LSHPair[] {
    const verify = toVerify(options.verify, this.#options.threshold)
    return callNative(() => this.#native.candidatePairs(verify)).map((p) =>
      p.jaccard == null ? { a: p.a, b: p.b } : { a: p.a, b: p.b, jaccard: p.jaccard },
    )
  }

  /** The index's band keys of a flat batch of signatures (`n × bands` u64s), see {@link bandKeys}. */
  bandKeys(signatures: Uint32Array, options: { threads?: number } = {}): BigUint64Array {
    return bandKeys(signatures, { numPerm: this.numPerm, bands: this.bands, rows: this.rows, ...options })
  }

  /** Bytes held in memory, by component. */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }
  /** Restores an index from {@link MinHashLSH.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): MinHashLSH {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return wrapLsh(callNative(() => native.NativeMinHashLsh.fromBuffer(buffer)))
  }
  /** Writes the index to `path` atomically (temp file, fsync, rename) on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }
  /** Synchronous twin of {@link MinHashLSH.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }
  /** Loads an index saved with {@link MinHashLSH.save}; bad files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<MinHashLSH> {
    const signal = checkSignal(options.signal)
    return wrapLsh(await callNativeAsync(() => native.NativeMinHashLsh.load(checkPath(path), signal)))
  }
  /** Synchronous twin of {@link MinHashLSH.load}. */
  static loadSync(path: string): MinHashLSH {
    return wrapLsh(callNative(() => native.NativeMinHashLsh.loadSync(checkPath(path))))
  }
}

let adoptedLsh: native.NativeMinHashLsh | undefined
function wrapLsh(n: native.NativeMinHashLsh): MinHashLSH {
  adoptedLsh = n
  try {
    return new MinHashLSH()
  } finally {
    adoptedLsh = undefined
  }
}

/**
 * LSHBloom (Khan et al. 2024): the bands of {@link MinHashLSH}, but each band is a Bloom filter
 * of band keys instead of a hash table — about `bands · 1.44 · log2(bands / falsePositiveRate)`
 * bits per document instead of ~1 KB. It answers only "was a near-duplicate seen before?"
 * (no ids, no removal); results depend on insertion order (first seen wins).
 *
 * @example
 * ```ts
 * const bloom = new LSHBloom({ threshold: 0.8, numPerm: 128, expectedItems: 1e6 })
 * for (let i = 0; i < n; i++) if (bloom.insertIfNew(hasher.signature(sigs, i))) keep(i)
 * ```
 */
export class LSHBloom {
  #native: native.NativeLshBloom
  readonly #options: native.LshBloomOptionsOut

  constructor(options: LSHBloomOptions) {
    if (adoptedBloom) {
      this.#native = adoptedBloom
    } else {
      const o = parseOptions(bloomSchema, options, 'LSHBloom options')
      this.#native = callNative(
        () =>
          new native.NativeLshBloom({
            threshold: o.threshold,
            numPerm: o.numPerm,
            expectedItems: o.expectedItems,
            falsePositiveRate: o.falsePositiveRate,
            weightFp: o.weights[0],
            weightFn: o.weights[1],
            bands: o.bands,
            rows: o.rows,
          }),
      )
    }
    this.#options = this.#native.options()
  }

  /** Threshold, numPerm, expectedItems, falsePositiveRate, weights, bands and rows in effect. */
  get options(): Readonly<native.LshBloomOptionsOut> {
    return this.#options
  }
  get bands(): number {
    return this.#options.bands
  }
  get rows(): number {
    return this.#options.rows
  }
  get numPerm(): number {
    return this.#options.numPerm
  }
  /**
   * The scheme and seed of the hasher whose signatures the filters hold: recorded from the
   * first tagged signatures inserted (see {@link signatureFamily}), kept in saved files and
   * by merges; `undefined` while unknown. Tagged signatures of another family are refused with
   * `ERR_SLIMDEX_SIGNATURE_MISMATCH`.
   */
  get family(): SignatureFamily | undefined {
    return fromNativeFamily(this.#native.family)
  }
  /** Documents inserted so far (summed over merges). */
  get count(): number {
    return this.#native.count
  }
  /** False-positive rate of each band's filter at `expectedItems`. */
  get bandFalsePositiveRate(): number {
    return this.#native.bandFalsePositiveRate
  }
  /** Whether the filters are memory-mapped from a file (read-only until written). */
  get isMapped(): boolean {
    return this.#native.isMapped
  }

  /**
   * Adds the document unless a near-duplicate (a document sharing a band) was seen before.
   * Returns `true` when it was new (and is now inserted), `false` for a near-duplicate.
   */
  insertIfNew(signature: Uint32Array): boolean {
    checkSignatures(signature, this.numPerm, 'signature', 1)
    return callNative(() => this.#native.insertIfNew(signature, signatureFamily(signature)))
  }

  /** {@link LSHBloom.insertIfNew} over a flat batch, in order: 1 = new, 0 = near-duplicate. */
  insertIfNewBatch(signatures: Uint32Array): Uint8Array {
    checkSignatures(signatures, this.numPerm)
    return callNative(() => this.#native.insertIfNewBatch(signatures, signatureFamily(signatures)))
  }

  /** Whether a near-duplicate of `signature` was inserted (no insertion). */
  has(signature: Uint32Array): boolean {
    checkSignatures(signature, this.numPerm, 'signature', 1)
    return callNative(() => this.#native.has(signature, signatureFamily(signature)))
  }

  /** {@link LSHBloom.has} over a flat batch: 1 = seen, 0 = new. */
  hasBatch(signatures: Uint32Array): Uint8Array {
    checkSignatures(signatures, this.numPerm)
    return callNative(() => this.#native.hasBatch(signatures, signatureFamily(signatures)))
  }

  /**
   * ORs another filter set into this one (map-reduce: filter shards separately, then merge).
   * Both must have identical options (bands, rows, sizes, seeds) and, where known, the same
   * hasher family (else `ERR_SLIMDEX_SIGNATURE_MISMATCH`).
   */
  merge(other: LSHBloom): this {
    if (!(other instanceof LSHBloom)) throw invalidType('other must be an LSHBloom')
    callNative(() => this.#native.merge(other.#native))
    return this
  }

  /** Bytes held in memory (the filters). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }
  /** Filter bytes per expected document. */
  bytesPerDocument(): number {
    return this.#native.bytesPerDocument()
  }

  /** Serialises the filters (the same bytes `save` writes). */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }
  /** Restores filters from {@link LSHBloom.toBuffer} bytes, validating every byte. */
  static fromBuffer(buffer: Uint8Array): LSHBloom {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return wrapBloom(callNative(() => native.NativeLshBloom.fromBuffer(buffer)))
  }
  /** Writes the filters to `path` atomically on the libuv pool. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }
  /** Synchronous twin of {@link LSHBloom.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }
  /**
   * Loads filters saved with {@link LSHBloom.save}. With `mmap: true` the file is memory-mapped
   * (pages load on demand; the first insert copies the filters into memory).
   */
  static async load(path: string, options: AsyncOptions & { mmap?: boolean } = {}): Promise<LSHBloom> {
    const signal = checkSignal(options.signal)
    return wrapBloom(await callNativeAsync(() => native.NativeLshBloom.load(checkPath(path), checkMmap(options.mmap), signal)))
  }
  /** Synchronous twin of {@link LSHBloom.load}. */
  static loadSync(path: string, options: { mmap?: boolean } = {}): LSHBloom {
    return wrapBloom(callNative(() => native.NativeLshBloom.loadSync(checkPath(path), checkMmap(options.mmap))))
  }
}

function checkMmap(m: unknown): boolean {
  if (m === undefined) return false
  if (typeof m !== 'boolean') throw invalidType('mmap must be a boolean')
  return m
}

let adoptedBloom: native.NativeLshBloom | undefined
function wrapBloom(n: native.NativeLshBloom): LSHBloom {
  adoptedBloom = n
  try {
    return new LSHBloom({ expectedItems: 1 })
  } finally {
    adoptedBloom = undefined
  }
}
