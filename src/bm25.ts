/**
 * BM25 (the five bm25s variants) scored eagerly at build time and searched with Block-Max
 * Pruning, plus the tokenizer it uses.
 * @module
 */
import { z } from 'zod'
import { NativeBm25Index, NativeTokenizer } from '../binding'
import { callNative, callNativeAsync, invalidType } from './errors'
import { bmpSchema, type BmpSearchOptions } from './sparse'
import type { AsyncOptions, Hit, Id, MemoryUsage } from './types'
import { ResultBuffers, toHitBatches, toMemoryUsage } from './types'
import { checkPath, checkSignal, parseOptions, positiveInt, toIds } from './validate'

/** Options of {@link Tokenizer} (defaults reproduce bm25s's tokenizer). */
export interface TokenizerOptions {
  /** Lowercase first (default true). */
  lowercase?: boolean
  /**
   * Words dropped: `'english'` (default: bm25s's 33-word Lucene / Elasticsearch list), `'none'`,
   * or your own list.
   */
  stopwords?: 'english' | 'none' | readonly string[]
  /** Snowball stemmer language, e.g. `'english'`, `'arabic'`, `'german'` (default: none). */
  stemmer?: string
  /** Split Chinese / Japanese / Korean runs into character bigrams (default false). */
  cjkBigrams?: boolean
}

const tokenizerSchema = z.strictObject({
  lowercase: z.boolean().default(true),
  stopwords: z.union([z.enum(['english', 'none']), z.array(z.string())]).default('english'),
  stemmer: z.string().optional(),
  cjkBigrams: z.boolean().default(false),
})

function tokenizerInit(options: TokenizerOptions) {
  const o = parseOptions(tokenizerSchema, options, 'tokenizer options')
  const stopwords = o.stopwords === 'english' ? undefined : o.stopwords === 'none' ? [] : o.stopwords
  return { lowercase: o.lowercase, stopwords, stemmer: o.stemmer, cjkBigrams: o.cjkBigrams }
}

/**
 * Splits text into tokens like bm25s: lowercase, Unicode `\b\w\w+\b` (words of ≥ 2
 * characters), stop words removed, optionally Snowball-stemmed.
 */
export class Tokenizer {
  readonly #native: NativeTokenizer

  constructor(options: TokenizerOptions = {}) {
    const init = tokenizerInit(options)
    this.#native = callNative(() => new NativeTokenizer(init))
  }

  /** Tokens of one text. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw invalidType('text must be a string')
    return this.#native.tokenize(text)
  }

  /** Tokens of many texts, in parallel. */
  tokenizeBatch(texts: readonly string[]): string[][] {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw invalidType('texts must be an array of strings')
    return this.#native.tokenizeBatch(texts as string[])
  }
}

/** A document of {@link BM25Index.build}. */
export interface TextDocument {
  id: Id
  text: string
}

/** Options of {@link BM25Index.build} (bm25s's defaults). */
export interface BM25Options extends AsyncOptions {
  /** `'lucene'` (default), `'robertson'`, `'atire'`, `'bm25l'` or `'bm25+'` (bm25s's formulas). */
  method?: 'lucene' | 'robertson' | 'atire' | 'bm25l' | 'bm25+'
  /** Term-frequency saturation (default 1.5), ≥ 0. */
  k1?: number
  /** Length normalisation (default 0.75), 0 … 1. */
  b?: number
  /** BM25L / BM25+ shift (default 0.5), ≥ 0. */
  delta?: number
  /** Documents per block (default 32), 1 … 256. */
  blockSize?: number
  /** Tokenizer options (default: bm25s's). */
  tokenizer?: TokenizerOptions
}

const bm25Schema = z.strictObject({
  method: z.enum(['lucene', 'robertson', 'atire', 'bm25l', 'bm25+']).default('lucene'),
  k1: z.number().finite().min(0).default(1.5),
  b: z.number().min(0).max(1).default(0.75),
  delta: z.number().finite().min(0).default(0.5),
  blockSize: positiveInt(256).default(32),
  tokenizer: z.unknown().optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

/**
 * BM25 over texts. Every (document, term) score is computed at build time (as bm25s does)
 * and queries use Block-Max Pruning instead of scoring all N documents, so search cost
 * follows the matching blocks, not the corpus. Scores are the true BM25 values. Only
 * documents in which some query token scores above 0 are returned.
 *
 * @example
 * ```ts
 * const bm25 = await BM25Index.build(docs.map((d) => ({ id: d.id, text: `${d.title} ${d.text}` })))
 * bm25.search('cost of interior concrete flooring', { k: 10 }) // [{ id, score }, …]
 * ```
 */
export class BM25Index {
  #native: NativeBm25Index
  readonly #buffers = new ResultBuffers()

  private constructor(native: NativeBm25Index) {
    this.#native = native
  }

  /** Tokenizes, scores and indexes `docs` on the libuv pool. */
  static async build(docs: readonly TextDocument[], options: BM25Options = {}): Promise<BM25Index> {
    const { ids, texts, init, signal } = BM25Index.#prepare(docs, options)
    return new BM25Index(await callNativeAsync(() => NativeBm25Index.build(ids, texts, init, checkSignal(signal))))
  }

  /** Synchronous twin of {@link BM25Index.build}. */
  static buildSync(docs: readonly TextDocument[], options: Omit<BM25Options, 'signal'> = {}): BM25Index {
    const { ids, texts, init } = BM25Index.#prepare(docs, options)
    return new BM25Index(callNative(() => NativeBm25Index.buildSync(ids, texts, init)))
  }

  static #prepare(docs: readonly TextDocument[], options: BM25Options) {
    const o = parseOptions(bm25Schema, options, 'BM25Index.build options')
    if (!Array.isArray(docs)) throw invalidType('docs must be an array of { id, text }')
    const texts = docs.map((d, i) => {
      if (d === null || typeof d !== 'object' || typeof d.text !== 'string') throw invalidType(`docs[${i}] must be { id, text: string }`)
      return d.text
    })
    const ids = toIds(docs.map((d) => d.id), docs.length, 0)
    const init = { method: o.method, k1: o.k1, b: o.b, delta: o.delta, blockSize: o.blockSize, tokenizer: tokenizerInit((o.tokenizer ?? {}) as TokenizerOptions) }
    return { ids, texts, init, signal: o.signal }
  }

  /** Documents in the index. */
  get size(): number {
    return this.#native.size
  }

  /** Distinct tokens. */
  get vocabSize(): number {
    return this.#native.vocabSize
  }

  /** Stored (document, token) scores. */
  get postings(): number {
    return this.#native.postings
  }

  /** The tokens the index sees in `text` (same tokenizer as the documents). */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw invalidType('text must be a string')
    return this.#native.tokenize(text)
  }

  /** The `k` best documents for a text query, on the calling thread. */
  search(text: string, options: BmpSearchOptions): Hit[] {
    if (typeof text !== 'string') throw invalidType('query must be a string')
    const o = parseOptions(bmpSchema, options, 'search options')
    const filter = o.filter === undefined ? undefined : toIds(o.filter, o.filter.length, 0)
    const out = this.#buffers.reserve(Math.min(o.k, this.size))
    return out.hits(callNative(() => this.#native.search(text, { k: o.k, alpha: o.alpha, beta: o.beta, exhaustive: o.exhaustive }, filter, out.ids, out.scores)))
  }

  /** Many queries in parallel on the libuv pool (no filter). */
  async searchBatch(texts: readonly string[], options: Omit<BmpSearchOptions, 'filter'> & AsyncOptions & { threads?: number }): Promise<Hit[][]> {
    const { signal: s, threads, ...rest } = options
    const o = parseOptions(bmpSchema, rest, 'searchBatch options')
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw invalidType('texts must be an array of strings')
    const signal = checkSignal(s)
    return toHitBatches(await callNativeAsync(() => this.#native.searchBatch(texts as string[], { k: o.k, alpha: o.alpha, beta: o.beta, exhaustive: o.exhaustive }, threads, signal)))
  }

  /** Bytes in memory by component (`forward`, `blockMax`, `seeds`, `ids`, `vocabulary`). */
  memoryUsage(): MemoryUsage {
    return toMemoryUsage(this.#native.memoryUsage())
  }

  /** Serialises the index. */
  toBuffer(): Buffer {
    return callNative(() => this.#native.toBuffer())
  }

  /** Restores an index from {@link BM25Index.toBuffer}, validating every structure. */
  static fromBuffer(buffer: Uint8Array): BM25Index {
    if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
    return new BM25Index(callNative(() => NativeBm25Index.fromBuffer(buffer)))
  }

  /** Writes atomically to `path`. */
  async save(path: string, options: AsyncOptions = {}): Promise<void> {
    const signal = checkSignal(options.signal)
    await callNativeAsync(() => this.#native.save(checkPath(path), signal))
  }

  /** Synchronous twin of {@link BM25Index.save}. */
  saveSync(path: string): void {
    callNative(() => this.#native.saveSync(checkPath(path)))
  }

  /** Loads a saved index; bad files throw `ERR_SLIMDEX_CORRUPT_FILE`. */
  static async load(path: string, options: AsyncOptions = {}): Promise<BM25Index> {
    const signal = checkSignal(options.signal)
    return new BM25Index(await callNativeAsync(() => NativeBm25Index.load(checkPath(path), true, signal)))
  }

  /** Synchronous twin of {@link BM25Index.load}. */
  static loadSync(path: string): BM25Index {
    return new BM25Index(callNative(() => NativeBm25Index.loadSync(checkPath(path), true)))
  }
}
