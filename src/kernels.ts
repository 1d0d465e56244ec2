/**
 * Free-standing kernels and build information.
 * @module
 */
import * as native from '../binding'
import { callNative, invalidRange, invalidType } from './errors'
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

/** Below this many bytes a pair is counted in JS: an N-API crossing (~150 ns) costs more than the count. */
const NATIVE_HAMMING_MIN_BYTES = 64

/** Bits set in each byte value. */
const POPCOUNT8 = Uint8Array.from({ length: 256 }, (_, v) => {
  let c = 0
  for (let x = v; x; x &= x - 1) c++
  return c
})

/**
 * Number of differing bits between two packed codes of equal length (any bit length).
 * Codes of 64 bytes or more are counted by the native SIMD kernel; shorter ones in JS,
 * which is faster than crossing into native code for a single short pair.
 */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw invalidType('codes must be Uint8Arrays')
  if (a.length !== b.length) throw invalidRange(`codes have different lengths (${a.length} and ${b.length} bytes)`)
  if (a.length >= NATIVE_HAMMING_MIN_BYTES) return callNative(() => native.hammingDistance(a, b))
  let d = 0
  for (let i = 0; i < a.length; i++) d += POPCOUNT8[a[i] ^ b[i]]
  return d
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

/** What a saved index holds: its kind, format version and the size of each section. */
export interface IndexFileInfo {
  /** The index class that wrote it, e.g. `'BinaryIndex'`. */
  kind: string
  /** Container format version. */
  formatVersion: number
  /** Total size in bytes. */
  bytes: number
  /** Size of the kind-specific parameter block, in bytes. */
  paramsBytes: number
  /** Every section with its payload size in bytes (e.g. `CODE` for binary codes). */
  sections: Array<{
    /** Four-character section tag, e.g. `CODE`, `IDS_`. */
    tag: string
    /** Section length in bytes. */
    bytes: number
  }>
}

/**
 * Validates a saved index (magic, version, every length and checksum) without loading it,
 * and describes it. Accepts a path or the bytes of `toBuffer()`. Throws
 * `ERR_SLIMDEX_CORRUPT_FILE` for anything that is not a valid slimdex file.
 */
export function inspectIndex(source: string | Uint8Array): IndexFileInfo {
  if (typeof source === 'string') return callNative(() => native.inspectIndexFile(source))
  if (source instanceof Uint8Array) return callNative(() => native.inspectIndexBuffer(source))
  throw invalidType('inspectIndex takes a path or a Uint8Array')
}
