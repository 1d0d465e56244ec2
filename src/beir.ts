/**
 * Datasets in the BEIR layout (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`) and TREC
 * run / qrels files, read and written.
 * @module
 */
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { invalidType } from './errors'
import { rankRun } from './eval'
import type { Run } from './eval'
import { ioError, parseError, readJsonl, readLines } from './readers'
import { checkPath, parseOptions } from './validate'

/**
 * Relevance judgments as read from disk: query id → document id → relevance. Maps, not plain
 * objects: numeric-looking ids (most BEIR sets) make V8 store object keys as slow dictionary
 * elements, which made evaluation twice as slow.
 */
export type QrelsMap = Map<string, Map<string, number>>

/** A BEIR corpus document. */
export interface BeirDocument {
  /** The document id (`_id`, always a string). */
  id: string
  /** The title (`''` when absent). */
  title: string
  /** The body text. */
  text: string
}

/** A BEIR query. */
export interface BeirQuery {
  /** The query id (`_id`, always a string). */
  id: string
  /** The query text. */
  text: string
}

/** A dataset loaded by {@link loadBeir}. */
export interface BeirDataset {
  /** Documents in file order. */
  corpus: BeirDocument[]
  /** Queries in file order; with `judgedOnly` (default) only those with qrels. */
  queries: BeirQuery[]
  /** Relevance judgments of the split. */
  qrels: QrelsMap
}

/** Options of {@link loadBeir}. */
export interface LoadBeirOptions {
  /** Which qrels file: `qrels/<split>.tsv` (default `'test'`). */
  split?: string
  /** Keep only queries that have judgments in the split (default true, as BEIR evaluates). */
  judgedOnly?: boolean
  /** Cancels reading between lines. */
  signal?: AbortSignal
}

const loadSchema = z.strictObject({
  split: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('test'),
  judgedOnly: z.boolean().default(true),
  signal: z.instanceof(AbortSignal).optional(),
})

function idField(value: unknown, file: string, line: number, field = '_id'): string {
  if (typeof value === 'string' && value.length > 0) return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  throw parseError(file, `missing or invalid "${field}" (expected a non-empty string)`, line)
}

function textField(record: Record<string, unknown>, field: string, file: string, line: number, required: boolean): string {
  const v = record[field]
  if (v === undefined || v === null) {
    if (required) throw parseError(file, `missing "${field}"`, line)
    return ''
  }
  if (typeof v !== 'string') throw parseError(file, `"${field}" must be a string`, line)
  return v
}

function asRecord(value: unknown, file: string, line: number): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw parseError(file, 'expected a JSON object', line)
  return value as Record<string, unknown>
}

/** Streams a BEIR `corpus.jsonl` (`_id`, optional `title`, `text`). */
export async function* readBeirCorpus(path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<BeirDocument> {
  for await (const { value, line } of readJsonl(path, options)) {
    const r = asRecord(value, path, line)
    yield { id: idField(r._id, path, line), title: textField(r, 'title', path, line, false), text: textField(r, 'text', path, line, true) }
  }
}

/** Streams a BEIR `queries.jsonl` (`_id`, `text`). */
export async function* readBeirQueries(path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<BeirQuery> {
  for await (const { value, line } of readJsonl(path, options)) {
    const r = asRecord(value, path, line)
    yield { id: idField(r._id, path, line), text: textField(r, 'text', path, line, true) }
  }
}

/**
 * Reads relevance judgments: BEIR TSV (`query-id  corpus-id  score`, with or without the
 * header line) or TREC qrels (`qid  iter  docid  relevance`), columns separated by tabs or
 * spaces. Relevance must be an integer. A document judged twice for a query keeps the last value.
 */
export async function readQrels(path: string): Promise<QrelsMap> {
  const qrels: QrelsMap = new Map()
  let first = true
  for await (const { text, line } of readLines(path)) {
    const cols = text.trim().split(/\s+/)
    const isFirst = first
    first = false
    if (cols.length !== 3 && cols.length !== 4) {
      throw parseError(path, `expected 3 columns (query-id, corpus-id, score) or 4 (TREC qid iter docid rel), got ${cols.length}`, line)
    }
    const [qid, docid, rel] = cols.length === 3 ? cols : [cols[0], cols[2], cols[3]]
    if (!/^[+-]?\d+$/.test(rel)) {
      if (isFirst) continue // header line
      throw parseError(path, `relevance ${JSON.stringify(rel)} is not an integer`, line)
    }
    let judged = qrels.get(qid)
    if (judged === undefined) qrels.set(qid, (judged = new Map()))
    judged.set(docid, Number(rel))
  }
  return qrels
}

async function checkDir(dir: string): Promise<void> {
  let s
  try {
    s = await stat(checkPath(dir, 'dir'))
  } catch (e) {
    throw ioError(dir, e)
  }
  if (!s.isDirectory()) throw ioError(dir, Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }))
}

/**
 * Loads a BEIR dataset directory: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`.
 * Files are streamed line by line; a malformed line throws `ERR_SLIMDEX_PARSE` naming the file
 * and line, a missing file `ERR_SLIMDEX_IO` naming it.
 *
 * @example
 * ```ts
 * const { corpus, queries, qrels } = await loadBeir('datasets/scifact')
 * ```
 */
export async function loadBeir(dir: string, options: LoadBeirOptions = {}): Promise<BeirDataset> {
  const o = parseOptions(loadSchema, options, 'loadBeir options')
  await checkDir(dir)
  const qrels = await readQrels(join(dir, 'qrels', `${o.split}.tsv`))
  const corpus: BeirDocument[] = []
  for await (const d of readBeirCorpus(join(dir, 'corpus.jsonl'), { signal: o.signal })) corpus.push(d)
  const queries: BeirQuery[] = []
  for await (const q of readBeirQueries(join(dir, 'queries.jsonl'), { signal: o.signal })) {
    if (!o.judgedOnly || qrels.has(q.id)) queries.push(q)
  }
  return { corpus, queries, qrels }
}

/** A run as read from a TREC run file: query id → document id → score (file order). */
export type TrecRun = Map<string, Map<string, number>>

/**
 * Reads a TREC run file: `qid Q0 docid rank score tag` per line, whitespace-separated. The
 * rank column is ignored (trec_eval orders by score). A document listed twice for one query,
 * a wrong column count or a non-numeric score throws `ERR_SLIMDEX_PARSE` with `file:line`.
 */
export async function readTrecRun(path: string): Promise<TrecRun> {
  const run: TrecRun = new Map()
  for await (const { text, line } of readLines(path)) {
    const cols = text.trim().split(/\s+/)
    if (cols.length !== 6) throw parseError(path, `expected 6 columns (qid Q0 docid rank score tag), got ${cols.length}`, line)
    const [qid, , docid, , scoreText] = cols
    const score = Number(scoreText)
    if (scoreText === '' || !Number.isFinite(score)) throw parseError(path, `score ${JSON.stringify(scoreText)} is not a finite number`, line)
    let docs = run.get(qid)
    if (docs === undefined) run.set(qid, (docs = new Map()))
    if (docs.has(docid)) throw parseError(path, `document ${docid} appears twice for query ${qid}`, line)
    docs.set(docid, score)
  }
  return run
}

/**
 * Formats a run as TREC run lines (`qid Q0 docid rank score tag`), each query ranked as
 * trec_eval will read it (score descending, then document id descending). Scores are written
 * with full precision so that reading the file back gives the same numbers.
 */
export function formatTrecRun(run: Run, tag = 'slimdex'): string {
  if (run === null || typeof run !== 'object') throw invalidType('run must be an object: query id → Hit[] or { docId: score }')
  if (!/^\S+$/.test(tag)) throw invalidType('tag must be a non-empty string without whitespace')
  const out: string[] = []
  const entries = run instanceof Map ? [...run] : Object.entries(run)
  for (const [qid, docs] of entries) {
    if (!/^\S+$/.test(qid)) throw invalidType(`query id ${JSON.stringify(qid)} contains whitespace`)
    rankRun(docs).forEach((d, i) => {
      if (!/^\S+$/.test(d.id)) throw invalidType(`document id ${JSON.stringify(d.id)} contains whitespace`)
      out.push(`${qid} Q0 ${d.id} ${i + 1} ${d.score} ${tag}`)
    })
  }
  return out.length ? out.join('\n') + '\n' : ''
}

/** Writes a run as a TREC run file (see {@link formatTrecRun}). */
export async function writeTrecRun(path: string, run: Run, options: { tag?: string } = {}): Promise<void> {
  const text = formatTrecRun(run, options.tag)
  try {
    await writeFile(checkPath(path), text)
  } catch (e) {
    throw ioError(path, e)
  }
}
