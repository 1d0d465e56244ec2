//! Dot-product kernels over the storage formats of [`FlatIndex`](super::FlatIndex) and the
//! float rescoring of [`PqIndex`](super::PqIndex): f32 · f32, f32 · f16 (IEEE binary16 bits),
//! f32 · u8 (affine int8 codes, the query pre-multiplied by the per-dimension steps) and
//! f32 · E4M3 (float8 bits).
//!
//! Each kernel has a scalar twin and AVX2 / AVX-512 paths. The SIMD paths sum in a different
//! order than the scalar twin, so results agree to f32 rounding (tests bound the difference by
//! a few ulps of Σ|aᵢbᵢ|), not bit for bit.

use crate::simd::{self, Tier};

/// E4M3 → f32 without a table: placing the 7 magnitude bits at f32 bit 20 gives a float with
/// the same exponent field and mantissa, off by the bias difference 2^(127−7); f32 subnormals
/// line up with E4M3 subnormals, so one multiply by 2^120 is exact for every code.
const E4M3_SCALE: f32 = f32::from_bits((120 + 127) << 23);

/// Decodes one E4M3 byte (sign, 4 exponent bits with bias 7, 3 mantissa bits). The NaN codes
/// 0x7f / 0xff are never produced by [`super::scalar::f32_to_e4m3`] and are rejected on load.
#[inline]
pub fn e4m3_to_f32(b: u8) -> f32 {
  let bits = (((b & 0x7f) as u32) << 20) | (((b & 0x80) as u32) << 24);
  f32::from_bits(bits) * E4M3_SCALE
}

/// Σ aᵢ·bᵢ, scalar twin.
pub fn dot_f32_scalar(a: &[f32], b: &[f32]) -> f32 {
  // Four partial sums so the loop is not one long dependency chain.
  let mut acc = [0f32; 4];
  let mut ca = a.chunks_exact(4);
  let mut cb = b.chunks_exact(4);
  for (x, y) in (&mut ca).zip(&mut cb) {
    for l in 0..4 {
      acc[l] += x[l] * y[l];
    }
  }
  let tail: f32 = ca
    .remainder()
    .iter()
    .zip(cb.remainder())
    .map(|(x, y)| x * y)
    .sum();
  (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Σ (aᵢ − bᵢ)², scalar twin.
pub fn l2sq_f32_scalar(a: &[f32], b: &[f32]) -> f32 {
  let mut acc = [0f32; 4];
  let mut ca = a.chunks_exact(4);
  let mut cb = b.chunks_exact(4);
  for (x, y) in (&mut ca).zip(&mut cb) {
    for l in 0..4 {
      let d = x[l] - y[l];
      acc[l] += d * d;
    }
  }
  let tail: f32 = ca
    .remainder()
    .iter()
    .zip(cb.remainder())
    .map(|(x, y)| (x - y) * (x - y))
    .sum();
  (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Σ qᵢ·f16(xᵢ), scalar twin (`x` holds binary16 bit patterns).
pub fn dot_f16_scalar(q: &[f32], x: &[u16]) -> f32 {
  q.iter()
    .zip(x)
    .map(|(&a, &b)| a * half::f16::from_bits(b).to_f32())
    .sum()
}

/// Σ qᵢ·xᵢ over u8 codes, scalar twin.
pub fn dot_u8_scalar(q: &[f32], x: &[u8]) -> f32 {
  q.iter().zip(x).map(|(&a, &b)| a * b as f32).sum()
}

/// Σ qᵢ·e4m3(xᵢ), scalar twin.
pub fn dot_e4m3_scalar(q: &[f32], x: &[u8]) -> f32 {
  q.iter().zip(x).map(|(&a, &b)| a * e4m3_to_f32(b)).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
  use super::E4M3_SCALE;
  use std::arch::x86_64::*;

  #[inline]
  #[target_feature(enable = "avx2,fma")]
  unsafe fn hsum256(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps(v, 1);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
  }

  /// Widens 8 bytes to 8 f32 lanes by the given decoder.
  #[inline]
  #[target_feature(enable = "avx2,fma")]
  unsafe fn load8_u8(p: *const u8) -> __m256i {
    _mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i))
  }

  #[inline]
  #[target_feature(enable = "avx2,fma")]
  unsafe fn e4m3_8(b: __m256i) -> __m256 {
    let mag = _mm256_slli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7f)), 20);
    let sign = _mm256_slli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x80)), 24);
    _mm256_mul_ps(
      _mm256_castsi256_ps(_mm256_or_si256(mag, sign)),
      _mm256_set1_ps(E4M3_SCALE),
    )
  }

  /// Which second operand the generic AVX2 loop widens.
  #[derive(Clone, Copy)]
  pub enum Src<'a> {
    F32(&'a [f32]),
    F16(&'a [u16]),
    U8(&'a [u8]),
    E4m3(&'a [u8]),
  }

  /// 8 lanes of the second operand at element `i` (caller guarantees i + 8 ≤ len).
  #[inline]
  #[target_feature(enable = "avx2,fma,f16c")]
  unsafe fn load8(src: Src<'_>, i: usize) -> __m256 {
    match src {
      Src::F32(x) => _mm256_loadu_ps(x.as_ptr().add(i)),
      Src::F16(x) => _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i) as *const __m128i)),
      Src::U8(x) => _mm256_cvtepi32_ps(load8_u8(x.as_ptr().add(i))),
      Src::E4m3(x) => e4m3_8(load8_u8(x.as_ptr().add(i))),
    }
  }

  /// Σ qᵢ·decode(xᵢ) with 2 × 8 FMA lanes.
  ///
  /// # Safety
  /// The CPU must support AVX2, FMA and F16C, and the second operand must have `q.len()` elements.
  #[target_feature(enable = "avx2,fma,f16c")]
  pub unsafe fn dot_avx2(q: &[f32], src: Src<'_>) -> f32 {
    let n = q.len();
    let mut a0 = _mm256_setzero_ps();
    let mut a1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), load8(src, i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), load8(src, i + 8), a1);
      i += 16;
    }
    if i + 8 <= n {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), load8(src, i), a0);
      i += 8;
    }
    let mut s = hsum256(_mm256_add_ps(a0, a1));
    while i < n {
      let x = match src {
        Src::F32(x) => x[i],
        Src::F16(x) => half::f16::from_bits(x[i]).to_f32(),
        Src::U8(x) => x[i] as f32,
        Src::E4m3(x) => super::e4m3_to_f32(x[i]),
      };
      s += q[i] * x;
      i += 1;
    }
    s
  }

  /// Σ (aᵢ − bᵢ)².
  ///
  /// # Safety
  /// The CPU must support AVX2 and FMA; `b.len() == a.len()`.
  #[target_feature(enable = "avx2,fma")]
  pub unsafe fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
      let d = _mm256_sub_ps(
        _mm256_loadu_ps(a.as_ptr().add(i)),
        _mm256_loadu_ps(b.as_ptr().add(i)),
      );
      acc = _mm256_fmadd_ps(d, d, acc);
      i += 8;
    }
    let mut s = hsum256(acc);
    while i < n {
      let d = a[i] - b[i];
      s += d * d;
      i += 1;
    }
    s
  }

  /// 16 lanes of the second operand at `i`, zero beyond the `mask`ed lanes.
  #[inline]
  #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
  unsafe fn load16(src: Src<'_>, i: usize, mask: __mmask16) -> __m512 {
    match src {
      Src::F32(x) => _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i)),
      Src::F16(x) => _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, x.as_ptr().add(i) as *const i16)),
      Src::U8(x) => _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(
        mask,
        x.as_ptr().add(i) as *const i8,
      ))),
      Src::E4m3(x) => {
        let b = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, x.as_ptr().add(i) as *const i8));
        let mag = _mm512_slli_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x7f)), 20);
        let sign = _mm512_slli_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x80)), 24);
        _mm512_mul_ps(
          _mm512_castsi512_ps(_mm512_or_si512(mag, sign)),
          _mm512_set1_ps(E4M3_SCALE),
        )
      }
    }
  }

  /// Σ qᵢ·decode(xᵢ) with 2 × 16 FMA lanes; the tail uses masked loads (no scalar loop).
  ///
  /// # Safety
  /// The CPU must support AVX-512 F/BW/VL; the second operand must have `q.len()` elements.
  /// Masked loads never touch memory beyond the masked-in lanes.
  #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
  pub unsafe fn dot_avx512(q: &[f32], src: Src<'_>) -> f32 {
    let n = q.len();
    let mut a0 = _mm512_setzero_ps();
    let mut a1 = _mm512_setzero_ps();
    let mut i = 0;
    while i + 32 <= n {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q.as_ptr().add(i)), load16(src, i, 0xffff), a0);
      a1 = _mm512_fmadd_ps(
        _mm512_loadu_ps(q.as_ptr().add(i + 16)),
        load16(src, i + 16, 0xffff),
        a1,
      );
      i += 32;
    }
    while i < n {
      let left = (n - i).min(16);
      let mask: __mmask16 = if left == 16 { 0xffff } else { (1u16 << left) - 1 };
      a0 = _mm512_fmadd_ps(
        _mm512_maskz_loadu_ps(mask, q.as_ptr().add(i)),
        load16(src, i, mask),
        a0,
      );
      i += left;
    }
    _mm512_reduce_add_ps(_mm512_add_ps(a0, a1))
  }
}

#[cfg(target_arch = "x86_64")]
fn has_f16c() -> bool {
  std::arch::is_x86_feature_detected!("f16c")
}

macro_rules! dispatch {
  ($tier:expr, $q:expr, $x:expr, $variant:ident, $scalar:ident) => {{
    assert_eq!($q.len(), $x.len(), "dot operands differ in length");
    match $tier {
      #[cfg(target_arch = "x86_64")]
      // SAFETY: Tier::Avx512 is only reported (simd::available / tier) when the CPU has
      // AVX-512 F/BW/VL; lengths are equal (asserted above).
      Tier::Avx512 => unsafe { x86::dot_avx512($q, x86::Src::$variant($x)) },
      #[cfg(target_arch = "x86_64")]
      // SAFETY: Tier::Avx2 implies AVX2 + FMA; F16C is checked here; lengths are equal.
      Tier::Avx2 if has_f16c() => unsafe { x86::dot_avx2($q, x86::Src::$variant($x)) },
      _ => $scalar($q, $x),
    }
  }};
}

/// Σ aᵢ·bᵢ on the given tier. Panics if the lengths differ (callers check dims first).
pub fn dot_f32_with(tier: Tier, a: &[f32], b: &[f32]) -> f32 {
  dispatch!(tier, a, b, F32, dot_f32_scalar)
}
/// Σ aᵢ·bᵢ on the active tier.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
  dot_f32_with(simd::tier(), a, b)
}
/// Σ qᵢ·f16(xᵢ) on the given tier.
pub fn dot_f16_with(tier: Tier, q: &[f32], x: &[u16]) -> f32 {
  dispatch!(tier, q, x, F16, dot_f16_scalar)
}
/// Σ qᵢ·xᵢ over u8 codes on the given tier.
pub fn dot_u8_with(tier: Tier, q: &[f32], x: &[u8]) -> f32 {
  dispatch!(tier, q, x, U8, dot_u8_scalar)
}
/// Σ qᵢ·e4m3(xᵢ) on the given tier.
pub fn dot_e4m3_with(tier: Tier, q: &[f32], x: &[u8]) -> f32 {
  dispatch!(tier, q, x, E4m3, dot_e4m3_scalar)
}

/// Σ (aᵢ − bᵢ)² on the given tier.
pub fn l2sq_f32_with(tier: Tier, a: &[f32], b: &[f32]) -> f32 {
  assert_eq!(a.len(), b.len(), "l2 operands differ in length");
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: Avx2 and Avx512 tiers both imply AVX2 + FMA; lengths are equal.
    Tier::Avx2 | Tier::Avx512 => unsafe { x86::l2sq_avx2(a, b) },
    _ => l2sq_f32_scalar(a, b),
  }
}
/// Σ (aᵢ − bᵢ)² on the active tier.
#[inline]
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
  l2sq_f32_with(simd::tier(), a, b)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  fn close(got: f32, want: f32, mag: f32, what: &str) {
    let tol = 1e-5 * mag.max(1e-6);
    assert!(
      (got - want).abs() <= tol,
      "{what}: got {got}, want {want} (tol {tol})"
    );
  }

  #[test]
  fn every_tier_matches_the_scalar_twin_on_awkward_lengths() {
    let mut rng = Rng::new(11);
    for len in [
      0usize, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 384, 385, 1000,
    ] {
      let q: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
      let b: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
      let h: Vec<u16> = b.iter().map(|&x| half::f16::from_f32(x).to_bits()).collect();
      let u: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
      // Every E4M3 code except the two NaNs.
      let e: Vec<u8> = (0..len)
        .map(|_| {
          let c = rng.below(254) as u8;
          if c >= 0x7f {
            c + 1
          } else {
            c
          }
        })
        .collect();
      let mag = |f: &dyn Fn(usize) -> f32| (0..len).map(|i| (q[i] * f(i)).abs()).sum::<f32>();
      for tier in simd::available() {
        close(
          dot_f32_with(tier, &q, &b),
          dot_f32_scalar(&q, &b),
          mag(&|i| b[i]),
          "f32",
        );
        close(
          l2sq_f32_with(tier, &q, &b),
          l2sq_f32_scalar(&q, &b),
          l2sq_f32_scalar(&q, &b),
          "l2",
        );
        close(
          dot_f16_with(tier, &q, &h),
          dot_f16_scalar(&q, &h),
          mag(&|i| half::f16::from_bits(h[i]).to_f32()),
          "f16",
        );
        close(
          dot_u8_with(tier, &q, &u),
          dot_u8_scalar(&q, &u),
          mag(&|i| u[i] as f32),
          "u8",
        );
        close(
          dot_e4m3_with(tier, &q, &e),
          dot_e4m3_scalar(&q, &e),
          mag(&|i| e4m3_to_f32(e[i])),
          "e4m3",
        );
      }
    }
  }

  #[test]
  fn e4m3_decoding_matches_the_format_definition() {
    for b in 0u16..=255 {
      let b = b as u8;
      if b & 0x7f == 0x7f {
        continue;
      }
      let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
      let e = ((b >> 3) & 0xf) as i32;
      let m = (b & 7) as f64;
      let v = if e == 0 {
        m / 8.0 * 2f64.powi(-6)
      } else {
        (1.0 + m / 8.0) * 2f64.powi(e - 7)
      };
      assert_eq!(e4m3_to_f32(b) as f64, sign * v, "code {b:#x}");
    }
    assert_eq!(e4m3_to_f32(0x7e), 448.0);
  }
}
