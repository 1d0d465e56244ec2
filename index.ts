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
export type { LongTaskOptions } from './src/progress'
export type { SlimdexError, SlimdexErrorCode } from './src/errors'

// composition
export { asRetriever, filterPredicate, fromBackend, isRetriever, runQueries } from './src/retriever'
export type { Retriever, RetrieverSearchOptions, SearchBackend, SearchableIndex, BinaryRetrieverOptions, PQRetrieverOptions, FlatRetrieverOptions, MultiVectorRetrieverOptions, SparseRetrieverOptions, BM25RetrieverOptions, IdFilter, IdentifiedQuery } from './src/retriever'
export { HybridRetriever, fuseRankings } from './src/fusion'
export type { HybridPart, HybridOptions, FusionOptions, FusionMethod, ScoreNormalization } from './src/fusion'
export { Pipeline, VectorStore, exactRescorer, chamferRescorer } from './src/pipeline'
export type { RescoreStage, StageScores, PipelineOptions, ExactRescoreOptions, ChamferRescoreOptions } from './src/pipeline'
export { evaluate, formatMetrics, rankRun } from './src/eval'
export type { Qrels, Run, MetricName, EvaluateOptions, EvaluationResult } from './src/eval'
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
export type { JsonlRecord, Matrix, NpyArray } from './src/readers'

export { MinHasher, jaccard, bBits, bBitsJaccard, optimalParams, collisionProbability, bandKeys, exactPairs, packTokenSets } from './src/minhash'
export { signatureFamily } from './src/signature-family'
export type { SignatureFamily } from './src/signature-family'
export type { MinHasherOptions, MinHashScheme, ShingleKind, SignOptions, BBitOptions, BandsRows, PairColumns, PackedTokenSets } from './src/minhash'
export { MinHashLSH, LSHBloom } from './src/lsh'
export type { BandingOptions, MinHashLSHOptions, LSHBloomOptions, LSHMatch, LSHPair, Verify } from './src/lsh'
export { dedup, dedupSync } from './src/dedup'
export type { DedupOptions, DedupResult } from './src/dedup'
export { FdeEncoder, chamfer, chamferRerank, chamferRerankSync } from './src/muvera'
export type { FdeEncoderOptions, EncodeBatchOptions, ChamferOptions, ChamferRerankOptions, PointClouds, PointCloudsInput, TokensInput } from './src/muvera'
export { MultiVectorIndex } from './src/multivector'
export type { MultiVectorIndexOptions, MultiVectorSearchOptions, MultiVectorBatchOptions, MultiVectorAddOptions, CandidateOptions, ResolvedMultiVectorOptions, FdePqOptions } from './src/multivector'
export { Tokenizer, STEMMER_LANGUAGES } from './src/tokenizer'
export type { TokenizerOptions } from './src/tokenizer'
export { BM25Index } from './src/bm25'
export { BM25Results } from './src/bm25-results'
export type { BM25Options, TextDocument, SparseSearchOptions, SparseBatchOptions } from './src/bm25'
export { SparseIndex } from './src/sparse'
export type { SparseIndexOptions, SparseDocument, SparseVectorInput } from './src/sparse'
