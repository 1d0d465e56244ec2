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

use super::above::above_mask;
use super::blocks::Impact;
use super::term_dense::TermDense;
use super::term_windows::TermWindows;
use crate::topk::TopMax;
use crate::{Error, Result};
use std::cell::RefCell;

/// Blocks per window: the live-block set of a window is one u64 mask.
pub const WINDOW_BLOCKS: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct TermPostings<T: Impact> {
  /// `term_ptr[t]..term_ptr[t+1]`: term t's postings.
  pub term_ptr: Vec<u32>,
  /// Document positions, strictly increasing within a term.
  pub doc: Vec<u32>,
  pub imp: Vec<T>,
  /// Derived from the above by [`index_windows`](Self::index_windows); not stored.
  pub windows: TermWindows,
  /// Derived like `windows`: dense impact rows of the head terms.
  pub dense: TermDense,
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
      windows: TermWindows::default(),
      dense: TermDense::default(),
    })
  }

  pub fn n_terms(&self) -> usize {
    self.term_ptr.len().saturating_sub(1)
  }

  pub fn range(&self, t: usize) -> std::ops::Range<usize> {
    self.term_ptr[t] as usize..self.term_ptr[t + 1] as usize
  }

  pub fn bytes(&self) -> usize {
    self.term_ptr.len() * 4
      + self.doc.len() * 4
      + self.imp.len() * std::mem::size_of::<T>()
      + self.windows.bytes()
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

  /// Derives the per-term window tables and head-term rows the search needs (after build or
  /// load).
  pub fn index_windows(&mut self, n_docs: usize, block_size: usize) {
    self.windows = TermWindows::build(&self.term_ptr, &self.doc, n_docs, WINDOW_BLOCKS * block_size);
    let imp = &self.imp;
    let posting_bytes = 4 + std::mem::size_of::<T>();
    self.dense = TermDense::build(
      &self.term_ptr,
      &self.doc,
      |p| imp[p].to_f32(),
      n_docs,
      posting_bytes,
    );
  }

  /// Block-max term-at-a-time search into `top` (see the module comment). With empty
  /// `bounds`, every block is scored in docid order (the exhaustive scan).
  ///
  /// Pruned, the few windows of largest bound (the largest of their blocks' bounds) are visited
  /// first, so the k-th score rises to near its final value, then the rest in docid order,
  /// skipping those whose bound it beats: visited in docid order, the postings are read as
  /// forward streams the hardware prefetches (on Zipf 1M at k = 1000, where most windows stay
  /// live, 1.1× faster than visiting all of them by bound; k = 10 is unchanged). (MaxScore within a window, scanning first only the
  /// terms whose summed maxima can reach the k-th score, was tried: on Zipf 1M its extra pass
  /// cost more than the blocks it pruned, at k = 10 and 1000.)
  #[inline(never)]
  pub fn search(&self, s: &WindowSearch<'_>, top: &mut TopMax<f32>, work: &mut Work) {
    let bs = s.block_size;
    let n_blocks = s.n_docs.div_ceil(bs);
    let n_windows = n_blocks.div_ceil(WINDOW_BLOCKS);
    let exhaustive = s.bounds.is_empty();
    let q = s.query;
    // A block may hold a document entering the top-k only while this holds (the k-th score
    // only rises, so a block failing it once fails it for good). Strict on the k-th score:
    // a document tying it with a lower id must still get in.
    let live = |u: f32, th: Option<f32>| {
      u > 0.0 && u >= s.theta && s.floor < s.alpha * u && th.is_none_or(|th| th <= s.alpha * u)
    };
    // Windows to visit: pruned, those live before any document is scored, the
    // BEST_FIRST_WINDOWS of largest bound first (ties by docid), then the others in docid
    // order; exhaustive, all in docid order.
    let Work { order, window: w } = work;
    order.clear();
    if exhaustive {
      order.extend((0..n_windows).map(|w| (f32::INFINITY, w)));
    } else {
      order.extend(
        s.bounds
          .chunks(WINDOW_BLOCKS)
          .enumerate()
          .map(|(w, b)| (max_bound(b), w))
          .filter(|&(u, _)| live(u, None)),
      );
      order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
      if order.len() > BEST_FIRST_WINDOWS {
        order[BEST_FIRST_WINDOWS..].sort_unstable_by_key(|e| e.1);
      }
    }
    // Reused buffers: `acc` is zeroed per window over the blocks accumulated (see `accumulate`),
    // so its old contents never matter.
    w.acc.resize(WINDOW_BLOCKS * bs, 0.0);
    w.start.resize(q.len(), 0);
    w.stop.resize(q.len(), 0);
    for &(wb, wi) in order.iter() {
      let th = top.threshold();
      if !exhaustive && !live(wb, th) {
        continue;
      }
      let w0 = wi * WINDOW_BLOCKS;
      let w1 = (w0 + WINDOW_BLOCKS).min(n_blocks);
      let mut mask = if exhaustive {
        low_bits(w1 - w0)
      } else if s.alpha == 1.0 {
        // `live` at alpha 1 as one SIMD compare per 8 blocks: u ≥ max(theta, th) and
        // u > max(0, floor) hold exactly when its four conditions do.
        let cut = th.map_or(s.theta, |th| th.max(s.theta));
        above_mask(&s.bounds[w0..w1], cut, s.floor.max(0.0))
      } else {
        (w0..w1).fold(0u64, |m, b| m | (live(s.bounds[b], th) as u64) << (b - w0))
      };
      if let Some(a) = s.allowed {
        let mut m = mask;
        while m != 0 {
          let b = m.trailing_zeros() as usize;
          m &= m - 1;
          if !block_has_allowed(a, w0 + b, bs, s.n_docs) {
            mask &= !(1 << b);
          }
        }
      }
      if mask == 0 {
        continue;
      }
      w.base = w0 * bs;
      for (i, &(t, _)) in q.iter().enumerate() {
        let (lo, hi) = (
          self.term_ptr[t as usize] as usize,
          self.term_ptr[t as usize + 1] as usize,
        );
        w.start[i] = self.windows.start(t, wi, &self.doc, lo, hi);
        w.stop[i] = self.windows.stop(t, wi, hi);
      }
      self.accumulate(s, w, mask);
      let mut m = mask;
      while m != 0 {
        let b = m.trailing_zeros() as usize;
        m &= m - 1;
        if !exhaustive && !live(s.bounds[w0 + b], top.threshold()) {
          continue;
        }
        let lo = w.base + b * bs;
        let hi = (lo + bs).min(s.n_docs);
        // Most documents of a live block score below the k-th score: a SIMD mask of those that
        // reach a local copy of it (a tie still goes to `push`, which orders it by id), then
        // only the marked documents are visited, so no branch per document.
        let mut cut = top.threshold().map_or(s.floor, |th| th.max(s.floor));
        let block = &w.acc[lo - w.base..hi - w.base];
        for (c, chunk) in block.chunks(64).enumerate() {
          let mut hits = above_mask(chunk, cut, s.floor);
          while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            let score = chunk[i];
            if score >= cut && self.offer(s, lo + c * 64 + i, score, top) {
              cut = top.threshold().map_or(s.floor, |th| th.max(s.floor));
            }
          }
        }
      }
    }
  }

  /// Zeroes the window accumulator over the blocks of `mask` and adds `w · impact` of every
  /// query term there, term by term in ascending term order.
  fn accumulate(&self, s: &WindowSearch<'_>, w: &mut Window, mask: u64) {
    let (bs, base) = (s.block_size, w.base);
    let mut m = mask;
    while m != 0 {
      let (lo, hi) = run(m);
      w.acc[lo * bs..hi * bs].fill(0.0);
      m = clear_below(m, hi);
    }
    let runs = count_runs(mask);
    let window_end = (base + WINDOW_BLOCKS * bs).min(s.n_docs) as u32;
    for (i, &(t, wt)) in s.query.iter().enumerate() {
      // A head term: its dense row over each run of live blocks (contiguous adds, the same
      // `acc += w · impact` per document, + 0 where it is absent, so the sums are unchanged).
      if let Some(row) = self.dense.row(t) {
        let row = &row[base..(base + WINDOW_BLOCKS * bs).min(s.n_docs)];
        let mut m = mask;
        while m != 0 {
          let (lo, hi) = run(m);
          let (a, b) = (lo * bs, (hi * bs).min(row.len()));
          for (x, &v) in w.acc[a..b].iter_mut().zip(&row[a..b]) {
            *x += wt * v;
          }
          m = clear_below(m, hi);
        }
        continue;
      }
      let end = w.stop[i];
      let mut c = w.start[i];
      // Few postings per run: add them all rather than seek to each run. Postings in blocks
      // outside the mask land in slots this window never reads (and the next zeroes first).
      if !self.windows.has_table(t) || end - c <= LINEAR_POSTINGS_PER_RUN * runs {
        while c < end && self.doc[c] < window_end {
          w.acc[self.doc[c] as usize - base] += wt * self.imp[c].to_f32();
          c += 1;
        }
        continue;
      }
      self.prefetch_runs(c, end, mask, base, bs);
      let mut m = mask;
      while m != 0 && c < end {
        let (lo, hi) = run(m);
        let (lo_doc, hi_doc) = ((base + lo * bs) as u32, (base + hi * bs).min(s.n_docs) as u32);
        c = seek(&self.doc, c, end, lo_doc);
        while c < end && self.doc[c] < hi_doc {
          w.acc[self.doc[c] as usize - base] += wt * self.imp[c].to_f32();
          c += 1;
        }
        m = clear_below(m, hi);
      }
    }
  }

  /// Offers document `pos` (if allowed) to `top`; returns whether it was kept.
  #[inline]
  fn offer(&self, s: &WindowSearch<'_>, pos: usize, score: f32, top: &mut TopMax<f32>) -> bool {
    if s
      .allowed
      .is_some_and(|a| a.get(pos / 64).is_none_or(|x| x >> (pos % 64) & 1 == 0))
    {
      return false;
    }
    let id = if s.ids.is_empty() { pos as u32 } else { s.ids[pos] };
    top.push(score, id)
  }
}

impl<T: Impact> TermPostings<T> {
  /// Hints the caches to fetch where each run of `mask` starts in postings `c..end` (the
  /// [`seek`] guess): a run is a few cache lines of a cold list, so fetched one after another
  /// they cost a memory latency each; requested together up front, the fetches overlap.
  #[inline]
  fn prefetch_runs(&self, c: usize, end: usize, mask: u64, base: usize, bs: usize) {
    #[cfg(target_arch = "x86_64")]
    {
      use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
      if end <= c + 16 {
        return;
      }
      let (d0, d1) = (self.doc[c] as u64, self.doc[end - 1] as u64);
      let mut m = mask;
      while m != 0 {
        let (lo, hi) = run(m);
        m = clear_below(m, hi);
        let target = (base + lo * bs) as u64;
        if target >= d1 {
          break;
        }
        let g = c + (target.saturating_sub(d0) * (end - 1 - c) as u64 / (d1 - d0).max(1)) as usize;
        let g = g.min(end - 1);
        // SAFETY: prefetch is a hint that never faults, and g < end ≤ the arrays' length.
        unsafe {
          _mm_prefetch(self.doc.as_ptr().add(g) as *const i8, _MM_HINT_T0);
          _mm_prefetch(self.imp.as_ptr().add(g) as *const i8, _MM_HINT_T0);
        }
      }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (c, end, mask, base, bs);
  }
}

/// Buffers a search reuses, one set per thread (see [`with_scratch`]), so a query allocates
/// nothing that grows with the index.
#[derive(Default)]
pub struct Scratch {
  /// Per-block upper bounds of the query.
  pub bounds: Vec<f32>,
  pub work: Work,
}

/// The windowed search's own buffers.
#[derive(Default)]
pub struct Work {
  /// Windows to visit, as (bound, window).
  order: Vec<(f32, usize)>,
  window: Window,
}

thread_local! {
  static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's search buffers (fresh ones if they are already in use).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
  SCRATCH.with(|cell| match cell.try_borrow_mut() {
    Ok(mut scratch) => f(&mut scratch),
    Err(_) => f(&mut Scratch::default()),
  })
}

/// A window's scratch state.
#[derive(Default)]
struct Window {
  /// Scores of the window's documents (offset from `base`), valid over the accumulated blocks.
  acc: Vec<f32>,
  /// Per query term: its first posting in the window.
  start: Vec<usize>,
  /// Per query term: a posting index past its last in the window (the list's end or the
  /// next window's first posting).
  stop: Vec<usize>,
  /// The window's first document.
  base: usize,
}

/// How many windows the pruned search visits by descending bound before it takes the rest in
/// docid order (k = 1000 on Zipf 1M: 4, 8 and 16 within 2% of each other).
const BEST_FIRST_WINDOWS: usize = 8;

/// A window's term adds all its postings there, instead of seeking to each run of live blocks,
/// while it has at most this many per run: a seek costs a few dependent probes (~10–20 ns), an
/// add ~1 ns. Lists without a window table average fewer than 8 postings per window (see
/// `term_windows`) and are always added.
const LINEAR_POSTINGS_PER_RUN: usize = 16;

/// The largest of `bounds` (finite, ≥ 0), 0 when empty: eight lanes, so the compiler turns
/// the per-lane compare-select into vector max instructions (a single running max cannot be
/// vectorised without reordering, which NaN rules forbid it to assume is harmless).
#[inline]
fn max_bound(bounds: &[f32]) -> f32 {
  let mut lanes = [0f32; 8];
  let chunks = bounds.chunks_exact(8);
  let rest = chunks.remainder();
  for c in chunks {
    for (m, &u) in lanes.iter_mut().zip(c) {
      *m = if u > *m { u } else { *m };
    }
  }
  rest
    .iter()
    .chain(&lanes)
    .fold(0f32, |m, &u| if u > m { u } else { m })
}

/// A mask of the low `n` bits (`n` ≤ 64).
#[inline]
fn low_bits(n: usize) -> u64 {
  if n >= 64 {
    !0
  } else {
    (1u64 << n) - 1
  }
}

/// How many runs of consecutive set bits `m` has.
#[inline]
fn count_runs(m: u64) -> usize {
  (m & !(m << 1)).count_ones() as usize
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

/// [`gallop`] for long lists: the first index in `c..end` whose document is ≥ `target`,
/// probing first where the target would be if the postings were spread evenly between
/// `doc[c]` and `doc[end - 1]`, then galloping forward or back from there. A BM25 head term's
/// postings are spread so, and the probe lands within a cache line of the answer, where
/// galloping from `c` takes ~2·log2(distance) dependent steps, each a likely cache miss.
/// Exact for any spread (only the first probe is a guess).
#[inline]
fn seek(doc: &[u32], c: usize, end: usize, target: u32) -> usize {
  if c >= end || doc[c] >= target {
    return c;
  }
  if end - c <= 16 {
    return gallop(doc, c, end, target);
  }
  let (d0, d1) = (doc[c], doc[end - 1]);
  if d1 < target {
    return end;
  }
  // doc[c] < target ≤ d1, so d1 > d0 and the guess is in c..end.
  let g = c + ((target - d0) as u64 * (end - 1 - c) as u64 / (d1 - d0) as u64) as usize;
  if doc[g] < target {
    return gallop(doc, g, end, target);
  }
  // doc[c] < target ≤ doc[g]: step back from g until below the target, then binary search.
  let (mut hi, mut step) = (g, 1);
  while hi - c > step && doc[hi - step] >= target {
    hi -= step;
    step *= 2;
  }
  let lo = hi.saturating_sub(step).max(c);
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
  fn seek_equals_a_binary_search_on_even_and_skewed_lists() {
    let even: Vec<u32> = (0..2000).map(|i| i * 3 + (i % 2)).collect();
    let skewed: Vec<u32> = (0..2000u32)
      .map(|i| if i < 1500 { i } else { 100_000 + i * i })
      .collect();
    for doc in [&even, &skewed] {
      for c in [0usize, 1, 17, 900, 1499, 1500, 1999, 2000] {
        for end in [c, c + 1, c + 16, c + 17, 1600, 2000] {
          let end = end.min(doc.len());
          for target in [
            0u32, 1, 2, 3, 50, 51, 1499, 1500, 2000, 5000, 100_000, 2_000_000, 4_200_000, 5_000_000,
          ] {
            let want = (c + doc[c.min(end)..end].partition_point(|&d| d < target)).max(c);
            assert_eq!(seek(doc, c, end, target), want, "c {c} end {end} target {target}");
          }
        }
      }
    }
  }

  #[test]
  fn max_bound_equals_a_running_max() {
    for n in [0usize, 1, 7, 8, 9, 63, 64] {
      let xs: Vec<f32> = (0..n).map(|i| ((i * 37 + 11) % 23) as f32 * 0.25).collect();
      assert_eq!(max_bound(&xs), xs.iter().fold(0f32, |m, &u| m.max(u)), "n {n}");
    }
    assert_eq!(low_bits(0), 0);
    assert_eq!(low_bits(3), 0b111);
    assert_eq!(low_bits(64), u64::MAX);
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
