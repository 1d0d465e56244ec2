//! Similarity estimates from signatures: full 32-bit slots and b-bit compaction.
//!
//! b-bit minwise hashing (Li & König 2010) keeps the lowest b bits of each slot. Two slots
//! whose minima differ still agree on b random bits with probability 2^-b, so the raw match
//! rate P satisfies P = J + (1 − J)·2^-b and the corrected estimator is
//! Ĵ = (P − 2^-b) / (1 − 2^-b). (This is the paper's estimator in the sparse limit
//! r = |S|/D → 0, which is exact here because slot values are uniform hash bits, not
//! positions in a bounded universe.) The estimate is clamped to [0, 1].

use crate::{Error, Result};

fn check_pair(a: &[u32], b: &[u32]) -> Result<()> {
  if a.len() != b.len() {
    return Err(Error::InvalidArg(format!(
      "signatures have different lengths ({} and {}): they must come from the same numPerm",
      a.len(),
      b.len()
    )));
  }
  if a.is_empty() {
    return Err(Error::invalid("signatures are empty"));
  }
  Ok(())
}

/// Fraction of equal slots: the MinHash estimate of the Jaccard similarity.
pub fn jaccard(a: &[u32], b: &[u32]) -> Result<f64> {
  check_pair(a, b)?;
  Ok(jaccard_unchecked(a, b))
}

/// [`jaccard`] for slices known to have the same non-zero length.
#[inline]
pub fn jaccard_unchecked(a: &[u32], b: &[u32]) -> f64 {
  let eq = a.iter().zip(b).filter(|(x, y)| x == y).count();
  eq as f64 / a.len() as f64
}

/// Bytes of one b-bit signature of `num_perm` slots.
pub fn bbit_bytes(num_perm: usize, bits: u32) -> usize {
  (num_perm * bits as usize).div_ceil(8)
}

fn check_bits(bits: u32) -> Result<()> {
  if !(1..=16).contains(&bits) {
    return Err(Error::InvalidArg(format!(
      "bBits must be an integer in 1..=16 (got {bits})"
    )));
  }
  Ok(())
}

/// Packs the lowest `bits` of every slot of every signature (flat, `n × num_perm`),
/// little-endian bit order, each signature starting on a byte boundary.
pub fn bbit_compact(sigs: &[u32], num_perm: usize, bits: u32) -> Result<Vec<u8>> {
  check_bits(bits)?;
  let n = crate::validate::vector_count(sigs.len(), num_perm, "signatures")?;
  let per = bbit_bytes(num_perm, bits);
  let mut out = vec![0u8; n * per];
  let mask = (1u32 << bits) - 1;
  for (sig, dst) in sigs.chunks_exact(num_perm).zip(out.chunks_exact_mut(per)) {
    let mut acc: u64 = 0;
    let mut nbits = 0u32;
    let mut pos = 0;
    for &v in sig {
      acc |= ((v & mask) as u64) << nbits;
      nbits += bits;
      while nbits >= 8 {
        dst[pos] = acc as u8;
        pos += 1;
        acc >>= 8;
        nbits -= 8;
      }
    }
    if nbits > 0 {
      dst[pos] = acc as u8;
    }
  }
  Ok(out)
}

/// Reads slot `i` of a packed b-bit signature.
#[inline]
fn bbit_get(packed: &[u8], i: usize, bits: u32) -> u32 {
  let start = i * bits as usize;
  let mut v: u32 = 0;
  // At most 16 bits span at most 3 bytes.
  for k in 0..3 {
    let byte = start / 8 + k;
    if byte >= packed.len() {
      break;
    }
    v |= (packed[byte] as u32) << (8 * k);
  }
  (v >> (start % 8)) & ((1u32 << bits) - 1)
}

/// Corrected Jaccard estimate from two packed b-bit signatures of `num_perm` slots.
pub fn bbit_jaccard(a: &[u8], b: &[u8], num_perm: usize, bits: u32) -> Result<f64> {
  check_bits(bits)?;
  let per = bbit_bytes(num_perm, bits);
  if num_perm == 0 || a.len() != per || b.len() != per {
    return Err(Error::InvalidArg(format!(
      "b-bit signatures must have {per} bytes for numPerm = {num_perm}, bBits = {bits} (got {} and {})",
      a.len(),
      b.len()
    )));
  }
  let eq = (0..num_perm)
    .filter(|&i| bbit_get(a, i, bits) == bbit_get(b, i, bits))
    .count();
  let p = eq as f64 / num_perm as f64;
  let c = 1.0 / (1u64 << bits) as f64;
  Ok(((p - c) / (1.0 - c)).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  #[test]
  fn packing_round_trips_every_width() {
    let mut rng = Rng::new(3);
    for bits in 1..=16u32 {
      for k in [1usize, 7, 64, 129] {
        let sigs: Vec<u32> = (0..2 * k).map(|_| rng.next_u32()).collect();
        let packed = bbit_compact(&sigs, k, bits).unwrap();
        let per = bbit_bytes(k, bits);
        assert_eq!(packed.len(), 2 * per);
        for s in 0..2 {
          for i in 0..k {
            assert_eq!(
              bbit_get(&packed[s * per..(s + 1) * per], i, bits),
              sigs[s * k + i] & ((1 << bits) - 1)
            );
          }
        }
      }
    }
    assert!(bbit_compact(&[1, 2, 3], 2, 8).is_err());
    assert!(bbit_compact(&[1, 2], 2, 0).is_err());
    assert!(bbit_compact(&[1, 2], 2, 17).is_err());
  }

  #[test]
  fn jaccard_rejects_mismatched_lengths() {
    assert!(jaccard(&[1, 2], &[1, 2, 3]).is_err());
    assert!(jaccard(&[], &[]).is_err());
    assert_eq!(jaccard(&[1, 2, 3, 4], &[1, 0, 3, 0]).unwrap(), 0.5);
    assert!(bbit_jaccard(&[0; 3], &[0; 4], 16, 2).is_err());
  }
}
