//! Free Chamfer (MaxSim) functions.

use crate::convert::{to_usize, to_usize_opt};
use crate::error::guard;
use crate::fde_encoder::offsets_from_js;
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::multivec;

/// Σ over query tokens of the max dot product over document tokens.
#[napi]
pub fn chamfer(query: &[f32], doc: &[f32], dim: f64, clamp_negative: Option<bool>) -> napi::Result<f64> {
  let dim = to_usize(dim, "dim")?;
  guard(|| multivec::chamfer(query, doc, dim, clamp_negative.unwrap_or(false))).map(|s| s as f64)
}

fn rerank_job(
  query: &[f32],
  dim: f64,
  tokens: &[f32],
  offsets: &[u32],
  clamp_negative: Option<bool>,
  threads: Option<f64>,
) -> napi::Result<Job<Float32Array>> {
  let dim = to_usize(dim, "dim")?;
  let threads = to_usize_opt(threads, "threads")?;
  let query = query.to_vec();
  let tokens = tokens.to_vec();
  let offsets = offsets_from_js(offsets);
  let clamp = clamp_negative.unwrap_or(false);
  Ok(Job::new(move || {
    guard(|| multivec::chamfer_rerank(&query, dim, &tokens, &offsets, clamp, threads)).map(Float32Array::new)
  }))
}

/// Chamfer scores of a CSR batch of candidate documents against one query, in input order.
/// Reads the JS buffers in place: the JS thread waits for the call, so they cannot change.
#[napi]
pub fn chamfer_rerank_sync(
  query: &[f32],
  dim: f64,
  tokens: &[f32],
  offsets: &[u32],
  clamp_negative: Option<bool>,
  threads: Option<f64>,
) -> napi::Result<Float32Array> {
  let dim = to_usize(dim, "dim")?;
  let threads = to_usize_opt(threads, "threads")?;
  let offsets = offsets_from_js(offsets);
  let clamp = clamp_negative.unwrap_or(false);
  guard(|| multivec::chamfer_rerank(query, dim, tokens, &offsets, clamp, threads)).map(Float32Array::new)
}

#[napi(ts_return_type = "Promise<Float32Array>")]
pub fn chamfer_rerank(
  query: &[f32],
  dim: f64,
  tokens: &[f32],
  offsets: &[u32],
  clamp_negative: Option<bool>,
  threads: Option<f64>,
  signal: Option<AbortSignal>,
) -> napi::Result<AsyncTask<Job<Float32Array>>> {
  let job = rerank_job(query, dim, tokens, offsets, clamp_negative, threads)?;
  Ok(AsyncTask::with_optional_signal(job, signal))
}
