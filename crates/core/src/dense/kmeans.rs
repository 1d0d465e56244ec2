//! Seeded k-means (Lloyd) used for PQ codebooks and the IVF coarse quantizer.
//!
//! - at most `max_points_per_centroid · k` training points (FAISS's default 256), drawn by a
//!   seeded shuffle when there are more;
//! - k-means++ initialisation when `n·k·dim` is small enough to afford it (≤ 2³⁰ flops),
//!   otherwise k distinct random points (FAISS's init), or as chosen by [`Init`];
//! - assignment with ‖x‖² − 2x·c + ‖c‖²: points go through in transposed blocks of 16 so that
//!   SIMD lanes run across points (AVX2: 2 × 8 lanes) and each lane keeps its own running
//!   minimum in a register, with no horizontal sums; every lane adds in dimension order with
//!   separate multiply and add, so every SIMD tier returns the same bits as the scalar twin
//!   and training is identical on every CPU (the AVX-512 tier holds a block in one 16-lane
//!   register and scores 8 centroids per pass);
//! - an empty cluster takes the point of the largest cluster farthest from that cluster's
//!   centroid, which never increases the objective, so it is monotone non-increasing.

use crate::rng::Rng;
use crate::simd::{self, Tier};
use crate::{Error, Result};
use rayon::prelude::*;

/// How the centroids are initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
  /// k-means++ if n·k·dim ≤ 2³⁰, else random points.
  Auto,
  /// D² sampling (Arthur & Vassilvitskii).
  PlusPlus,
  /// k distinct training points chosen uniformly.
  Random,
}

#[derive(Clone, Debug)]
pub struct KMeansParams {
  /// Number of centroids (≥ 1).
  pub k: usize,
  /// Lloyd iterations (default 25).
  pub iters: usize,
  /// Training points kept per centroid (default 256); 0 keeps all.
  pub max_points_per_centroid: usize,
  pub seed: u64,
  pub init: Init,
}

impl KMeansParams {
  pub fn new(k: usize, seed: u64) -> Self {
    KMeansParams {
      k,
      iters: 25,
      max_points_per_centroid: 256,
      seed,
      init: Init::Auto,
    }
  }
}

#[derive(Clone, Debug)]
pub struct KMeans {
  /// `k × dim` centroids, row-major.
  pub centroids: Vec<f32>,
  /// Σ‖x − c(x)‖² over the training sample at the start of each iteration (before its update).
  pub objective: Vec<f64>,
  /// Points per centroid in the last assignment.
  pub sizes: Vec<usize>,
}

/// Points per block: lanes run across points (2 rows of 8 lanes for AVX2, one row of 16 for
/// AVX-512), so each lane is one
/// point's running minimum and no horizontal reduction is needed. 16 points keep the transposed
/// block (`dim × 16` floats, 24 KiB at d = 384) inside L1 for the common embedding sizes.
const BLOCK: usize = 16;
/// AVX2 lanes per row of a block.
const ROW: usize = 8;
/// Rows of a block.
#[cfg(target_arch = "x86_64")]
const ROWS: usize = BLOCK / ROW;
/// Centroids the AVX2 kernel scores per pass over a block: 4 × 2 accumulators, 4 broadcasts
/// and 2 point loads fit the 16 AVX registers, and each point load serves four centroids.
#[cfg(target_arch = "x86_64")]
const GROUP: usize = 4;

/// Centroids prepared for the assignment kernel.
pub struct Assigner {
  dim: usize,
  k: usize,
  /// `k × dim`, row-major: the kernel broadcasts one centroid coordinate at a time.
  centroids: Vec<f32>,
  /// ‖c‖² of each centroid.
  cnorm: Vec<f32>,
}

/// Running minimum of ‖c‖² − 2x·c for the points of one block.
struct BlockBest {
  d: [f32; BLOCK],
  i: [u32; BLOCK],
}

impl Assigner {
  pub fn new(centroids: &[f32], dim: usize) -> Assigner {
    let k = centroids.len() / dim;
    assert!(k <= u32::MAX as usize, "labels are u32");
    let cnorm = centroids
      .chunks_exact(dim)
      .map(|row| row.iter().map(|x| x * x).sum())
      .collect();
    Assigner {
      dim,
      k,
      centroids: centroids[..k * dim].to_vec(),
      cnorm,
    }
  }

  pub fn k(&self) -> usize {
    self.k
  }

  /// Nearest centroid (ties: lowest index) and squared distance (clamped at 0) of each point.
  ///
  /// Points go through in blocks of 16, transposed (`[dim][16]`, zero-padded) so that SIMD
  /// lanes run across points: for each centroid the kernel broadcasts its coordinates, adds
  /// the products in dimension order with separate multiply and add (no FMA), and folds
  /// ‖c‖² − 2x·c into each lane's running minimum with a strict `<`, centroids in increasing
  /// order. Every tier therefore returns the bits of the plain scalar definition.
  pub fn assign_with(&self, tier: Tier, points: &[f32], labels: &mut [u32], dists: &mut [f32]) {
    let dim = self.dim;
    let n = points.len() / dim;
    assert!(labels.len() == n && dists.len() == n);
    let mut xt = vec![0f32; dim * BLOCK];
    let mut best = BlockBest {
      d: [f32::INFINITY; BLOCK],
      i: [0; BLOCK],
    };
    for p0 in (0..n).step_by(BLOCK) {
      let pn = (n - p0).min(BLOCK);
      if pn < BLOCK {
        xt.iter_mut().for_each(|v| *v = 0.0);
      }
      for (p, row) in points[p0 * dim..(p0 + pn) * dim].chunks_exact(dim).enumerate() {
        for (j, &v) in row.iter().enumerate() {
          xt[j * BLOCK + p] = v;
        }
      }
      block(tier, &xt, &self.centroids, &self.cnorm, dim, &mut best);
      for p in 0..pn {
        let row = &points[(p0 + p) * dim..(p0 + p + 1) * dim];
        let xn: f32 = row.iter().map(|x| x * x).sum();
        labels[p0 + p] = best.i[p];
        dists[p0 + p] = (xn + best.d[p]).max(0.0);
      }
    }
  }

  /// [`assign_with`](Self::assign_with) on the active tier, in parallel chunks.
  pub fn assign(&self, points: &[f32], labels: &mut [u32], dists: &mut [f32]) {
    let tier = simd::tier();
    let dim = self.dim;
    const CHUNK: usize = 8 * BLOCK;
    points
      .par_chunks(CHUNK * dim)
      .zip(labels.par_chunks_mut(CHUNK))
      .zip(dists.par_chunks_mut(CHUNK))
      .for_each(|((pts, l), d)| self.assign_with(tier, pts, l, d));
  }
}

#[inline]
fn block(tier: Tier, xt: &[f32], centroids: &[f32], cnorm: &[f32], dim: usize, best: &mut BlockBest) {
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx512 tier is only active when the CPU has AVX-512F (simd::detected checks
    // avx512f), which is all `block_avx512` uses.
    Tier::Avx512 => unsafe { block_avx512(xt, centroids, cnorm, dim, best) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx2 tier is only active when the CPU has AVX2 (simd::detected).
    Tier::Avx2 => unsafe { block_avx2(xt, centroids, cnorm, dim, best) },
    _ => block_scalar(xt, centroids, cnorm, dim, best),
  }
}

/// Scalar twin of [`block_avx2`]: the same sums in the same order.
fn block_scalar(xt: &[f32], centroids: &[f32], cnorm: &[f32], dim: usize, best: &mut BlockBest) {
  best.d = [f32::INFINITY; BLOCK];
  best.i = [0; BLOCK];
  for (c, (cen, &cn)) in centroids.chunks_exact(dim).zip(cnorm).enumerate() {
    let mut acc = [0f32; BLOCK];
    for (xj, &cj) in xt.chunks_exact(BLOCK).zip(cen) {
      for (a, &x) in acc.iter_mut().zip(xj) {
        // Separate multiply and add (no FMA), as in the SIMD kernel.
        *a += x * cj;
      }
    }
    for ((a, bd), bi) in acc.iter().zip(&mut best.d).zip(&mut best.i) {
      let d = cn - 2.0 * a;
      if d < *bd {
        *bd = d;
        *bi = c as u32;
      }
    }
  }
}

/// One block (16 points, 2 × 8 lanes) against every centroid; minima and indices stay in
/// registers.
///
/// Centroids go in groups of [`GROUP`]: more independent accumulator chains hide the add
/// latency, and each point load serves the whole group. Each centroid's sums are still added
/// in dimension order (separate multiply and add) and folded into the minima in increasing
/// centroid order, so the result is the scalar twin's bit for bit.
///
/// # Safety
/// The CPU must support AVX2. `xt` holds `dim × BLOCK` floats and `centroids` `cnorm.len() ×
/// dim` (checked below before any pointer read).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_avx2(xt: &[f32], centroids: &[f32], cnorm: &[f32], dim: usize, best: &mut BlockBest) {
  use std::arch::x86_64::*;
  let k = cnorm.len();
  assert!(xt.len() >= dim * BLOCK && centroids.len() >= k * dim);
  let mut bd = [_mm256_set1_ps(f32::INFINITY); ROWS];
  let mut bi = [_mm256_setzero_si256(); ROWS];
  let mut c = 0;
  while c + GROUP <= k {
    // In bounds: c + GROUP ≤ k, and every row read is < dim (checked above).
    let acc = dots_avx2::<GROUP>(xt, centroids.as_ptr().add(c * dim), dim);
    for (g, a) in acc.iter().enumerate() {
      fold_avx2(a, cnorm[c + g], c + g, &mut bd, &mut bi);
    }
    c += GROUP;
  }
  while c < k {
    let acc = dots_avx2::<1>(xt, centroids.as_ptr().add(c * dim), dim);
    fold_avx2(&acc[0], cnorm[c], c, &mut bd, &mut bi);
    c += 1;
  }
  for r in 0..ROWS {
    _mm256_storeu_ps(best.d.as_mut_ptr().add(r * ROW), bd[r]);
    _mm256_storeu_si256(best.i.as_mut_ptr().add(r * ROW) as *mut __m256i, bi[r]);
  }
}

/// Centroids the AVX-512 kernel scores per pass over a block: the 16 points fill one 16-lane
/// register, so each point load serves 8 centroids (8 accumulators of the 32 registers).
#[cfg(target_arch = "x86_64")]
const GROUP512: usize = 8;

/// [`block_avx2`] with 16-lane registers: one register holds the whole block, so every
/// multiply and add does twice the work. Same per-lane operations in the same order (multiply,
/// then add, dimension by dimension; strict `<` fold in increasing centroid order), so it
/// returns the scalar twin's bits.
///
/// # Safety
/// The CPU must support AVX-512F. `xt` holds `dim × BLOCK` floats and `centroids`
/// `cnorm.len() × dim` (checked below before any pointer read).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(xt: &[f32], centroids: &[f32], cnorm: &[f32], dim: usize, best: &mut BlockBest) {
  use std::arch::x86_64::*;
  let k = cnorm.len();
  assert!(xt.len() >= dim * BLOCK && centroids.len() >= k * dim);
  let mut bd = _mm512_set1_ps(f32::INFINITY);
  let mut bi = _mm512_setzero_si512();
  let mut c = 0;
  while c + GROUP512 <= k {
    // In bounds: c + GROUP512 ≤ k, and every row read is < dim (checked above).
    let acc = dots_avx512::<GROUP512>(xt, centroids.as_ptr().add(c * dim), dim);
    for (g, &a) in acc.iter().enumerate() {
      fold_avx512(a, cnorm[c + g], c + g, &mut bd, &mut bi);
    }
    c += GROUP512;
  }
  while c < k {
    let acc = dots_avx512::<1>(xt, centroids.as_ptr().add(c * dim), dim);
    fold_avx512(acc[0], cnorm[c], c, &mut bd, &mut bi);
    c += 1;
  }
  _mm512_storeu_ps(best.d.as_mut_ptr(), bd);
  _mm512_storeu_si512(best.i.as_mut_ptr() as *mut __m512i, bi);
}

/// [`dots_avx2`] for one 16-lane register per block.
///
/// # Safety
/// The CPU must support AVX-512F; `xt` holds `dim × BLOCK` floats and `cen` points at
/// `G × dim` readable floats.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn dots_avx512<const G: usize>(
  xt: &[f32],
  cen: *const f32,
  dim: usize,
) -> [std::arch::x86_64::__m512; G] {
  use std::arch::x86_64::*;
  let mut acc = [_mm512_setzero_ps(); G];
  let xp = xt.as_ptr();
  for j in 0..dim {
    let x = _mm512_loadu_ps(xp.add(j * BLOCK));
    for (g, a) in acc.iter_mut().enumerate() {
      let b = _mm512_set1_ps(*cen.add(g * dim + j));
      *a = _mm512_add_ps(*a, _mm512_mul_ps(x, b));
    }
  }
  acc
}

/// [`fold_avx2`] for one 16-lane register.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn fold_avx512(
  acc: std::arch::x86_64::__m512,
  cnorm_c: f32,
  c: usize,
  bd: &mut std::arch::x86_64::__m512,
  bi: &mut std::arch::x86_64::__m512i,
) {
  use std::arch::x86_64::*;
  // cn − 2·acc, exactly as the scalar twin (doubling is exact).
  let d = _mm512_sub_ps(_mm512_set1_ps(cnorm_c), _mm512_add_ps(acc, acc));
  let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(d, *bd);
  *bd = _mm512_mask_blend_ps(lt, *bd, d);
  // The label's u32 bit pattern (labels are u32; k fits, see Assigner::new).
  *bi = _mm512_mask_blend_epi32(lt, *bi, _mm512_set1_epi32(c as u32 as i32));
}

/// Dot products of the block's points with `G` consecutive centroids starting at `cen`,
/// summed in dimension order with separate multiply and add.
///
/// # Safety
/// The CPU must support AVX2; `xt` holds `dim × BLOCK` floats and `cen` points at `G × dim`
/// readable floats.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn dots_avx2<const G: usize>(
  xt: &[f32],
  cen: *const f32,
  dim: usize,
) -> [[std::arch::x86_64::__m256; ROWS]; G] {
  use std::arch::x86_64::*;
  let mut acc = [[_mm256_setzero_ps(); ROWS]; G];
  let xp = xt.as_ptr();
  for j in 0..dim {
    let x = xp.add(j * BLOCK);
    let mut xr = [_mm256_setzero_ps(); ROWS];
    for (r, v) in xr.iter_mut().enumerate() {
      *v = _mm256_loadu_ps(x.add(r * ROW));
    }
    for (g, a) in acc.iter_mut().enumerate() {
      let b = _mm256_broadcast_ss(&*cen.add(g * dim + j));
      for r in 0..ROWS {
        a[r] = _mm256_add_ps(a[r], _mm256_mul_ps(xr[r], b));
      }
    }
  }
  acc
}

/// Folds centroid `c`'s dot products (`acc`, one block) into the running minima `bd` / `bi`.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn fold_avx2(
  acc: &[std::arch::x86_64::__m256; ROWS],
  cnorm_c: f32,
  c: usize,
  bd: &mut [std::arch::x86_64::__m256; ROWS],
  bi: &mut [std::arch::x86_64::__m256i; ROWS],
) {
  use std::arch::x86_64::*;
  let cn = _mm256_set1_ps(cnorm_c);
  // The label's u32 bit pattern (labels are u32; k fits, see Assigner::new).
  let ci = _mm256_set1_epi32(c as u32 as i32);
  for r in 0..ROWS {
    // cn − 2·acc: doubling is exact, so this is the scalar `cn - 2.0 * acc` bit for bit.
    let d = _mm256_sub_ps(cn, _mm256_add_ps(acc[r], acc[r]));
    let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(d, bd[r]);
    bd[r] = _mm256_blendv_ps(bd[r], d, lt);
    bi[r] = _mm256_castps_si256(_mm256_blendv_ps(
      _mm256_castsi256_ps(bi[r]),
      _mm256_castsi256_ps(ci),
      lt,
    ));
  }
}

/// Trains `params.k` centroids on `data` (`n × dim`, finite — callers validate).
pub fn train(data: &[f32], dim: usize, params: &KMeansParams) -> Result<KMeans> {
  let n = data.len() / dim;
  let k = params.k;
  if k == 0 {
    return Err(Error::invalid("k-means needs at least one centroid"));
  }
  if n < k {
    return Err(Error::InvalidArg(format!(
      "training needs at least as many vectors as centroids: got {n} vectors for {k} centroids"
    )));
  }
  let mut rng = Rng::new(params.seed);
  // Subsample (seeded partial shuffle), kept in original order for locality.
  let cap = if params.max_points_per_centroid == 0 {
    n
  } else {
    k.saturating_mul(params.max_points_per_centroid)
  };
  let sample: Vec<f32>;
  let x: &[f32] = if n > cap {
    let mut idx: Vec<u32> = (0..n as u32).collect();
    for i in 0..cap {
      let j = i + rng.below((n - i) as u64) as usize;
      idx.swap(i, j);
    }
    let mut pick = idx[..cap].to_vec();
    pick.sort_unstable();
    sample = pick
      .iter()
      .flat_map(|&i| data[i as usize * dim..(i as usize + 1) * dim].iter().copied())
      .collect();
    &sample
  } else {
    data
  };
  let n = x.len() / dim;
  let plus = match params.init {
    Init::PlusPlus => true,
    Init::Random => false,
    Init::Auto => (n as f64) * (k as f64) * (dim as f64) <= (1u64 << 30) as f64,
  };
  let mut centroids = if plus {
    init_plus_plus(x, dim, k, &mut rng)
  } else {
    init_random(x, dim, k, &mut rng)
  };
  let mut labels = vec![0u32; n];
  let mut dists = vec![0f32; n];
  let mut objective = Vec::with_capacity(params.iters);
  let mut sizes = vec![0usize; k];
  for _ in 0..params.iters {
    Assigner::new(&centroids, dim).assign(x, &mut labels, &mut dists);
    objective.push(dists.iter().map(|&d| d as f64).sum());
    sizes = update(x, dim, k, &labels, &dists, &mut centroids);
  }
  if params.iters == 0 {
    Assigner::new(&centroids, dim).assign(x, &mut labels, &mut dists);
    sizes.iter_mut().for_each(|s| *s = 0);
    labels.iter().for_each(|&l| sizes[l as usize] += 1);
  }
  Ok(KMeans {
    centroids,
    objective,
    sizes,
  })
}

/// Recomputes the means (f64 sums, sequential: deterministic) and refills empty clusters.
fn update(
  x: &[f32],
  dim: usize,
  k: usize,
  labels: &[u32],
  dists: &[f32],
  centroids: &mut [f32],
) -> Vec<usize> {
  let mut sums = vec![0f64; k * dim];
  let mut sizes = vec![0usize; k];
  for (i, row) in x.chunks_exact(dim).enumerate() {
    let c = labels[i] as usize;
    sizes[c] += 1;
    for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row) {
      *s += v as f64;
    }
  }
  let mut moved = vec![false; x.len() / dim];
  for e in 0..k {
    if sizes[e] > 0 {
      continue;
    }
    // Largest cluster (lowest index on ties) gives up its farthest point not moved yet.
    let big = (0..k)
      .max_by(|&a, &b| sizes[a].cmp(&sizes[b]).then(b.cmp(&a)))
      .unwrap_or(0);
    if sizes[big] < 2 {
      break; // nothing to split (n ≥ k makes this unreachable unless points coincide)
    }
    let far = (0..moved.len())
      .filter(|&i| labels[i] as usize == big && !moved[i])
      .max_by(|&a, &b| dists[a].total_cmp(&dists[b]).then(b.cmp(&a)));
    let Some(far) = far else { break };
    moved[far] = true;
    let row = &x[far * dim..(far + 1) * dim];
    for j in 0..dim {
      sums[big * dim + j] -= row[j] as f64;
      sums[e * dim + j] = row[j] as f64;
    }
    sizes[big] -= 1;
    sizes[e] = 1;
  }
  for c in 0..k {
    if sizes[c] > 0 {
      let inv = 1.0 / sizes[c] as f64;
      for j in 0..dim {
        centroids[c * dim + j] = (sums[c * dim + j] * inv) as f32;
      }
    }
  }
  sizes
}

fn init_random(x: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
  let n = x.len() / dim;
  let mut idx: Vec<usize> = (0..n).collect();
  for i in 0..k {
    let j = i + rng.below((n - i) as u64) as usize;
    idx.swap(i, j);
  }
  idx[..k]
    .iter()
    .flat_map(|&i| x[i * dim..(i + 1) * dim].iter().copied())
    .collect()
}

fn init_plus_plus(x: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
  let n = x.len() / dim;
  let mut out = Vec::with_capacity(k * dim);
  let first = rng.below(n as u64) as usize;
  out.extend_from_slice(&x[first * dim..(first + 1) * dim]);
  let mut d2: Vec<f32> = x.chunks_exact(dim).map(|r| sq_dist(r, &out[..dim])).collect();
  let mut chosen = vec![false; n];
  chosen[first] = true;
  for c in 1..k {
    let total: f64 = d2.iter().map(|&d| d as f64).sum();
    let pick = if total > 0.0 {
      let mut r = rng.next_f64() * total;
      let mut p = n - 1;
      for (i, &d) in d2.iter().enumerate() {
        r -= d as f64;
        if r < 0.0 && d > 0.0 {
          p = i;
          break;
        }
      }
      p
    } else {
      // All remaining points coincide with chosen centroids: take any unchosen one.
      (0..n).find(|&i| !chosen[i]).unwrap_or(0)
    };
    chosen[pick] = true;
    let cen = x[pick * dim..(pick + 1) * dim].to_vec();
    for (i, r) in x.chunks_exact(dim).enumerate() {
      d2[i] = d2[i].min(sq_dist(r, &cen));
    }
    out.extend_from_slice(&cen);
    let _ = c;
  }
  out
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
  a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
pub(crate) mod tests {
  use super::*;

  pub(crate) fn blobs(seed: u64, n: usize, dim: usize, centers: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let c: Vec<f32> = (0..centers * dim).map(|_| 4.0 * rng.normal() as f32).collect();
    (0..n)
      .flat_map(|_| {
        let i = rng.below(centers as u64) as usize;
        (0..dim)
          .map(|j| c[i * dim + j] + rng.normal() as f32)
          .collect::<Vec<_>>()
      })
      .collect()
  }

  #[test]
  fn assignment_tiers_are_bit_identical_and_match_brute_force() {
    let mut rng = Rng::new(1);
    for (dim, k, n) in [(1, 1, 3), (8, 256, 301), (7, 17, 50), (33, 40, 97)] {
      let pts: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
      let cen: Vec<f32> = (0..k * dim).map(|_| rng.normal() as f32).collect();
      let a = Assigner::new(&cen, dim);
      let (mut l0, mut d0) = (vec![0u32; n], vec![0f32; n]);
      a.assign_with(Tier::Scalar, &pts, &mut l0, &mut d0);
      for tier in simd::available() {
        let (mut l, mut d) = (vec![0u32; n], vec![0f32; n]);
        a.assign_with(tier, &pts, &mut l, &mut d);
        assert_eq!(
          (l.clone(), d.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
          (l0.clone(), d0.iter().map(|x| x.to_bits()).collect()),
          "{tier:?}"
        );
      }
      for (i, p) in pts.chunks_exact(dim).enumerate() {
        let exact: Vec<f32> = cen.chunks_exact(dim).map(|c| sq_dist(p, c)).collect();
        let best = exact.iter().copied().fold(f32::INFINITY, f32::min);
        // The expanded form is within rounding of the direct one.
        assert!(exact[l0[i] as usize] <= best + 1e-4 * (1.0 + best), "point {i}");
        assert!((d0[i] - exact[l0[i] as usize]).abs() <= 1e-4 * (1.0 + best));
      }
    }
  }

  /// The plain definition the blocked kernel must reproduce bit for bit: ‖c‖² − 2·(x·c) with
  /// the dot product summed in dimension order, first minimum wins, then + ‖x‖², clamped.
  fn reference_assign(pts: &[f32], cen: &[f32], dim: usize) -> (Vec<u32>, Vec<u32>) {
    let (mut labels, mut bits) = (Vec::new(), Vec::new());
    for p in pts.chunks_exact(dim) {
      let mut win = (f32::INFINITY, 0u32);
      for (c, row) in cen.chunks_exact(dim).enumerate() {
        let cn: f32 = row.iter().map(|x| x * x).sum();
        let mut dot = 0f32;
        for j in 0..dim {
          dot += p[j] * row[j];
        }
        let d = cn - 2.0 * dot;
        if d < win.0 {
          win = (d, c as u32);
        }
      }
      let xn: f32 = p.iter().map(|x| x * x).sum();
      labels.push(win.1);
      bits.push((xn + win.0).max(0.0).to_bits());
    }
    (labels, bits)
  }

  #[test]
  fn blocked_assignment_is_bit_identical_to_the_plain_definition() {
    let mut rng = Rng::new(5);
    // Sizes that cross the point block (64), the tile (16) and the centroid block.
    for (dim, k, n) in [
      (8, 256, 203),
      (384, 300, 70),
      (3, 5, 1),
      (96, 1000, 65),
      (1, 40, 129),
    ] {
      let pts: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
      let mut cen: Vec<f32> = (0..k * dim).map(|_| rng.normal() as f32).collect();
      // Duplicate centroids: the lower index must win the tie.
      let (c0, c1) = (cen[..dim].to_vec(), 17usize.min(k - 1));
      cen[c1 * dim..(c1 + 1) * dim].copy_from_slice(&c0);
      let want = reference_assign(&pts, &cen, dim);
      let a = Assigner::new(&cen, dim);
      for tier in simd::available() {
        let (mut l, mut d) = (vec![0u32; n], vec![0f32; n]);
        a.assign_with(tier, &pts, &mut l, &mut d);
        assert_eq!(
          (l, d.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
          want,
          "{tier:?} dim={dim} k={k}"
        );
      }
    }
  }

  #[test]
  fn randomized_shapes_every_tier_equals_the_scalar_twin() {
    let mut rng = Rng::new(77);
    for case in 0..40 {
      let dim = 1 + rng.below(40) as usize;
      let k = 1 + rng.below(300) as usize;
      // Block-aligned, partial and tiny point counts.
      let n = [32, 64, 1, 31, 33][case % 5] + rng.below(3) as usize * 32;
      let scale = [1e-3f32, 1.0, 1e3][case % 3];
      let pts: Vec<f32> = (0..n * dim).map(|_| scale * rng.normal() as f32).collect();
      let cen: Vec<f32> = (0..k * dim).map(|_| scale * rng.normal() as f32).collect();
      let a = Assigner::new(&cen, dim);
      let (mut l0, mut d0) = (vec![0u32; n], vec![0f32; n]);
      a.assign_with(Tier::Scalar, &pts, &mut l0, &mut d0);
      assert_eq!(
        (l0.clone(), d0.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
        reference_assign(&pts, &cen, dim),
        "scalar dim={dim} k={k} n={n}"
      );
      for tier in simd::available() {
        let (mut l, mut d) = (vec![0u32; n], vec![0f32; n]);
        a.assign_with(tier, &pts, &mut l, &mut d);
        assert_eq!(l, l0, "{tier:?} dim={dim} k={k} n={n}");
        assert_eq!(
          d.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
          d0.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
          "{tier:?} dim={dim} k={k} n={n}"
        );
      }
      // The parallel entry point returns the same as one sequential pass.
      let (mut lp, mut dp) = (vec![0u32; n], vec![0f32; n]);
      a.assign(&pts, &mut lp, &mut dp);
      assert_eq!(lp, l0);
    }
    // All centroids equal: every point goes to centroid 0.
    let cen = vec![0.5f32; 3 * 40];
    let pts: Vec<f32> = (0..3 * 70).map(|_| rng.normal() as f32).collect();
    for tier in simd::available() {
      let (mut l, mut d) = (vec![9u32; 70], vec![0f32; 70]);
      Assigner::new(&cen, 3).assign_with(tier, &pts, &mut l, &mut d);
      assert!(l.iter().all(|&c| c == 0), "{tier:?}");
    }
  }

  #[test]
  fn pq_shaped_training_is_monotone_deterministic_and_fills_every_cluster() {
    // The 8-bit PQ case: 256 centroids in 8 dimensions, ~20 points per centroid.
    let (dim, n, k) = (8, 5000, 256);
    let data = blobs(12, n, dim, 60);
    for init in [Init::PlusPlus, Init::Random] {
      let p = KMeansParams {
        init,
        ..KMeansParams::new(k, 4)
      };
      let a = train(&data, dim, &p).unwrap();
      assert_eq!(a.objective.len(), 25);
      for w in a.objective.windows(2) {
        assert!(
          w[1] <= w[0] * (1.0 + 1e-6),
          "{init:?} objective increased: {:?}",
          a.objective
        );
      }
      assert!(a.objective[24] < a.objective[0], "{init:?} did not improve");
      assert!(a.sizes.iter().all(|&s| s > 0), "{init:?} {:?}", a.sizes);
      assert_eq!(a.sizes.iter().sum::<usize>(), n);
      let b = train(&data, dim, &p).unwrap();
      assert_eq!(a.centroids, b.centroids);
    }
  }

  #[test]
  fn seeded_determinism_monotone_objective_and_no_empty_clusters() {
    let (dim, n, k) = (16, 3000, 40);
    let data = blobs(2, n, dim, 10);
    for init in [Init::PlusPlus, Init::Random] {
      let p = KMeansParams {
        k,
        iters: 20,
        max_points_per_centroid: 256,
        seed: 9,
        init,
      };
      let a = train(&data, dim, &p).unwrap();
      let b = train(&data, dim, &p).unwrap();
      assert_eq!(a.centroids, b.centroids);
      assert_eq!(a.objective, b.objective);
      for w in a.objective.windows(2) {
        assert!(
          w[1] <= w[0] * (1.0 + 1e-6),
          "objective increased: {:?}",
          a.objective
        );
      }
      assert!(a.sizes.iter().all(|&s| s > 0), "{:?}", a.sizes);
      // With the final centroids too.
      let mut l = vec![0u32; n];
      let mut d = vec![0f32; n];
      Assigner::new(&a.centroids, dim).assign(&data, &mut l, &mut d);
      let mut used = vec![false; k];
      l.iter().for_each(|&c| used[c as usize] = true);
      assert!(used.iter().all(|&u| u));
      let c = train(
        &data,
        dim,
        &KMeansParams {
          seed: 10,
          ..p.clone()
        },
      )
      .unwrap();
      assert_ne!(a.centroids, c.centroids);
    }
  }

  #[test]
  fn empty_clusters_are_refilled_when_init_collides() {
    // Many duplicate points make random init pick identical centroids: the duplicates
    // leave clusters empty, which the split must refill from distinct points.
    let dim = 2;
    // 20 distinct points; the 180 extra rows all repeat point 0.
    let mut data: Vec<f32> = (0..200).flat_map(|_| [0.0, 1.0]).collect();
    for i in 0..20 {
      data[i * dim] = i as f32 * 10.0;
      data[i * dim + 1] = 1.0;
    }
    let p = KMeansParams {
      k: 20,
      iters: 10,
      max_points_per_centroid: 0,
      seed: 3,
      init: Init::Random,
    };
    let r = train(&data, dim, &p).unwrap();
    assert!(r.sizes.iter().all(|&s| s > 0), "{:?}", r.sizes);
    for w in r.objective.windows(2) {
      assert!(w[1] <= w[0], "{:?}", r.objective);
    }
  }

  #[test]
  fn subsampling_caps_training_points_and_rejects_too_few() {
    let data = blobs(4, 1000, 4, 3);
    let p = KMeansParams {
      k: 2,
      iters: 3,
      max_points_per_centroid: 10,
      seed: 1,
      init: Init::Auto,
    };
    let r = train(&data, 4, &p).unwrap();
    assert_eq!(r.sizes.iter().sum::<usize>(), 20);
    assert!(matches!(
      train(&data[..4 * 3], 4, &KMeansParams::new(4, 1)),
      Err(Error::InvalidArg(_))
    ));
  }
}
