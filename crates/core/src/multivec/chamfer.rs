//! Exact Chamfer (MaxSim) scoring: CHAMFER(Q, P) = Σ_{q ∈ Q} max_{p ∈ P} ⟨q, p⟩.
//!
//! Semantics: the max is the true max (it starts from −∞), so a document whose best token has
//! a negative dot product with a query token contributes that negative value. With
//! `clamp_negative` each per-token max is clamped at 0 first, which is what ColBERT's CPU
//! path and PyLate compute (they initialise the max buffer / pad with zeros). An empty query
//! scores 0; an empty document is rejected by the public functions.
//!
//! Kernel layout: the query is kept resident, transposed so that SIMD lanes run across query
//! tokens (`packed[(group·dim + i)·W + lane]`, W = 16 for AVX-512, 8 for AVX2). Document tokens
//! stream through in blocks (4 on AVX-512, 2 on AVX2); each document coordinate is broadcast
//! and multiplied into every query lane, so the per-query-token max is a plain lane-wise max
//! with no horizontal reductions. f16 and int8 document tokens are widened to f32 a block at a
//! time (int8 tokens carry a per-token scale applied to the finished dot product).
//!
//! Every lane computes `acc = fma(q_i, x_i, acc)` for i = 0..dim in order, and the final sum
//! over query tokens runs in token order in scalar code; the scalar twin does exactly the same
//! with `f32::mul_add`. So every tier returns **bit-identical** scores, and rankings do not
//! depend on the CPU.

use super::{check_csr, check_dim, reject_empty};
use crate::simd::{self, Tier};
use crate::{parallel, validate, Error, Result};
use half::f16;
use rayon::prelude::*;

/// Document tokens in one of the storage formats (row-major, `n × dim`).
#[derive(Clone, Copy, Debug)]
pub enum DocTokens<'a> {
  F32(&'a [f32]),
  /// IEEE binary16 bit patterns.
  F16(&'a [u16]),
  /// Symmetric int8 codes with one scale per token: value = code · scale.
  I8 {
    codes: &'a [i8],
    scales: &'a [f32],
  },
}

impl DocTokens<'_> {
  fn len(&self) -> usize {
    match self {
      DocTokens::F32(v) => v.len(),
      DocTokens::F16(v) => v.len(),
      DocTokens::I8 { codes, .. } => codes.len(),
    }
  }
}

/// A query laid out for one SIMD tier. Build it once per query and score many documents.
#[derive(Clone, Debug)]
pub struct PreparedQuery {
  tier: Tier,
  dim: usize,
  nq: usize,
  /// Row-major query (scalar tier).
  rows: Vec<f32>,
  /// Lane-major query for the SIMD tiers (empty for scalar).
  packed: Vec<f32>,
}

fn lanes(tier: Tier) -> usize {
  match tier {
    Tier::Avx512 => 16,
    Tier::Avx2 => 8,
    _ => 1,
  }
}

/// The tier the Chamfer kernels use: the active tier, lowered to one with a kernel here
/// (AVX2 additionally needs F16C).
fn kernel_tier(tier: Tier) -> Tier {
  let tier = if simd::available().contains(&tier) {
    tier
  } else {
    Tier::Scalar
  };
  match tier {
    #[cfg(target_arch = "x86_64")]
    Tier::Avx512 => Tier::Avx512,
    #[cfg(target_arch = "x86_64")]
    Tier::Avx2 if std::arch::is_x86_feature_detected!("f16c") => Tier::Avx2,
    _ => Tier::Scalar,
  }
}

impl PreparedQuery {
  /// Validates and lays out `query` (`nq × dim` floats) for the active tier.
  pub fn new(query: &[f32], dim: usize) -> Result<Self> {
    Self::with_tier(simd::tier(), query, dim)
  }

  /// As [`new`](Self::new) for a given tier (lowered to what this CPU can run).
  pub fn with_tier(tier: Tier, query: &[f32], dim: usize) -> Result<Self> {
    check_dim(dim)?;
    let nq = validate::vector_count(query.len(), dim, "query tokens")?;
    validate::finite(query, dim, "query tokens")?;
    Ok(Self::build(kernel_tier(tier), query, dim, nq))
  }

  pub(crate) fn build(tier: Tier, query: &[f32], dim: usize, nq: usize) -> Self {
    let w = lanes(tier);
    let mut packed = Vec::new();
    if w > 1 {
      let groups = nq.div_ceil(w);
      packed = vec![0f32; groups * dim * w];
      for m in 0..nq {
        let (g, lane) = (m / w, m % w);
        for i in 0..dim {
          packed[(g * dim + i) * w + lane] = query[m * dim + i];
        }
      }
    }
    PreparedQuery {
      tier,
      dim,
      nq,
      rows: query.to_vec(),
      packed,
    }
  }

  pub fn tokens(&self) -> usize {
    self.nq
  }
  pub fn dim(&self) -> usize {
    self.dim
  }
  pub fn tier(&self) -> Tier {
    self.tier
  }

  /// A prepared query on the active tier; `query` must already be validated.
  pub(crate) fn active(query: &[f32], dim: usize) -> Self {
    Self::build(kernel_tier(simd::tier()), query, dim, query.len() / dim)
  }

  /// Chamfer score of one document of `doc.len() / dim` tokens (must be ≥ 1 unless the
  /// query is empty; an empty document scores −∞, or 0 with `clamp_negative`).
  /// `scratch` is a reusable buffer (its contents are irrelevant).
  pub fn score(&self, doc: DocTokens<'_>, clamp_negative: bool, scratch: &mut Vec<f32>) -> f32 {
    self.maxima(doc, scratch);
    finish(&scratch[..self.nq], clamp_negative)
  }

  /// The best dot product of each query token over the document's tokens.
  pub fn token_maxima(&self, doc: DocTokens<'_>, scratch: &mut Vec<f32>) -> Vec<f32> {
    self.maxima(doc, scratch);
    scratch[..self.nq].to_vec()
  }

  /// Leaves the per-query-token maxima in `scratch[..nq]`.
  fn maxima(&self, doc: DocTokens<'_>, scratch: &mut Vec<f32>) {
    let n = doc.len() / self.dim;
    if let DocTokens::I8 { scales, .. } = doc {
      assert!(scales.len() >= n, "int8 tokens need one scale per token");
    }
    let w = lanes(self.tier);
    let nbest = if w > 1 { self.nq.div_ceil(w) * w } else { self.nq };
    let block = 4usize;
    scratch.resize(nbest + block * self.dim, 0.0);
    let (best, conv) = scratch.split_at_mut(nbest);
    best.fill(f32::NEG_INFINITY);
    match self.tier {
      #[cfg(target_arch = "x86_64")]
      // SAFETY: `tier` came from `kernel_tier`, which only returns Avx512 when the CPU has
      // AVX-512F (in `simd::available()`); `packed` was built for 16 lanes with
      // `nq.div_ceil(16)` groups; `best` has that many × 16 entries; `conv` has 4·dim floats.
      Tier::Avx512 => unsafe { x86::max_avx512(&self.packed, self.dim, self.nq, doc, n, best, conv) },
      #[cfg(target_arch = "x86_64")]
      // SAFETY: Avx2 is returned by `kernel_tier` only when AVX2, FMA and F16C are present;
      // layouts as above with 8 lanes.
      Tier::Avx2 => unsafe { x86::max_avx2(&self.packed, self.dim, self.nq, doc, n, best, conv) },
      _ => max_scalar(&self.rows, self.dim, self.nq, doc, n, best, conv),
    }
  }
}

/// Σ over query tokens of their max, in token order.
#[inline]
fn finish(best: &[f32], clamp_negative: bool) -> f32 {
  let mut s = 0f32;
  for &b in best {
    s += if clamp_negative { b.max(0.0) } else { b };
  }
  s
}

/// Widens document token `t` to f32 into `out` (`dim` floats); returns its int8 scale.
#[inline]
fn widen_scalar(doc: DocTokens<'_>, t: usize, dim: usize, out: &mut [f32]) -> Option<f32> {
  match doc {
    DocTokens::F32(v) => {
      out.copy_from_slice(&v[t * dim..(t + 1) * dim]);
      None
    }
    DocTokens::F16(v) => {
      for (o, &h) in out.iter_mut().zip(&v[t * dim..(t + 1) * dim]) {
        *o = f16::from_bits(h).to_f32();
      }
      None
    }
    DocTokens::I8 { codes, scales } => {
      for (o, &c) in out.iter_mut().zip(&codes[t * dim..(t + 1) * dim]) {
        *o = c as f32;
      }
      Some(scales[t])
    }
  }
}

/// Scalar twin: per-query-token running max, same arithmetic as the SIMD lanes.
fn max_scalar(
  q: &[f32],
  dim: usize,
  nq: usize,
  doc: DocTokens<'_>,
  n: usize,
  best: &mut [f32],
  conv: &mut [f32],
) {
  let x = &mut conv[..dim];
  for t in 0..n {
    let scale = widen_scalar(doc, t, dim, x);
    for (m, b) in best.iter_mut().enumerate().take(nq) {
      let mut acc = 0f32;
      for (&qi, &xi) in q[m * dim..(m + 1) * dim].iter().zip(x.iter()) {
        acc = qi.mul_add(xi, acc);
      }
      if let Some(s) = scale {
        acc *= s;
      }
      if acc > *b {
        *b = acc;
      }
    }
  }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
  use super::DocTokens;
  use half::f16;
  use std::arch::x86_64::*;

  // ----------------------------------- AVX-512 --------------------------------------------

  /// Widens `NB` document tokens starting at `t` into `conv` (NB·dim floats) unless they are
  /// f32 already; returns pointers to each token's f32 coordinates and the int8 scales.
  ///
  /// # Safety
  /// AVX-512F must be available; `t + NB ≤ n` tokens exist in `doc`; `conv.len() ≥ NB·dim`.
  #[inline]
  #[target_feature(enable = "avx512f")]
  unsafe fn widen512<const NB: usize>(
    doc: DocTokens<'_>,
    t: usize,
    dim: usize,
    conv: &mut [f32],
  ) -> ([*const f32; NB], [f32; NB]) {
    let mut ptrs = [std::ptr::null(); NB];
    let mut scales = [1f32; NB];
    let full = dim / 16 * 16;
    for b in 0..NB {
      let tok = t + b;
      match doc {
        DocTokens::F32(v) => ptrs[b] = v.as_ptr().add(tok * dim),
        DocTokens::F16(v) => {
          let src = &v[tok * dim..(tok + 1) * dim];
          let dst = &mut conv[b * dim..(b + 1) * dim];
          let mut i = 0;
          while i < full {
            let h = _mm256_loadu_si256(src.as_ptr().add(i) as *const __m256i);
            _mm512_storeu_ps(dst.as_mut_ptr().add(i), _mm512_cvtph_ps(h));
            i += 16;
          }
          for j in full..dim {
            dst[j] = f16::from_bits(src[j]).to_f32();
          }
          ptrs[b] = dst.as_ptr();
        }
        DocTokens::I8 { codes, scales: sc } => {
          let src = &codes[tok * dim..(tok + 1) * dim];
          let dst = &mut conv[b * dim..(b + 1) * dim];
          let mut i = 0;
          while i < full {
            let c = _mm_loadu_si128(src.as_ptr().add(i) as *const __m128i);
            _mm512_storeu_ps(
              dst.as_mut_ptr().add(i),
              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c)),
            );
            i += 16;
          }
          for j in full..dim {
            dst[j] = src[j] as f32;
          }
          ptrs[b] = dst.as_ptr();
          scales[b] = sc[tok];
        }
      }
    }
    (ptrs, scales)
  }

  /// One tile: `G` query groups (16 tokens each) × `NB` document tokens.
  ///
  /// # Safety
  /// AVX-512F; `qt` points at `G·dim·16` floats; each `xs[b]` at `dim` floats.
  #[inline]
  #[target_feature(enable = "avx512f")]
  unsafe fn tile512<const G: usize, const NB: usize>(
    qt: *const f32,
    dim: usize,
    xs: [*const f32; NB],
    scales: Option<[f32; NB]>,
    best: &mut [__m512; G],
  ) {
    let mut acc = [[_mm512_setzero_ps(); G]; NB];
    for i in 0..dim {
      let mut qv = [_mm512_setzero_ps(); G];
      for (g, q) in qv.iter_mut().enumerate() {
        *q = _mm512_loadu_ps(qt.add((g * dim + i) * 16));
      }
      for b in 0..NB {
        let x = _mm512_set1_ps(*xs[b].add(i));
        for g in 0..G {
          acc[b][g] = _mm512_fmadd_ps(qv[g], x, acc[b][g]);
        }
      }
    }
    for b in 0..NB {
      for g in 0..G {
        let a = match scales {
          Some(s) => _mm512_mul_ps(acc[b][g], _mm512_set1_ps(s[b])),
          None => acc[b][g],
        };
        best[g] = _mm512_max_ps(a, best[g]);
      }
    }
  }

  /// # Safety
  /// AVX-512F; `packed` holds `G` groups starting at group `g0`; sizes as in `max_avx512`.
  #[target_feature(enable = "avx512f")]
  unsafe fn run512<const G: usize>(
    packed: &[f32],
    g0: usize,
    dim: usize,
    doc: DocTokens<'_>,
    n: usize,
    best: &mut [f32],
    conv: &mut [f32],
  ) {
    let qt = packed.as_ptr().add(g0 * dim * 16);
    let mut bv = [_mm512_set1_ps(f32::NEG_INFINITY); G];
    let scaled = matches!(doc, DocTokens::I8 { .. });
    let mut t = 0;
    while t + 4 <= n {
      let (xs, sc) = widen512::<4>(doc, t, dim, conv);
      tile512::<G, 4>(qt, dim, xs, scaled.then_some(sc), &mut bv);
      t += 4;
    }
    while t < n {
      let (xs, sc) = widen512::<1>(doc, t, dim, conv);
      tile512::<G, 1>(qt, dim, xs, scaled.then_some(sc), &mut bv);
      t += 1;
    }
    for (g, v) in bv.iter().enumerate() {
      _mm512_storeu_ps(best.as_mut_ptr().add((g0 + g) * 16), *v);
    }
  }

  /// # Safety
  /// AVX-512F must be available. `packed` is the 16-lane layout of `nq` query tokens
  /// (`nq.div_ceil(16)·dim·16` floats), `best` has `nq.div_ceil(16)·16` entries, `conv` at
  /// least `4·dim`, and `doc` holds at least `n` tokens of `dim` (with `n` scales for int8).
  /// Every pointer offset above stays inside these slices.
  #[target_feature(enable = "avx512f")]
  pub unsafe fn max_avx512(
    packed: &[f32],
    dim: usize,
    nq: usize,
    doc: DocTokens<'_>,
    n: usize,
    best: &mut [f32],
    conv: &mut [f32],
  ) {
    let groups = nq.div_ceil(16);
    debug_assert!(packed.len() >= groups * dim * 16 && best.len() >= groups * 16 && conv.len() >= 4 * dim);
    let mut g0 = 0;
    while g0 < groups {
      let gn = (groups - g0).min(4);
      match gn {
        1 => run512::<1>(packed, g0, dim, doc, n, best, conv),
        2 => run512::<2>(packed, g0, dim, doc, n, best, conv),
        3 => run512::<3>(packed, g0, dim, doc, n, best, conv),
        _ => run512::<4>(packed, g0, dim, doc, n, best, conv),
      }
      g0 += gn;
    }
  }

  // ------------------------------------- AVX2 ---------------------------------------------

  /// # Safety
  /// AVX2 and F16C must be available; `t + NB ≤ n`; `conv.len() ≥ NB·dim`.
  #[inline]
  #[target_feature(enable = "avx2,fma,f16c")]
  unsafe fn widen256<const NB: usize>(
    doc: DocTokens<'_>,
    t: usize,
    dim: usize,
    conv: &mut [f32],
  ) -> ([*const f32; NB], [f32; NB]) {
    let mut ptrs = [std::ptr::null(); NB];
    let mut scales = [1f32; NB];
    let full = dim / 8 * 8;
    for b in 0..NB {
      let tok = t + b;
      match doc {
        DocTokens::F32(v) => ptrs[b] = v.as_ptr().add(tok * dim),
        DocTokens::F16(v) => {
          let src = &v[tok * dim..(tok + 1) * dim];
          let dst = &mut conv[b * dim..(b + 1) * dim];
          let mut i = 0;
          while i < full {
            let h = _mm_loadu_si128(src.as_ptr().add(i) as *const __m128i);
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
            i += 8;
          }
          for j in full..dim {
            dst[j] = f16::from_bits(src[j]).to_f32();
          }
          ptrs[b] = dst.as_ptr();
        }
        DocTokens::I8 { codes, scales: sc } => {
          let src = &codes[tok * dim..(tok + 1) * dim];
          let dst = &mut conv[b * dim..(b + 1) * dim];
          let mut i = 0;
          while i < full {
            let c = _mm_loadl_epi64(src.as_ptr().add(i) as *const __m128i);
            _mm256_storeu_ps(
              dst.as_mut_ptr().add(i),
              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)),
            );
            i += 8;
          }
          for j in full..dim {
            dst[j] = src[j] as f32;
          }
          ptrs[b] = dst.as_ptr();
          scales[b] = sc[tok];
        }
      }
    }
    (ptrs, scales)
  }

  /// # Safety
  /// AVX2+FMA; `qt` points at `G·dim·8` floats; each `xs[b]` at `dim` floats.
  #[inline]
  #[target_feature(enable = "avx2,fma,f16c")]
  unsafe fn tile256<const G: usize, const NB: usize>(
    qt: *const f32,
    dim: usize,
    xs: [*const f32; NB],
    scales: Option<[f32; NB]>,
    best: &mut [__m256; G],
  ) {
    let mut acc = [[_mm256_setzero_ps(); G]; NB];
    for i in 0..dim {
      let mut qv = [_mm256_setzero_ps(); G];
      for (g, q) in qv.iter_mut().enumerate() {
        *q = _mm256_loadu_ps(qt.add((g * dim + i) * 8));
      }
      for b in 0..NB {
        let x = _mm256_set1_ps(*xs[b].add(i));
        for g in 0..G {
          acc[b][g] = _mm256_fmadd_ps(qv[g], x, acc[b][g]);
        }
      }
    }
    for b in 0..NB {
      for g in 0..G {
        let a = match scales {
          Some(s) => _mm256_mul_ps(acc[b][g], _mm256_set1_ps(s[b])),
          None => acc[b][g],
        };
        best[g] = _mm256_max_ps(a, best[g]);
      }
    }
  }

  /// # Safety
  /// As `max_avx2`.
  #[target_feature(enable = "avx2,fma,f16c")]
  unsafe fn run256<const G: usize>(
    packed: &[f32],
    g0: usize,
    dim: usize,
    doc: DocTokens<'_>,
    n: usize,
    best: &mut [f32],
    conv: &mut [f32],
  ) {
    let qt = packed.as_ptr().add(g0 * dim * 8);
    let mut bv = [_mm256_set1_ps(f32::NEG_INFINITY); G];
    let scaled = matches!(doc, DocTokens::I8 { .. });
    let mut t = 0;
    while t + 2 <= n {
      let (xs, sc) = widen256::<2>(doc, t, dim, conv);
      tile256::<G, 2>(qt, dim, xs, scaled.then_some(sc), &mut bv);
      t += 2;
    }
    while t < n {
      let (xs, sc) = widen256::<1>(doc, t, dim, conv);
      tile256::<G, 1>(qt, dim, xs, scaled.then_some(sc), &mut bv);
      t += 1;
    }
    for (g, v) in bv.iter().enumerate() {
      _mm256_storeu_ps(best.as_mut_ptr().add((g0 + g) * 8), *v);
    }
  }

  /// # Safety
  /// AVX2, FMA and F16C must be available. `packed` is the 8-lane layout of `nq` query tokens
  /// (`nq.div_ceil(8)·dim·8` floats), `best` has `nq.div_ceil(8)·8` entries, `conv` at least
  /// `2·dim`, and `doc` holds at least `n` tokens (with `n` scales for int8).
  #[target_feature(enable = "avx2,fma,f16c")]
  pub unsafe fn max_avx2(
    packed: &[f32],
    dim: usize,
    nq: usize,
    doc: DocTokens<'_>,
    n: usize,
    best: &mut [f32],
    conv: &mut [f32],
  ) {
    let groups = nq.div_ceil(8);
    debug_assert!(packed.len() >= groups * dim * 8 && best.len() >= groups * 8 && conv.len() >= 2 * dim);
    let mut g0 = 0;
    while g0 < groups {
      let gn = (groups - g0).min(4);
      match gn {
        1 => run256::<1>(packed, g0, dim, doc, n, best, conv),
        2 => run256::<2>(packed, g0, dim, doc, n, best, conv),
        3 => run256::<3>(packed, g0, dim, doc, n, best, conv),
        _ => run256::<4>(packed, g0, dim, doc, n, best, conv),
      }
      g0 += gn;
    }
  }
}

/// Chamfer score of two f32 point clouds (`nq × dim` and `nd × dim`) on a given tier.
pub fn chamfer_with(tier: Tier, query: &[f32], doc: &[f32], dim: usize, clamp_negative: bool) -> Result<f32> {
  let pq = PreparedQuery::with_tier(tier, query, dim)?;
  let nd = validate::vector_count(doc.len(), dim, "doc tokens")?;
  validate::finite(doc, dim, "doc tokens")?;
  if nd == 0 && pq.nq > 0 {
    return Err(Error::invalid(
      "doc tokens: the document has no tokens (Chamfer needs at least one)",
    ));
  }
  Ok(pq.score(DocTokens::F32(doc), clamp_negative, &mut Vec::new()))
}

/// Chamfer score on the active tier.
pub fn chamfer(query: &[f32], doc: &[f32], dim: usize, clamp_negative: bool) -> Result<f32> {
  chamfer_with(simd::tier(), query, doc, dim, clamp_negative)
}

/// Chamfer score on the scalar twin (the reference for the SIMD tiers).
pub fn chamfer_scalar(query: &[f32], doc: &[f32], dim: usize, clamp_negative: bool) -> Result<f32> {
  chamfer_with(Tier::Scalar, query, doc, dim, clamp_negative)
}

/// Scores every candidate document of a CSR batch against one query, in parallel on at most
/// `threads` threads. Returns one score per candidate, in input order.
pub fn chamfer_rerank(
  query: &[f32],
  dim: usize,
  docs: &[f32],
  offsets: &[usize],
  clamp_negative: bool,
  threads: Option<usize>,
) -> Result<Vec<f32>> {
  let pq = PreparedQuery::new(query, dim)?;
  let n = check_csr(docs, dim, offsets, "candidate tokens")?;
  reject_empty(offsets, "candidate tokens")?;
  Ok(parallel::with_threads(threads, || {
    (0..n)
      .into_par_iter()
      .map_init(Vec::new, |scratch, i| {
        pq.score(
          DocTokens::F32(&docs[offsets[i] * dim..offsets[i + 1] * dim]),
          clamp_negative,
          scratch,
        )
      })
      .collect()
  }))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  fn naive(q: &[f32], d: &[f32], dim: usize, clamp: bool) -> f64 {
    q.chunks_exact(dim)
      .map(|qt| {
        let m = d
          .chunks_exact(dim)
          .map(|dt| qt.iter().zip(dt).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>())
          .fold(f64::NEG_INFINITY, f64::max);
        if clamp {
          m.max(0.0)
        } else {
          m
        }
      })
      .sum()
  }

  fn gauss(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
  }

  fn to_f16(v: &[f32]) -> Vec<u16> {
    v.iter().map(|&x| f16::from_f32(x).to_bits()).collect()
  }

  fn to_i8(v: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut codes = Vec::new();
    let mut scales = Vec::new();
    for t in v.chunks_exact(dim) {
      let m = t.iter().fold(0f32, |a, x| a.max(x.abs()));
      let s = if m > 0.0 { m / 127.0 } else { 0.0 };
      scales.push(s);
      codes.extend(t.iter().map(|&x| {
        if s > 0.0 {
          (x / s).round().clamp(-127.0, 127.0) as i8
        } else {
          0
        }
      }));
    }
    (codes, scales)
  }

  #[test]
  fn every_tier_is_bit_identical_to_scalar_for_all_storages_and_awkward_shapes() {
    let mut rng = Rng::new(21);
    let shapes = [
      (1usize, 1usize, 1usize),
      (3, 1, 5),
      (7, 5, 3),
      (8, 8, 8),
      (15, 16, 17),
      (16, 9, 31),
      (17, 33, 64),
      (32, 80, 128),
      (33, 7, 100),
      (65, 5, 48),
      (70, 13, 129),
    ];
    for &(nq, nd, dim) in &shapes {
      let q = gauss(&mut rng, nq * dim);
      let d = gauss(&mut rng, nd * dim);
      let h = to_f16(&d);
      let (codes, scales) = to_i8(&d, dim);
      for clamp in [false, true] {
        let s = PreparedQuery::with_tier(Tier::Scalar, &q, dim).unwrap();
        let want = [
          s.score(DocTokens::F32(&d), clamp, &mut Vec::new()),
          s.score(DocTokens::F16(&h), clamp, &mut Vec::new()),
          s.score(
            DocTokens::I8 {
              codes: &codes,
              scales: &scales,
            },
            clamp,
            &mut Vec::new(),
          ),
        ];
        let exact = naive(&q, &d, dim, clamp);
        assert!(
          (want[0] as f64 - exact).abs() <= 1e-4 * (1.0 + exact.abs()) * nq as f64,
          "{want:?} vs {exact}"
        );
        for tier in simd::available() {
          let p = PreparedQuery::with_tier(tier, &q, dim).unwrap();
          let mut scratch = vec![7.0; 3];
          let got = [
            p.score(DocTokens::F32(&d), clamp, &mut scratch),
            p.score(DocTokens::F16(&h), clamp, &mut scratch),
            p.score(
              DocTokens::I8 {
                codes: &codes,
                scales: &scales,
              },
              clamp,
              &mut scratch,
            ),
          ];
          assert_eq!(
            got.map(f32::to_bits),
            want.map(f32::to_bits),
            "{tier:?} nq={nq} nd={nd} dim={dim} clamp={clamp}"
          );
        }
      }
    }
  }

  #[test]
  fn f16_and_int8_storage_stay_close_to_f32() {
    let mut rng = Rng::new(4);
    let dim = 64;
    let q = gauss(&mut rng, 10 * dim);
    let d = gauss(&mut rng, 30 * dim);
    let pq = PreparedQuery::new(&q, dim).unwrap();
    let exact = pq.score(DocTokens::F32(&d), false, &mut Vec::new());
    let h = pq.score(DocTokens::F16(&to_f16(&d)), false, &mut Vec::new());
    let (c, s) = to_i8(&d, dim);
    let i = pq.score(
      DocTokens::I8 {
        codes: &c,
        scales: &s,
      },
      false,
      &mut Vec::new(),
    );
    assert!((h - exact).abs() < 0.01 * exact.abs(), "{h} vs {exact}");
    assert!((i - exact).abs() < 0.03 * exact.abs(), "{i} vs {exact}");
  }

  #[test]
  fn true_max_versus_clamped() {
    // One query token whose best dot is negative: −1 with the true max, 0 when clamped.
    let q = [1.0f32, 0.0];
    let d = [-1.0f32, 0.0, -2.0, 5.0];
    assert_eq!(chamfer(&q, &d, 2, false).unwrap(), -1.0);
    assert_eq!(chamfer(&q, &d, 2, true).unwrap(), 0.0);
    assert_eq!(chamfer_scalar(&q, &d, 2, false).unwrap(), -1.0);
    // Empty query: empty sum.
    assert_eq!(chamfer(&[], &d, 2, false).unwrap(), 0.0);
  }

  #[test]
  fn rerank_equals_one_by_one_and_brute_force() {
    let mut rng = Rng::new(5);
    let dim = 24;
    let q = gauss(&mut rng, 9 * dim);
    let mut docs = Vec::new();
    let mut offs = vec![0usize];
    for i in 0..50 {
      let n = 1 + (i * 7) % 13;
      docs.extend(gauss(&mut rng, n * dim));
      offs.push(offs.last().unwrap() + n);
    }
    let scores = chamfer_rerank(&q, dim, &docs, &offs, false, Some(2)).unwrap();
    for i in 0..50 {
      let one = chamfer(&q, &docs[offs[i] * dim..offs[i + 1] * dim], dim, false).unwrap();
      assert_eq!(scores[i].to_bits(), one.to_bits());
      let exact = naive(&q, &docs[offs[i] * dim..offs[i + 1] * dim], dim, false);
      assert!((scores[i] as f64 - exact).abs() < 1e-3 * (1.0 + exact.abs()));
    }
  }

  #[test]
  fn bad_inputs_are_rejected() {
    assert!(
      matches!(chamfer(&[1.0, 2.0], &[], 2, false), Err(Error::InvalidArg(_))),
      "empty doc"
    );
    assert!(
      chamfer(&[1.0, 2.0, 3.0], &[1.0, 2.0], 2, false).is_err(),
      "ragged query"
    );
    assert!(chamfer(&[1.0, 2.0], &[1.0, f32::INFINITY], 2, false).is_err());
    assert!(chamfer(&[1.0], &[1.0], 0, false).is_err());
    let q = [1.0f32, 0.0];
    let docs = [1.0f32, 0.0, 0.0, 1.0];
    assert!(
      chamfer_rerank(&q, 2, &docs, &[0, 2, 1], false, None).is_err(),
      "non-monotone"
    );
    assert!(
      chamfer_rerank(&q, 2, &docs, &[0, 0, 2], false, None).is_err(),
      "empty candidate"
    );
    assert!(
      chamfer_rerank(&q, 2, &docs, &[0, 1], false, None).is_err(),
      "last offset"
    );
  }
}
