//! `BM25Index`: BM25 scored eagerly at build time (as bm25s does, except the idf) into one f32
//! impact per (document, term), stored in the same block index as learned sparse vectors and
//! searched with block-max pruning, so a query never touches an O(N) accumulator.
//!
//! The five bm25s variants (`bm25s/scoring.py`), with L = document length in tokens after
//! stop-word removal, Lavg its corpus mean, N documents, df document frequency:
//!
//! | method    | tfc(tf)                                             | idf                          |
//! |-----------|-----------------------------------------------------|------------------------------|
//! | robertson | tf / (k1·(1−b+b·L/Lavg) + tf)                        | ln(max(1, (N−df+.5)/(df+.5)))|
//! | lucene    | same as robertson                                   | ln(1 + (N−df+.5)/(df+.5))    |
//! | atire     | (k1+1)·tf / (tf + k1·(1−b+b·L/Lavg))                 | ln(N/df)                     |
//! | bm25l     | c = tf/(1−b+b·L/Lavg); (k1+1)(c+δ)/(k1+c+δ)          | ln((N+1)/(df+.5))            |
//! | bm25+     | (k1+1)·tf/(k1·(1−b+b·L/Lavg)+tf) + δ                 | ln((N+1)/df)                 |
//!
//! BM25L and BM25+ give a non-zero tfc at tf = 0: as in bm25s the score of a document is
//! `Σ_q idf·(tfc(tf) − tfc(0))` plus the shift `Σ_q idf·tfc(0)` added to every returned
//! score, so scores equal bm25s's. A query token repeated n times counts n times.
//! Only documents containing at least one query token are returned.
//!
//! The idf is applied at query time (the query weight of t is count · idf(t)) and a posting
//! stores only idf-free tfc(tf) − tfc(0), so that segments added later share one global idf;
//! see [`Bm25Index`] for the statistics between compactions.

use super::blocks::{BlockIndex, SearchParams};
use super::segments::{commit_ids, Filter, Segment, Segments, MAX_SEGMENTS};
use super::tokenize::{Tokenizer, TokenizerOptions};
use super::vocab::{canonicalize, PendingTerms, Vocab};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bm25Method {
  Lucene,
  Robertson,
  Atire,
  Bm25l,
  Bm25Plus,
}

impl Bm25Method {
  pub fn parse(s: &str) -> Result<Self> {
    Ok(match s {
      "lucene" => Bm25Method::Lucene,
      "robertson" => Bm25Method::Robertson,
      "atire" => Bm25Method::Atire,
      "bm25l" => Bm25Method::Bm25l,
      "bm25+" | "bm25plus" => Bm25Method::Bm25Plus,
      _ => {
        return Err(Error::InvalidArg(format!(
          "method must be one of lucene, robertson, atire, bm25l, bm25+ (got '{s}')"
        )))
      }
    })
  }
  pub fn name(self) -> &'static str {
    match self {
      Bm25Method::Lucene => "lucene",
      Bm25Method::Robertson => "robertson",
      Bm25Method::Atire => "atire",
      Bm25Method::Bm25l => "bm25l",
      Bm25Method::Bm25Plus => "bm25+",
    }
  }
  fn code(self) -> u8 {
    self as u8
  }
  fn from_code(c: u8) -> Result<Self> {
    [
      Bm25Method::Lucene,
      Bm25Method::Robertson,
      Bm25Method::Atire,
      Bm25Method::Bm25l,
      Bm25Method::Bm25Plus,
    ]
    .get(c as usize)
    .copied()
    .ok_or_else(|| Error::corrupt(format!("unknown BM25 method {c}")))
  }
  fn shifted(self) -> bool {
    matches!(self, Bm25Method::Bm25l | Bm25Method::Bm25Plus)
  }
}

#[derive(Clone, Debug)]
pub struct Bm25Options {
  /// Default lucene.
  pub method: Bm25Method,
  /// Term-frequency saturation, ≥ 0 (default 1.5).
  pub k1: f64,
  /// Length normalisation, in [0, 1] (default 0.75).
  pub b: f64,
  /// BM25L/BM25+ lower bound δ, ≥ 0 (default 0.5).
  pub delta: f64,
  pub tokenizer: TokenizerOptions,
  /// Documents per block, 1..=256 (default 32).
  pub block_size: usize,
}

impl Default for Bm25Options {
  fn default() -> Self {
    Bm25Options {
      method: Bm25Method::Lucene,
      k1: 1.5,
      b: 0.75,
      delta: 0.5,
      tokenizer: TokenizerOptions::default(),
      block_size: 32,
    }
  }
}

impl Bm25Options {
  fn validate(&self) -> Result<()> {
    if !(self.k1.is_finite() && self.k1 >= 0.0) {
      return Err(Error::InvalidArg(format!(
        "k1 must be a finite number ≥ 0 (got {})",
        self.k1
      )));
    }
    if !(0.0..=1.0).contains(&self.b) {
      return Err(Error::InvalidArg(format!("b must be in [0, 1] (got {})", self.b)));
    }
    if !(self.delta.is_finite() && self.delta >= 0.0) {
      return Err(Error::InvalidArg(format!(
        "delta must be a finite number ≥ 0 (got {})",
        self.delta
      )));
    }
    if !(1..=256).contains(&self.block_size) {
      return Err(Error::InvalidArg(format!(
        "blockSize must be in [1, 256] (got {})",
        self.block_size
      )));
    }
    Ok(())
  }
}

/// idf of a term with document frequency `df` among `n` documents (f64, bm25s formulas).
pub fn idf(method: Bm25Method, n: f64, df: f64) -> f64 {
  match method {
    Bm25Method::Robertson => ((n - df + 0.5) / (df + 0.5)).max(1.0).ln(),
    Bm25Method::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
    Bm25Method::Atire => (n / df).ln(),
    Bm25Method::Bm25l => ((n + 1.0) / (df + 0.5)).ln(),
    Bm25Method::Bm25Plus => ((n + 1.0) / df).ln(),
  }
}

/// Term-frequency component for a document of length `l` (corpus mean `lavg`).
pub fn tfc(method: Bm25Method, tf: f64, l: f64, lavg: f64, k1: f64, b: f64, delta: f64) -> f64 {
  let norm = if lavg > 0.0 { 1.0 - b + b * l / lavg } else { 1.0 };
  match method {
    Bm25Method::Robertson | Bm25Method::Lucene => tf / (k1 * norm + tf),
    Bm25Method::Atire => (k1 + 1.0) * tf / (tf + k1 * norm),
    Bm25Method::Bm25l => {
      let c = tf / norm;
      (k1 + 1.0) * (c + delta) / (k1 + c + delta)
    }
    Bm25Method::Bm25Plus => (k1 + 1.0) * tf / (k1 * norm + tf) + delta,
  }
}

/// Term frequency of every posting of a segment, in block order: one byte each, 255 meaning
/// "see `big`" (sorted (posting, tf) pairs for tf ≥ 255). Kept so `compact()` can rescore.
#[derive(Clone, Debug, Default)]
struct TfColumn {
  small: Vec<u8>,
  big_at: Vec<u32>,
  big_tf: Vec<u32>,
}

impl TfColumn {
  fn push(&mut self, tf: u32) {
    if tf >= 255 {
      self.big_at.push(self.small.len() as u32);
      self.big_tf.push(tf);
      self.small.push(255);
    } else {
      self.small.push(tf as u8);
    }
  }
  fn get(&self, p: usize) -> u32 {
    match self.small[p] {
      255 => self.big_tf[self.big_at.partition_point(|&a| (a as usize) < p)],
      v => v as u32,
    }
  }
  fn bytes(&self) -> usize {
    self.small.len() + self.big_at.len() * 8
  }
}

/// A tokenized document: sorted unique term ids and their counts.
type Row = (Vec<u32>, Vec<u32>);

/// A BM25 index: one or more segments over one vocabulary (see [`super::segments`]).
///
/// Statistics (the semantics between compactions, Lucene's):
/// - N = every document added since the last `build`/`compact`, deleted ones included;
///   df(t) = how many of them contain t. idf(t) is computed from N and df(t) **at query time**,
///   so an `add` changes every segment's idf exactly as a fresh build over all N would.
/// - avgdl is per segment, frozen when the segment was built (the mean length of the documents
///   of that `build`/`add` call); a document's term-frequency component uses its own segment's.
/// - a segment stores tfc(tf, L, avgdl_seg) − tfc(0) per posting; a document scores
///   Σ_t count_t · idf(t) · stored(t, d) (+ the BM25L/BM25+ shift Σ_t count_t · idf(t) · tfc(0)).
/// - `compact()` drops deleted documents and recomputes N, df and one avgdl: the result equals
///   a fresh build over the live documents exactly (ids, scores, tie order).
///
/// With a single segment and nothing deleted these are bm25s's statistics.
#[derive(Clone, Debug)]
pub struct Bm25Index {
  opts: Bm25Options,
  /// The tokenizer, vocabulary, ids, df and lengths are shared between snapshots (a
  /// copy-on-write `delete` copies only the tombstone bitmaps; `add` copies what it extends).
  tokenizer: Arc<Tokenizer>,
  vocab: Arc<Vocab>,
  /// Every internal id since the last build/compaction (deleted ones stay until `compact`, and
  /// stay bound until their id is added again).
  ids: Arc<IdMap>,
  /// Documents containing each term, over the same documents as N.
  df: Arc<Vec<u32>>,
  /// Tokens per internal id (after stop words), for `compact`.
  doc_len: Arc<Vec<u32>>,
  segs: Segments<f32>,
  /// Per segment: its avgdl, frozen at its build.
  seg_avgdl: Vec<f64>,
  /// Per segment: its term frequencies (shared between clones, like the segments).
  seg_tf: Vec<Arc<TfColumn>>,
}

impl Bm25Index {
  /// Tokenizes and scores `docs` (id, text). Empty texts are allowed (they never match).
  /// Term ids follow the byte order of the tokens (see [`canonicalize`]).
  pub fn build(docs: Vec<(ExternalId, String)>, opts: Bm25Options) -> Result<Self> {
    opts.validate()?;
    let tokenizer = Tokenizer::new(opts.tokenizer.clone())?;
    let (ext, texts): (Vec<ExternalId>, Vec<String>) = docs.into_iter().unzip();
    let mut ids = IdMap::new();
    ids.push_batch(ext)?;
    let empty = Vocab::new();
    let mut pending = PendingTerms::new(&empty);
    let (mut rows, lens) = tokenize_rows(&tokenizer, texts, &mut pending)?;
    let vocab = canonicalize(pending.len(), |t| pending.name(t), &mut rows)?;
    Self::from_rows(opts, tokenizer, vocab, ids, rows, lens)
  }

  /// One segment over `rows` with fresh statistics.
  fn from_rows(
    opts: Bm25Options,
    tokenizer: Tokenizer,
    vocab: Vocab,
    ids: IdMap,
    rows: Vec<Row>,
    lens: Vec<u32>,
  ) -> Result<Self> {
    let mut df = vec![0u32; vocab.len()];
    count_df(&mut df, &rows);
    let (seg, avgdl, tf) = make_segment(&opts, 0, vocab.len(), &rows, &lens)?;
    let mut segs = Segments::new();
    segs.push(seg);
    let (seg_avgdl, seg_tf) = if segs.count() == 1 {
      (vec![avgdl], vec![Arc::new(tf)])
    } else {
      (Vec::new(), Vec::new())
    };
    Ok(Bm25Index {
      opts,
      tokenizer: Arc::new(tokenizer),
      vocab: Arc::new(vocab),
      ids: Arc::new(ids),
      df: Arc::new(df),
      doc_len: Arc::new(lens),
      segs,
      seg_avgdl,
      seg_tf,
    })
  }

  /// Adds documents as a new segment (its avgdl = their mean length; N and df grow, so every
  /// segment's idf follows). Ids must be new: an id of a live document is `DuplicateId`; a
  /// deleted document's id may be used again. On any error the index is unchanged. The add that
  /// would make more than [`MAX_SEGMENTS`] segments compacts the index instead.
  pub fn add(&mut self, docs: Vec<(ExternalId, String)>) -> Result<()> {
    if docs.is_empty() {
      return Ok(());
    }
    let (ext, texts): (Vec<ExternalId>, Vec<String>) = docs.into_iter().unzip();
    // Ids of deleted documents are still bound (see `ids`): free those this batch re-adds.
    let released = self.segs.ids_for_add(&self.ids, &ext)?;
    let mut pending = PendingTerms::new(&self.vocab);
    let (rows, lens) = tokenize_rows(&self.tokenizer, texts, &mut pending)?;
    let n_terms = pending.len();
    let new_terms = pending.into_new_terms();
    let start = crate::validate::to_u32(self.ids.len(), "document count")?;
    let (seg, avgdl, tf) = make_segment(&self.opts, start, n_terms, &rows, &lens)?;
    // Nothing below fails: commit.
    Arc::make_mut(&mut self.vocab).extend_new(new_terms)?;
    let df = Arc::make_mut(&mut self.df);
    df.resize(n_terms, 0);
    count_df(df, &rows);
    Arc::make_mut(&mut self.doc_len).extend(lens);
    commit_ids(&mut self.ids, released, ext);
    if !seg.is_empty() {
      self.segs.push(seg);
      self.seg_avgdl.push(avgdl);
      self.seg_tf.push(Arc::new(tf));
    }
    if self.segs.count() > MAX_SEGMENTS {
      self.compact()?;
    }
    Ok(())
  }

  /// Deletes documents by id; returns how many were deleted. Ids not in the index (never added,
  /// already deleted, or of the other id type) are ignored. Deleted documents never appear in
  /// results but keep counting in N and df (as in Lucene) until [`compact`](Self::compact).
  pub fn delete(&mut self, ids: &[ExternalId]) -> usize {
    self.segs.delete_external(&self.ids, ids)
  }

  /// Rebuilds one segment over the live documents (insertion order kept) with fresh N, df and
  /// avgdl: identical to a fresh build over them.
  pub fn compact(&mut self) -> Result<()> {
    let total = self.ids.len();
    let mut rows: Vec<Row> = vec![(Vec::new(), Vec::new()); total];
    for (s, tf) in self.segs.list().iter().zip(&self.seg_tf) {
      let mut p = 0usize;
      s.blocks().for_each_posting(|pos, t, _| {
        let r = &mut rows[(s.start() + s.local_id(pos)) as usize];
        r.0.push(t);
        r.1.push(tf.get(p));
        p += 1;
      });
    }
    let mut live_ids = Vec::with_capacity(total - self.segs.n_dead());
    let mut live_rows = Vec::with_capacity(live_ids.capacity());
    let mut lens = Vec::with_capacity(live_ids.capacity());
    for (i, r) in rows.into_iter().enumerate() {
      if self.segs.is_alive(i as u32) {
        live_ids.push(self.ids.get(i as u32));
        live_rows.push(r);
        lens.push(self.doc_len[i]);
      }
    }
    let mut ids = IdMap::new();
    ids.push_batch(live_ids)?;
    let vocab = canonicalize(
      self.vocab.len(),
      |t| self.vocab.term(t).unwrap_or(""),
      &mut live_rows,
    )?;
    *self = Self::from_rows(
      self.opts.clone(),
      (*self.tokenizer).clone(),
      vocab,
      ids,
      live_rows,
      lens,
    )?;
    Ok(())
  }

  /// Live documents.
  pub fn len(&self) -> usize {
    self.ids.len() - self.segs.n_dead()
  }
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
  /// N of the idf: documents added since the last build/compact, deleted ones included.
  pub fn n_stats(&self) -> usize {
    self.ids.len()
  }
  pub fn n_deleted(&self) -> usize {
    self.segs.n_dead()
  }
  pub fn options(&self) -> &Bm25Options {
    &self.opts
  }
  pub fn tokenizer(&self) -> &Tokenizer {
    &self.tokenizer
  }
  pub fn vocab(&self) -> &Vocab {
    &self.vocab
  }
  /// Each segment's frozen avgdl, in segment order.
  pub fn segment_avgdl(&self) -> &[f64] {
    &self.seg_avgdl
  }
  pub fn df(&self, term: u32) -> u32 {
    self.df.get(term as usize).copied().unwrap_or(0)
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn segments(&self) -> &Segments<f32> {
    &self.segs
  }
  pub fn external_id(&self, internal: u32) -> ExternalId {
    self.ids.get(internal)
  }

  /// idf of term `t` from the current N and df.
  pub fn idf_of(&self, t: u32) -> f64 {
    idf(self.opts.method, self.ids.len() as f64, self.df(t) as f64)
  }

  /// Query text → (sorted term, count · idf) plus the BM25L/BM25+ shift. Unknown tokens are ignored.
  pub fn prepare_query(&self, text: &str) -> (Vec<(u32, f32)>, f32) {
    let mut t: Vec<u32> = Vec::new();
    self.tokenizer.for_each_token(text, |tok| {
      if let Some(id) = self.vocab.get(tok) {
        t.push(id);
      }
    });
    t.sort_unstable();
    let mut counts: Vec<(u32, f64)> = Vec::new();
    for id in t {
      match counts.last_mut() {
        Some(last) if last.0 == id => last.1 += 1.0,
        _ => counts.push((id, 1.0)),
      }
    }
    let o = &self.opts;
    let s0 = if o.method.shifted() {
      tfc(o.method, 0.0, 1.0, 1.0, o.k1, o.b, o.delta)
    } else {
      0.0
    };
    let mut shift = 0f64;
    let q = counts
      .into_iter()
      .map(|(t, c)| {
        let w = c * self.idf_of(t);
        shift += w * s0;
        (t, w as f32)
      })
      .collect();
    (q, shift as f32)
  }

  /// Allowed-id filter (unknown and deleted ids are ignored).
  pub fn filter_bitset(&self, allowed: &[ExternalId]) -> Filter {
    self
      .segs
      .filter(allowed.iter().filter_map(|id| self.ids.lookup(id)))
  }

  fn run(
    &self,
    q: &(Vec<(u32, f32)>, f32),
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
  ) -> Vec<Scored<f32>> {
    let mut hits = self.segs.search(&q.0, k, params, filter);
    if q.1 != 0.0 {
      for h in &mut hits {
        h.score += q.1;
      }
    }
    hits
  }

  pub fn search(
    &self,
    text: &str,
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
  ) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    params.validate()?;
    Ok(self.run(&self.prepare_query(text), k, params, filter))
  }

  pub fn search_batch(
    &self,
    texts: &[String],
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    params.validate()?;
    let one = |t: &String| self.run(&self.prepare_query(t), k, params, filter);
    if threads == Some(1) {
      // One thread: on the calling thread, without a pool hand-off per batch.
      return Ok(texts.iter().map(one).collect());
    }
    Ok(parallel::with_threads(threads, || {
      texts.par_iter().map(one).collect()
    }))
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let mut v = self.segs.memory_usage(&BlockIndex::<f32>::TERM_MAJOR_COMPONENTS);
    v.retain(|e| e.0 != "reorder");
    v.push(("vocabulary", self.vocab.memory_bytes()));
    v.push((
      "statistics",
      self.df.len() * 4 + self.doc_len.len() * 4 + self.seg_avgdl.len() * 8,
    ));
    v.push(("termFrequencies", self.seg_tf.iter().map(|t| t.bytes()).sum()));
    v.push(("ids", self.ids.memory_bytes()));
    v
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let o = &self.opts;
    let mut p = ByteWriter::new();
    p.put(o.method.code())
      .put(o.k1)
      .put(o.b)
      .put(o.delta)
      .put(o.block_size as u32);
    self.tokenizer.write(&mut p);
    let mut w = ContainerWriter::new(Kind::Bm25Index, p.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    w.section(b"VOCB", v.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    let mut st = ByteWriter::new();
    st.put_slice(&self.df)
      .put_slice(&self.doc_len)
      .put_slice(&self.seg_avgdl);
    w.section(b"STAT", st.into_bytes());
    let mut tf = ByteWriter::new();
    for t in &self.seg_tf {
      tf.put_slice(&t.small).put_slice(&t.big_at).put_slice(&t.big_tf);
    }
    w.section(b"TFRQ", tf.into_bytes());
    self.segs.write(&mut w, b'B');
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::Bm25Index)?;
    if c.optional_section(b"SEGS").is_none() {
      return Err(Error::corrupt(
        "this BM25Index file has the single-segment layout of slimdex before incremental updates, which stores no term \
         frequencies; rebuild the index from its documents",
      ));
    }
    let mut p = ByteReader::new(c.params());
    let method = Bm25Method::from_code(p.get("method")?)?;
    let k1: f64 = p.get("k1")?;
    let b: f64 = p.get("b")?;
    let delta: f64 = p.get("delta")?;
    let block_size = p.get::<u32>("block size")? as usize;
    let tokenizer = Tokenizer::read(&mut p)?;
    p.finish("parameters")?;
    let opts = Bm25Options {
      method,
      k1,
      b,
      delta,
      tokenizer: tokenizer.options().clone(),
      block_size,
    };
    opts
      .validate()
      .map_err(|e| Error::corrupt(format!("parameters: {e}")))?;
    let mut vr = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut vr)?;
    vr.finish("vocabulary")?;
    let segs = Segments::<f32>::read(&c, b'B', false)?;
    let mut ir = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read_unbound(&mut ir, &segs.dead_ids())?;
    ir.finish("ids")?;
    let mut sr = ByteReader::new(c.section(b"STAT")?);
    let df: Vec<u32> = sr.get_slice("document frequencies")?;
    let doc_len: Vec<u32> = sr.get_slice("document lengths")?;
    let seg_avgdl: Vec<f64> = sr.get_slice("segment average lengths")?;
    sr.finish("statistics")?;
    let mut tr = ByteReader::new(c.section(b"TFRQ")?);
    let mut seg_tf = Vec::with_capacity(segs.count());
    for s in segs.list() {
      let t = TfColumn {
        small: tr.get_slice("term frequencies")?,
        big_at: tr.get_slice("large tf positions")?,
        big_tf: tr.get_slice("large tfs")?,
      };
      let np = s.blocks().n_postings();
      let big_ok = t.big_at.len() == t.big_tf.len()
        && t.big_at.windows(2).all(|w| w[0] < w[1])
        && t
          .big_at
          .iter()
          .zip(&t.big_tf)
          .all(|(&a, &f)| (a as usize) < np && f >= 255 && t.small[a as usize] == 255)
        && t.small.iter().filter(|&&v| v == 255).count() == t.big_at.len();
      if t.small.len() != np || !big_ok || t.small.contains(&0) {
        return Err(Error::corrupt("term frequencies do not match the postings"));
      }
      seg_tf.push(Arc::new(t));
    }
    tr.finish("term frequencies")?;
    let (n, nt) = (ids.len(), vocab.len());
    if segs.n_docs() != n || doc_len.len() != n || df.len() != nt || seg_avgdl.len() != segs.count() {
      return Err(Error::corrupt(
        "segments, ids, vocabulary and statistics disagree in size",
      ));
    }
    if df.iter().any(|&d| d as usize > n) || seg_avgdl.iter().any(|a| !(a.is_finite() && *a >= 0.0)) {
      return Err(Error::corrupt(
        "document frequencies or average lengths out of range",
      ));
    }
    for s in segs.list() {
      if s.blocks().n_terms() > nt || s.blocks().block_size() != block_size {
        return Err(Error::corrupt(
          "a segment's term count or block size disagrees with the index",
        ));
      }
    }
    Ok(Bm25Index {
      opts,
      tokenizer: Arc::new(tokenizer),
      vocab: Arc::new(vocab),
      ids: Arc::new(ids),
      df: Arc::new(df),
      doc_len: Arc::new(doc_len),
      segs,
      seg_avgdl,
      seg_tf,
    })
  }
}

fn count_df(df: &mut [u32], rows: &[Row]) {
  for r in rows {
    for &t in &r.0 {
      df[t as usize] += 1;
    }
  }
}

/// Tokenizes texts (in parallel) into rows of term ids (new tokens numbered by `pending`) and lengths.
fn tokenize_rows(
  tokenizer: &Tokenizer,
  texts: Vec<String>,
  pending: &mut PendingTerms<'_>,
) -> Result<(Vec<Row>, Vec<u32>)> {
  let tokens: Vec<Vec<String>> = texts.par_iter().map(|t| tokenizer.tokenize(t)).collect();
  drop(texts);
  let mut rows: Vec<Row> = Vec::with_capacity(tokens.len());
  let mut lens = Vec::with_capacity(tokens.len());
  for toks in tokens {
    let mut tids: Vec<u32> = toks.iter().map(|t| pending.id(t)).collect::<Result<_>>()?;
    lens.push(validate::to_u32(tids.len(), "document length")?);
    tids.sort_unstable();
    let (mut t, mut tf) = (Vec::new(), Vec::new());
    for id in tids {
      if t.last() == Some(&id) {
        *tf.last_mut().unwrap_or(&mut 0) += 1;
      } else {
        t.push(id);
        tf.push(1u32);
      }
    }
    rows.push((t, tf));
  }
  Ok((rows, lens))
}

/// A segment over `rows` (local ids 0..n): stored impact tfc(tf, L, avgdl) − tfc(0) with the
/// segment's own avgdl; returns it with that avgdl and the term-frequency column.
fn make_segment(
  opts: &Bm25Options,
  start: u32,
  n_terms: usize,
  rows: &[Row],
  lens: &[u32],
) -> Result<(Segment<f32>, f64, TfColumn)> {
  let n = rows.len();
  let total: u64 = lens.iter().map(|&l| l as u64).sum();
  let avgdl = if n > 0 { total as f64 / n as f64 } else { 0.0 };
  let (m, k1, b, delta) = (opts.method, opts.k1, opts.b, opts.delta);
  let imps: Vec<Vec<f32>> = rows
    .par_iter()
    .zip(lens)
    .map(|((t, tf), &len)| {
      let l = len as f64;
      // tfc(0) is the same for every length (BM25L: c = 0; BM25+: δ).
      let s0 = if m.shifted() {
        tfc(m, 0.0, l, avgdl, k1, b, delta)
      } else {
        0.0
      };
      tf.iter()
        .take(t.len())
        .map(|&f| ((tfc(m, f as f64, l, avgdl, k1, b, delta) - s0) as f32).max(0.0))
        .collect()
    })
    .collect();
  let blocks = BlockIndex::build_term_major(n, n_terms, opts.block_size, |i| (&rows[i].0, &imps[i]))?;
  let mut tf = TfColumn::default();
  blocks.for_each_posting(|pos, t, _| {
    let (terms, tfs) = &rows[pos];
    // Every posting comes from its row, so the term is there.
    let j = terms.binary_search(&t).unwrap_or(0);
    tf.push(tfs[j]);
  });
  Ok((Segment::new(start, blocks, Vec::new())?, avgdl, tf))
}
