//! Free functions: bit kernels and build information.

use crate::error::{guard, invalid};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::{binary, simd};

#[napi(object)]
pub struct NativeInfo {
  /// Architecture and OS the addon was compiled for, e.g. `x86_64-linux`.
  pub target: String,
  /// SIMD tier in use: `avx512`, `avx2`, `neon` or `scalar`.
  pub simd: String,
  /// Best tier this CPU supports (the active one may be lower via `SLIMDEX_SIMD`).
  pub simd_detected: String,
  /// slimdex-core version.
  pub version: String,
}

#[napi]
pub fn native_info() -> NativeInfo {
  NativeInfo {
    target: simd::target(),
    simd: simd::tier().name().to_string(),
    simd_detected: simd::detected().name().to_string(),
    version: slimdex_core::VERSION.to_string(),
  }
}

/// Forces the SIMD tier (clamped to what the CPU supports) and returns the tier now in use.
#[napi]
pub fn set_simd_tier(tier: String) -> napi::Result<String> {
  let t = simd::Tier::parse(&tier)
    .ok_or_else(|| invalid(format!("tier must be 'scalar', 'neon', 'avx2' or 'avx512' (got {tier:?})")))?;
  Ok(simd::set_tier(t).name().to_string())
}

#[napi]
pub fn hamming_distance(a: &[u8], b: &[u8]) -> napi::Result<u32> {
  if a.len() != b.len() {
    return Err(invalid(format!("codes have different lengths ({} and {} bytes)", a.len(), b.len())));
  }
  guard(|| Ok(binary::hamming(a, b)))
}

#[napi]
pub fn pack_signs(vectors: &[f32], dim: u32) -> napi::Result<Uint8Array> {
  guard(|| binary::pack_signs(vectors, dim as usize)).map(Uint8Array::from)
}

/// Benchmark helper (not part of the public API): single-core sequential read bandwidth in
/// GB/s, the best of `repetitions` streaming sums over a `megabytes` buffer.
#[napi]
pub fn measure_read_bandwidth(megabytes: u32, repetitions: u32) -> napi::Result<f64> {
  if megabytes == 0 || megabytes > 16384 || repetitions == 0 {
    return Err(invalid("megabytes must be in [1, 16384] and repetitions ≥ 1"));
  }
  let words = megabytes as usize * (1 << 20) / 8;
  // Non-constant contents so the pages are really allocated and read.
  let buf: Vec<u64> = (0..words as u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
  let mut best = f64::INFINITY;
  let mut sink = 0u64;
  for _ in 0..repetitions {
    let t = std::time::Instant::now();
    sink = sink.wrapping_add(simd::stream_sum(std::hint::black_box(&buf)));
    best = best.min(t.elapsed().as_secs_f64());
  }
  std::hint::black_box(sink);
  Ok((words * 8) as f64 / best / 1e9)
}
