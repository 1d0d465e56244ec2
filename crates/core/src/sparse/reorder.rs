//! Document reordering by recursive graph bisection (BP; Dhulipala et al. KDD'16, as in PISA):
//! documents sharing terms end up in the same blocks, which tightens block maxima.
//! Deterministic (no randomness: the initial split is the input order).

use std::cell::RefCell;

/// Partitions smaller than this are not split further (about one block).
const MIN_PART: usize = 16;
const ITERATIONS: usize = 8;
const MAX_DEPTH: usize = 40;

/// Per-thread scratch indexed by term: degrees left/right, and the gain of moving one document
/// containing the term left→right / right→left (computed once per term and iteration, so a
/// document's gain is a sum of lookups instead of four logarithms per posting).
#[derive(Default)]
struct Scratch {
  dl: Vec<u32>,
  dr: Vec<u32>,
  gain_from_left: Vec<f64>,
  gain_from_right: Vec<f64>,
  ready: Vec<bool>,
}

thread_local! {
  static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Returns the new order: `order[pos]` = internal id of the document placed at `pos`.
pub fn bisect(n: usize, n_terms: usize, ptr: &[usize], terms: &[u32]) -> Vec<u32> {
  let mut order: Vec<u32> = (0..n as u32).collect();
  recurse(&mut order, n_terms, ptr, terms, 0);
  order
}

fn cost(deg: f64, n: f64) -> f64 {
  deg * (n / (deg + 1.0)).log2()
}

fn recurse(docs: &mut [u32], n_terms: usize, ptr: &[usize], terms: &[u32], depth: usize) {
  if docs.len() <= MIN_PART || depth >= MAX_DEPTH {
    return;
  }
  let mid = docs.len() / 2;
  SCRATCH.with(|cell| {
    let mut g = cell.borrow_mut();
    let Scratch {
      dl,
      dr,
      gain_from_left,
      gain_from_right,
      ready,
    } = &mut *g;
    if dl.len() < n_terms {
      dl.resize(n_terms, 0);
      dr.resize(n_terms, 0);
      gain_from_left.resize(n_terms, 0.0);
      gain_from_right.resize(n_terms, 0.0);
      ready.resize(n_terms, false);
    }
    let post = |d: u32| &terms[ptr[d as usize]..ptr[d as usize + 1]];
    let (nl, nr) = (mid as f64, (docs.len() - mid) as f64);
    let mut gains: Vec<(f64, u32)> = Vec::with_capacity(docs.len());
    for _ in 0..ITERATIONS {
      for &d in &docs[..mid] {
        for &t in post(d) {
          dl[t as usize] += 1;
        }
      }
      for &d in &docs[mid..] {
        for &t in post(d) {
          dr[t as usize] += 1;
        }
      }
      // Gain of moving a document to the other side: the drop in the log-gap cost of its terms.
      for &d in docs.iter() {
        for &t in post(d) {
          let t = t as usize;
          if !ready[t] {
            let (a, b) = (dl[t] as f64, dr[t] as f64);
            let before = cost(a, nl) + cost(b, nr);
            gain_from_left[t] = before - (cost(a - 1.0, nl) + cost(b + 1.0, nr));
            gain_from_right[t] = before - (cost(a + 1.0, nl) + cost(b - 1.0, nr));
            ready[t] = true;
          }
        }
      }
      let gain = |d: u32, per_term: &[f64]| -> f64 { post(d).iter().map(|&t| per_term[t as usize]).sum() };
      gains.clear();
      gains.extend(docs[..mid].iter().map(|&d| (gain(d, gain_from_left), d)));
      let mut right: Vec<(f64, u32)> = docs[mid..]
        .iter()
        .map(|&d| (gain(d, gain_from_right), d))
        .collect();
      gains.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
      right.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
      let mut swaps = 0;
      for (l, r) in gains.iter_mut().zip(right.iter_mut()) {
        if l.0 + r.0 <= 0.0 {
          break;
        }
        std::mem::swap(&mut l.1, &mut r.1);
        swaps += 1;
      }
      // Clear the per-term scratch (only the touched terms).
      for &d in docs.iter() {
        for &t in post(d) {
          dl[t as usize] = 0;
          dr[t as usize] = 0;
          ready[t as usize] = false;
        }
      }
      for (i, e) in gains.iter().enumerate() {
        docs[i] = e.1;
      }
      for (i, e) in right.iter().enumerate() {
        docs[mid + i] = e.1;
      }
      if swaps == 0 {
        break;
      }
    }
  });
  let (l, r) = docs.split_at_mut(mid);
  if l.len() > 4096 {
    rayon::join(
      || recurse(l, n_terms, ptr, terms, depth + 1),
      || recurse(r, n_terms, ptr, terms, depth + 1),
    );
  } else {
    recurse(l, n_terms, ptr, terms, depth + 1);
    recurse(r, n_terms, ptr, terms, depth + 1);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  /// Documents drawn from `clusters` disjoint term ranges, in shuffled order (CSR).
  fn planted(n: usize, clusters: usize, seed: u64) -> (Vec<usize>, Vec<u32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let (mut ptr, mut terms, mut label) = (vec![0usize], Vec::new(), Vec::new());
    for _ in 0..n {
      let c = rng.below(clusters as u64) as usize;
      let mut ts: Vec<u32> = (0..12)
        .map(|_| (c * 50 + rng.below(50) as usize) as u32)
        .collect();
      ts.sort_unstable();
      ts.dedup();
      terms.extend_from_slice(&ts);
      ptr.push(terms.len());
      label.push(c);
    }
    (ptr, terms, label)
  }

  /// Mean number of distinct clusters per run of 16 consecutive documents.
  fn mixing(order: &[u32], label: &[usize]) -> f64 {
    let chunks: Vec<usize> = order
      .chunks(16)
      .map(|c| {
        let mut l: Vec<usize> = c.iter().map(|&d| label[d as usize]).collect();
        l.sort_unstable();
        l.dedup();
        l.len()
      })
      .collect();
    chunks.iter().sum::<usize>() as f64 / chunks.len() as f64
  }

  #[test]
  fn bisection_is_a_deterministic_permutation_that_groups_planted_clusters() {
    let (n, clusters) = (4096, 16);
    let (ptr, terms, label) = planted(n, clusters, 3);
    let order = bisect(n, clusters * 50, &ptr, &terms);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>(), "not a permutation");
    assert_eq!(order, bisect(n, clusters * 50, &ptr, &terms), "not deterministic");
    let identity: Vec<u32> = (0..n as u32).collect();
    let (before, after) = (mixing(&identity, &label), mixing(&order, &label));
    // Shuffled input mixes ~10 of 16 clusters per 16 documents; BP should nearly separate them.
    assert!(before > 8.0, "input already grouped ({before})");
    assert!(
      after < 2.0,
      "BP left {after} clusters per 16 documents (input {before})"
    );
  }
}
