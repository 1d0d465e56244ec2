//! Term-major postings for `BlockIndex` (the BM25 layout): per term its postings in document
//! order, searched block-max term-at-a-time in windows of [`WINDOW_BLOCKS`] blocks.
//!
//! Why: a BM25 block holds ~1,000 term groups of ~1 posting each, so scoring a block of the
//! block-forward layout means searching a cold 4 KB term directory for each query term; at
//! k = 1000 a large share of blocks is scored. Term-at-a-time touches only the query terms'
//! postings, sequentially. Pruning stays block-max: a window's blocks whose bound cannot beat
//! the current k-th score (or the seed / carried floor) are skipped, and each query term's
//! cursor gallops over them, so a window accumulator of 64 blocks (8 KB at block size 32) is
//! the only per-document state a query touches (no O(N) accumulator).
//!
//! Scores are summed per document in ascending term order from 0, exactly as the
//! block-forward scoring does, so both layouts and the exhaustive scan return identical hits.

use super::blocks::Impact;
use crate::topk::TopMax;
use crate::{Error, Result};

/// Blocks per window: the live-block set of a window is one u64 mask.
pub const WINDOW_BLOCKS: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct TermPostings<T: Impact> {
  /// `term_ptr[t]..term_ptr[t+1]`: term t's postings.
  pub term_ptr: Vec<u32>,
  /// Document positions, strictly increasing within a term.
  pub doc: Vec<u32>,
  pub imp: Vec<T>,
}

/// What the windowed search needs besides the postings.
pub struct WindowSearch<'a> {
  pub query: &'a [(u32, f32)],
  pub n_docs: usize,
  pub block_size: usize,
  /// Per-block upper bounds (already slack-inflated); empty for the exhaustive scan.
  pub bounds: &'a [f32],
  /// Seeded lower bound of the k-th score (0 when none).
  pub theta: f32,
  /// Exclusive floor carried from earlier segments (≥ 0).
  pub floor: f32,
  pub alpha: f32,
  pub allowed: Option<&'a [u64]>,
  pub ids: &'a [u32],
}

impl<T: Impact> TermPostings<T> {
  /// Inverts documents given in position order (`doc(i)` = sorted unique terms and impacts).
  pub fn build<'a>(
    n_docs: usize,
    n_terms: usize,
    doc: &impl Fn(usize) -> (&'a [u32], &'a [T]),
  ) -> Result<Self>
  where
    T: 'a,
  {
    let mut term_ptr = vec![0u32; n_terms + 1];
    for d in 0..n_docs {
      for &t in doc(d).0 {
        term_ptr[t as usize + 1] += 1;
      }
    }
    let mut total = 0u64;
    for p in term_ptr.iter_mut() {
      total += *p as u64;
      *p = crate::validate::to_u32(total as usize, "posting count")?;
    }
    let mut fill: Vec<u32> = term_ptr[..n_terms].to_vec();
    let mut docs = vec![0u32; total as usize];
    let mut imps = vec![T::default(); total as usize];
    for d in 0..n_docs {
      let (terms, vals) = doc(d);
      for (&t, &v) in terms.iter().zip(vals) {
        let p = fill[t as usize] as usize;
        docs[p] = d as u32;
        imps[p] = v;
        fill[t as usize] += 1;
      }
    }
    Ok(TermPostings {
      term_ptr,
      doc: docs,
      imp: imps,
    })
  }

  pub fn n_terms(&self) -> usize {
    self.term_ptr.len().saturating_sub(1)
  }

  pub fn range(&self, t: usize) -> std::ops::Range<usize> {
    self.term_ptr[t] as usize..self.term_ptr[t + 1] as usize
  }

  pub fn bytes(&self) -> usize {
    self.term_ptr.len() * 4 + self.doc.len() * 4 + self.imp.len() * std::mem::size_of::<T>()
  }

  /// Checks what the search relies on: pointers monotone and complete, documents strictly
  /// increasing per term and below `n_docs`, impacts valid.
  pub fn validate(&self, n_docs: usize, n_terms: usize) -> Result<()> {
    let bad = |m: &str| Err(Error::corrupt(m.to_string()));
    if self.term_ptr.len() != n_terms + 1
      || self.term_ptr[0] != 0
      || self.term_ptr.windows(2).any(|w| w[0] > w[1])
      || self.term_ptr[n_terms] as usize != self.doc.len()
      || self.imp.len() != self.doc.len()
    {
      return bad("term posting pointers do not match the term and posting counts");
    }
    for t in 0..n_terms {
      let d = &self.doc[self.range(t)];
      if d.windows(2).any(|w| w[0] >= w[1]) || d.last().is_some_and(|&x| x as usize >= n_docs) {
        return bad("a term's postings are unsorted, repeated or out of range");
      }
    }
    if self.imp.iter().any(|v| !v.is_valid()) {
      return bad("negative or non-finite impact");
    }
    Ok(())
  }

  /// Block maxima as (term, block, max) in term order, blocks ascending within a term.
  pub fn block_maxima(&self, block_size: usize) -> Vec<(u32, u32, T)> {
    let mut out = Vec::new();
    for t in 0..self.n_terms() {
      let r = self.range(t);
      let (docs, imps) = (&self.doc[r.clone()], &self.imp[r]);
      let mut i = 0;
      while i < docs.len() {
        let b = docs[i] as usize / block_size;
        let mut m = T::default();
        while i < docs.len() && docs[i] as usize / block_size == b {
          if imps[i] > m {
            m = imps[i];
          }
          i += 1;
        }
        out.push((t as u32, b as u32, m));
      }
    }
    out
  }

  /// Block-max term-at-a-time search into `top` (see the module comment). With empty
  /// `bounds`, every block is scored (the exhaustive scan).
  pub fn search(&self, s: &WindowSearch<'_>, top: &mut TopMax<f32>) {
    let bs = s.block_size;
    let n_blocks = s.n_docs.div_ceil(bs);
    let exhaustive = s.bounds.is_empty();
    let q = s.query;
    let mut cur: Vec<usize> = q.iter().map(|&(t, _)| self.term_ptr[t as usize] as usize).collect();
    let ends: Vec<usize> = q.iter().map(|&(t, _)| self.term_ptr[t as usize + 1] as usize).collect();
    let mut acc = vec![0f32; WINDOW_BLOCKS * bs];
    // A block may hold a document entering the top-k only while this holds (the k-th score
    // only rises, so a block failing it once fails it for good). Strict on the k-th score:
    // a document tying it with a lower id must still get in.
    let live = |u: f32, th: Option<f32>| {
      u > 0.0
        && u >= s.theta
        && s.floor < s.alpha * u
        && th.is_none_or(|th| th <= s.alpha * u)
    };
    for w0 in (0..n_blocks).step_by(WINDOW_BLOCKS) {
      let w1 = (w0 + WINDOW_BLOCKS).min(n_blocks);
      let th = top.threshold();
      let mut mask = 0u64;
      for b in w0..w1 {
        if (exhaustive || live(s.bounds[b], th))
          && s.allowed.is_none_or(|a| block_has_allowed(a, b, bs, s.n_docs))
        {
          mask |= 1 << (b - w0);
        }
      }
      if mask == 0 {
        continue;
      }
      let base = w0 * bs;
      let mut m = mask;
      while m != 0 {
        let (lo, hi) = run(m);
        acc[lo * bs..hi * bs].fill(0.0);
        m = clear_below(m, hi);
      }
      for (i, &(_, w)) in q.iter().enumerate() {
        let (mut c, end) = (cur[i], ends[i]);
        let mut m = mask;
        while m != 0 && c < end {
          let (lo, hi) = run(m);
          let (lo_doc, hi_doc) = ((base + lo * bs) as u32, (base + hi * bs).min(s.n_docs) as u32);
          c = gallop(&self.doc, c, end, lo_doc);
          while c < end && self.doc[c] < hi_doc {
            acc[self.doc[c] as usize - base] += w * self.imp[c].to_f32();
            c += 1;
          }
          m = clear_below(m, hi);
        }
        cur[i] = c;
      }
      let mut m = mask;
      while m != 0 {
        let b = m.trailing_zeros() as usize;
        m &= m - 1;
        if !exhaustive && !live(s.bounds[w0 + b], top.threshold()) {
          continue;
        }
        let lo = base + b * bs;
        let hi = (lo + bs).min(s.n_docs);
        // Most documents of a live block score below the k-th score: compare with a local copy
        // first (a tie still goes to `push`, which orders it by id).
        let mut cut = top.threshold().map_or(s.floor, |th| th.max(s.floor));
        for pos in lo..hi {
          let score = acc[pos - base];
          if score > s.floor && score >= cut {
            if s.allowed.is_some_and(|a| a.get(pos / 64).is_none_or(|x| x >> (pos % 64) & 1 == 0)) {
              continue;
            }
            let id = if s.ids.is_empty() { pos as u32 } else { s.ids[pos] };
            if top.push(score, id) {
              cut = top.threshold().map_or(s.floor, |th| th.max(s.floor));
            }
          }
        }
      }
    }
  }
}

/// The first run of set bits of `m` (≠ 0) as [lo, hi) bit indexes.
#[inline]
fn run(m: u64) -> (usize, usize) {
  let lo = m.trailing_zeros() as usize;
  let len = (!(m >> lo)).trailing_zeros() as usize;
  (lo, lo + len)
}

/// `m` without its bits below `hi`.
#[inline]
fn clear_below(m: u64, hi: usize) -> u64 {
  if hi >= 64 {
    0
  } else {
    m & (!0u64 << hi)
  }
}

/// The first index in `c..end` whose document is ≥ `target` (`end` if none): exponential
/// steps from the cursor, then a binary search, so skipping a few blocks costs a few steps.
#[inline]
fn gallop(doc: &[u32], c: usize, end: usize, target: u32) -> usize {
  if c >= end || doc[c] >= target {
    return c;
  }
  let mut lo = c;
  let mut step = 1;
  while lo + step < end && doc[lo + step] < target {
    lo += step;
    step *= 2;
  }
  let hi = (lo + step).min(end);
  lo + 1 + doc[lo + 1..hi].partition_point(|&d| d < target)
}

#[inline]
fn block_has_allowed(allowed: &[u64], b: usize, bs: usize, n_docs: usize) -> bool {
  let lo = b * bs;
  let hi = (lo + bs).min(n_docs);
  (lo..hi).any(|d| allowed.get(d / 64).is_some_and(|w| w >> (d % 64) & 1 == 1))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn gallop_finds_the_first_document_at_or_after_the_target() {
    let doc: Vec<u32> = (0..500).map(|i| i * 3).collect();
    for c in [0usize, 1, 17, 250, 499, 500] {
      for target in [0u32, 1, 2, 3, 50, 51, 700, 1497, 1498, 5000] {
        let want = c + doc[c..].partition_point(|&d| d < target);
        assert_eq!(gallop(&doc, c, doc.len(), target), want, "c {c} target {target}");
      }
    }
  }

  #[test]
  fn runs_split_a_mask_into_consecutive_bit_ranges() {
    let mut m = 0b1110_0110u64 | (1 << 63);
    let mut got = Vec::new();
    while m != 0 {
      let (lo, hi) = run(m);
      got.push((lo, hi));
      m = clear_below(m, hi);
    }
    assert_eq!(got, vec![(1, 3), (5, 8), (63, 64)]);
    assert_eq!(run(u64::MAX), (0, 64));
  }
}
