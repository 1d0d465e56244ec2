//! 4-bit PQ fast scan (André et al.; FAISS `IndexPQFastScan`): codes interleaved in blocks of
//! 32 vectors, the per-query table quantized to u8 so that a 16-entry sub-table fits in one
//! 128-bit lane, looked up with byte shuffles (`vpshufb`) and accumulated in u16 lanes.
//!
//! Block layout (`16 · m2` bytes per block of 32 vectors, `m2` = m rounded up to even, the pad
//! sub-quantizer has code 0 and an all-zero table row): for each pair p of sub-quantizers,
//! 32 bytes — bytes 0..16 hold sub-quantizer 2p, bytes 16..32 sub-quantizer 2p+1; byte j of a
//! half holds vector j in its low nibble and vector j+16 in its high nibble. A 256-bit load of
//! a pair lines up with the 32-byte quantized table of that pair, so one shuffle looks up two
//! sub-quantizers for 16 vectors.
//!
//! Quantization: T'[s][j] = round((T[s][j] − min_s)/δ) with one δ for all sub-quantizers,
//! chosen so that every entry fits a byte and every sum fits u16. Then for every code
//! |D − (Σ_s min_s + δ·Q)| ≤ m·δ/2, which gives the bounds [`QTable::lower`] / [`QTable::upper`]
//! used to re-rank exactly. All tiers compute the same integers as the scalar twin.

use crate::simd::{self, Tier};

pub const BLOCK: usize = 32;
/// How far ahead the filtered scan prefetches (blocks of `16 · m2` bytes).
const PREFETCH_BLOCKS: usize = 6;

/// 4-bit codes in the fast-scan layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FastScanCodes {
  m: usize,
  m2: usize,
  len: usize,
  pub(crate) blocks: Vec<u8>,
}

impl FastScanCodes {
  pub fn new(m: usize) -> Self {
    FastScanCodes {
      m,
      m2: m.div_ceil(2) * 2,
      len: 0,
      blocks: Vec::new(),
    }
  }
  pub fn len(&self) -> usize {
    self.len
  }
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
  pub fn block_bytes(&self) -> usize {
    16 * self.m2
  }
  pub fn memory_bytes(&self) -> usize {
    self.blocks.capacity()
  }

  fn pos(&self, i: usize, s: usize) -> (usize, u32) {
    let (b, j) = (i / BLOCK, i % BLOCK);
    let byte = b * self.block_bytes() + (s / 2) * 32 + (s % 2) * 16 + (j % 16);
    (byte, if j < 16 { 0 } else { 4 })
  }

  /// Appends one code (one byte per sub-quantizer, values < 16).
  pub fn push(&mut self, code: &[u8]) {
    debug_assert_eq!(code.len(), self.m);
    if self.len.is_multiple_of(BLOCK) {
      self.blocks.resize(self.blocks.len() + self.block_bytes(), 0);
    }
    let i = self.len;
    for (s, &c) in code.iter().enumerate() {
      let (byte, shift) = self.pos(i, s);
      self.blocks[byte] |= (c & 15) << shift;
    }
    self.len += 1;
  }

  /// The code of vector `i`, one byte per sub-quantizer.
  pub fn get(&self, i: usize, out: &mut [u8]) {
    for (s, o) in out.iter_mut().enumerate().take(self.m) {
      let (byte, shift) = self.pos(i, s);
      *o = (self.blocks[byte] >> shift) & 15;
    }
  }

  /// Rebuilds from raw parts (after loading); `None` if the sizes disagree or padding is set.
  pub fn from_parts(m: usize, len: usize, blocks: Vec<u8>) -> Option<Self> {
    let c = FastScanCodes {
      m,
      m2: m.div_ceil(2) * 2,
      len,
      blocks,
    };
    if c.blocks.len() != len.div_ceil(BLOCK) * c.block_bytes() {
      return None;
    }
    // Pad slots (vectors past len, the pad sub-quantizer) must be zero: they are scanned.
    let mut tmp = vec![0u8; c.m2];
    for i in 0..len.div_ceil(BLOCK) * BLOCK {
      for (s, t) in tmp.iter_mut().enumerate() {
        let (byte, shift) = c.pos(i, s);
        *t = (c.blocks[byte] >> shift) & 15;
      }
      if (i >= len && tmp.iter().any(|&x| x != 0)) || (c.m2 > m && tmp[m] != 0) {
        return None;
      }
    }
    Some(c)
  }
}

/// A quantized distance table for one query (and one IVF list).
#[derive(Clone, Debug)]
pub struct QTable {
  /// `m2 × 16` bytes.
  pub q: Vec<u8>,
  /// Σ_s min_s (plus any list offset added by the caller).
  pub base: f32,
  pub delta: f32,
  pub m: usize,
  /// Σ_s min_j (T[s][j] − min_s − δ·q[s][j]): the most negative total rounding error of a code
  /// (≥ −m·δ/2, usually about 0.45·m·δ below zero).
  pub err_lo: f32,
  /// Σ_s max_j (T[s][j] − min_s − δ·q[s][j]) (≤ m·δ/2).
  pub err_hi: f32,
  /// Slack for f32 rounding in the ADC sums and in these bounds: one δ plus
  /// 4·m·ε·Σ_s max_j |T[s][j]| (the classic bound for a sum of m terms, doubled for safety).
  pub slack: f32,
}

impl QTable {
  /// Quantizes a distance table (smaller is better), `m × 16`.
  pub fn new(table: &[f32], m: usize) -> QTable {
    let m2 = m.div_ceil(2) * 2;
    let mut mins = vec![0f32; m];
    let mut max_range = 0f32;
    let mut sum_range = 0f64;
    let mut sum_abs = 0f64;
    for s in 0..m {
      let row = &table[s * 16..s * 16 + 16];
      let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
      let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
      mins[s] = lo;
      max_range = max_range.max(hi - lo);
      sum_range += (hi - lo) as f64;
      sum_abs += lo.abs().max(hi.abs()) as f64;
    }
    // Each entry ≤ 255 and Σ_s entries ≤ 65535 − m + m/2 (rounding adds ≤ 1/2 per entry).
    let mut delta = (max_range / 255.0).max((sum_range / (65535 - m) as f64) as f32);
    if !(delta > 0.0 && delta.is_finite()) {
      delta = 1.0;
    }
    // Nudge up so that (range/δ) cannot round above 255 through f32 error.
    delta *= 1.0 + 1e-6;
    let mut q = vec![0u8; m2 * 16];
    let (mut err_lo, mut err_hi) = (0f64, 0f64);
    for s in 0..m {
      let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
      for j in 0..16 {
        let v = ((table[s * 16 + j] - mins[s]) / delta).round().clamp(0.0, 255.0) as u8;
        q[s * 16 + j] = v;
        let e = (table[s * 16 + j] as f64 - mins[s] as f64) - delta as f64 * v as f64;
        lo = lo.min(e);
        hi = hi.max(e);
      }
      err_lo += lo;
      err_hi += hi;
    }
    let base = mins.iter().sum();
    let slack = delta + (4.0 * m as f64 * f32::EPSILON as f64 * sum_abs) as f32;
    QTable {
      q,
      base,
      delta,
      m,
      err_lo: err_lo as f32,
      err_hi: err_hi as f32,
      slack,
    }
  }

  /// A value ≤ the true ADC distance of every code with quantized sum `qs`.
  #[inline]
  pub fn lower(&self, qs: u16) -> f32 {
    self.base + self.delta * qs as f32 + self.err_lo - self.slack
  }
  /// A value ≥ the true ADC distance of every code with quantized sum `qs`.
  #[inline]
  pub fn upper(&self, qs: u16) -> f32 {
    self.base + self.delta * qs as f32 + self.err_hi + self.slack
  }
  /// The estimate base + δ·qs.
  #[inline]
  pub fn estimate(&self, qs: u16) -> f32 {
    self.base + self.delta * qs as f32
  }
  /// The largest quantized sum whose [`lower`](Self::lower) bound can be ≤ `t` (a limit for
  /// [`scan_filtered_with`]; callers still check `lower(qs) <= t`, which absorbs the rounding
  /// of this conversion).
  pub fn limit_for_lower(&self, t: f32) -> u16 {
    let x = ((t - self.base - self.err_lo + self.slack) / self.delta).floor() + 1.0;
    to_limit(x)
  }
  /// The largest quantized sum whose estimate can be ≤ `t`.
  pub fn limit_for_estimate(&self, t: f32) -> u16 {
    to_limit(((t - self.base) / self.delta).floor() + 1.0)
  }
}

fn to_limit(x: f32) -> u16 {
  if x >= 65535.0 || x.is_nan() {
    u16::MAX
  } else if x < 0.0 {
    0
  } else {
    x as u16
  }
}

/// Scalar twin: quantized sums of the 32 vectors of one block.
pub fn block_scalar(tq: &[u8], block: &[u8], m2: usize, out: &mut [u16; BLOCK]) {
  *out = [0; BLOCK];
  for s in 0..m2 {
    let half = &block[(s / 2) * 32 + (s % 2) * 16..][..16];
    let t = &tq[s * 16..s * 16 + 16];
    for j in 0..16 {
      out[j] += t[(half[j] & 15) as usize] as u16;
      out[j + 16] += t[(half[j] >> 4) as usize] as u16;
    }
  }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
  use super::{BLOCK, PREFETCH_BLOCKS};
  use std::arch::x86_64::*;

  /// Folds the even/odd accumulators of one nibble half into 16 vectors' sums.
  #[inline]
  #[target_feature(enable = "avx2")]
  unsafe fn finish(even: __m256i, odd: __m256i, out: *mut u16) {
    let e = _mm_add_epi16(_mm256_castsi256_si128(even), _mm256_extracti128_si256(even, 1));
    let o = _mm_add_epi16(_mm256_castsi256_si128(odd), _mm256_extracti128_si256(odd, 1));
    _mm_storeu_si128(out as *mut __m128i, _mm_unpacklo_epi16(e, o));
    _mm_storeu_si128(out.add(8) as *mut __m128i, _mm_unpackhi_epi16(e, o));
  }

  /// # Safety
  /// AVX2 must be available; `tq` holds `m2 × 16` bytes and `block` `16 · m2` bytes.
  #[target_feature(enable = "avx2")]
  pub unsafe fn block_avx2(tq: &[u8], block: &[u8], m2: usize, out: &mut [u16; BLOCK]) {
    assert!(tq.len() >= m2 * 16 && block.len() >= m2 * 16);
    let mask = _mm256_set1_epi8(0x0f);
    let low = _mm256_set1_epi16(0x00ff);
    let (mut le, mut lo, mut he, mut ho) = (
      _mm256_setzero_si256(),
      _mm256_setzero_si256(),
      _mm256_setzero_si256(),
      _mm256_setzero_si256(),
    );
    for p in 0..m2 / 2 {
      let codes = _mm256_loadu_si256(block.as_ptr().add(p * 32) as *const __m256i);
      let lut = _mm256_loadu_si256(tq.as_ptr().add(p * 32) as *const __m256i);
      let rl = _mm256_shuffle_epi8(lut, _mm256_and_si256(codes, mask));
      let rh = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(codes, 4), mask));
      le = _mm256_add_epi16(le, _mm256_and_si256(rl, low));
      lo = _mm256_add_epi16(lo, _mm256_srli_epi16(rl, 8));
      he = _mm256_add_epi16(he, _mm256_and_si256(rh, low));
      ho = _mm256_add_epi16(ho, _mm256_srli_epi16(rh, 8));
    }
    finish(le, lo, out.as_mut_ptr());
    finish(he, ho, out.as_mut_ptr().add(16));
  }

  /// Two pairs (four sub-quantizers) per 512-bit shuffle; a leftover pair uses 256 bits.
  ///
  /// # Safety
  /// AVX-512 F/BW and AVX2 must be available; sizes as for [`block_avx2`].
  #[target_feature(enable = "avx2,avx512f,avx512bw")]
  pub unsafe fn block_avx512(tq: &[u8], block: &[u8], m2: usize, out: &mut [u16; BLOCK]) {
    assert!(tq.len() >= m2 * 16 && block.len() >= m2 * 16);
    let mask = _mm512_set1_epi8(0x0f);
    let low = _mm512_set1_epi16(0x00ff);
    let (mut le, mut lo, mut he, mut ho) = (
      _mm512_setzero_si512(),
      _mm512_setzero_si512(),
      _mm512_setzero_si512(),
      _mm512_setzero_si512(),
    );
    let pairs = m2 / 2;
    let mut p = 0;
    while p + 2 <= pairs {
      let codes = _mm512_loadu_si512(block.as_ptr().add(p * 32) as *const _);
      let lut = _mm512_loadu_si512(tq.as_ptr().add(p * 32) as *const _);
      let rl = _mm512_shuffle_epi8(lut, _mm512_and_si512(codes, mask));
      let rh = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(codes, 4), mask));
      le = _mm512_add_epi16(le, _mm512_and_si512(rl, low));
      lo = _mm512_add_epi16(lo, _mm512_srli_epi16(rl, 8));
      he = _mm512_add_epi16(he, _mm512_and_si512(rh, low));
      ho = _mm512_add_epi16(ho, _mm512_srli_epi16(rh, 8));
      p += 2;
    }
    // Fold 512 → 256: lanes 2,3 hold the same vectors as lanes 0,1.
    let fold = |v: __m512i| _mm256_add_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    let (mut le2, mut lo2, mut he2, mut ho2) = (fold(le), fold(lo), fold(he), fold(ho));
    if p < pairs {
      let m4 = _mm256_set1_epi8(0x0f);
      let l4 = _mm256_set1_epi16(0x00ff);
      let codes = _mm256_loadu_si256(block.as_ptr().add(p * 32) as *const __m256i);
      let lut = _mm256_loadu_si256(tq.as_ptr().add(p * 32) as *const __m256i);
      let rl = _mm256_shuffle_epi8(lut, _mm256_and_si256(codes, m4));
      let rh = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(codes, 4), m4));
      le2 = _mm256_add_epi16(le2, _mm256_and_si256(rl, l4));
      lo2 = _mm256_add_epi16(lo2, _mm256_srli_epi16(rl, 8));
      he2 = _mm256_add_epi16(he2, _mm256_and_si256(rh, l4));
      ho2 = _mm256_add_epi16(ho2, _mm256_srli_epi16(rh, 8));
    }
    finish(le2, lo2, out.as_mut_ptr());
    finish(he2, ho2, out.as_mut_ptr().add(16));
  }
  /// The filtered scan of [`super::scan_filtered_with`]: per block, the pairs are accumulated
  /// FAISS-style (the whole 16-bit shuffle result into one accumulator, its high byte into
  /// another; the low-byte sums are recovered as a0 − (a1 << 8), exact mod 2¹⁶), the two
  /// 128-bit halves are folded, and one unsigned compare against the limit decides whether
  /// the block holds a hit. Only then are the 32 sums put in vector order and `hit` called.
  ///
  /// # Safety
  /// AVX2 must be available; `tq` holds `m2 × 16` bytes and `blocks` `nblocks · 16 · m2`.
  #[target_feature(enable = "avx2")]
  pub unsafe fn scan_filtered_avx2<F: FnMut(usize, u32, &[u16; BLOCK]) -> u16>(
    tq: &[u8],
    blocks: &[u8],
    m2: usize,
    nblocks: usize,
    mut limit: u16,
    hit: &mut F,
  ) {
    let bb = 16 * m2;
    assert!(tq.len() >= m2 * 16 && blocks.len() >= nblocks * bb);
    let mask = _mm256_set1_epi8(0x0f);
    let mut lim = _mm256_set1_epi16(limit as i16);
    let mut sums = [0u16; BLOCK];
    for b in 0..nblocks {
      let blk = blocks.as_ptr().add(b * bb);
      // Software prefetch a few blocks ahead: the scan is bound by memory bandwidth once the
      // codes leave the caches, and the hardware prefetcher alone keeps too few lines in
      // flight. (A prefetch is a hint; wrapping_add keeps the address computation defined.)
      if b + PREFETCH_BLOCKS < nblocks {
        let ahead = blk.wrapping_add(PREFETCH_BLOCKS * bb);
        for line in (0..bb).step_by(64) {
          _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line) as *const i8);
        }
      }
      let (mut a0l, mut a1l, mut a0h, mut a1h) = (
        _mm256_setzero_si256(),
        _mm256_setzero_si256(),
        _mm256_setzero_si256(),
        _mm256_setzero_si256(),
      );
      for p in 0..m2 / 2 {
        let codes = _mm256_loadu_si256(blk.add(p * 32) as *const __m256i);
        let lut = _mm256_loadu_si256(tq.as_ptr().add(p * 32) as *const __m256i);
        let rl = _mm256_shuffle_epi8(lut, _mm256_and_si256(codes, mask));
        let rh = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(codes, 4), mask));
        a0l = _mm256_add_epi16(a0l, rl);
        a1l = _mm256_add_epi16(a1l, _mm256_srli_epi16(rl, 8));
        a0h = _mm256_add_epi16(a0h, rh);
        a1h = _mm256_add_epi16(a1h, _mm256_srli_epi16(rh, 8));
      }
      // Lanes of the low (high) nibble half: 128-bit lane 0 = sub-quantizers 2p, lane 1 = 2p+1;
      // u16 lane i holds vectors 2i (even accumulator) and 2i+1 (odd).
      let el = _mm256_sub_epi16(a0l, _mm256_slli_epi16(a1l, 8));
      let eh = _mm256_sub_epi16(a0h, _mm256_slli_epi16(a1h, 8));
      // [even | odd] sums of vectors 0..16 and 16..32.
      let sl = _mm256_add_epi16(
        _mm256_permute2x128_si256(el, a1l, 0x20),
        _mm256_permute2x128_si256(el, a1l, 0x31),
      );
      let sh = _mm256_add_epi16(
        _mm256_permute2x128_si256(eh, a1h, 0x20),
        _mm256_permute2x128_si256(eh, a1h, 0x31),
      );
      let pass = _mm256_or_si256(
        _mm256_cmpeq_epi16(_mm256_min_epu16(sl, lim), sl),
        _mm256_cmpeq_epi16(_mm256_min_epu16(sh, lim), sh),
      );
      if _mm256_movemask_epi8(pass) == 0 {
        continue;
      }
      let out = sums.as_mut_ptr() as *mut __m128i;
      for (half, v) in [sl, sh].into_iter().enumerate() {
        let e = _mm256_castsi256_si128(v);
        let o = _mm256_extracti128_si256(v, 1);
        _mm_storeu_si128(out.add(2 * half), _mm_unpacklo_epi16(e, o));
        _mm_storeu_si128(out.add(2 * half + 1), _mm_unpackhi_epi16(e, o));
      }
      let m = super::pass_mask(&sums, limit);
      limit = hit(b, m, &sums);
      lim = _mm256_set1_epi16(limit as i16);
    }
  }
}

/// Bit j set when vector j's quantized sum is ≤ `limit`.
#[inline]
fn pass_mask(sums: &[u16; BLOCK], limit: u16) -> u32 {
  sums
    .iter()
    .enumerate()
    .fold(0u32, |m, (j, &s)| m | (((s <= limit) as u32) << j))
}

/// Scalar twin of the filtered scan.
pub fn scan_filtered_scalar<F: FnMut(usize, u32, &[u16; BLOCK]) -> u16>(
  tq: &[u8],
  blocks: &[u8],
  m2: usize,
  nblocks: usize,
  mut limit: u16,
  hit: &mut F,
) {
  let bb = 16 * m2;
  let mut sums = [0u16; BLOCK];
  for b in 0..nblocks {
    block_scalar(tq, &blocks[b * bb..(b + 1) * bb], m2, &mut sums);
    let m = pass_mask(&sums, limit);
    if m != 0 {
      limit = hit(b, m, &sums);
    }
  }
}

/// Scans every block of `codes` and calls `hit(block, mask, sums)` for each block in which
/// some vector's quantized sum is ≤ the current limit (bit j of `mask` for vector j of the
/// block, pad slots of the last block included; `sums` in vector order). `hit` returns the
/// limit for the following blocks. Every tier makes the same calls with the same arguments
/// as the scalar twin.
pub fn scan_filtered_with<F: FnMut(usize, u32, &[u16; BLOCK]) -> u16>(
  tier: Tier,
  tq: &QTable,
  codes: &FastScanCodes,
  limit: u16,
  mut hit: F,
) {
  let m2 = codes.m2;
  assert!(tq.q.len() == m2 * 16);
  let nb = blocks(codes);
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx2 tier guarantees AVX2, and Avx512 CPUs have it (the AVX-512 tier uses
    // the 256-bit kernel here); sizes are asserted inside.
    Tier::Avx2 | Tier::Avx512 => unsafe {
      x86::scan_filtered_avx2(&tq.q, &codes.blocks, m2, nb, limit, &mut hit)
    },
    _ => scan_filtered_scalar(&tq.q, &codes.blocks, m2, nb, limit, &mut hit),
  }
}

/// Quantized sums of the 32 vectors of block `b` (pad slots included).
#[inline]
pub fn block_with(tier: Tier, tq: &QTable, codes: &FastScanCodes, b: usize, out: &mut [u16; BLOCK]) {
  let bb = codes.block_bytes();
  let m2 = codes.m2;
  let block = &codes.blocks[b * bb..(b + 1) * bb];
  assert!(tq.q.len() == m2 * 16);
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx512 tier guarantees AVX-512 F/BW; AVX2 is checked here (std caches the
    // detection); table and block sizes are asserted inside.
    Tier::Avx512 if std::arch::is_x86_feature_detected!("avx2") => unsafe {
      x86::block_avx512(&tq.q, block, m2, out)
    },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx2 tier guarantees AVX2 (and Avx512 CPUs have it); sizes asserted inside.
    Tier::Avx2 | Tier::Avx512 => unsafe { x86::block_avx2(&tq.q, block, m2, out) },
    _ => block_scalar(&tq.q, block, m2, out),
  }
}

/// Number of 32-vector blocks.
pub fn blocks(codes: &FastScanCodes) -> usize {
  codes.len.div_ceil(BLOCK)
}

/// Quantized sums of every vector in `codes` (the last block's pad slots included), written
/// block by block to `out` (`⌈len/32⌉ · 32` entries).
pub fn scan_with(tier: Tier, tq: &QTable, codes: &FastScanCodes, out: &mut [u16]) {
  assert!(out.len() >= blocks(codes) * BLOCK);
  for b in 0..blocks(codes) {
    let dst: &mut [u16; BLOCK] = (&mut out[b * BLOCK..(b + 1) * BLOCK])
      .try_into()
      .expect("block slice");
    block_with(tier, tq, codes, b, dst);
  }
}

/// [`scan_with`] on the active tier.
pub fn scan(tq: &QTable, codes: &FastScanCodes, out: &mut [u16]) {
  scan_with(simd::tier(), tq, codes, out)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dense::pq::adc_sum;
  use crate::rng::Rng;

  #[test]
  fn layout_round_trips_and_every_tier_equals_the_scalar_sums() {
    let mut rng = Rng::new(3);
    for m in [1usize, 2, 3, 4, 5, 8, 16, 47, 48, 96] {
      for n in [1usize, 31, 32, 33, 100] {
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(16) as u8).collect();
        let mut fs = FastScanCodes::new(m);
        codes.chunks_exact(m).for_each(|c| fs.push(c));
        let mut back = vec![0u8; m];
        for i in 0..n {
          fs.get(i, &mut back);
          assert_eq!(&back[..], &codes[i * m..(i + 1) * m]);
        }
        assert!(FastScanCodes::from_parts(m, n, fs.blocks.clone()).is_some());
        let table: Vec<f32> = (0..m * 16).map(|_| rng.normal() as f32 * 3.0).collect();
        let tq = QTable::new(&table, m);
        let want: Vec<u16> = (0..n)
          .map(|i| {
            (0..m)
              .map(|s| tq.q[s * 16 + codes[i * m + s] as usize] as u16)
              .sum()
          })
          .collect();
        for tier in simd::available() {
          let mut out = vec![0u16; n.div_ceil(BLOCK) * BLOCK];
          scan_with(tier, &tq, &fs, &mut out);
          assert_eq!(&out[..n], &want[..], "{tier:?} m={m} n={n}");
        }
        // The bounds hold for the float ADC sum.
        for i in 0..n {
          let d = adc_sum(&table, 16, &codes[i * m..(i + 1) * m]);
          assert!(tq.lower(want[i]) <= d && d <= tq.upper(want[i]), "bounds");
        }
      }
    }
  }

  #[test]
  fn filtered_scan_makes_the_same_calls_on_every_tier() {
    let mut rng = Rng::new(11);
    for m in [1usize, 3, 8, 47, 48] {
      for n in [1usize, 32, 33, 500] {
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(16) as u8).collect();
        let mut fs = FastScanCodes::new(m);
        codes.chunks_exact(m).for_each(|c| fs.push(c));
        let table: Vec<f32> = (0..m * 16).map(|_| rng.normal() as f32 * 3.0).collect();
        let tq = QTable::new(&table, m);
        let mut all = vec![0u16; n.div_ceil(BLOCK) * BLOCK];
        scan_with(Tier::Scalar, &tq, &fs, &mut all);
        for start in [0u16, 1000, u16::MAX] {
          let run = |tier: Tier| {
            // A handler that tightens the limit like a top-k would: the smallest sum seen + 40.
            let mut calls = Vec::new();
            let mut min_seen = u16::MAX;
            scan_filtered_with(tier, &tq, &fs, start, |b, mask, sums| {
              calls.push((b, mask, *sums));
              min_seen = min_seen.min(*sums.iter().min().unwrap());
              min_seen.saturating_add(40)
            });
            calls
          };
          let want = run(Tier::Scalar);
          // The scalar twin reports exactly the blocks with a sum under the running limit.
          for (b, mask, sums) in &want {
            assert_eq!(&sums[..], &all[b * BLOCK..(b + 1) * BLOCK]);
            assert!(*mask != 0);
          }
          if start == u16::MAX {
            assert_eq!(want[0].0, 0, "with no limit the first block passes");
          }
          for tier in simd::available() {
            assert_eq!(run(tier), want, "{tier:?} m={m} n={n} start={start}");
          }
        }
      }
    }
  }
}
