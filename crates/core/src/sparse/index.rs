//! `SparseIndex`: learned sparse vectors (SPLADE-like term → weight maps), weights quantised
//! to 8 bits with one stored scale, searched with Block-Max Pruning.
//!
//! Scores are the dequantised dot product `Σ_t q_t · scale · byte(d, t)` in f32, summed in
//! term-id order; the exhaustive scan computes exactly the same numbers, so `alpha = 1`
//! returns identical hits (ids, scores, tie order), across segments too.

use super::blocks::{BlockIndex, SearchParams};
use super::reorder;
use super::segments::{commit_ids, Filter, Segment, Segments, MAX_SEGMENTS};
use super::vocab::{canonicalize, PendingTerms, Vocab};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;
use std::sync::Arc;

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
  pub layout: Layout,
}

/// How segments store their postings. Both layouts hold the same block maxima and threshold
/// seeds and return identical hits (ids, scores, tie order); they differ in speed and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
  /// Block-forward (the BMP reference's layout): each block's postings grouped by term, blocks
  /// scored best bound first.
  #[default]
  Blocks,
  /// Term-major (BM25's layout, see `term_major`): each term's postings in document order,
  /// searched block-max term-at-a-time in windows of 64 blocks. On the bench's topical corpus
  /// (synthetic, 20-term queries, input order; two runs) 10–11× / 5.8–7× faster at k = 10 and
  /// 25–31× / 21–26× at k = 1000 (10⁵ / 10⁶ docs), and about 22% smaller.
  Terms,
}

impl Default for SparseIndexOptions {
  fn default() -> Self {
    SparseIndexOptions {
      block_size: 32,
      quantization: Quantization::default(),
      reorder: Reorder::None,
      layout: Layout::Blocks,
    }
  }
}

/// A learned sparse index: one or more segments (see [`super::segments`]) over one vocabulary
/// and one quantisation scale.
///
/// Incremental updates: [`add`](Self::add) quantises new documents with the index's stored
/// scale (and clamp setting) into a new segment, reordered like the first when `reorder` is
/// `Bp`; [`delete`](Self::delete) tombstones documents; [`compact`](Self::compact) rebuilds one
/// segment over the live documents. Scores never depend on other documents, so results after
/// `add`/`delete` equal a fresh build (with `quantization.scale` = this index's scale) over the
/// live documents, ids, scores and tie order (insertion order) included.
#[derive(Clone, Debug)]
pub struct SparseIndex {
  named: bool,
  /// Shared between snapshots (see `ids`).
  vocab: Arc<Vocab>,
  scale: f32,
  clamp: bool,
  block_size: usize,
  reorder: Reorder,
  /// The layout of segments this index builds (`add`, `compact`); loaded: the first segment's.
  layout: Layout,
  /// Every internal id since the last build/compaction (deleted ones stay until `compact`, and
  /// stay bound until their id is added again). Shared between snapshots, so cloning the index
  /// for a copy-on-write `delete` copies no per-document data but the tombstone bitmaps.
  ids: Arc<IdMap>,
  segs: Segments<u8>,
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

/// Weighted rows (term ids possibly repeated, unsorted) of `vecs`; new named terms go to `pending`.
fn to_rows(
  vecs: Vec<SparseVector>,
  named: bool,
  pending: &mut PendingTerms<'_>,
) -> Result<Vec<(Vec<u32>, Vec<f32>)>> {
  let mut rows: Vec<(Vec<u32>, Vec<f32>)> = Vec::with_capacity(vecs.len());
  for (i, v) in vecs.into_iter().enumerate() {
    let what = format!("document {i}");
    match v {
      SparseVector::Named(pairs) => {
        if !named {
          return Err(Error::InvalidArg(format!(
            "{what}: uses `terms` but this index uses `indices`; use one form per index"
          )));
        }
        let mut t = Vec::with_capacity(pairs.len());
        let mut w = Vec::with_capacity(pairs.len());
        for (s, x) in pairs {
          check_weight(x, &what)?;
          t.push(pending.id(&s)?);
          w.push(x);
        }
        rows.push((t, w));
      }
      SparseVector::Indexed(t, w) => {
        if named {
          return Err(Error::InvalidArg(format!(
            "{what}: uses `indices` but this index uses `terms`; use one form per index"
          )));
        }
        if t.len() != w.len() {
          return Err(Error::InvalidArg(format!(
            "{what}: indices ({}) and values ({}) differ in length",
            t.len(),
            w.len()
          )));
        }
        for &x in &w {
          check_weight(x, &what)?;
        }
        rows.push((t, w));
      }
    }
  }
  Ok(rows)
}

fn max_index(rows: &[(Vec<u32>, Vec<f32>)]) -> usize {
  rows
    .iter()
    .flat_map(|r| r.0.iter())
    .max()
    .map_or(0, |&m| m as usize + 1)
}

/// A segment over `csr` (local ids 0..n), BP-reordered when asked.
fn make_segment(
  start: u32,
  n_terms: usize,
  csr: &Csr<u8>,
  block_size: usize,
  reorder: Reorder,
  layout: Layout,
) -> Result<Segment<u8>> {
  let n = csr.ptr.len() - 1;
  let pos_to_id = match reorder {
    Reorder::None => Vec::new(),
    Reorder::Bp => reorder::bisect(n, n_terms, &csr.ptr, &csr.terms),
  };
  let doc = |pos: usize| {
    let i = if pos_to_id.is_empty() {
      pos
    } else {
      pos_to_id[pos] as usize
    };
    let (a, b) = (csr.ptr[i], csr.ptr[i + 1]);
    (&csr.terms[a..b], &csr.vals[a..b])
  };
  let blocks = match layout {
    Layout::Blocks => BlockIndex::build(n, n_terms, block_size, doc)?,
    Layout::Terms => BlockIndex::build_term_major(n, n_terms, block_size, doc)?,
  };
  Segment::new(start, blocks, pos_to_id)
}

impl SparseIndex {
  /// Builds an index. Documents with no positive weight are kept (they never match).
  /// Named terms get ids in byte order of the term strings (see [`canonicalize`]).
  pub fn build(docs: Vec<(ExternalId, SparseVector)>, opts: &SparseIndexOptions) -> Result<Self> {
    if !(1..=256).contains(&opts.block_size) {
      return Err(Error::InvalidArg(format!(
        "blockSize must be in [1, 256] (got {})",
        opts.block_size
      )));
    }
    let named = docs.first().is_none_or(|d| matches!(d.1, SparseVector::Named(_)));
    let mut ids = IdMap::new();
    let (ext, vecs): (Vec<ExternalId>, Vec<SparseVector>) = docs.into_iter().unzip();
    ids.push_batch(ext)?;
    let empty = Vocab::new();
    let mut pending = PendingTerms::new(&empty);
    let mut rows = to_rows(vecs, named, &mut pending)?;
    let (vocab, n_terms) = if named {
      let v = canonicalize(pending.len(), |t| pending.name(t), &mut rows)?;
      let n = v.len();
      (v, n)
    } else {
      (Vocab::new(), max_index(&rows))
    };
    // Scale.
    let max_w = rows.iter().flat_map(|r| r.1.iter()).fold(0f32, |a, &b| a.max(b));
    let scale = match opts.quantization.scale {
      Some(s) if !(s.is_finite() && s > 0.0) => {
        return Err(Error::InvalidArg(format!(
          "quantization.scale must be a positive finite number (got {s})"
        )))
      }
      Some(s) => s,
      None if max_w > 0.0 => max_w / 255.0,
      None => 1.0,
    };
    let clamp = opts.quantization.clamp;
    let csr = quantize_rows(rows, scale, clamp)?;
    let mut idx = Self::from_csr(
      named,
      vocab,
      n_terms,
      scale,
      ids,
      csr,
      opts.block_size,
      opts.reorder,
      opts.layout,
    )?;
    idx.clamp = clamp;
    Ok(idx)
  }

  #[allow(clippy::too_many_arguments)] // internal constructor shared by build, compact and CIFF import
  pub(crate) fn from_csr(
    named: bool,
    vocab: Vocab,
    n_terms: usize,
    scale: f32,
    ids: IdMap,
    csr: Csr<u8>,
    block_size: usize,
    reorder: Reorder,
    layout: Layout,
  ) -> Result<Self> {
    let mut segs = Segments::new();
    segs.push(make_segment(0, n_terms, &csr, block_size, reorder, layout)?);
    Ok(SparseIndex {
      named,
      vocab: Arc::new(vocab),
      scale,
      clamp: false,
      block_size,
      reorder,
      layout,
      ids: Arc::new(ids),
      segs,
    })
  }

  /// Adds documents as a new segment, quantised with this index's scale and clamp setting
  /// (a weight above 255 · scale is an error unless the index was built with `clamp`).
  /// Ids must be new: an id of a live document is `DuplicateId`; a deleted document's id may be
  /// used again. On any error the index is unchanged. The add that would make more than
  /// [`MAX_SEGMENTS`] segments compacts the index instead.
  pub fn add(&mut self, docs: Vec<(ExternalId, SparseVector)>) -> Result<()> {
    if docs.is_empty() {
      return Ok(());
    }
    let (ext, vecs): (Vec<ExternalId>, Vec<SparseVector>) = docs.into_iter().unzip();
    // Ids of deleted documents are still bound (see `ids`): free those this batch re-adds.
    let released = self.segs.ids_for_add(&self.ids, &ext)?;
    // An index that never held a document takes its form from the first batch.
    let named = if self.ids.is_empty() {
      matches!(vecs[0], SparseVector::Named(_))
    } else {
      self.named
    };
    let mut pending = PendingTerms::new(&self.vocab);
    let rows = to_rows(vecs, named, &mut pending)?;
    let n_terms = if named {
      pending.len()
    } else {
      max_index(&rows).max(self.segs.n_terms())
    };
    let new_terms = pending.into_new_terms();
    let csr = quantize_rows(rows, self.scale, self.clamp)?;
    let start = crate::validate::to_u32(self.ids.len(), "document count")?;
    let seg = make_segment(start, n_terms, &csr, self.block_size, self.reorder, self.layout)?;
    // Nothing below fails: commit.
    self.named = named;
    Arc::make_mut(&mut self.vocab).extend_new(new_terms)?;
    commit_ids(&mut self.ids, released, ext);
    self.segs.push(seg);
    if self.segs.count() > MAX_SEGMENTS {
      self.compact()?;
    }
    Ok(())
  }

  /// Deletes documents by id; returns how many were deleted. Ids not in the index (never added,
  /// already deleted, or of the other id type) are ignored. Deleted documents never appear in
  /// results; their storage is reclaimed by [`compact`](Self::compact).
  pub fn delete(&mut self, ids: &[ExternalId]) -> usize {
    self.segs.delete_external(&self.ids, ids)
  }

  /// Rebuilds one segment over the live documents (insertion order kept), dropping deleted
  /// ones; identical to a fresh build over them with `quantization.scale` = this scale.
  pub fn compact(&mut self) -> Result<()> {
    let total = self.ids.len();
    let mut rows: Vec<(Vec<u32>, Vec<u8>)> = vec![(Vec::new(), Vec::new()); total];
    for s in self.segs.list() {
      s.blocks().for_each_posting(|pos, t, v| {
        let r = &mut rows[(s.start() + s.local_id(pos)) as usize];
        r.0.push(t);
        r.1.push(v);
      });
    }
    let mut ids = IdMap::new();
    let mut live_rows = Vec::with_capacity(total - self.segs.n_dead());
    let mut live_ids = Vec::with_capacity(live_rows.capacity());
    for (i, r) in rows.into_iter().enumerate() {
      if self.segs.is_alive(i as u32) {
        live_ids.push(self.ids.get(i as u32));
        live_rows.push(r);
      }
    }
    ids.push_batch(live_ids)?;
    let (vocab, n_terms) = if self.named {
      let v = canonicalize(
        self.vocab.len(),
        |t| self.vocab.term(t).unwrap_or(""),
        &mut live_rows,
      )?;
      let n = v.len();
      (v, n)
    } else {
      // Rows come out sorted by term (blocks list groups in term order).
      (Vocab::new(), self.segs.n_terms())
    };
    let mut csr = Csr {
      ptr: vec![0usize],
      terms: Vec::new(),
      vals: Vec::new(),
    };
    for (t, v) in live_rows {
      csr.terms.extend(t);
      csr.vals.extend(v);
      csr.ptr.push(csr.terms.len());
    }
    let mut idx = Self::from_csr(
      self.named,
      vocab,
      n_terms,
      self.scale,
      ids,
      csr,
      self.block_size,
      self.reorder,
      self.layout,
    )?;
    idx.clamp = self.clamp;
    *self = idx;
    Ok(())
  }

  /// Live documents.
  pub fn len(&self) -> usize {
    self.ids.len() - self.segs.n_dead()
  }
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
  pub fn scale(&self) -> f32 {
    self.scale
  }
  pub fn clamps(&self) -> bool {
    self.clamp
  }
  pub fn block_size(&self) -> usize {
    self.block_size
  }
  pub fn reorder(&self) -> Reorder {
    self.reorder
  }
  pub fn layout(&self) -> Layout {
    self.layout
  }
  pub fn n_terms(&self) -> usize {
    self.segs.n_terms()
  }
  /// Stored postings, deleted documents' included until `compact`.
  pub fn n_postings(&self) -> usize {
    self.segs.n_postings()
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
  pub fn segments(&self) -> &Segments<u8> {
    &self.segs
  }
  /// Deleted documents not yet compacted away.
  pub fn n_deleted(&self) -> usize {
    self.segs.n_dead()
  }
  pub fn external_id(&self, internal: u32) -> ExternalId {
    self.ids.get(internal)
  }

  /// Query → sorted unique (term, weight · scale). Unknown terms are ignored; zero weights dropped.
  pub fn prepare_query(&self, q: &SparseVector) -> Result<Vec<(u32, f32)>> {
    let mut out: Vec<(u32, f32)> = Vec::new();
    let mut push = |t: Option<u32>, w: f32| -> Result<()> {
      if !w.is_finite() || w < 0.0 {
        return Err(Error::InvalidArg(format!(
          "query weights must be finite and ≥ 0 (got {w})"
        )));
      }
      if let Some(t) = t {
        if w > 0.0 {
          out.push((t, w));
        }
      }
      Ok(())
    };
    let any = !self.ids.is_empty();
    match q {
      SparseVector::Named(pairs) => {
        if !self.named && any {
          return Err(Error::invalid(
            "query: this index was built with `indices`; query with indices/values",
          ));
        }
        for (s, w) in pairs {
          push(self.vocab.get(s), *w)?;
        }
      }
      SparseVector::Indexed(t, w) => {
        if self.named && any {
          return Err(Error::invalid(
            "query: this index was built with `terms`; query with terms",
          ));
        }
        if t.len() != w.len() {
          return Err(Error::InvalidArg(format!(
            "query: indices ({}) and values ({}) differ in length",
            t.len(),
            w.len()
          )));
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

  /// Allowed-id filter (unknown and deleted ids are ignored).
  pub fn filter_bitset(&self, allowed: &[ExternalId]) -> Filter {
    self
      .segs
      .filter(allowed.iter().filter_map(|id| self.ids.lookup(id)))
  }

  pub fn search(
    &self,
    q: &SparseVector,
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
  ) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    params.validate()?;
    let q = self.prepare_query(q)?;
    Ok(self.segs.search(&q, k, params, filter))
  }

  pub fn search_batch(
    &self,
    queries: &[SparseVector],
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    params.validate()?;
    let prepared: Vec<Vec<(u32, f32)>> = queries
      .iter()
      .map(|q| self.prepare_query(q))
      .collect::<Result<_>>()?;
    Ok(parallel::with_threads(threads, || {
      prepared
        .par_iter()
        .map(|q| self.segs.search(q, k, params, filter))
        .collect()
    }))
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let empty_names: &[&'static str] = match self.layout {
      Layout::Blocks => &BlockIndex::<u8>::FORWARD_COMPONENTS,
      Layout::Terms => &BlockIndex::<u8>::TERM_MAJOR_COMPONENTS,
    };
    let mut v = self.segs.memory_usage(empty_names);
    v.push(("vocabulary", self.vocab.memory_bytes()));
    v.push(("ids", self.ids.memory_bytes()));
    v
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put_bool(self.named)
      .put(self.scale)
      .put(self.block_size as u32)
      .put_bool(self.reorder == Reorder::Bp)
      .put_bool(self.clamp);
    let mut w = ContainerWriter::new(Kind::SparseIndex, p.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    w.section(b"VOCB", v.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    self.segs.write(&mut w, b'S');
    w.to_bytes()
  }

  /// Reads the segmented layout, and the single-segment layout of earlier versions (no `SEGS`
  /// section, no clamp flag).
  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::SparseIndex)?;
    let segmented = c.optional_section(b"SEGS").is_some();
    let mut p = ByteReader::new(c.params());
    let named = p.get_bool("named")?;
    let scale: f32 = p.get("scale")?;
    let block_size = p.get::<u32>("block size")? as usize;
    let reordered = p.get_bool("reordered")?;
    let clamp = if segmented { p.get_bool("clamp")? } else { false };
    p.finish("parameters")?;
    if !(scale.is_finite() && scale > 0.0) {
      return Err(Error::corrupt(format!("invalid scale {scale}")));
    }
    let mut vr = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut vr)?;
    vr.finish("vocabulary")?;
    let segs = Segments::<u8>::read(&c, b'S', reordered)?;
    let mut ir = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read_unbound(&mut ir, &segs.dead_ids())?;
    ir.finish("ids")?;
    let n = ids.len();
    if segs.n_docs() != n {
      return Err(Error::corrupt(format!(
        "segments hold {} docs, ids {n}",
        segs.n_docs()
      )));
    }
    for s in segs.list() {
      if s.blocks().block_size() != block_size {
        return Err(Error::corrupt(format!(
          "a segment has block size {}, the index {block_size}",
          s.blocks().block_size()
        )));
      }
      if named && s.blocks().n_terms() > vocab.len() {
        return Err(Error::corrupt("a segment's term count exceeds the vocabulary"));
      }
    }
    if !segmented && named && segs.n_docs() > 0 && segs.n_terms() != vocab.len() {
      return Err(Error::corrupt(
        "vocabulary size differs from the block index's term count",
      ));
    }
    let reorder = if reordered { Reorder::Bp } else { Reorder::None };
    // Not stored: a file's segments carry their layout (an empty index builds block-forward).
    let layout = match segs.list().first() {
      Some(s) if s.blocks().is_term_major() => Layout::Terms,
      _ => Layout::Blocks,
    };
    Ok(SparseIndex {
      named,
      vocab: Arc::new(vocab),
      scale,
      clamp,
      block_size,
      reorder,
      layout,
      ids: Arc::new(ids),
      segs,
    })
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
