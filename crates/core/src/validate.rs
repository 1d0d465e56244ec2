//! Argument checks shared by every index. The TypeScript layer validates first; the core
//! checks again so that a direct caller (or a bug in the TS layer) gets an error, not a panic.

use crate::{Error, Result};

/// Checks that `values.len()` is a whole number of `dim`-vectors and returns how many.
pub fn vector_count(values_len: usize, dim: usize, what: &str) -> Result<usize> {
  if dim == 0 {
    return Err(Error::invalid("dim must be a positive integer"));
  }
  if !values_len.is_multiple_of(dim) {
    return Err(Error::InvalidArg(format!(
      "{what}: length {values_len} is not a multiple of dim {dim}"
    )));
  }
  Ok(values_len / dim)
}

/// Rejects NaN and ±Infinity, naming the first offending vector and component.
pub fn finite(values: &[f32], dim: usize, what: &str) -> Result<()> {
  if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
    return Err(Error::InvalidArg(format!(
      "{what}: vector {} component {} is {} (all values must be finite)",
      pos / dim.max(1),
      pos % dim.max(1),
      values[pos]
    )));
  }
  Ok(())
}

/// Checks a query's dimension.
pub fn query_dim(query_len: usize, dim: usize) -> Result<()> {
  if query_len != dim {
    return Err(Error::DimMismatch {
      expected: dim,
      got: query_len,
    });
  }
  Ok(())
}

/// `k` must be at least 1; `k` larger than the index is allowed (fewer hits are returned).
pub fn k(k: usize) -> Result<()> {
  if k == 0 {
    return Err(Error::invalid("k must be a positive integer (got 0)"));
  }
  Ok(())
}

/// Converts a length that must fit the u32 internal-id space.
pub fn to_u32(n: usize, what: &str) -> Result<u32> {
  u32::try_from(n).map_err(|_| Error::InvalidArg(format!("{what} ({n}) exceeds the u32 limit")))
}
