//! Packing float vectors into sign bits.
//!
//! Bit order matches NumPy's `packbits` (most significant bit first), so codes produced by
//! `sentence_transformers.quantize_embeddings(..., precision="ubinary")` are bit-identical to ours.
//! Padding bits of the last byte are zero, so they never contribute to a Hamming distance.

use crate::validate;
use crate::Result;

/// Bytes per code for `dim` bits.
pub fn code_bytes(dim: usize) -> usize {
  dim.div_ceil(8)
}

/// Packs one vector: bit i is set when `v[i] > threshold[i]` (threshold 0 when `None`).
pub fn pack_signs_into(v: &[f32], threshold: Option<&[f32]>, out: &mut [u8]) {
  debug_assert_eq!(out.len(), code_bytes(v.len()));
  for (byte_idx, chunk) in v.chunks(8).enumerate() {
    let mut byte = 0u8;
    for (bit, &x) in chunk.iter().enumerate() {
      let t = threshold.map_or(0.0, |t| t[byte_idx * 8 + bit]);
      byte |= ((x > t) as u8) << (7 - bit);
    }
    out[byte_idx] = byte;
  }
}

/// Packs a flat batch of `n × dim` floats into `n × ceil(dim/8)` bytes.
pub fn pack_signs(vectors: &[f32], dim: usize) -> Result<Vec<u8>> {
  let n = validate::vector_count(vectors.len(), dim, "vectors")?;
  validate::finite(vectors, dim, "vectors")?;
  let cb = code_bytes(dim);
  let mut out = vec![0u8; n * cb];
  for (v, o) in vectors.chunks_exact(dim).zip(out.chunks_exact_mut(cb)) {
    pack_signs_into(v, None, o);
  }
  Ok(out)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn msb_first_like_numpy_packbits() {
    // np.packbits([1,0,0,0,0,0,0,1, 1,1]) == [129, 192]
    let v = [1.0, -1.0, 0.0, -2.0, -1.0, -1.0, -1.0, 0.5, 3.0, 0.1];
    assert_eq!(pack_signs(&v, 10).unwrap(), vec![0b1000_0001, 0b1100_0000]);
  }

  #[test]
  fn rejects_bad_shapes_and_non_finite() {
    assert!(pack_signs(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(pack_signs(&[1.0, f32::NAN], 2).is_err());
    assert!(pack_signs(&[1.0], 0).is_err());
  }
}
