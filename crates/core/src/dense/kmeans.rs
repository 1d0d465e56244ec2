//! Seeded k-means (Lloyd) used for PQ codebooks and the IVF coarse quantizer.
//!
//! - at most `max_points_per_centroid · k` training points (FAISS's default 256), drawn by a
//!   seeded shuffle when there are more;
//! - k-means++ initialisation when `n·k·dim` is small enough to afford it (≤ 2³⁰ flops),
//!   otherwise k distinct random points (FAISS's init), or as chosen by [`Init`];
//! - assignment with ‖x‖² − 2x·c + ‖c‖², cache-blocked (64 points × an L2-sized block of
//!   centroids) around a register-blocked micro-kernel: centroids are transposed so that SIMD lanes run across
//!   16 centroids and 4 points share every centroid load; the kernel has no horizontal sums,
//!   and each lane adds in dimension order with separate multiply and add, so every SIMD tier
//!   returns the same bits as the scalar twin and training is identical on every CPU;
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

const LANES: usize = 16;
const POINTS: usize = 4;
/// Points sharing one pass over a centroid block (their rows stay in L1/L2).
const POINT_BLOCK: usize = 64;
/// Centroid tiles (16 centroids each) per block: the block's panels (≤ 8 · 16 · dim floats)
/// stay in L2 while every point group of the point block streams through them.
const TILE_BLOCK_BYTES: usize = 192 * 1024;

/// Centroids laid out for the assignment kernel.
pub struct Assigner {
  dim: usize,
  k: usize,
  kpad: usize,
  /// Panels of 16 centroids: `[tile][dim][16]`, so a tile's columns are contiguous.
  panels: Vec<f32>,
  /// ‖c‖², +∞ for padding so it never wins.
  cnorm: Vec<f32>,
}

/// Per-lane running minimum of each point of a group: lane l holds the best of the centroids
/// ≡ l (mod 16) seen so far (ties keep the earlier, i.e. lower, index).
#[derive(Clone, Copy)]
struct Best {
  d: [[f32; LANES]; POINTS],
  i: [[u32; LANES]; POINTS],
}

impl Best {
  const EMPTY: Best = Best {
    d: [[f32::INFINITY; LANES]; POINTS],
    i: [[0; LANES]; POINTS],
  };
}

impl Assigner {
  pub fn new(centroids: &[f32], dim: usize) -> Assigner {
    let k = centroids.len() / dim;
    let kpad = k.div_ceil(LANES) * LANES;
    let mut panels = vec![0f32; dim * kpad];
    let mut cnorm = vec![f32::INFINITY; kpad];
    for (c, row) in centroids.chunks_exact(dim).enumerate() {
      let (t, l) = (c / LANES, c % LANES);
      for j in 0..dim {
        panels[(t * dim + j) * LANES + l] = row[j];
      }
      cnorm[c] = row.iter().map(|x| x * x).sum();
    }
    Assigner {
      dim,
      k,
      kpad,
      panels,
      cnorm,
    }
  }

  pub fn k(&self) -> usize {
    self.k
  }

  /// Nearest centroid (ties: lowest index) and squared distance (clamped at 0) of each point.
  ///
  /// Cache-blocked: a block of 64 points meets a block of centroid tiles that fits in L2;
  /// inside, the register-blocked micro-kernel takes 4 points × 16 centroids and folds the
  /// distances ‖c‖² − 2x·c into per-lane running minima, so no tile result goes through
  /// memory. Each dot product adds in dimension order with separate multiply and add, so
  /// the bits do not depend on the blocking or the tier.
  pub fn assign_with(&self, tier: Tier, points: &[f32], labels: &mut [u32], dists: &mut [f32]) {
    let dim = self.dim;
    let n = points.len() / dim;
    assert!(labels.len() == n && dists.len() == n);
    let tiles = self.kpad / LANES;
    let tiles_per_block = (TILE_BLOCK_BYTES / (4 * LANES * dim.max(1))).clamp(1, tiles.max(1));
    let mut best = [Best::EMPTY; POINT_BLOCK / POINTS];
    for p0 in (0..n).step_by(POINT_BLOCK) {
      let pn = (n - p0).min(POINT_BLOCK);
      let groups = pn.div_ceil(POINTS);
      best[..groups].iter_mut().for_each(|b| *b = Best::EMPTY);
      for t0 in (0..tiles).step_by(tiles_per_block) {
        let t1 = (t0 + tiles_per_block).min(tiles);
        for (g, b) in best[..groups].iter_mut().enumerate() {
          let first = p0 + g * POINTS;
          let take = (n - first).min(POINTS);
          // Short groups repeat their first row; the extra results are ignored.
          let mut rows: [&[f32]; POINTS] = [&points[first * dim..(first + 1) * dim]; POINTS];
          for (i, r) in rows.iter_mut().enumerate().take(take) {
            *r = &points[(first + i) * dim..(first + i + 1) * dim];
          }
          group(tier, &rows, &self.panels, &self.cnorm, t0..t1, dim, b);
        }
      }
      for i in 0..pn {
        let (g, pi) = (i / POINTS, i % POINTS);
        let b = &best[g];
        let mut win = (f32::INFINITY, 0u32);
        for l in 0..LANES {
          let (d, c) = (b.d[pi][l], b.i[pi][l]);
          if d < win.0 || (d == win.0 && c < win.1) {
            win = (d, c);
          }
        }
        let row = &points[(p0 + i) * dim..(p0 + i + 1) * dim];
        let xn: f32 = row.iter().map(|x| x * x).sum();
        labels[p0 + i] = win.1;
        dists[p0 + i] = (xn + win.0).max(0.0);
      }
    }
  }

  /// [`assign_with`](Self::assign_with) on the active tier, in parallel chunks.
  pub fn assign(&self, points: &[f32], labels: &mut [u32], dists: &mut [f32]) {
    let tier = simd::tier();
    let dim = self.dim;
    const CHUNK: usize = 256;
    points
      .par_chunks(CHUNK * dim)
      .zip(labels.par_chunks_mut(CHUNK))
      .zip(dists.par_chunks_mut(CHUNK))
      .for_each(|((pts, l), d)| self.assign_with(tier, pts, l, d));
  }
}

/// The micro-kernel: 4 points against the tiles `tiles` (16 centroids each), folding
/// ‖c‖² − 2x·c into `best`. Each lane sums in dimension order.
#[inline(always)]
fn group_body(
  rows: &[&[f32]; POINTS],
  panels: &[f32],
  cnorm: &[f32],
  tiles: std::ops::Range<usize>,
  dim: usize,
  best: &mut Best,
) {
  for t in tiles {
    let panel = &panels[t * dim * LANES..(t + 1) * dim * LANES];
    let mut acc = [[0f32; LANES]; POINTS];
    for (j, c) in panel.chunks_exact(LANES).enumerate() {
      let c: &[f32; LANES] = c.try_into().expect("tile width");
      for (a, row) in acc.iter_mut().zip(rows) {
        let x = row[j];
        for (al, &cl) in a.iter_mut().zip(c) {
          // Separate multiply and add (no FMA) so every tier rounds identically.
          *al += x * cl;
        }
      }
    }
    let cn: &[f32; LANES] = cnorm[t * LANES..(t + 1) * LANES].try_into().expect("tile width");
    let base = (t * LANES) as u32;
    for ((a, bd), bi) in acc.iter().zip(&mut best.d).zip(&mut best.i) {
      for l in 0..LANES {
        let d = cn[l] - 2.0 * a[l];
        let better = d < bd[l];
        bd[l] = if better { d } else { bd[l] };
        bi[l] = if better { base + l as u32 } else { bi[l] };
      }
    }
  }
}

/// Scalar twin of the micro-kernel.
fn group_scalar(
  rows: &[&[f32]; POINTS],
  panels: &[f32],
  cnorm: &[f32],
  tiles: std::ops::Range<usize>,
  dim: usize,
  best: &mut Best,
) {
  group_body(rows, panels, cnorm, tiles, dim, best)
}

/// The same loops compiled with AVX-512: LLVM keeps the 4 × 16 accumulators in zmm registers.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn group_avx512(
  rows: &[&[f32]; POINTS],
  panels: &[f32],
  cnorm: &[f32],
  tiles: std::ops::Range<usize>,
  dim: usize,
  best: &mut Best,
) {
  group_body(rows, panels, cnorm, tiles, dim, best)
}

/// The same loops with AVX2: 8 ymm accumulators.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn group_avx2(
  rows: &[&[f32]; POINTS],
  panels: &[f32],
  cnorm: &[f32],
  tiles: std::ops::Range<usize>,
  dim: usize,
  best: &mut Best,
) {
  group_body(rows, panels, cnorm, tiles, dim, best)
}

#[inline]
fn group(
  tier: Tier,
  rows: &[&[f32]; POINTS],
  panels: &[f32],
  cnorm: &[f32],
  tiles: std::ops::Range<usize>,
  dim: usize,
  best: &mut Best,
) {
  match tier {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx512 tier is only active when the CPU has AVX-512 F (simd::detected).
    Tier::Avx512 => unsafe { group_avx512(rows, panels, cnorm, tiles, dim, best) },
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the Avx2 tier is only active when the CPU has AVX2.
    Tier::Avx2 => unsafe { group_avx2(rows, panels, cnorm, tiles, dim, best) },
    _ => group_scalar(rows, panels, cnorm, tiles, dim, best),
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
