//! Exact all-pairs Jaccard join: every pair of shingle sets with J ≥ t, without sketches.
//! The ground truth for evaluating MinHash dedup on real corpora (tests and benchmarks).
//!
//! Prefix filtering (Chaudhuri et al. 2006; Bayardo et al., "AllPairs", 2007) keeps it exact:
//! with tokens sorted by a global order (rarest first), two sets with J(x, y) ≥ t share at
//! least one token among the first |x| − ⌈t·|x|⌉ + 1 tokens of each. Candidates from an
//! inverted index over those prefixes are then verified by a merge of the sorted sets, so the
//! output equals brute force over all pairs (tested against it below).

use super::lsh::check_threshold;
use super::shingle::{for_each_shingle, ShingleOptions};
use crate::{parallel, Result};
use hashbrown::HashMap;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Distinct 64-bit shingle hashes of each text (unsorted order irrelevant).
pub fn shingle_sets<S: AsRef<str> + Sync>(
  texts: &[S],
  opts: &ShingleOptions,
  threads: Option<usize>,
) -> Vec<Vec<u64>> {
  parallel::with_threads(threads, || {
    texts
      .par_iter()
      .map(|t| {
        let mut v = Vec::new();
        for_each_shingle(t.as_ref(), opts, |s| v.push(xxh3_64(s)));
        v.sort_unstable();
        v.dedup();
        v
      })
      .collect()
  })
}

/// Exact Jaccard of two sorted, distinct slices (0 when both are empty).
pub fn exact_jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
  let (mut i, mut j, mut inter) = (0, 0, 0usize);
  while i < a.len() && j < b.len() {
    match a[i].cmp(&b[j]) {
      std::cmp::Ordering::Less => i += 1,
      std::cmp::Ordering::Greater => j += 1,
      std::cmp::Ordering::Equal => {
        inter += 1;
        i += 1;
        j += 1;
      }
    }
  }
  let union = a.len() + b.len() - inter;
  if union == 0 {
    0.0
  } else {
    inter as f64 / union as f64
  }
}

/// Every pair (i < j) of non-empty sets with exact Jaccard ≥ `threshold`, sorted, with J.
/// Sets must be sorted and distinct (as returned by [`shingle_sets`]).
pub fn exact_pairs(
  sets: &[Vec<u64>],
  threshold: f64,
  threads: Option<usize>,
) -> Result<Vec<(u32, u32, f64)>> {
  check_threshold(threshold, "threshold")?;
  crate::validate::to_u32(sets.len(), "number of sets")?;
  // Global order: rarest token first (ties by value), as dense ranks.
  let mut freq: HashMap<u64, u32> = HashMap::new();
  for s in sets {
    for &t in s {
      *freq.entry(t).or_insert(0) += 1;
    }
  }
  let mut order: Vec<(u32, u64)> = freq.iter().map(|(&t, &f)| (f, t)).collect();
  order.sort_unstable();
  let rank: HashMap<u64, u32> = order
    .iter()
    .enumerate()
    .map(|(r, &(_, t))| (t, r as u32))
    .collect();
  let ranked: Vec<Vec<u32>> = sets
    .iter()
    .map(|s| {
      let mut v: Vec<u32> = s.iter().map(|t| rank[t]).collect();
      v.sort_unstable();
      v
    })
    .collect();
  let prefix_len = |n: usize| n - (threshold * n as f64 - 1e-9).ceil() as usize + 1;
  // Inverted index over prefixes.
  let mut index: HashMap<u32, Vec<u32>> = HashMap::new();
  for (d, v) in ranked.iter().enumerate() {
    if v.is_empty() {
      continue;
    }
    for &tok in &v[..prefix_len(v.len()).min(v.len())] {
      index.entry(tok).or_default().push(d as u32);
    }
  }
  let pairs = parallel::with_threads(threads, || {
    (0..ranked.len())
      .into_par_iter()
      .flat_map_iter(|d| {
        let v = &ranked[d];
        let mut cands: Vec<u32> = Vec::new();
        if !v.is_empty() {
          for tok in &v[..prefix_len(v.len()).min(v.len())] {
            if let Some(list) = index.get(tok) {
              cands.extend(list.iter().copied().filter(|&e| (e as usize) > d));
            }
          }
        }
        cands.sort_unstable();
        cands.dedup();
        let (a, b) = (&sets[d], v.len());
        cands
          .into_iter()
          .filter_map(move |e| {
            let o = &sets[e as usize];
            // Size filter: J ≤ min/max.
            let (lo, hi) = (b.min(o.len()) as f64, b.max(o.len()) as f64);
            if lo < threshold * hi - 1e-9 {
              return None;
            }
            let j = exact_jaccard_sorted(a, o);
            (j >= threshold).then_some((d as u32, e, j))
          })
          .collect::<Vec<_>>()
      })
      .collect::<Vec<_>>()
  });
  let mut pairs = pairs;
  pairs.sort_unstable_by_key(|p| (p.0, p.1));
  Ok(pairs)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  #[test]
  fn prefix_filtered_join_equals_brute_force() {
    let mut rng = Rng::new(4);
    // Sets over a small universe with planted near-duplicates, so many pairs sit near t.
    let mut sets: Vec<Vec<u64>> = Vec::new();
    for _ in 0..150 {
      let n = 5 + rng.below(60) as usize;
      let base: Vec<u64> = (0..n).map(|_| rng.below(400)).collect();
      sets.push(base.clone());
      for _ in 0..rng.below(3) {
        let mut c = base.clone();
        for _ in 0..rng.below(6) {
          let i = rng.below(c.len() as u64) as usize;
          c[i] = rng.below(400);
        }
        sets.push(c);
      }
    }
    sets.push(Vec::new());
    for s in &mut sets {
      s.sort_unstable();
      s.dedup();
    }
    for &t in &[0.3, 0.5, 0.8, 0.9] {
      let mut brute = Vec::new();
      for i in 0..sets.len() {
        for j in i + 1..sets.len() {
          let jac = exact_jaccard_sorted(&sets[i], &sets[j]);
          if jac >= t && !sets[i].is_empty() {
            brute.push((i as u32, j as u32, jac));
          }
        }
      }
      assert_eq!(exact_pairs(&sets, t, Some(2)).unwrap(), brute, "t={t}");
      assert!(!brute.is_empty());
    }
  }
}
