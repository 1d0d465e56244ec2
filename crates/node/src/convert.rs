//! Conversions shared by every binding: ids, hits, integer arguments, memory reports.

use crate::error::invalid;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::ids::{ExternalId, IdMap};
use slimdex_core::topk::Scored;

/// Ids as they cross the boundary: numbers as one `Float64Array` (fast), or strings.
pub type IdsInput = Either<Float64Array, Vec<String>>;

pub fn ids_from_js(ids: IdsInput) -> napi::Result<Vec<ExternalId>> {
  match ids {
    Either::A(nums) => nums
      .iter()
      .map(|&v| ExternalId::from_f64(v))
      .collect::<slimdex_core::Result<Vec<_>>>()
      .map_err(crate::error::to_napi),
    Either::B(strs) => Ok(strs.into_iter().map(ExternalId::Str).collect()),
  }
}

pub fn id_to_js(id: ExternalId) -> Either<String, f64> {
  match id {
    // Ids are safe integers (checked on the way in), so the conversion is exact.
    ExternalId::Int(v) => Either::B(v as f64),
    ExternalId::Str(s) => Either::A(s),
  }
}

/// One search result.
#[napi(object)]
pub struct Hit {
  /// The id given to `add`.
  pub id: Either<String, f64>,
  /// Larger is better.
  pub score: f64,
}

pub fn hits_to_js(ids: &IdMap, hits: Vec<Scored<f32>>) -> Vec<Hit> {
  hits.into_iter().map(|h| Hit { id: id_to_js(ids.get(h.id)), score: h.score as f64 }).collect()
}

/// One component of `memoryUsage()`.
#[napi(object)]
pub struct MemoryComponent {
  pub name: String,
  /// Bytes held by this component.
  pub bytes: f64,
}

pub fn memory_to_js(parts: Vec<(&'static str, usize)>) -> Vec<MemoryComponent> {
  parts.into_iter().map(|(name, bytes)| MemoryComponent { name: name.to_string(), bytes: bytes as f64 }).collect()
}

/// A JS number that must be a non-negative integer (N-API would silently truncate 1.5 and
/// turn Infinity into 0, so integer arguments arrive as f64 and are checked here).
pub fn to_usize(v: f64, name: &str) -> napi::Result<usize> {
  if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
    return Err(invalid(format!("{name} must be a non-negative integer (got {v})")));
  }
  Ok(v as usize)
}

pub fn to_usize_opt(v: Option<f64>, name: &str) -> napi::Result<Option<usize>> {
  v.map(|v| to_usize(v, name)).transpose()
}

/// `k`: a positive integer below 2^32.
pub fn to_k(v: f64) -> napi::Result<usize> {
  let k = to_usize(v, "k")?;
  if k == 0 || k > u32::MAX as usize {
    return Err(invalid(format!("k must be an integer in [1, 2^32 − 1] (got {v})")));
  }
  Ok(k)
}
