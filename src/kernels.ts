/**
 * Free-standing kernels and build information.
 * @module
 */
import * as native from '../binding'
import { callNative, invalidType } from './errors'
import { checkInt } from './validate'

/** What the native addon was built for and which SIMD tier it runs. */
export interface NativeInfo {
  /** Architecture and OS the addon was compiled for, e.g. `x86_64-linux`. */
  target: string
  /** SIMD tier in use: `'avx512'`, `'avx2'`, `'neon'` or `'scalar'`. */
  simd: string
  /** Best tier the CPU supports (the active one may be lower, see {@link setSimdTier}). */
  simdDetected: string
  /** Version of the Rust core. */
  version: string
}

/** Build and CPU information of the native addon. */
export function nativeInfo(): NativeInfo {
  return native.nativeInfo()
}

/**
 * Forces the SIMD tier for the whole process (clamped to what the CPU supports; it can only
 * lower it). For benchmarks and tests; the environment variable `SLIMDEX_SIMD` does the same at
 * start-up. Returns the tier now in use.
 */
export function setSimdTier(tier: 'scalar' | 'neon' | 'avx2' | 'avx512'): string {
  return callNative(() => native.setSimdTier(tier))
}

/** Number of differing bits between two packed codes of equal length (any bit length). */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw invalidType('codes must be Uint8Arrays')
  return callNative(() => native.hammingDistance(a, b))
}

/**
 * Packs `n × dim` floats into sign bits: bit i of a vector is set when x[i] > 0. Each code
 * takes ceil(dim/8) bytes, most significant bit first (NumPy `packbits` order), padding bits 0.
 */
export function packSigns(vectors: Float32Array, dim: number): Uint8Array {
  if (!(vectors instanceof Float32Array)) throw invalidType('vectors must be a Float32Array')
  checkInt(dim, 'dim', 1, 2 ** 31)
  return callNative(() => native.packSigns(vectors, dim))
}
