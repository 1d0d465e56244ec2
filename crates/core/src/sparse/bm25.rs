//! `BM25Index`: BM25 scored eagerly at build time (as bm25s does) into one f32 impact per
//! (document, term), stored in the same block index as learned sparse vectors and searched
//! with block-max pruning, so a query never touches an O(N) accumulator.
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
//! BM25L and BM25+ give a non-zero tfc at tf = 0: as in bm25s the stored impact is
//! `idf·(tfc(tf) − tfc(0))` and the query adds the shift `Σ_q idf·tfc(0)` to every returned
//! score, so scores equal bm25s's. A query token repeated n times counts n times.
//! Only documents containing at least one query token are returned.

use super::blocks::{BlockIndex, SearchParams};
use super::tokenize::{Tokenizer, TokenizerOptions};
use super::vocab::Vocab;
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;

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
      _ => return Err(Error::InvalidArg(format!("method must be one of lucene, robertson, atire, bm25l, bm25+ (got '{s}')"))),
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
    [Bm25Method::Lucene, Bm25Method::Robertson, Bm25Method::Atire, Bm25Method::Bm25l, Bm25Method::Bm25Plus]
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
    Bm25Options { method: Bm25Method::Lucene, k1: 1.5, b: 0.75, delta: 0.5, tokenizer: TokenizerOptions::default(), block_size: 32 }
  }
}

impl Bm25Options {
  fn validate(&self) -> Result<()> {
    if !(self.k1.is_finite() && self.k1 >= 0.0) {
      return Err(Error::InvalidArg(format!("k1 must be a finite number ≥ 0 (got {})", self.k1)));
    }
    if !(0.0..=1.0).contains(&self.b) {
      return Err(Error::InvalidArg(format!("b must be in [0, 1] (got {})", self.b)));
    }
    if !(self.delta.is_finite() && self.delta >= 0.0) {
      return Err(Error::InvalidArg(format!("delta must be a finite number ≥ 0 (got {})", self.delta)));
    }
    if !(1..=256).contains(&self.block_size) {
      return Err(Error::InvalidArg(format!("blockSize must be in [1, 256] (got {})", self.block_size)));
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

#[derive(Clone, Debug)]
pub struct Bm25Index {
  opts: Bm25Options,
  tokenizer: Tokenizer,
  vocab: Vocab,
  ids: IdMap,
  avgdl: f64,
  df: Vec<u32>,
  /// Per-term shift idf·tfc(0) (BM25L/BM25+ only; empty otherwise).
  shift: Vec<f32>,
  blocks: BlockIndex<f32>,
}

impl Bm25Index {
  /// Tokenizes and scores `docs` (id, text). Empty texts are allowed (they never match).
  pub fn build(docs: Vec<(ExternalId, String)>, opts: Bm25Options) -> Result<Self> {
    opts.validate()?;
    let tokenizer = Tokenizer::new(opts.tokenizer.clone())?;
    let (ext, texts): (Vec<ExternalId>, Vec<String>) = docs.into_iter().unzip();
    let mut ids = IdMap::new();
    ids.push_batch(ext)?;
    let tokens: Vec<Vec<String>> = texts.par_iter().map(|t| tokenizer.tokenize(t)).collect();
    drop(texts);
    let mut vocab = Vocab::new();
    let mut rows: Vec<(Vec<u32>, Vec<u32>, u32)> = Vec::with_capacity(tokens.len());
    for toks in tokens {
      let mut tids: Vec<u32> = toks.iter().map(|t| vocab.intern(t)).collect::<Result<_>>()?;
      let len = validate::to_u32(tids.len(), "document length")?;
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
      rows.push((t, tf, len));
    }
    let n_terms = vocab.len();
    let n = rows.len();
    let mut df = vec![0u32; n_terms];
    for r in &rows {
      for &t in &r.0 {
        df[t as usize] += 1;
      }
    }
    let total: u64 = rows.iter().map(|r| r.2 as u64).sum();
    let avgdl = if n > 0 { total as f64 / n as f64 } else { 0.0 };
    let (m, k1, b, delta) = (opts.method, opts.k1, opts.b, opts.delta);
    let idfs: Vec<f64> = df.iter().map(|&d| idf(m, n as f64, d as f64)).collect();
    // tfc(0) does not depend on L for BM25+ (δ), but does for BM25L; bm25s uses Lavg (L = Lavg).
    let shift: Vec<f32> = if m.shifted() {
      idfs.iter().map(|&i| (i * tfc(m, 0.0, avgdl, avgdl, k1, b, delta)) as f32).collect()
    } else {
      Vec::new()
    };
    let imps: Vec<Vec<f32>> = rows
      .par_iter()
      .map(|(t, tf, len)| {
        t.iter()
          .zip(tf)
          .map(|(&t, &f)| {
            let i = idfs[t as usize];
            let s0 = if m.shifted() { i * tfc(m, 0.0, *len as f64, avgdl, k1, b, delta) } else { 0.0 };
            ((i * tfc(m, f as f64, *len as f64, avgdl, k1, b, delta) - s0) as f32).max(0.0)
          })
          .collect()
      })
      .collect();
    let blocks = BlockIndex::build(n, n_terms, opts.block_size, |i| (&rows[i].0, &imps[i]))?;
    Ok(Bm25Index { opts, tokenizer, vocab, ids, avgdl, df, shift, blocks })
  }

  pub fn len(&self) -> usize {
    self.ids.len()
  }
  pub fn is_empty(&self) -> bool {
    self.ids.is_empty()
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
  pub fn avgdl(&self) -> f64 {
    self.avgdl
  }
  pub fn df(&self, term: u32) -> u32 {
    self.df.get(term as usize).copied().unwrap_or(0)
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn blocks(&self) -> &BlockIndex<f32> {
    &self.blocks
  }
  pub fn external_id(&self, internal: u32) -> ExternalId {
    self.ids.get(internal)
  }

  /// Query text → (sorted term, count) plus the BM25L/BM25+ shift. Unknown tokens are ignored.
  pub fn prepare_query(&self, text: &str) -> (Vec<(u32, f32)>, f32) {
    let mut t: Vec<u32> = Vec::new();
    self.tokenizer.for_each_token(text, |tok| {
      if let Some(id) = self.vocab.get(&tok) {
        t.push(id);
      }
    });
    t.sort_unstable();
    let mut q: Vec<(u32, f32)> = Vec::new();
    for id in t {
      match q.last_mut() {
        Some(last) if last.0 == id => last.1 += 1.0,
        _ => q.push((id, 1.0)),
      }
    }
    let shift = if self.shift.is_empty() { 0.0 } else { q.iter().map(|&(t, c)| c * self.shift[t as usize]).sum() };
    (q, shift)
  }

  pub fn filter_bitset(&self, allowed: &[ExternalId]) -> Vec<u64> {
    let mut bits = vec![0u64; self.len().div_ceil(64)];
    for id in allowed {
      if let Some(i) = self.ids.lookup(id) {
        bits[i as usize / 64] |= 1 << (i % 64);
      }
    }
    bits
  }

  fn run(&self, q: &(Vec<(u32, f32)>, f32), k: usize, params: &SearchParams, filter: Option<&[u64]>) -> Vec<Scored<f32>> {
    let mut hits = self.blocks.search(&q.0, k, params, filter, &[]);
    if q.1 != 0.0 {
      for h in &mut hits {
        h.score += q.1;
      }
    }
    hits
  }

  pub fn search(&self, text: &str, k: usize, params: &SearchParams, filter: Option<&[u64]>) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    params.validate()?;
    Ok(self.run(&self.prepare_query(text), k, params, filter))
  }

  pub fn search_batch(
    &self,
    texts: &[String],
    k: usize,
    params: &SearchParams,
    filter: Option<&[u64]>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    params.validate()?;
    Ok(parallel::with_threads(threads, || {
      texts.par_iter().map(|t| self.run(&self.prepare_query(t), k, params, filter)).collect()
    }))
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let mut v = self.blocks.memory_usage();
    v.push(("vocabulary", self.vocab.memory_bytes()));
    v.push(("statistics", self.df.len() * 4 + self.shift.len() * 4));
    v.push(("ids", self.ids.memory_bytes()));
    v
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let o = &self.opts;
    let mut p = ByteWriter::new();
    p.put(o.method.code()).put(o.k1).put(o.b).put(o.delta).put(o.block_size as u32).put(self.avgdl);
    self.tokenizer.write(&mut p);
    let mut w = ContainerWriter::new(Kind::Bm25Index, p.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    w.section(b"VOCB", v.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    let mut st = ByteWriter::new();
    st.put_slice(&self.df).put_slice(&self.shift);
    w.section(b"STAT", st.into_bytes());
    self.blocks.write(&mut w, b'B');
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::Bm25Index)?;
    let mut p = ByteReader::new(c.params());
    let method = Bm25Method::from_code(p.get("method")?)?;
    let k1: f64 = p.get("k1")?;
    let b: f64 = p.get("b")?;
    let delta: f64 = p.get("delta")?;
    let block_size = p.get::<u32>("block size")? as usize;
    let avgdl: f64 = p.get("avgdl")?;
    let tokenizer = Tokenizer::read(&mut p)?;
    p.finish("parameters")?;
    let opts = Bm25Options { method, k1, b, delta, tokenizer: tokenizer.options().clone(), block_size };
    opts.validate().map_err(|e| Error::corrupt(format!("parameters: {e}")))?;
    if !(avgdl.is_finite() && avgdl >= 0.0) {
      return Err(Error::corrupt(format!("invalid average document length {avgdl}")));
    }
    let mut vr = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut vr)?;
    vr.finish("vocabulary")?;
    let mut ir = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read(&mut ir)?;
    ir.finish("ids")?;
    let mut sr = ByteReader::new(c.section(b"STAT")?);
    let df: Vec<u32> = sr.get_slice("document frequencies")?;
    let shift: Vec<f32> = sr.get_slice("shifts")?;
    sr.finish("statistics")?;
    let blocks = BlockIndex::<f32>::read(&c, b'B')?;
    let nt = vocab.len();
    if blocks.n_docs() != ids.len() || blocks.n_terms() != nt || blocks.block_size() != block_size || df.len() != nt {
      return Err(Error::corrupt("block index, ids, vocabulary and statistics disagree in size"));
    }
    if shift.len() != if method.shifted() { nt } else { 0 } || shift.iter().any(|s| !s.is_finite()) {
      return Err(Error::corrupt("score shifts do not match the method"));
    }
    Ok(Bm25Index { opts, tokenizer, vocab, ids, avgdl, df, shift, blocks })
  }
}
