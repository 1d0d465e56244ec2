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

  /// The key as a `u32` whose unsigned order is exactly [`Key::cmp_key`]'s, for keys that fit
  /// (`None`: sorted with `cmp_key`). Lets [`TopK::into_sorted`] sort plain integers.
  #[inline]
  fn ordered_bits(&self) -> Option<u32> {
    None
  }

  /// Inverse of [`Key::ordered_bits`] (only called on what it returned).
  #[inline]
  fn from_ordered_bits(_bits: u32) -> Self {
    unreachable!("from_ordered_bits without ordered_bits")
  }
}

impl Key for f32 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.total_cmp(other)
  }
  #[inline]
  fn ordered_bits(&self) -> Option<u32> {
    // IEEE total order as unsigned order: negative values reversed, positive above them.
    let b = self.to_bits();
    Some(if b >> 31 == 1 { !b } else { b | 1 << 31 })
  }
  #[inline]
  fn from_ordered_bits(bits: u32) -> Self {
    f32::from_bits(if bits >> 31 == 1 { bits & !(1 << 31) } else { !bits })
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
  #[inline]
  fn ordered_bits(&self) -> Option<u32> {
    Some(*self)
  }
  #[inline]
  fn from_ordered_bits(bits: u32) -> Self {
    bits
  }
}
impl Key for i32 {
  #[inline]
  fn cmp_key(&self, other: &Self) -> Ordering {
    self.cmp(other)
  }
  #[inline]
  fn ordered_bits(&self) -> Option<u32> {
    Some(self.cast_unsigned() ^ 1 << 31)
  }
  #[inline]
  fn from_ordered_bits(bits: u32) -> Self {
    (bits ^ 1 << 31).cast_signed()
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
///
/// Until `k` entries are held they are appended unordered (a search on a small corpus often
/// never fills a large k, so it pays no heap work); the `k`-th push heapifies them once.
#[derive(Clone, Debug)]
pub struct TopK<K: Key, const LARGER: bool> {
  k: usize,
  /// The entries while fewer than `k` are held (then `heap` is empty).
  filling: Vec<Slot<K, LARGER>>,
  /// The entries once `k` are held, worst on top (then `filling` is empty).
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
      filling: Vec::with_capacity(k.min(4096)),
      heap: BinaryHeap::new(),
    }
  }

  pub fn k(&self) -> usize {
    self.k
  }

  pub fn len(&self) -> usize {
    self.filling.len() + self.heap.len()
  }

  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  pub fn is_full(&self) -> bool {
    self.len() >= self.k
  }

  /// The worst kept score once full: a candidate must beat it to enter.
  #[inline]
  pub fn threshold(&self) -> Option<K> {
    // Full means heapified (k ≥ 1), or k = 0 with nothing held (no threshold to give).
    self.heap.peek().map(|s| s.0.score)
  }

  /// Whether `(score, id)` would enter the heap.
  #[inline]
  pub fn accepts(&self, score: K, id: u32) -> bool {
    if self.k == 0 {
      return false;
    }
    match self.heap.peek() {
      Some(worst) => Slot::<K, LARGER>(Scored { id, score }).worse_cmp(worst) == Ordering::Less,
      None => true,
    }
  }

  /// Offers a candidate; returns whether it was kept.
  #[inline]
  pub fn push(&mut self, score: K, id: u32) -> bool {
    if !self.accepts(score, id) {
      return false;
    }
    let slot = Slot(Scored { id, score });
    if self.heap.is_empty() {
      self.filling.push(slot);
      if self.filling.len() == self.k {
        self.heap = BinaryHeap::from(std::mem::take(&mut self.filling));
      }
    } else if let Some(mut worst) = self.heap.peek_mut() {
      // Replace the evicted worst in place: one sift-down instead of a pop and a push.
      *worst = slot;
    }
    true
  }

  /// Merges another collector (e.g. from a parallel chunk) into this one.
  pub fn merge(&mut self, other: TopK<K, LARGER>) {
    for s in other.filling.into_iter().chain(other.heap) {
      self.push(s.0.score, s.0.id);
    }
  }

  /// Best first, ties by lower id.
  pub fn into_sorted(self) -> Vec<Scored<K>> {
    let mut v: Vec<Slot<K, LARGER>> = if self.heap.is_empty() {
      self.filling
    } else {
      self.heap.into_vec()
    };
    if let Some(packed) = sort_packed(&v) {
      return packed;
    }
    v.sort_unstable();
    v.into_iter().map(|s| s.0).collect()
  }
}

/// Best first, ties by lower id, for keys with [`Key::ordered_bits`]: each entry becomes one
/// `u64` (rank bits above, id below) sorted as a plain integer, several times faster than
/// sorting with the comparator (k = 1000 searches spent a third of their time there).
/// `None` when the key type has no such bits.
fn sort_packed<K: Key, const LARGER: bool>(v: &[Slot<K, LARGER>]) -> Option<Vec<Scored<K>>> {
  let first = v.first()?;
  first.0.score.ordered_bits()?;
  let mut keys: Vec<u64> = v
    .iter()
    .map(|s| {
      let bits = s.0.score.ordered_bits().unwrap_or_default();
      // Best first: ascending bits when smaller is better, descending when larger is.
      let rank = if LARGER { !bits } else { bits };
      (rank as u64) << 32 | s.0.id as u64
    })
    .collect();
  keys.sort_unstable();
  Some(
    keys
      .into_iter()
      .map(|x| {
        let rank = (x >> 32) as u32;
        Scored {
          id: x as u32,
          score: K::from_ordered_bits(if LARGER { !rank } else { rank }),
        }
      })
      .collect(),
  )
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
  fn ordered_bits_follow_the_key_order_and_invert() {
    let mut rng = Rng::new(3);
    let mut floats: Vec<f32> = vec![
      0.0,
      -0.0,
      1.0,
      -1.0,
      f32::INFINITY,
      f32::NEG_INFINITY,
      f32::NAN,
      -f32::NAN,
      f32::MIN_POSITIVE,
      f32::MAX,
      f32::MIN,
    ];
    floats.extend((0..2000).map(|_| f32::from_bits(rng.next_u64() as u32)));
    for &a in &floats {
      assert_eq!(
        f32::from_ordered_bits(a.ordered_bits().unwrap()).to_bits(),
        a.to_bits()
      );
      for &b in floats.iter().take(60) {
        assert_eq!(
          a.ordered_bits().cmp(&b.ordered_bits()),
          a.cmp_key(&b),
          "{a} vs {b}"
        );
      }
    }
    let ints: Vec<i32> = vec![i32::MIN, -1, 0, 1, i32::MAX, 77, -77];
    for &a in &ints {
      assert_eq!(i32::from_ordered_bits(a.ordered_bits().unwrap()), a);
      for &b in &ints {
        assert_eq!(a.ordered_bits().cmp(&b.ordered_bits()), a.cmp_key(&b));
      }
    }
  }

  #[test]
  fn float_scores_sort_like_the_comparator_with_ties_and_signs() {
    // f32 takes the packed sort, f64 the comparator sort: both must equal the brute force.
    let mut rng = Rng::new(4);
    for trial in 0..200 {
      let n = 1 + rng.below(2000) as usize;
      let s32: Vec<f32> = (0..n).map(|_| (rng.below(9) as f32 - 4.0) * 0.25).collect();
      let s64: Vec<f64> = s32.iter().map(|&x| x as f64).collect();
      let k = [1, 10, 1000, n, n + 5][trial % 5];
      let (mut a, mut b, mut c) = (TopMax::new(k), TopMin::new(k), TopMax::new(k));
      let mut order: Vec<usize> = (0..n).collect();
      rng.shuffle(&mut order);
      for &i in &order {
        a.push(s32[i], i as u32);
        b.push(s32[i], i as u32);
        c.push(s64[i], i as u32);
      }
      let (a, b, c) = (a.into_sorted(), b.into_sorted(), c.into_sorted());
      let bits = |v: &[Scored<f32>]| v.iter().map(|h| (h.id, h.score.to_bits())).collect::<Vec<_>>();
      assert_eq!(bits(&a), bits(&brute(&s32, k, true)));
      assert_eq!(bits(&b), bits(&brute(&s32, k, false)));
      assert_eq!(c, brute(&s64, k, true));
    }
  }

  #[test]
  fn threshold_appears_exactly_when_k_entries_are_held() {
    let mut t = TopMax::<f32>::new(3);
    for (i, s) in [5.0f32, 1.0, 3.0].into_iter().enumerate() {
      assert_eq!(t.threshold(), None);
      assert!(!t.is_full());
      assert!(t.push(s, i as u32));
    }
    assert!(t.is_full());
    assert_eq!(t.threshold(), Some(1.0));
    assert!(
      !t.push(1.0, 9),
      "a tie with a higher id than the worst does not enter"
    );
    assert!(t.push(4.0, 9));
    assert_eq!(t.threshold(), Some(3.0));
    assert_eq!(t.len(), 3);
  }

  #[test]
  fn zero_k_keeps_nothing() {
    let mut t = TopMin::<u32>::new(0);
    assert!(!t.push(1, 0));
    assert!(t.into_sorted().is_empty());
  }
}
