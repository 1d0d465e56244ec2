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
export { Tokenizer, STEMMER_LANGUAGES } from './src/tokenizer'
export type { TokenizerOptions } from './src/tokenizer'
export { BM25Index } from './src/bm25'
export type { BM25Options, TextDocument, SparseSearchOptions, SparseBatchOptions } from './src/bm25'
export { SparseIndex } from './src/sparse'
export type { SparseIndexOptions, SparseDocument, SparseVectorInput } from './src/sparse'
