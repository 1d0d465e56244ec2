/**
 * The `slimdex` command line: build an index from vectors or documents on disk, search it,
 * evaluate a run against qrels, describe an index file, run the benchmarks.
 *
 * Exit codes: 0 success, 1 a file or the data in it is wrong (the message names the file and,
 * for line-oriented formats, the line), 2 wrong usage (unknown command or option, missing argument).
 * Results go to stdout; progress (only on a TTY, never with `--quiet`) and errors to stderr.
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { BinaryIndex } from './binary'
import { BM25Index } from './bm25'
import { MultiVectorIndex } from './multivector'
import type { FdePqOptions } from './multivector'
import { PQIndex } from './pq'
import { SparseIndex } from './sparse'
import type { SparseVectorInput } from './sparse'
import { dedup } from './dedup'
import { formatTrecRun, readBeirCorpus, readBeirQueries, readQrels, readTrecRun } from './beir'
import type { BeirQuery } from './beir'
import { evaluate, formatMetrics } from './eval'
import { inspectIndex, nativeInfo } from './kernels'
import type { IndexFileInfo } from './kernels'
import { ioError, parseError, parseNpyUint32, readBytes, readJsonl, readLines, readVectors } from './readers'
import type { Matrix } from './readers'
import { asRetriever } from './retriever'
import type { Retriever } from './retriever'
import type { Hit, Id, MemoryUsage } from './types'

/** Where the CLI writes; tests pass their own. */
export interface CliIO {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** Whether stderr is a terminal (progress is shown only then). */
  stderrIsTTY: boolean
}

class UsageError extends Error {}

const VERSION = '0.1.0'

const HELP = `slimdex — memory-efficient retrieval

Usage: slimdex <command> [options]

Commands:
  index   --kind <kind> --input <file> --output <index>   build an index and save it
          kinds: binary (vectors: .npy/.fvecs/JSONL), bm25 (BEIR corpus.jsonl; --method --k1 --b),
                 sparse (JSONL {"_id", "terms": {term: weight}} or {"_id", "indices", "values"}; --block-size),
                 pq (vectors like binary; --m <sub-quantizers> --nbits 4|8 --ivf-lists <n> --metric l2|ip|cosine
                 --rescore none|float32),
                 multivector (token sets: JSONL {"_id", "tokens": [[...], ...]}, or a .npy/.fvecs token
                 matrix with --offsets <file>: n + 1 token offsets from 0 to the token count, one per line or a 1-D integer .npy;
                 FDE: --repetitions 20 --simhash-bits 5 --projection countsketch|identity|dense
                 --projection-dim 16 --final-dim <d> --seed 42; --storage f16|f32|int8 --fde-storage f16|f32|pq,
                 with pq: --m <sub-quantizers> --nbits 8|4)
          input: .npy (float32, C order), .fvecs, .bvecs, or .jsonl with {"_id", "vector": [...]}
          --ids <file>          one id per line for .npy/.fvecs/.bvecs rows (default 0, 1, 2, …)
          --rescore <mode>      binary: none | asymmetric | int8 | float32 (default asymmetric)
          --metric <m>          binary: ip | cosine (default ip)
          --threshold <t>       binary: zero | mean (default zero)
  search  --index <index> --queries <file> [-k 10] [--output run.trec]
          queries: .npy/.fvecs/.bvecs (ids 0, 1, … or --query-ids <file>) or .jsonl {"_id", "vector"};
          sparse indexes take JSONL {"_id", "terms"} (or "indices"/"values");
          text indexes (bm25) take BEIR queries.jsonl {"_id", "text"};
          multivector indexes take token sets like their input (.npy/.fvecs with --query-offsets)
          --candidates <n>      binary / pq / multivector: candidates to rescore;  --nprobe <n>  pq with IVF
          --mode <m>            multivector: muvera (default) | bruteforce | singlevector
          prints a TREC run (qid Q0 docid rank score slimdex) unless --output or --json
  eval    --run <run.trec> --qrels <qrels.tsv | BEIR dir> [--metrics ndcg@10,recall@100,mrr@10,map]
          [--split test] [--missing skip|zero]
  info    <index>                                   kind, parameters, size by component
  dedup   --input <file.jsonl> [--field text] | <text files…>   near-duplicates (--threshold --ngram --mode lsh|bloom, --output clusters.jsonl)
  bench   [suite ...] [--smoke]                      run benches/run.mjs (repository checkout only)

Global options: --json (machine-readable stdout), --quiet (no progress), --help, --version
Exit codes: 0 ok, 1 bad file or data (the message names the file), 2 bad usage`

/** A progress line on stderr, shown only on a TTY and without --quiet. */
class Progress {
  #last = 0
  constructor(
    private readonly io: CliIO,
    private readonly enabled: boolean,
  ) {}

  update(label: string, done: number, total: number): void {
    if (!this.enabled) return
    const now = Date.now()
    if (done < total && now - this.#last < 100) return
    this.#last = now
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100
    const width = 24
    const fill = Math.round((width * pct) / 100)
    this.io.stderr.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${pct}% (${done}/${total})`)
    if (done >= total) this.io.stderr.write('\n')
  }
}

interface Context {
  io: CliIO
  json: boolean
  quiet: boolean
  progress: Progress
}

// ---- index kinds -------------------------------------------------------------------------

/** A loaded index as the CLI sees it. */
interface LoadedIndex {
  retriever: Retriever<unknown>
  /** What a query is: a float vector of `dim`, a token set of `dim`-vectors, a text, or sparse term weights. */
  query: { type: 'vector'; dim: number } | { type: 'tokens'; dim: number } | { type: 'text' } | { type: 'sparse' }
  size: number
  parameters: Record<string, unknown>
  memoryUsage(): MemoryUsage
}

/**
 * One index kind of the CLI: `build` reads the input (vectors via readInputVectors, token sets
 * via readInputTokens, sparse records, or a BEIR corpus.jsonl via readBeirCorpus for text
 * kinds), `load` returns the index as a Retriever with its query type, parameters and memory.
 */
interface IndexKind {
  /** `IndexFileInfo.kind` of its saved files. */
  fileKind: string
  build(values: Record<string, string | boolean | undefined>, ctx: Context): Promise<{ size: number; save(path: string): Promise<void> }>
  load(path: string, values: Record<string, string | boolean | undefined>): Promise<LoadedIndex>
}

const BM25_METHODS = ['lucene', 'robertson', 'atire', 'bm25l', 'bm25+'] as const

/** Sparse records of a JSONL file: {"_id", "terms": {term: weight}} or {"_id", "indices", "values"}. */
async function readSparseRecords(path: string, values: Record<string, string | boolean | undefined>): Promise<Array<{ id: string; vector: SparseVectorInput }>> {
  const out: Array<{ id: string; vector: SparseVectorInput }> = []
  const field = (values['terms-field'] as string | undefined) ?? 'terms'
  for await (const { value, line } of readJsonl(path)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw parseError(path, 'expected a JSON object', line)
    const r = value as Record<string, unknown>
    const id = recordId(r, path, line, values['id-field'] as string | undefined)
    const terms = r[field]
    if (terms !== undefined) {
      if (terms === null || typeof terms !== 'object' || Array.isArray(terms) || !Object.values(terms).every((w) => typeof w === 'number' && Number.isFinite(w))) {
        throw parseError(path, `"${field}" must be an object of term → finite weight`, line)
      }
      out.push({ id, vector: { terms: terms as Record<string, number> } })
    } else if (Array.isArray(r.indices) && Array.isArray(r.values)) {
      out.push({ id, vector: { indices: r.indices as number[], values: r.values as number[] } })
    } else {
      throw parseError(path, `needs "${field}" ({term: weight}) or "indices" and "values"`, line)
    }
  }
  return out
}

/** MUVERA FDE options from the command line (undefined: the library default). */
function fdeOptions(values: Record<string, string | boolean | undefined>): Record<string, number | string> {
  const out: Record<string, number | string> = {}
  const ints: Array<[string, string, number]> = [
    ['repetitions', 'repetitions', 1],
    ['simhash-bits', 'simhashBits', 0],
    ['projection-dim', 'projectionDim', 1],
    ['final-dim', 'finalDim', 1],
    ['seed', 'seed', 0],
  ]
  for (const [flag, key, min] of ints) {
    const v = values[flag] as string | undefined
    if (v !== undefined) out[key] = min === 0 ? parseNonNegativeInt(v, flag) : parsePositiveInt(v, flag)
  }
  if (values.projection !== undefined) out.projection = values.projection as string
  return out
}

const KINDS: Record<string, IndexKind> = {
  multivector: {
    fileKind: 'MultiVectorIndex',
    async build(values, ctx) {
      const input = requireString(values, 'input')
      const docs = await readInputTokens(input, values, 'ids', 'offsets')
      if (docs.count === 0) throw parseError(input, 'no documents to index')
      let index: MultiVectorIndex
      try {
        index = new MultiVectorIndex({
          dim: docs.dim,
          fde: fdeOptions(values),
          ...(values.storage === undefined ? {} : { storage: values.storage as 'f32' | 'f16' | 'int8' }),
          ...(values['fde-storage'] === undefined ? {} : { fdeStorage: values['fde-storage'] as 'f32' | 'f16' | 'pq' }),
          ...(values['fde-storage'] === 'pq' ? { pq: fdePqOptions(values) } : {}),
        })
      } catch (e) {
        // Option values the flags' own checks let through (e.g. --simhash-bits 31): bad usage.
        if ((e as { code?: string }).code === 'ERR_SLIMDEX_INVALID_ARG') throw new UsageError((e as Error).message)
        throw e
      }
      await onFile(input, () => index.add(docs.ids, docs.tokens, docs.offsets, { onProgress: (done, total) => ctx.progress.update('encoding', done, total) }))
      return { size: index.size, save: (path) => index.save(path) }
    },
    async load(path, values) {
      const index = await MultiVectorIndex.load(path)
      const candidates = values.candidates === undefined ? undefined : parsePositiveInt(values.candidates as string, 'candidates')
      const mode = values.mode as 'muvera' | 'bruteforce' | 'singlevector' | undefined
      return {
        retriever: asRetriever(index, { ...(candidates === undefined ? {} : { candidates }), ...(mode === undefined ? {} : { mode }) }) as Retriever<unknown>,
        query: { type: 'tokens', dim: index.dim },
        size: index.size,
        parameters: { ...index.options.fde, tokens: index.tokenCount, fdeDim: index.fdeDim, storage: index.options.storage, fdeStorage: index.options.fdeStorage, ...(index.options.pq ? { pq: index.options.pq } : {}) },
        memoryUsage: () => index.memoryUsage(),
      }
    },
  },
  pq: {
    fileKind: 'PQIndex',
    async build(values, ctx) {
      const input = requireString(values, 'input')
      const m = values.m === undefined ? undefined : parsePositiveInt(values.m as string, 'm')
      if (m === undefined) throw new UsageError('--kind pq needs --m <sub-quantizers> (a divisor of the dimension)')
      const nbits = values.nbits === undefined ? 8 : Number(values.nbits)
      if (nbits !== 4 && nbits !== 8) throw new UsageError(`--nbits must be 4 or 8 (got ${JSON.stringify(values.nbits)})`)
      const lists = values['ivf-lists'] === undefined ? undefined : parsePositiveInt(values['ivf-lists'] as string, 'ivf-lists')
      const vectors = await readInputVectors(input, values)
      if (vectors.count === 0) throw parseError(input, 'no vectors to index')
      const index = await onFile(input, () =>
        PQIndex.train(vectors.data, {
          dim: vectors.dim,
          m,
          nbits,
          metric: (values.metric as 'l2' | 'ip' | 'cosine' | undefined) ?? 'l2',
          ...(lists === undefined ? {} : { ivf: { lists } }),
          ...(values.rescore === 'float32' ? { rescore: 'float32' as const } : {}),
        }),
      )
      const chunk = 8192
      for (let at = 0; at < vectors.count; at += chunk) {
        const end = Math.min(vectors.count, at + chunk)
        await index.add(vectors.ids?.slice(at, end), vectors.data.subarray(at * vectors.dim, end * vectors.dim))
        ctx.progress.update('indexing', end, vectors.count)
      }
      return { size: index.size, save: (path) => index.save(path) }
    },
    async load(path, values) {
      const index = await PQIndex.load(path)
      const candidates = values.candidates === undefined ? undefined : parsePositiveInt(values.candidates as string, 'candidates')
      const nprobe = values.nprobe === undefined ? undefined : parsePositiveInt(values.nprobe as string, 'nprobe')
      return {
        retriever: asRetriever(index, { ...(candidates === undefined ? {} : { candidates }), ...(nprobe === undefined ? {} : { nprobe }) }) as Retriever<unknown>,
        query: { type: 'vector', dim: index.dim },
        size: index.size,
        parameters: { ...index.options },
        memoryUsage: () => index.memoryUsage(),
      }
    },
  },
  sparse: {
    fileKind: 'SparseIndex',
    async build(values) {
      const input = requireString(values, 'input')
      const records = await readSparseRecords(input, values)
      if (records.length === 0) throw parseError(input, 'no documents to index')
      const blockSize = values['block-size'] === undefined ? undefined : parsePositiveInt(values['block-size'] as string, 'block-size')
      type Numeric = { indices: readonly number[]; values: readonly number[] }
      const docs = records.map(({ id, vector }) =>
        'indices' in vector && Array.isArray(vector.indices)
          ? { id, indices: (vector as Numeric).indices, values: (vector as Numeric).values }
          : { id, terms: (vector as { terms: Record<string, number> }).terms },
      )
      const index = await onFile(input, () => SparseIndex.build(docs, blockSize === undefined ? {} : { blockSize }))
      return { size: index.size, save: (path) => index.save(path) }
    },
    async load(path) {
      const index = await SparseIndex.load(path)
      return {
        retriever: asRetriever(index) as Retriever<unknown>,
        query: { type: 'sparse' },
        size: index.size,
        parameters: { postings: index.postings, blockSize: index.blockSize, segments: index.segments, deleted: index.deleted },
        memoryUsage: () => index.memoryUsage(),
      }
    },
  },
  bm25: {
    fileKind: 'BM25Index',
    async build(values, ctx) {
      // A BEIR corpus.jsonl ({"_id", "title"?, "text"}); title and text are indexed together.
      const input = requireString(values, 'input')
      const docs: Array<{ id: string; text: string }> = []
      for await (const d of readBeirCorpus(input)) {
        docs.push({ id: d.id, text: d.title ? `${d.title} ${d.text}` : d.text })
        if (docs.length % 10_000 === 0) ctx.progress.update('reading', docs.length, Number.NaN)
      }
      if (docs.length === 0) throw parseError(input, 'no documents to index')
      const method = (values.method as (typeof BM25_METHODS)[number] | undefined) ?? 'lucene'
      const num = (name: string) => (values[name] === undefined ? undefined : Number(values[name]))
      const index = await BM25Index.build(docs, { method, k1: num('k1'), b: num('b') })
      return { size: index.size, save: (path) => index.save(path) }
    },
    async load(path) {
      const index = await BM25Index.load(path)
      return {
        retriever: asRetriever(index) as Retriever<unknown>,
        query: { type: 'text' },
        size: index.size,
        parameters: { vocabulary: index.vocabularySize, segments: index.segments, deleted: index.deleted, ...index.options },
        memoryUsage: () => index.memoryUsage(),
      }
    },
  },
  binary: {
    fileKind: 'BinaryIndex',
    async build(values, ctx) {
      const input = requireString(values, 'input')
      const vectors = await readInputVectors(input, values)
      const options = {
        dim: vectors.dim,
        rescore: (values.rescore as 'none' | 'asymmetric' | 'int8' | 'float32' | undefined) ?? 'asymmetric',
        metric: (values.metric as 'ip' | 'cosine' | undefined) ?? 'ip',
        threshold: (values.threshold as 'zero' | 'mean' | undefined) ?? 'zero',
      }
      const index = new BinaryIndex(options)
      if (vectors.count === 0) throw parseError(input, 'no vectors to index')
      // Learn threshold / int8 scales from everything, then add in chunks to report progress.
      if (options.threshold === 'mean' || options.rescore === 'int8') index.fit(vectors.data)
      const chunk = 8192
      for (let at = 0; at < vectors.count; at += chunk) {
        const end = Math.min(vectors.count, at + chunk)
        await index.add(vectors.ids?.slice(at, end), vectors.data.subarray(at * vectors.dim, end * vectors.dim))
        ctx.progress.update('indexing', end, vectors.count)
      }
      return { size: index.size, save: (path) => index.save(path) }
    },
    async load(path, values) {
      const index = await BinaryIndex.load(path)
      const candidates = values.candidates === undefined ? undefined : parsePositiveInt(values.candidates as string, 'candidates')
      return {
        retriever: asRetriever(index, candidates === undefined ? {} : { candidates }) as Retriever<unknown>,
        query: { type: 'vector', dim: index.dim },
        size: index.size,
        parameters: { ...index.options },
        memoryUsage: () => index.memoryUsage(),
      }
    },
  },
}

function kindOfFile(info: IndexFileInfo, path: string): IndexKind {
  const kind = Object.values(KINDS).find((k) => k.fileKind === info.kind)
  if (!kind) throw Object.assign(new Error(`${path}: a ${info.kind} file; this version of the CLI cannot search it yet`), { exitCode: 1 })
  return kind
}

// ---- inputs ------------------------------------------------------------------------------

interface InputVectors extends Matrix<Float32Array> {
  ids?: Id[]
}

async function readIdFile(path: string, count: number): Promise<string[]> {
  const ids: string[] = []
  for await (const { text } of readLines(path)) ids.push(text.trim())
  if (ids.length !== count) throw parseError(path, `has ${ids.length} ids but there are ${count} vectors`)
  return ids
}

function recordId(r: Record<string, unknown>, file: string, line: number, field: string | undefined): string {
  const v = field ? r[field] : (r._id ?? r.id)
  if (typeof v === 'string' && v.length > 0) return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  throw parseError(file, `missing id (field ${field ? JSON.stringify(field) : '"_id" or "id"'})`, line)
}

/** Vectors from .npy/.fvecs/.bvecs (ids from --ids or 0…n−1) or JSONL {"_id", "vector"}. */
async function readInputVectors(path: string, values: Record<string, string | boolean | undefined>, idOption = 'ids'): Promise<InputVectors> {
  const ext = extname(path).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson') {
    const field = (values['vector-field'] as string | undefined) ?? 'vector'
    const ids: Id[] = []
    const rows: number[][] = []
    let dim = -1
    for await (const { value, line } of readJsonl(path)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw parseError(path, 'expected a JSON object', line)
      const r = value as Record<string, unknown>
      const v = r[field]
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw parseError(path, `"${field}" must be a non-empty array of finite numbers`, line)
      }
      if (dim === -1) dim = v.length
      else if (v.length !== dim) throw parseError(path, `"${field}" has ${v.length} values, earlier lines had ${dim}`, line)
      ids.push(recordId(r, path, line, values['id-field'] as string | undefined))
      rows.push(v as number[])
    }
    if (dim === -1) throw parseError(path, 'no records')
    const data = new Float32Array(rows.length * dim)
    rows.forEach((row, i) => data.set(row, i * dim))
    return { data, dim, count: rows.length, ids }
  }
  if (ext !== '.npy' && ext !== '.fvecs' && ext !== '.bvecs') {
    throw new UsageError(`${path}: unsupported input extension ${JSON.stringify(ext)} (expected .npy, .fvecs, .bvecs or .jsonl)`)
  }
  const m: InputVectors = await readVectors(path)
  const idFile = values[idOption] as string | undefined
  if (idFile) m.ids = await readIdFile(idFile, m.count)
  return m
}

/** Token sets in CSR form, as the multi-vector index takes them. */
interface InputTokens {
  tokens: Float32Array
  offsets: Uint32Array
  /** Token dimension. */
  dim: number
  /** Number of token sets. */
  count: number
  ids?: Id[]
}

/**
 * n + 1 token offsets, checked against the token count: a `.npy` of integers (1-D, int32/int64,
 * e.g. from `np.cumsum`) or a text file with one integer per line.
 */
async function readOffsetsFile(path: string, tokens: number): Promise<Uint32Array> {
  if (extname(path).toLowerCase() === '.npy') {
    const offsets = parseNpyUint32(await readBytes(path), path)
    offsets.forEach((v, i) => checkOffset(path, v, i, offsets, undefined))
    return checkLastOffset(path, offsets, tokens)
  }
  const values: number[] = []
  for await (const { text, line } of readLines(path)) {
    const t = text.trim()
    if (t === '') continue
    if (!/^\d+$/.test(t) || Number(t) > 0xffffffff) throw parseError(path, `expected a token offset (an integer ≥ 0), got ${JSON.stringify(t.slice(0, 40))}`, line)
    checkOffset(path, Number(t), values.length, values, line)
    values.push(Number(t))
  }
  return checkLastOffset(path, Uint32Array.from(values), tokens)
}

/** Checks offset `i` (value `v`) against the ones before it; `line` names it in a text file. */
function checkOffset(path: string, v: number, i: number, offsets: ArrayLike<number>, line: number | undefined): void {
  const at = line === undefined ? ` (offset ${i})` : ''
  if (i === 0 && v !== 0) throw parseError(path, `the first offset must be 0 (got ${v})`, line)
  if (i === 0) return
  const prev = offsets[i - 1]
  if (v < prev) throw parseError(path, `offsets must not decrease (${v} after ${prev})${at}`, line)
  if (v === prev) throw parseError(path, `token set ${i - 1} is empty (every set needs at least one token)${at}`, line)
}

function checkLastOffset(path: string, offsets: Uint32Array, tokens: number): Uint32Array {
  if (offsets.length < 2) throw parseError(path, 'needs at least two offsets (0 and the token count)')
  const last = offsets[offsets.length - 1]
  if (last !== tokens) throw parseError(path, `the last offset is ${last} but the token file has ${tokens} tokens`)
  return offsets
}

/**
 * Token sets from JSONL {"_id", "tokens": [[...], ...]} or a .npy/.fvecs/.bvecs token matrix
 * with an offsets file (`--offsets`, or `--query-offsets` for queries) and optional id file.
 */
async function readInputTokens(path: string, values: Record<string, string | boolean | undefined>, idOption: string, offsetsOption: string): Promise<InputTokens> {
  const ext = extname(path).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson') {
    const field = (values['tokens-field'] as string | undefined) ?? 'tokens'
    const ids: Id[] = []
    const rows: number[][][] = []
    let dim = -1
    let total = 0
    for await (const { value, line } of readJsonl(path)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw parseError(path, 'expected a JSON object', line)
      const r = value as Record<string, unknown>
      const set = r[field]
      if (!Array.isArray(set) || set.length === 0) throw parseError(path, `"${field}" must be a non-empty array of token vectors ([[...], ...])`, line)
      for (let j = 0; j < set.length; j++) {
        const v: unknown = set[j]
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
          throw parseError(path, `"${field}"[${j}] must be a non-empty array of finite numbers`, line)
        }
        if (dim === -1) dim = v.length
        else if (v.length !== dim) throw parseError(path, `"${field}"[${j}] has ${v.length} values, earlier tokens had ${dim}`, line)
      }
      ids.push(recordId(r, path, line, values['id-field'] as string | undefined))
      rows.push(set as number[][])
      total += set.length
    }
    if (dim === -1) throw parseError(path, 'no records')
    const tokens = new Float32Array(total * dim)
    const offsets = new Uint32Array(rows.length + 1)
    let at = 0
    rows.forEach((set, i) => {
      for (const v of set) tokens.set(v, (at++) * dim)
      offsets[i + 1] = at
    })
    return { tokens, offsets, dim, count: rows.length, ids }
  }
  if (ext !== '.npy' && ext !== '.fvecs' && ext !== '.bvecs') {
    throw new UsageError(`${path}: unsupported token input extension ${JSON.stringify(ext)} (expected .jsonl, or .npy/.fvecs/.bvecs with --${offsetsOption})`)
  }
  const offsetsFile = values[offsetsOption] as string | undefined
  if (!offsetsFile) throw new UsageError(`${path}: a token matrix needs --${offsetsOption} <file> (n + 1 token offsets, one per line)`)
  const m = await readVectors(path)
  const offsets = await readOffsetsFile(offsetsFile, m.count)
  const count = offsets.length - 1
  const idFile = values[idOption] as string | undefined
  return { tokens: m.data, offsets, dim: m.dim, count, ...(idFile ? { ids: await readIdFile(idFile, count) } : {}) }
}

// ---- argument parsing --------------------------------------------------------------------

const GLOBAL: NonNullable<ParseArgsConfig['options']> = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, positionals = 0) {
  let parsed
  try {
    parsed = parseArgs({ args, options: { ...GLOBAL, ...options }, allowPositionals: positionals > 0, strict: true })
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''))
  }
  if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`)
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] }
}

function requireString(values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`missing --${name}`)
  return v
}

function parseNonNegativeInt(text: string, name: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer ≥ 0 (got ${JSON.stringify(text)})`)
  return n
}

function parsePositiveInt(text: string, name: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got ${JSON.stringify(text)})`)
  return n
}

/** `--m` / `--nbits` of `--kind multivector --fde-storage pq` (PQ-compressed FDEs). */
function fdePqOptions(values: Record<string, string | boolean | undefined>): FdePqOptions {
  const nbits = values.nbits === undefined ? 8 : Number(values.nbits)
  if (nbits !== 4 && nbits !== 8) throw new UsageError(`--nbits must be 4 or 8 (got ${JSON.stringify(values.nbits)})`)
  return { nbits, ...(values.m === undefined ? {} : { m: parsePositiveInt(values.m as string, 'm') }) }
}

function oneOf(values: Record<string, string | boolean | undefined>, name: string, allowed: string[]): void {
  const v = values[name]
  if (v !== undefined && !allowed.includes(v as string)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`)
}

function out(ctx: Context, text: string): void {
  ctx.io.stdout.write(text.endsWith('\n') ? text : text + '\n')
}

/** Prefixes `path` to an error's message unless it already names it. */
async function onFile<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    const err = e as Error & { code?: string }
    if (err instanceof Error && !err.message.includes(path)) err.message = `${path}: ${err.message}`
    throw err
  }
}

// ---- commands ----------------------------------------------------------------------------

async function cmdIndex(args: string[], ctx: Context): Promise<number> {
  const { values } = parse(args, {
    kind: { type: 'string' },
    input: { type: 'string', short: 'i' },
    output: { type: 'string', short: 'o' },
    ids: { type: 'string' },
    'id-field': { type: 'string' },
    'vector-field': { type: 'string' },
    rescore: { type: 'string' },
    metric: { type: 'string' },
    threshold: { type: 'string' },
    'terms-field': { type: 'string' },
    'block-size': { type: 'string' },
    m: { type: 'string' },
    nbits: { type: 'string' },
    'ivf-lists': { type: 'string' },
    method: { type: 'string' },
    k1: { type: 'string' },
    b: { type: 'string' },
    offsets: { type: 'string' },
    'tokens-field': { type: 'string' },
    repetitions: { type: 'string' },
    'simhash-bits': { type: 'string' },
    projection: { type: 'string' },
    'projection-dim': { type: 'string' },
    'final-dim': { type: 'string' },
    seed: { type: 'string' },
    storage: { type: 'string' },
    'fde-storage': { type: 'string' },
  })
  const kindName = requireString(values, 'kind')
  requireString(values, 'input')
  const output = requireString(values, 'output')
  const kind = Object.hasOwn(KINDS, kindName) ? KINDS[kindName] : undefined
  if (!kind) throw new UsageError(`--kind must be one of ${Object.keys(KINDS).join(', ')} (got ${JSON.stringify(kindName)})`)
  // Options of one kind given to another are mistakes, not no-ops.
  const KIND_OPTIONS: Record<string, string[]> = {
    multivector: ['offsets', 'tokens-field', 'repetitions', 'simhash-bits', 'projection', 'projection-dim', 'final-dim', 'seed', 'storage', 'fde-storage'],
  }
  for (const [owner, names] of Object.entries(KIND_OPTIONS)) {
    if (owner === kindName) continue
    for (const name of names) if (values[name] !== undefined) throw new UsageError(`--${name} applies to --kind ${owner} only`)
  }
  oneOf(values, 'projection', ['countsketch', 'identity', 'dense'])
  oneOf(values, 'storage', ['f16', 'f32', 'int8'])
  oneOf(values, 'fde-storage', ['f16', 'f32', 'pq'])
  if (kindName === 'multivector' && values['fde-storage'] !== 'pq') {
    for (const name of ['m', 'nbits']) if (values[name] !== undefined) throw new UsageError(`--${name} applies to --kind pq, or to --kind multivector with --fde-storage pq`)
  }
  oneOf(values, 'rescore', kindName === 'pq' ? ['none', 'float32'] : ['none', 'asymmetric', 'int8', 'float32'])
  oneOf(values, 'metric', kindName === 'pq' ? ['l2', 'ip', 'cosine'] : ['ip', 'cosine'])
  oneOf(values, 'threshold', ['zero', 'mean'])
  oneOf(values, 'method', [...BM25_METHODS])
  for (const name of ['k1', 'b']) {
    if (values[name] !== undefined && !Number.isFinite(Number(values[name]))) throw new UsageError(`--${name} must be a number (got ${JSON.stringify(values[name])})`)
  }
  const started = performance.now()
  const built = await kind.build(values, ctx)
  await onFile(output, () => built.save(output))
  const bytes = statSync(output).size
  const seconds = (performance.now() - started) / 1000
  if (ctx.json) out(ctx, JSON.stringify({ kind: kind.fileKind, output, items: built.size, bytes, seconds }))
  else if (!ctx.quiet) out(ctx, `${kind.fileKind}: ${built.size} items → ${output} (${bytes} bytes, ${seconds.toFixed(2)} s)`)
  return 0
}

async function loadIndex(path: string, values: Record<string, string | boolean | undefined>): Promise<{ info: IndexFileInfo; index: LoadedIndex }> {
  const info = await onFile(path, () => inspectIndex(path))
  const kind = kindOfFile(info, path)
  return { info, index: await onFile(path, () => kind.load(path, values)) }
}

async function cmdSearch(args: string[], ctx: Context): Promise<number> {
  const { values } = parse(args, {
    index: { type: 'string' },
    queries: { type: 'string' },
    k: { type: 'string', short: 'k' },
    output: { type: 'string', short: 'o' },
    'query-ids': { type: 'string' },
    'terms-field': { type: 'string' },
    nprobe: { type: 'string' },
    'id-field': { type: 'string' },
    'vector-field': { type: 'string' },
    candidates: { type: 'string' },
    tag: { type: 'string' },
    'query-offsets': { type: 'string' },
    'tokens-field': { type: 'string' },
    mode: { type: 'string' },
  })
  const indexPath = requireString(values, 'index')
  const queriesPath = requireString(values, 'queries')
  const k = values.k === undefined ? 10 : parsePositiveInt(values.k as string, 'k')
  if (values.candidates !== undefined) parsePositiveInt(values.candidates as string, 'candidates')
  oneOf(values, 'mode', ['muvera', 'bruteforce', 'singlevector'])
  if (values.tag !== undefined && !/^\S+$/.test(values.tag as string)) throw new UsageError('--tag must be one word')
  const { info, index } = await loadIndex(indexPath, values)
  if (index.query.type !== 'tokens') {
    for (const name of ['mode', 'query-offsets', 'tokens-field']) {
      if (values[name] !== undefined) throw new UsageError(`--${name} applies to multivector indexes only (${indexPath} is a ${info.kind})`)
    }
  }
  const run: Record<string, Hit[]> = Object.create(null)
  const batch = 1024
  let qids: string[]
  let queryCount: number
  let queryAt: (i: number) => unknown
  if (index.query.type === 'sparse') {
    const records = await readSparseRecords(queriesPath, values)
    qids = records.map((q) => q.id)
    queryCount = records.length
    queryAt = (i) => records[i].vector
  } else if (index.query.type === 'text') {
    // Text indexes (BM25, learned sparse via their tokenizer): BEIR queries.jsonl, {"_id", "text"}.
    const texts: BeirQuery[] = []
    for await (const q of readBeirQueries(queriesPath)) texts.push(q)
    qids = texts.map((q) => q.id)
    queryCount = texts.length
    queryAt = (i) => texts[i].text
  } else if (index.query.type === 'tokens') {
    const queries = await readInputTokens(queriesPath, values, 'query-ids', 'query-offsets')
    if (queries.dim !== index.query.dim) {
      throw Object.assign(new Error(`${queriesPath}: query tokens have dimension ${queries.dim} but ${indexPath} (${info.kind}) has dim ${index.query.dim}`), { exitCode: 1 })
    }
    qids = queries.ids?.map(String) ?? Array.from({ length: queries.count }, (_, i) => String(i))
    queryCount = queries.count
    queryAt = (i) => queries.tokens.subarray(queries.offsets[i] * queries.dim, queries.offsets[i + 1] * queries.dim)
  } else {
    const queries = await readInputVectors(queriesPath, values, 'query-ids')
    if (queries.dim !== index.query.dim) {
      throw Object.assign(new Error(`${queriesPath}: queries have dimension ${queries.dim} but ${indexPath} (${info.kind}) has dim ${index.query.dim}`), { exitCode: 1 })
    }
    qids = queries.ids?.map(String) ?? Array.from({ length: queries.count }, (_, i) => String(i))
    queryCount = queries.count
    queryAt = (i) => queries.data.subarray(i * queries.dim, (i + 1) * queries.dim)
  }
  for (let at = 0; at < queryCount; at += batch) {
    const end = Math.min(queryCount, at + batch)
    const results = await index.retriever.searchBatch(
      Array.from({ length: end - at }, (_, i) => queryAt(at + i)),
      { k },
    )
    results.forEach((hits, i) => (run[qids[at + i]] = hits))
    ctx.progress.update('searching', end, queryCount)
  }
  const output = values.output as string | undefined
  if (output) {
    await writeFile(output, formatTrecRun(run, (values.tag as string | undefined) ?? 'slimdex')).catch((e) => {
      throw ioError(output, e)
    })
  }
  if (ctx.json) {
    out(ctx, JSON.stringify({ index: indexPath, kind: info.kind, k, queries: qids.length, ...(output ? { output } : { results: run }) }))
  } else if (!output) {
    ctx.io.stdout.write(formatTrecRun(run, (values.tag as string | undefined) ?? 'slimdex'))
  } else if (!ctx.quiet) {
    out(ctx, `${qids.length} queries → ${output}`)
  }
  return 0
}

async function cmdEval(args: string[], ctx: Context): Promise<number> {
  const { values } = parse(args, {
    run: { type: 'string' },
    qrels: { type: 'string' },
    metrics: { type: 'string', short: 'm' },
    split: { type: 'string' },
    missing: { type: 'string' },
  })
  const runPath = requireString(values, 'run')
  let qrelsPath = requireString(values, 'qrels')
  oneOf(values, 'missing', ['skip', 'zero'])
  const metrics = ((values.metrics as string | undefined) ?? 'ndcg@10,recall@100,mrr@10,map')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
  try {
    evaluate({}, {}, { metrics }) // reject unknown metric names before reading any file
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  if (existsSync(qrelsPath) && statSync(qrelsPath).isDirectory()) qrelsPath = join(qrelsPath, 'qrels', `${(values.split as string | undefined) ?? 'test'}.tsv`)
  const run = await readTrecRun(runPath)
  const qrels = await readQrels(qrelsPath)
  const result = evaluate(run, qrels, { metrics, missing: (values.missing as 'skip' | 'zero' | undefined) ?? 'skip' })
  if (ctx.json) out(ctx, JSON.stringify({ run: runPath, qrels: qrelsPath, queries: result.queries, mean: result.mean, perQuery: result.perQuery }))
  else out(ctx, `${formatMetrics(result.mean)}\n(${result.queries} queries)`)
  return 0
}

async function cmdInfo(args: string[], ctx: Context): Promise<number> {
  const { positionals } = parse(args, {}, 1)
  const path = positionals[0]
  if (!path) throw new UsageError('missing the index file: slimdex info <index>')
  const info = await onFile(path, () => inspectIndex(path))
  const kind = Object.values(KINDS).find((k) => k.fileKind === info.kind)
  const loaded = kind ? await onFile(path, () => kind.load(path, {})) : undefined
  const report = {
    file: path,
    kind: info.kind,
    formatVersion: info.formatVersion,
    bytes: info.bytes,
    sections: info.sections,
    ...(loaded ? { items: loaded.size, parameters: loaded.parameters, memory: loaded.memoryUsage() } : {}),
  }
  if (ctx.json) {
    out(ctx, JSON.stringify(report))
    return 0
  }
  const lines = [`${path}: ${info.kind}, format v${info.formatVersion}, ${info.bytes} bytes`]
  if (loaded) {
    lines.push(`items: ${loaded.size}`)
    lines.push(`parameters: ${Object.entries(loaded.parameters).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`)
  }
  lines.push('sections (bytes on disk):')
  lines.push(`  params  ${info.paramsBytes}`)
  for (const s of info.sections) lines.push(`  ${s.tag.padEnd(6)}  ${s.bytes}`)
  if (loaded) {
    const mem = loaded.memoryUsage()
    lines.push(`memory: ${mem.total} bytes (${Object.entries(mem.components).map(([k, v]) => `${k} ${v}`).join(', ')})`)
  }
  out(ctx, lines.join('\n'))
  return 0
}

async function cmdDedup(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      input: { type: 'string', short: 'i' },
      output: { type: 'string', short: 'o' },
      field: { type: 'string' },
      threshold: { type: 'string' },
      ngram: { type: 'string' },
      'num-perm': { type: 'string' },
      mode: { type: 'string' },
    },
    Infinity,
  )
  oneOf(values, 'mode', ['lsh', 'bloom'])
  const field = (values.field as string | undefined) ?? 'text'
  // Input: a JSONL file of records with a text field (ids from "_id"/"id", else the line), or text files.
  const ids: string[] = []
  const texts: string[] = []
  if (values.input !== undefined) {
    const input = values.input as string
    for await (const { value, line } of readJsonl<Record<string, unknown>>(input)) {
      if (value === null || typeof value !== 'object' || typeof value[field] !== 'string') throw parseError(`${input}:${line}`, `each record needs a string "${field}" field`)
      const id = value._id ?? value.id
      ids.push(typeof id === 'string' || typeof id === 'number' ? String(id) : String(line))
      texts.push(value[field] as string)
    }
  } else {
    if (positionals.length === 0) throw new UsageError('dedup needs --input <file.jsonl> or text files')
    const { readFile } = await import('node:fs/promises')
    for (const path of positionals) {
      texts.push(await onFile(path, () => readFile(path, 'utf8')))
      ids.push(path)
    }
  }
  const num = (name: string, fallback: number) => (values[name] === undefined ? fallback : parsePositiveNumber(values[name] as string, name))
  const result = await dedup(texts, {
    threshold: num('threshold', 0.8),
    ngram: num('ngram', 5),
    numPerm: num('num-perm', 128),
    mode: (values.mode as 'lsh' | 'bloom' | undefined) ?? 'lsh',
    onProgress: (done) => ctx.progress.update('deduplicating', done, texts.length),
  })
  const rows = ids.map((id, i) => ({ id, cluster: result.clusters[i] < 0 ? null : ids[result.clusters[i]], duplicate: result.isDuplicate[i] === 1 }))
  const output = values.output as string | undefined
  if (output !== undefined) await onFile(output, () => writeFile(output, rows.map((r) => JSON.stringify(r)).join('\n') + '\n'))
  if (ctx.json) out(ctx, JSON.stringify({ documents: texts.length, duplicates: result.duplicates, bands: result.bands, rows: result.rows, ...(output ? { output } : { results: rows }) }))
  else if (!ctx.quiet || output === undefined) {
    out(ctx, `${texts.length} documents, ${result.duplicates} near-duplicates (Jaccard ≥ ${num('threshold', 0.8)}, ${result.bands} bands × ${result.rows} rows)${output ? ` → ${output}` : ''}`)
    if (output === undefined) for (const r of rows) if (r.duplicate) out(ctx, `${r.id}\tduplicate of ${r.cluster ?? '(an earlier document)'}`)
  }
  return 0
}

function parsePositiveNumber(text: string, name: string): number {
  const v = Number(text)
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`--${name} must be a positive number (got ${JSON.stringify(text)})`)
  return v
}

function packageRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'benches', 'run.mjs'))) return dir
    if (dirname(dir) === dir) return undefined
  }
}

async function cmdBench(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse(args, { smoke: { type: 'boolean' } }, Infinity)
  const root = packageRoot()
  if (!root) throw new UsageError('bench: benches/run.mjs is not in this installation (benchmarks run from a repository checkout)')
  const argv = [join(root, 'benches', 'run.mjs'), ...positionals, ...(values.smoke ? ['--smoke'] : [])]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.pipe(ctx.io.stdout, { end: false })
    child.stderr.pipe(ctx.io.stderr, { end: false })
    child.on('error', reject)
    child.on('close', (code) => resolve(code ?? 1))
  })
}

const COMMANDS: Record<string, (args: string[], ctx: Context) => Promise<number>> = {
  index: cmdIndex,
  search: cmdSearch,
  eval: cmdEval,
  info: cmdInfo,
  dedup: cmdDedup,
  bench: cmdBench,
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code.
 * Never throws: errors are printed to stderr as `slimdex <command>: <message>`.
 */
export async function runCli(argv: string[], io?: Partial<CliIO>): Promise<number> {
  const fullIO: CliIO = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    stderrIsTTY: io?.stderrIsTTY ?? Boolean(process.stderr.isTTY),
  }
  const [command, ...rest] = argv
  const json = rest.includes('--json')
  const quiet = rest.includes('--quiet') || rest.includes('-q')
  const ctx: Context = { io: fullIO, json, quiet, progress: new Progress(fullIO, fullIO.stderrIsTTY && !quiet && !json) }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    fullIO.stdout.write(HELP + '\n')
    return command === undefined ? 2 : 0
  }
  if (command === '--version' || command === '-v') {
    fullIO.stdout.write(`slimdex ${VERSION} (core ${nativeInfo().version}, ${nativeInfo().simd})\n`)
    return 0
  }
  const run = COMMANDS[command]
  if (!run) {
    fullIO.stderr.write(`slimdex: unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')} (slimdex --help)\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    fullIO.stdout.write(HELP + '\n')
    return 0
  }
  try {
    return await run(rest, ctx)
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number }
    const usage = e instanceof UsageError
    const code = err.code && err.code !== 'ERR_SLIMDEX_INVALID_ARG' ? ` [${err.code}]` : ''
    fullIO.stderr.write(`slimdex ${command}: ${err.message ?? String(e)}${code}\n`)
    if (usage) fullIO.stderr.write(`(slimdex ${command} --help for usage)\n`)
    return usage ? 2 : (err.exitCode ?? 1)
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
