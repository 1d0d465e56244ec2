//! Block upper-bound accumulation: `ub[b] += w · max[b]` over a dense row of u8 block maxima,
//! widened to f32 (the reference sums into u16 and saturates; f32 cannot wrap).
//!
//! Every tier computes `ub + (w · (max as f32))` with two roundings (no FMA), so all tiers
//! agree bit for bit with the scalar twin.

use crate::simd::{self, Tier};

pub fn add_scaled_u8_with(tier: Tier, ub: &mut [f32], row: &[u8], w: f32) {
  let n = ub.len().min(row.len());
  let (ub, row) = (&mut ub[..n], &row[..n]);
  match tier {
    #[cfg(target_arch = "x86_64")]
    Tier::Avx512 => {
      // SAFETY: the Avx512 tier is only selected when avx512f was detected at run time.
      unsafe { add_avx512(ub, row, w) }
    }
    #[cfg(target_arch = "x86_64")]
    Tier::Avx2 => {
      // SAFETY: the Avx2 tier is only selected when avx2 was detected at run time.
      unsafe { add_avx2(ub, row, w) }
    }
    _ => add_scalar(ub, row, w),
  }
}

pub fn add_scaled_u8(ub: &mut [f32], row: &[u8], w: f32) {
  add_scaled_u8_with(simd::tier(), ub, row, w)
}

pub fn add_scalar(ub: &mut [f32], row: &[u8], w: f32) {
  for (u, &m) in ub.iter_mut().zip(row) {
    *u += w * m as f32;
  }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_avx2(ub: &mut [f32], row: &[u8], w: f32) {
  use std::arch::x86_64::*;
  let n = ub.len();
  let wv = _mm256_set1_ps(w);
  let mut i = 0;
  while i + 8 <= n {
    // SAFETY: i + 8 ≤ n = len of both slices; unaligned loads/stores.
    let m = _mm_loadl_epi64(row.as_ptr().add(i) as *const __m128i);
    let mf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m));
    let p = ub.as_mut_ptr().add(i);
    _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), _mm256_mul_ps(wv, mf)));
    i += 8;
  }
  add_scalar(&mut ub[i..], &row[i..], w);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_avx512(ub: &mut [f32], row: &[u8], w: f32) {
  use std::arch::x86_64::*;
  let n = ub.len();
  let wv = _mm512_set1_ps(w);
  let mut i = 0;
  while i + 16 <= n {
    // SAFETY: i + 16 ≤ n = len of both slices; unaligned loads/stores.
    let m = _mm_loadu_si128(row.as_ptr().add(i) as *const __m128i);
    let mf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(m));
    let p = ub.as_mut_ptr().add(i);
    _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), _mm512_mul_ps(wv, mf)));
    i += 16;
  }
  add_scalar(&mut ub[i..], &row[i..], w);
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  #[test]
  fn every_tier_equals_scalar() {
    let mut rng = Rng::new(9);
    for &n in &[0usize, 1, 7, 8, 15, 16, 17, 33, 100, 1000] {
      let row: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
      let base: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 1000.0).collect();
      let w = rng.next_f64() as f32 * 3.0;
      let mut want = base.clone();
      add_scalar(&mut want, &row, w);
      for tier in simd::available() {
        let mut got = base.clone();
        add_scaled_u8_with(tier, &mut got, &row, w);
        assert_eq!(got, want, "tier {tier:?} n {n}");
      }
    }
  }
}
