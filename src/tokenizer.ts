/**
 * Text → tokens, by default identical to bm25s: lowercase, Unicode `\b\w\w+\b`, the 33-word
 * English stop list, no stemming.
 * @module
 */
import { z } from 'zod'
import { NativeTokenizer } from '../binding'
import type { TokenizerInit } from '../binding'
import { callNative, invalidType } from './errors'
import { parseOptions } from './validate'

/** Snowball languages for {@link TokenizerOptions.stemmer}. */
export const STEMMER_LANGUAGES = [
  'arabic', 'danish', 'dutch', 'english', 'finnish', 'french', 'german', 'greek', 'hungarian', 'italian',
  'norwegian', 'portuguese', 'romanian', 'russian', 'spanish', 'swedish', 'tamil', 'turkish',
] as const

/** Options of {@link Tokenizer} (and of `BM25Index.build`'s `tokenizer`). */
export interface TokenizerOptions {
  /** Lowercase before splitting (default true). */
  lowercase?: boolean
  /**
   * Stop words removed before stemming: `'english'` (default; bm25s's 33 words, alias `'en'`),
   * `'none'` / `false` for none, or your own list.
   */
  stopwords?: 'english' | 'en' | 'none' | false | readonly string[]
  /** Snowball stemming language (default none). `'english'` is Porter2, as PyStemmer. */
  stemmer?: (typeof STEMMER_LANGUAGES)[number]
  /** Split CJK runs into overlapping character bigrams (default false: a CJK run is one token, as bm25s). */
  cjkBigrams?: boolean
  /** A closed vocabulary: tokens (after stemming) outside it are dropped. */
  vocabulary?: readonly string[]
}

const tokenizerSchema = z.strictObject({
  lowercase: z.boolean().default(true),
  stopwords: z.union([z.enum(['english', 'en', 'none']), z.literal(false), z.array(z.string())]).default('english'),
  stemmer: z.enum(STEMMER_LANGUAGES).optional(),
  cjkBigrams: z.boolean().default(false),
  vocabulary: z.array(z.string()).optional(),
})

/** @internal Normalises tokenizer options for the native side. */
export function toTokenizerInit(options: TokenizerOptions | undefined, what = 'tokenizer options'): TokenizerInit {
  const o = parseOptions(tokenizerSchema, options ?? {}, what)
  const stopwords = o.stopwords === 'english' || o.stopwords === 'en' ? undefined : o.stopwords === 'none' || o.stopwords === false ? [] : o.stopwords
  return { lowercase: o.lowercase, stopwords, stemmer: o.stemmer, cjkBigrams: o.cjkBigrams, vocabulary: o.vocabulary }
}

/**
 * A text tokenizer.
 *
 * @example
 * ```ts
 * new Tokenizer({ stemmer: 'english' }).tokenize('The runners were running') // ['runner', 'were', 'run']
 * ```
 */
export class Tokenizer {
  #native: NativeTokenizer

  constructor(options: TokenizerOptions = {}) {
    const init = toTokenizerInit(options)
    this.#native = callNative(() => new NativeTokenizer(init))
  }

  /** Tokens of `text`, in order, repeats kept. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw invalidType('text must be a string')
    return this.#native.tokenize(text)
  }

  /** Tokens of many texts (tokenized in parallel). */
  tokenizeBatch(texts: readonly string[]): string[][] {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw invalidType('texts must be an array of strings')
    return this.#native.tokenizeBatch(texts as string[])
  }
}
