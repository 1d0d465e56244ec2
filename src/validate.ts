/**
 * Validation at the public boundary: zod schemas for options, integer guards (N-API would
 * silently turn 1.5 into 1 and Infinity into 0), and normalisation of vectors and ids into
 * the flat forms the native side takes.
 * @module
 */
import { z } from 'zod'
import { invalidRange, invalidType, slimdexError } from './errors'

/** An id given by the user: a safe integer or a string. */
export type Id = string | number

/**
 * A batch of vectors: a flat `Float32Array` of `n × dim` values (the fast path, passed
 * without conversion), a flat `Float64Array` / `number[]`, or one array per vector.
 */
export type VectorsInput = Float32Array | Float64Array | readonly number[] | ReadonlyArray<Float32Array | Float64Array | readonly number[]>

/** One vector: `Float32Array` (fast path), `Float64Array` or `number[]`. */
export type VectorInput = Float32Array | Float64Array | readonly number[]

/** `params` of a `z.custom` check whose failure means a wrong type (TypeError), not a wrong value. */
export const TYPE_CHECK = { kind: 'type' } as const

/**
 * Whether a zod issue is about the value's type (TypeError) rather than its range (RangeError).
 * A number that is not an integer (1.5) or not finite (NaN, Infinity) has the right type and a
 * wrong value, as in {@link checkInt}: zod files those under `invalid_type`, slimdex under range.
 * A union fails on the type when every alternative did; a custom check when it says so
 * ({@link TYPE_CHECK}).
 */
function isTypeIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'unrecognized_keys') return true
  if (issue.code === 'custom') return (issue.params as { kind?: string } | undefined)?.kind === TYPE_CHECK.kind
  if (issue.code === 'invalid_union') return issue.errors.length > 0 && issue.errors.every((branch) => branch.length > 0 && isTypeIssue(branch[0]))
  if (issue.code !== 'invalid_type') return false
  const received = (issue as { received?: unknown }).received
  const wrongNumber = issue.expected === 'int' || ((issue.expected === 'number' || issue.expected === 'bigint') && (received === 'NaN' || received === 'Infinity' || received === '-Infinity'))
  return !wrongNumber
}

/**
 * Parses `value` with `schema`; the first issue becomes a TypeError (wrong type, unknown key)
 * or RangeError (a number out of range, not an integer, or not finite) naming the option.
 */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value ?? {})
  if (r.success) return r.data
  const issue = r.error.issues[0]
  // "what: key: problem", or "what: problem" for the object itself (e.g. an unknown key).
  const message = issue.path.length ? `${what}: ${issue.path.join('.')}: ${issue.message}` : `${what}: ${issue.message}`
  throw isTypeIssue(issue) ? invalidType(message) : invalidRange(message)
}

/**
 * A callback option: anything but a function is a TypeError (through {@link TYPE_CHECK}).
 * `F` is the callback's type as the caller sees it; `message` says its expected shape.
 */
export const callbackOption = <F extends (...args: never[]) => unknown>(message: string) =>
  z.custom<F>((v) => typeof v === 'function', { message, params: TYPE_CHECK })

/** A positive integer option (`k`, `dim`, …) up to `max`, checked before it reaches N-API. */
export const positiveInt = (max = 2 ** 32 - 1) => z.number().int().min(1).max(max)

/** A non-negative integer option. */
export const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) => z.number().int().min(0).max(max)

/** Checks an integer argument that is not part of an options object. */
export function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(`${name} must be a number (got ${typeof value})`)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidRange(`${name} must be an integer in [${min}, ${max}] (got ${value})`)
  }
  return value
}

function isNumericArray(x: unknown): x is readonly number[] {
  return Array.isArray(x) && (x.length === 0 || typeof x[0] === 'number')
}

/** Normalises one vector to a Float32Array of length `dim` (no copy for a Float32Array). */
export function toVector(v: unknown, dim: number, name = 'query'): Float32Array {
  let out: Float32Array
  if (v instanceof Float32Array) out = v
  else if (v instanceof Float64Array) out = Float32Array.from(v)
  else if (isNumericArray(v)) {
    if (!v.every((x) => typeof x === 'number')) throw invalidType(`${name} must contain only numbers`)
    out = Float32Array.from(v)
  } else {
    throw invalidType(`${name} must be a Float32Array, Float64Array or number[] (got ${describe(v)})`)
  }
  if (out.length !== dim) {
    const err = invalidRange(`${name} has length ${out.length} but the index has dim ${dim}`)
    ;(err as { code: string }).code = 'ERR_SLIMDEX_DIM_MISMATCH'
    throw err
  }
  return out
}

/** Normalises a batch to one flat Float32Array; returns it with the vector count. */
export function toBatch(v: unknown, dim: number, name = 'vectors'): { data: Float32Array; count: number } {
  let data: Float32Array
  if (v instanceof Float32Array) data = v
  else if (v instanceof Float64Array) data = Float32Array.from(v)
  else if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] !== 'number') {
      data = new Float32Array(v.length * dim)
      v.forEach((row: unknown, i: number) => {
        const r = toVector(row, dim, `${name}[${i}]`)
        data.set(r, i * dim)
      })
      return { data, count: v.length }
    }
    if (!v.every((x) => typeof x === 'number')) throw invalidType(`${name} must contain only numbers`)
    data = Float32Array.from(v as number[])
  } else {
    throw invalidType(`${name} must be a Float32Array, Float64Array, number[] or an array of vectors (got ${describe(v)})`)
  }
  if (data.length % dim !== 0) {
    const err = invalidRange(`${name} has ${data.length} values, not a multiple of dim ${dim}`)
    ;(err as { code: string }).code = 'ERR_SLIMDEX_DIM_MISMATCH'
    throw err
  }
  return { data, count: data.length / dim }
}

/**
 * Normalises ids for the native side: all numbers → one Float64Array; all strings → string[].
 * `undefined` means "next `count` integers starting at `start`".
 */
export function toIds(ids: unknown, count: number, start: number): Float64Array | string[] {
  if (ids === undefined) {
    const out = new Float64Array(count)
    for (let i = 0; i < count; i++) out[i] = start + i
    return out
  }
  if (!Array.isArray(ids)) throw invalidType(`ids must be an array of numbers or strings (got ${describe(ids)})`)
  if (ids.length !== count) throw invalidRange(`ids has ${ids.length} entries but ${count} vectors were given`)
  if (ids.length === 0) return new Float64Array(0)
  if (typeof ids[0] === 'string') {
    if (!ids.every((x) => typeof x === 'string')) throw invalidType('ids must be all strings or all numbers, not a mix')
    return ids as string[]
  }
  const out = new Float64Array(ids.length)
  for (let i = 0; i < ids.length; i++) {
    const x: unknown = ids[i]
    if (typeof x !== 'number') throw invalidType('ids must be all strings or all numbers, not a mix')
    if (!Number.isSafeInteger(x)) throw invalidRange(`ids[${i}] = ${x} is not a safe integer`)
    out[i] = x
  }
  return out
}

/**
 * An optional AbortSignal; rejects anything else. A signal that has already fired throws
 * `ABORT_ERR` here: napi-rs only listens for aborts that happen after the task is queued.
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined
  if (!(signal instanceof AbortSignal)) throw invalidType('signal must be an AbortSignal')
  if (signal.aborted) throw slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
  return signal
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (ArrayBuffer.isView(v)) return v.constructor.name
  return Array.isArray(v) ? 'array' : typeof v
}

/** A file path argument: a non-empty string. */
export function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw invalidType(`${name} must be a non-empty string`)
  return path
}
