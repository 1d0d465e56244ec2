//! Document reordering by recursive graph bisection (BP; Dhulipala et al. KDD'16, as in PISA):
//! documents sharing terms end up in the same blocks, which tightens block maxima.
//! Deterministic (no randomness: the initial split is the input order).

use std::cell::RefCell;

/// Partitions smaller than this are not split further (about one block).
const MIN_PART: usize = 16;
const ITERATIONS: usize = 8;
const MAX_DEPTH: usize = 40;

thread_local! {
  static DEG: RefCell<(Vec<u32>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
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
  DEG.with(|cell| {
    let mut g = cell.borrow_mut();
    let (dl, dr) = &mut *g;
    if dl.len() < n_terms {
      dl.resize(n_terms, 0);
      dr.resize(n_terms, 0);
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
      let gain = |d: u32, from_left: bool, dl: &[u32], dr: &[u32]| -> f64 {
        let mut s = 0.0;
        for &t in post(d) {
          let (a, b) = (dl[t as usize] as f64, dr[t as usize] as f64);
          let before = cost(a, nl) + cost(b, nr);
          let after = if from_left { cost(a - 1.0, nl) + cost(b + 1.0, nr) } else { cost(a + 1.0, nl) + cost(b - 1.0, nr) };
          s += before - after;
        }
        s
      };
      gains.clear();
      gains.extend(docs[..mid].iter().map(|&d| (gain(d, true, dl, dr), d)));
      let mut right: Vec<(f64, u32)> = docs[mid..].iter().map(|&d| (gain(d, false, dl, dr), d)).collect();
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
      // Clear degrees (only the touched terms).
      for &d in docs.iter() {
        for &t in post(d) {
          dl[t as usize] = 0;
          dr[t as usize] = 0;
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
    rayon::join(|| recurse(l, n_terms, ptr, terms, depth + 1), || recurse(r, n_terms, ptr, terms, depth + 1));
  } else {
    recurse(l, n_terms, ptr, terms, depth + 1);
    recurse(r, n_terms, ptr, terms, depth + 1);
  }
}
