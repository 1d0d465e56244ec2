/**
 * Which hasher made a signature array. Slots of signatures made with different schemes or
 * seeds are unrelated numbers: comparing them gives a Jaccard estimate near 0 and an LSH index
 * that mixes them misses every duplicate, without any error. So every array a
 * {@link MinHasher} returns is tagged with its family, views of it (`subarray`,
 * `hasher.signature(sigs, i)`) share the tag, and {@link jaccard}, {@link MinHashLSH} and
 * {@link LSHBloom} refuse to mix families with `ERR_SLIMDEX_SIGNATURE_MISMATCH`. An index
 * records the family of the first tagged signatures it receives and keeps it in its file.
 *
 * Signatures without a tag (copied with `slice` or `new Uint32Array(…)`, read from a file,
 * made by Python datasketch) cannot be checked and are accepted as they are.
 * @module
 */
import { slimdexError } from './errors'
import type { MinHashScheme } from './minhash'

/** The scheme and seed of the {@link MinHasher} that made some signatures. */
export interface SignatureFamily {
  readonly scheme: MinHashScheme
  /** The hasher's seed, an integer in [0, 2^53 − 1]. */
  readonly seed: number
}

// Keyed by the backing buffer, so that every view of a result array carries its tag.
const families = new WeakMap<ArrayBufferLike, SignatureFamily>()

/** Signatures, or their b-bit packed bytes ({@link bBits}). */
type Signatures = Uint32Array | Uint8Array

/** Tags `sigs` (a fresh result array) as made by `family`; returns it. @internal */
export function tagSignatures<T extends Signatures>(sigs: T, family: SignatureFamily | undefined): T {
  if (family) families.set(sigs.buffer, family)
  return sigs
}

/**
 * The family of the hasher that made `signatures` (or the b-bit bytes packed from them), or
 * `undefined` when unknown (the array does not share its buffer with such a result).
 */
export function signatureFamily(signatures: Uint32Array | Uint8Array): SignatureFamily | undefined {
  return signatures instanceof Uint32Array || signatures instanceof Uint8Array ? families.get(signatures.buffer) : undefined
}

/** `a` and `b` could be compared: either is unknown, or both are the same family. @internal */
export function checkSameFamily(a: Signatures, b: Signatures): void {
  const fa = signatureFamily(a)
  const fb = signatureFamily(b)
  if (fa && fb && (fa.scheme !== fb.scheme || fa.seed !== fb.seed)) {
    throw slimdexError(
      Error,
      'ERR_SLIMDEX_SIGNATURE_MISMATCH',
      `the signatures come from different hashers (scheme '${fa.scheme}', seed ${fa.seed} and scheme '${fb.scheme}', seed ${fb.seed}): their slots cannot be compared`,
    )
  }
}

/** An index's family as the addon reports it (the scheme was written by a `MinHasher`). @internal */
export function fromNativeFamily(f: { scheme: string; seed: number } | null | undefined): SignatureFamily | undefined {
  return f ? Object.freeze({ scheme: f.scheme as SignatureFamily['scheme'], seed: f.seed }) : undefined
}
