//! Hamming distance kernels and the top-k scan over packed codes.
//!
//! Tiers: scalar (u64 `count_ones`, the reference twin), AVX2 (nibble-LUT `vpshufb` +
//! `vpsadbw`), AVX-512 (`VPOPCNTDQ`, masked tail loads), NEON (`vcnt`). The scan is specialised
//! for the common code sizes (128/256/512/768/1024 bits) so the query stays in registers and
//! the inner loop is fully unrolled; any other length takes the generic path.

use crate::simd::{self, Tier};
use crate::topk::{Scored, TopMin};

/// Codes scanned per block before their distances go to the top-k (keeps the buffer in L1).
const BLOCK: usize = 512;

// ---------------------------------------------------------------------------------------------
// Scalar twin
// ---------------------------------------------------------------------------------------------

/// Reference Hamming distance: 8 bytes at a time with `count_ones`, then the tail bytes.
pub fn hamming_scalar(a: &[u8], b: &[u8]) -> u32 {
  debug_assert_eq!(a.len(), b.len());
  let mut total = 0u32;
  let mut ca = a.chunks_exact(8);
  let mut cb = b.chunks_exact(8);
  for (x, y) in (&mut ca).zip(&mut cb) {
    let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
    let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
    total += (x ^ y).count_ones();
  }
  for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
    total += (x ^ y).count_ones();
  }
  total
}

/// Scalar distance for a code of exactly `WORDS` u64 words (unrolled by the compiler).
#[inline(always)]
fn hamming_words<const WORDS: usize>(q: &[u64; WORDS], code: &[u8]) -> u32 {
  let mut total = 0u32;
  for (w, c) in q.iter().zip(code.chunks_exact(8)) {
    total += (w ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).count_ones();
  }
  total
}

fn scan_scalar_fixed<const WORDS: usize>(query: &[u8], codes: &[u8], out: &mut [u32]) {
  let mut q = [0u64; WORDS];
  for (w, c) in q.iter_mut().zip(query.chunks_exact(8)) {
    *w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
  }
  for (o, code) in out.iter_mut().zip(codes.chunks_exact(WORDS * 8)) {
    *o = hamming_words::<WORDS>(&q, code);
  }
}

fn scan_scalar(query: &[u8], codes: &[u8], out: &mut [u32]) {
  let cb = query.len();
  match cb {
    16 => scan_scalar_fixed::<2>(query, codes, out),
    32 => scan_scalar_fixed::<4>(query, codes, out),
    64 => scan_scalar_fixed::<8>(query, codes, out),
    96 => scan_scalar_fixed::<12>(query, codes, out),
    128 => scan_scalar_fixed::<16>(query, codes, out),
    _ => {
      for (o, code) in out.iter_mut().zip(codes.chunks_exact(cb)) {
        *o = hamming_scalar(query, code);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// x86-64: AVX2 and AVX-512
// ---------------------------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
mod x86 {
  use std::arch::x86_64::*;

  /// Per-byte popcount of a 256-bit vector via two 16-entry nibble lookups.
  #[inline(always)]
  unsafe fn popcnt_bytes_256(v: __m256i) -> __m256i {
    let lut = _mm256_setr_epi8(
      0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(v, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
  }

  #[inline(always)]
  unsafe fn hsum_epi64_256(v: __m256i) -> u64 {
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256(v, 1);
    let s = _mm_add_epi64(lo, hi);
    (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1)) as u64
  }

  /// # Safety
  /// The CPU must support AVX2 (checked by the caller through `simd::tier()`), and
  /// `a.len() == b.len()`. Loads are unaligned (`loadu`) and stay within the slices:
  /// the loop covers only whole 32-byte chunks, the tail is handled by the scalar twin.
  #[target_feature(enable = "avx2,popcnt")]
  pub unsafe fn hamming_avx2(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let chunks = n / 32;
    let mut acc = _mm256_setzero_si256();
    for i in 0..chunks {
      let x = _mm256_loadu_si256(a.as_ptr().add(i * 32) as *const __m256i);
      let y = _mm256_loadu_si256(b.as_ptr().add(i * 32) as *const __m256i);
      let c = popcnt_bytes_256(_mm256_xor_si256(x, y));
      acc = _mm256_add_epi64(acc, _mm256_sad_epu8(c, _mm256_setzero_si256()));
    }
    hsum_epi64_256(acc) as u32 + super::hamming_scalar(&a[chunks * 32..n], &b[chunks * 32..n])
  }

  /// # Safety
  /// AVX2 must be available; `query.len() == CHUNKS * 32 + tail` with `tail < 32`, and
  /// `codes.len() >= out.len() * query.len()`. Each load reads `[i*cb + j*32, +32)` with
  /// `j < CHUNKS`, inside code i; the tail goes through the safe scalar twin.
  #[target_feature(enable = "avx2,popcnt")]
  unsafe fn scan_avx2_fixed<const CHUNKS: usize>(query: &[u8], codes: &[u8], out: &mut [u32]) {
    let cb = query.len();
    let whole = CHUNKS * 32;
    let mut q = [_mm256_setzero_si256(); CHUNKS];
    for (j, qj) in q.iter_mut().enumerate() {
      *qj = _mm256_loadu_si256(query.as_ptr().add(j * 32) as *const __m256i);
    }
    let base = codes.as_ptr();
    for (i, o) in out.iter_mut().enumerate() {
      // Byte counts of up to 4 chunks sum to at most 32 per byte lane: no u8 overflow, so
      // one SAD per code turns them into four u64 partial sums.
      let mut bytes = _mm256_setzero_si256();
      for (j, qj) in q.iter().enumerate() {
        let c = _mm256_loadu_si256(base.add(i * cb + j * 32) as *const __m256i);
        bytes = _mm256_add_epi8(bytes, popcnt_bytes_256(_mm256_xor_si256(*qj, c)));
      }
      let sums = _mm256_sad_epu8(bytes, _mm256_setzero_si256());
      let tail = super::hamming_scalar(&query[whole..], &codes[i * cb + whole..(i + 1) * cb]);
      *o = hsum_epi64_256(sums) as u32 + tail;
    }
  }

  /// # Safety
  /// AVX2 must be available; `codes.len() >= out.len() * query.len()` (checked by the dispatcher).
  #[target_feature(enable = "avx2,popcnt")]
  pub unsafe fn scan_avx2(query: &[u8], codes: &[u8], out: &mut [u32]) {
    // Specialised for codes of up to 1024 bits (+ a sub-32-byte tail): the query stays in
    // registers and the loop over chunks unrolls.
    match query.len() / 32 {
      1 => scan_avx2_fixed::<1>(query, codes, out),
      2 => scan_avx2_fixed::<2>(query, codes, out),
      3 => scan_avx2_fixed::<3>(query, codes, out),
      4 => scan_avx2_fixed::<4>(query, codes, out),
      _ => {
        let cb = query.len();
        for (i, o) in out.iter_mut().enumerate() {
          *o = hamming_avx2(query, &codes[i * cb..(i + 1) * cb]);
        }
      }
    }
  }

  /// Per-lane popcounts (8 × u64) of one code of `FULL` whole 64-byte chunks plus a `tail`
  /// of bytes (< 64), with the query chunks preloaded in registers.
  #[inline(always)]
  unsafe fn code_popcounts_512<const FULL: usize>(
    q: &[__m512i; FULL],
    q_tail: __m512i,
    tail_mask: __mmask64,
    code: *const u8,
  ) -> __m512i {
    let mut acc = _mm512_setzero_si512();
    for (j, qj) in q.iter().enumerate() {
      let c = _mm512_loadu_si512(code.add(j * 64) as *const _);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(*qj, c)));
    }
    if tail_mask != 0 {
      let c = _mm512_maskz_loadu_epi8(tail_mask, code.add(FULL * 64) as *const i8);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(q_tail, c)));
    }
    acc
  }

  /// # Safety
  /// The CPU must support AVX-512 F/BW with VPOPCNTDQ (checked through `simd::tier()`);
  /// `query.len() == FULL * 64 + tail` with `tail < 64`, and `codes.len() >= out.len() * query.len()`.
  /// Full-chunk loads read `[i*cb + j*64, +64)` with `j < FULL`, inside code i. The tail load is
  /// masked to its `tail` bytes; masked-off lanes are never accessed (AVX-512 masked loads
  /// suppress faults), so no byte outside code i is read.
  #[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
  unsafe fn scan_avx512_fixed<const FULL: usize>(query: &[u8], codes: &[u8], out: &mut [u32]) {
    let cb = query.len();
    let tail = cb - FULL * 64;
    let tail_mask: __mmask64 = if tail == 0 { 0 } else { (1u64 << tail) - 1 };
    let mut q = [_mm512_setzero_si512(); FULL];
    for (j, qj) in q.iter_mut().enumerate() {
      *qj = _mm512_loadu_si512(query.as_ptr().add(j * 64) as *const _);
    }
    let q_tail = if tail_mask != 0 {
      _mm512_maskz_loadu_epi8(tail_mask, query.as_ptr().add(FULL * 64) as *const i8)
    } else {
      _mm512_setzero_si512()
    };
    let base = codes.as_ptr();
    // The horizontal reduction costs more than the popcounts of a short code, so four codes
    // share one: lane = a + b<<16 + c<<32 + d<<48. A code has at most (FULL + 1) * 512 <= 2560
    // set bits, so each 16-bit field holds its sum without carrying into the next.
    let mut quads = out.chunks_exact_mut(4);
    let mut i = 0usize;
    for o in &mut quads {
      let a = code_popcounts_512::<FULL>(&q, q_tail, tail_mask, base.add(i * cb));
      let b = code_popcounts_512::<FULL>(&q, q_tail, tail_mask, base.add((i + 1) * cb));
      let c = code_popcounts_512::<FULL>(&q, q_tail, tail_mask, base.add((i + 2) * cb));
      let d = code_popcounts_512::<FULL>(&q, q_tail, tail_mask, base.add((i + 3) * cb));
      let packed = _mm512_add_epi64(
        _mm512_add_epi64(a, _mm512_slli_epi64::<16>(b)),
        _mm512_add_epi64(_mm512_slli_epi64::<32>(c), _mm512_slli_epi64::<48>(d)),
      );
      let sums = _mm512_reduce_add_epi64(packed) as u64;
      o[0] = (sums & 0xffff) as u32;
      o[1] = ((sums >> 16) & 0xffff) as u32;
      o[2] = ((sums >> 32) & 0xffff) as u32;
      o[3] = (sums >> 48) as u32;
      i += 4;
    }
    for o in quads.into_remainder() {
      *o = _mm512_reduce_add_epi64(code_popcounts_512::<FULL>(
        &q,
        q_tail,
        tail_mask,
        base.add(i * cb),
      )) as u32;
      i += 1;
    }
  }

  /// # Safety
  /// As [`scan_avx512_fixed`]; any `query.len()`.
  #[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
  pub unsafe fn scan_avx512(query: &[u8], codes: &[u8], out: &mut [u32]) {
    match query.len() / 64 {
      0 => scan_avx512_fixed::<0>(query, codes, out),
      1 => scan_avx512_fixed::<1>(query, codes, out),
      2 => scan_avx512_fixed::<2>(query, codes, out),
      3 => scan_avx512_fixed::<3>(query, codes, out),
      4 => scan_avx512_fixed::<4>(query, codes, out),
      _ => {
        let cb = query.len();
        for (i, o) in out.iter_mut().enumerate() {
          *o = hamming_avx512(query, &codes[i * cb..(i + 1) * cb]);
        }
      }
    }
  }

  /// # Safety
  /// AVX-512 F/BW/VPOPCNTDQ must be available; `a.len() == b.len()`. Whole chunks stay in
  /// bounds; the tail uses masked loads limited to the remaining bytes (see above).
  #[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
  pub unsafe fn hamming_avx512(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let full = n / 64;
    let mut acc = _mm512_setzero_si512();
    for j in 0..full {
      let x = _mm512_loadu_si512(a.as_ptr().add(j * 64) as *const _);
      let y = _mm512_loadu_si512(b.as_ptr().add(j * 64) as *const _);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    let tail = n - full * 64;
    if tail > 0 {
      let m: __mmask64 = (1u64 << tail) - 1;
      let x = _mm512_maskz_loadu_epi8(m, a.as_ptr().add(full * 64) as *const i8);
      let y = _mm512_maskz_loadu_epi8(m, b.as_ptr().add(full * 64) as *const i8);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    _mm512_reduce_add_epi64(acc) as u32
  }
}

// ---------------------------------------------------------------------------------------------
// aarch64: NEON
// ---------------------------------------------------------------------------------------------

#[cfg(target_arch = "aarch64")]
mod arm {
  use std::arch::aarch64::*;

  /// # Safety
  /// NEON must be available (it is on every aarch64 Linux/macOS target; checked through
  /// `simd::tier()`), `a.len() == b.len()`; loads cover whole 16-byte chunks only.
  #[target_feature(enable = "neon")]
  pub unsafe fn hamming_neon(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let chunks = n / 16;
    let mut total = 0u32;
    for i in 0..chunks {
      let x = vld1q_u8(a.as_ptr().add(i * 16));
      let y = vld1q_u8(b.as_ptr().add(i * 16));
      total += vaddlvq_u8(vcntq_u8(veorq_u8(x, y))) as u32;
    }
    total + super::hamming_scalar(&a[chunks * 16..n], &b[chunks * 16..n])
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

/// Hamming distance between two codes of equal length, on the given tier.
/// A tier the CPU lacks falls back to scalar (callers normally pass `simd::tier()`).
pub fn hamming_with(tier: Tier, a: &[u8], b: &[u8]) -> u32 {
  assert_eq!(a.len(), b.len(), "hamming: codes of different lengths");
  let tier = if simd::available().contains(&tier) {
    tier
  } else {
    Tier::Scalar
  };
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is in `simd::available()`, so the CPU has AVX-512 F/BW/VL/VPOPCNTDQ.
    Tier::Avx512 => unsafe { x86::hamming_avx512(a, b) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is available, so the CPU has AVX2 and POPCNT.
    Tier::Avx2 => unsafe { x86::hamming_avx2(a, b) },
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the tier is available, so the CPU has NEON.
    Tier::Neon => unsafe { arm::hamming_neon(a, b) },
    _ => hamming_scalar(a, b),
  }
}

/// Hamming distance on the active tier.
#[inline]
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
  hamming_with(simd::tier(), a, b)
}

/// Distances from `query` to each of `out.len()` consecutive codes in `codes`.
pub fn scan_distances_with(tier: Tier, query: &[u8], codes: &[u8], out: &mut [u32]) {
  let cb = query.len();
  assert!(
    codes.len() >= out.len() * cb,
    "scan: codes shorter than out.len() codes"
  );
  if cb == 0 {
    out.fill(0);
    return;
  }
  let tier = if simd::available().contains(&tier) {
    tier
  } else {
    Tier::Scalar
  };
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is available (AVX-512 F/BW/VPOPCNTDQ) and the length precondition was asserted.
    Tier::Avx512 => unsafe { x86::scan_avx512(query, codes, out) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is available (AVX2) and the length precondition was asserted.
    Tier::Avx2 if cb >= 32 => unsafe { x86::scan_avx2(query, codes, out) },
    #[cfg(target_arch = "aarch64")]
    Tier::Neon => {
      for (i, o) in out.iter_mut().enumerate() {
        // SAFETY: the tier is available (NEON); both slices have length cb.
        *o = unsafe { arm::hamming_neon(query, &codes[i * cb..(i + 1) * cb]) };
      }
    }
    // Short codes (< 32 bytes) are faster with scalar popcnt than with AVX2 setup.
    _ => scan_scalar(query, codes, out),
  }
}

/// The `k` nearest codes to `query` among `codes` (n × query.len() bytes) by Hamming
/// distance, ascending, ties by lower index. Reads every code exactly once.
pub fn topk_scan_with(tier: Tier, query: &[u8], codes: &[u8], k: usize) -> Vec<Scored<u32>> {
  let cb = query.len().max(1);
  let n = if query.is_empty() { 0 } else { codes.len() / cb };
  let mut top = TopMin::new(k);
  let mut dist = [0u32; BLOCK];
  let mut start = 0usize;
  // Ids arrive in increasing order, so a candidate enters iff its distance is strictly below
  // the current worst (an equal distance would lose the tie to the lower id already kept).
  let mut bound = u32::MAX;
  while start < n {
    let len = BLOCK.min(n - start);
    scan_distances_with(
      tier,
      query,
      &codes[start * cb..(start + len) * cb],
      &mut dist[..len],
    );
    for (c, chunk) in dist[..len].chunks(16).enumerate() {
      // Once the heap is full almost no code enters it; a branch-free test of 16 distances
      // (vectorised by the compiler) skips most chunks without per-element branches.
      if !chunk.iter().fold(false, |any, &d| any | (d < bound)) {
        continue;
      }
      for (j, &d) in chunk.iter().enumerate() {
        // Until the heap is full `bound` is u32::MAX, above any distance (at most 2^23 bits).
        if d < bound {
          top.push(d, (start + c * 16 + j) as u32);
          if let Some(t) = top.threshold() {
            bound = t;
          }
        }
      }
    }
    start += len;
  }
  if query.is_empty() {
    // Zero-length codes: every distance is 0; keep the first k indices.
    for i in 0..(codes.len().min(k)) {
      top.push(0, i as u32);
    }
  }
  top.into_sorted()
}

/// [`topk_scan_with`] on the active tier.
pub fn topk_scan(query: &[u8], codes: &[u8], k: usize) -> Vec<Scored<u32>> {
  topk_scan_with(simd::tier(), query, codes, k)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u32() as u8).collect()
  }

  fn naive(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
  }

  #[test]
  fn every_tier_equals_scalar_for_all_lengths_1_to_2048_bits() {
    let mut rng = Rng::new(42);
    for bits in 1..=2048usize {
      let cb = bits.div_ceil(8);
      let mut a = random_bytes(&mut rng, cb);
      let mut b = random_bytes(&mut rng, cb);
      // Zero the padding bits, as packing does.
      let pad = cb * 8 - bits;
      if pad > 0 {
        let mask = !((1u8 << pad) - 1);
        a[cb - 1] &= mask;
        b[cb - 1] &= mask;
      }
      let want = naive(&a, &b);
      assert_eq!(hamming_scalar(&a, &b), want, "scalar, {bits} bits");
      for tier in simd::available() {
        assert_eq!(hamming_with(tier, &a, &b), want, "{tier:?}, {bits} bits");
      }
    }
  }

  #[test]
  fn scans_equal_pairwise_distances_on_every_tier() {
    let mut rng = Rng::new(7);
    for cb in [
      1usize, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 96, 100, 128, 129, 255, 256, 257, 320,
    ] {
      let n = 37;
      let q = random_bytes(&mut rng, cb);
      let codes = random_bytes(&mut rng, n * cb);
      let want: Vec<u32> = codes.chunks_exact(cb).map(|c| naive(&q, c)).collect();
      for tier in simd::available() {
        let mut out = vec![0u32; n];
        scan_distances_with(tier, &q, &codes, &mut out);
        assert_eq!(out, want, "{tier:?}, {cb} bytes");
      }
    }
  }

  #[test]
  fn scans_hold_maximal_distances_on_every_tier() {
    // All bits differ: the largest per-code sums the packed reductions must carry.
    for cb in [64usize, 128, 255, 256, 319] {
      let q = vec![0u8; cb];
      let codes = vec![0xffu8; 9 * cb];
      for tier in simd::available() {
        let mut out = vec![0u32; 9];
        scan_distances_with(tier, &q, &codes, &mut out);
        assert_eq!(out, vec![8 * cb as u32; 9], "{tier:?}, {cb} bytes");
      }
    }
  }

  #[test]
  fn topk_scan_equals_sorted_brute_force_with_ties() {
    let mut rng = Rng::new(9);
    for &(cb, n) in &[(2usize, 3000usize), (16, 1500), (128, 700), (13, 64)] {
      let q = random_bytes(&mut rng, cb);
      let codes = random_bytes(&mut rng, n * cb);
      let mut all: Vec<(u32, u32)> = codes
        .chunks_exact(cb)
        .enumerate()
        .map(|(i, c)| (naive(&q, c), i as u32))
        .collect();
      all.sort();
      for k in [1, 10, n, n + 5] {
        let want: Vec<(u32, u32)> = all.iter().take(k).copied().collect();
        for tier in simd::available() {
          let got: Vec<(u32, u32)> = topk_scan_with(tier, &q, &codes, k)
            .into_iter()
            .map(|s| (s.score, s.id))
            .collect();
          assert_eq!(got, want, "{tier:?} cb={cb} k={k}");
        }
      }
    }
  }
}
