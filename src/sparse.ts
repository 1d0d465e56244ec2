/**
 * Learned sparse retrieval (SPLADE-like term → weight vectors) with Block-Max Pruning.
 * @module
 */
import { z } from 'zod'
import { NativeSparseIndex } from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType } from './errors'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** A sparse vector: term → weight (≥ 0), or parallel term ids and weights. */
export type SparseVector = Readonly<Record<string, number>> | { indices: Uint32Array | readonly number[]; values: Float32Array | readonly number[] }

/** A document of {@link SparseIndex.build}. */
export interface SparseDocument {
  id: Id
  /** Term → weight (string terms), e.g. SPLADE output. */
  terms?: Readonly<Record<string, number>>
  /** Numeric term ids (with `values`), for vocabularies you already map. */
  indices?: Uint32Array | readonly number[]
  values?: Float32Array | readonly number[]
}

/** Options of {@link SparseIndex.build}. */
export interface SparseBuildOptions extends AsyncOptions {
  /** Documents per block, 1 … 256 (default 32). Smaller blocks prune better and cost more block maxima. */
  blockSize?: number
}

/** Options of a Block-Max Pruning search. */
export interface BmpSearchOptions {
  /** Results, ≥ 1. */
  k: number
  /**
   * Stop when the k-th score ≥ alpha × the next block's bound (default 1: safe, identical to
   * an exhaustive scan, ties included). Smaller is faster and approximate. In (0, 1].
   */
  alpha?: number
  /** Keep only the ceil(beta × terms) heaviest query terms (default 1: all). In (0, 1]. */
  beta?: number
  /** Only these ids may be returned (disables threshold seeding). */
  filter?: readonly Id[]
  /** Score every block that holds a query term instead of pruning (for verification). */
  exhaustive?: boolean
}

const buildSchema = z.strictObject({ blockSize: positiveInt(256).default(32), signal: z.instanceof(AbortSignal).optional() })

export const bmpSchema = z.strictObject({
  k: positiveInt(),
  alpha: z.number().gt(0).max(1).default(1),
  beta: z.number().gt(0).max(1).default(1),
  filter: z.array(z.union([z.string(), z.number()])).optional(),
  exhaustive: z.boolean().default(false),
})

function weightsOf(values: unknown, what: string): Float32Array {
  const v = values instanceof Float32Array ? values : Array.isArray(values) ? Float32Array.from(values as number[]) : null
  if (v === null) throw invalidType(`${what}: values must be a Float32Array or an array of numbers`)
  for (const x of v) if (!(x >= 0) || !Number.isFinite(x)) throw invalidRange(`${what}: weights must be finite and ≥ 0 (got ${x})`)
  return v
}

function indicesOf(indices: unknown, what: string): Uint32Array {
  if (indices instanceof Uint32Array) return indices
  if (Array.isArray(indices) && indices.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) return Uint32Array.from(indices as number[])
  throw invalidType(`${what}: indices must be a Uint32Array or an array of non-negative integers`)
}

/** Splits a query into native (terms, weights). */
function queryOf(query: SparseVector): { terms: Uint32Array | string[]; weights: Float32Array } {
  if (query === null || typeof query !== 'object') throw invalidType('query must be { term: weight } or { indices, values }')
  if ('indices' in query && 'values' in query) {
    const terms = indicesOf(query.indices, 'query')
    const weights = weightsOf(query.values, 'query')
    if (terms.length !== weights.length) throw invalidRange(`query has ${terms.length} indices but ${weights.length} values`)
    return { terms, weights }
  }
  const entries = Object.entries(query as Record<string, number>)
  return { terms: entries.map(([t]) => t), weights: weightsOf(entries.map(([, w]) => w), 'query') }
}

/**
 * An index of sparse vectors with 8-bit impacts (scale = largest weight / 255), searched with
 * Block-Max Pruning: block upper bounds, best blocks first, early termination.
 *
 * @example
 * ```ts
 * const index = await SparseIndex.build([{ id: 'd1', terms: { apple: 1.3, pie: 0.4 } }, …])
 * const hits = index.search({ apple: 0.9, tart: 0.5 }, { k: 10 })
 * ```
 */
export class SparseIndex {
  #native: NativeSparseIndex
  readonly #buffers = new ResultBuffers()

  private constructor(native: NativeSparseIndex) {
    this.#native = native
  }

  /** Builds the index on the libuv pool (documents get internal ids in the given order). */
  static async build(docs: readonly SparseDocument[], options: SparseBuildOptions = {}): Promise<SparseIndex> {
    const o = parseOptions(buildSchema, options, 'SparseIndex.build options')
    const a = SparseIndex.#flatten(docs)
    const signal = checkSignal(o.signal)
    return new SparseIndex(await callNativeAsync(() => NativeSparseIndex.build(a.ids, a.vocab, a.vocabSize, a.offsets, a.terms, a.weights, o.blockSize, signal)))
  }

  /** Synchronous twin of {@link SparseIndex.build}. */
  static buildSync(docs: readonly SparseDocument[], options: Omit<SparseBuildOptions, 'signal'> = {}): SparseIndex {
    const o = parseOptions(buildSchema, options, 'SparseIndex.build options')
    const a = SparseIndex.#flatten(docs)
    return new SparseIndex(callNative(() => NativeSparseIndex.buildSync(a.ids, a.vocab, a.vocabSize, a.offsets, a.terms, a.weights, o.blockSize)))
  }

  static #flatten(docs: readonly SparseDocument[]) {
    if (!Array.isArray(docs)) throw invalidType('docs must be an array of { id, terms } or { id, indices, values }')
    const named = docs.length > 0 && docs[0] !== null && typeof docs[0] === 'object' && 'terms' in docs[0]
    const vocab = new Map<string, number>()
    const offsets = new Uint32Array(docs.length + 1)
    const terms: number[] = []
    const weights: number[] = []
    let vocabSize = 0
    docs.forEach((d, i) => {
      if (d === null || typeof d !== 'object') throw invalidType(`docs[${i}] must be an object`)
      if (named) {
        if (d.terms === null || typeof d.terms !== 'object') throw invalidType(`docs[${i}].terms must be { term: weight } (all documents use the same form)`)
        for (const [t, w] of Object.entries(d.terms)) {
          if (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w)) throw invalidRange(`docs[${i}]: weight of ${JSON.stringify(t)} must be finite and ≥ 0 (got ${w})`)
          let id = vocab.get(t)
          if (id === undefined) vocab.set(t, (id = vocab.size))
          terms.push(id)
          weights.push(w)
        }
      } else {
        const idx = indicesOf(d.indices, `docs[${i}]`)
        const val = weightsOf(d.values, `docs[${i}]`)
        if (idx.length !== val.length) throw invalidRange(`docs[${i}] has ${idx.length} indices but ${val.length} values`)
        for (let j = 0; j < idx.length; j++) {
          terms.push(idx[j])
          weights.push(val[j])
          vocabSize = Math.max(vocabSize, idx[j] + 1)
        }
      }
      offsets[i + 1] = terms.length
    })
    const ids = toIds(
      docs.map((d) => d.id),
      docs.length,
      0,
    )
    return { ids, vocab: [...vocab.keys()], vocabSize: named ? vocab.size : vocabSize, offsets, terms: Uint32Array.from(terms), weights: Float32Array.from(weights) }
  }

  /** Documents in the index. */
  get size(): number {
    return this.#native.size
  }

  /** Distinct terms. */
  get vocabSize(): number {
    return this.#native.vocabSize
  }

  /** Stored (document, term) pairs. */
  get postings(): number {
    return this.#native.postings
  }

  /** The `k` best documents for a sparse query (unknown terms are ignored), on the calling thread. */
  search(query: SparseVector, options: BmpSearchOptions): Hit[] {
    const o = parseOptions(bmpSchema, options, 'search options')
    const { terms, weights } = queryOf(query)
    const filter = o.filter === undefined ? undefined : toIds(o.filter, o.filter.length, 0)
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(terms, weights, { k: o.k, alpha: o.alpha, beta: o.beta, exhaustive: o.exhaustive }, filter, out.ids, out.scores)))
  }

  /** Many `{ indices, values }` queries in parallel on the libuv pool (no filter). */
  async searchBatch(queries: ReadonlyArray<{ indices: Uint32Array | readonly number[]; values: Float32Array | readonly number[] }>, options: Omit<BmpSearchOptions, 'filter'> & AsyncOptions & { threads?: number }): Promise<Hit[][]> {
    const { signal: s, threads, ...rest } = options
    const o = parseOptions(bmpSchema, rest, 'searchBatch options')
    const offsets = new Uint32Array(queries.length + 1)
    const terms: number[] = []
    const weights: number[] = []
    queries.forEach((q, i) => {
      const t = indicesOf(q?.indices, `queries[${i}]`)
      const w = weightsOf(q?.values, `queries[${i}]`)
      if (t.length !== w.length) throw invalidRange(`queries[${i}] has ${t.length} indices but ${w.length} values`)
      terms.push(...t)
      weights.push(...w)
      offsets[i + 1] = terms.length
    })
    const signal = checkSignal(s)
    const opts = { k: o.k, alpha: o.alpha, beta: o.beta, exhaustive: o.exhaustive }
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(offsets, Uint32Array.from(terms), Float32Array.from(weights), opts, threads, signal)))
  }

  /** Bytes in memory by component (`forward`, `blockMax`, `seeds`, `ids`, `vocabulary`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an index from {@link SparseIndex.toBuffer}, validating every structure. */
  static fromBuffer(buffer: Uint8Array): SparseIndex {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return new SparseIndex(callNative(() => NativeSparseIndex.fromBuffer(buffer)))
  }

  /** Writes atomically to `path`. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link SparseIndex.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /** Loads a saved index (memory-mapped while parsing); bad files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<SparseIndex> {
    const signal = checkSignal(options.signal)
    return new SparseIndex(await callNativeAsync(() => NativeSparseIndex.load(checkPath(path), true, signal)))
  }

  /** Synchronous twin of {@link SparseIndex.load}. */
  static loadSync(path: string): SparseIndex {
    return new SparseIndex(callNative(() => NativeSparseIndex.loadSync(checkPath(path), true)))
  }
}
