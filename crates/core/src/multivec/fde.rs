//! MUVERA fixed-dimensional encodings (FDE), following the reference implementation
//! (google/graph-mining `sketching/point_cloud/fixed_dimensional_encoding.cc`).
//!
//! For each repetition r (of R), a point x is assigned to one of B = 2^k partitions by the signs
//! of k Gaussian projections (SimHash), projected to p coordinates, and accumulated into block
//! `r·B + partition` of the output:
//! - queries **sum** their projected points per block;
//! - documents **average** them (centroids); an empty block is, when `fill_empty` is on, filled
//!   with the projected point whose sign bits are nearest in Hamming distance to the block's
//!   pattern (lowest point index on ties).
//!
//! Partition index: the sign bits b_0..b_{k-1} (hyperplane 0 most significant) read as a
//! binary-reflected Gray code, i.e. `signbits == index ^ (index >> 1)`; adjacent partitions
//! differ in one hyperplane. Output length is R·2^k·p, or `final_dim` after the optional
//! Count-Sketch final projection.
//!
//! Randomness is ours (SplitMix64/Xoshiro256**, Box–Muller via libm), drawn in a fixed order, and
//! the matrices are serialised with the encoder, so an encoder loaded from bytes gives the same
//! encodings on every platform and every future version. Arithmetic is plain f32 in a fixed
//! order (no FMA contraction, no reassociation), so encodings are bit-identical across CPUs.
//!
//! Differences from the reference, on purpose:
//! - independent random streams for the SimHash planes, the inner projection and the final
//!   projection (the reference reuses one seed for all three);
//! - empty point clouds encode to all zeros (the reference divides 0/0 or reads out of bounds);
//! - `fill_empty` defaults to on for documents (as in the paper, fastembed and Weaviate).

use super::{check_csr, check_dim};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::rng::{mix64, Rng};
use crate::simd::{self, Tier};
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;

/// Largest k (SimHash bits per repetition), as in the reference (it rejects k ≥ 31).
pub const MAX_SIMHASH_BITS: usize = 30;
/// Largest R·2^k·p and `final_dim`: 2^22 floats (16 MiB per encoding). Larger is a mistake or
/// a memory-exhaustion vector (Weaviate caps at 2^20).
pub const MAX_FDE_DIM: usize = 1 << 22;
/// Largest number of repetitions.
pub const MAX_REPETITIONS: usize = 4096;
/// Version of the sampling procedure that turns a seed into matrices. Saved encoders carry
/// their matrices, so this only matters for encoders built from a seed.
pub const FDE_SPEC_VERSION: u32 = 1;

/// The inner projection applied to each point before it is accumulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
  /// No projection: p = dim.
  Identity,
  /// Count-Sketch (the reference's `AMS_SKETCH`): each input coordinate goes to one random
  /// output coordinate with a random sign; unscaled, so inner products stay unbiased.
  CountSketch,
  /// Dense Rademacher matrix scaled by 1/√p (the paper's ψ; fastembed, Weaviate).
  Dense,
}

impl Projection {
  pub fn name(self) -> &'static str {
    match self {
      Projection::Identity => "identity",
      Projection::CountSketch => "countsketch",
      Projection::Dense => "dense",
    }
  }
  fn code(self) -> u8 {
    match self {
      Projection::Identity => 0,
      Projection::CountSketch => 1,
      Projection::Dense => 2,
    }
  }
  fn from_code(c: u8) -> Option<Projection> {
    [Projection::Identity, Projection::CountSketch, Projection::Dense]
      .into_iter()
      .find(|p| p.code() == c)
  }
}

/// Encoder parameters. Defaults (see [`FdeOptions::new`]) are the paper's Pareto point
/// (R, k, p) = (20, 5, 16) → 10240 dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdeOptions {
  /// Token dimension, in [1, 65536].
  pub dim: usize,
  /// Repetitions R, in [1, 4096]. Default 20.
  pub repetitions: usize,
  /// SimHash bits k per repetition, in [0, 30] (B = 2^k partitions). Default 5.
  pub simhash_bits: usize,
  /// Inner projection. Default Count-Sketch.
  pub projection: Projection,
  /// Projected width p for Count-Sketch and dense projections (ignored for identity, where
  /// p = dim), ≥ 1. Default 16.
  pub projection_dim: usize,
  /// Optional Count-Sketch final projection of the whole encoding to this many dimensions.
  pub final_dim: Option<usize>,
  /// Fill empty document partitions from the nearest point (Hamming on sign bits). Default on.
  pub fill_empty: bool,
  /// Seed of every random matrix. Default 42.
  pub seed: u64,
}

impl FdeOptions {
  pub fn new(dim: usize) -> Self {
    FdeOptions {
      dim,
      repetitions: 20,
      simhash_bits: 5,
      projection: Projection::CountSketch,
      projection_dim: 16,
      final_dim: None,
      fill_empty: true,
      seed: 42,
    }
  }
}

/// Gray-code decode: the partition index whose pattern `index ^ (index >> 1)` equals the
/// sign-bit string `sign_bits` (hyperplane 0 in the most significant of the k bits).
/// Equivalent to the reference loop `p = (p << 1) + (b_j ^ (p & 1))`.
#[inline]
pub fn partition_index(sign_bits: u32) -> u32 {
  let mut p = sign_bits;
  p ^= p >> 16;
  p ^= p >> 8;
  p ^= p >> 4;
  p ^= p >> 2;
  p ^= p >> 1;
  p
}

/// The sign-bit pattern of a partition (binary → Gray).
#[inline]
pub fn partition_pattern(index: u32) -> u32 {
  index ^ (index >> 1)
}

/// A seeded MUVERA encoder with its random matrices.
#[derive(Clone, Debug)]
pub struct FdeEncoder {
  opts: FdeOptions,
  /// Block width p.
  p: usize,
  /// Partitions per repetition, 2^k.
  b: usize,
  /// SimHash planes, dimension-major: entry i of hyperplane j of repetition r is at
  /// `simhash[i·R·k + r·k + j]`. Dimension-major lets one pass over a token's coordinates
  /// update all R·k projections with contiguous vector operations.
  simhash: Vec<f32>,
  /// Count-Sketch target of input coordinate i in repetition r: `cs_index[r·dim + i]` < p.
  cs_index: Vec<u32>,
  /// Its sign, +1 or −1.
  cs_sign: Vec<f32>,
  /// Dense projection, dimension-major: `dense[i·R·p + r·p + t]` = ±1/√p.
  dense: Vec<f32>,
  /// Final Count-Sketch: target and sign of each of the R·B·p inner coordinates.
  final_index: Vec<u32>,
  final_sign: Vec<f32>,
  /// Derived (never saved): the SimHash planes and, for the dense projection, the dense matrix
  /// side by side as one row-major `dim × gemm_cols` matrix (columns `0..R·k` SimHash,
  /// `R·k..R·k + R·p` dense, zero padding up to a multiple of [`TILE_COLS`]), so one blocked
  /// token × matrix product computes every projection of a point cloud.
  gemm: Vec<f32>,
  gemm_cols: usize,
}

/// Output columns per tile of the token × matrix product (two AVX-512 or four AVX2 registers
/// per token).
const TILE_COLS: usize = 32;
/// Tokens per tile: each matrix row loaded from cache serves this many tokens.
const TILE_TOKENS: usize = 4;

/// `out[t·cols + c] = Σ_i x[t·d + i] · m[i·cols + c]` for the `n` tokens of `x`, each sum
/// accumulated from 0 in increasing `i` with a separate multiply and add: exactly the
/// arithmetic of a per-token dot-product loop, so every tier is bit-identical to it. Tiles of
/// [`TILE_TOKENS`] tokens × [`TILE_COLS`] columns keep their accumulators in registers while
/// the matrix rows stream from cache (AVX-512 and AVX2 kernels; this is the scalar twin).
fn token_matrix_product(x: &[f32], d: usize, m: &[f32], cols: usize, out: &mut [f32]) {
  let n = x.len() / d;
  for t in 0..n {
    let xt = &x[t * d..(t + 1) * d];
    let o = &mut out[t * cols..(t + 1) * cols];
    o.fill(0.0);
    for (i, &xv) in xt.iter().enumerate() {
      for (oc, &mc) in o.iter_mut().zip(&m[i * cols..(i + 1) * cols]) {
        *oc += xv * mc;
      }
    }
  }
}

/// [`token_matrix_product`] on a tier (lowered to what this CPU runs).
fn token_matrix_product_with(tier: Tier, x: &[f32], d: usize, m: &[f32], cols: usize, out: &mut [f32]) {
  let n = x.len() / d;
  assert!(cols.is_multiple_of(TILE_COLS) && m.len() == d * cols && out.len() >= n * cols && x.len() == n * d);
  let tier = if simd::available().contains(&tier) {
    tier
  } else {
    Tier::Scalar
  };
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the tier is available (AVX-512F); the slice sizes were asserted above.
    Tier::Avx512 => unsafe { gemm_x86::product_avx512(x, d, m, cols, out) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx2 tier implies AVX2; the slice sizes were asserted above.
    Tier::Avx2 => unsafe { gemm_x86::product_avx2(x, d, m, cols, out) },
    _ => token_matrix_product(x, d, m, cols, out),
  }
}

#[cfg(target_arch = "x86_64")]
mod gemm_x86 {
  use super::{TILE_COLS, TILE_TOKENS};
  use std::arch::x86_64::*;

  /// # Safety
  /// AVX-512F must be available; `x` holds n·d floats, `m` d·cols, `out` ≥ n·cols, and
  /// cols is a multiple of 32 (all asserted by the caller). Every pointer offset below stays
  /// inside those bounds: token t < n, row i < d, column c0 + 16 + 15 < cols.
  #[target_feature(enable = "avx512f")]
  pub unsafe fn product_avx512(x: &[f32], d: usize, m: &[f32], cols: usize, out: &mut [f32]) {
    let n = x.len() / d;
    let mut t0 = 0;
    while t0 + TILE_TOKENS <= n {
      tile_avx512::<TILE_TOKENS>(x, t0, d, m, cols, out);
      t0 += TILE_TOKENS;
    }
    while t0 < n {
      tile_avx512::<1>(x, t0, d, m, cols, out);
      t0 += 1;
    }
  }

  /// # Safety
  /// As [`product_avx512`], with tokens t0 .. t0 + T < n.
  #[target_feature(enable = "avx512f")]
  #[inline]
  unsafe fn tile_avx512<const T: usize>(
    x: &[f32],
    t0: usize,
    d: usize,
    m: &[f32],
    cols: usize,
    out: &mut [f32],
  ) {
    let (xp, mp, op) = (
      x.as_ptr().add(t0 * d),
      m.as_ptr(),
      out.as_mut_ptr().add(t0 * cols),
    );
    for c0 in (0..cols).step_by(TILE_COLS) {
      let mut acc = [[_mm512_setzero_ps(); 2]; T];
      for i in 0..d {
        let r0 = _mm512_loadu_ps(mp.add(i * cols + c0));
        let r1 = _mm512_loadu_ps(mp.add(i * cols + c0 + 16));
        for (t, a) in acc.iter_mut().enumerate() {
          let xv = _mm512_set1_ps(*xp.add(t * d + i));
          a[0] = _mm512_add_ps(a[0], _mm512_mul_ps(xv, r0));
          a[1] = _mm512_add_ps(a[1], _mm512_mul_ps(xv, r1));
        }
      }
      for (t, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(op.add(t * cols + c0), a[0]);
        _mm512_storeu_ps(op.add(t * cols + c0 + 16), a[1]);
      }
    }
  }

  /// # Safety
  /// AVX2 must be available; bounds as for [`product_avx512`].
  #[target_feature(enable = "avx2")]
  pub unsafe fn product_avx2(x: &[f32], d: usize, m: &[f32], cols: usize, out: &mut [f32]) {
    let n = x.len() / d;
    let mut t0 = 0;
    while t0 + TILE_TOKENS <= n {
      tile_avx2::<TILE_TOKENS>(x, t0, d, m, cols, out);
      t0 += TILE_TOKENS;
    }
    while t0 < n {
      tile_avx2::<1>(x, t0, d, m, cols, out);
      t0 += 1;
    }
  }

  /// # Safety
  /// As [`product_avx2`], with tokens t0 .. t0 + T < n. Columns go 16 at a time (two ymm per
  /// token) so T = 4 tokens fit the 16 registers.
  #[target_feature(enable = "avx2")]
  #[inline]
  unsafe fn tile_avx2<const T: usize>(
    x: &[f32],
    t0: usize,
    d: usize,
    m: &[f32],
    cols: usize,
    out: &mut [f32],
  ) {
    let (xp, mp, op) = (
      x.as_ptr().add(t0 * d),
      m.as_ptr(),
      out.as_mut_ptr().add(t0 * cols),
    );
    for c0 in (0..cols).step_by(16) {
      let mut acc = [[_mm256_setzero_ps(); 2]; T];
      for i in 0..d {
        let r0 = _mm256_loadu_ps(mp.add(i * cols + c0));
        let r1 = _mm256_loadu_ps(mp.add(i * cols + c0 + 8));
        for (t, a) in acc.iter_mut().enumerate() {
          let xv = _mm256_set1_ps(*xp.add(t * d + i));
          a[0] = _mm256_add_ps(a[0], _mm256_mul_ps(xv, r0));
          a[1] = _mm256_add_ps(a[1], _mm256_mul_ps(xv, r1));
        }
      }
      for (t, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(op.add(t * cols + c0), a[0]);
        _mm256_storeu_ps(op.add(t * cols + c0 + 8), a[1]);
      }
    }
  }
}

/// Per-thread work buffers, reused across the point clouds of a batch.
#[derive(Default)]
struct Scratch {
  /// `n × gemm_cols` products of the point cloud's tokens with the packed matrix.
  gemm: Vec<f32>,
  proj: Vec<f32>,
  bits: Vec<u32>,
  counts: Vec<u32>,
  /// Lowest token index in each document block.
  first: Vec<u32>,
  /// Occupied (sign pattern, first token) pairs of one repetition.
  occupied: Vec<(u32, u32)>,
  inner: Vec<f32>,
}

fn stream(seed: u64, purpose: u64, r: u64) -> Rng {
  Rng::new(mix64(mix64(seed) ^ mix64((purpose << 40) ^ r)))
}

fn sign_bit(rng: &mut Rng) -> f32 {
  if rng.next_u64() >> 63 == 1 {
    1.0
  } else {
    -1.0
  }
}

impl FdeEncoder {
  /// Validates the options and draws the matrices from `seed`.
  pub fn new(opts: FdeOptions) -> Result<Self> {
    let (p, b) = Self::check(&opts)?;
    let (d, r_n, k) = (opts.dim, opts.repetitions, opts.simhash_bits);
    let rk = r_n * k;
    // SimHash: for each repetition, hyperplane by hyperplane, all d entries of a hyperplane
    // in order (the reference's column-major fill order).
    let mut simhash = vec![0f32; d * rk];
    for r in 0..r_n {
      let mut rng = stream(opts.seed, 1, r as u64);
      for j in 0..k {
        for i in 0..d {
          simhash[i * rk + r * k + j] = rng.normal() as f32;
        }
      }
    }
    let (mut cs_index, mut cs_sign, mut dense) = (Vec::new(), Vec::new(), Vec::new());
    match opts.projection {
      Projection::Identity => {}
      Projection::CountSketch => {
        cs_index.reserve(r_n * d);
        cs_sign.reserve(r_n * d);
        for r in 0..r_n {
          let mut rng = stream(opts.seed, 2, r as u64);
          for _ in 0..d {
            cs_index.push(rng.below(p as u64) as u32);
            cs_sign.push(sign_bit(&mut rng));
          }
        }
      }
      Projection::Dense => {
        let scale = (1.0 / (p as f64).sqrt()) as f32;
        let rp = r_n * p;
        dense = vec![0f32; d * rp];
        for r in 0..r_n {
          let mut rng = stream(opts.seed, 2, r as u64);
          // Row t of S_r (p × d), then its d entries.
          for t in 0..p {
            for i in 0..d {
              dense[i * rp + r * p + t] = scale * sign_bit(&mut rng);
            }
          }
        }
      }
    }
    let (mut final_index, mut final_sign) = (Vec::new(), Vec::new());
    if let Some(fd) = opts.final_dim {
      let inner = r_n * b * p;
      let mut rng = stream(opts.seed, 3, 0);
      final_index.reserve(inner);
      final_sign.reserve(inner);
      for _ in 0..inner {
        final_index.push(rng.below(fd as u64) as u32);
        final_sign.push(sign_bit(&mut rng));
      }
    }
    Ok(Self::assemble(
      opts,
      p,
      b,
      simhash,
      cs_index,
      cs_sign,
      dense,
      final_index,
      final_sign,
    ))
  }

  /// Builds the encoder and its derived packed matrix from checked parts.
  #[allow(clippy::too_many_arguments)]
  fn assemble(
    opts: FdeOptions,
    p: usize,
    b: usize,
    simhash: Vec<f32>,
    cs_index: Vec<u32>,
    cs_sign: Vec<f32>,
    dense: Vec<f32>,
    final_index: Vec<u32>,
    final_sign: Vec<f32>,
  ) -> Self {
    let (d, rk) = (opts.dim, opts.repetitions * opts.simhash_bits);
    let rp = if opts.projection == Projection::Dense {
      opts.repetitions * p
    } else {
      0
    };
    let gemm_cols = (rk + rp).div_ceil(TILE_COLS) * TILE_COLS;
    let mut gemm = vec![0f32; d * gemm_cols];
    for i in 0..d {
      let row = &mut gemm[i * gemm_cols..(i + 1) * gemm_cols];
      row[..rk].copy_from_slice(&simhash[i * rk..(i + 1) * rk]);
      row[rk..rk + rp].copy_from_slice(&dense[i * rp..(i + 1) * rp]);
    }
    FdeEncoder {
      opts,
      p,
      b,
      simhash,
      cs_index,
      cs_sign,
      dense,
      final_index,
      final_sign,
      gemm,
      gemm_cols,
    }
  }

  /// Checks the options; returns (p, B).
  fn check(o: &FdeOptions) -> Result<(usize, usize)> {
    check_dim(o.dim)?;
    if o.repetitions == 0 || o.repetitions > MAX_REPETITIONS {
      return Err(Error::InvalidArg(format!(
        "repetitions must be an integer in [1, {MAX_REPETITIONS}] (got {})",
        o.repetitions
      )));
    }
    if o.simhash_bits > MAX_SIMHASH_BITS {
      return Err(Error::InvalidArg(format!(
        "simhashBits must be an integer in [0, {MAX_SIMHASH_BITS}] (got {})",
        o.simhash_bits
      )));
    }
    let p = match o.projection {
      Projection::Identity => o.dim,
      _ => {
        if o.projection_dim == 0 || o.projection_dim > super::MAX_TOKEN_DIM {
          return Err(Error::InvalidArg(format!(
            "projectionDim must be an integer in [1, {}] (got {})",
            super::MAX_TOKEN_DIM,
            o.projection_dim
          )));
        }
        o.projection_dim
      }
    };
    let b = 1usize << o.simhash_bits;
    let inner = o
      .repetitions
      .checked_mul(b)
      .and_then(|x| x.checked_mul(p))
      .filter(|&x| x <= MAX_FDE_DIM);
    let Some(inner) = inner else {
      return Err(Error::InvalidArg(format!(
        "the encoding would have repetitions · 2^simhashBits · p = {} · 2^{} · {p} dimensions, more than the limit {MAX_FDE_DIM}; \
         lower repetitions, simhashBits or projectionDim",
        o.repetitions, o.simhash_bits
      )));
    };
    if let Some(fd) = o.final_dim {
      if fd == 0 || fd > MAX_FDE_DIM {
        return Err(Error::InvalidArg(format!(
          "finalDim must be an integer in [1, {MAX_FDE_DIM}] (got {fd})"
        )));
      }
    }
    // Dense matrices cost d·R·p floats: keep them under the same cap.
    if o.projection == Projection::Dense
      && o.dim.saturating_mul(o.repetitions).saturating_mul(p) > MAX_FDE_DIM * 4
    {
      return Err(Error::invalid(
        "the dense projection matrix (dim · repetitions · projectionDim) is too large",
      ));
    }
    debug_assert!(inner >= 1);
    Ok((p, b))
  }

  pub fn options(&self) -> &FdeOptions {
    &self.opts
  }
  pub fn dim(&self) -> usize {
    self.opts.dim
  }
  /// Block width p (dim for the identity projection).
  pub fn block_dim(&self) -> usize {
    self.p
  }
  /// Partitions per repetition, 2^k.
  pub fn partitions(&self) -> usize {
    self.b
  }
  /// R·2^k·p: the length before the final projection.
  pub fn inner_dim(&self) -> usize {
    self.opts.repetitions * self.b * self.p
  }
  /// Length of every encoding: `final_dim` if set, else R·2^k·p.
  pub fn output_dim(&self) -> usize {
    self.opts.final_dim.unwrap_or_else(|| self.inner_dim())
  }
  /// Bytes held by the random matrices.
  pub fn memory_bytes(&self) -> usize {
    4 * (self.simhash.len() + self.cs_index.len() + self.cs_sign.len() + self.dense.len())
      + 4 * (self.final_index.len() + self.final_sign.len())
      + 4 * self.gemm.len()
  }

  /// The sign-bit pattern (k bits, hyperplane 0 most significant) of `token` in each repetition.
  pub fn sign_patterns(&self, token: &[f32]) -> Result<Vec<u32>> {
    validate::query_dim(token.len(), self.opts.dim)?;
    validate::finite(token, self.opts.dim, "token")?;
    let mut z = vec![0f32; self.opts.repetitions * self.opts.simhash_bits];
    let mut bits = vec![0u32; self.opts.repetitions];
    self.sketch(token, &mut z, &mut bits);
    Ok(bits)
  }

  /// Sign patterns of one token in every repetition (`z` holds R·k projections).
  #[inline(always)]
  fn sketch(&self, x: &[f32], z: &mut [f32], bits: &mut [u32]) {
    let k = self.opts.simhash_bits;
    let rk = z.len();
    z.fill(0.0);
    if rk > 0 {
      for (xi, row) in x.iter().zip(self.simhash.chunks_exact(rk)) {
        for (zj, g) in z.iter_mut().zip(row) {
          *zj += xi * g;
        }
      }
    }
    for (r, out) in bits.iter_mut().enumerate() {
      let mut s = 0u32;
      for &v in &z[r * k..(r + 1) * k] {
        // Strict: 0 and −0 give bit 0 (as the reference).
        s = (s << 1) | (v > 0.0) as u32;
      }
      *out = s;
    }
  }

  /// The projected token in every repetition, written to `out` (R·p floats) (reference path).
  #[cfg(test)]
  fn project(&self, x: &[f32], out: &mut [f32]) {
    let (d, p) = (self.opts.dim, self.p);
    match self.opts.projection {
      Projection::Identity => {
        for chunk in out.chunks_exact_mut(p) {
          chunk.copy_from_slice(x);
        }
      }
      Projection::CountSketch => {
        out.fill(0.0);
        for (r, block) in out.chunks_exact_mut(p).enumerate() {
          let idx = &self.cs_index[r * d..(r + 1) * d];
          let sgn = &self.cs_sign[r * d..(r + 1) * d];
          for ((&xi, &t), &s) in x.iter().zip(idx).zip(sgn) {
            block[t as usize] += s * xi;
          }
        }
      }
      Projection::Dense => {
        out.fill(0.0);
        let rp = out.len();
        for (xi, row) in x.iter().zip(self.dense.chunks_exact(rp)) {
          for (o, a) in out.iter_mut().zip(row) {
            *o += xi * a;
          }
        }
      }
    }
  }

  /// Encodes one point cloud (`n` tokens, already validated) into `out` (output_dim floats),
  /// on the active SIMD tier.
  fn encode_into(&self, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    self.encode_into_with(simd::tier(), tokens, document, out, s)
  }

  /// [`encode_into`](Self::encode_into) on a given tier (lowered to what this CPU runs).
  ///
  /// The SIMD tiers are the same Rust code compiled with wider vector units: every loop is
  /// element-wise (no reductions), and Rust never contracts a multiply and an add into an FMA,
  /// so each output float sees the same operations in the same order on every tier and the
  /// encodings are bit-identical (tested against the scalar twin).
  fn encode_into_with(&self, tier: Tier, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    let tier = if simd::available().contains(&tier) {
      tier
    } else {
      Tier::Scalar
    };
    match tier {
      #[cfg(target_arch = "x86_64")]
      // SAFETY: the Avx512 tier is only in `simd::available()` when the CPU has AVX-512F;
      // the body is safe Rust (bounds-checked slices), only compiled for wider registers.
      Tier::Avx512 => unsafe { self.encode_avx512(tokens, document, out, s) },
      #[cfg(target_arch = "x86_64")]
      // SAFETY: the Avx2 tier implies AVX2 and POPCNT (checked by `simd::detected`); body as above.
      Tier::Avx2 => unsafe { self.encode_avx2(tokens, document, out, s) },
      _ => self.encode_body(Tier::Scalar, tokens, document, out, s),
    }
  }

  /// # Safety
  /// The CPU must support AVX-512F.
  #[cfg(target_arch = "x86_64")]
  #[target_feature(enable = "avx512f")]
  unsafe fn encode_avx512(&self, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    self.encode_body(Tier::Avx512, tokens, document, out, s)
  }

  /// # Safety
  /// The CPU must support AVX2 and POPCNT (both part of the Avx2 tier, see `simd::detected`).
  #[cfg(target_arch = "x86_64")]
  #[target_feature(enable = "avx2,popcnt")]
  unsafe fn encode_avx2(&self, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    self.encode_body(Tier::Avx2, tokens, document, out, s)
  }

  /// The encoder itself (the scalar twin; inlined into each tier's entry point). The SimHash
  /// sketches and the dense projection of all tokens come from one blocked product with the
  /// packed matrix; Count-Sketch scatters per token; identity reads the tokens themselves.
  #[inline(always)]
  fn encode_body(&self, tier: Tier, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    let (d, r_n, k, p, b) = (
      self.opts.dim,
      self.opts.repetitions,
      self.opts.simhash_bits,
      self.p,
      self.b,
    );
    let n = tokens.len() / d;
    let (rk, rp, cols) = (r_n * k, r_n * p, self.gemm_cols);
    let inner_len = r_n * b * p;
    s.bits.resize(n * r_n, 0);
    if cols > 0 {
      s.gemm.resize(n * cols, 0.0);
      token_matrix_product_with(tier, tokens, d, &self.gemm, cols, &mut s.gemm);
    }
    for t in 0..n {
      let z = &s.gemm[t * cols..t * cols + rk];
      for (r, out) in s.bits[t * r_n..(t + 1) * r_n].iter_mut().enumerate() {
        let mut bits = 0u32;
        for &v in &z[r * k..(r + 1) * k] {
          // Strict: 0 and −0 give bit 0 (as the reference).
          bits = (bits << 1) | (v > 0.0) as u32;
        }
        *out = bits;
      }
    }
    if self.opts.projection == Projection::CountSketch {
      s.proj.resize(n * rp, 0.0);
      s.proj.fill(0.0);
      for (x, proj) in tokens.chunks_exact(d).zip(s.proj.chunks_exact_mut(rp)) {
        for (r, block) in proj.chunks_exact_mut(p).enumerate() {
          let idx = &self.cs_index[r * d..(r + 1) * d];
          let sgn = &self.cs_sign[r * d..(r + 1) * d];
          for ((&xi, &t), &sg) in x.iter().zip(idx).zip(sgn) {
            block[t as usize] += sg * xi;
          }
        }
      }
    }
    // The projected token t in repetition r (p floats).
    let projection = self.opts.projection;
    let (gemm, proj) = (&s.gemm, &s.proj);
    let projected = |t: usize, r: usize| -> &[f32] {
      match projection {
        Projection::Identity => &tokens[t * d..(t + 1) * d],
        Projection::Dense => &gemm[t * cols + rk + r * p..t * cols + rk + (r + 1) * p],
        Projection::CountSketch => &proj[t * rp + r * p..t * rp + (r + 1) * p],
      }
    };
    let inner: &mut [f32] = if self.opts.final_dim.is_some() {
      s.inner.resize(inner_len, 0.0);
      &mut s.inner
    } else {
      &mut out[..]
    };
    inner.fill(0.0);
    if document {
      s.counts.clear();
      s.counts.resize(r_n * b, 0);
      s.first.resize(r_n * b, 0);
    }
    for t in 0..n {
      for r in 0..r_n {
        let part = partition_index(s.bits[t * r_n + r]) as usize;
        let blk = &mut inner[(r * b + part) * p..(r * b + part + 1) * p];
        for (o, v) in blk.iter_mut().zip(projected(t, r)) {
          *o += v;
        }
        if document {
          if s.counts[r * b + part] == 0 {
            s.first[r * b + part] = t as u32;
          }
          s.counts[r * b + part] += 1;
        }
      }
    }
    if document {
      for r in 0..r_n {
        // The nearest token of an empty block (Hamming on sign bits, lowest index on ties) is
        // the first token of the nearest occupied pattern (ties: lowest first token): tokens
        // sharing a pattern are equally near, and the lowest of them is its first.
        s.occupied.clear();
        for part in 0..b {
          if s.counts[r * b + part] > 0 {
            s.occupied
              .push((partition_pattern(part as u32), s.first[r * b + part]));
          }
        }
        for part in 0..b {
          let c = s.counts[r * b + part];
          let blk = &mut inner[(r * b + part) * p..(r * b + part + 1) * p];
          if c > 0 {
            let c = c as f32;
            blk.iter_mut().for_each(|v| *v /= c);
          } else if self.opts.fill_empty && k > 0 && n > 0 {
            let pattern = partition_pattern(part as u32);
            let mut best = (u32::MAX, u32::MAX);
            for &(pat, first) in &s.occupied {
              let cand = ((pat ^ pattern).count_ones(), first);
              if cand < best {
                best = cand;
              }
            }
            blk.copy_from_slice(projected(best.1 as usize, r));
          }
        }
      }
    }
    if self.opts.final_dim.is_some() {
      out.fill(0.0);
      for ((&v, &t), &sg) in s.inner.iter().zip(&self.final_index).zip(&self.final_sign) {
        out[t as usize] += sg * v;
      }
    }
  }

  /// The straightforward per-token encoder (one sketch and one projection per token, then
  /// accumulation): the reference semantics the blocked encoder is tested against bit for bit.
  #[cfg(test)]
  fn encode_reference(&self, tokens: &[f32], document: bool, out: &mut [f32], s: &mut Scratch) {
    let (d, r_n, k, p, b) = (
      self.opts.dim,
      self.opts.repetitions,
      self.opts.simhash_bits,
      self.p,
      self.b,
    );
    let n = tokens.len() / d;
    let rp = r_n * p;
    let inner_len = r_n * b * p;
    let mut z = vec![0f32; r_n * k];
    s.proj.resize(n * rp, 0.0);
    s.bits.resize(n * r_n, 0);
    for (t, x) in tokens.chunks_exact(d).enumerate() {
      self.sketch(x, &mut z, &mut s.bits[t * r_n..(t + 1) * r_n]);
      self.project(x, &mut s.proj[t * rp..(t + 1) * rp]);
    }
    let inner: &mut [f32] = if self.opts.final_dim.is_some() {
      s.inner.resize(inner_len, 0.0);
      &mut s.inner
    } else {
      &mut out[..]
    };
    inner.fill(0.0);
    if document {
      s.counts.clear();
      s.counts.resize(r_n * b, 0);
    }
    for t in 0..n {
      for r in 0..r_n {
        let part = partition_index(s.bits[t * r_n + r]) as usize;
        let blk = &mut inner[(r * b + part) * p..(r * b + part + 1) * p];
        for (o, v) in blk.iter_mut().zip(&s.proj[t * rp + r * p..t * rp + (r + 1) * p]) {
          *o += v;
        }
        if document {
          s.counts[r * b + part] += 1;
        }
      }
    }
    if document {
      for r in 0..r_n {
        for part in 0..b {
          let c = s.counts[r * b + part];
          let blk = &mut inner[(r * b + part) * p..(r * b + part + 1) * p];
          if c > 0 {
            let c = c as f32;
            blk.iter_mut().for_each(|v| *v /= c);
          } else if self.opts.fill_empty && k > 0 && n > 0 {
            let pattern = partition_pattern(part as u32);
            let mut best = (u32::MAX, 0usize);
            for t in 0..n {
              let h = (s.bits[t * r_n + r] ^ pattern).count_ones();
              if h < best.0 {
                best = (h, t);
              }
            }
            blk.copy_from_slice(&s.proj[best.1 * rp + r * p..best.1 * rp + (r + 1) * p]);
          }
        }
      }
    }
    if self.opts.final_dim.is_some() {
      out.fill(0.0);
      for ((&v, &t), &sg) in s.inner.iter().zip(&self.final_index).zip(&self.final_sign) {
        out[t as usize] += sg * v;
      }
    }
  }

  fn encode_one(&self, tokens: &[f32], document: bool) -> Result<Vec<f32>> {
    let n = tokens.len() / self.opts.dim.max(1);
    check_csr(tokens, self.opts.dim, &[0, n], "tokens")?;
    let mut out = vec![0f32; self.output_dim()];
    self.encode_into(tokens, document, &mut out, &mut Scratch::default());
    Ok(out)
  }

  /// Query encoding of one point cloud (`n × dim` floats): per-block sums. An empty point
  /// cloud encodes to zeros.
  pub fn encode_query(&self, tokens: &[f32]) -> Result<Vec<f32>> {
    self.encode_one(tokens, false)
  }

  /// Document encoding of one point cloud: per-block centroids, empty blocks filled when
  /// `fill_empty` is on. An empty point cloud encodes to zeros.
  pub fn encode_document(&self, tokens: &[f32]) -> Result<Vec<f32>> {
    self.encode_one(tokens, true)
  }

  fn encode_batch(
    &self,
    tokens: &[f32],
    offsets: &[usize],
    document: bool,
    threads: Option<usize>,
  ) -> Result<Vec<f32>> {
    let n = check_csr(tokens, self.opts.dim, offsets, "tokens")?;
    let od = self.output_dim();
    let total = n
      .checked_mul(od)
      .ok_or_else(|| Error::invalid("the batch output size overflows"))?;
    let mut out = vec![0f32; total];
    self.encode_batch_into(tokens, offsets, document, threads, &mut out);
    Ok(out)
  }

  /// Encodes a validated CSR batch into `out` (n × output_dim), in parallel.
  pub(crate) fn encode_batch_into(
    &self,
    tokens: &[f32],
    offsets: &[usize],
    document: bool,
    threads: Option<usize>,
    out: &mut [f32],
  ) {
    let (d, od) = (self.opts.dim, self.output_dim());
    parallel::with_threads(threads, || {
      out
        .par_chunks_mut(od.max(1))
        .enumerate()
        .for_each_init(Scratch::default, |s, (i, o)| {
          let pc = &tokens[offsets[i] * d..offsets[i + 1] * d];
          self.encode_into(pc, document, o, s);
        })
    });
  }

  /// Query encodings of a CSR batch, flat `n × output_dim`.
  pub fn encode_queries(
    &self,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
  ) -> Result<Vec<f32>> {
    self.encode_batch(tokens, offsets, false, threads)
  }

  /// Document encodings of a CSR batch, flat `n × output_dim`.
  pub fn encode_documents(
    &self,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
  ) -> Result<Vec<f32>> {
    self.encode_batch(tokens, offsets, true, threads)
  }

  // -------------------------------------------------------------------------------------------
  // Persistence
  // -------------------------------------------------------------------------------------------

  pub fn to_bytes(&self) -> Vec<u8> {
    let o = &self.opts;
    let mut p = ByteWriter::new();
    p.put(FDE_SPEC_VERSION)
      .put(o.dim as u64)
      .put(o.repetitions as u64)
      .put(o.simhash_bits as u64)
      .put(o.projection.code())
      .put(o.projection_dim as u64)
      .put(o.final_dim.unwrap_or(0) as u64)
      .put_bool(o.fill_empty)
      .put(o.seed);
    let mut w = ContainerWriter::new(Kind::FdeEncoder, p.into_bytes());
    let f32s = |v: &[f32]| {
      let mut b = ByteWriter::new();
      b.put_raw(v);
      b.into_bytes()
    };
    let u32s = |v: &[u32]| {
      let mut b = ByteWriter::new();
      b.put_raw(v);
      b.into_bytes()
    };
    w.section(b"SIMH", f32s(&self.simhash));
    match o.projection {
      Projection::Identity => {}
      Projection::CountSketch => {
        w.section(b"CSIX", u32s(&self.cs_index));
        w.section(b"CSSG", self.cs_sign.iter().map(|&s| (s < 0.0) as u8).collect());
      }
      Projection::Dense => {
        w.section(b"DENS", f32s(&self.dense));
      }
    }
    if o.final_dim.is_some() {
      w.section(b"FPIX", u32s(&self.final_index));
      w.section(
        b"FPSG",
        self.final_sign.iter().map(|&s| (s < 0.0) as u8).collect(),
      );
    }
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::FdeEncoder)?;
    let mut r = ByteReader::new(c.params());
    let version = r.get::<u32>("fde spec version")?;
    if version == 0 || version > FDE_SPEC_VERSION {
      return Err(Error::corrupt(format!(
        "FDE spec version {version} is not supported (this build reads ≤ {FDE_SPEC_VERSION})"
      )));
    }
    let usz = |r: &mut ByteReader, what: &str| -> Result<usize> {
      usize::try_from(r.get::<u64>(what)?).map_err(|_| Error::corrupt(format!("{what} overflows")))
    };
    let dim = usz(&mut r, "dim")?;
    let repetitions = usz(&mut r, "repetitions")?;
    let simhash_bits = usz(&mut r, "simhash bits")?;
    let projection = Projection::from_code(r.get::<u8>("projection")?)
      .ok_or_else(|| Error::corrupt("unknown projection"))?;
    let projection_dim = usz(&mut r, "projection dim")?;
    let final_dim = match usz(&mut r, "final dim")? {
      0 => None,
      f => Some(f),
    };
    let fill_empty = r.get_bool("fill empty")?;
    let seed = r.get::<u64>("seed")?;
    r.finish("FdeEncoder parameters")?;
    let opts = FdeOptions {
      dim,
      repetitions,
      simhash_bits,
      projection,
      projection_dim,
      final_dim,
      fill_empty,
      seed,
    };
    let (p, b) = Self::check(&opts).map_err(|e| Error::corrupt(format!("invalid parameters: {e}")))?;
    let read_f32 = |tag: &[u8; 4], count: usize, what: &str| -> Result<Vec<f32>> {
      let s = c.section(tag)?;
      if Some(s.len()) != count.checked_mul(4) {
        return Err(Error::corrupt(format!(
          "{what} has {} bytes, expected {count} floats",
          s.len()
        )));
      }
      let v = ByteReader::new(s).get_raw::<f32>(count, what)?;
      if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::corrupt(format!("{what} contains non-finite values")));
      }
      Ok(v)
    };
    let read_idx = |tag: &[u8; 4], count: usize, bound: usize, what: &str| -> Result<Vec<u32>> {
      let s = c.section(tag)?;
      if Some(s.len()) != count.checked_mul(4) {
        return Err(Error::corrupt(format!(
          "{what} has {} bytes, expected {count} indices",
          s.len()
        )));
      }
      let v = ByteReader::new(s).get_raw::<u32>(count, what)?;
      if v.iter().any(|&x| x as usize >= bound) {
        return Err(Error::corrupt(format!("{what} has an index ≥ {bound}")));
      }
      Ok(v)
    };
    let read_sign = |tag: &[u8; 4], count: usize, what: &str| -> Result<Vec<f32>> {
      let s = c.section(tag)?;
      if s.len() != count {
        return Err(Error::corrupt(format!(
          "{what} has {} bytes, expected {count}",
          s.len()
        )));
      }
      s.iter()
        .map(|&x| match x {
          0 => Ok(1.0),
          1 => Ok(-1.0),
          _ => Err(Error::corrupt(format!("{what}: invalid sign byte {x}"))),
        })
        .collect()
    };
    let simhash = read_f32(b"SIMH", dim * repetitions * simhash_bits, "SimHash planes")?;
    let (mut cs_index, mut cs_sign, mut dense) = (Vec::new(), Vec::new(), Vec::new());
    match projection {
      Projection::Identity => {}
      Projection::CountSketch => {
        cs_index = read_idx(b"CSIX", repetitions * dim, p, "Count-Sketch indices")?;
        cs_sign = read_sign(b"CSSG", repetitions * dim, "Count-Sketch signs")?;
      }
      Projection::Dense => {
        dense = read_f32(b"DENS", dim * repetitions * p, "dense projection")?;
      }
    }
    let (mut final_index, mut final_sign) = (Vec::new(), Vec::new());
    if let Some(fd) = final_dim {
      let inner = repetitions * b * p;
      final_index = read_idx(b"FPIX", inner, fd, "final projection indices")?;
      final_sign = read_sign(b"FPSG", inner, "final projection signs")?;
    }
    Ok(Self::assemble(
      opts,
      p,
      b,
      simhash,
      cs_index,
      cs_sign,
      dense,
      final_index,
      final_sign,
    ))
  }
}

#[cfg(test)]
mod tests {
  use super::super::testdata::{clustered_docs, gaussian};
  use super::*;

  fn chamfer_naive(q: &[f32], d: &[f32], dim: usize) -> f64 {
    q.chunks_exact(dim)
      .map(|qt| {
        d.chunks_exact(dim)
          .map(|dt| qt.iter().zip(dt).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>())
          .fold(f64::NEG_INFINITY, f64::max)
      })
      .sum()
  }

  fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
  }

  #[test]
  fn partition_index_matches_reference_loop_and_is_a_gray_bijection() {
    for k in 0..=10u32 {
      let b = 1u32 << k;
      let mut seen = vec![false; b as usize];
      for s in 0..b {
        // The reference: p = (p << 1) + (b_j XOR (p & 1)), b_0 = most significant bit of s.
        let mut p = 0u32;
        for j in 0..k {
          let bit = (s >> (k - 1 - j)) & 1;
          p = (p << 1) + (bit ^ (p & 1));
        }
        assert_eq!(partition_index(s), p, "k={k} s={s}");
        assert!(p < b);
        assert!(!seen[p as usize], "not injective");
        seen[p as usize] = true;
        assert_eq!(partition_pattern(p), s, "round trip");
      }
      // Adjacent partitions differ in exactly one hyperplane.
      for p in 1..b {
        assert_eq!((partition_pattern(p) ^ partition_pattern(p - 1)).count_ones(), 1);
      }
    }
    // Full 30-bit patterns round-trip too.
    let mut rng = Rng::new(5);
    for _ in 0..1000 {
      let s = rng.next_u32() >> 2;
      assert_eq!(partition_pattern(partition_index(s)), s);
    }
  }

  #[test]
  fn output_length_formula() {
    for (r, k, proj, pd, fd, want) in [
      (20, 5, Projection::CountSketch, 16, None, 20 * 32 * 16),
      (20, 4, Projection::CountSketch, 8, None, 2560),
      (3, 0, Projection::Identity, 99, None, 3 * 7),
      (2, 3, Projection::Dense, 5, None, 2 * 8 * 5),
      (4, 2, Projection::Identity, 1, Some(33), 33),
    ] {
      let enc = FdeEncoder::new(FdeOptions {
        repetitions: r,
        simhash_bits: k,
        projection: proj,
        projection_dim: pd,
        final_dim: fd,
        ..FdeOptions::new(7)
      })
      .unwrap();
      assert_eq!(enc.output_dim(), want);
      let mut rng = Rng::new(1);
      let toks = gaussian(&mut rng, 5 * 7);
      assert_eq!(enc.encode_query(&toks).unwrap().len(), want);
      assert_eq!(enc.encode_document(&toks).unwrap().len(), want);
    }
  }

  #[test]
  fn one_sided_bound_fde_dot_is_at_most_chamfer() {
    // Lemma A.3: identity projection, R = 1, fill on ⇒ ⟨F_q(Q), F_d(P)⟩ ≤ CHAMFER(Q, P),
    // for any vectors (unnormalised, mixed signs, varying sizes).
    let mut rng = Rng::new(11);
    for trial in 0..300 {
      let dim = 1 + rng.below(12) as usize;
      let k = rng.below(6) as usize;
      let enc = FdeEncoder::new(FdeOptions {
        repetitions: 1,
        simhash_bits: k,
        projection: Projection::Identity,
        seed: trial,
        ..FdeOptions::new(dim)
      })
      .unwrap();
      let nq = 1 + rng.below(10) as usize;
      let nd = 1 + rng.below(15) as usize;
      let q = gaussian(&mut rng, nq * dim);
      let d = gaussian(&mut rng, nd * dim);
      let fq = enc.encode_query(&q).unwrap();
      let fd = enc.encode_document(&d).unwrap();
      let lhs = dot64(&fq, &fd);
      let rhs = chamfer_naive(&q, &d, dim);
      assert!(
        lhs <= rhs + 1e-4 * (1.0 + rhs.abs()),
        "trial {trial}: FDE {lhs} > Chamfer {rhs}"
      );
    }
  }

  #[test]
  fn one_token_document_fills_every_block_with_that_token() {
    let mut rng = Rng::new(3);
    for proj in [Projection::Identity, Projection::CountSketch, Projection::Dense] {
      let enc = FdeEncoder::new(FdeOptions {
        repetitions: 4,
        simhash_bits: 3,
        projection: proj,
        projection_dim: 6,
        ..FdeOptions::new(10)
      })
      .unwrap();
      let x = gaussian(&mut rng, 10);
      let f = enc.encode_document(&x).unwrap();
      let p = enc.block_dim();
      // The projected token in each repetition equals the query encoding's only non-zero block.
      let fq = enc.encode_query(&x).unwrap();
      for r in 0..4 {
        let rep = &fq[r * 8 * p..(r + 1) * 8 * p];
        let nz: Vec<&[f32]> = rep
          .chunks_exact(p)
          .filter(|b| b.iter().any(|v| *v != 0.0))
          .collect();
        assert_eq!(nz.len(), 1, "{proj:?}");
        for blk in f[r * 8 * p..(r + 1) * 8 * p].chunks_exact(p) {
          assert_eq!(blk, nz[0], "{proj:?} rep {r}");
        }
      }
      if proj == Projection::Identity {
        for blk in f.chunks_exact(p) {
          assert_eq!(blk, &x[..]);
        }
      }
    }
  }

  #[test]
  fn document_blocks_are_centroids_and_fill_uses_nearest_pattern_lowest_index() {
    let mut rng = Rng::new(8);
    let dim = 6;
    let enc = FdeEncoder::new(FdeOptions {
      repetitions: 2,
      simhash_bits: 3,
      projection: Projection::Identity,
      ..FdeOptions::new(dim)
    })
    .unwrap();
    let n = 5;
    let toks = gaussian(&mut rng, n * dim);
    let f = enc.encode_document(&toks).unwrap();
    let pats: Vec<Vec<u32>> = toks
      .chunks_exact(dim)
      .map(|t| enc.sign_patterns(t).unwrap())
      .collect();
    for r in 0..2 {
      for part in 0..8u32 {
        let blk = &f[(r * 8 + part as usize) * dim..(r * 8 + part as usize + 1) * dim];
        let members: Vec<usize> = (0..n).filter(|&t| partition_index(pats[t][r]) == part).collect();
        let want: Vec<f32> = if members.is_empty() {
          let pat = partition_pattern(part);
          let best = (0..n)
            .min_by_key(|&t| ((pats[t][r] ^ pat).count_ones(), t))
            .unwrap();
          toks[best * dim..(best + 1) * dim].to_vec()
        } else {
          (0..dim)
            .map(|j| {
              let s: f32 = members.iter().fold(0f32, |a, &t| a + toks[t * dim + j]);
              s / members.len() as f32
            })
            .collect()
        };
        assert_eq!(blk, &want[..], "rep {r} partition {part}");
      }
    }
    // With fill off, empty blocks stay zero.
    let enc_nf = FdeEncoder::new(FdeOptions {
      fill_empty: false,
      ..enc.options().clone()
    })
    .unwrap();
    let f2 = enc_nf.encode_document(&toks).unwrap();
    let zero_blocks = f2
      .chunks_exact(dim)
      .filter(|b| b.iter().all(|v| *v == 0.0))
      .count();
    assert!(zero_blocks >= 16 - 2 * n, "{zero_blocks}");
  }

  #[test]
  fn seed_determinism_and_persistence() {
    let mut rng = Rng::new(2);
    let (toks, offs) = clustered_docs(&mut rng, 20, 16, 3, 9, 4);
    for proj in [Projection::Identity, Projection::CountSketch, Projection::Dense] {
      let opts = FdeOptions {
        repetitions: 5,
        simhash_bits: 3,
        projection: proj,
        projection_dim: 4,
        final_dim: Some(50),
        seed: 9,
        ..FdeOptions::new(16)
      };
      let a = FdeEncoder::new(opts.clone()).unwrap();
      let b = FdeEncoder::new(opts.clone()).unwrap();
      let c = FdeEncoder::new(FdeOptions {
        seed: 10,
        ..opts.clone()
      })
      .unwrap();
      let ea = a.encode_documents(&toks, &offs, None).unwrap();
      assert_eq!(ea, b.encode_documents(&toks, &offs, None).unwrap());
      assert_ne!(ea, c.encode_documents(&toks, &offs, None).unwrap());
      let back = FdeEncoder::from_bytes(&a.to_bytes()).unwrap();
      assert_eq!(back.to_bytes(), a.to_bytes());
      assert_eq!(ea, back.encode_documents(&toks, &offs, Some(1)).unwrap());
      assert_eq!(
        a.encode_queries(&toks, &offs, None).unwrap(),
        back.encode_queries(&toks, &offs, None).unwrap()
      );
      // Batch == one at a time.
      for i in 0..20 {
        let one = a.encode_document(&toks[offs[i] * 16..offs[i + 1] * 16]).unwrap();
        assert_eq!(&ea[i * 50..(i + 1) * 50], &one[..]);
      }
    }
  }

  #[test]
  fn every_tier_encodes_bit_identically_to_the_scalar_twin() {
    let mut rng = Rng::new(77);
    for (dim, proj, k, pd, fd) in [
      (128, Projection::CountSketch, 5, 16, None),
      (37, Projection::Dense, 3, 7, None),
      (19, Projection::Identity, 4, 1, Some(101)),
      (5, Projection::Dense, 0, 3, None),
    ] {
      let enc = FdeEncoder::new(FdeOptions {
        repetitions: 6,
        simhash_bits: k,
        projection: proj,
        projection_dim: pd,
        final_dim: fd,
        ..FdeOptions::new(dim)
      })
      .unwrap();
      for n in [0usize, 1, 3, 17] {
        let toks = gaussian(&mut rng, n * dim);
        for document in [false, true] {
          let mut want = vec![0f32; enc.output_dim()];
          enc.encode_into_with(Tier::Scalar, &toks, document, &mut want, &mut Scratch::default());
          for tier in simd::available() {
            let mut got = vec![1f32; enc.output_dim()];
            enc.encode_into_with(tier, &toks, document, &mut got, &mut Scratch::default());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
              bits(&got),
              bits(&want),
              "{tier:?} dim {dim} {proj:?} n {n} doc {document}"
            );
          }
        }
      }
    }
  }

  #[test]
  fn blocked_encoder_is_bit_identical_to_the_per_token_reference() {
    let mut rng = Rng::new(78);
    for (dim, proj, r, k, pd, fd) in [
      (128, Projection::Dense, 20, 5, 16, None),
      (128, Projection::CountSketch, 7, 4, 8, None),
      (33, Projection::Dense, 3, 7, 5, Some(64)),
      (19, Projection::Identity, 5, 4, 1, None),
      (7, Projection::Dense, 2, 0, 3, None),
      (1, Projection::Identity, 1, 10, 1, None),
    ] {
      let enc = FdeEncoder::new(FdeOptions {
        repetitions: r,
        simhash_bits: k,
        projection: proj,
        projection_dim: pd,
        final_dim: fd,
        ..FdeOptions::new(dim)
      });
      let Ok(enc) = enc else { continue };
      for n in [0usize, 1, 3, 4, 5, 9, 17] {
        let mut toks = gaussian(&mut rng, n * dim);
        // Exact zeros and signed zeros exercise the strict sign test and zero sums.
        if n > 2 {
          toks[..dim].fill(0.0);
          toks[dim..2 * dim].fill(-0.0);
        }
        for document in [false, true] {
          let mut want = vec![0f32; enc.output_dim()];
          enc.encode_reference(&toks, document, &mut want, &mut Scratch::default());
          for tier in simd::available() {
            let mut got = vec![1f32; enc.output_dim()];
            enc.encode_into_with(tier, &toks, document, &mut got, &mut Scratch::default());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
              bits(&got),
              bits(&want),
              "{tier:?} dim {dim} {proj:?} n {n} doc {document}"
            );
          }
        }
      }
    }
  }

  #[test]
  fn token_matrix_product_equals_per_token_dot_loops() {
    let mut rng = Rng::new(79);
    for (n, d, cols) in [
      (0usize, 3usize, 32usize),
      (1, 1, 32),
      (5, 17, 64),
      (8, 128, 96),
      (11, 40, 32),
    ] {
      let x = gaussian(&mut rng, n * d);
      let m = gaussian(&mut rng, d * cols);
      let mut got = vec![f32::NAN; n * cols];
      token_matrix_product(&x, d, &m, cols, &mut got);
      for tier in simd::available() {
        let mut tiered = vec![f32::NAN; n * cols];
        token_matrix_product_with(tier, &x, d, &m, cols, &mut tiered);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&tiered), bits(&got), "{tier:?} n {n} d {d}");
      }
      for t in 0..n {
        for c in 0..cols {
          let mut want = 0f32;
          for i in 0..d {
            want += x[t * d + i] * m[i * cols + c];
          }
          assert_eq!(
            got[t * cols + c].to_bits(),
            want.to_bits(),
            "n {n} d {d} t {t} c {c}"
          );
        }
      }
    }
  }

  #[test]
  fn statistics_of_the_random_matrices() {
    let enc = FdeEncoder::new(FdeOptions {
      repetitions: 50,
      simhash_bits: 8,
      ..FdeOptions::new(128)
    })
    .unwrap();
    let n = enc.simhash.len() as f64;
    let mean = enc.simhash.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = enc
      .simhash
      .iter()
      .map(|&x| (x as f64 - mean).powi(2))
      .sum::<f64>()
      / n;
    assert!(
      mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
      "mean {mean} var {var}"
    );
    let mut counts = [0usize; 16];
    enc.cs_index.iter().for_each(|&i| counts[i as usize] += 1);
    let per = enc.cs_index.len() / 16;
    assert!(counts.iter().all(|&c| c.abs_diff(per) < per / 5), "{counts:?}");
    let neg = enc.cs_sign.iter().filter(|&&s| s < 0.0).count();
    assert!(neg.abs_diff(enc.cs_sign.len() / 2) < enc.cs_sign.len() / 20);
  }

  #[test]
  fn edge_cases_are_defined() {
    let enc = FdeEncoder::new(FdeOptions {
      simhash_bits: 0,
      ..FdeOptions::new(4)
    })
    .unwrap();
    // Empty point clouds → zeros (never NaN), for k = 0 and k > 0, fill on.
    assert!(enc.encode_document(&[]).unwrap().iter().all(|v| *v == 0.0));
    let enc5 = FdeEncoder::new(FdeOptions::new(4)).unwrap();
    assert!(enc5.encode_document(&[]).unwrap().iter().all(|v| *v == 0.0));
    let batch = enc5
      .encode_documents(&[1.0, 2.0, 3.0, 4.0], &[0, 0, 1, 1], None)
      .unwrap();
    assert!(batch.iter().all(|v| v.is_finite()));
    assert!(batch[..enc5.output_dim()].iter().all(|v| *v == 0.0));
    // Zero vectors all land in partition 0 (strict sign test) and give zero encodings.
    assert!(enc5.sign_patterns(&[0.0; 4]).unwrap().iter().all(|&b| b == 0));
    assert!(enc5.encode_document(&[0.0; 8]).unwrap().iter().all(|v| *v == 0.0));
    // k = 0: one partition; the document encoding is the centroid per repetition.
    let idn = FdeEncoder::new(FdeOptions {
      simhash_bits: 0,
      repetitions: 2,
      projection: Projection::Identity,
      ..FdeOptions::new(2)
    })
    .unwrap();
    assert_eq!(
      idn.encode_document(&[1.0, 2.0, 3.0, 6.0]).unwrap(),
      vec![2.0, 4.0, 2.0, 4.0]
    );
    assert_eq!(
      idn.encode_query(&[1.0, 2.0, 3.0, 6.0]).unwrap(),
      vec![4.0, 8.0, 4.0, 8.0]
    );
  }

  #[test]
  fn bad_options_and_inputs_are_rejected() {
    let bad = |o: FdeOptions| assert!(matches!(FdeEncoder::new(o), Err(Error::InvalidArg(_))));
    bad(FdeOptions::new(0));
    bad(FdeOptions {
      simhash_bits: 31,
      ..FdeOptions::new(8)
    });
    bad(FdeOptions {
      repetitions: 0,
      ..FdeOptions::new(8)
    });
    bad(FdeOptions {
      projection_dim: 0,
      ..FdeOptions::new(8)
    });
    bad(FdeOptions {
      final_dim: Some(0),
      ..FdeOptions::new(8)
    });
    // 20 · 2^30 · 16 is absurd: refused before allocating.
    bad(FdeOptions {
      simhash_bits: 30,
      ..FdeOptions::new(8)
    });
    let enc = FdeEncoder::new(FdeOptions::new(4)).unwrap();
    assert!(
      enc.encode_query(&[1.0, 2.0, 3.0]).is_err(),
      "not a multiple of dim"
    );
    assert!(enc.encode_query(&[1.0, f32::NAN, 3.0, 4.0]).is_err());
    let t = [0.5f32; 12];
    assert!(
      enc.encode_documents(&t, &[0, 2, 1, 3], None).is_err(),
      "non-monotone"
    );
    assert!(
      enc.encode_documents(&t, &[1, 3], None).is_err(),
      "offsets[0] != 0"
    );
    assert!(
      enc.encode_documents(&t, &[0, 2], None).is_err(),
      "last != n_tokens"
    );
    assert!(enc.encode_documents(&t, &[], None).is_err());
    assert!(enc.sign_patterns(&[1.0; 5]).is_err(), "dim mismatch");
  }

  #[test]
  fn corrupted_bytes_are_rejected() {
    let enc = FdeEncoder::new(FdeOptions {
      repetitions: 2,
      simhash_bits: 2,
      final_dim: Some(10),
      ..FdeOptions::new(5)
    })
    .unwrap();
    let bytes = enc.to_bytes();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
      assert!(matches!(
        FdeEncoder::from_bytes(&bytes[..cut]),
        Err(Error::CorruptFile(_))
      ));
    }
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    assert!(matches!(
      FdeEncoder::from_bytes(&flipped),
      Err(Error::CorruptFile(_))
    ));
  }
}
