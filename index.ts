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
export type { LongTaskOptions } from './src/progress'
export type { SlimdexError, SlimdexErrorCode } from './src/errors'
