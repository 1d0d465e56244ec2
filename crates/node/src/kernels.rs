//! Free functions: bit kernels and build information.

use crate::error::{guard, invalid};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::huge_bytes::HugeBytes;
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
  let t = simd::Tier::parse(&tier).ok_or_else(|| {
    invalid(format!(
      "tier must be 'scalar', 'neon', 'avx2' or 'avx512' (got {tier:?})"
    ))
  })?;
  Ok(simd::set_tier(t).name().to_string())
}

#[napi]
pub fn hamming_distance(a: &[u8], b: &[u8]) -> napi::Result<u32> {
  if a.len() != b.len() {
    return Err(invalid(format!(
      "codes have different lengths ({} and {} bytes)",
      a.len(),
      b.len()
    )));
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
  let bytes = megabytes as usize * (1 << 20);
  // Non-constant contents so the pages are really allocated and read; on huge pages like the
  // binary codes, so the scan and this limit are measured on the same footing.
  let mebibyte: Vec<u8> = (0..1u64 << 20)
    .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
    .collect();
  let mut buf = HugeBytes::new();
  for _ in 0..megabytes {
    buf
      .extend_from_slice(&mebibyte)
      .map_err(|e| invalid(format!("cannot allocate {megabytes} MiB: {e}")))?;
  }
  let mut best = f64::INFINITY;
  let mut sink = 0u64;
  for _ in 0..repetitions {
    let t = std::time::Instant::now();
    sink = sink.wrapping_add(simd::stream_sum(std::hint::black_box(&buf)));
    best = best.min(t.elapsed().as_secs_f64());
  }
  std::hint::black_box(sink);
  Ok(bytes as f64 / best / 1e9)
}

/// One section of a saved index.
#[napi(object)]
pub struct SectionInfo {
  /// Four-character section tag, e.g. `CODE`.
  pub tag: String,
  /// Payload size in bytes.
  pub bytes: f64,
}

/// What a saved index holds (from its validated header).
#[napi(object)]
pub struct IndexFileInfo {
  /// The index kind, e.g. `BinaryIndex`.
  pub kind: String,
  /// Container format version.
  pub format_version: u32,
  /// Total size in bytes.
  pub bytes: f64,
  /// Size of the kind-specific parameter block.
  pub params_bytes: f64,
  pub sections: Vec<SectionInfo>,
}

fn file_info(bytes: &[u8]) -> slimdex_core::Result<IndexFileInfo> {
  let c = slimdex_core::io::Container::parse_any(bytes)?;
  Ok(IndexFileInfo {
    kind: c.kind.name().to_string(),
    format_version: c.version as u32,
    bytes: bytes.len() as f64,
    params_bytes: c.params().len() as f64,
    sections: c
      .section_sizes()
      .into_iter()
      .map(|(tag, n)| SectionInfo { tag, bytes: n as f64 })
      .collect(),
  })
}

/// Validates a saved index (every checksum) and describes it, from a buffer.
#[napi]
pub fn inspect_index_buffer(buffer: &[u8]) -> napi::Result<IndexFileInfo> {
  guard(|| file_info(buffer))
}

/// Validates a saved index file (every checksum) and describes it.
#[napi]
pub fn inspect_index_file(path: String) -> napi::Result<IndexFileInfo> {
  guard(|| {
    let bytes = slimdex_core::io::read_file(std::path::Path::new(&path), true)?;
    file_info(&bytes)
  })
}
