//! Which of a block's accumulated scores can enter the top-k: a bit mask of the scores that
//! reach the k-th score `cut` and exceed the exclusive `floor`, so the term-at-a-time scan
//! visits only those documents instead of branching on every one.

use crate::simd::{self, Tier};

/// Bit i set where `xs[i] >= cut && xs[i] > floor`; `xs.len()` ≤ 64.
#[inline]
pub fn above_mask_with(tier: Tier, xs: &[f32], cut: f32, floor: f32) -> u64 {
  assert!(xs.len() <= 64, "a mask holds at most 64 scores");
  match tier {
    #[cfg(target_arch = "x86_64")]
    Tier::Avx512 | Tier::Avx2 => {
      // SAFETY: the Avx2 tier (and the Avx512 tier, which includes its features) is only
      // selected when avx2 was detected at run time.
      unsafe { above_avx2(xs, cut, floor) }
    }
    _ => above_scalar(xs, cut, floor),
  }
}

#[inline]
pub fn above_mask(xs: &[f32], cut: f32, floor: f32) -> u64 {
  above_mask_with(simd::tier(), xs, cut, floor)
}

pub fn above_scalar(xs: &[f32], cut: f32, floor: f32) -> u64 {
  let mut m = 0u64;
  for (i, &x) in xs.iter().enumerate() {
    m |= (((x >= cut) & (x > floor)) as u64) << i;
  }
  m
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn above_avx2(xs: &[f32], cut: f32, floor: f32) -> u64 {
  use std::arch::x86_64::*;
  let (c, f) = (_mm256_set1_ps(cut), _mm256_set1_ps(floor));
  let mut m = 0u64;
  let mut i = 0;
  while i + 8 <= xs.len() {
    // SAFETY: i + 8 ≤ xs.len(); an unaligned load. Ordered, non-signalling compares: NaN
    // fails both, as in the scalar twin.
    let v = _mm256_loadu_ps(xs.as_ptr().add(i));
    let ok = _mm256_and_ps(
      _mm256_cmp_ps::<_CMP_GE_OQ>(v, c),
      _mm256_cmp_ps::<_CMP_GT_OQ>(v, f),
    );
    m |= (_mm256_movemask_ps(ok) as u32 as u64) << i;
    i += 8;
  }
  if i < xs.len() {
    // i < xs.len() ≤ 64: the shift is in range.
    m |= above_scalar(&xs[i..], cut, floor) << i;
  }
  m
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  #[test]
  fn every_tier_equals_scalar() {
    let mut rng = Rng::new(21);
    for &n in &[0usize, 1, 7, 8, 9, 31, 32, 33, 63, 64] {
      for _ in 0..50 {
        // Scores drawn from a few values so ties with `cut` and `floor` are common.
        let xs: Vec<f32> = (0..n).map(|_| rng.below(8) as f32 * 0.5).collect();
        let (cut, floor) = (rng.below(8) as f32 * 0.5, rng.below(4) as f32 * 0.5);
        let want = above_scalar(&xs, cut, floor);
        for (i, &x) in xs.iter().enumerate() {
          assert_eq!(want >> i & 1 == 1, x >= cut && x > floor);
        }
        if n < 64 {
          assert_eq!(want >> n, 0, "no bit past the scores");
        }
        for tier in simd::available() {
          assert_eq!(
            above_mask_with(tier, &xs, cut, floor),
            want,
            "tier {tier:?} n {n}"
          );
        }
      }
    }
  }
}
