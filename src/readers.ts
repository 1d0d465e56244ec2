/**
 * Readers for data users already have on disk: JSON Lines (streamed), NumPy `.npy` (float32,
 * C order) and the `.fvecs` / `.ivecs` / `.bvecs` formats of the ANN benchmarks.
 * Malformed files throw `ERR_SLIMDEX_BAD_INPUT` naming the file (and line).
 * @module
 */
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { badInput, slimdexError } from './errors'
import { checkPath } from './validate'

/** One parsed JSON Lines record with its 1-based line number. */
export interface JsonlRecord {
  line: number
  value: unknown
}

/**
 * Streams a JSON Lines file record by record (blank lines are skipped), without loading the
 * file into memory. A line that is not valid JSON throws `ERR_SLIMDEX_BAD_INPUT` with
 * `path:line`.
 */
export async function* readJsonl(path: string): AsyncGenerator<JsonlRecord> {
  checkPath(path)
  const input = createReadStream(path, { encoding: 'utf8' })
  const lines = createInterface({ input, crlfDelay: Infinity })
  let line = 0
  try {
    for await (const text of lines) {
      line++
      if (text.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        throw badInput(`${path}:${line}`, `malformed JSON (${(e as Error).message})`)
      }
      yield { line, value }
    }
  } catch (e) {
    throw ioError(path, e)
  } finally {
    lines.close()
    input.destroy()
  }
}

/** Vectors read from a file: `count × dim` values, row-major. */
export interface VectorFile<T extends Float32Array | Int32Array | Uint8Array = Float32Array> {
  data: T
  count: number
  dim: number
}

/**
 * Reads a NumPy `.npy` file holding a 1-D or 2-D little-endian float32 array in C order
 * (`np.save(path, x.astype(np.float32))`). Other dtypes or Fortran order throw with the header
 * shown, so the fix (`astype`, `ascontiguousarray`) is obvious.
 */
export async function readNpy(path: string): Promise<VectorFile> {
  const bytes = await readBytes(path)
  const magic = '\x93NUMPY'
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== magic) throw badInput(path, 'not a .npy file (bad magic)')
  const major = bytes[6]
  const headerLen = major === 1 ? bytes[8] | (bytes[9] << 8) : major === 2 || major === 3 ? new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true) : -1
  if (headerLen < 0) throw badInput(path, `unsupported .npy version ${major}`)
  const start = (major === 1 ? 10 : 12) + headerLen
  if (start > bytes.length) throw badInput(path, 'truncated .npy header')
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start))
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw badInput(path, `unreadable .npy header ${header.trim()}`)
  if (descr !== '<f4' && descr !== '|f4') throw badInput(path, `dtype ${descr} is not little-endian float32; save x.astype(np.float32)`)
  if (fortran === 'True') throw badInput(path, 'Fortran order; save np.ascontiguousarray(x)')
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number)
  if (shape.length < 1 || shape.length > 2 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw badInput(path, `shape (${shapeText}) is not 1-D or 2-D`)
  }
  const [count, dim] = shape.length === 2 ? shape : [1, shape[0]]
  const want = count * dim * 4
  if (bytes.length - start !== want) throw badInput(path, `holds ${bytes.length - start} data bytes, shape (${shapeText}) needs ${want}`)
  return { data: copyAs(bytes.subarray(start), Float32Array), count, dim }
}

/** Reads `.fvecs` (float32), the format of the SIFT/GIST ANN benchmarks: per vector an int32 dim, then dim values. */
export function readFvecs(path: string): Promise<VectorFile<Float32Array>> {
  return readVecs(path, 4, Float32Array)
}

/** Reads `.ivecs` (int32; e.g. ground-truth neighbour ids). */
export function readIvecs(path: string): Promise<VectorFile<Int32Array>> {
  return readVecs(path, 4, Int32Array)
}

/** Reads `.bvecs` (uint8; e.g. SIFT1B). */
export function readBvecs(path: string): Promise<VectorFile<Uint8Array>> {
  return readVecs(path, 1, Uint8Array)
}

type ArrayOf<T> = { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number }

async function readVecs<T extends Float32Array | Int32Array | Uint8Array>(path: string, width: number, Kind: ArrayOf<T>): Promise<VectorFile<T>> {
  const bytes = await readBytes(path)
  if (bytes.length === 0) return { data: new Kind(new ArrayBuffer(0)), count: 0, dim: 0 }
  if (bytes.length < 4) throw badInput(path, 'truncated: shorter than one dimension header')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dim = view.getInt32(0, true)
  if (dim <= 0 || dim > 1 << 20) throw badInput(path, `vector 0 declares dimension ${dim}`)
  const row = 4 + dim * width
  if (bytes.length % row !== 0) throw badInput(path, `${bytes.length} bytes is not a whole number of ${dim}-dimensional vectors (${row} bytes each)`)
  const count = bytes.length / row
  const out = new Uint8Array(count * dim * width)
  for (let i = 0; i < count; i++) {
    const d = view.getInt32(i * row, true)
    if (d !== dim) throw badInput(path, `vector ${i} declares dimension ${d}, vector 0 declared ${dim}`)
    out.set(bytes.subarray(i * row + 4, (i + 1) * row), i * dim * width)
  }
  return { data: new Kind(out.buffer), count, dim }
}

/** Copies little-endian bytes into a fresh, aligned typed array. */
function copyAs<T>(bytes: Uint8Array, Kind: ArrayOf<T>): T {
  const copy = new Uint8Array(bytes.length)
  copy.set(bytes)
  return new Kind(copy.buffer)
}

async function readBytes(path: string): Promise<Uint8Array> {
  checkPath(path)
  try {
    return await readFile(path)
  } catch (e) {
    throw ioError(path, e)
  }
}

/** File-system errors keep their message and gain `ERR_SLIMDEX_IO`; ours pass through. */
function ioError(path: string, e: unknown): unknown {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && !e.code.startsWith('ERR_SLIMDEX') && e.code !== 'ABORT_ERR') {
    const err = slimdexError(Error, 'ERR_SLIMDEX_IO', `${path}: ${e.message}`)
    return Object.assign(err, { cause: e })
  }
  return e
}
