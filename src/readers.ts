/**
 * Readers (and a few writers) for what users already have on disk: JSON Lines (streamed),
 * NumPy `.npy` (float32, C order) and the TEXMEX `.fvecs` / `.ivecs` / `.bvecs` formats.
 * Malformed files throw `ERR_SLIMDEX_PARSE` naming the file (and the line for JSONL);
 * unreadable ones `ERR_SLIMDEX_IO`.
 * @module
 */
import { createReadStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { createInterface } from 'node:readline'
import { invalidType, slimdexError } from './errors'
import type { SlimdexError } from './errors'
import { checkPath, checkSignal } from './validate'

/** A malformed data file: `file[:line]: message`. */
export function parseError(file: string, message: string, line?: number): SlimdexError {
  return slimdexError(Error, 'ERR_SLIMDEX_PARSE', `${file}${line === undefined ? '' : `:${line}`}: ${message}`)
}

/** An operating-system error on `file`, as `ERR_SLIMDEX_IO` naming the file. */
export function ioError(file: string, e: unknown): SlimdexError {
  const sys = e as NodeJS.ErrnoException
  const reason =
    sys?.code === 'ENOENT' ? 'no such file or directory' : sys?.code === 'EISDIR' ? 'is a directory' : sys?.code === 'EACCES' ? 'permission denied' : String(sys?.message ?? e)
  const err = slimdexError(Error, 'ERR_SLIMDEX_IO', `${file}: ${reason}`)
  ;(err as { cause?: unknown }).cause = e
  return err
}

/** Reads a whole file, turning OS errors into `ERR_SLIMDEX_IO` naming it. */
export async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(checkPath(path))
  } catch (e) {
    throw ioError(path, e)
  }
}

/** One parsed line of a JSONL file. */
export interface JsonlRecord<T = unknown> {
  /** The parsed JSON value. */
  value: T
  /** 1-based line number in the file. */
  line: number
}

/**
 * Streams a JSON Lines file one record at a time (constant memory). Blank lines are skipped;
 * a line that is not valid JSON throws `ERR_SLIMDEX_PARSE` with `file:line`. A UTF-8 byte
 * order mark at the start is ignored.
 *
 * @example
 * ```ts
 * for await (const { value, line } of readJsonl('corpus.jsonl')) { ... }
 * ```
 */
export async function* readJsonl<T = unknown>(path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<JsonlRecord<T>> {
  for await (const { text, line } of readLines(path, options)) {
    let value: T
    try {
      value = JSON.parse(text) as T
    } catch (e) {
      throw parseError(path, `invalid JSON (${(e as Error).message})`, line)
    }
    yield { value, line }
  }
}

/**
 * Streams the non-blank lines of a UTF-8 text file with their 1-based line numbers (a byte
 * order mark at the start is dropped). OS errors become `ERR_SLIMDEX_IO` naming the file.
 */
export async function* readLines(path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<{ text: string; line: number }> {
  checkPath(path)
  const signal = checkSignal(options.signal)
  const stream = createReadStream(path, { encoding: 'utf8' })
  // Surface open errors (ENOENT, EACCES) as IO errors naming the file, before readline sees them.
  await new Promise<void>((resolve, reject) => {
    stream.once('ready', () => resolve())
    stream.once('error', (e) => reject(ioError(path, e)))
  })
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  let line = 0
  const iterator = lines[Symbol.asyncIterator]()
  try {
    for (;;) {
      let next: IteratorResult<string>
      try {
        next = await iterator.next()
      } catch (e) {
        throw ioError(path, e) // e.g. EISDIR, raised on the first read
      }
      if (next.done) return
      line++
      if (signal?.aborted) throw slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
      const text = line === 1 && next.value.charCodeAt(0) === 0xfeff ? next.value.slice(1) : next.value
      if (text.trim() !== '') yield { text, line }
    }
  } finally {
    lines.close()
    stream.destroy()
  }
}

/** Writes records as JSON Lines (one `JSON.stringify` per line). */
export async function writeJsonl(path: string, records: Iterable<unknown>): Promise<void> {
  const parts: string[] = []
  for (const r of records) parts.push(JSON.stringify(r))
  try {
    await writeFile(checkPath(path), parts.length ? parts.join('\n') + '\n' : '')
  } catch (e) {
    throw ioError(path, e)
  }
}

/** A dense matrix read from disk: `count` rows of `dim` values, row-major. */
export interface Matrix<T extends Float32Array | Int32Array | Uint8Array = Float32Array> {
  data: T
  /** Values per row. */
  dim: number
  /** Number of rows. */
  count: number
}

/** A NumPy array: its data and shape. */
export interface NpyArray extends Matrix<Float32Array> {
  /** The array's shape as stored (a 1-D array reads as one row). */
  shape: number[]
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]) // \x93NUMPY

/**
 * Parses the bytes of a NumPy `.npy` file holding a float32 array in C order (1-D or 2-D;
 * higher dimensions are flattened to rows of the last axis). Any other dtype, byte order or
 * Fortran order throws `ERR_SLIMDEX_PARSE` saying what was found and how to convert it.
 */
export function parseNpy(bytes: Uint8Array, name = '<buffer>'): NpyArray {
  const { buf, descr, shape, dataStart } = parseNpyHeader(bytes, name, 'parseNpy')
  if (descr !== '<f4' && descr !== '=f4') {
    const hint = descr === '>f4' ? 'big-endian float32' : `dtype ${descr}`
    throw parseError(name, `${hint} is not supported: save little-endian float32 (np.save(path, a.astype('<f4')))`)
  }
  const total = checkNpyDataLength(buf, shape, dataStart, 4, name)
  // Copy: the data offset within a pooled Buffer need not be 4-byte aligned.
  const data = new Float32Array(total)
  new Uint8Array(data.buffer).set(buf.subarray(dataStart))
  const dim = shape.length === 0 ? 1 : shape[shape.length - 1]
  const count = shape.length <= 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1)
  return { data, shape, dim, count }
}

/** Little-endian integer dtypes a `.npy` of counts or offsets may hold, and their byte width. */
const NPY_INTEGER_WIDTH: Readonly<Record<string, number>> = { '<i4': 4, '<u4': 4, '<i8': 8, '<u8': 8, '=i4': 4, '=u4': 4, '=i8': 8, '=u8': 8 }

/**
 * Parses a 1-D `.npy` of little-endian int32/uint32/int64/uint64 values (e.g. token offsets
 * from `np.cumsum`) into a `Uint32Array`. A value below 0 or above 2^32 − 1 throws
 * `ERR_SLIMDEX_PARSE` naming its position, as does any other dtype or shape.
 */
export function parseNpyUint32(bytes: Uint8Array, name = '<buffer>'): Uint32Array {
  const { buf, descr, shape, dataStart } = parseNpyHeader(bytes, name, 'parseNpyUint32')
  const width = NPY_INTEGER_WIDTH[descr]
  if (width === undefined) throw parseError(name, `dtype ${descr} is not supported here: save little-endian integers (np.save(path, a.astype('<i8')))`)
  if (shape.length !== 1) throw parseError(name, `expected a 1-D array, got shape (${shape.join(', ')})`)
  const total = checkNpyDataLength(buf, shape, dataStart, width, name)
  const out = new Uint32Array(total)
  const signed = descr[1] === 'i'
  for (let i = 0; i < total; i++) {
    const at = dataStart + i * width
    const v = width === 4 ? (signed ? buf.readInt32LE(at) : buf.readUInt32LE(at)) : signed ? buf.readBigInt64LE(at) : buf.readBigUInt64LE(at)
    if (v < 0 || v > 0xffffffff) throw parseError(name, `value ${v} at index ${i} is outside [0, 2^32 − 1]`)
    out[i] = Number(v)
  }
  return out
}

/** The header of a `.npy` file: dtype descriptor, shape and where the data starts. */
function parseNpyHeader(bytes: Uint8Array, name: string, caller: string): { buf: Buffer; descr: string; shape: number[]; dataStart: number } {
  if (!(bytes instanceof Uint8Array)) throw invalidType(`${caller} takes a Buffer or Uint8Array`)
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) throw parseError(name, 'not a NumPy .npy file (bad magic)')
  const major = buf[6]
  let headerLen: number
  let start: number
  if (major === 1) {
    headerLen = buf.readUInt16LE(8)
    start = 10
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw parseError(name, 'truncated .npy header')
    headerLen = buf.readUInt32LE(8)
    start = 12
  } else {
    throw parseError(name, `unsupported .npy format version ${major}`)
  }
  if (start + headerLen > buf.length) throw parseError(name, 'truncated .npy header')
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen)
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw parseError(name, `malformed .npy header ${JSON.stringify(header.trim())}`)
  if (fortran === 'True') throw parseError(name, 'Fortran-order arrays are not supported: save np.ascontiguousarray(a)')
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number)
  if (shape.some((s) => !Number.isSafeInteger(s) || s < 0)) throw parseError(name, `malformed shape (${shapeText})`)
  return { buf, descr, shape, dataStart: start + headerLen }
}

/** The element count of `shape`, after checking the file holds exactly that many elements. */
function checkNpyDataLength(buf: Buffer, shape: readonly number[], dataStart: number, width: number, name: string): number {
  const total = shape.reduce((a, b) => a * b, 1)
  if (buf.length - dataStart !== total * width) {
    throw parseError(name, `shape (${shape.join(', ')}) needs ${total * width} data bytes but the file has ${buf.length - dataStart}`)
  }
  return total
}

/** Reads a float32 C-order `.npy` file (see {@link parseNpy}). */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readBytes(path), path)
}

/** Encodes a float32 array as `.npy` (format 1.0, C order) with the given shape. */
export function toNpy(data: Float32Array, shape: readonly number[]): Buffer {
  if (!(data instanceof Float32Array)) throw invalidType('toNpy: data must be a Float32Array')
  if (shape.reduce((a, b) => a * b, 1) !== data.length) throw invalidType(`toNpy: shape (${shape.join(', ')}) does not match ${data.length} values`)
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  const unpadded = 10 + header.length + 1
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n'
  const head = Buffer.alloc(10)
  NPY_MAGIC.copy(head)
  head[6] = 1
  head[7] = 0
  head.writeUInt16LE(header.length, 8)
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)])
}

/** Writes a float32 array as `.npy` (see {@link toNpy}). */
export async function writeNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  const bytes = toNpy(data, shape)
  try {
    await writeFile(checkPath(path), bytes)
  } catch (e) {
    throw ioError(path, e)
  }
}

type VecsKind = 'fvecs' | 'ivecs' | 'bvecs'

/**
 * Parses TEXMEX vectors: each vector is an int32 little-endian `dim` followed by `dim` values
 * (float32 for `.fvecs`, int32 for `.ivecs`, uint8 for `.bvecs`). Every vector must have the
 * same dimension.
 */
export function parseVecs(bytes: Uint8Array, kind: 'fvecs', name?: string): Matrix<Float32Array>
export function parseVecs(bytes: Uint8Array, kind: 'ivecs', name?: string): Matrix<Int32Array>
export function parseVecs(bytes: Uint8Array, kind: 'bvecs', name?: string): Matrix<Uint8Array>
export function parseVecs(bytes: Uint8Array, kind: VecsKind, name = '<buffer>'): Matrix<Float32Array | Int32Array | Uint8Array> {
  if (!(bytes instanceof Uint8Array)) throw invalidType(`parseVecs takes a Buffer or Uint8Array`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const width = kind === 'bvecs' ? 1 : 4
  if (bytes.length === 0) {
    const empty = kind === 'fvecs' ? new Float32Array(0) : kind === 'ivecs' ? new Int32Array(0) : new Uint8Array(0)
    return { data: empty, dim: 0, count: 0 }
  }
  if (bytes.length < 4) throw parseError(name, `truncated .${kind} file (${bytes.length} bytes)`)
  const dim = view.getInt32(0, true)
  if (dim <= 0 || dim > 1 << 24) throw parseError(name, `first vector has dimension ${dim}; not a .${kind} file?`)
  const record = 4 + dim * width
  if (bytes.length % record !== 0) {
    throw parseError(name, `size ${bytes.length} bytes is not a multiple of the ${record}-byte record of a dim-${dim} .${kind} vector (truncated?)`)
  }
  const count = bytes.length / record
  const out = kind === 'fvecs' ? new Float32Array(count * dim) : kind === 'ivecs' ? new Int32Array(count * dim) : new Uint8Array(count * dim)
  const outBytes = new Uint8Array(out.buffer)
  for (let i = 0; i < count; i++) {
    const at = i * record
    const d = view.getInt32(at, true)
    if (d !== dim) throw parseError(name, `vector ${i} has dimension ${d}, the first had ${dim}`)
    outBytes.set(bytes.subarray(at + 4, at + record), i * dim * width)
  }
  return { data: out, dim, count }
}

/** Encodes rows as `.fvecs` / `.ivecs` / `.bvecs` (see {@link parseVecs}). */
export function toVecs(data: Float32Array | Int32Array | Uint8Array, dim: number): Buffer {
  if (!Number.isInteger(dim) || dim < 1 || data.length % dim !== 0) throw invalidType(`toVecs: ${data.length} values are not rows of dim ${dim}`)
  const width = data instanceof Uint8Array ? 1 : 4
  const count = data.length / dim
  const out = Buffer.alloc(count * (4 + dim * width))
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  for (let i = 0; i < count; i++) {
    const at = i * (4 + dim * width)
    out.writeInt32LE(dim, at)
    out.set(src.subarray(i * dim * width, (i + 1) * dim * width), at + 4)
  }
  return out
}

/** Reads a `.fvecs` file (float32 vectors). */
export async function readFvecs(path: string): Promise<Matrix<Float32Array>> {
  return parseVecs(await readBytes(path), 'fvecs', path)
}

/** Reads a `.ivecs` file (int32 vectors, e.g. ground-truth neighbour ids). */
export async function readIvecs(path: string): Promise<Matrix<Int32Array>> {
  return parseVecs(await readBytes(path), 'ivecs', path)
}

/** Reads a `.bvecs` file (uint8 vectors, e.g. SIFT1B). */
export async function readBvecs(path: string): Promise<Matrix<Uint8Array>> {
  return parseVecs(await readBytes(path), 'bvecs', path)
}

/**
 * Reads float vectors from `.npy`, `.fvecs` or `.bvecs` (widened to float32), chosen by the
 * file extension. Anything else throws `ERR_SLIMDEX_INVALID_ARG` naming the file.
 */
export async function readVectors(path: string): Promise<Matrix<Float32Array>> {
  const ext = extname(checkPath(path)).toLowerCase()
  if (ext === '.npy') {
    const a = await readNpy(path)
    if (a.shape.length !== 2) throw parseError(path, `expected a 2-D array (vectors × dim), got shape (${a.shape.join(', ')})`)
    return { data: a.data, dim: a.dim, count: a.count }
  }
  if (ext === '.fvecs') return readFvecs(path)
  if (ext === '.bvecs') {
    const b = await readBvecs(path)
    return { data: Float32Array.from(b.data), dim: b.dim, count: b.count }
  }
  throw invalidType(`${path}: unsupported vector file extension ${JSON.stringify(ext)} (expected .npy, .fvecs or .bvecs)`)
}
