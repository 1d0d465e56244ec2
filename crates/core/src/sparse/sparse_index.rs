//! `SparseIndex`: learned sparse vectors (SPLADE-like term → weight) with 8-bit impacts,
//! searched with Block-Max Pruning.

use super::block_index::{BlockIndex, BlockOptions, BmpOptions, SparseDocs};
use super::vocab::Vocab;
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::topk::Scored;
use crate::{Error, Result};
use rayon::prelude::*;

#[derive(Debug)]
pub struct SparseIndex {
  ids: IdMap,
  /// Term strings when documents were given as term → weight maps; empty for numeric term ids.
  vocab: Vocab,
  index: BlockIndex,
}

/// Allowed internal ids from external ids (unknown ids are ignored: they cannot match).
pub(crate) fn allowed_mask(ids: &IdMap, allowed: &[ExternalId]) -> Vec<bool> {
  let mut mask = vec![false; ids.len()];
  for id in allowed {
    if let Some(i) = ids.lookup(id) {
      mask[i as usize] = true;
    }
  }
  mask
}

impl SparseIndex {
  /// Builds from CSR documents. `vocab`: term strings (ids are positions) or empty with
  /// `vocab_size` numeric term ids. Weights are quantized to 8 bits (scale = max / 255).
  pub fn build(ids: Vec<ExternalId>, vocab: Vec<String>, vocab_size: usize, docs: &SparseDocs, block_size: usize) -> Result<Self> {
    if ids.len() + 1 != docs.offsets.len() {
      return Err(Error::InvalidArg(format!("{} ids for {} documents", ids.len(), docs.offsets.len().saturating_sub(1))));
    }
    let mut map = IdMap::new();
    map.push_batch(ids)?;
    let mut v = Vocab::new();
    for t in &vocab {
      if v.get(t).is_some() {
        return Err(Error::InvalidArg(format!("term {t:?} appears twice in the vocabulary")));
      }
      v.intern(t)?;
    }
    let size = if vocab.is_empty() { vocab_size } else { vocab.len() };
    let index = BlockIndex::build(docs, size, BlockOptions { block_size, quantize: true })?;
    Ok(SparseIndex { ids: map, vocab: v, index })
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
  pub fn vocab_size(&self) -> usize {
    self.index.vocab()
  }
  pub fn block_size(&self) -> usize {
    self.index.block_size()
  }
  pub fn postings(&self) -> usize {
    self.index.postings()
  }
  /// Term id of a term string (None when unknown or the index uses numeric term ids).
  pub fn term_id(&self, term: &str) -> Option<u32> {
    self.vocab.get(term)
  }
  pub fn has_term_strings(&self) -> bool {
    !self.vocab.is_empty()
  }

  pub fn search(&self, query: &[(u32, f32)], opts: &BmpOptions, allowed: Option<&[ExternalId]>) -> Result<Vec<Scored<f32>>> {
    let mask = allowed.map(|a| allowed_mask(&self.ids, a));
    self.index.search(query, opts, mask.as_deref())
  }

  /// Many queries in parallel (at most `threads` workers).
  pub fn search_batch(&self, queries: &[Vec<(u32, f32)>], opts: &BmpOptions, threads: Option<usize>) -> Result<Vec<Vec<Scored<f32>>>> {
    crate::parallel::with_threads(threads, || queries.par_iter().map(|q| self.index.search(q, opts, None)).collect())
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let mut parts = self.index.memory_usage();
    parts.push(("ids", self.ids.memory_bytes()));
    parts.push(("vocabulary", self.vocab.memory_bytes()));
    parts
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.len() as u64);
    let mut w = ContainerWriter::new(Kind::SparseIndex, p.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    let mut v = ByteWriter::new();
    self.vocab.write(&mut v);
    w.section(b"VOCB", v.into_bytes());
    let mut b = ByteWriter::new();
    self.index.write(&mut b);
    w.section(b"BLKS", b.into_bytes());
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::SparseIndex)?;
    let mut p = ByteReader::new(c.params());
    let n = p.get::<u64>("documents")?;
    p.finish("parameters")?;
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    let mut r = ByteReader::new(c.section(b"VOCB")?);
    let vocab = Vocab::read(&mut r)?;
    r.finish("vocabulary")?;
    let mut r = ByteReader::new(c.section(b"BLKS")?);
    let index = BlockIndex::read(&mut r)?;
    r.finish("block index")?;
    if ids.len() as u64 != n || index.len() as u64 != n || (!vocab.is_empty() && vocab.len() != index.vocab()) {
      return Err(Error::corrupt("ids, vocabulary and block index disagree on their sizes"));
    }
    Ok(SparseIndex { ids, vocab, index })
  }
}
