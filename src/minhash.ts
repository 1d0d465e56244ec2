/**
 * MinHash signatures: shingling in Rust, one-permutation hashing with optimal densification
 * (default), classic k-hash MinHash, and a datasketch-compatible scheme; Jaccard estimates and
 * b-bit compaction.
 * @module
 */
import { z } from 'zod'
import {
  NativeMinHasher,
  minhashBandKeys,
  minhashBbitCompact,
  minhashBbitJaccard,
  minhashJaccard,
  minhashOptimalParams,
} from '../binding'
import { callNative, callNativeAsync, invalidRange, invalidType } from './errors'
import type { AsyncOptions } from './types'
import { checkInt, checkSignal, parseOptions, positiveInt } from './validate'

/** Options of {@link MinHasher}. */
export interface MinHasherOptions {
  /** Slots per signature (default 128), 1 … 65,536. */
  numPerm?: number
  /** Seed of the hash functions (default 1), a safe non-negative integer. Signatures compare only under equal seeds. */
  seed?: number
  /**
   * `'oph'` (default): one-permutation hashing with optimal densification, O(|S| + numPerm).
   * `'classic'`: numPerm universal hashes mod 2^61 − 1, O(|S| · numPerm).
   * `'datasketch'`: bit-identical to Python datasketch's `MinHash(num_perm, seed)` over the same
   * tokens (SHA-1 token hash, NumPy permutations), to reuse stored signatures.
   */
  scheme?: 'oph' | 'classic' | 'datasketch'
  /**
   * Shingles: `'word'` (default) n-grams of Unicode-lowercased words, or `'char'` n-grams of
   * the normalised text. A text shorter than `ngram` is one shingle of everything it has.
   */
  shingle?: 'word' | 'char'
  /** Shingle length in words or characters (default 5), 1 … 1,024. */
  ngram?: number
}

/** Options of batch signing. */
export interface SignOptions extends AsyncOptions {
  /** Worker threads (default: one per core). */
  threads?: number
}

const hasherSchema = z.strictObject({
  numPerm: positiveInt(65_536).default(128),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(1),
  scheme: z.enum(['oph', 'classic', 'datasketch']).default('oph'),
  shingle: z.enum(['word', 'char']).default('word'),
  ngram: positiveInt(1024).default(5),
})

const signSchema = z.strictObject({
  threads: positiveInt(1024).optional(),
  signal: z.instanceof(AbortSignal).optional(),
})

function checkTexts(texts: unknown, name = 'texts'): string[] {
  if (!Array.isArray(texts)) throw invalidType(`${name} must be an array of strings`)
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== 'string') throw invalidType(`${name}[${i}] must be a string (got ${typeof texts[i]})`)
  }
  return texts
}

function checkTokenSets(sets: unknown): string[][] {
  if (!Array.isArray(sets)) throw invalidType('tokenSets must be an array of string arrays')
  sets.forEach((s, i) => checkTexts(s, `tokenSets[${i}]`))
  return sets as string[][]
}

/** Validates hasher options and fills the defaults (shared with `dedup`). */
export function parseHasherOptions(options: MinHasherOptions): Required<MinHasherOptions> {
  return parseOptions(hasherSchema, options, 'MinHasher options')
}

/**
 * Computes MinHash signatures of many texts at once, in parallel; a batch crosses the JS
 * boundary once. Signatures are rows of one flat `Uint32Array` (`n × numPerm`).
 *
 * @example
 * ```ts
 * const hasher = new MinHasher({ numPerm: 128, ngram: 5 })
 * const sigs = await hasher.sign(texts)
 * const a = hasher.row(sigs, 0), b = hasher.row(sigs, 1)
 * jaccard(a, b) // ≈ Jaccard similarity of their 5-word shingle sets
 * ```
 */
export class MinHasher {
  readonly #native: NativeMinHasher
  /** The options in use (defaults filled in). */
  readonly options: Readonly<Required<MinHasherOptions>>

  constructor(options: MinHasherOptions = {}) {
    this.options = parseHasherOptions(options)
    this.#native = callNative(() => new NativeMinHasher(this.options))
  }

  /** Slots per signature. */
  get numPerm(): number {
    return this.options.numPerm
  }

  /** Signs `texts` on the libuv pool; row i of the result is `texts[i]`'s signature. */
  async sign(texts: readonly string[], options: SignOptions = {}): Promise<Uint32Array> {
    const o = parseOptions(signSchema, options, 'sign options')
    const t = checkTexts(texts)
    const signal = checkSignal(o.signal)
    return callNativeAsync(() => this.#native.sign(t, o.threads, signal))
  }

  /** Synchronous twin of {@link MinHasher.sign} (still parallel). */
  signSync(texts: readonly string[], options: Omit<SignOptions, 'signal'> = {}): Uint32Array {
    const o = parseOptions(signSchema, options, 'sign options')
    const t = checkTexts(texts)
    return callNative(() => this.#native.signSync(t, o.threads))
  }

  /** Signs sets of tokens you shingled yourself (each token is one set element). */
  async signTokens(tokenSets: readonly (readonly string[])[], options: SignOptions = {}): Promise<Uint32Array> {
    const o = parseOptions(signSchema, options, 'signTokens options')
    const sets = checkTokenSets(tokenSets)
    const signal = checkSignal(o.signal)
    return callNativeAsync(() => this.#native.signTokens(sets, o.threads, signal))
  }

  /** Synchronous twin of {@link MinHasher.signTokens}. */
  signTokensSync(tokenSets: readonly (readonly string[])[], options: Omit<SignOptions, 'signal'> = {}): Uint32Array {
    const o = parseOptions(signSchema, options, 'signTokens options')
    const sets = checkTokenSets(tokenSets)
    return callNative(() => this.#native.signTokensSync(sets, o.threads))
  }

  /** The shingles of `text` under these options (to inspect what is being compared). */
  shingles(text: string): string[] {
    if (typeof text !== 'string') throw invalidType('text must be a string')
    return callNative(() => this.#native.shingles(text))
  }

  /** Row `i` of a flat batch of signatures (a view, no copy). */
  row(signatures: Uint32Array, i: number): Uint32Array {
    const n = this.numPerm
    checkInt(i, 'i', 0, Math.floor(signatures.length / n) - 1)
    return signatures.subarray(i * n, (i + 1) * n)
  }
}

function checkSignature(sig: unknown, name: string): Uint32Array {
  if (!(sig instanceof Uint32Array)) throw invalidType(`${name} must be a Uint32Array signature`)
  return sig
}

/** Estimated Jaccard similarity of two signatures: the fraction of equal slots. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  checkSignature(a, 'a')
  checkSignature(b, 'b')
  if (a.length !== b.length || a.length === 0) throw invalidRange(`signatures must have the same non-zero length (got ${a.length} and ${b.length})`)
  return callNative(() => minhashJaccard(a, b))
}

/**
 * Keeps the lowest `bits` (1 … 16) bits of every slot of a flat batch of signatures, packed:
 * `numPerm · bits / 8` bytes per signature instead of `4 · numPerm` (b-bit minwise hashing).
 */
export function bBitCompact(signatures: Uint32Array, numPerm: number, bits: number): Uint8Array {
  checkSignature(signatures, 'signatures')
  checkInt(numPerm, 'numPerm', 1, 65_536)
  checkInt(bits, 'bits', 1, 16)
  if (signatures.length % numPerm !== 0) throw invalidRange(`signatures holds ${signatures.length} slots, not a multiple of numPerm ${numPerm}`)
  return callNative(() => minhashBbitCompact(signatures, numPerm, bits))
}

/**
 * Jaccard estimate of two b-bit signatures from {@link bBitCompact}, corrected for the
 * 2^-bits chance that different minima agree in their low bits (Li & König 2010).
 */
export function bBitJaccard(a: Uint8Array, b: Uint8Array, numPerm: number, bits: number): number {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw invalidType('a and b must be Uint8Array b-bit signatures')
  checkInt(numPerm, 'numPerm', 1, 65_536)
  checkInt(bits, 'bits', 1, 16)
  return callNative(() => minhashBbitJaccard(a, b, numPerm, bits))
}

/** Bands × rows for LSH. */
export interface BandsRows {
  bands: number
  rows: number
}

/**
 * datasketch's choice of bands × rows (≤ numPerm) for a Jaccard `threshold`: the one minimising
 * `weights[0]`·false-positive area + `weights[1]`·false-negative area under the S-curve.
 */
export function optimalBandsRows(threshold: number, numPerm: number, weights: readonly [number, number] = [0.5, 0.5]): BandsRows {
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw invalidRange(`threshold must be in (0, 1) (got ${threshold})`)
  checkInt(numPerm, 'numPerm', 2, 65_536)
  const [fp, fn] = checkWeights(weights)
  return callNative(() => minhashOptimalParams(threshold, numPerm, fp, fn))
}

/** Validates LSH `weights` (two non-negative numbers summing to 1). */
export function checkWeights(weights: unknown): [number, number] {
  if (!Array.isArray(weights) || weights.length !== 2 || !weights.every((w) => typeof w === 'number' && w >= 0 && Number.isFinite(w))) {
    throw invalidType('weights must be [falsePositiveWeight, falseNegativeWeight], two non-negative numbers')
  }
  if (Math.abs(weights[0] + weights[1] - 1) > 1e-9) throw invalidRange(`weights must sum to 1 (got ${weights[0]} + ${weights[1]})`)
  return [weights[0], weights[1]]
}

/**
 * 64-bit band keys of a flat batch of signatures (`n × bands` keys, each salted with its band
 * index), so an external engine (SQL, Spark) can group candidates by equal keys.
 */
export function bandKeys(signatures: Uint32Array, numPerm: number, { bands, rows }: BandsRows, options: { threads?: number } = {}): BigUint64Array {
  checkSignature(signatures, 'signatures')
  checkInt(numPerm, 'numPerm', 1, 65_536)
  checkInt(bands, 'bands', 1, numPerm)
  checkInt(rows, 'rows', 1, numPerm)
  if (bands * rows > numPerm) throw invalidRange(`bands × rows (${bands} × ${rows}) exceeds numPerm ${numPerm}`)
  if (signatures.length % numPerm !== 0) throw invalidRange(`signatures holds ${signatures.length} slots, not a multiple of numPerm ${numPerm}`)
  if (options.threads !== undefined) checkInt(options.threads, 'threads', 1, 1024)
  return callNative(() => minhashBandKeys(signatures, numPerm, bands, rows, options.threads))
}
