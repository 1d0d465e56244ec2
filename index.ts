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

export { evaluate } from './src/eval'
export type { EvaluateOptions, Evaluation, MetricName, Qrels, Run } from './src/eval'
export { loadBeir } from './src/beir'
export type { BeirDataset, BeirDocument, BeirQuery, LoadBeirOptions } from './src/beir'
export { readQrels, readRun, writeRun } from './src/trec'
export type { QrelsMap } from './src/trec'
export { readBvecs, readFvecs, readIvecs, readJsonl, readNpy } from './src/readers'
export type { JsonlRecord, VectorFile } from './src/readers'
export { asRetriever, retrieverFrom } from './src/retriever'
export type { Retriever, SearchOptions, Searchable } from './src/retriever'
export { HybridRetriever, fuse } from './src/fusion'
export type { HybridOptions, HybridPart } from './src/fusion'
export { Pipeline, exactRescorer } from './src/pipeline'
export type { ExactRescorerOptions, PipelineOptions, PipelineStage, Rescorer } from './src/pipeline'
export { MinHasher, jaccard, bBitCompact, bBitJaccard, optimalBandsRows, bandKeys } from './src/minhash'
export type { MinHasherOptions, SignOptions, BandsRows } from './src/minhash'
export { MinHashLSH, LSHBloom } from './src/lsh'
export type { LshBandOptions, MinHashLSHOptions, LSHBloomOptions, LshMatch, LshPair } from './src/lsh'
export { dedup, exactDuplicatePairs } from './src/dedup'
export type { DedupOptions, DedupResult, ExactPairsOptions } from './src/dedup'
export { FdeEncoder, chamfer, chamferRerank, chamferRerankSync } from './src/muvera'
export type { FdeEncoderOptions, EncodeBatchOptions, ChamferOptions, ChamferRerankOptions, PointClouds, PointCloudsInput, TokensInput } from './src/muvera'
export { MultiVectorIndex } from './src/multivector'
export type { MultiVectorIndexOptions, MultiVectorSearchOptions, MultiVectorBatchOptions, MultiVectorAddOptions, CandidateOptions, ResolvedMultiVectorOptions } from './src/multivector'
