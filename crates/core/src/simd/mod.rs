//! CPU feature detection, done once and cached, and the dispatch tier every kernel uses.
//!
//! The core is compiled for the baseline target (plain x86-64 / aarch64); kernels with
//! `#[target_feature]` are only called after [`tier`] says the CPU has the features.
//!
//! `SLIMDEX_SIMD=scalar|avx2|avx512|neon` in the environment caps the tier (it can lower it,
//! never raise it above what the CPU supports). [`set_tier`] does the same at run time so
//! tests and benchmarks can compare tiers in one process.

use std::sync::atomic::{AtomicU8, Ordering};

/// A dispatch tier. Higher tiers imply the features of the lower ones on the same arch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Tier {
  /// Portable Rust (u64 `count_ones`, plain loops the compiler may auto-vectorise for SSE2).
  Scalar = 0,
  /// aarch64 Advanced SIMD.
  Neon = 1,
  /// x86-64 AVX2 + FMA + POPCNT.
  Avx2 = 2,
  /// x86-64 AVX-512 F/BW/VL with VPOPCNTDQ, on top of the AVX2 tier's features.
  Avx512 = 3,
}

impl Tier {
  pub fn name(self) -> &'static str {
    match self {
      Tier::Scalar => "scalar",
      Tier::Neon => "neon",
      Tier::Avx2 => "avx2",
      Tier::Avx512 => "avx512",
    }
  }

  pub fn parse(s: &str) -> Option<Tier> {
    match s.trim().to_ascii_lowercase().as_str() {
      "scalar" | "none" | "off" => Some(Tier::Scalar),
      "neon" => Some(Tier::Neon),
      "avx2" => Some(Tier::Avx2),
      "avx512" | "avx-512" => Some(Tier::Avx512),
      _ => None,
    }
  }
}

const UNSET: u8 = u8::MAX;
static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

/// The best tier this CPU supports (not affected by the environment or [`set_tier`]).
pub fn detected() -> Tier {
  #[cfg(target_arch = "x86_64")]
  {
    // AVX-512 kernels fall back to AVX2 ones for some shapes and every tier implies the ones
    // below it, so the AVX-512 tier also needs the AVX2 tier's features (a CPU or VM could
    // report AVX-512 with POPCNT or FMA masked off).
    let avx2 = std::arch::is_x86_feature_detected!("avx2")
      && std::arch::is_x86_feature_detected!("fma")
      && std::arch::is_x86_feature_detected!("popcnt");
    if !avx2 {
      return Tier::Scalar;
    }
    if std::arch::is_x86_feature_detected!("avx512f")
      && std::arch::is_x86_feature_detected!("avx512bw")
      && std::arch::is_x86_feature_detected!("avx512vl")
      && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
    {
      return Tier::Avx512;
    }
    Tier::Avx2
  }
  #[cfg(target_arch = "aarch64")]
  {
    if std::arch::is_aarch64_feature_detected!("neon") {
      return Tier::Neon;
    }
    Tier::Scalar
  }
  #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
  {
    Tier::Scalar
  }
}

/// Every tier usable on this CPU, lowest first (always includes `Scalar`).
pub fn available() -> Vec<Tier> {
  let best = detected();
  [Tier::Scalar, Tier::Neon, Tier::Avx2, Tier::Avx512]
    .into_iter()
    .filter(|t| *t == Tier::Scalar || (*t <= best && same_arch(*t, best)))
    .collect()
}

fn same_arch(a: Tier, b: Tier) -> bool {
  let arm = |t: Tier| t == Tier::Neon;
  arm(a) == arm(b)
}

/// Clamps a requested tier to what the CPU can run.
fn clamp(requested: Tier) -> Tier {
  if available().contains(&requested) {
    requested
  } else {
    // A request above the CPU (or for the other arch) falls back to the best available tier
    // that is not higher than the request.
    available()
      .into_iter()
      .filter(|t| *t <= requested)
      .max()
      .unwrap_or(Tier::Scalar)
  }
}

fn from_u8(v: u8) -> Tier {
  match v {
    1 => Tier::Neon,
    2 => Tier::Avx2,
    3 => Tier::Avx512,
    _ => Tier::Scalar,
  }
}

/// The tier kernels dispatch on: detected once, capped by `SLIMDEX_SIMD`, then cached.
#[inline]
pub fn tier() -> Tier {
  let v = ACTIVE.load(Ordering::Relaxed);
  if v != UNSET {
    return from_u8(v);
  }
  let mut t = detected();
  if let Ok(env) = std::env::var("SLIMDEX_SIMD") {
    if let Some(cap) = Tier::parse(&env) {
      t = clamp(cap.min(t));
    }
  }
  ACTIVE.store(t as u8, Ordering::Relaxed);
  t
}

/// Forces the dispatch tier (clamped to what the CPU supports); returns the tier now active.
/// Meant for benchmarks and tests that compare tiers in one process.
pub fn set_tier(requested: Tier) -> Tier {
  let t = clamp(requested);
  ACTIVE.store(t as u8, Ordering::Relaxed);
  t
}

/// The target triple family this crate was compiled for, e.g. `x86_64-linux`.
pub fn target() -> String {
  format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// Sums `bytes` as little-endian u64 words with wrapping adds (a trailing partial word is
/// ignored): a plain streaming read the compiler vectorises. Benchmarks time it over a buffer
/// larger than the caches to measure single-core read bandwidth, the physical limit of any scan.
pub fn stream_sum(bytes: &[u8]) -> u64 {
  // Eight independent accumulators so the loop is bound by loads, not by one add chain.
  let mut acc = [0u64; 8];
  for block in bytes.chunks_exact(64) {
    for (a, w) in acc.iter_mut().zip(block.chunks_exact(8)) {
      *a = a.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
  }
  let tail = bytes.len() / 64 * 64;
  let rest = bytes[tail..].chunks_exact(8).fold(0u64, |s, w| {
    s.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes")))
  });
  acc.iter().fold(rest, |s, &a| s.wrapping_add(a))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn scalar_is_always_available_and_clamping_never_raises() {
    assert!(available().contains(&Tier::Scalar));
    assert_eq!(clamp(Tier::Scalar), Tier::Scalar);
    assert!(clamp(Tier::Avx512) <= detected().max(Tier::Scalar) || detected() == Tier::Neon);
  }

  #[test]
  fn parse_round_trips_names() {
    for t in [Tier::Scalar, Tier::Neon, Tier::Avx2, Tier::Avx512] {
      assert_eq!(Tier::parse(t.name()), Some(t));
    }
    assert_eq!(Tier::parse("sse9"), None);
  }

  #[test]
  fn stream_sum_adds_little_endian_words_and_ignores_a_partial_word() {
    let words: Vec<u64> = (0..37u64)
      .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
      .collect();
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.extend_from_slice(&[0xff; 5]);
    assert_eq!(
      stream_sum(&bytes),
      words.iter().fold(0u64, |s, &w| s.wrapping_add(w))
    );
  }
}
