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

/// One id for a result that is not on a hot path (matches, pairs).
pub fn id_to_js(id: ExternalId) -> Either<String, f64> {
  match id {
    // Ids are safe integers (checked on the way in), so the conversion is exact.
    ExternalId::Int(v) => Either::B(v as f64),
    ExternalId::Str(s) => Either::A(s),
  }
}

/// Results of a batch as columns (one object per hit costs ≈ 350 ns to create through N-API;
/// columns cost one allocation each). Query q's hits are `[offsets[q], offsets[q + 1])` of the columns.
#[napi(object)]
pub struct HitBatch {
  pub ids: Either<Float64Array, Vec<String>>,
  pub scores: Float64Array,
  /// nq + 1 offsets into `ids` / `scores`.
  pub offsets: Uint32Array,
}

fn id_column<'a>(
  ids: &IdMap,
  hits: impl Iterator<Item = &'a Scored<f32>>,
) -> Either<Float64Array, Vec<String>> {
  if ids.holds_strings() {
    Either::B(
      hits
        .map(|h| match ids.get(h.id) {
          ExternalId::Str(s) => s,
          ExternalId::Int(v) => v.to_string(),
        })
        .collect(),
    )
  } else {
    // Integer ids are safe integers (checked on the way in), so f64 holds them exactly.
    Either::A(Float64Array::new(
      hits
        .map(|h| ids.get_int(h.id).unwrap_or_default() as f64)
        .collect(),
    ))
  }
}

/// Writes hits into caller-provided columns (the single-query fast path: no allocation crosses
/// the boundary). Integer ids go into `ids_out` and the count is returned; string ids are
/// returned as an array (scores still go into `scores_out`). The buffers must hold `k` entries.
pub fn hits_into(
  ids: &IdMap,
  hits: &[Scored<f32>],
  ids_out: &mut [f64],
  scores_out: &mut [f64],
) -> napi::Result<Either<u32, Vec<String>>> {
  if ids_out.len() < hits.len() || scores_out.len() < hits.len() {
    return Err(invalid(format!(
      "result buffers hold {} entries but {} hits were found",
      ids_out.len().min(scores_out.len()),
      hits.len()
    )));
  }
  for (s, h) in scores_out.iter_mut().zip(hits) {
    *s = h.score as f64;
  }
  if ids.holds_strings() {
    return Ok(Either::B(
      hits
        .iter()
        .map(|h| match ids.get(h.id) {
          ExternalId::Str(s) => s,
          ExternalId::Int(v) => v.to_string(),
        })
        .collect(),
    ));
  }
  for (o, h) in ids_out.iter_mut().zip(hits) {
    *o = ids.get_int(h.id).unwrap_or_default() as f64;
  }
  Ok(Either::A(hits.len() as u32))
}

/// Writes hits into one caller-provided buffer: ids in its first half, scores in its second
/// (one typed array crossing instead of two). When the hits do not fit, nothing is written and
/// their count (> half the length) is returned so the caller can grow the buffer and retry.
/// Otherwise as [`hits_into`]: the count for integer ids, the string ids as an array.
pub fn hits_into_halves(
  ids: &IdMap,
  hits: &[Scored<f32>],
  out: &mut [f64],
) -> napi::Result<Either<u32, Vec<String>>> {
  let cap = out.len() / 2;
  if hits.len() > cap {
    return u32::try_from(hits.len())
      .map(Either::A)
      .map_err(|_| invalid(format!("{} hits do not fit in a result buffer", hits.len())));
  }
  let (ids_out, scores_out) = out.split_at_mut(cap);
  hits_into(ids, hits, ids_out, scores_out)
}

pub fn hit_batch_out(ids: &IdMap, batches: &[Vec<Scored<f32>>]) -> HitBatch {
  let mut offsets = Vec::with_capacity(batches.len() + 1);
  offsets.push(0u32);
  let mut total = 0u32;
  for b in batches {
    total += b.len() as u32;
    offsets.push(total);
  }
  HitBatch {
    ids: id_column(ids, batches.iter().flatten()),
    scores: Float64Array::new(batches.iter().flatten().map(|h| h.score as f64).collect()),
    offsets: Uint32Array::new(offsets),
  }
}

/// One component of `memoryUsage()`.
#[napi(object)]
pub struct MemoryComponent {
  pub name: String,
  /// Bytes held by this component.
  pub bytes: f64,
}

pub fn memory_to_js(parts: Vec<(&'static str, usize)>) -> Vec<MemoryComponent> {
  parts
    .into_iter()
    .map(|(name, bytes)| MemoryComponent {
      name: name.to_string(),
      bytes: bytes as f64,
    })
    .collect()
}

/// A JS number that must be a non-negative integer (N-API would silently truncate 1.5 and
/// turn Infinity into 0, so integer arguments arrive as f64 and are checked here).
pub fn to_usize(v: f64, name: &str) -> napi::Result<usize> {
  if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
    return Err(invalid(format!(
      "{name} must be a non-negative integer (got {v})"
    )));
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
    return Err(invalid(format!(
      "k must be an integer in [1, 2^32 − 1] (got {v})"
    )));
  }
  Ok(k)
}
