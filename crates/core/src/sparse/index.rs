//! `SparseIndex`: learned sparse vectors (SPLADE-like term → weight maps), weights quantised
//! to 8 bits with one stored scale, searched with Block-Max Pruning.
//!
//! Scores are the dequantised dot product `Σ_t q_t · scale · byte(d, t)` in f32, summed in
//! term-id order; the exhaustive scan computes exactly the same numbers, so `alpha = 1`
//! returns identical hits (ids, scores, tie order).

use super::blocks::{BlockIndex, SearchParams};
use super::reorder;
use super::vocab::Vocab;
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;

/// A document's or query's terms: named (string vocabulary) or by index (numeric vocabulary).
#[derive(Clone, Debug)]
pub enum SparseVector {
  Named(Vec<(String, f32)>),
  Indexed(Vec<u32>, Vec<f32>),
}

/// How weights become bytes.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Quantization {
  /// byte = round(weight / scale). None: max weight / 255 over the corpus (nothing clamps).
  pub scale: Option<f32>,
  /// Clamp weights above 255 · scale to 255 and negative weights to 0 instead of failing.
  pub clamp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reorder {
  /// Keep insertion order.
  None,
  /// Recursive graph bisection (BP) so that similar documents share blocks.
  Bp,
}

#[derive(Clone, Debug)]
pub struct SparseIndexOptions {
  /// Documents per block, 1..=256 (default 32).
  pub block_size: usize,
  pub quantization: Quantization,
  pub reorder: Reorder,
}

impl Default for SparseIndexOptions {
  fn default() -> Self {
    SparseIndexOptions { block_size: 32, quantization: Quantization::default(), reorder: Reorder::None }
  }
}

#[derive(Clone, Debug)]
pub struct SparseIndex {
  named: bool,
  vocab: Vocab,
  scale: f32,
  block_size: usize,
  reordered: bool,
  /// Doc position → internal id (empty when not reordered).
  pos_to_id: Vec<u32>,
  /// Internal id → doc position (empty when not reordered).
  id_to_pos: Vec<u32>,
  ids: IdMap,
  blocks: BlockIndex<u8>,
}

/// Documents as CSR over internal ids: `ptr[i]..ptr[i+1]` into sorted unique terms and values.
pub(crate) struct Csr<T> {
  pub ptr: Vec<usize>,
  pub terms: Vec<u32>,
  pub vals: Vec<T>,
}

fn check_weight(w: f32, what: &str) -> Result<()> {
  if !w.is_finite() {
    return Err(Error::InvalidArg(format!("{what}: weight {w} is not finite")));
  }
  Ok(())
}

impl SparseIndex {
  /// Builds an index. Documents with no positive weight are kept (they never match).
  pub fn build(docs: Vec<(ExternalId, SparseVector)>, opts: &SparseIndexOptions) -> Result<Self> {
    if !(1..=256).contains(&opts.block_size) {
      return Err(Error::InvalidArg(format!("blockSize must be in [1, 256] (got {})", opts.block_size)));
    }
    let named = docs.first().is_none_or(|d| matches!(d.1, SparseVector::Named(_)));
    let mut ids = IdMap::new();
    let (ext, vecs): (Vec<ExternalId>, Vec<SparseVector>) = docs.into_iter().unzip();
    ids.push_batch(ext)?;
    // Map to term ids (sequential: the vocabulary grows in document order).
    let mut vocab = Vocab::new();
    let mut rows: Vec<(Vec<u32>, Vec<f32>)> = Vec::with_capacity(vecs.len());
    for (i, v) in vecs.into_iter().enumerate() {
      let what = format!("document {i}");
      match v {
        SparseVector::Named(pairs) => {
          if !named {
            return Err(Error::InvalidArg(format!("{what}: uses `terms` but the first document uses `indices`; use one form per index")));
          }
          let mut t = Vec::with_capacity(pairs.len());
          let mut w = Vec::with_capacity(pairs.len());
          for (s, x) in pairs {
            check_weight(x, &what)?;
            t.push(vocab.intern(&s)?);
            w.push(x);
          }
          rows.push((t, w));
        }
        SparseVector::Indexed(t, w) => {
          if named {
            return Err(Error::InvalidArg(format!("{what}: uses `indices` but the first document uses `terms`; use one form per index")));
          }
          if t.len() != w.len() {
            return Err(Error::InvalidArg(format!("{what}: indices ({}) and values ({}) differ in length", t.len(), w.len())));
          }
          for &x in &w {
            check_weight(x, &what)?;
          }
          rows.push((t, w));
        }
      }
    }
    let n_terms = if named {
      vocab.len()
    } else {
      rows.iter().flat_map(|r| r.0.iter()).max().map_or(0, |&m| m as usize + 1)
    };
    // Scale.
    let max_w = rows.iter().flat_map(|r| r.1.iter()).fold(0f32, |a, &b| a.max(b));
    let scale = match opts.quantization.scale {
      Some(s) if !(s.is_finite() && s > 0.0) => {
        return Err(Error::InvalidArg(format!("quantization.scale must be a positive finite number (got {s})")))
      }
      Some(s) => s,
      None if max_w > 0.0 => max_w / 255.0,
      None => 1.0,
    };
    let clamp = opts.quantization.clamp;
    let csr = quantize_rows(rows, scale, clamp)?;
    Self::from_csr(named, vocab, n_terms, scale, ids, csr, opts.block_size, opts.reorder)
  }

  #[allow(clippy::too_many_arguments)] // internal constructor shared by build and CIFF import
  pub(crate) fn from_csr(
    named: bool,
    vocab: Vocab,
    n_terms: usize,
    scale: f32,
    ids: IdMap,
    csr: Csr<u8>,
    block_size: usize,
    reorder: Reorder,
  ) -> Result<Self> {
    let n = ids.len();
    let (pos_to_id, id_to_pos) = match reorder {
      Reorder::None => (Vec::new(), Vec::new()),
      Reorder::Bp => {
        let p = reorder::bisect(n, n_terms, &csr.ptr, &csr.terms);
        let mut inv = vec![0u32; n];
        for (pos, &id) in p.iter().enumerate() {
          inv[id as usize] = pos as u32;
        }
        (p, inv)
      }
    };
    let blocks = BlockIndex::build(n, n_terms, block_size, |pos| {
      let i = if pos_to_id.is_empty() { pos } else { pos_to_id[pos] as usize };
      let (a, b) = (csr.ptr[i], csr.ptr[i + 1]);
      (&csr.terms[a..b], &csr.vals[a..b])
    })?;
    Ok(SparseIndex {
      named,
      vocab,
      scale,
      block_size,
      reordered: reorder == Reorder::Bp,
      pos_to_id,
      id_to_pos,
      ids,
      blocks,
    })
  }

  pub fn len(&self) -> usize {
    self.ids.len()
  }
  pub fn is_empty(&self) -> bool {
    self.ids.is_empty()
  }
  pub fn scale(&self) -> f32 {
    self.scale
  }
  pub fn block_size(&self) -> usize {
    self.block_size
  }
  pub fn n_terms(&self) -> usize {
    self.blocks.n_terms()
  }
  pub fn n_postings(&self) -> usize {
    self.blocks.n_postings()
  }
  pub fn is_named(&self) -> bool {
    self.named
  }
  pub fn vocab(&self) -> &Vocab {
    &self.vocab
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn blocks(&self) -> &BlockIndex<u8> {
    &self.blocks
  }
  /// Position of an internal id in the block order.
  pub fn position(&self, id: u32) -> usize {
    if self.id_to_pos.is_empty() {
      id as usize
    } else {
      self.id_to_pos[id as usize] as usize
    }
  }
  pub fn external_id(&self, internal: u32) -> ExternalId {
    self.ids.get(internal)
  }

  /// Query → sorted unique (term, weight · scale). Unknown terms are ignored; zero weights dropped.
  pub fn prepare_query(&self, q: &SparseVector) -> Result<Vec<(u32, f32)>> {
    let mut out: Vec<(u32, f32)> = Vec::new();
    let mut push = |t: Option<u32>, w: f32| -> Result<()> {
      if !w.is_finite() || w < 0.0 {
        return Err(Error::InvalidArg(format!("query weights must be finite and ≥ 0 (got {w})")));
      }
      if let Some(t) = t {
        if w > 0.0 {
          out.push((t, w));
        }
      }
      Ok(())
    };
    match q {
      SparseVector::Named(pairs) => {
        if !self.named && !self.is_empty() {
          return Err(Error::invalid("query: this index was built with `indices`; query with indices/values"));
        }
        for (s, w) in pairs {
          push(self.vocab.get(s), *w)?;
        }
      }
      SparseVector::Indexed(t, w) => {
        if self.named && !self.is_empty() {
          return Err(Error::invalid("query: this index was built with `terms`; query with terms"));
        }
        if t.len() != w.len() {
          return Err(Error::InvalidArg(format!("query: indices ({}) and values ({}) differ in length", t.len(), w.len())));
        }
        for (&t, &w) in t.iter().zip(w) {
          push(Some(t), w)?;
        }
      }
    }
    out.sort_by_key(|e| e.0);
    if out.windows(2).any(|p| p[0].0 == p[1].0) {
      return Err(Error::invalid("query: a term appears twice"));
    }
    for e in &mut out {
      e.1 *= self.scale;
    }
    Ok(out)
  }

  /// Allowed-id filter → bitset over positions (unknown ids are ignored).
  pub fn filter_bitset(&self, allowed: &[ExternalId]) -> Vec<u64> {
    let mut bits = vec![0u64; self.len().div_ceil(64)];
    for id in allowed {
      if let Some(i) = self.ids.lookup(id) {
        let p = self.position(i);
        bits[p / 64] |= 1 << (p % 64);
      }
    }
    bits
  }

  pub fn search(&self, q: &SparseVector, k: usize, params: &SearchParams, filter: Option<&[u64]>) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    params.validate()?;
    let q = self.prepare_query(q)?;
    Ok(self.blocks.search(&q, k, params, filter, &self.pos_to_id))
  }

  pub fn search_batch(
    &self,
    queries: &[SparseVector],
    k: usize,
    params: &SearchParams,
    filter: Option<&[u64]>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    params.validate()?;
    let prepared: Vec<Vec<(u32, f32)>> = queries.iter().map(|q| self.prepare_query(q)).collect::<Result<_>>()?;
    Ok(parallel::with_threads(threads, || {
      prepared.par_iter().map(|q| self.blocks.search(q, k, params, filter, &self.pos_to_id)).collect()
    }))
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let mut v = self.blocks.memory_usage();
    v.push(("vocabulary", self.vocab.memory_bytes()));
    v.push(("ids", self.ids.memory_bytes()));
    v.push(("reorder", (self.pos_to_id.len() + self.id_to_pos.len()) * 4));
    v
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put_bool(self.named).put(self.scale).put(self.block_size as u32).put_bool(self.reordered);
    let mut w = ContainerWriter::new(Kind::SparseIndex, p.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    w.section(b"VOCB", v.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    let mut perm = ByteWriter::new();
    perm.put_raw(&self.pos_to_id);
    w.section(b"PERM", perm.into_bytes());
    self.blocks.write(&mut w, b'S');
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::SparseIndex)?;
    let mut p = ByteReader::new(c.params());
    let named = p.get_bool("named")?;
    let scale: f32 = p.get("scale")?;
    let block_size = p.get::<u32>("block size")? as usize;
    let reordered = p.get_bool("reordered")?;
    p.finish("parameters")?;
    if !(scale.is_finite() && scale > 0.0) {
      return Err(Error::corrupt(format!("invalid scale {scale}")));
    }
    let mut vr = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut vr)?;
    vr.finish("vocabulary")?;
    let mut ir = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read(&mut ir)?;
    ir.finish("ids")?;
    let blocks = BlockIndex::<u8>::read(&c, b'S')?;
    let n = ids.len();
    if blocks.n_docs() != n || blocks.block_size() != block_size {
      return Err(Error::corrupt(format!("block index holds {} docs (block size {}), ids {n}", blocks.n_docs(), blocks.block_size())));
    }
    if named && blocks.n_terms() != vocab.len() {
      return Err(Error::corrupt("vocabulary size differs from the block index's term count"));
    }
    let perm_b = c.section(b"PERM")?;
    let pos_to_id: Vec<u32> = ByteReader::new(perm_b).get_raw(perm_b.len() / 4, "permutation")?;
    let id_to_pos = if reordered {
      if pos_to_id.len() != n || perm_b.len() % 4 != 0 {
        return Err(Error::corrupt("permutation length differs from the document count"));
      }
      let mut inv = vec![u32::MAX; n];
      for (pos, &id) in pos_to_id.iter().enumerate() {
        if id as usize >= n || inv[id as usize] != u32::MAX {
          return Err(Error::corrupt("permutation is not a permutation"));
        }
        inv[id as usize] = pos as u32;
      }
      inv
    } else {
      if !pos_to_id.is_empty() {
        return Err(Error::corrupt("permutation present in an index that is not reordered"));
      }
      Vec::new()
    };
    Ok(SparseIndex { named, vocab, scale, block_size, reordered, pos_to_id, id_to_pos, ids, blocks })
  }
}

/// Validates and quantises rows; sorts each by term; rejects repeated terms.
fn quantize_rows(rows: Vec<(Vec<u32>, Vec<f32>)>, scale: f32, clamp: bool) -> Result<Csr<u8>> {
  let mut ptr = Vec::with_capacity(rows.len() + 1);
  ptr.push(0usize);
  let mut terms = Vec::new();
  let mut vals = Vec::new();
  let mut pairs: Vec<(u32, u8)> = Vec::new();
  for (i, (t, w)) in rows.into_iter().enumerate() {
    pairs.clear();
    for (t, w) in t.into_iter().zip(w) {
      let mut q = (w / scale).round();
      if w < 0.0 || q > 255.0 {
        if !clamp {
          return Err(Error::InvalidArg(format!(
            "document {i}: weight {w} is outside [0, {}] for quantization scale {scale} (pass quantization.clamp to clamp it)",
            255.0 * scale
          )));
        }
        q = q.clamp(0.0, 255.0);
      }
      pairs.push((t, q as u8));
    }
    pairs.sort_unstable_by_key(|p| p.0);
    if pairs.windows(2).any(|p| p[0].0 == p[1].0) {
      return Err(Error::InvalidArg(format!("document {i}: a term appears twice")));
    }
    // Weights that round to 0 carry no score: drop the posting.
    pairs.retain(|p| p.1 > 0);
    terms.extend(pairs.iter().map(|p| p.0));
    vals.extend(pairs.iter().map(|p| p.1));
    ptr.push(terms.len());
  }
  Ok(Csr { ptr, terms, vals })
}
