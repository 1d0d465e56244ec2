/**
 * slimdex: memory-efficient retrieval for Node.js with a Rust core.
 *
 * This file owns the public names; everything else is internal.
 * @module
 */
export { BinaryIndex } from './src/binary'
export type { BinaryIndexOptions, BinarySearchOptions, BinaryBatchOptions } from './src/binary'
export { PQIndex, ProductQuantizer } from './src/pq'
export type { DenseMetric, PQIndexOptions, PQSearchOptions, PQBatchOptions, ProductQuantizerOptions } from './src/pq'
export { FlatIndex } from './src/flat'
export type { FlatIndexOptions, FlatBatchOptions } from './src/flat'
export { hammingDistance, packSigns, nativeInfo, setSimdTier, inspectIndex } from './src/kernels'
export type { NativeInfo, IndexFileInfo } from './src/kernels'
export type { Hit, Id, MemoryUsage, AsyncOptions, VectorInput, VectorsInput } from './src/types'
export type { SlimdexError, SlimdexErrorCode } from './src/errors'
