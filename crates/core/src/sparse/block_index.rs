//! The block index shared by learned sparse retrieval and BM25: documents in fixed-size
//! blocks, a forward index per block grouped by term, and per-term block maxima, searched
//! with Block-Max Pruning (Mallia et al., SIGIR 2024).
//!
//! Every array is flat (no nested vectors), so the index serialises as a handful of sections.
//! Impacts are u8 with a scale (learned sparse) or exact f32 (BM25); block maxima are always
//! u8, rounded up, so bounds are safe. BMP is *exactly* an exhaustive scan when `alpha = 1`
//! (same scores, same ties): both score blocks with the same routine, and a block is skipped
//! only when its bound, widened by a relative margin for float rounding, is strictly below the
//! current k-th score.

use crate::io::{ByteReader, ByteWriter};
use crate::topk::{Scored, TopMax};
use crate::{Error, Result};
use rayon::prelude::*;

/// Relative widening of bounds and seeds so f32 rounding never makes a bound unsafe.
const MARGIN: f32 = 1e-5;
/// Largest block size (in-block offsets are u8).
pub const MAX_BLOCK_SIZE: usize = 256;

/// Stored impacts of the postings.
#[derive(Clone, Debug)]
pub enum Impacts {
  /// Quantized: value = u8 × `scale`.
  U8 { values: Vec<u8>, scale: f32 },
  /// Exact values (BM25 scores).
  F32(Vec<f32>),
}

/// Documents as CSR rows of (term id, weight), the build input.
pub struct SparseDocs<'a> {
  /// `n + 1` offsets into `terms` / `weights`.
  pub offsets: &'a [usize],
  pub terms: &'a [u32],
  pub weights: &'a [f32],
}

/// Build settings.
#[derive(Clone, Copy, Debug)]
pub struct BlockOptions {
  /// Documents per block, 1 … 256 (default 32).
  pub block_size: usize,
  /// Quantize impacts to u8 (learned sparse) or keep exact f32 (BM25).
  pub quantize: bool,
}

/// Search settings.
#[derive(Clone, Copy, Debug)]
pub struct BmpOptions {
  pub k: usize,
  /// Stop when the k-th score ≥ alpha × the next block's bound. 1 = safe (exact).
  pub alpha: f32,
  /// Keep the ceil(beta × |q|) heaviest query terms. 1 = all.
  pub beta: f32,
  /// Score every block with a query term (verification / baseline).
  pub exhaustive: bool,
}

#[derive(Debug)]
pub struct BlockIndex {
  block_size: usize,
  n_docs: usize,
  vocab: usize,
  /// Value of one unit of block maximum.
  bm_scale: f32,
  /// Per block: range into `group_term` (n_blocks + 1).
  block_groups: Vec<u32>,
  /// Per (block, term) group: the term, and its range into the postings (n_groups + 1).
  group_term: Vec<u32>,
  group_start: Vec<u32>,
  /// Per posting: offset of the document in its block, and its impact.
  post_offset: Vec<u8>,
  impacts: Impacts,
  /// Per term: range into `bm_block` / `bm_value` (sparse block maxima; empty for dense terms).
  bm_ptr: Vec<u32>,
  bm_block: Vec<u32>,
  bm_value: Vec<u8>,
  /// Per term: row in `dense` or u32::MAX; frequent terms keep one byte per block.
  dense_row: Vec<u32>,
  dense: Vec<u8>,
  /// Per term: its 10th, 100th and 1000th largest impact values (0 if fewer postings).
  kth: Vec<f32>,
}

fn too_large(what: &str) -> Error {
  Error::InvalidArg(format!("the index would hold more than 2^32 − 1 {what}; split the corpus"))
}

impl BlockIndex {
  /// Builds the index over `docs` (internal ids 0 … n − 1 in order). Weights must be finite
  /// and ≥ 0; a term may appear once per document. `vocab` bounds the term ids.
  pub fn build(docs: &SparseDocs, vocab: usize, opts: BlockOptions) -> Result<Self> {
    let bs = opts.block_size;
    if bs == 0 || bs > MAX_BLOCK_SIZE {
      return Err(Error::InvalidArg(format!("blockSize must be in [1, {MAX_BLOCK_SIZE}] (got {bs})")));
    }
    let n = docs.offsets.len().checked_sub(1).ok_or_else(|| Error::invalid("offsets must have n + 1 entries"))?;
    check_docs(docs, vocab)?;
    u32::try_from(docs.terms.len()).map_err(|_| too_large("postings"))?;
    let max_w = docs.weights.iter().fold(0f32, |m, &w| m.max(w));
    // Scale so the largest weight maps to 255 (quantized impacts and block maxima alike).
    let scale = if max_w > 0.0 { max_w / 255.0 } else { 1.0 };
    let n_blocks = n.div_ceil(bs);

    // Forward index, block by block (in parallel), then concatenated.
    struct Block {
      terms: Vec<u32>,
      sizes: Vec<u32>,
      offsets: Vec<u8>,
      q: Vec<u8>,
      f: Vec<f32>,
      maxima: Vec<(u32, f32)>,
    }
    let blocks: Vec<Block> = (0..n_blocks)
      .into_par_iter()
      .map(|b| {
        let mut post: Vec<(u32, u8, f32)> = Vec::new();
        for d in b * bs..((b + 1) * bs).min(n) {
          for i in docs.offsets[d]..docs.offsets[d + 1] {
            // d − b·bs < bs ≤ 256, so the offset fits a u8.
            post.push((docs.terms[i], (d - b * bs) as u8, docs.weights[i]));
          }
        }
        post.sort_unstable_by_key(|p| (p.0, p.1));
        let mut blk = Block { terms: vec![], sizes: vec![], offsets: vec![], q: vec![], f: vec![], maxima: vec![] };
        for (t, off, w) in post {
          let q = quantize(w, scale);
          if opts.quantize && q == 0 {
            continue; // rounds to nothing: contributes no score
          }
          if w == 0.0 {
            continue;
          }
          if blk.terms.last() != Some(&t) {
            blk.terms.push(t);
            blk.sizes.push(0);
            blk.maxima.push((t, 0.0));
          }
          *blk.sizes.last_mut().expect("pushed") += 1;
          let m = &mut blk.maxima.last_mut().expect("pushed").1;
          *m = m.max(if opts.quantize { q as f32 * scale } else { w });
          blk.offsets.push(off);
          if opts.quantize {
            blk.q.push(q);
          } else {
            blk.f.push(w);
          }
        }
        blk
      })
      .collect();

    let n_groups: usize = blocks.iter().map(|b| b.terms.len()).sum();
    u32::try_from(n_groups).map_err(|_| too_large("(block, term) groups"))?;
    let mut block_groups = Vec::with_capacity(n_blocks + 1);
    let mut group_term = Vec::with_capacity(n_groups);
    let mut group_start = Vec::with_capacity(n_groups + 1);
    let mut post_offset = Vec::new();
    let mut q_values = Vec::new();
    let mut f_values = Vec::new();
    block_groups.push(0u32);
    group_start.push(0u32);
    let mut postings = 0u32;
    let mut term_blocks = vec![0u32; vocab];
    for blk in &blocks {
      for (&t, &size) in blk.terms.iter().zip(&blk.sizes) {
        group_term.push(t);
        postings += size;
        group_start.push(postings);
        term_blocks[t as usize] += 1;
      }
      block_groups.push(group_term.len() as u32);
      post_offset.extend_from_slice(&blk.offsets);
      q_values.extend_from_slice(&blk.q);
      f_values.extend_from_slice(&blk.f);
    }

    // Block maxima: dense rows for terms present in ≥ 1/5 of the blocks (a byte per block
    // is then cheaper than 5-byte (block, max) pairs), sparse pairs for the rest.
    let mut dense_row = vec![u32::MAX; vocab];
    let mut rows = 0u32;
    for (t, &count) in term_blocks.iter().enumerate() {
      if count as usize * 5 >= n_blocks && count > 0 {
        dense_row[t] = rows;
        rows += 1;
      }
    }
    let mut dense = vec![0u8; rows as usize * n_blocks];
    let mut bm_ptr = vec![0u32; vocab + 1];
    for (t, &count) in term_blocks.iter().enumerate() {
      bm_ptr[t + 1] = bm_ptr[t] + if dense_row[t] == u32::MAX { count } else { 0 };
    }
    let sparse_total = bm_ptr[vocab] as usize;
    let mut bm_block = vec![0u32; sparse_total];
    let mut bm_value = vec![0u8; sparse_total];
    let mut fill = bm_ptr.clone();
    for (b, blk) in blocks.iter().enumerate() {
      for &(t, max) in &blk.maxima {
        let unit = bound_units(max, scale);
        let t = t as usize;
        if dense_row[t] != u32::MAX {
          dense[dense_row[t] as usize * n_blocks + b] = unit;
        } else {
          let at = fill[t] as usize;
          bm_block[at] = b as u32;
          bm_value[at] = unit;
          fill[t] += 1;
        }
      }
    }

    let impacts = if opts.quantize { Impacts::U8 { values: q_values, scale } } else { Impacts::F32(f_values) };
    let mut idx = BlockIndex {
      block_size: bs,
      n_docs: n,
      vocab,
      bm_scale: scale,
      block_groups,
      group_term,
      group_start,
      post_offset,
      impacts,
      bm_ptr,
      bm_block,
      bm_value,
      dense_row,
      dense,
      kth: vec![],
    };
    idx.kth = idx.compute_kth();
    Ok(idx)
  }

  /// Each term's 10th / 100th / 1000th largest stored impact (threshold seeds).
  fn compute_kth(&self) -> Vec<f32> {
    let mut per_term: Vec<Vec<f32>> = vec![Vec::new(); self.vocab];
    for g in 0..self.group_term.len() {
      let t = self.group_term[g] as usize;
      for p in self.group_start[g] as usize..self.group_start[g + 1] as usize {
        per_term[t].push(self.impact(p));
      }
    }
    per_term
      .into_par_iter()
      .flat_map_iter(|mut v| {
        let mut out = [0f32; 3];
        for (slot, rank) in [10usize, 100, 1000].into_iter().enumerate() {
          if v.len() >= rank {
            let (_, nth, _) = v.select_nth_unstable_by(rank - 1, |a, b| b.total_cmp(a));
            out[slot] = *nth;
          }
        }
        out
      })
      .collect()
  }

  #[inline]
  fn impact(&self, p: usize) -> f32 {
    match &self.impacts {
      Impacts::U8 { values, scale } => values[p] as f32 * scale,
      Impacts::F32(v) => v[p],
    }
  }

  pub fn len(&self) -> usize {
    self.n_docs
  }
  pub fn is_empty(&self) -> bool {
    self.n_docs == 0
  }
  pub fn vocab(&self) -> usize {
    self.vocab
  }
  pub fn block_size(&self) -> usize {
    self.block_size
  }
  pub fn postings(&self) -> usize {
    self.post_offset.len()
  }
  fn n_blocks(&self) -> usize {
    self.block_groups.len() - 1
  }

  /// The top `k` documents for a query of (term id, weight ≥ 0) pairs (unknown terms and zero
  /// weights are ignored, repeated terms add up). `allowed`, if given, marks the internal ids
  /// that may be returned. Documents that match no query term are never returned.
  pub fn search(&self, query: &[(u32, f32)], opts: &BmpOptions, allowed: Option<&[bool]>) -> Result<Vec<Scored<f32>>> {
    crate::validate::k(opts.k)?;
    let in_unit = |x: f32| x > 0.0 && x <= 1.0;
    if !in_unit(opts.alpha) || !in_unit(opts.beta) {
      return Err(Error::InvalidArg(format!("alpha and beta must be in (0, 1] (got {}, {})", opts.alpha, opts.beta)));
    }
    if let Some(a) = allowed {
      if a.len() != self.n_docs {
        return Err(Error::Internal(format!("allowed mask has {} entries for {} documents", a.len(), self.n_docs)));
      }
    }
    let q = self.prepare_query(query, opts.beta)?;
    let mut top = TopMax::new(opts.k);
    if q.is_empty() || self.n_docs == 0 {
      return Ok(top.into_sorted());
    }
    let nb = self.n_blocks();
    // Block upper bounds, term at a time.
    let mut ub = vec![0f32; nb];
    for &(t, w) in &q {
      let w = w * self.bm_scale;
      let t = t as usize;
      if self.dense_row[t] != u32::MAX {
        let row = &self.dense[self.dense_row[t] as usize * nb..][..nb];
        for (u, &m) in ub.iter_mut().zip(row) {
          *u += w * m as f32;
        }
      } else {
        let (a, b) = (self.bm_ptr[t] as usize, self.bm_ptr[t + 1] as usize);
        for (&blk, &m) in self.bm_block[a..b].iter().zip(&self.bm_value[a..b]) {
          ub[blk as usize] += w * m as f32;
        }
      }
    }
    // Threshold seed: some term alone puts ≥ k documents at or above w · kth(t).
    let seed = match (allowed, opts.exhaustive) {
      (None, false) if opts.k <= 1000 => {
        let slot = if opts.k <= 10 { 0 } else if opts.k <= 100 { 1 } else { 2 };
        q.iter().map(|&(t, w)| w * self.kth[t as usize * 3 + slot]).fold(0f32, f32::max) * (1.0 - MARGIN)
      }
      _ => 0.0,
    };
    let mut order: Vec<u32> = (0..nb as u32)
      .filter(|&b| {
        let u = ub[b as usize];
        u > 0.0 && u * (1.0 + MARGIN) >= seed && allowed.is_none_or(|a| self.block_has_allowed(b as usize, a))
      })
      .collect();
    if !opts.exhaustive {
      order.sort_unstable_by(|&a, &b| ub[b as usize].total_cmp(&ub[a as usize]).then(a.cmp(&b)));
    }
    let mut scratch = vec![0f32; self.block_size];
    for &b in &order {
      if !opts.exhaustive {
        if let Some(kth) = top.threshold() {
          if kth > opts.alpha * ub[b as usize] * (1.0 + MARGIN) {
            break; // blocks come in decreasing bound order: none of the rest can enter
          }
        }
      }
      self.score_block(b as usize, &q, &mut scratch, allowed, &mut top);
    }
    Ok(top.into_sorted())
  }

  /// Sorted by term id, duplicates summed, unknown / zero-weight terms dropped, then the
  /// heaviest ceil(beta · len) kept.
  fn prepare_query(&self, query: &[(u32, f32)], beta: f32) -> Result<Vec<(u32, f32)>> {
    let mut q: Vec<(u32, f32)> = Vec::with_capacity(query.len());
    for &(t, w) in query {
      if !w.is_finite() || w < 0.0 {
        return Err(Error::InvalidArg(format!("query weights must be finite and ≥ 0 (term {t} has {w})")));
      }
      if (t as usize) < self.vocab && w > 0.0 {
        q.push((t, w));
      }
    }
    q.sort_unstable_by_key(|p| p.0);
    q.dedup_by(|next, kept| {
      if next.0 == kept.0 {
        kept.1 += next.1;
        true
      } else {
        false
      }
    });
    if beta < 1.0 && q.len() > 1 {
      let keep = ((q.len() as f32 * beta).ceil() as usize).max(1);
      q.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
      q.truncate(keep);
      q.sort_unstable_by_key(|p| p.0);
    }
    Ok(q)
  }

  fn block_has_allowed(&self, b: usize, allowed: &[bool]) -> bool {
    allowed[b * self.block_size..((b + 1) * self.block_size).min(self.n_docs)].iter().any(|&a| a)
  }

  /// Scores one block: merge the sorted query terms with the block's sorted term groups.
  fn score_block(&self, b: usize, q: &[(u32, f32)], scratch: &mut [f32], allowed: Option<&[bool]>, top: &mut TopMax<f32>) {
    scratch.fill(0.0);
    let mut touched = [0u64; MAX_BLOCK_SIZE / 64];
    let (g0, g1) = (self.block_groups[b] as usize, self.block_groups[b + 1] as usize);
    let terms = &self.group_term[g0..g1];
    let mut g = 0usize;
    for &(t, w) in q {
      // Groups are sorted by term and so are the query terms: binary-search forward (a block
      // of learned-sparse documents holds thousands of groups, a query a few dozen terms).
      g += terms[g..].partition_point(|&x| x < t);
      if g == terms.len() {
        break;
      }
      if terms[g] != t {
        continue;
      }
      let (p0, p1) = (self.group_start[g0 + g] as usize, self.group_start[g0 + g + 1] as usize);
      let offsets = &self.post_offset[p0..p1];
      match &self.impacts {
        Impacts::U8 { values, scale } => {
          let wq = w * scale;
          for (&o, &v) in offsets.iter().zip(&values[p0..p1]) {
            scratch[o as usize] += wq * v as f32;
            touched[o as usize / 64] |= 1 << (o % 64);
          }
        }
        Impacts::F32(values) => {
          for (&o, &v) in offsets.iter().zip(&values[p0..p1]) {
            scratch[o as usize] += w * v;
            touched[o as usize / 64] |= 1 << (o % 64);
          }
        }
      }
    }
    let base = b * self.block_size;
    for (word, &bits) in touched.iter().enumerate() {
      let mut bits = bits;
      while bits != 0 {
        let o = word * 64 + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let doc = base + o;
        if allowed.is_none_or(|a| a[doc]) {
          // doc < n_docs ≤ u32::MAX (checked at build).
          top.push(scratch[o], doc as u32);
        }
      }
    }
  }

  /// Bytes by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let impacts = match &self.impacts {
      Impacts::U8 { values, .. } => values.len(),
      Impacts::F32(v) => v.len() * 4,
    };
    vec![
      ("forward", self.block_groups.len() * 4 + self.group_term.len() * 4 + self.group_start.len() * 4 + self.post_offset.len() + impacts),
      ("blockMax", self.bm_ptr.len() * 4 + self.bm_block.len() * 4 + self.bm_value.len() + self.dense_row.len() * 4 + self.dense.len()),
      ("seeds", self.kth.len() * 4),
    ]
  }

  pub fn write(&self, w: &mut ByteWriter) {
    w.put(self.block_size as u64).put(self.n_docs as u64).put(self.vocab as u64).put(self.bm_scale);
    w.put_slice(&self.block_groups).put_slice(&self.group_term).put_slice(&self.group_start).put_slice(&self.post_offset);
    match &self.impacts {
      Impacts::U8 { values, scale } => {
        w.put(0u8).put(*scale).put_slice(values);
      }
      Impacts::F32(v) => {
        w.put(1u8).put_slice(v);
      }
    }
    w.put_slice(&self.bm_ptr).put_slice(&self.bm_block).put_slice(&self.bm_value).put_slice(&self.dense_row).put_slice(&self.dense).put_slice(&self.kth);
  }

  /// Reads and validates every structural invariant (so search can index without checks failing).
  pub fn read(r: &mut ByteReader) -> Result<Self> {
    let block_size = to_usize(r.get::<u64>("block size")?)?;
    let n_docs = to_usize(r.get::<u64>("documents")?)?;
    let vocab = to_usize(r.get::<u64>("vocabulary")?)?;
    let bm_scale = r.get::<f32>("block-max scale")?;
    let block_groups: Vec<u32> = r.get_slice("block groups")?;
    let group_term: Vec<u32> = r.get_slice("group terms")?;
    let group_start: Vec<u32> = r.get_slice("group starts")?;
    let post_offset: Vec<u8> = r.get_slice("posting offsets")?;
    let impacts = match r.get::<u8>("impact kind")? {
      0 => {
        let scale = r.get::<f32>("impact scale")?;
        Impacts::U8 { values: r.get_slice("impacts")?, scale }
      }
      1 => Impacts::F32(r.get_slice("impacts")?),
      k => return Err(Error::corrupt(format!("unknown impact kind {k}"))),
    };
    let idx = BlockIndex {
      block_size,
      n_docs,
      vocab,
      bm_scale,
      block_groups,
      group_term,
      group_start,
      post_offset,
      impacts,
      bm_ptr: r.get_slice("block-max offsets")?,
      bm_block: r.get_slice("block-max blocks")?,
      bm_value: r.get_slice("block-max values")?,
      dense_row: r.get_slice("dense rows")?,
      dense: r.get_slice("dense block maxima")?,
      kth: r.get_slice("threshold seeds")?,
    };
    idx.validate()?;
    Ok(idx)
  }

  fn validate(&self) -> Result<()> {
    let bad = |what: &str| Err(Error::corrupt(format!("sparse index: {what}")));
    if self.block_size == 0 || self.block_size > MAX_BLOCK_SIZE || !(self.bm_scale.is_finite() && self.bm_scale > 0.0) {
      return bad("invalid block size or scale");
    }
    let nb = self.n_docs.div_ceil(self.block_size);
    let n_groups = self.group_term.len();
    let n_post = self.post_offset.len();
    let impacts_len = match &self.impacts {
      Impacts::U8 { values, scale } => {
        if !(scale.is_finite() && *scale > 0.0) {
          return bad("invalid impact scale");
        }
        values.len()
      }
      Impacts::F32(v) => {
        if v.iter().any(|x| !x.is_finite() || *x < 0.0) {
          return bad("negative or non-finite impact");
        }
        v.len()
      }
    };
    if self.block_groups.len() != nb + 1 || self.group_start.len() != n_groups + 1 || impacts_len != n_post {
      return bad("array lengths do not match the document and group counts");
    }
    if !monotone(&self.block_groups, n_groups) || !monotone(&self.group_start, n_post) {
      return bad("offsets are not monotone or do not end at the array length");
    }
    for b in 0..nb {
      let terms = &self.group_term[self.block_groups[b] as usize..self.block_groups[b + 1] as usize];
      if terms.windows(2).any(|w| w[0] >= w[1]) || terms.iter().any(|&t| t as usize >= self.vocab) {
        return bad("block terms are not sorted or out of the vocabulary");
      }
      let docs_here = (self.n_docs - b * self.block_size).min(self.block_size);
      let (p0, p1) = (self.group_start[self.block_groups[b] as usize] as usize, self.group_start[self.block_groups[b + 1] as usize] as usize);
      if self.post_offset[p0..p1].iter().any(|&o| o as usize >= docs_here) {
        return bad("posting offset beyond its block");
      }
    }
    if self.bm_ptr.len() != self.vocab + 1 || !monotone(&self.bm_ptr, self.bm_block.len()) || self.bm_value.len() != self.bm_block.len() {
      return bad("block-max offsets");
    }
    if self.bm_block.iter().any(|&b| b as usize >= nb) || self.dense_row.len() != self.vocab || self.kth.len() != self.vocab * 3 {
      return bad("block-max entries");
    }
    let rows = self.dense_row.iter().filter(|&&r| r != u32::MAX).count();
    if self.dense.len() != rows * nb || self.dense_row.iter().any(|&r| r != u32::MAX && r as usize >= rows) {
      return bad("dense block-max rows");
    }
    Ok(())
  }
}

fn to_usize(v: u64) -> Result<usize> {
  usize::try_from(v).map_err(|_| Error::corrupt("a size does not fit this platform"))
}

fn monotone(offsets: &[u32], end: usize) -> bool {
  offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[0] <= w[1]) && offsets.last().map(|&l| l as usize) == Some(end)
}

fn quantize(w: f32, scale: f32) -> u8 {
  // w ≤ max = 255·scale, so the rounded value is ≤ 255 (clamped against rounding anyway).
  (w / scale).round().clamp(0.0, 255.0) as u8
}

/// A block maximum in units of `scale`, rounded up so the bound stays ≥ the true maximum.
fn bound_units(max: f32, scale: f32) -> u8 {
  (max / scale).ceil().clamp(0.0, 255.0) as u8
}

fn check_docs(docs: &SparseDocs, vocab: usize) -> Result<()> {
  let o = docs.offsets;
  if o.first() != Some(&0) || o.windows(2).any(|w| w[0] > w[1]) || o.last() != Some(&docs.terms.len()) {
    return Err(Error::invalid("offsets must start at 0, never decrease and end at the number of terms"));
  }
  if docs.terms.len() != docs.weights.len() {
    return Err(Error::InvalidArg(format!("{} term ids but {} weights", docs.terms.len(), docs.weights.len())));
  }
  u32::try_from(o.len() - 1).map_err(|_| too_large("documents"))?;
  for d in 0..o.len() - 1 {
    let terms = &docs.terms[o[d]..o[d + 1]];
    for (&t, &w) in terms.iter().zip(&docs.weights[o[d]..o[d + 1]]) {
      if t as usize >= vocab {
        return Err(Error::InvalidArg(format!("document {d}: term id {t} is outside the vocabulary of {vocab}")));
      }
      if !w.is_finite() || w < 0.0 {
        return Err(Error::InvalidArg(format!("document {d}: weight {w} of term {t} must be finite and ≥ 0")));
      }
    }
    let mut sorted = terms.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
      return Err(Error::InvalidArg(format!("document {d}: term {} appears twice", w[0])));
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;

  /// Seeded Zipf-like sparse documents: term t drawn with probability ∝ 1/(t+1).
  fn zipf_docs(seed: u64, n: usize, vocab: usize, per_doc: usize) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let cdf: Vec<f64> = (0..vocab)
      .scan(0.0, |s, t| {
        *s += 1.0 / (t as f64 + 1.0);
        Some(*s)
      })
      .collect();
    let total = *cdf.last().unwrap();
    let (mut offsets, mut terms, mut weights) = (vec![0usize], vec![], vec![]);
    for _ in 0..n {
      let mut doc: Vec<u32> = (0..1 + rng.below(per_doc as u64) as usize)
        .map(|_| {
          let u = rng.next_f64() * total;
          cdf.partition_point(|&c| c < u).min(vocab - 1) as u32
        })
        .collect();
      doc.sort_unstable();
      doc.dedup();
      for t in doc {
        terms.push(t);
        // Few distinct values so that ties are common.
        weights.push((1 + rng.below(20)) as f32 * 0.25);
      }
      offsets.push(terms.len());
    }
    (offsets, terms, weights)
  }

  fn exhaustive_reference(docs: &SparseDocs, q: &[(u32, f32)], quant: Option<f32>, k: usize, allowed: Option<&[bool]>) -> Vec<Scored<f32>> {
    // Independent scorer: per document, sum over query terms (sorted by term id) in f32 like the index.
    let mut qs: Vec<(u32, f32)> = q.to_vec();
    qs.sort_unstable_by_key(|p| p.0);
    let mut top = TopMax::new(k);
    for d in 0..docs.offsets.len() - 1 {
      let mut s = 0f32;
      let mut hit = false;
      for &(t, w) in &qs {
        for i in docs.offsets[d]..docs.offsets[d + 1] {
          if docs.terms[i] == t {
            let v = match quant {
              Some(scale) => {
                let q8 = quantize(docs.weights[i], scale);
                if q8 == 0 {
                  continue;
                }
                s += (w * scale) * q8 as f32;
                hit = true;
                continue;
              }
              None => docs.weights[i],
            };
            s += w * v;
            hit = true;
          }
        }
      }
      if hit && allowed.is_none_or(|a| a[d]) {
        top.push(s, d as u32);
      }
    }
    top.into_sorted()
  }

  #[test]
  fn safe_bmp_equals_an_independent_exhaustive_scorer_with_ties_filters_and_every_k() {
    let (offsets, terms, weights) = zipf_docs(1, 3000, 500, 30);
    let docs = SparseDocs { offsets: &offsets, terms: &terms, weights: &weights };
    let max_w = weights.iter().fold(0f32, |m, &w| m.max(w));
    let mut rng = Rng::new(2);
    for &bs in &[8usize, 32, 128] {
      for quantize in [false, true] {
        let idx = BlockIndex::build(&docs, 500, BlockOptions { block_size: bs, quantize }).unwrap();
        for qi in 0..15 {
          let q: Vec<(u32, f32)> = (0..1 + rng.below(8)).map(|_| (rng.below(120) as u32, (1 + rng.below(4)) as f32)).collect();
          let allowed: Option<Vec<bool>> = (qi % 3 == 0).then(|| (0..3000).map(|d| d % 3 != 1).collect());
          for &k in &[1usize, 10, 100, 1000, 3005] {
            let opts = BmpOptions { k, alpha: 1.0, beta: 1.0, exhaustive: false };
            let got = idx.search(&q, &opts, allowed.as_deref()).unwrap();
            let ex = idx.search(&q, &BmpOptions { exhaustive: true, ..opts }, allowed.as_deref()).unwrap();
            assert_eq!(got, ex, "bs {bs} quantize {quantize} k {k} q {q:?}");
            let merged_q: Vec<(u32, f32)> = {
              let mut m: Vec<(u32, f32)> = vec![];
              let mut s = q.clone();
              s.sort_unstable_by_key(|p| p.0);
              for (t, w) in s {
                match m.last_mut() {
                  Some(l) if l.0 == t => l.1 += w,
                  _ => m.push((t, w)),
                }
              }
              m
            };
            let want_merged = exhaustive_reference(&docs, &merged_q, quantize.then_some(max_w / 255.0), k, allowed.as_deref());
            assert_eq!(got.len(), want_merged.len());
            assert_eq!(got, want_merged, "bs {bs} quantize {quantize} k {k}");
          }
        }
      }
    }
  }

  #[test]
  fn edge_cases_never_panic() {
    let (offsets, terms, weights) = zipf_docs(3, 50, 40, 5);
    let docs = SparseDocs { offsets: &offsets, terms: &terms, weights: &weights };
    let idx = BlockIndex::build(&docs, 40, BlockOptions { block_size: 32, quantize: true }).unwrap();
    let o = BmpOptions { k: 10, alpha: 1.0, beta: 1.0, exhaustive: false };
    assert!(idx.search(&[], &o, None).unwrap().is_empty());
    assert!(idx.search(&[(999, 1.0)], &o, None).unwrap().is_empty());
    assert!(idx.search(&[(0, 1.0)], &o, Some(&[false; 50])).unwrap().is_empty());
    assert!(idx.search(&[(0, -1.0)], &o, None).is_err());
    // One document, one block: the single surviving block is scored.
    let one = BlockIndex::build(&SparseDocs { offsets: &[0, 1], terms: &[3], weights: &[0.5] }, 4, BlockOptions { block_size: 8, quantize: true }).unwrap();
    assert_eq!(one.search(&[(3, 2.0)], &o, None).unwrap().len(), 1);
    let empty = BlockIndex::build(&SparseDocs { offsets: &[0], terms: &[], weights: &[] }, 4, BlockOptions { block_size: 8, quantize: false }).unwrap();
    assert!(empty.search(&[(1, 1.0)], &o, None).unwrap().is_empty());
    assert!(BlockIndex::build(&SparseDocs { offsets: &[0, 2], terms: &[1, 1], weights: &[1.0, 1.0] }, 4, BlockOptions { block_size: 8, quantize: false }).is_err());
    assert!(BlockIndex::build(&docs, 40, BlockOptions { block_size: 257, quantize: false }).is_err());
  }

  #[test]
  fn approximate_settings_lose_little_recall_and_round_trip_is_exact() {
    let (offsets, terms, weights) = zipf_docs(4, 5000, 800, 40);
    let docs = SparseDocs { offsets: &offsets, terms: &terms, weights: &weights };
    let idx = BlockIndex::build(&docs, 800, BlockOptions { block_size: 32, quantize: true }).unwrap();
    let mut rng = Rng::new(5);
    let (mut found, mut total) = (0usize, 0usize);
    for _ in 0..30 {
      let q: Vec<(u32, f32)> = (0..10).map(|_| (rng.below(200) as u32, (1 + rng.below(9)) as f32)).collect();
      let exact = idx.search(&q, &BmpOptions { k: 10, alpha: 1.0, beta: 1.0, exhaustive: false }, None).unwrap();
      let approx = idx.search(&q, &BmpOptions { k: 10, alpha: 0.8, beta: 0.7, exhaustive: false }, None).unwrap();
      total += exact.len();
      found += approx.iter().filter(|h| exact.iter().any(|e| e.id == h.id)).count();
    }
    assert!(found as f64 / total as f64 > 0.6, "recall {}", found as f64 / total as f64);
    let mut w = ByteWriter::new();
    idx.write(&mut w);
    let bytes = w.into_bytes();
    let back = BlockIndex::read(&mut ByteReader::new(&bytes)).unwrap();
    let q = [(3u32, 1.0f32), (17, 2.0)];
    let o = BmpOptions { k: 20, alpha: 1.0, beta: 1.0, exhaustive: false };
    assert_eq!(back.search(&q, &o, None).unwrap(), idx.search(&q, &o, None).unwrap());
  }
}
