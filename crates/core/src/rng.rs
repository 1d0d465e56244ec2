//! Seeded, platform-independent randomness. Everything random in slimdex derives from
//! SplitMix64 (seeding) and Xoshiro256** (streams); never the standard library's distributions,
//! so an index built with a seed is the same on every machine and every version.

/// SplitMix64: used to expand a user seed into generator state and as a cheap mixer.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
  pub fn new(seed: u64) -> Self {
    SplitMix64(seed)
  }

  #[inline]
  pub fn next_u64(&mut self) -> u64 {
    self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(self.0)
  }
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
  z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
  z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
  z ^ (z >> 31)
}

/// Xoshiro256**: the general-purpose stream generator.
#[derive(Clone, Debug)]
pub struct Rng {
  s: [u64; 4],
}

impl Rng {
  pub fn new(seed: u64) -> Self {
    let mut sm = SplitMix64::new(seed);
    Rng {
      s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
    }
  }

  #[inline]
  pub fn next_u64(&mut self) -> u64 {
    let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
    let t = self.s[1] << 17;
    self.s[2] ^= self.s[0];
    self.s[3] ^= self.s[1];
    self.s[1] ^= self.s[2];
    self.s[0] ^= self.s[3];
    self.s[2] ^= t;
    self.s[3] = self.s[3].rotate_left(45);
    result
  }

  #[inline]
  pub fn next_u32(&mut self) -> u32 {
    (self.next_u64() >> 32) as u32
  }

  /// Uniform in [0, 1) with 53 random bits.
  #[inline]
  pub fn next_f64(&mut self) -> f64 {
    (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
  }

  /// Uniform integer in [0, n) without modulo bias (Lemire's multiply-shift with rejection).
  #[inline]
  pub fn below(&mut self, n: u64) -> u64 {
    assert!(n > 0, "Rng::below(0)");
    loop {
      let x = self.next_u64();
      let m = (x as u128) * (n as u128);
      let low = m as u64;
      if low >= n.wrapping_neg() % n {
        return (m >> 64) as u64;
      }
    }
  }

  /// Standard normal via Box–Muller. `libm` (not the platform's libm) keeps it bit-identical
  /// across operating systems.
  pub fn normal(&mut self) -> f64 {
    let u1 = 1.0 - self.next_f64(); // (0, 1]
    let u2 = self.next_f64();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
  }

  /// Fisher–Yates shuffle.
  pub fn shuffle<T>(&mut self, xs: &mut [T]) {
    for i in (1..xs.len()).rev() {
      let j = self.below(i as u64 + 1) as usize;
      xs.swap(i, j);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn splitmix_matches_reference_vector() {
    // Reference values of SplitMix64 seeded with 1234567 (from the published C code).
    let mut sm = SplitMix64::new(1234567);
    assert_eq!(sm.next_u64(), 6457827717110365317);
    assert_eq!(sm.next_u64(), 3203168211198807973);
  }

  #[test]
  fn below_is_in_range_and_roughly_uniform() {
    let mut r = Rng::new(7);
    let mut counts = [0u32; 10];
    for _ in 0..100_000 {
      counts[r.below(10) as usize] += 1;
    }
    for c in counts {
      assert!((9_500..10_500).contains(&c), "{counts:?}");
    }
  }
}
