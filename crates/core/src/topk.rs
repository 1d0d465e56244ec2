//! Bounded top-k selection shared by every index.
//!
//! Order is total and deterministic: better score first, and on equal scores the lower
//! internal id first (internal ids follow insertion order, so ties resolve by insertion).
//! [`TopMax`] keeps the largest scores (similarities), [`TopMin`] the smallest (distances).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A totally ordered score. Floats use IEEE total order; the indexes reject NaN on input.
pub trait Key: Copy + std::fmt::Debug {
  fn cmp_key(&self, other: &Self) -> Ordering;
}

impl Key for f32 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.total_cmp(other)
  }
}
impl Key for f64 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.total_cmp(other)
  }
}
impl Key for u32 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.cmp(other)
  }
}
impl Key for i32 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.cmp(other)
  }
}
impl Key for u64 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.cmp(other)
  }
}

/// One result: an internal id and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored<K> {
  pub id: u32,
  pub score: K,
}

/// A heap slot ordered so that the *worst* kept entry is at the top of std's max-heap.
#[derive(Clone, Copy, Debug)]
struct Slot<K: Key, const LARGER: bool>(Scored<K>);

impl<K: Key, const LARGER: bool> Slot<K, LARGER> {
  /// `Greater` means "worse": evicted first.
  #[inline]
  fn worse_cmp(&self, other: &Self) -> Ordering {
    let by_score = self.0.score.cmp_key(&other.0.score);
    let by_score = if LARGER { by_score.reverse() } else { by_score };
    by_score.then(self.0.id.cmp(&other.0.id))
  }
}
impl<K: Key, const L: bool> PartialEq for Slot<K, L> {
  fn eq(&self, other: &Self) -> bool {
    self.worse_cmp(other) == Ordering::Equal
  }
}
impl<K: Key, const L: bool> Eq for Slot<K, L> {}
impl<K: Key, const L: bool> PartialOrd for Slot<K, L> {
  fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
    Some(self.cmp(other))
  }
}
impl<K: Key, const L: bool> Ord for Slot<K, L> {
  fn cmp(&self, other: &Self) -> Ordering {
    self.worse_cmp(other)
  }
}

/// Keeps the best `k` of the scores pushed into it.
#[derive(Clone, Debug)]
pub struct TopK<K: Key, const LARGER: bool> {
  k: usize,
  heap: BinaryHeap<Slot<K, LARGER>>,
}

/// Largest scores first (similarities).
pub type TopMax<K> = TopK<K, true>;
/// Smallest scores first (distances).
pub type TopMin<K> = TopK<K, false>;

impl<K: Key, const LARGER: bool> TopK<K, LARGER> {
  pub fn new(k: usize) -> Self {
    // Do not trust k for the allocation: k may be huge (k > N is allowed).
    TopK {
      k,
      heap: BinaryHeap::with_capacity(k.min(4096) + 1),
    }
  }

  pub fn k(&self) -> usize {
    self.k
  }

  pub fn len(&self) -> usize {
    self.heap.len()
  }

  pub fn is_empty(&self) -> bool {
    self.heap.is_empty()
  }

  pub fn is_full(&self) -> bool {
    self.heap.len() >= self.k
  }

  /// The worst kept score once full: a candidate must beat it to enter.
  #[inline]
  pub fn threshold(&self) -> Option<K> {
    if self.is_full() {
      self.heap.peek().map(|s| s.0.score)
    } else {
      None
    }
  }

  /// Whether `(score, id)` would enter the heap.
  #[inline]
  pub fn accepts(&self, score: K, id: u32) -> bool {
    if self.k == 0 {
      return false;
    }
    match self.heap.peek() {
      Some(worst) if self.heap.len() >= self.k => {
        Slot::<K, LARGER>(Scored { id, score }).worse_cmp(worst) == Ordering::Less
      }
      _ => true,
    }
  }

  /// Offers a candidate; returns whether it was kept.
  #[inline]
  pub fn push(&mut self, score: K, id: u32) -> bool {
    if !self.accepts(score, id) {
      return false;
    }
    if self.heap.len() >= self.k {
      self.heap.pop();
    }
    self.heap.push(Slot(Scored { id, score }));
    true
  }

  /// Merges another collector (e.g. from a parallel chunk) into this one.
  pub fn merge(&mut self, other: TopK<K, LARGER>) {
    for s in other.heap {
      self.push(s.0.score, s.0.id);
    }
  }

  /// Best first, ties by lower id.
  pub fn into_sorted(self) -> Vec<Scored<K>> {
    let mut v: Vec<Slot<K, LARGER>> = self.heap.into_vec();
    v.sort_unstable();
    v.into_iter().map(|s| s.0).collect()
  }
}

/// Sorts hits best first with the same tie-break as [`TopK`] (used after rescoring).
pub fn sort_hits<K: Key>(hits: &mut [Scored<K>], larger_is_better: bool) {
  hits.sort_unstable_by(|a, b| {
    let c = a.score.cmp_key(&b.score);
    let c = if larger_is_better { c.reverse() } else { c };
    c.then(a.id.cmp(&b.id))
  });
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  fn brute<K: Key>(scores: &[K], k: usize, larger: bool) -> Vec<Scored<K>> {
    let mut all: Vec<Scored<K>> = scores
      .iter()
      .enumerate()
      .map(|(i, &s)| Scored {
        id: i as u32,
        score: s,
      })
      .collect();
    sort_hits(&mut all, larger);
    all.truncate(k);
    all
  }

  #[test]
  fn equals_full_sort_with_ties_in_both_directions() {
    let mut rng = Rng::new(1);
    for trial in 0..200 {
      let n = 1 + rng.below(300) as usize;
      // Few distinct values so ties are everywhere.
      let scores: Vec<u32> = (0..n).map(|_| rng.below(7) as u32).collect();
      let k = [1, 2, 5, n, n + 3][trial % 5];
      let mut max = TopMax::new(k);
      let mut min = TopMin::new(k);
      // Push in a shuffled order: the result must not depend on arrival order.
      let mut order: Vec<usize> = (0..n).collect();
      rng.shuffle(&mut order);
      for &i in &order {
        max.push(scores[i], i as u32);
        min.push(scores[i], i as u32);
      }
      assert_eq!(max.into_sorted(), brute(&scores, k, true));
      assert_eq!(min.into_sorted(), brute(&scores, k, false));
    }
  }

  #[test]
  fn merge_of_chunks_equals_single_pass() {
    let mut rng = Rng::new(2);
    let scores: Vec<f32> = (0..1000).map(|_| (rng.below(50) as f32) * 0.5).collect();
    let mut a = TopMax::new(17);
    let mut b = TopMax::new(17);
    for (i, &s) in scores.iter().enumerate() {
      if i % 3 == 0 {
        a.push(s, i as u32);
      } else {
        b.push(s, i as u32);
      }
    }
    a.merge(b);
    assert_eq!(a.into_sorted(), brute(&scores, 17, true));
  }

  #[test]
  fn zero_k_keeps_nothing() {
    let mut t = TopMin::<u32>::new(0);
    assert!(!t.push(1, 0));
    assert!(t.into_sorted().is_empty());
  }
}
