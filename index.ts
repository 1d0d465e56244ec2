/**
 * slimdex: memory-efficient retrieval for Node.js with a Rust core.
 *
 * This file owns the public names; everything else is internal.
 * @module
 */
export { BinaryIndex } from './src/binary'
export type { BinaryIndexOptions, BinarySearchOptions, BinaryBatchOptions } from './src/binary'
export { hammingDistance, packSigns, nativeInfo, setSimdTier, inspectIndex } from './src/kernels'
export type { NativeInfo, IndexFileInfo } from './src/kernels'
export type { Hit, Id, MemoryUsage, AsyncOptions, VectorInput, VectorsInput } from './src/types'
export type { SlimdexError, SlimdexErrorCode } from './src/errors'
export { MinHasher, jaccard, bBits, bBitsJaccard, optimalParams, collisionProbability, bandKeys, exactPairs } from './src/minhash'
export type { MinHasherOptions, MinHashScheme, ShingleKind, SignOptions, BBitOptions, BandsRows, PairColumns } from './src/minhash'
export { MinHashLSH, LSHBloom } from './src/lsh'
export type { BandingOptions, MinHashLSHOptions, LSHBloomOptions, LSHMatch, LSHPair, Verify } from './src/lsh'
export { dedup, dedupSync } from './src/dedup'
export type { DedupOptions, DedupResult } from './src/dedup'
