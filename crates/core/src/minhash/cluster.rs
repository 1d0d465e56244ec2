//! Streaming near-duplicate clustering. Documents arrive in order (in batches); each is
//! signed (in parallel within a batch), then, sequentially:
//! - mode `Lsh`: candidates are the earlier documents sharing a band; with `verify`, only
//!   those whose estimated Jaccard is ≥ threshold count; each counted candidate is joined with
//!   the document in a union-find whose representative is the lowest index. A document with
//!   at least one counted candidate is a duplicate.
//! - mode `Bloom`: LSHBloom's first-seen-wins rule; a duplicate's earlier twin is unknown, so
//!   its cluster is reported as −1.
//!
//! Documents without any letter or digit have no shingle: they form one cluster of their
//! own (all exactly equal after normalisation), represented by the first of them.

use super::bloom::{BloomOptions, LshBloom};
use super::estimate::jaccard_unchecked;
use super::lsh::{check_threshold, LshOptions, MinHashLsh};
use super::sketch::{MinHasher, MinHasherOptions};
use crate::ids::ExternalId;
use crate::{parallel, Error, Result};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupMode {
  Lsh,
  Bloom,
}

/// Options of a [`Deduper`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DedupOptions {
  /// Jaccard threshold in (0, 1); default 0.8.
  pub threshold: f64,
  pub hasher: MinHasherOptions,
  pub mode: DedupMode,
  /// Lsh mode: confirm candidates by estimated Jaccard ≥ threshold (default true).
  pub verify: bool,
  /// Lsh mode: record every counted (earlier, later, estimated Jaccard) pair.
  pub collect_pairs: bool,
  /// (false-positive, false-negative) weights of the (b, r) objective; default (0.5, 0.5).
  pub weights: (f64, f64),
  /// Explicit (bands, rows); None → datasketch's choice.
  pub bands_rows: Option<(usize, usize)>,
  /// Bloom mode: documents the filters are sized for.
  pub expected_items: u64,
  /// Bloom mode: total extra false-positive rate; default 1e-5.
  pub false_positive_rate: f64,
}

impl Default for DedupOptions {
  fn default() -> Self {
    DedupOptions {
      threshold: 0.8,
      hasher: MinHasherOptions::default(),
      mode: DedupMode::Lsh,
      verify: true,
      collect_pairs: false,
      weights: (0.5, 0.5),
      bands_rows: None,
      expected_items: 1_000_000,
      false_positive_rate: 1e-5,
    }
  }
}

enum Engine {
  Lsh(MinHashLsh),
  Bloom(LshBloom),
}

/// The result of [`Deduper::finish`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DedupResult {
  /// Per document: the lowest index of its cluster (itself when unique or first);
  /// −1 in bloom mode for duplicates (the earlier twin is unknown).
  pub clusters: Vec<i32>,
  /// Per document: true when an earlier document made it a duplicate.
  pub is_duplicate: Vec<bool>,
  /// Number of duplicates (documents that are not the first of their cluster).
  pub duplicates: usize,
  /// (earlier, later, estimated Jaccard) pairs when `collect_pairs` (lsh mode).
  pub pairs: Vec<(u32, u32, f32)>,
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
  while parent[x as usize] != x {
    let p = parent[x as usize];
    parent[x as usize] = parent[p as usize];
    x = p;
  }
  x
}

/// Joins the sets of a and b under the lower root; returns it.
fn union(parent: &mut [u32], a: u32, b: u32) -> u32 {
  let (ra, rb) = (find(parent, a), find(parent, b));
  let (lo, hi) = (ra.min(rb), ra.max(rb));
  parent[hi as usize] = lo;
  lo
}

pub struct Deduper {
  opts: DedupOptions,
  hasher: MinHasher,
  engine: Engine,
  parent: Vec<u32>,
  is_dup: Vec<bool>,
  pairs: Vec<(u32, u32, f32)>,
  first_empty: Option<u32>,
}

impl Deduper {
  pub fn new(opts: DedupOptions) -> Result<Self> {
    check_threshold(opts.threshold, "threshold")?;
    let hasher = MinHasher::new(opts.hasher)?;
    let num_perm = opts.hasher.num_perm;
    let engine = match opts.mode {
      DedupMode::Lsh => Engine::Lsh(MinHashLsh::new(LshOptions {
        threshold: opts.threshold,
        num_perm,
        weights: opts.weights,
        bands_rows: opts.bands_rows,
        keep_signatures: opts.verify,
      })?),
      DedupMode::Bloom => Engine::Bloom(LshBloom::new(BloomOptions {
        threshold: opts.threshold,
        num_perm,
        expected_items: opts.expected_items,
        false_positive_rate: opts.false_positive_rate,
        weights: opts.weights,
        bands_rows: opts.bands_rows,
      })?),
    };
    Ok(Deduper {
      opts,
      hasher,
      engine,
      parent: Vec::new(),
      is_dup: Vec::new(),
      pairs: Vec::new(),
      first_empty: None,
    })
  }

  /// (bands, rows) in use.
  pub fn bands_rows(&self) -> (usize, usize) {
    match &self.engine {
      Engine::Lsh(l) => (l.bands(), l.rows()),
      Engine::Bloom(b) => (b.bands(), b.rows()),
    }
  }

  /// Documents seen so far.
  pub fn len(&self) -> usize {
    self.parent.len()
  }
  pub fn is_empty(&self) -> bool {
    self.parent.is_empty()
  }

  fn find(&mut self, x: u32) -> u32 {
    find(&mut self.parent, x)
  }

  fn union(&mut self, a: u32, b: u32) -> u32 {
    union(&mut self.parent, a, b)
  }

  /// Signs a batch in parallel, then clusters it in order.
  pub fn push<S: AsRef<str> + Sync>(&mut self, texts: &[S], threads: Option<usize>) -> Result<()> {
    let k = self.hasher.num_perm();
    if self.parent.len() + texts.len() > i32::MAX as usize {
      return Err(Error::invalid("dedup handles at most 2^31 − 1 documents"));
    }
    let mut sigs = vec![0u32; texts.len() * k];
    let hasher = &self.hasher;
    let empty: Vec<bool> = parallel::with_threads(threads, || {
      sigs
        .par_chunks_mut(k)
        .zip(texts.par_iter())
        .map(|(o, t)| hasher.sign_text_into(t.as_ref(), o).is_err())
        .collect()
    });
    for (d, sig) in sigs.chunks_exact(k).enumerate() {
      let i = self.parent.len() as u32;
      self.parent.push(i);
      if empty[d] {
        match self.first_empty {
          Some(f) => {
            self.union(f, i);
            self.is_dup.push(true);
          }
          None => {
            self.first_empty = Some(i);
            self.is_dup.push(false);
          }
        }
        continue;
      }
      let dup = match &mut self.engine {
        Engine::Bloom(b) => !b.insert_if_new(sig)?,
        Engine::Lsh(_) => self.cluster_lsh(i, sig)?,
      };
      self.is_dup.push(dup);
    }
    Ok(())
  }

  fn cluster_lsh(&mut self, i: u32, sig: &[u32]) -> Result<bool> {
    let Engine::Lsh(lsh) = &mut self.engine else {
      return Err(Error::Internal("not in lsh mode".into()));
    };
    let parent = &mut self.parent;
    let cands = lsh.candidates(sig)?;
    let mut joined: Vec<(u32, f32)> = Vec::new();
    let mut root = i;
    for c in cands {
      // Without pairs to report, a candidate already in our cluster needs no verification.
      if !self.opts.collect_pairs && root != i && find(parent, c) == find(parent, i) {
        continue;
      }
      let j = if self.opts.verify {
        let s = lsh
          .signature(c)
          .ok_or_else(|| Error::Internal("missing signature".into()))?;
        let j = jaccard_unchecked(s, sig);
        if j < self.opts.threshold {
          continue;
        }
        j
      } else {
        f64::NAN
      };
      root = union(parent, c, i);
      joined.push((c, j as f32));
    }
    lsh.insert(ExternalId::Int(i as i64), sig)?;
    if self.opts.collect_pairs {
      self.pairs.extend(joined.iter().map(|&(c, j)| (c, i, j)));
    }
    Ok(!joined.is_empty())
  }

  /// Final clusters.
  pub fn finish(mut self) -> DedupResult {
    let n = self.parent.len();
    let bloom = matches!(self.engine, Engine::Bloom(_));
    let mut clusters = Vec::with_capacity(n);
    for i in 0..n as u32 {
      let r = self.find(i);
      let unknown = bloom && self.is_dup[i as usize] && r == i;
      clusters.push(if unknown { -1 } else { r as i32 });
    }
    let duplicates = self.is_dup.iter().filter(|&&d| d).count();
    DedupResult {
      clusters,
      is_duplicate: self.is_dup,
      duplicates,
      pairs: self.pairs,
    }
  }
}
