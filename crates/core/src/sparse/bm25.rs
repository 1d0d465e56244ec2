//! BM25 by eager scoring (as bm25s): every (document, term) score is computed at build time
//! and stored exactly (f32) in the block index, then queries run Block-Max Pruning instead of
//! bm25s's O(N) accumulator. Scores returned are true BM25 values.

use super::block_index::{BlockIndex, BlockOptions, BmpOptions, SparseDocs};
use super::sparse_index::allowed_mask;
use super::tokenize::{Tokenizer, TokenizerOptions};
use super::vocab::Vocab;
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{Error, Result};
use hashbrown::HashMap;
use rayon::prelude::*;

/// The five bm25s variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bm25Method {
  Lucene,
  Robertson,
  Atire,
  Bm25L,
  Bm25Plus,
}

impl Bm25Method {
  pub fn parse(s: &str) -> Option<Self> {
    Some(match s {
      "lucene" => Bm25Method::Lucene,
      "robertson" => Bm25Method::Robertson,
      "atire" => Bm25Method::Atire,
      "bm25l" => Bm25Method::Bm25L,
      "bm25+" => Bm25Method::Bm25Plus,
      _ => return None,
    })
  }
  pub fn name(self) -> &'static str {
    match self {
      Bm25Method::Lucene => "lucene",
      Bm25Method::Robertson => "robertson",
      Bm25Method::Atire => "atire",
      Bm25Method::Bm25L => "bm25l",
      Bm25Method::Bm25Plus => "bm25+",
    }
  }
  fn code(self) -> u8 {
    self as u8
  }
  fn from_code(c: u8) -> Option<Self> {
    [Bm25Method::Lucene, Bm25Method::Robertson, Bm25Method::Atire, Bm25Method::Bm25L, Bm25Method::Bm25Plus].into_iter().find(|m| m.code() == c)
  }

  /// Inverse document frequency (bm25s `scoring.py`).
  pub fn idf(self, n: f64, df: f64) -> f64 {
    match self {
      Bm25Method::Robertson => ((n - df + 0.5) / (df + 0.5)).max(1.0).ln(),
      Bm25Method::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
      Bm25Method::Atire => (n / df).ln(),
      Bm25Method::Bm25L => ((n + 1.0) / (df + 0.5)).ln(),
      Bm25Method::Bm25Plus => ((n + 1.0) / df).ln(),
    }
  }

  /// Term-frequency component for a document of length `len` (average `avg`).
  pub fn tfc(self, tf: f64, len: f64, avg: f64, o: &Bm25Options) -> f64 {
    let norm = 1.0 - o.b + o.b * len / avg;
    match self {
      Bm25Method::Robertson | Bm25Method::Lucene => tf / (o.k1 * norm + tf),
      Bm25Method::Atire => (o.k1 + 1.0) * tf / (tf + o.k1 * norm),
      Bm25Method::Bm25L => {
        let c = tf / norm;
        (o.k1 + 1.0) * (c + o.delta) / (o.k1 + c + o.delta)
      }
      Bm25Method::Bm25Plus => (o.k1 + 1.0) * tf / (o.k1 * norm + tf) + o.delta,
    }
  }

  /// Whether absent terms still score (BM25L, BM25+): stored values are shifted by S0.
  fn shifted(self) -> bool {
    matches!(self, Bm25Method::Bm25L | Bm25Method::Bm25Plus)
  }
}

/// BM25 parameters (bm25s defaults).
#[derive(Clone, Copy, Debug)]
pub struct Bm25Options {
  pub method: Bm25Method,
  /// Default 1.5.
  pub k1: f64,
  /// Default 0.75.
  pub b: f64,
  /// BM25L / BM25+ only; default 0.5.
  pub delta: f64,
  /// Documents per block (default 32).
  pub block_size: usize,
}

impl Default for Bm25Options {
  fn default() -> Self {
    Bm25Options { method: Bm25Method::Lucene, k1: 1.5, b: 0.75, delta: 0.5, block_size: 32 }
  }
}

pub struct Bm25Index {
  ids: IdMap,
  tokenizer: Tokenizer,
  opts: Bm25Options,
  vocab: Vocab,
  /// S0(t) = idf(t) · tfc(tf = 0) for shifted methods (empty otherwise).
  shift: Vec<f32>,
  avg_len: f64,
  index: BlockIndex,
}

impl Bm25Index {
  pub fn build(ids: Vec<ExternalId>, texts: &[String], tokenizer: TokenizerOptions, opts: Bm25Options) -> Result<Self> {
    if ids.len() != texts.len() {
      return Err(Error::InvalidArg(format!("{} ids for {} documents", ids.len(), texts.len())));
    }
    for (name, v, ok) in [("k1", opts.k1, opts.k1 >= 0.0), ("b", opts.b, (0.0..=1.0).contains(&opts.b)), ("delta", opts.delta, opts.delta >= 0.0)] {
      if !v.is_finite() || !ok {
        return Err(Error::InvalidArg(format!("{name} is out of range (got {v}; k1 ≥ 0, 0 ≤ b ≤ 1, delta ≥ 0)")));
      }
    }
    let mut map = IdMap::new();
    map.push_batch(ids)?;
    let tokenizer = Tokenizer::new(tokenizer)?;
    let tokens: Vec<Vec<String>> = texts.par_iter().map(|t| tokenizer.tokenize(t)).collect();
    let mut vocab = Vocab::new();
    // Per document: (term id, tf), sorted by term id; and its length in tokens.
    let mut docs_tf: Vec<Vec<(u32, u32)>> = Vec::with_capacity(texts.len());
    for doc in &tokens {
      let mut counts: HashMap<u32, u32> = HashMap::new();
      for tok in doc {
        *counts.entry(vocab.intern(tok)?).or_insert(0) += 1;
      }
      let mut tf: Vec<(u32, u32)> = counts.into_iter().collect();
      tf.sort_unstable();
      docs_tf.push(tf);
    }
    let n = texts.len() as f64;
    let total_len: usize = tokens.iter().map(Vec::len).sum();
    let avg_len = if texts.is_empty() { 0.0 } else { total_len as f64 / n };
    let mut df = vec![0u32; vocab.len()];
    for doc in &docs_tf {
      for &(t, _) in doc {
        df[t as usize] += 1;
      }
    }
    let idf: Vec<f64> = df.iter().map(|&d| opts.method.idf(n, d as f64)).collect();
    let s0: Vec<f64> = idf.iter().map(|&i| if opts.method.shifted() { i * opts.method.tfc(0.0, 1.0, 1.0, &Bm25Options { b: 0.0, ..opts }) } else { 0.0 }).collect();
    let mut offsets = vec![0usize];
    let mut terms = Vec::new();
    let mut weights = Vec::new();
    for (d, doc) in docs_tf.iter().enumerate() {
      let len = tokens[d].len() as f64;
      for &(t, tf) in doc {
        let s = idf[t as usize] * opts.method.tfc(tf as f64, len, avg_len.max(f64::MIN_POSITIVE), &opts) - s0[t as usize];
        terms.push(t);
        // Rounding can push a tiny shifted score below zero; it is zero.
        weights.push(s.max(0.0) as f32);
      }
      offsets.push(terms.len());
    }
    let docs = SparseDocs { offsets: &offsets, terms: &terms, weights: &weights };
    let index = BlockIndex::build(&docs, vocab.len(), BlockOptions { block_size: opts.block_size, quantize: false })?;
    let shift = if opts.method.shifted() { s0.iter().map(|&s| s as f32).collect() } else { Vec::new() };
    Ok(Bm25Index { ids: map, tokenizer, opts, vocab, shift, avg_len, index })
  }

  pub fn len(&self) -> usize {
    self.ids.len()
  }
  pub fn is_empty(&self) -> bool {
    self.ids.is_empty()
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn options(&self) -> &Bm25Options {
    &self.opts
  }
  pub fn tokenizer(&self) -> &Tokenizer {
    &self.tokenizer
  }
  pub fn vocab_size(&self) -> usize {
    self.vocab.len()
  }
  pub fn avg_len(&self) -> f64 {
    self.avg_len
  }
  pub fn postings(&self) -> usize {
    self.index.postings()
  }

  /// Query (term id, count) pairs of a text; unknown tokens are ignored.
  pub fn query_terms(&self, text: &str) -> Vec<(u32, f32)> {
    let mut q: Vec<(u32, f32)> = Vec::new();
    for tok in self.tokenizer.tokenize(text) {
      if let Some(t) = self.vocab.get(&tok) {
        q.push((t, 1.0));
      }
    }
    q
  }

  /// The top `k` documents for `text`, scored as bm25s scores them (repeated query tokens
  /// count again; BM25L / BM25+ include the shift Σ S0). Only documents in which some query
  /// token has a positive score are returned (bm25s ranks all N, zeros included).
  pub fn search(&self, text: &str, opts: &BmpOptions, allowed: Option<&[ExternalId]>) -> Result<Vec<Scored<f32>>> {
    let q = self.query_terms(text);
    let mask = allowed.map(|a| allowed_mask(&self.ids, a));
    let mut hits = self.index.search(&q, opts, mask.as_deref())?;
    if !self.shift.is_empty() {
      let shift: f32 = q.iter().map(|&(t, c)| c * self.shift[t as usize]).sum();
      for h in &mut hits {
        h.score += shift;
      }
    }
    Ok(hits)
  }

  /// Many queries in parallel (at most `threads` workers).
  pub fn search_batch(&self, texts: &[String], opts: &BmpOptions, threads: Option<usize>) -> Result<Vec<Vec<Scored<f32>>>> {
    crate::parallel::with_threads(threads, || texts.par_iter().map(|t| self.search(t, opts, None)).collect())
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let mut parts = self.index.memory_usage();
    parts.push(("ids", self.ids.memory_bytes()));
    parts.push(("vocabulary", self.vocab.memory_bytes() + self.shift.len() * 4));
    parts
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    let o = &self.opts;
    p.put(self.len() as u64).put(o.method.code()).put(o.k1).put(o.b).put(o.delta).put(self.avg_len);
    let t = self.tokenizer.options();
    p.put_bool(t.lowercase).put_bool(t.cjk_bigrams).put_str(t.stemmer.as_deref().unwrap_or(""));
    p.put(t.stopwords.len() as u64);
    for s in &t.stopwords {
      p.put_str(s);
    }
    let mut w = ContainerWriter::new(Kind::Bm25Index, p.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    v.put_slice(&self.shift);
    w.section(b"VOCB", v.into_bytes());
    let mut b = ByteWriter::new();
    self.index.write(&mut b);
    w.section(b"BLKS", b.into_bytes());
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::Bm25Index)?;
    let mut p = ByteReader::new(c.params());
    let n = p.get::<u64>("documents")?;
    let method = Bm25Method::from_code(p.get::<u8>("method")?).ok_or_else(|| Error::corrupt("unknown BM25 method"))?;
    let (k1, b, delta, avg_len) = (p.get::<f64>("k1")?, p.get::<f64>("b")?, p.get::<f64>("delta")?, p.get::<f64>("average length")?);
    let lowercase = p.get_bool("lowercase")?;
    let cjk_bigrams = p.get_bool("cjk bigrams")?;
    let stemmer = p.get_str("stemmer")?;
    let n_stop = p.get_len(1, "stopwords")?;
    let stopwords = (0..n_stop).map(|_| p.get_str("stopword")).collect::<Result<Vec<_>>>()?;
    p.finish("parameters")?;
    let tok = TokenizerOptions { lowercase, stopwords, stemmer: (!stemmer.is_empty()).then_some(stemmer), cjk_bigrams };
    let tokenizer = Tokenizer::new(tok).map_err(|e| Error::corrupt(format!("tokenizer: {e}")))?;
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    let mut r = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut r)?;
    let shift: Vec<f32> = r.get_slice("shift")?;
    r.finish("vocabulary")?;
    let mut r = ByteReader::new(c.section(b"BLKS")?);
    let index = BlockIndex::read(&mut r)?;
    r.finish("block index")?;
    let block_size = index.block_size();
    if ids.len() as u64 != n || index.len() as u64 != n || vocab.len() != index.vocab() || (method.shifted() && shift.len() != vocab.len()) {
      return Err(Error::corrupt("ids, vocabulary and block index disagree on their sizes"));
    }
    Ok(Bm25Index { ids, tokenizer, opts: Bm25Options { method, k1, b, delta, block_size }, vocab, shift, avg_len, index })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn every_variant_equals_a_direct_formula_and_bmp_is_exact() {
    let texts: Vec<String> = [
      "the quick brown fox jumps over the lazy dog",
      "quick quick fox",
      "a dog and a cat",
      "brown dogs and brown foxes are quick",
      "",
      "lazy afternoon with the fox",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ids: Vec<ExternalId> = (0..texts.len() as i64).map(ExternalId::Int).collect();
    for method in [Bm25Method::Lucene, Bm25Method::Robertson, Bm25Method::Atire, Bm25Method::Bm25L, Bm25Method::Bm25Plus] {
      let opts = Bm25Options { method, block_size: 2, ..Default::default() };
      let idx = Bm25Index::build(ids.clone(), &texts, TokenizerOptions::default(), opts).unwrap();
      let tok = Tokenizer::new(TokenizerOptions::default()).unwrap();
      let docs: Vec<Vec<String>> = texts.iter().map(|t| tok.tokenize(t)).collect();
      let n = docs.len() as f64;
      let avg = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
      let query = "quick brown fox fox";
      let q = tok.tokenize(query);
      // Direct formula: Σ over query tokens (repeats count) of idf·tfc, over every document.
      let mut want: Vec<(usize, f64)> = Vec::new();
      for (d, doc) in docs.iter().enumerate() {
        // Returned documents: those where some query token has a positive stored score
        // (with Robertson's clamped idf a very common token scores 0 and matches nothing).
        let s0 = |t: &String| if matches!(method, Bm25Method::Bm25L | Bm25Method::Bm25Plus) {
          let df = docs.iter().filter(|x| x.contains(t)).count() as f64;
          method.idf(n, df) * method.tfc(0.0, 1.0, 1.0, &opts)
        } else {
          0.0
        };
        let positive = q.iter().any(|t| {
          let df = docs.iter().filter(|x| x.contains(t)).count() as f64;
          let tf = doc.iter().filter(|x| *x == t).count() as f64;
          tf > 0.0 && method.idf(n, df) * method.tfc(tf, doc.len() as f64, avg, &opts) - s0(t) > 0.0
        });
        if !positive {
          continue;
        }
        let mut s = 0.0;
        for t in &q {
          let df = docs.iter().filter(|x| x.contains(t)).count() as f64;
          let tf = doc.iter().filter(|x| *x == t).count() as f64;
          s += method.idf(n, df) * method.tfc(tf, doc.len() as f64, avg, &opts);
        }
        want.push((d, s));
      }
      want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
      let got = idx.search(query, &BmpOptions { k: 10, alpha: 1.0, beta: 1.0, exhaustive: false }, None).unwrap();
      assert_eq!(got.len(), want.len(), "{method:?}");
      for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.id as usize, w.0, "{method:?}");
        assert!(((g.score as f64) - w.1).abs() <= 1e-5 * w.1.abs().max(1.0), "{method:?}: {} vs {}", g.score, w.1);
      }
      let back = Bm25Index::from_bytes(&idx.to_bytes()).unwrap();
      let o = BmpOptions { k: 3, alpha: 1.0, beta: 1.0, exhaustive: false };
      assert_eq!(back.search("lazy dog", &o, None).unwrap(), idx.search("lazy dog", &o, None).unwrap());
    }
  }
}
