//! The block index shared by `SparseIndex` (u8 learned impacts) and `BM25Index` (f32 eager
//! BM25 impacts), and the Block-Max Pruning search over it (Mallia et al., SIGIR'24).
//!
//! Layout (flat arrays only, so it serialises as a few sections and never holds nested Vecs):
//! - forward index per block of `block_size` consecutive doc positions, grouped by term:
//!   `block_ptr[b]..block_ptr[b+1]` are the block's groups, `group_term[g]` its term (sorted),
//!   `group_ptr[g]..group_ptr[g+1]` its postings `(post_off: u8 offset in block, post_imp: T)`;
//! - block maxima per term, quantised to u8 with `bm_scale` (real bound = byte · bm_scale, rounded
//!   up so it is never below a true impact): a dense row of one byte per block for terms present in
//!   ≥ 1/5 of the blocks, else sparse `(block u32, max u8)` pairs;
//! - per term the 10th/100th/1000th largest impact, to seed the top-k threshold.
//!
//! Search returns only documents with a positive score (documents sharing no term with the
//! query are not matches), ranked by score, ties by lower internal id.

use super::term_major::{self, Scratch, TermPostings, WindowSearch};
use super::ub;
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, FromLeBytes, ToLeBytes};
use crate::topk::{Scored, TopMax};
use crate::{Error, Result};

/// A stored impact: u8 (learned sparse, quantised) or f32 (BM25, exact).
pub trait Impact:
  Copy + Default + PartialOrd + Send + Sync + ToLeBytes + FromLeBytes + std::fmt::Debug
{
  fn to_f32(self) -> f32;
  /// The scale that maps a byte to a real block-max bound for a list whose largest impact is `max`.
  fn bm_scale(max: f32) -> f32;
  /// The smallest byte whose bound `byte · scale` is ≥ `v`.
  fn bm_byte(v: Self, scale: f32) -> u8;
  fn is_valid(self) -> bool;
}

impl Impact for u8 {
  #[inline]
  fn to_f32(self) -> f32 {
    self as f32
  }
  fn bm_scale(_: f32) -> f32 {
    1.0
  }
  #[inline]
  fn bm_byte(v: u8, _: f32) -> u8 {
    v
  }
  fn is_valid(self) -> bool {
    true
  }
}

impl Impact for f32 {
  #[inline]
  fn to_f32(self) -> f32 {
    self
  }
  fn bm_scale(max: f32) -> f32 {
    if max > 0.0 {
      // Slightly above max/255 so that 255 · scale ≥ max despite rounding.
      max / 255.0 * (1.0 + 1e-6)
    } else {
      1.0
    }
  }
  #[inline]
  fn bm_byte(v: f32, scale: f32) -> u8 {
    let mut q = (v / scale).ceil().clamp(0.0, 255.0) as u8;
    while q < 255 && (q as f32) * scale < v {
      q += 1;
    }
    q
  }
  fn is_valid(self) -> bool {
    self.is_finite() && self >= 0.0
  }
}

/// Relative slack on block bounds: bounds and scores are summed in different orders, so a
/// bound is inflated by this much before being compared with a score (keeps alpha = 1 exact).
const BOUND_SLACK: f32 = 1e-5;

/// Search knobs. `alpha = 1, beta = 1` is safe (identical to an exhaustive scan).
#[derive(Clone, Copy, Debug)]
pub struct SearchParams {
  /// Stop when the k-th score exceeds `alpha` × the next block's bound; (0, 1], default 1.
  pub alpha: f32,
  /// Keep the ceil(beta · |q|) heaviest query terms; (0, 1], default 1.
  pub beta: f32,
  /// Scan every block instead (no pruning): the verification and benchmark baseline.
  pub exhaustive: bool,
}

impl Default for SearchParams {
  fn default() -> Self {
    SearchParams {
      alpha: 1.0,
      beta: 1.0,
      exhaustive: false,
    }
  }
}

impl SearchParams {
  pub fn validate(&self) -> Result<()> {
    if !(self.alpha > 0.0 && self.alpha <= 1.0) {
      return Err(Error::InvalidArg(format!(
        "alpha must be in (0, 1] (got {})",
        self.alpha
      )));
    }
    if !(self.beta > 0.0 && self.beta <= 1.0) {
      return Err(Error::InvalidArg(format!(
        "beta must be in (0, 1] (got {})",
        self.beta
      )));
    }
    Ok(())
  }
}

const NO_SLOT: u32 = u32::MAX;

/// A block is scored by binary searches (one per query term) instead of a linear merge when it
/// holds more than this many term groups per query term (a search costs ~log2(groups) steps).
const GALLOP_RATIO: usize = 8;

#[derive(Clone, Debug)]
pub struct BlockIndex<T: Impact> {
  n_docs: u32,
  n_terms: u32,
  block_size: u32,
  block_ptr: Vec<u32>,
  group_term: Vec<u32>,
  group_ptr: Vec<u32>,
  post_off: Vec<u8>,
  post_imp: Vec<T>,
  bm_scale: f32,
  dense_slot: Vec<u32>,
  bm_dense: Vec<u8>,
  bm_ptr: Vec<u32>,
  bm_block: Vec<u32>,
  bm_val: Vec<u8>,
  /// 3 per term: 10th, 100th, 1000th largest impact (0 when the list is shorter).
  kth: Vec<T>,
  /// The term-major layout (BM25): when set it holds every posting and the block-forward
  /// arrays above (`block_ptr` … `post_imp`) are empty.
  by_term: Option<TermPostings<T>>,
}

/// A document's postings, sorted by term id, terms unique.
pub type DocPostings<'a, T> = (&'a [u32], &'a [T]);

impl<T: Impact> BlockIndex<T> {
  /// Builds from documents in their final (possibly reordered) position order.
  /// `doc(i)` returns document i's postings sorted by unique term id, all terms < n_terms.
  pub fn build<'a>(
    n_docs: usize,
    n_terms: usize,
    block_size: usize,
    doc: impl Fn(usize) -> DocPostings<'a, T>,
  ) -> Result<Self>
  where
    T: 'a,
  {
    let (n_docs_u32, n_terms_u32) = check_shape(n_docs, n_terms, block_size)?;
    let n_blocks = n_docs.div_ceil(block_size);
    let mut block_ptr = Vec::with_capacity(n_blocks + 1);
    let mut group_term = Vec::new();
    let mut group_ptr = vec![0u32];
    let mut post_off = Vec::new();
    let mut post_imp: Vec<T> = Vec::new();
    // (term, block, max) triples, collected block by block (so blocks ascend within a term).
    let mut maxima: Vec<(u32, u32, T)> = Vec::new();
    let mut entries: Vec<(u32, u8, T)> = Vec::new();
    block_ptr.push(0u32);
    for b in 0..n_blocks {
      entries.clear();
      let lo = b * block_size;
      let hi = (lo + block_size).min(n_docs);
      for d in lo..hi {
        let (terms, imps) = doc(d);
        for (&t, &v) in terms.iter().zip(imps) {
          entries.push((t, (d - lo) as u8, v));
        }
      }
      entries.sort_unstable_by_key(|e| (e.0, e.1));
      let mut i = 0;
      while i < entries.len() {
        let t = entries[i].0;
        let mut m = T::default();
        while i < entries.len() && entries[i].0 == t {
          post_off.push(entries[i].1);
          post_imp.push(entries[i].2);
          if entries[i].2 > m {
            m = entries[i].2;
          }
          i += 1;
        }
        group_term.push(t);
        group_ptr.push(crate::validate::to_u32(post_off.len(), "posting count")?);
        maxima.push((t, b as u32, m));
      }
      block_ptr.push(crate::validate::to_u32(group_term.len(), "group count")?);
    }
    let kth = kth_impacts(n_terms, &group_term, &group_ptr, &post_imp);
    let mut idx = BlockIndex {
      n_docs: n_docs_u32,
      n_terms: n_terms_u32,
      block_size: block_size as u32,
      block_ptr,
      group_term,
      group_ptr,
      post_off,
      post_imp,
      bm_scale: 1.0,
      dense_slot: Vec::new(),
      bm_dense: Vec::new(),
      bm_ptr: Vec::new(),
      bm_block: Vec::new(),
      bm_val: Vec::new(),
      kth,
      by_term: None,
    };
    idx.set_block_maxima(&maxima);
    Ok(idx)
  }

  /// Builds the term-major layout (see [`super::term_major`]): the same block maxima and
  /// seeds as [`build`](Self::build), postings inverted per term.
  pub fn build_term_major<'a>(
    n_docs: usize,
    n_terms: usize,
    block_size: usize,
    doc: impl Fn(usize) -> DocPostings<'a, T>,
  ) -> Result<Self>
  where
    T: 'a,
  {
    let (n_docs_u32, n_terms_u32) = check_shape(n_docs, n_terms, block_size)?;
    let mut tp = TermPostings::build(n_docs, n_terms, &doc)?;
    tp.index_windows(n_docs, block_size);
    let maxima = tp.block_maxima(block_size);
    let kth = kth_of_lists(n_terms, |t| &tp.imp[tp.range(t)]);
    let mut idx = BlockIndex {
      n_docs: n_docs_u32,
      n_terms: n_terms_u32,
      block_size: block_size as u32,
      block_ptr: Vec::new(),
      group_term: Vec::new(),
      group_ptr: vec![0],
      post_off: Vec::new(),
      post_imp: Vec::new(),
      bm_scale: 1.0,
      dense_slot: Vec::new(),
      bm_dense: Vec::new(),
      bm_ptr: Vec::new(),
      bm_block: Vec::new(),
      bm_val: Vec::new(),
      kth,
      by_term: Some(tp),
    };
    idx.set_block_maxima(&maxima);
    Ok(idx)
  }

  /// Whether the postings are term-major (the BM25 layout).
  pub fn is_term_major(&self) -> bool {
    self.by_term.is_some()
  }

  /// Fills the block-max structure from (term, block, max) triples, blocks ascending within
  /// a term (both layouts' builders produce them so).
  fn set_block_maxima(&mut self, maxima: &[(u32, u32, T)]) {
    let (n_terms, n_blocks) = (self.n_terms as usize, self.n_blocks());
    let mut term_blocks = vec![0u32; n_terms];
    let mut global_max = 0f32;
    for &(t, _, m) in maxima {
      term_blocks[t as usize] += 1;
      global_max = global_max.max(m.to_f32());
    }
    let bm_scale = T::bm_scale(global_max);
    // Dense rows for frequent terms, sparse pairs for the rest.
    let mut dense_slot = vec![NO_SLOT; n_terms];
    let mut slots = 0u32;
    let mut bm_ptr = vec![0u32; n_terms + 1];
    for t in 0..n_terms {
      let nb = term_blocks[t] as usize;
      if nb > 0 && nb * 5 >= n_blocks {
        dense_slot[t] = slots;
        slots += 1;
        bm_ptr[t + 1] = bm_ptr[t];
      } else {
        bm_ptr[t + 1] = bm_ptr[t] + nb as u32;
      }
    }
    let mut bm_dense = vec![0u8; slots as usize * n_blocks];
    let sparse_total = bm_ptr[n_terms] as usize;
    let mut bm_block = vec![0u32; sparse_total];
    let mut bm_val = vec![0u8; sparse_total];
    let mut fill: Vec<u32> = bm_ptr[..n_terms].to_vec();
    for &(t, b, m) in maxima {
      let byte = T::bm_byte(m, bm_scale);
      let slot = dense_slot[t as usize];
      if slot != NO_SLOT {
        bm_dense[slot as usize * n_blocks + b as usize] = byte;
      } else {
        let p = fill[t as usize] as usize;
        bm_block[p] = b;
        bm_val[p] = byte;
        fill[t as usize] += 1;
      }
    }
    self.bm_scale = bm_scale;
    self.dense_slot = dense_slot;
    self.bm_dense = bm_dense;
    self.bm_ptr = bm_ptr;
    self.bm_block = bm_block;
    self.bm_val = bm_val;
  }

  pub fn n_docs(&self) -> usize {
    self.n_docs as usize
  }
  pub fn n_terms(&self) -> usize {
    self.n_terms as usize
  }
  pub fn block_size(&self) -> usize {
    self.block_size as usize
  }
  pub fn n_blocks(&self) -> usize {
    (self.n_docs as usize).div_ceil(self.block_size as usize)
  }
  pub fn n_postings(&self) -> usize {
    match &self.by_term {
      Some(tp) => tp.doc.len(),
      None => self.post_off.len(),
    }
  }
  /// Term groups in block `b` (tests use it to pick queries for both scoring paths).
  pub fn groups_in_block(&self, b: usize) -> usize {
    (self.block_ptr[b + 1] - self.block_ptr[b]) as usize
  }
  /// Whether a block of `groups` term groups is scored by binary searches for `query_terms` terms.
  pub fn scores_by_search(groups: usize, query_terms: usize) -> bool {
    groups > GALLOP_RATIO * query_terms
  }

  /// Postings of every document, as (position, term, impact) in block order (for export/rebuild).
  /// Term-major indexes visit term by term instead (each document's terms still ascend).
  pub fn for_each_posting(&self, mut f: impl FnMut(usize, u32, T)) {
    if let Some(tp) = &self.by_term {
      for t in 0..tp.n_terms() {
        for p in tp.range(t) {
          f(tp.doc[p] as usize, t as u32, tp.imp[p]);
        }
      }
      return;
    }
    let bs = self.block_size as usize;
    for b in 0..self.n_blocks() {
      for g in self.block_ptr[b] as usize..self.block_ptr[b + 1] as usize {
        for p in self.group_ptr[g] as usize..self.group_ptr[g + 1] as usize {
          f(
            b * bs + self.post_off[p] as usize,
            self.group_term[g],
            self.post_imp[p],
          );
        }
      }
    }
  }

  /// The components [`memory_usage`](Self::memory_usage) lists for each layout.
  pub const FORWARD_COMPONENTS: [&'static str; 4] =
    ["forward", "blockMaxDense", "blockMaxSparse", "kthImpacts"];
  pub const TERM_MAJOR_COMPONENTS: [&'static str; 5] = [
    "postings",
    "blockMaxDense",
    "blockMaxSparse",
    "kthImpacts",
    "headRows",
  ];

  /// Bytes by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let postings = match &self.by_term {
      Some(tp) => ("postings", tp.bytes()),
      None => (
        "forward",
        self.block_ptr.len() * 4
          + self.group_term.len() * 4
          + self.group_ptr.len() * 4
          + self.post_off.len()
          + self.post_imp.len() * std::mem::size_of::<T>(),
      ),
    };
    let mut v = vec![
      postings,
      ("blockMaxDense", self.bm_dense.len() + self.dense_slot.len() * 4),
      (
        "blockMaxSparse",
        self.bm_ptr.len() * 4 + self.bm_block.len() * 4 + self.bm_val.len(),
      ),
      ("kthImpacts", self.kth.len() * std::mem::size_of::<T>()),
    ];
    if let Some(tp) = &self.by_term {
      v.push(("headRows", tp.dense.bytes()));
    }
    v
  }

  /// Top `k` for `query` = (term, weight) pairs, terms sorted and unique, weights > 0 and finite
  /// (checked by the callers). `allowed`: a bitset over doc positions (a filter), or none.
  /// `ids[pos]` maps positions to internal ids for the tie-break (identity when empty).
  /// Returned ids are internal ids.
  pub fn search(
    &self,
    query: &[(u32, f32)],
    k: usize,
    params: &SearchParams,
    allowed: Option<&[u64]>,
    ids: &[u32],
  ) -> Vec<Scored<f32>> {
    self.search_above(query, k, params, allowed, ids, 0.0)
  }

  /// [`search`](Self::search) keeping only documents that score strictly above `floor` (≥ 0):
  /// the k-th score already found in earlier segments, whose documents all have lower ids, so a
  /// document of this segment that only ties it can never enter the merged top-k. Blocks whose
  /// bound does not exceed `floor` are skipped and the search stops once `floor` reaches
  /// alpha × the next block's bound, exactly like its own k-th score. `floor = 0` is `search`.
  pub fn search_above(
    &self,
    query: &[(u32, f32)],
    k: usize,
    params: &SearchParams,
    allowed: Option<&[u64]>,
    ids: &[u32],
    floor: f32,
  ) -> Vec<Scored<f32>> {
    let floor = if floor > 0.0 { floor } else { 0.0 };
    let mut q: Vec<(u32, f32)> = query
      .iter()
      .copied()
      .filter(|&(t, w)| t < self.n_terms && w > 0.0)
      .collect();
    if params.beta < 1.0 && !q.is_empty() {
      let keep = ((q.len() as f64 * params.beta as f64).ceil() as usize).clamp(1, q.len());
      q.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
      q.truncate(keep);
      q.sort_by_key(|e| e.0);
    }
    let n_blocks = self.n_blocks();
    let mut top = TopMax::<f32>::new(k);
    if q.is_empty() || n_blocks == 0 || k == 0 {
      return top.into_sorted();
    }
    if let Some(tp) = &self.by_term {
      return term_major::with_scratch(|scratch| {
        let Scratch { bounds, work } = scratch;
        bounds.clear();
        if !params.exhaustive {
          self.block_bounds_into(&q, bounds);
          for x in bounds.iter_mut() {
            *x *= 1.0 + BOUND_SLACK;
          }
        }
        let theta = if params.exhaustive {
          0.0
        } else {
          self.seed_threshold(&q, k, allowed)
        };
        let s = WindowSearch {
          query: &q,
          n_docs: self.n_docs as usize,
          block_size: self.block_size as usize,
          bounds,
          theta,
          floor,
          alpha: params.alpha,
          allowed,
          ids,
        };
        tp.search(&s, &mut top, work);
        top.into_sorted()
      });
    }
    let mut acc = vec![0f32; self.block_size as usize];
    if params.exhaustive {
      for b in 0..n_blocks {
        if b + 1 < n_blocks {
          self.prefetch(b + 1);
        }
        self.score_block(b, &q, &mut acc, allowed, ids, floor, &mut top);
      }
      return top.into_sorted();
    }
    // 1. Block upper bounds; 2. the threshold seed.
    let ubs = self.block_bounds(&q);
    let theta = self.seed_threshold(&q, k, allowed);
    self.search_forward(&q, params, allowed, ids, floor, ubs, theta, top)
  }

  /// Upper bound of every block's scores for `q` (before the slack).
  fn block_bounds(&self, q: &[(u32, f32)]) -> Vec<f32> {
    let mut ubs = Vec::new();
    self.block_bounds_into(q, &mut ubs);
    ubs
  }

  /// [`block_bounds`](Self::block_bounds) into a reused buffer (its old contents are dropped).
  fn block_bounds_into(&self, q: &[(u32, f32)], ubs: &mut Vec<f32>) {
    let n_blocks = self.n_blocks();
    ubs.clear();
    ubs.resize(n_blocks, 0.0);
    for &(t, w) in q {
      let ws = w * self.bm_scale;
      let slot = self.dense_slot[t as usize];
      if slot != NO_SLOT {
        let row = &self.bm_dense[slot as usize * n_blocks..(slot as usize + 1) * n_blocks];
        ub::add_scaled_u8(ubs, row, ws);
      } else {
        let (lo, hi) = (
          self.bm_ptr[t as usize] as usize,
          self.bm_ptr[t as usize + 1] as usize,
        );
        for (&b, &m) in self.bm_block[lo..hi].iter().zip(&self.bm_val[lo..hi]) {
          ubs[b as usize] += ws * m as f32;
        }
      }
    }
  }

  /// The largest per-term k-th impact × weight: a safe lower bound of the k-th score (none under
  /// a filter: the k documents behind the estimate may not be allowed).
  fn seed_threshold(&self, q: &[(u32, f32)], k: usize, allowed: Option<&[u64]>) -> f32 {
    let mut theta = 0f32;
    if allowed.is_none() {
      let col = if k <= 10 {
        Some(0)
      } else if k <= 100 {
        Some(1)
      } else if k <= 1000 {
        Some(2)
      } else {
        None
      };
      if let Some(c) = col {
        for &(t, w) in q {
          theta = theta.max(w * self.kth[t as usize * 3 + c].to_f32());
        }
      }
    }
    theta
  }

  /// Search, continued: the block-forward layout's candidates and best-first scoring.
  #[allow(clippy::too_many_arguments)]
  fn search_forward(
    &self,
    q: &[(u32, f32)],
    params: &SearchParams,
    allowed: Option<&[u64]>,
    ids: &[u32],
    floor: f32,
    ubs: Vec<f32>,
    theta: f32,
    mut top: TopMax<f32>,
  ) -> Vec<Scored<f32>> {
    let mut acc = vec![0f32; self.block_size as usize];
    // 3. Candidate blocks (bound ≥ seed, bound > 0, at least one allowed doc), bucketed by bound.
    let bound = |u: f32| u * (1.0 + BOUND_SLACK);
    let mut max_ub = 0f32;
    let mut cands: Vec<(f32, u32)> = Vec::new();
    for (b, &u) in ubs.iter().enumerate() {
      if u > 0.0
        && bound(u) >= theta
        && bound(u) > floor
        && allowed.is_none_or(|a| self.block_has_allowed(b, a))
      {
        cands.push((u, b as u32));
        max_ub = max_ub.max(u);
      }
    }
    drop(ubs);
    if cands.is_empty() {
      return top.into_sorted();
    }
    // About one bucket per candidate (at most 4096): a small index (BM25 over a few thousand
    // documents) must not pay for zeroing and scanning 4096 counters per query. Any count visits
    // the blocks in the same order (bucket_of is monotone; each bucket is sorted when reached).
    let buckets = cands.len().next_power_of_two().clamp(16, 4096);
    let scale = (buckets - 1) as f32 / max_ub;
    let bucket_of = |u: f32| ((u * scale) as usize).min(buckets - 1);
    let mut counts = vec![0u32; buckets + 1];
    for &(u, _) in &cands {
      counts[bucket_of(u) + 1] += 1;
    }
    for i in 0..buckets {
      counts[i + 1] += counts[i];
    }
    let mut order = vec![(0f32, 0u32); cands.len()];
    let mut fill = counts.clone();
    for &c in &cands {
      let bk = bucket_of(c.0);
      order[fill[bk] as usize] = c;
      fill[bk] += 1;
    }
    drop(cands);
    // 4. Buckets from the highest down; each bucket sorted (bound desc, block asc) when reached.
    'outer: for bk in (0..buckets).rev() {
      let (lo, hi) = (counts[bk] as usize, counts[bk + 1] as usize);
      if lo == hi {
        continue;
      }
      let slice = &mut order[lo..hi];
      slice.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
      for i in 0..slice.len() {
        let (u, b) = slice[i];
        // 5. Stop once the k-th score beats alpha × this (the next unscored) block's bound.
        //    Strict: a document tying the k-th score with a lower id must still get in.
        if let Some(th) = top.threshold() {
          if th > params.alpha * bound(u) {
            break 'outer;
          }
        }
        // The carried floor is exclusive (see `search_above`): a bound equal to it is enough.
        if floor >= params.alpha * bound(u) {
          break 'outer;
        }
        if let Some(&(_, nb)) = slice.get(i + 1) {
          self.prefetch(nb as usize);
        }
        self.score_block(b as usize, q, &mut acc, allowed, ids, floor, &mut top);
      }
    }
    top.into_sorted()
  }

  #[inline]
  fn block_has_allowed(&self, b: usize, allowed: &[u64]) -> bool {
    let lo = b * self.block_size as usize;
    let hi = (lo + self.block_size as usize).min(self.n_docs as usize);
    (lo..hi).any(|d| allowed.get(d / 64).is_some_and(|w| w >> (d % 64) & 1 == 1))
  }

  /// Hints the caches to fetch block `b` while the current one is scored. The block's whole
  /// term list is requested (one hint per 64-byte line): the binary searches of `score_block`
  /// would otherwise wait on memory at every step of a cold block.
  #[inline]
  fn prefetch(&self, b: usize) {
    #[cfg(target_arch = "x86_64")]
    {
      use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
      let (g0, g1) = (self.block_ptr[b] as usize, self.block_ptr[b + 1] as usize);
      for line in self.group_term[g0..g1].chunks(16) {
        // SAFETY: prefetch is a hint that never faults; the pointer is in bounds anyway.
        unsafe { _mm_prefetch(line.as_ptr() as *const i8, _MM_HINT_T0) };
      }
      if g0 < g1 {
        let p = self.group_ptr[g0] as usize;
        if p < self.post_off.len() {
          // SAFETY: as above (hints only, in-bounds pointers).
          unsafe {
            _mm_prefetch(self.post_off.as_ptr().add(p) as *const i8, _MM_HINT_T0);
            _mm_prefetch(self.post_imp.as_ptr().add(p) as *const i8, _MM_HINT_T0);
          }
        }
      }
    }
  }

  /// Scores every document of block `b`: contributions `w · impact` are added in term order
  /// (the same order as any per-document reference), then scores above `floor` (≥ 0) are
  /// offered to `top`.
  #[allow(clippy::too_many_arguments)]
  fn score_block(
    &self,
    b: usize,
    q: &[(u32, f32)],
    acc: &mut [f32],
    allowed: Option<&[u64]>,
    ids: &[u32],
    floor: f32,
    top: &mut TopMax<f32>,
  ) {
    acc.fill(0.0);
    let (g0, g1) = (self.block_ptr[b] as usize, self.block_ptr[b + 1] as usize);
    let terms = &self.group_term[g0..g1];
    // A learned-sparse block holds thousands of term groups (block size × ~120 terms) against
    // ~20 query terms, so each query term is found by binary search in the groups after the
    // previous match instead of a linear merge; short blocks (BM25, few groups) merge linearly.
    // Both visit the matches in the same ascending term order, so the scores are identical.
    if Self::scores_by_search(terms.len(), q.len()) {
      let mut j = 0usize;
      for &(t, w) in q {
        j += terms[j..].partition_point(|&gt| gt < t);
        if j == terms.len() {
          break;
        }
        if terms[j] == t {
          self.add_group(g0 + j, w, acc);
          j += 1;
        }
      }
    } else {
      let (mut i, mut j) = (0usize, 0usize);
      while i < q.len() && j < terms.len() {
        let (t, w) = q[i];
        let gt = terms[j];
        if t < gt {
          i += 1;
        } else if gt < t {
          j += 1;
        } else {
          self.add_group(g0 + j, w, acc);
          i += 1;
          j += 1;
        }
      }
    }
    let base = b * self.block_size as usize;
    let n = (self.n_docs as usize - base).min(self.block_size as usize);
    for (o, &s) in acc[..n].iter().enumerate() {
      if s > floor {
        let pos = base + o;
        if allowed.is_some_and(|a| a.get(pos / 64).is_none_or(|w| w >> (pos % 64) & 1 == 0)) {
          continue;
        }
        let id = if ids.is_empty() { pos as u32 } else { ids[pos] };
        top.push(s, id);
      }
    }
  }

  /// `acc[offset] += w · impact` over group `g`'s postings.
  #[inline]
  fn add_group(&self, g: usize, w: f32, acc: &mut [f32]) {
    let (p0, p1) = (self.group_ptr[g] as usize, self.group_ptr[g + 1] as usize);
    for (&o, &v) in self.post_off[p0..p1].iter().zip(&self.post_imp[p0..p1]) {
      acc[o as usize] += w * v.to_f32();
    }
  }

  /// Writes the index as sections `{prefix}…` (prefix is one byte, so tags stay 4 bytes).
  pub fn write(&self, w: &mut ContainerWriter, prefix: u8) {
    let tag = |s: &[u8; 3]| [prefix, s[0], s[1], s[2]];
    let mut meta = ByteWriter::new();
    meta
      .put(self.n_docs)
      .put(self.n_terms)
      .put(self.block_size)
      .put(self.bm_scale);
    w.section(&tag(b"MTA"), meta.into_bytes());
    fn raw<X: ToLeBytes>(xs: &[X]) -> Vec<u8> {
      let mut b = ByteWriter::new();
      b.put_raw(xs);
      b.into_bytes()
    }
    // The layout is told by which posting sections are present (older files: block-forward).
    if let Some(tp) = &self.by_term {
      w.section(&tag(b"TPT"), raw(&tp.term_ptr));
      w.section(&tag(b"TDC"), raw(&tp.doc));
      w.section(&tag(b"TIM"), raw(&tp.imp));
    } else {
      w.section(&tag(b"BPT"), raw(&self.block_ptr));
      w.section(&tag(b"GTM"), raw(&self.group_term));
      w.section(&tag(b"GPT"), raw(&self.group_ptr));
      w.section(&tag(b"POF"), self.post_off.clone());
      w.section(&tag(b"PIM"), raw(&self.post_imp));
    }
    w.section(&tag(b"DSL"), raw(&self.dense_slot));
    w.section(&tag(b"BMD"), self.bm_dense.clone());
    w.section(&tag(b"BMP"), raw(&self.bm_ptr));
    w.section(&tag(b"BMB"), raw(&self.bm_block));
    w.section(&tag(b"BMV"), self.bm_val.clone());
    w.section(&tag(b"KTH"), raw(&self.kth));
  }

  /// Reads and validates every structural invariant the search relies on.
  pub fn read(c: &Container<'_>, prefix: u8) -> Result<Self> {
    let tag = |s: &[u8; 3]| [prefix, s[0], s[1], s[2]];
    let mut m = ByteReader::new(c.section(&tag(b"MTA"))?);
    let n_docs: u32 = m.get("doc count")?;
    let n_terms: u32 = m.get("term count")?;
    let block_size: u32 = m.get("block size")?;
    let bm_scale: f32 = m.get("block-max scale")?;
    m.finish("block index metadata")?;
    if !((1..=256).contains(&block_size) && bm_scale.is_finite() && bm_scale > 0.0) {
      return Err(Error::corrupt(format!(
        "invalid block size {block_size} or scale {bm_scale}"
      )));
    }
    fn arr<X: FromLeBytes>(c: &Container<'_>, t: [u8; 4], what: &str) -> Result<Vec<X>> {
      let b = c.section(&t)?;
      if b.len() % X::SIZE != 0 {
        return Err(Error::corrupt(format!(
          "{what}: {} bytes is not a multiple of {}",
          b.len(),
          X::SIZE
        )));
      }
      ByteReader::new(b).get_raw(b.len() / X::SIZE, what)
    }
    let (nd, nt, bs) = (n_docs as usize, n_terms as usize, block_size as usize);
    let by_term = if c.optional_section(&tag(b"TPT")).is_some() {
      let mut tp = TermPostings {
        term_ptr: arr(c, tag(b"TPT"), "term posting pointers")?,
        doc: arr(c, tag(b"TDC"), "posting documents")?,
        imp: arr(c, tag(b"TIM"), "impacts")?,
        windows: Default::default(),
        dense: Default::default(),
      };
      tp.validate(nd, nt)?;
      tp.index_windows(nd, bs);
      Some(tp)
    } else {
      None
    };
    let forward = by_term.is_none();
    // The forward layout's sections; a term-major segment has none (and one group pointer).
    let (block_ptr, group_term, group_ptr, post_off, post_imp): (
      Vec<u32>,
      Vec<u32>,
      Vec<u32>,
      Vec<u8>,
      Vec<T>,
    ) = if forward {
      (
        arr(c, tag(b"BPT"), "block pointers")?,
        arr(c, tag(b"GTM"), "group terms")?,
        arr(c, tag(b"GPT"), "group pointers")?,
        c.section(&tag(b"POF"))?.to_vec(),
        arr(c, tag(b"PIM"), "impacts")?,
      )
    } else {
      (Vec::new(), Vec::new(), vec![0], Vec::new(), Vec::new())
    };
    let dense_slot: Vec<u32> = arr(c, tag(b"DSL"), "dense slots")?;
    let bm_dense = c.section(&tag(b"BMD"))?.to_vec();
    let bm_ptr: Vec<u32> = arr(c, tag(b"BMP"), "block-max pointers")?;
    let bm_block: Vec<u32> = arr(c, tag(b"BMB"), "block-max blocks")?;
    let bm_val = c.section(&tag(b"BMV"))?.to_vec();
    let kth: Vec<T> = arr(c, tag(b"KTH"), "k-th impacts")?;
    let n_blocks = nd.div_ceil(bs);
    let bad = |m: String| Err(Error::corrupt(m));
    if forward
      && (block_ptr.len() != n_blocks + 1
        || block_ptr[0] != 0
        || *block_ptr.last().unwrap_or(&0) as usize != group_term.len())
    {
      return bad("block pointers do not match the block/group counts".into());
    }
    if block_ptr.windows(2).any(|w| w[0] > w[1]) {
      return bad("block pointers are not monotone".into());
    }
    if group_ptr.len() != group_term.len() + 1
      || group_ptr[0] != 0
      || group_ptr.windows(2).any(|w| w[0] > w[1])
    {
      return bad("group pointers are not monotone or do not match the group count".into());
    }
    let np = *group_ptr.last().unwrap_or(&0) as usize;
    if post_off.len() != np || post_imp.len() != np {
      return bad(format!(
        "posting arrays hold {}/{} entries, expected {np}",
        post_off.len(),
        post_imp.len()
      ));
    }
    for b in (0..n_blocks).filter(|_| forward) {
      let terms = &group_term[block_ptr[b] as usize..block_ptr[b + 1] as usize];
      if terms.windows(2).any(|w| w[0] >= w[1]) || terms.last().is_some_and(|&t| t >= n_terms) {
        return bad(format!("block {b}: group terms unsorted or out of range"));
      }
      let lim = (nd - b * bs).min(bs);
      for g in block_ptr[b] as usize..block_ptr[b + 1] as usize {
        let offs = &post_off[group_ptr[g] as usize..group_ptr[g + 1] as usize];
        if offs.iter().any(|&o| o as usize >= lim) || offs.windows(2).any(|w| w[0] >= w[1]) {
          return bad(format!("block {b}: posting offsets out of range or repeated"));
        }
      }
    }
    if post_imp.iter().any(|v| !v.is_valid()) || kth.iter().any(|v| !v.is_valid()) {
      return bad("negative or non-finite impact".into());
    }
    if dense_slot.len() != nt || bm_ptr.len() != nt + 1 || kth.len() != nt * 3 {
      return bad("per-term arrays do not match the term count".into());
    }
    let slots = dense_slot.iter().filter(|&&s| s != NO_SLOT).count();
    if bm_dense.len() != slots * n_blocks || dense_slot.iter().any(|&s| s != NO_SLOT && s as usize >= slots) {
      return bad("dense block-max rows do not match the slot count".into());
    }
    if bm_ptr[0] != 0
      || bm_ptr.windows(2).any(|w| w[0] > w[1])
      || bm_ptr[nt] as usize != bm_block.len()
      || bm_val.len() != bm_block.len()
    {
      return bad("sparse block-max pointers are inconsistent".into());
    }
    if bm_block.iter().any(|&b| b as usize >= n_blocks) {
      return bad("sparse block-max entry names a block out of range".into());
    }
    Ok(BlockIndex {
      n_docs,
      n_terms,
      block_size,
      block_ptr,
      group_term,
      group_ptr,
      post_off,
      post_imp,
      bm_scale,
      dense_slot,
      bm_dense,
      bm_ptr,
      bm_block,
      bm_val,
      kth,
      by_term,
    })
  }
}

/// 10th/100th/1000th largest impact of each term's list (0 when a list is shorter).
fn kth_of_lists<'a, T: Impact + 'a>(n_terms: usize, list: impl Fn(usize) -> &'a [T]) -> Vec<T> {
  let mut kth = vec![T::default(); n_terms * 3];
  let mut buf: Vec<T> = Vec::new();
  for t in 0..n_terms {
    let l = list(t);
    if l.len() < 10 {
      continue;
    }
    buf.clear();
    buf.extend_from_slice(l);
    for (c, &kk) in [10usize, 100, 1000].iter().enumerate() {
      if buf.len() >= kk {
        let (_, v, _) = buf.select_nth_unstable_by(kk - 1, |a, b| {
          b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal)
        });
        kth[t * 3 + c] = *v;
      }
    }
  }
  kth
}

/// Checks a build's shape: block size in [1, 256] (offsets are u8), counts that fit u32.
fn check_shape(n_docs: usize, n_terms: usize, block_size: usize) -> Result<(u32, u32)> {
  if !(1..=256).contains(&block_size) {
    return Err(Error::InvalidArg(format!(
      "blockSize must be in [1, 256] (got {block_size})"
    )));
  }
  Ok((
    crate::validate::to_u32(n_docs, "document count")?,
    crate::validate::to_u32(n_terms, "vocabulary size")?,
  ))
}

/// 10th/100th/1000th largest impact per term (0 when a list is shorter).
fn kth_impacts<T: Impact>(n_terms: usize, group_term: &[u32], group_ptr: &[u32], imp: &[T]) -> Vec<T> {
  // Per-term bounded min-heaps would allocate per term; a counting-sort CSR of impacts is simpler.
  let mut counts = vec![0u64; n_terms + 1];
  for (g, &t) in group_term.iter().enumerate() {
    counts[t as usize + 1] += (group_ptr[g + 1] - group_ptr[g]) as u64;
  }
  for t in 0..n_terms {
    counts[t + 1] += counts[t];
  }
  let mut vals = vec![T::default(); imp.len()];
  let mut fill = counts.clone();
  for (g, &t) in group_term.iter().enumerate() {
    for &v in &imp[group_ptr[g] as usize..group_ptr[g + 1] as usize] {
      vals[fill[t as usize] as usize] = v;
      fill[t as usize] += 1;
    }
  }
  let mut kth = vec![T::default(); n_terms * 3];
  for t in 0..n_terms {
    let list = &mut vals[counts[t] as usize..counts[t + 1] as usize];
    for (c, &kk) in [10usize, 100, 1000].iter().enumerate() {
      if list.len() >= kk {
        let (_, v, _) = list.select_nth_unstable_by(kk - 1, |a, b| {
          b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal)
        });
        kth[t * 3 + c] = *v;
      }
    }
  }
  kth
}
