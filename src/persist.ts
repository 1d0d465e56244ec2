/**
 * The persistence calls every index wrapper makes (`toBuffer` / `fromBuffer` / `save` /
 * `saveSync` / `load` / `loadSync`) in one place: argument checks (path, buffer, signal) and
 * native error mapping, over the methods the bindings' `persistence_methods!` generate. Each
 * index class keeps its own documented methods and calls these.
 * @module
 */
import { callNative, callNativeAsync, invalidType } from './errors'
import type { AsyncOptions } from './types'
import { checkPath, checkSignal } from './validate'

/** A native object that can be written out. */
export interface NativeSavable {
  toBuffer(): Buffer
  saveSync(path: string): void
  save(path: string, signal?: AbortSignal | undefined | null): Promise<void>
}

/** A native class that can be read back (the statics generated next to {@link NativeSavable}). */
export interface NativeLoadable<N> {
  fromBuffer(buffer: Uint8Array): N
  loadSync(path: string, mmap?: boolean | undefined | null): N
  load(path: string, mmap?: boolean | undefined | null, signal?: AbortSignal | undefined | null): Promise<N>
}

/** The serialised bytes (the same bytes `save` writes). */
export function toBufferOf(native: Pick<NativeSavable, 'toBuffer'>): Buffer {
  return callNative(() => native.toBuffer())
}

/** Writes atomically (temp file, fsync, rename) on the libuv pool. */
export async function saveOf(native: Pick<NativeSavable, 'save'>, path: string, options: AsyncOptions = {}): Promise<void> {
  const signal = checkSignal(options?.signal)
  await callNativeAsync(() => native.save(checkPath(path), signal))
}

/** Synchronous twin of {@link saveOf}. */
export function saveSyncOf(native: Pick<NativeSavable, 'saveSync'>, path: string): void {
  callNative(() => native.saveSync(checkPath(path)))
}

/** Restores from bytes, validating every byte (`ERR_SLIMDEX_CORRUPT_FILE` otherwise). */
export function fromBufferOf<N>(cls: Pick<NativeLoadable<N>, 'fromBuffer'>, buffer: Uint8Array): N {
  if (!(buffer instanceof Uint8Array)) throw invalidType('buffer must be a Buffer or Uint8Array')
  return callNative(() => cls.fromBuffer(buffer))
}

/**
 * Reads a saved file on the libuv pool: fully into memory, or memory-mapped with `mmap` (for
 * the indexes whose layout is mappable).
 */
export async function loadOf<N>(cls: Pick<NativeLoadable<N>, 'load'>, path: string, options: AsyncOptions = {}, mmap = false): Promise<N> {
  const signal = checkSignal(options?.signal)
  return await callNativeAsync(() => cls.load(checkPath(path), mmap, signal))
}

/** Synchronous twin of {@link loadOf}. */
export function loadSyncOf<N>(cls: Pick<NativeLoadable<N>, 'loadSync'>, path: string, mmap = false): N {
  return callNative(() => cls.loadSync(checkPath(path), mmap))
}

/** The `mmap` load option: absent means false; anything but a boolean is a TypeError. */
export function mmapOption(options: { mmap?: boolean } | undefined): boolean {
  const mmap = options?.mmap
  if (mmap !== undefined && typeof mmap !== 'boolean') throw invalidType(`mmap must be a boolean (got ${typeof mmap})`)
  return mmap === true
}

/**
 * Hands a loaded native object to a wrapper's constructor: `adopt(native, () => new X(opts))`
 * makes `take()` inside that constructor return `native` (instead of creating a new one), once.
 */
export class Adoption<N> {
  #pending: N | undefined

  /** Runs `construct` with `native` available to {@link Adoption.take}. */
  adopt<T>(native: N, construct: () => T): T {
    this.#pending = native
    try {
      return construct()
    } finally {
      this.#pending = undefined
    }
  }

  /** The native object being adopted, if a constructor runs inside {@link Adoption.adopt}. */
  take(): N | undefined {
    const n = this.#pending
    this.#pending = undefined
    return n
  }
}
