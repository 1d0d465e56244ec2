//! Multi-vector (late-interaction) retrieval: MUVERA fixed-dimensional encodings, exact
//! Chamfer (MaxSim) scoring, and [`MultiVectorIndex`] which combines them.
//!
//! Point clouds cross every API in CSR layout: one flat `tokens` array of `n_tokens × dim`
//! floats plus `offsets` (`n + 1` entries, `offsets[0] = 0`, non-decreasing, last = n_tokens);
//! point cloud `i` is tokens `offsets[i]..offsets[i + 1]`.

mod chamfer;
mod fde;
mod fde_scan;
mod index;

pub use chamfer::{chamfer, chamfer_rerank, chamfer_scalar, chamfer_with, DocTokens, PreparedQuery};
pub use fde::{
  partition_index, partition_pattern, FdeEncoder, FdeOptions, Projection, FDE_SPEC_VERSION, MAX_FDE_DIM,
  MAX_SIMHASH_BITS,
};
pub use fde_scan::{fde_scores_with, FdeRows, PreparedFde};
pub use index::{
  FdePqOptions, FdeStorage, MultiVectorIndex, MultiVectorOptions, PreparedAdd, SearchOptions, TokenStorage,
};

use crate::{validate, Error, Result};

/// Largest token dimension accepted (scratch buffers are sized from it).
pub const MAX_TOKEN_DIM: usize = 1 << 16;

/// Checks a token dimension.
pub(crate) fn check_dim(dim: usize) -> Result<()> {
  if dim == 0 || dim > MAX_TOKEN_DIM {
    return Err(Error::InvalidArg(format!(
      "dim must be an integer in [1, {MAX_TOKEN_DIM}] (got {dim})"
    )));
  }
  Ok(())
}

/// Validates a CSR batch of point clouds (shape, offsets, finiteness) and returns how many
/// point clouds it holds. Empty point clouds are allowed here; callers that cannot score
/// them reject them with [`reject_empty`].
pub(crate) fn check_csr(tokens: &[f32], dim: usize, offsets: &[usize], what: &str) -> Result<usize> {
  check_dim(dim)?;
  let n_tokens = validate::vector_count(tokens.len(), dim, what)?;
  if offsets.is_empty() {
    return Err(Error::InvalidArg(format!(
      "{what}: offsets must have n + 1 entries starting at 0 (got an empty array)"
    )));
  }
  if offsets[0] != 0 {
    return Err(Error::InvalidArg(format!(
      "{what}: offsets[0] must be 0 (got {})",
      offsets[0]
    )));
  }
  for (i, w) in offsets.windows(2).enumerate() {
    if w[1] < w[0] {
      return Err(Error::InvalidArg(format!(
        "{what}: offsets must be non-decreasing (offsets[{}] = {} < offsets[{i}] = {})",
        i + 1,
        w[1],
        w[0]
      )));
    }
  }
  let last = offsets[offsets.len() - 1];
  if last != n_tokens {
    return Err(Error::InvalidArg(format!(
      "{what}: the last offset ({last}) must equal the number of tokens ({n_tokens} = tokens.length / dim)"
    )));
  }
  validate::finite(tokens, dim, what)?;
  Ok(offsets.len() - 1)
}

/// Rejects point clouds without tokens (Chamfer against an empty set is undefined).
pub(crate) fn reject_empty(offsets: &[usize], what: &str) -> Result<()> {
  if let Some(i) = offsets.windows(2).position(|w| w[0] == w[1]) {
    return Err(Error::InvalidArg(format!(
      "{what}: point cloud {i} has no tokens (each needs at least one)"
    )));
  }
  Ok(())
}

#[cfg(test)]
pub(crate) mod testdata {
  use crate::rng::Rng;

  /// Clustered, L2-normalised token sets (ColBERT-like): each document draws its tokens
  /// around a few of `topics` shared centres. Returns (tokens, offsets).
  pub fn clustered_docs(
    rng: &mut Rng,
    n_docs: usize,
    dim: usize,
    min_tokens: usize,
    max_tokens: usize,
    topics: usize,
  ) -> (Vec<f32>, Vec<usize>) {
    let centres: Vec<f32> = (0..topics * dim).map(|_| rng.normal() as f32).collect();
    let mut tokens = Vec::new();
    let mut offsets = vec![0usize];
    for _ in 0..n_docs {
      let n = min_tokens + rng.below((max_tokens - min_tokens + 1) as u64) as usize;
      let doc_topics: Vec<usize> = (0..3).map(|_| rng.below(topics as u64) as usize).collect();
      for _ in 0..n {
        let c = doc_topics[rng.below(3) as usize];
        let mut v: Vec<f32> = (0..dim)
          .map(|j| centres[c * dim + j] + 0.6 * rng.normal() as f32)
          .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        tokens.extend_from_slice(&v);
      }
      offsets.push(offsets.last().unwrap() + n);
    }
    (tokens, offsets)
  }

  /// Plain Gaussian (unnormalised) vectors.
  pub fn gaussian(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
  }
}
