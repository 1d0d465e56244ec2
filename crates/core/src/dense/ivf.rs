//! IVF coarse quantizer: `lists` k-means centroids; a vector goes to its nearest centroid and a
//! query scans the `nprobe` closest lists (by L2, or by inner product for ip / cosine, as FAISS
//! does for an inner-product `IndexIVF`).

use super::dot::dot_f32;
use super::kmeans::Assigner;
use super::pq::Metric;
use crate::topk::TopMin;

#[derive(Clone, Debug, PartialEq)]
pub struct Coarse {
  pub dim: usize,
  /// `lists × dim`.
  pub centroids: Vec<f32>,
  /// ‖c‖² of each centroid: an L2 probe ranks by ‖c‖² − 2q·c (‖q‖² is the same for every
  /// list), one fused multiply-add per dimension instead of a subtract and a multiply-add.
  norms: Vec<f32>,
}

impl Coarse {
  pub fn new(dim: usize, centroids: Vec<f32>) -> Coarse {
    let norms = centroids.chunks_exact(dim).map(|c| dot_f32(c, c)).collect();
    Coarse {
      dim,
      centroids,
      norms,
    }
  }

  pub fn lists(&self) -> usize {
    self.centroids.len() / self.dim
  }

  pub fn centroid(&self, l: usize) -> &[f32] {
    &self.centroids[l * self.dim..(l + 1) * self.dim]
  }

  /// List of each vector (nearest centroid by L2 for l2; by inner product otherwise).
  pub fn assign(&self, data: &[f32], metric: Metric) -> Vec<u32> {
    let n = data.len() / self.dim;
    let mut labels = vec![0u32; n];
    if metric == Metric::L2 {
      let mut d = vec![0f32; n];
      Assigner::new(&self.centroids, self.dim).assign(data, &mut labels, &mut d);
    } else {
      for (i, x) in data.chunks_exact(self.dim).enumerate() {
        labels[i] = self.probe(x, 1, metric)[0].0;
      }
    }
    labels
  }

  /// The `nprobe` closest lists, closest first, with the query·centroid dot product for ip /
  /// cosine (used as the IP offset; for l2 the value is ‖c‖² − 2q·c, unused) — ties by lower
  /// list id.
  pub fn probe(&self, q: &[f32], nprobe: usize, metric: Metric) -> Vec<(u32, f32)> {
    let mut top = TopMin::new(nprobe.max(1));
    for l in 0..self.lists() {
      let c = self.centroid(l);
      let d = if metric == Metric::L2 {
        self.norms[l] - 2.0 * dot_f32(q, c)
      } else {
        -dot_f32(q, c)
      };
      top.push(d, l as u32);
    }
    top.into_sorted().into_iter().map(|s| (s.id, -s.score)).collect()
  }
}
