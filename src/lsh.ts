/**
 * Banded LSH over MinHash signatures: an exact candidate index ({@link MinHashLSH}) and a
 * Bloom-filter variant that only answers "seen a near-duplicate before?" in a few bytes per
 * document ({@link LSHBloom}).
 * @module
 */
import { z } from 'zod'
import { NativeLshBloom, NativeMinHashLsh } from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType } from './errors'
import { checkWeights } from './minhash'
import type { AsyncOptions, Id, MemoryUsage } from './types'
import { toMemoryUsage } from './types'
import { checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** Options shared by both LSH structures. */
export interface LshBandOptions {
  /** Jaccard similarity above which documents should collide, in (0, 1). */
  threshold: number
  /** Slots per signature (default 128); must match the {@link MinHasher}'s. */
  numPerm?: number
  /**
   * Weights of the false-positive and false-negative areas when choosing bands × rows (default
   * [0.5, 0.5], datasketch's). Ignored when `bands` and `rows` are given.
   */
  weights?: [number, number]
  /** Explicit bands (with `rows`; bands × rows ≤ numPerm). */
  bands?: number
  /** Explicit rows per band (with `bands`). */
  rows?: number
}

/** Options of {@link MinHashLSH}. */
export interface MinHashLSHOptions extends LshBandOptions {
  /** Keep signatures so queries can be verified by estimated Jaccard (default true; 4·numPerm bytes each). */
  keepSignatures?: boolean
}

/** One {@link MinHashLSH.query} result. */
export interface LshMatch {
  id: Id
  /** Estimated Jaccard with the query, present when the query was verified. */
  jaccard?: number
}

/** One candidate pair (`a` inserted before `b`). */
export interface LshPair {
  a: Id
  b: Id
  jaccard?: number
}

const bandShape = {
  threshold: z.number().gt(0).lt(1),
  numPerm: positiveInt(65_536).default(128),
  weights: z.tuple([z.number(), z.number()]).default([0.5, 0.5]),
  bands: positiveInt().optional(),
  rows: positiveInt().optional(),
}

const lshSchema = z.strictObject({ ...bandShape, keepSignatures: z.boolean().default(true) })

const bloomSchema = z.strictObject({
  ...bandShape,
  expectedItems: positiveInt(Number.MAX_SAFE_INTEGER),
  falsePositiveRate: z.number().gt(0).lt(1).default(1e-5),
})

function bandInit(o: { threshold: number; numPerm: number; weights: [number, number]; bands?: number; rows?: number }) {
  const [weightFp, weightFn] = checkWeights(o.weights)
  if ((o.bands === undefined) !== (o.rows === undefined)) throw invalidRange('give both bands and rows, or neither')
  if (o.bands !== undefined && o.rows !== undefined && o.bands * o.rows > o.numPerm) {
    throw invalidRange(`bands × rows (${o.bands} × ${o.rows}) exceeds numPerm ${o.numPerm}`)
  }
  return { threshold: o.threshold, numPerm: o.numPerm, weightFp, weightFn, bands: o.bands, rows: o.rows }
}

function checkSignatures(sigs: unknown, numPerm: number, name = 'signatures'): Uint32Array {
  if (!(sigs instanceof Uint32Array)) throw invalidType(`${name} must be a Uint32Array (n × numPerm)`)
  if (sigs.length === 0 || sigs.length % numPerm !== 0) throw invalidRange(`${name} holds ${sigs.length} slots, not a positive multiple of numPerm ${numPerm}`)
  return sigs
}

function checkVerify(verify: unknown): number | undefined {
  if (verify === undefined) return undefined
  if (typeof verify !== 'number' || !(verify >= 0 && verify <= 1)) throw invalidRange(`verify must be a Jaccard threshold in [0, 1] (got ${String(verify)})`)
  return verify
}

/**
 * Banded LSH index: documents whose signatures agree on all rows of some band become
 * candidates. Band keys are 64-bit hashes salted with the band index.
 *
 * @example
 * ```ts
 * const lsh = new MinHashLSH({ threshold: 0.8, numPerm: 128 })
 * lsh.insert(ids, signatures)                 // flat n × 128
 * lsh.query(hasher.row(sigs, 0), { verify: 0.8 }) // [{ id, jaccard }]
 * ```
 */
export class MinHashLSH {
  #native: NativeMinHashLsh
  /** Bands × rows in use (chosen from the threshold unless given). */
  readonly bands: number
  readonly rows: number
  readonly numPerm: number

  constructor(options: MinHashLSHOptions) {
    const o = parseOptions(lshSchema, options, 'MinHashLSH options')
    this.#native = adopted ?? callNative(() => new NativeMinHashLsh({ ...bandInit(o), keepSignatures: o.keepSignatures }))
    const out = this.#native.options()
    this.bands = out.bands
    this.rows = out.rows
    this.numPerm = out.numPerm
  }

  /** Documents in the index. */
  get size(): number {
    return this.#native.size
  }

  /** Inserts `ids` (unique) with their signatures (`ids.length × numPerm`). All-or-nothing. */
  insert(ids: readonly Id[], signatures: Uint32Array): this {
    const sigs = checkSignatures(signatures, this.numPerm)
    const nativeIds = toIds(ids, sigs.length / this.numPerm, this.size)
    callNative(() => this.#native.insertSync(nativeIds, sigs))
    return this
  }

  /** Ids sharing a band with `signature`; with `verify: t`, only those with estimated Jaccard ≥ t. */
  query(signature: Uint32Array, options: { verify?: number } = {}): LshMatch[] {
    const sig = checkSignatures(signature, this.numPerm, 'signature')
    if (sig.length !== this.numPerm) throw invalidRange(`signature must have numPerm ${this.numPerm} slots (got ${sig.length})`)
    return callNative(() => this.#native.query(sig, checkVerify(options.verify)))
  }

  /** {@link MinHashLSH.query} for a flat batch of signatures, in parallel on the libuv pool. */
  async queryBatch(signatures: Uint32Array, options: { verify?: number; threads?: number } & AsyncOptions = {}): Promise<LshMatch[][]> {
    const sigs = checkSignatures(signatures, this.numPerm)
    const signal = checkSignal(options.signal)
    return callNativeAsync(() => this.#native.queryBatch(sigs, checkVerify(options.verify), options.threads, signal))
  }

  /** Removes a document; false when the id is unknown. */
  remove(id: Id): boolean {
    if (typeof id !== 'string' && typeof id !== 'number') throw invalidType('id must be a string or a number')
    return callNative(() => this.#native.remove(id))
  }

  /** Whether `id` is in the index. */
  has(id: Id): boolean {
    if (typeof id !== 'string' && typeof id !== 'number') throw invalidType('id must be a string or a number')
    return callNative(() => this.#native.has(id))
  }

  /** Every pair of documents that share a band (each pair once); `verify` as in `query`. */
  candidatePairs(options: { verify?: number } = {}): LshPair[] {
    return callNative(() => this.#native.candidatePairs(checkVerify(options.verify)))
  }

  /** Bytes in memory by component. */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index (the bytes `save` writes). */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an index from {@link MinHashLSH.toBuffer}, validating every byte. */
  static fromBuffer(buffer: Uint8Array): MinHashLSH {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return MinHashLSH.#wrap(callNative(() => NativeMinHashLsh.fromBuffer(buffer)))
  }

  /** Writes atomically to `path`. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link MinHashLSH.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /** Loads a saved index; bad files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<MinHashLSH> {
    const signal = checkSignal(options.signal)
    return MinHashLSH.#wrap(await callNativeAsync(() => NativeMinHashLsh.load(checkPath(path), signal)))
  }

  /** Synchronous twin of {@link MinHashLSH.load}. */
  static loadSync(path: string): MinHashLSH {
    return MinHashLSH.#wrap(callNative(() => NativeMinHashLsh.loadSync(checkPath(path))))
  }

  static #wrap(native: NativeMinHashLsh): MinHashLSH {
    const o = native.options()
    adopted = native
    try {
      return new MinHashLSH({ threshold: o.threshold, numPerm: o.numPerm, bands: o.bands, rows: o.rows, keepSignatures: o.keepSignatures })
    } finally {
      adopted = undefined
    }
  }
}

let adopted: NativeMinHashLsh | undefined

/** Options of {@link LSHBloom}. */
export interface LSHBloomOptions extends LshBandOptions {
  /** Documents you expect to insert (sizes the filters), ≥ 1. */
  expectedItems: number
  /**
   * Total false-positive rate added by the filters over all bands at `expectedItems`
   * (default 1e-5); each band's filter gets its share.
   */
  falsePositiveRate?: number
}

/**
 * LSHBloom: one Bloom filter per band instead of band tables. `insertIfNew` tells whether a
 * near-duplicate was seen before (first seen wins) in a few bytes per document; no ids, no
 * candidate lists. Filters merge with bitwise OR, for map-reduce deduplication.
 */
export class LSHBloom {
  #native: NativeLshBloom
  readonly bands: number
  readonly rows: number
  readonly numPerm: number

  constructor(options: LSHBloomOptions) {
    const o = parseOptions(bloomSchema, options, 'LSHBloom options')
    this.#native =
      adoptedBloom ?? callNative(() => new NativeLshBloom({ ...bandInit(o), expectedItems: o.expectedItems, falsePositiveRate: o.falsePositiveRate }))
    const out = this.#native.options()
    this.bands = out.bands
    this.rows = out.rows
    this.numPerm = out.numPerm
  }

  /** Documents inserted (summed over merges). */
  get count(): number {
    return this.#native.count
  }

  /** False-positive rate of each band's filter at `expectedItems`. */
  get bandFalsePositiveRate(): number {
    return this.#native.bandFalsePositiveRate
  }

  /** Inserts `signature` and returns true if no earlier document collided in any band. */
  insertIfNew(signature: Uint32Array): boolean {
    return callNative(() => this.#native.insertIfNew(this.#one(signature)))
  }

  /** {@link LSHBloom.insertIfNew} over a flat batch, in order: 1 = new, 0 = near-duplicate. */
  insertIfNewBatch(signatures: Uint32Array): Uint8Array {
    return callNative(() => this.#native.insertIfNewBatch(checkSignatures(signatures, this.numPerm)))
  }

  /** Whether a document colliding with `signature` in some band was inserted (no insert). */
  has(signature: Uint32Array): boolean {
    return callNative(() => this.#native.has(this.#one(signature)))
  }

  /** ORs `other`'s filters into these (same options required). */
  merge(other: LSHBloom): this {
    if (!(other instanceof LSHBloom)) throw invalidType('merge needs another LSHBloom')
    callNative(() => this.#native.merge(other.#native))
    return this
  }

  /** Filter bytes per expected document. */
  bytesPerDocument(): number {
    return this.#native.bytesPerDocument()
  }

  /** Bytes in memory by component. */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the filters. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores filters from {@link LSHBloom.toBuffer}. */
  static fromBuffer(buffer: Uint8Array): LSHBloom {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return LSHBloom.#wrap(callNative(() => NativeLshBloom.fromBuffer(buffer)))
  }

  /** Writes atomically to `path`. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link LSHBloom.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /**
   * Loads saved filters. With `mmap: true` (default) the file is memory-mapped and queried
   * in place; inserting copies it into memory first.
   */
  static async load(path: string, options: AsyncOptions & { mmap?: boolean } = {}): Promise<LSHBloom> {
    const signal = checkSignal(options.signal)
    return LSHBloom.#wrap(await callNativeAsync(() => NativeLshBloom.load(checkPath(path), options.mmap ?? true, signal)))
  }

  /** Synchronous twin of {@link LSHBloom.load}. */
  static loadSync(path: string, options: { mmap?: boolean } = {}): LSHBloom {
    return LSHBloom.#wrap(callNative(() => NativeLshBloom.loadSync(checkPath(path), options.mmap ?? true)))
  }

  #one(signature: Uint32Array): Uint32Array {
    const sig = checkSignatures(signature, this.numPerm, 'signature')
    if (sig.length !== this.numPerm) throw invalidRange(`signature must have numPerm ${this.numPerm} slots (got ${sig.length})`)
    return sig
  }

  static #wrap(native: NativeLshBloom): LSHBloom {
    const o = native.options()
    adoptedBloom = native
    try {
      return new LSHBloom({
        threshold: o.threshold,
        numPerm: o.numPerm,
        bands: o.bands,
        rows: o.rows,
        expectedItems: o.expectedItems,
        falsePositiveRate: o.falsePositiveRate,
      })
    } finally {
      adoptedBloom = undefined
    }
  }
}

let adoptedBloom: NativeLshBloom | undefined
