/**
 * Errors thrown by slimdex. Every error carries a stable `code`:
 *
 * | code | when | class |
 * |---|---|---|
 * | `ERR_SLIMDEX_INVALID_ARG` | an argument has the wrong type or is out of range | `TypeError` / `RangeError` |
 * | `ERR_SLIMDEX_DIM_MISMATCH` | a vector's length differs from the index's `dim` | `RangeError` |
 * | `ERR_SLIMDEX_DUPLICATE_ID` | `add` got an id already in the index (or twice in one batch) | `Error` |
 * | `ERR_SLIMDEX_CORRUPT_FILE` | a file or buffer failed validation on load (magic, version, kind, length, checksum) | `Error` |
 * | `ERR_SLIMDEX_INVALID_STATE` | the object is not ready for the call (e.g. `fit` after `add`) | `Error` |
 * | `ERR_SLIMDEX_SIGNATURE_MISMATCH` | MinHash signatures from hashers with different schemes or seeds were compared, or given to an index holding another hasher's signatures | `Error` |
 * | `ERR_SLIMDEX_IO` | the operating system refused a read or write | `Error` |
 * | `ERR_SLIMDEX_PARSE` | a data file (JSONL, TSV qrels, TREC run, .npy, .fvecs) is malformed; the message names the file and line | `Error` |
 * | `ERR_SLIMDEX_INTERNAL` | a bug (a caught Rust panic): please report it | `Error` |
 * | `ABORT_ERR` | the `AbortSignal` fired (before the work started, or during long work that checks it) | `Error` named `AbortError` |
 * @module
 */

/** Stable error codes (see the module documentation). */
export type SlimdexErrorCode =
  | 'ERR_SLIMDEX_INVALID_ARG'
  | 'ERR_SLIMDEX_DIM_MISMATCH'
  | 'ERR_SLIMDEX_DUPLICATE_ID'
  | 'ERR_SLIMDEX_CORRUPT_FILE'
  | 'ERR_SLIMDEX_INVALID_STATE'
  | 'ERR_SLIMDEX_SIGNATURE_MISMATCH'
  | 'ERR_SLIMDEX_IO'
  | 'ERR_SLIMDEX_PARSE'
  | 'ERR_SLIMDEX_INTERNAL'
  | 'ABORT_ERR'

/** An error with a stable {@link SlimdexErrorCode} in `code`. */
export interface SlimdexError extends Error {
  /** Stable machine-readable code; match on it rather than on the message. */
  code: SlimdexErrorCode
}

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError

/** Creates an error of class `Kind` with `code` set. */
export function slimdexError(Kind: ErrorClass, code: SlimdexErrorCode, message: string): SlimdexError {
  const err = new Kind(message) as SlimdexError
  err.code = code
  if (code === 'ABORT_ERR') err.name = 'AbortError'
  return err
}

/** A bad argument type (wrong typed array kind, a string where a number belongs, …). */
export function invalidType(message: string): SlimdexError {
  return slimdexError(TypeError, 'ERR_SLIMDEX_INVALID_ARG', message)
}

/** A value of the right type outside its allowed range. */
export function invalidRange(message: string): SlimdexError {
  return slimdexError(RangeError, 'ERR_SLIMDEX_INVALID_ARG', message)
}

const NATIVE_PREFIX = /^(ERR_SLIMDEX_[A-Z_]+|ABORT_ERR): /

/**
 * Converts an error from the native addon into a {@link SlimdexError}. The Rust side
 * prefixes messages with the stable code (napi-rs cannot set `code` on async errors).
 */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error)) return e
  const m = NATIVE_PREFIX.exec(e.message)
  if (m) {
    const code = m[1] as SlimdexErrorCode
    const Kind = code === 'ERR_SLIMDEX_INVALID_ARG' || code === 'ERR_SLIMDEX_DIM_MISMATCH' ? RangeError : Error
    const err = slimdexError(Kind, code, e.message.slice(m[0].length))
    return err
  }
  // napi-rs rejects a task aborted before it started with this message and no prefix.
  if (/abort/i.test(e.message) || (e as { code?: string }).code === 'Cancelled') {
    return slimdexError(Error, 'ABORT_ERR', 'The operation was aborted')
  }
  return e
}

/** Runs a synchronous native call, translating its errors. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    throw fromNative(e)
  }
}

/** Awaits an asynchronous native call, translating its errors. */
export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw fromNative(e)
  }
}
