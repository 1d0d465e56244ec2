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

// composition
export { asRetriever, fromBackend, retrieverFrom, isRetriever, runQueries } from './src/retriever'
export type { Retriever, RetrieverSearchOptions, SearchOptions, SearchBackend, SearchableIndex, Searchable, BinaryRetrieverOptions, MultiVectorRetrieverOptions, IdentifiedQuery } from './src/retriever'
export { HybridRetriever, fuseRankings } from './src/fusion'
export type { HybridPart, HybridOptions, FusionOptions, FusionMethod, ScoreNormalization } from './src/fusion'
export { Pipeline, VectorStore, exactRescorer, chamferRescorer } from './src/pipeline'
export type { RescoreStage, StageScores, PipelineOptions, ExactRescoreOptions, ChamferRescoreOptions } from './src/pipeline'
export { evaluate, formatMetrics, rankRun } from './src/eval'
export type { Qrels, Run, MetricName, EvaluateOptions, EvaluationResult, Evaluation } from './src/eval'
export { loadBeir, readBeirCorpus, readBeirQueries, readQrels, readTrecRun, writeTrecRun, formatTrecRun } from './src/beir'
export type { BeirDataset, BeirDocument, BeirQuery, LoadBeirOptions, QrelsMap, TrecRun } from './src/beir'
export {
  readJsonl,
  readLines,
  writeJsonl,
  readNpy,
  parseNpy,
  writeNpy,
  toNpy,
  readFvecs,
  readIvecs,
  readBvecs,
  parseVecs,
  toVecs,
  readVectors,
} from './src/readers'
export type { JsonlRecord, Matrix, NpyArray, VectorFile } from './src/readers'
export { MinHasher, jaccard, bBitCompact, bBitJaccard, optimalBandsRows, bandKeys } from './src/minhash'
export type { MinHasherOptions, SignOptions, BandsRows } from './src/minhash'
export { MinHashLSH, LSHBloom } from './src/lsh'
export type { LshBandOptions, MinHashLSHOptions, LSHBloomOptions, LshMatch, LshPair } from './src/lsh'
export { dedup, exactDuplicatePairs } from './src/dedup'
export type { DedupOptions, DedupResult, ExactPairsOptions } from './src/dedup'
export { FdeEncoder, MultiVectorIndex, chamfer, chamferScores, chamferScoresSync } from './src/multivector'
export type { FdeEncoderOptions, MultiVectorIndexOptions, MultiVectorSearchOptions, PointClouds } from './src/multivector'
