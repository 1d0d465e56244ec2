//! Inner products between one query FDE and many stored document FDEs (f32 or f16).
//!
//! A query FDE has at most |Q|·R non-zero blocks (Lemma A.1), so the query is cut into
//! 16-float chunks and only its non-zero chunks are visited. The arithmetic is fixed so every
//! tier gives bit-identical scores: chunk number j of the non-zero list goes to accumulator
//! bank j mod 4; each bank holds 16 lanes updated with `fma(q, d, acc)`; the banks are added as
//! (b0 + b1) + (b2 + b3), then the 16 lanes with a fixed pairwise tree. Skipping an all-zero
//! query chunk is exact: fma(0, d, acc) == acc for finite d.

use crate::simd::{self, Tier};
use half::f16;

const CHUNK: usize = 16;
const BANKS: usize = 4;

/// Stored document FDEs, row-major `n × dim`.
#[derive(Clone, Copy, Debug)]
pub enum FdeRows<'a> {
  F32(&'a [f32]),
  /// IEEE binary16 bit patterns.
  F16(&'a [u16]),
}

/// A query FDE prepared for scanning.
#[derive(Clone, Debug)]
pub struct PreparedFde {
  dim: usize,
  /// The query padded with zeros to a whole number of chunks.
  q: Vec<f32>,
  /// Indices of the chunks with a non-zero entry, ascending.
  chunks: Vec<u32>,
}

impl PreparedFde {
  pub fn new(query_fde: &[f32]) -> Self {
    let dim = query_fde.len();
    let mut q = query_fde.to_vec();
    q.resize(dim.div_ceil(CHUNK) * CHUNK, 0.0);
    let chunks = q
      .chunks_exact(CHUNK)
      .enumerate()
      .filter(|(_, c)| c.iter().any(|v| *v != 0.0))
      .map(|(i, _)| i as u32)
      .collect();
    PreparedFde { dim, q, chunks }
  }

  pub fn dim(&self) -> usize {
    self.dim
  }

  /// Fraction of chunks visited (1 − sparsity), for diagnostics.
  pub fn density(&self) -> f64 {
    self.chunks.len() as f64 / (self.q.len() / CHUNK).max(1) as f64
  }
}

/// Loads chunk `c` of a document row as 16 f32 (zero-padded past the row's end).
#[inline]
fn load_chunk(row: FdeRows<'_>, start: usize, dim: usize, c: usize, out: &mut [f32; CHUNK]) {
  let lo = c * CHUNK;
  let hi = (lo + CHUNK).min(dim);
  *out = [0.0; CHUNK];
  match row {
    FdeRows::F32(v) => out[..hi - lo].copy_from_slice(&v[start + lo..start + hi]),
    FdeRows::F16(v) => {
      for (o, &h) in out.iter_mut().zip(&v[start + lo..start + hi]) {
        *o = f16::from_bits(h).to_f32();
      }
    }
  }
}

/// Reduces the banks to one score with the fixed order shared by every tier.
#[inline]
fn reduce(banks: &[[f32; CHUNK]; BANKS]) -> f32 {
  let mut lanes = [0f32; CHUNK];
  for (l, v) in lanes.iter_mut().enumerate() {
    *v = (banks[0][l] + banks[1][l]) + (banks[2][l] + banks[3][l]);
  }
  let mut width = CHUNK / 2;
  while width >= 1 {
    for l in 0..width {
      lanes[l] += lanes[l + width];
    }
    width /= 2;
  }
  lanes[0]
}

fn scores_scalar(q: &PreparedFde, rows: FdeRows<'_>, first: usize, out: &mut [f32]) {
  let dim = q.dim;
  let mut d = [0f32; CHUNK];
  for (j, o) in out.iter_mut().enumerate() {
    let start = (first + j) * dim;
    let mut banks = [[0f32; CHUNK]; BANKS];
    for (pos, &c) in q.chunks.iter().enumerate() {
      load_chunk(rows, start, dim, c as usize, &mut d);
      let qc = &q.q[c as usize * CHUNK..(c as usize + 1) * CHUNK];
      let bank = &mut banks[pos % BANKS];
      for l in 0..CHUNK {
        bank[l] = qc[l].mul_add(d[l], bank[l]);
      }
    }
    *o = reduce(&banks);
  }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
  use super::{load_chunk, reduce, FdeRows, PreparedFde, BANKS, CHUNK};
  use std::arch::x86_64::*;

  /// # Safety
  /// AVX-512F must be available and `rows` must hold rows `first .. first + out.len()` of
  /// `q.dim` values. Full chunks (`(c+1)·16 ≤ dim`) are loaded directly from inside the row;
  /// the partial last chunk goes through the zero-padded scalar loader.
  #[target_feature(enable = "avx512f")]
  pub unsafe fn scores_avx512(q: &PreparedFde, rows: FdeRows<'_>, first: usize, out: &mut [f32]) {
    let dim = q.dim;
    let full_chunks = dim / CHUNK;
    let mut tmp = [0f32; CHUNK];
    for (j, o) in out.iter_mut().enumerate() {
      let start = (first + j) * dim;
      let mut acc = [_mm512_setzero_ps(); BANKS];
      for (pos, &c) in q.chunks.iter().enumerate() {
        let c = c as usize;
        let qv = _mm512_loadu_ps(q.q.as_ptr().add(c * CHUNK));
        let dv = if c < full_chunks {
          match rows {
            FdeRows::F32(v) => _mm512_loadu_ps(v.as_ptr().add(start + c * CHUNK)),
            FdeRows::F16(v) => _mm512_cvtph_ps(_mm256_loadu_si256(
              v.as_ptr().add(start + c * CHUNK) as *const __m256i
            )),
          }
        } else {
          load_chunk(rows, start, dim, c, &mut tmp);
          _mm512_loadu_ps(tmp.as_ptr())
        };
        let b = pos % BANKS;
        acc[b] = _mm512_fmadd_ps(qv, dv, acc[b]);
      }
      let mut banks = [[0f32; CHUNK]; BANKS];
      for b in 0..BANKS {
        _mm512_storeu_ps(banks[b].as_mut_ptr(), acc[b]);
      }
      *o = reduce(&banks);
    }
  }

  /// # Safety
  /// AVX2, FMA and F16C must be available; bounds as for `scores_avx512`.
  #[target_feature(enable = "avx2,fma,f16c")]
  pub unsafe fn scores_avx2(q: &PreparedFde, rows: FdeRows<'_>, first: usize, out: &mut [f32]) {
    let dim = q.dim;
    let full_chunks = dim / CHUNK;
    let mut tmp = [0f32; CHUNK];
    for (j, o) in out.iter_mut().enumerate() {
      let start = (first + j) * dim;
      let mut lo = [_mm256_setzero_ps(); BANKS];
      let mut hi = [_mm256_setzero_ps(); BANKS];
      for (pos, &c) in q.chunks.iter().enumerate() {
        let c = c as usize;
        let qp = q.q.as_ptr().add(c * CHUNK);
        let (dl, dh) = if c < full_chunks {
          match rows {
            FdeRows::F32(v) => {
              let p = v.as_ptr().add(start + c * CHUNK);
              (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
            }
            FdeRows::F16(v) => {
              let p = v.as_ptr().add(start + c * CHUNK);
              (
                _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)),
                _mm256_cvtph_ps(_mm_loadu_si128(p.add(8) as *const __m128i)),
              )
            }
          }
        } else {
          load_chunk(rows, start, dim, c, &mut tmp);
          (
            _mm256_loadu_ps(tmp.as_ptr()),
            _mm256_loadu_ps(tmp.as_ptr().add(8)),
          )
        };
        let b = pos % BANKS;
        lo[b] = _mm256_fmadd_ps(_mm256_loadu_ps(qp), dl, lo[b]);
        hi[b] = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(8)), dh, hi[b]);
      }
      let mut banks = [[0f32; CHUNK]; BANKS];
      for b in 0..BANKS {
        _mm256_storeu_ps(banks[b].as_mut_ptr(), lo[b]);
        _mm256_storeu_ps(banks[b].as_mut_ptr().add(8), hi[b]);
      }
      *o = reduce(&banks);
    }
  }
}

/// Inner products of the prepared query with rows `first .. first + out.len()` of `rows`.
pub fn fde_scores_with(tier: Tier, q: &PreparedFde, rows: FdeRows<'_>, first: usize, out: &mut [f32]) {
  let len = match rows {
    FdeRows::F32(v) => v.len(),
    FdeRows::F16(v) => v.len(),
  };
  assert!(
    (first + out.len()) * q.dim <= len,
    "fde_scores: rows out of range"
  );
  let tier = if simd::available().contains(&tier) {
    tier
  } else {
    Tier::Scalar
  };
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is available (AVX-512F) and the row range was asserted above.
    Tier::Avx512 => unsafe { x86::scores_avx512(q, rows, first, out) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX2+FMA come with the tier; F16C is checked here; the range was asserted.
    Tier::Avx2 if std::arch::is_x86_feature_detected!("f16c") => unsafe {
      x86::scores_avx2(q, rows, first, out)
    },
    _ => scores_scalar(q, rows, first, out),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  #[test]
  fn every_tier_is_bit_identical_to_scalar_and_close_to_f64() {
    let mut rng = Rng::new(13);
    for &dim in &[1usize, 15, 16, 17, 40, 100, 256, 1000, 2560] {
      let n = 23;
      let rows: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
      let rows16: Vec<u16> = rows.iter().map(|&x| f16::from_f32(x).to_bits()).collect();
      // A sparse query: about half its 16-chunks are zero.
      let mut q: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
      for c in 0..dim.div_ceil(16) {
        if rng.below(2) == 0 {
          q[c * 16..((c + 1) * 16).min(dim)].fill(0.0);
        }
      }
      let pq = PreparedFde::new(&q);
      for rows_any in [FdeRows::F32(&rows), FdeRows::F16(&rows16)] {
        let mut want = vec![0f32; n - 2];
        fde_scores_with(Tier::Scalar, &pq, rows_any, 2, &mut want);
        for tier in simd::available() {
          let mut got = vec![0f32; n - 2];
          fde_scores_with(tier, &pq, rows_any, 2, &mut got);
          assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{tier:?} dim {dim}"
          );
        }
      }
      let mut want = vec![0f32; n];
      fde_scores_with(simd::tier(), &pq, FdeRows::F32(&rows), 0, &mut want);
      for (i, w) in want.iter().enumerate() {
        let exact: f64 = q
          .iter()
          .zip(&rows[i * dim..(i + 1) * dim])
          .map(|(a, b)| *a as f64 * *b as f64)
          .sum();
        assert!(
          (*w as f64 - exact).abs() < 1e-4 * (1.0 + exact.abs()) * (dim as f64).sqrt(),
          "{w} vs {exact}"
        );
      }
    }
  }
}
