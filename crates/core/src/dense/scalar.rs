//! Scalar storage formats: IEEE binary16, float8 E4M3 and per-dimension affine int8.
//!
//! - float16: round to nearest even (`half` for the scalar twin, F16C `vcvtps2ph` on x86);
//!   relative error ≤ 2⁻¹¹ in the normal range (|x| ≥ 2⁻¹⁴), saturating beyond ±65504.
//! - float8 E4M3 ("fn" variant: no infinities, NaN = 0x7f/0xff): 1 sign, 4 exponent (bias 7),
//!   3 mantissa bits; round to nearest even, saturating at ±448. Relative error ≤ 2⁻⁴ for
//!   |x| ≥ 2⁻⁶, absolute error ≤ 2⁻¹⁰ below.
//! - int8 (sentence-transformers style): per-dimension `[min, max]` from calibration vectors,
//!   256 levels, code = round((x − min) / step) clamped to [0, 255] with step = (max − min)/255;
//!   decoded value min + code·step, so the error is ≤ step/2 inside the calibration range.

use crate::simd::{self, Tier};

/// f32 → binary16 bits, round to nearest even (scalar twin).
pub fn f32_to_f16_scalar(src: &[f32], dst: &mut [u16]) {
  for (d, &s) in dst.iter_mut().zip(src) {
    *d = half::f16::from_f32(s).to_bits();
  }
}

/// f32 → binary16 bits on the given tier (F16C when available); bit-identical to the scalar twin.
pub fn f32_to_f16_with(tier: Tier, src: &[f32], dst: &mut [u16]) {
  assert_eq!(src.len(), dst.len());
  #[cfg(target_arch = "x86_64")]
  if tier >= Tier::Avx2 && std::arch::is_x86_feature_detected!("f16c") {
    // SAFETY: F16C (and AVX, implied by the Avx2 tier) checked just above; equal lengths asserted.
    unsafe { f16c_convert(src, dst) };
    return;
  }
  let _ = tier;
  f32_to_f16_scalar(src, dst)
}

/// f32 → binary16 on the active tier.
pub fn f32_to_f16(src: &[f32], dst: &mut [u16]) {
  f32_to_f16_with(simd::tier(), src, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,f16c")]
unsafe fn f16c_convert(src: &[f32], dst: &mut [u16]) {
  use std::arch::x86_64::*;
  let n = src.len();
  let mut i = 0;
  while i + 8 <= n {
    let v = _mm256_loadu_ps(src.as_ptr().add(i));
    let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
    _mm_storeu_si128(dst.as_mut_ptr().add(i) as *mut __m128i, h);
    i += 8;
  }
  f32_to_f16_scalar(&src[i..], &mut dst[i..]);
}

/// f32 → E4M3, round to nearest even, saturating at ±448 (NaN is never produced; inputs are
/// validated finite).
pub fn f32_to_e4m3(x: f32) -> u8 {
  let sign = if x.is_sign_negative() { 0x80u8 } else { 0 };
  let a = x.abs();
  let mag = if a >= 448.0 {
    0x7e
  } else if a < 2f32.powi(-6) {
    // Subnormal range: units of 2⁻⁹; a result of 8 is the smallest normal (code 0x08).
    (a * 512.0).round_ties_even() as u8
  } else {
    // Round the f32 mantissa to 3 bits on the whole bit pattern (a carry moves into the
    // exponent), then rebias from 127 to 7.
    let bits = a.to_bits();
    let r = bits + (1 << 19) - 1 + ((bits >> 20) & 1);
    let code = (r >> 20) - (120 << 3);
    code.min(0x7e) as u8
  };
  sign | mag
}

/// Per-dimension affine int8 ranges fitted on calibration vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Ranges {
  /// Lower end of each dimension's range.
  pub min: Vec<f32>,
  /// Step between consecutive levels (> 0).
  pub step: Vec<f32>,
}

impl Int8Ranges {
  /// Min/max of each dimension over `vectors` (row-major, `dim` wide, at least one row).
  /// A constant dimension gets a tiny positive step so it still decodes to its value.
  pub fn fit(vectors: &[f32], dim: usize) -> Int8Ranges {
    let mut lo = vec![f32::INFINITY; dim];
    let mut hi = vec![f32::NEG_INFINITY; dim];
    for row in vectors.chunks_exact(dim) {
      for j in 0..dim {
        lo[j] = lo[j].min(row[j]);
        hi[j] = hi[j].max(row[j]);
      }
    }
    let step = lo
      .iter()
      .zip(&hi)
      .map(|(&l, &h)| {
        let s = (h - l) / 255.0;
        if s > 0.0 && s.is_finite() {
          s
        } else {
          f32::MIN_POSITIVE.max(l.abs() * 1e-7)
        }
      })
      .collect();
    Int8Ranges { min: lo, step }
  }

  pub fn encode(&self, row: &[f32], out: &mut [u8]) {
    for j in 0..row.len() {
      out[j] = ((row[j] - self.min[j]) / self.step[j]).round().clamp(0.0, 255.0) as u8;
    }
  }

  pub fn decode(&self, code: &[u8], out: &mut [f32]) {
    for j in 0..code.len() {
      out[j] = self.min[j] + code[j] as f32 * self.step[j];
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dense::dot::e4m3_to_f32;
  use crate::rng::Rng;

  #[test]
  fn f16_every_tier_is_bit_identical_to_half() {
    let mut rng = Rng::new(5);
    let mut src: Vec<f32> = (0..1003)
      .map(|_| (rng.normal() * 10f64.powi(rng.below(12) as i32 - 6)) as f32)
      .collect();
    src.extend([0.0, -0.0, 65504.0, 70000.0, -1e6, 6e-8, 1e-9]);
    let mut want = vec![0u16; src.len()];
    f32_to_f16_scalar(&src, &mut want);
    for tier in simd::available() {
      let mut got = vec![0u16; src.len()];
      f32_to_f16_with(tier, &src, &mut got);
      assert_eq!(got, want, "{tier:?}");
    }
    for (&x, &h) in src.iter().zip(&want) {
      let y = half::f16::from_bits(h).to_f32();
      if x.abs() >= 2f32.powi(-14) && x.abs() <= 65504.0 {
        assert!((y - x).abs() <= x.abs() * 2f32.powi(-11), "{x} -> {y}");
      }
    }
  }

  #[test]
  fn e4m3_round_trip_is_within_the_format_bound_and_nearest() {
    let mut rng = Rng::new(6);
    // All finite decoded values, sorted, to check "nearest" by brute force.
    let mut table: Vec<f32> = (0u16..=255)
      .filter(|b| b & 0x7f != 0x7f)
      .map(|b| e4m3_to_f32(b as u8))
      .collect();
    table.sort_by(f32::total_cmp);
    for i in 0..20_000 {
      let x = if i < 16 {
        [
          0.0,
          -0.0,
          448.0,
          -448.0,
          500.0,
          1e9,
          2f32.powi(-6),
          2f32.powi(-9),
          2f32.powi(-10),
          0.0019,
          464.0,
          1.0625,
          1.1875,
          3.0,
          0.1,
          -7.5,
        ][i]
      } else {
        (rng.normal() * 10f64.powi(rng.below(8) as i32 - 4)) as f32
      };
      let c = f32_to_e4m3(x);
      assert_ne!(c & 0x7f, 0x7f, "NaN produced for {x}");
      let y = e4m3_to_f32(c);
      let a = x.abs();
      if a <= 448.0 {
        let bound = if a >= 2f32.powi(-6) {
          a * 2f32.powi(-4)
        } else {
          2f32.powi(-10)
        };
        assert!((y - x).abs() <= bound, "{x} -> {y}");
        // Nearest representable value.
        let best = table.iter().map(|&t| (t - x).abs()).fold(f32::INFINITY, f32::min);
        assert_eq!((y - x).abs(), best, "{x} -> {y} is not the nearest");
      } else {
        assert_eq!(y, 448f32.copysign(x));
      }
    }
  }

  #[test]
  fn int8_round_trip_error_is_at_most_half_a_step() {
    let mut rng = Rng::new(7);
    let dim = 13;
    let v: Vec<f32> = (0..200 * dim).map(|_| rng.normal() as f32).collect();
    let r = Int8Ranges::fit(&v, dim);
    let mut code = vec![0u8; dim];
    let mut back = vec![0f32; dim];
    for row in v.chunks_exact(dim) {
      r.encode(row, &mut code);
      r.decode(&code, &mut back);
      for j in 0..dim {
        assert!(
          (back[j] - row[j]).abs() <= r.step[j] * 0.5 + 1e-6,
          "dim {j}: {} vs {}",
          back[j],
          row[j]
        );
      }
    }
  }
}
