//! `MultiVectorIndex`: MUVERA candidate generation (FDE inner products) followed by exact
//! Chamfer reranking over the stored document tokens.
//!
//! Storage: document tokens in CSR layout as f32, f16 or int8 (one scale per token), and one
//! FDE per document as f32 or f16. Both baselines live here too, on the same data: brute-force
//! Chamfer over every document, and the single-vector heuristic (per-token nearest documents,
//! union, rerank).
//!
//! PQ-compressed FDEs ([`FdeStorage::Pq`], the paper's PQ-256-8 by default): a
//! [`ProductQuantizer`] is trained on a sample of the first added batch's FDEs and encodes every
//! later one; candidates come from asymmetric inner products (an `m × 2^nbits` table per query,
//! 8-bit table lookups or the 4-bit fast scan), then the same exact Chamfer rerank.

use super::chamfer::{DocTokens, PreparedQuery};
use super::fde::{FdeEncoder, FdeOptions};
use super::fde_scan::{fde_scores_with, FdeRows, PreparedFde};
use super::{check_csr, check_dim, reject_empty};
use crate::dense::fastscan::{self, FastScanCodes, QTable, BLOCK};
use crate::dense::pq::{adc_scan8, sample_rows, Metric, PqParams, ProductQuantizer};
use crate::ids::{ExternalId, IdMap};
use crate::io::{le_bytes, ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::progress::Progress;
use crate::topk::{sort_hits, Scored, TopMax};
use crate::{parallel, simd, validate, Error, Result};
use half::f16;
use rayon::prelude::*;

/// How document tokens are stored for reranking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStorage {
  /// 4 bytes per coordinate, exact.
  F32,
  /// 2 bytes per coordinate (IEEE binary16, saturating at ±65504).
  F16,
  /// 1 byte per coordinate plus a 4-byte scale per token (symmetric, absmax / 127).
  Int8,
}

/// How document FDEs are stored for candidate generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdeStorage {
  F32,
  F16,
  /// Product-quantized (see [`FdePqOptions`]).
  Pq,
}

/// Product quantization of the FDEs (`fde_storage: Pq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdePqOptions {
  /// Sub-quantizers; must divide the FDE length. `None`: FDE length / 8 for 8-bit codes (the
  /// paper's PQ-256-8, 1 byte per 8 floats) or / 4 for 4-bit codes (the same bytes), or the
  /// nearest divisor when that does not divide it.
  pub m: Option<usize>,
  /// Bits per code: 8 (table lookups) or 4 (fast scan with u8 tables). Default 8.
  pub nbits: u32,
  /// FDEs of the first batch sampled to train the codebooks (at least 2^nbits). Default 8192.
  pub training_size: usize,
  /// k-means iterations per sub-quantizer. Default 10.
  pub iterations: usize,
  /// Seed of the training sample and k-means. Default 42.
  pub seed: u64,
}

impl Default for FdePqOptions {
  fn default() -> Self {
    FdePqOptions {
      m: None,
      nbits: 8,
      training_size: 8192,
      iterations: 10,
      seed: 42,
    }
  }
}

impl FdePqOptions {
  /// The sub-quantizer count for an FDE of `dim` floats.
  pub fn resolve_m(&self, dim: usize) -> usize {
    if let Some(m) = self.m {
      return m;
    }
    let target = if self.nbits == 4 { 4 } else { 8 };
    // The divisor of dim whose sub-vector width is nearest the target (smaller on ties).
    (1..=dim)
      .filter(|w| dim.is_multiple_of(*w))
      .min_by_key(|&w| (w.abs_diff(target), w))
      .map_or(1, |w| dim / w)
  }

  fn check(&self, dim: usize) -> Result<()> {
    if self.training_size < (1 << self.nbits.min(8)) || self.training_size > 1 << 24 {
      return Err(Error::InvalidArg(format!(
        "pq.trainingSize must be an integer in [2^nbits, 2^24] (got {})",
        self.training_size
      )));
    }
    if self.iterations == 0 || self.iterations > 1000 {
      return Err(Error::InvalidArg(format!(
        "pq.iterations must be an integer in [1, 1000] (got {})",
        self.iterations
      )));
    }
    crate::dense::pq::check_params(dim, self.resolve_m(dim), self.nbits)
      .map_err(|e| Error::InvalidArg(format!("pq: {e} (the FDE has {dim} dimensions)")))
  }
}

/// The PQ-compressed FDEs of the stored documents.
#[derive(Clone, Debug)]
enum PqCodes {
  /// n × m bytes.
  Eight(Vec<u8>),
  Four(FastScanCodes),
}

#[derive(Clone, Debug)]
struct FdePq {
  quantizer: ProductQuantizer,
  codes: PqCodes,
}

impl FdePq {
  fn new(quantizer: ProductQuantizer) -> Self {
    let codes = if quantizer.nbits() == 8 {
      PqCodes::Eight(Vec::new())
    } else {
      PqCodes::Four(FastScanCodes::new(quantizer.m()))
    };
    FdePq { quantizer, codes }
  }

  /// Appends unpacked codes (m bytes each).
  fn push(&mut self, unpacked: &[u8]) {
    match &mut self.codes {
      PqCodes::Eight(v) => v.extend_from_slice(unpacked),
      PqCodes::Four(f) => unpacked.chunks_exact(self.quantizer.m()).for_each(|c| f.push(c)),
    }
  }

  fn memory_bytes(&self) -> usize {
    match &self.codes {
      PqCodes::Eight(v) => v.capacity(),
      PqCodes::Four(f) => f.memory_bytes(),
    }
  }
}

impl TokenStorage {
  pub fn name(self) -> &'static str {
    match self {
      TokenStorage::F32 => "f32",
      TokenStorage::F16 => "f16",
      TokenStorage::Int8 => "int8",
    }
  }
  fn code(self) -> u8 {
    self as u8
  }
  fn from_code(c: u8) -> Option<Self> {
    [TokenStorage::F32, TokenStorage::F16, TokenStorage::Int8]
      .into_iter()
      .find(|s| s.code() == c)
  }
}

impl FdeStorage {
  pub fn name(self) -> &'static str {
    match self {
      FdeStorage::F32 => "f32",
      FdeStorage::F16 => "f16",
      FdeStorage::Pq => "pq",
    }
  }
  fn code(self) -> u8 {
    self as u8
  }
  fn from_code(c: u8) -> Option<Self> {
    [FdeStorage::F32, FdeStorage::F16, FdeStorage::Pq]
      .into_iter()
      .find(|s| s.code() == c)
  }
}

#[derive(Clone, Debug)]
pub struct MultiVectorOptions {
  /// FDE parameters; `fde.dim` is the token dimension.
  pub fde: FdeOptions,
  /// Token storage. Default f16.
  pub storage: TokenStorage,
  /// FDE storage. Default f16.
  pub fde_storage: FdeStorage,
  /// Product quantization of the FDEs (used with `fde_storage: Pq`).
  pub pq: FdePqOptions,
}

impl MultiVectorOptions {
  pub fn new(dim: usize) -> Self {
    MultiVectorOptions {
      fde: FdeOptions::new(dim),
      storage: TokenStorage::F16,
      fde_storage: FdeStorage::F16,
      pq: FdePqOptions::default(),
    }
  }
}

/// Options of one search.
#[derive(Clone, Copy, Debug)]
pub struct SearchOptions {
  /// Results to return, ≥ 1.
  pub k: usize,
  /// FDE candidates to rerank exactly. Default 10·k; values below k are raised to k.
  pub candidates: Option<usize>,
  /// Ball-carving threshold τ for merging query tokens before reranking (the paper uses 0.7):
  /// tokens with ⟨q, q′⟩ ≥ τ to an earlier unmerged token are summed into it. Scores are then
  /// an approximation (never above the exact Chamfer). `None`: no merging.
  pub merge_threshold: Option<f32>,
  /// Clamp each per-token max at 0 (ColBERT-CPU / PyLate semantics).
  pub clamp_negative: bool,
}

impl SearchOptions {
  pub fn new(k: usize) -> Self {
    SearchOptions {
      k,
      candidates: None,
      merge_threshold: None,
      clamp_negative: false,
    }
  }
}

/// Documents encoded (and converted) per step of `add`, bounding temporary f32 FDE memory.
const ADD_CHUNK: usize = 512;
/// Documents scored per step of a scan (scores buffer stays in L1/L2).
const SCAN_CHUNK: usize = 1024;

/// A batch validated, encoded and converted by [`MultiVectorIndex::prepare_add`].
#[derive(Default)]
pub struct PreparedAdd {
  ids: Vec<ExternalId>,
  /// Token end offsets relative to the batch.
  ends: Vec<u64>,
  tok_f32: Vec<f32>,
  tok_f16: Vec<u16>,
  tok_i8: Vec<i8>,
  tok_scales: Vec<f32>,
  fde_f32: Vec<f32>,
  fde_f16: Vec<u16>,
  /// Unpacked PQ codes (m bytes per document).
  fde_codes: Vec<u8>,
  /// The quantizer trained on this (first) batch, if the index had none.
  trained: Option<ProductQuantizer>,
}

#[derive(Clone, Debug)]
pub struct MultiVectorIndex {
  dim: usize,
  storage: TokenStorage,
  fde_storage: FdeStorage,
  encoder: FdeEncoder,
  /// Token offsets, n + 1 entries (document i = tokens offsets[i]..offsets[i+1]).
  offsets: Vec<u64>,
  tok_f32: Vec<f32>,
  tok_f16: Vec<u16>,
  tok_i8: Vec<i8>,
  tok_scales: Vec<f32>,
  fde_f32: Vec<f32>,
  fde_f16: Vec<u16>,
  pq_options: FdePqOptions,
  /// With `FdeStorage::Pq`: the quantizer and codes, once the first batch trained it.
  fde_pq: Option<FdePq>,
  ids: IdMap,
}

/// f32 → f16 bits, saturating at the largest finite half so no infinity is ever stored.
#[inline]
fn to_f16_bits(x: f32) -> u16 {
  f16::from_f32(x.clamp(-65504.0, 65504.0)).to_bits()
}

/// Greedy ball carving (MUVERA §C.3): returns the merged query tokens (sums of members).
pub(crate) fn carve(q: &[f32], dim: usize, tau: f32) -> Vec<f32> {
  let nq = q.len() / dim;
  let mut taken = vec![false; nq];
  let mut out = Vec::with_capacity(q.len());
  for i in 0..nq {
    if taken[i] {
      continue;
    }
    taken[i] = true;
    let qi = &q[i * dim..(i + 1) * dim];
    let mut sum = qi.to_vec();
    for j in i + 1..nq {
      if taken[j] {
        continue;
      }
      let qj = &q[j * dim..(j + 1) * dim];
      let d: f32 = qi.iter().zip(qj).map(|(a, b)| a * b).sum();
      if d >= tau {
        taken[j] = true;
        sum.iter_mut().zip(qj).for_each(|(s, v)| *s += v);
      }
    }
    out.extend_from_slice(&sum);
  }
  out
}

impl MultiVectorIndex {
  pub fn new(opts: MultiVectorOptions) -> Result<Self> {
    let encoder = FdeEncoder::new(opts.fde)?;
    if opts.fde_storage == FdeStorage::Pq {
      opts.pq.check(encoder.output_dim())?;
    }
    let mut idx = Self::with_encoder(encoder, opts.storage, opts.fde_storage);
    idx.pq_options = opts.pq;
    Ok(idx)
  }

  /// An empty index using an existing encoder (e.g. one loaded from bytes).
  pub fn with_encoder(encoder: FdeEncoder, storage: TokenStorage, fde_storage: FdeStorage) -> Self {
    MultiVectorIndex {
      dim: encoder.dim(),
      storage,
      fde_storage,
      encoder,
      offsets: vec![0],
      tok_f32: Vec::new(),
      tok_f16: Vec::new(),
      tok_i8: Vec::new(),
      tok_scales: Vec::new(),
      fde_f32: Vec::new(),
      fde_f16: Vec::new(),
      pq_options: FdePqOptions::default(),
      fde_pq: None,
      ids: IdMap::new(),
    }
  }

  /// The PQ options (meaningful with `FdeStorage::Pq`).
  pub fn pq_options(&self) -> &FdePqOptions {
    &self.pq_options
  }

  /// The trained FDE quantizer (`FdeStorage::Pq`, after the first add).
  pub fn fde_quantizer(&self) -> Option<&ProductQuantizer> {
    self.fde_pq.as_ref().map(|p| &p.quantizer)
  }

  pub fn dim(&self) -> usize {
    self.dim
  }
  pub fn len(&self) -> usize {
    self.offsets.len() - 1
  }
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
  pub fn encoder(&self) -> &FdeEncoder {
    &self.encoder
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn storage(&self) -> TokenStorage {
    self.storage
  }
  pub fn fde_storage(&self) -> FdeStorage {
    self.fde_storage
  }
  /// Total stored tokens.
  pub fn token_count(&self) -> usize {
    *self.offsets.last().expect("offsets has n + 1 entries") as usize
  }

  fn doc(&self, i: usize) -> DocTokens<'_> {
    let (a, b) = (
      self.offsets[i] as usize * self.dim,
      self.offsets[i + 1] as usize * self.dim,
    );
    match self.storage {
      TokenStorage::F32 => DocTokens::F32(&self.tok_f32[a..b]),
      TokenStorage::F16 => DocTokens::F16(&self.tok_f16[a..b]),
      TokenStorage::Int8 => DocTokens::I8 {
        codes: &self.tok_i8[a..b],
        scales: &self.tok_scales[self.offsets[i] as usize..self.offsets[i + 1] as usize],
      },
    }
  }

  fn fde_rows(&self) -> FdeRows<'_> {
    match self.fde_storage {
      FdeStorage::F16 => FdeRows::F16(&self.fde_f16),
      _ => FdeRows::F32(&self.fde_f32),
    }
  }

  /// Trains the FDE quantizer on a sample of the batch's documents.
  fn train_quantizer(
    &self,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
  ) -> Result<ProductQuantizer> {
    let (n, dim, od) = (offsets.len() - 1, self.dim, self.encoder.output_dim());
    let o = &self.pq_options;
    let ksub = 1usize << o.nbits;
    if n < ksub {
      return Err(Error::InvalidArg(format!(
        "fdeStorage 'pq' trains its codebooks on the first add(): it needs at least 2^nbits = {ksub} documents (got {n}); \
         add a larger first batch or use nbits 4"
      )));
    }
    let rows = sample_rows(n, o.training_size, crate::rng::mix64(o.seed ^ 0x4644_4551));
    let mut sample_tokens = Vec::new();
    let mut sample_offsets = vec![0usize];
    for &r in &rows {
      sample_tokens.extend_from_slice(&tokens[offsets[r] * dim..offsets[r + 1] * dim]);
      sample_offsets.push(sample_offsets.last().copied().unwrap_or(0) + offsets[r + 1] - offsets[r]);
    }
    let mut fdes = vec![0f32; rows.len() * od];
    self
      .encoder
      .encode_batch_into(&sample_tokens, &sample_offsets, true, threads, &mut fdes);
    let params = PqParams {
      dim: od,
      m: o.resolve_m(od),
      nbits: o.nbits,
      iters: o.iterations,
      seed: o.seed,
    };
    parallel::with_threads(threads, || ProductQuantizer::train(&fdes, &params))
  }

  /// Adds documents (CSR: `tokens` of `offsets[n]·dim` floats) with their ids, encoding their
  /// FDEs on at most `threads` threads. All-or-nothing: on error the index is unchanged.
  pub fn add(
    &mut self,
    ids: Vec<ExternalId>,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
  ) -> Result<()> {
    let batch = self.prepare_add(ids, tokens, offsets, threads)?;
    self.commit_add(batch)
  }

  /// The expensive half of `add` (validation, FDE encoding, token conversion), done under a
  /// shared borrow so concurrent searches keep running; [`commit_add`](Self::commit_add) appends.
  pub fn prepare_add(
    &self,
    ids: Vec<ExternalId>,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
  ) -> Result<PreparedAdd> {
    self.prepare_add_with(ids, tokens, offsets, threads, &Progress::none())
  }

  /// [`prepare_add`](Self::prepare_add) reporting encoded documents to `progress` (every
  /// 512 documents), and stopping with `Error::Aborted` (index unchanged) when it is cancelled.
  pub fn prepare_add_with(
    &self,
    ids: Vec<ExternalId>,
    tokens: &[f32],
    offsets: &[usize],
    threads: Option<usize>,
    progress: &Progress,
  ) -> Result<PreparedAdd> {
    let n = check_csr(tokens, self.dim, offsets, "tokens")?;
    if n == 0 {
      return Err(Error::invalid(
        "add() needs at least one document (got an empty batch)",
      ));
    }
    reject_empty(offsets, "tokens")?;
    if ids.len() != n {
      return Err(Error::InvalidArg(format!(
        "ids has {} entries but offsets describe {n} documents",
        ids.len()
      )));
    }
    self.ids.check_new(&ids)?;
    let dim = self.dim;
    let mut b = PreparedAdd {
      ids,
      ends: offsets[1..].iter().map(|&o| o as u64).collect(),
      ..Default::default()
    };
    match self.storage {
      TokenStorage::F32 => b.tok_f32 = tokens.to_vec(),
      TokenStorage::F16 => b.tok_f16 = tokens.iter().map(|&x| to_f16_bits(x)).collect(),
      TokenStorage::Int8 => {
        b.tok_i8.reserve(tokens.len());
        for t in tokens.chunks_exact(dim) {
          let m = t.iter().fold(0f32, |a, x| a.max(x.abs()));
          let s = if m > 0.0 { m / 127.0 } else { 0.0 };
          b.tok_scales.push(s);
          b.tok_i8.extend(t.iter().map(|&x| {
            if s > 0.0 {
              (x / s).round().clamp(-127.0, 127.0) as i8
            } else {
              0
            }
          }));
        }
      }
    }
    let od = self.encoder.output_dim();
    let quantizer = match (self.fde_storage, &self.fde_pq) {
      (FdeStorage::Pq, Some(p)) => Some(&p.quantizer),
      (FdeStorage::Pq, None) => {
        b.trained = Some(self.train_quantizer(tokens, offsets, threads)?);
        b.trained.as_ref()
      }
      _ => None,
    };
    let mut buf = Vec::new();
    let mut start = 0;
    while start < n {
      let end = (start + ADD_CHUNK).min(n);
      let local: Vec<usize> = offsets[start..=end].iter().map(|&o| o - offsets[start]).collect();
      let toks = &tokens[offsets[start] * dim..offsets[end] * dim];
      buf.clear();
      buf.resize((end - start) * od, 0.0);
      self
        .encoder
        .encode_batch_into(toks, &local, true, threads, &mut buf);
      match self.fde_storage {
        FdeStorage::F32 => b.fde_f32.extend_from_slice(&buf),
        FdeStorage::F16 => b.fde_f16.extend(buf.iter().map(|&x| to_f16_bits(x))),
        FdeStorage::Pq => {
          let q = quantizer.expect("a PQ index has a quantizer here");
          let codes = parallel::with_threads(threads, || q.encode_unpacked(&buf));
          b.fde_codes.extend_from_slice(&codes);
        }
      }
      progress.step(end as u64, n as u64)?;
      start = end;
    }
    Ok(b)
  }

  /// Appends a batch from [`prepare_add`](Self::prepare_add) (on this index). Fails only if
  /// another add took one of its ids in the meantime; the index is then unchanged.
  pub fn commit_add(&mut self, b: PreparedAdd) -> Result<()> {
    self.ids.check_new(&b.ids)?;
    if self.fde_storage == FdeStorage::Pq {
      match (b.trained, &mut self.fde_pq) {
        (Some(_), Some(_)) => return Err(Error::invalid(
          "another add() trained the FDE quantizer while this batch was being encoded; add this batch again",
        )),
        (Some(q), None) => self.fde_pq = Some(FdePq::new(q)),
        (None, _) => {}
      }
      self
        .fde_pq
        .as_mut()
        .expect("trained by the first add")
        .push(&b.fde_codes);
    }
    let base = self.token_count() as u64;
    self.offsets.extend(b.ends.iter().map(|&e| base + e));
    self.tok_f32.extend_from_slice(&b.tok_f32);
    self.tok_f16.extend_from_slice(&b.tok_f16);
    self.tok_i8.extend_from_slice(&b.tok_i8);
    self.tok_scales.extend_from_slice(&b.tok_scales);
    self.fde_f32.extend_from_slice(&b.fde_f32);
    self.fde_f16.extend_from_slice(&b.fde_f16);
    self.ids.push_checked(b.ids);
    Ok(())
  }

  /// Validates one query point cloud; returns its token count.
  fn check_query(&self, query: &[f32]) -> Result<usize> {
    check_dim(self.dim)?;
    let nq = validate::vector_count(query.len(), self.dim, "query tokens")?;
    if nq == 0 {
      return Err(Error::invalid("query tokens: the query has no tokens"));
    }
    validate::finite(query, self.dim, "query tokens")?;
    Ok(nq)
  }

  /// The `c` documents with the largest FDE inner product with the query (best first).
  pub fn fde_candidates(&self, query: &[f32], c: usize) -> Result<Vec<Scored<f32>>> {
    self.check_query(query)?;
    let fq = self.encoder.encode_query(query)?;
    Ok(self.fde_top(&PreparedFde::new(&fq), &fq, c))
  }

  /// Top `c` by asymmetric PQ inner product (8-bit: exact table sums; 4-bit: the fast scan's
  /// quantized estimates), best first.
  fn pq_top(&self, p: &FdePq, fq: &[f32], c: usize) -> Vec<Scored<f32>> {
    let n = self.len();
    let q = &p.quantizer;
    let (m, ksub) = (q.m(), q.ksub());
    let mut table = vec![0f32; m * ksub];
    q.table_into(fq, Metric::InnerProduct, &mut table);
    // Chunks of whole 32-code blocks, scored in parallel.
    let step = SCAN_CHUNK.div_ceil(BLOCK) * BLOCK;
    let starts: Vec<usize> = (0..n).step_by(step).collect();
    let partial: Vec<TopMax<f32>> = match &p.codes {
      PqCodes::Eight(codes) => starts
        .par_iter()
        .map(|&start| {
          let len = step.min(n - start);
          let mut scores = vec![0f32; len];
          adc_scan8(&table, m, &codes[start * m..(start + len) * m], &mut scores);
          let mut top = TopMax::new(c);
          for (j, &s) in scores.iter().enumerate() {
            top.push(s, (start + j) as u32);
          }
          top
        })
        .collect(),
      PqCodes::Four(codes) => {
        // The fast scan ranks distances (smaller is better): negate the inner products.
        table.iter_mut().for_each(|v| *v = -*v);
        let qt = QTable::new(&table, m);
        let tier = simd::tier();
        starts
          .par_iter()
          .map(|&start| {
            let len = step.min(n - start);
            let mut top = TopMax::new(c);
            let mut sums = [0u16; BLOCK];
            for blk in start / BLOCK..(start + len).div_ceil(BLOCK) {
              fastscan::block_with(tier, &qt, codes, blk, &mut sums);
              let end = (n - blk * BLOCK).min(BLOCK);
              for (j, &s) in sums[..end].iter().enumerate() {
                top.push(-qt.estimate(s), (blk * BLOCK + j) as u32);
              }
            }
            top
          })
          .collect()
      }
    };
    let mut top = TopMax::new(c);
    for part in partial {
      top.merge(part);
    }
    top.into_sorted()
  }

  fn fde_top(&self, pf: &PreparedFde, fq: &[f32], c: usize) -> Vec<Scored<f32>> {
    if let Some(p) = &self.fde_pq {
      return self.pq_top(p, fq, c);
    }
    let n = self.len();
    let tier = simd::tier();
    let rows = self.fde_rows();
    let chunks: Vec<usize> = (0..n).step_by(SCAN_CHUNK).collect();
    let partial: Vec<TopMax<f32>> = chunks
      .par_iter()
      .map(|&start| {
        let len = SCAN_CHUNK.min(n - start);
        let mut scores = vec![0f32; len];
        fde_scores_with(tier, pf, rows, start, &mut scores);
        let mut top = TopMax::new(c);
        for (j, &s) in scores.iter().enumerate() {
          top.push(s, (start + j) as u32);
        }
        top
      })
      .collect();
    let mut top = TopMax::new(c);
    for p in partial {
      top.merge(p);
    }
    top.into_sorted()
  }

  /// Exact (or merged-query) Chamfer scores of the given internal ids, best first, top `k`.
  /// Many candidates are scored in parallel chunks on the rayon pool (as the scan and brute
  /// force are); scores do not depend on the split.
  fn rerank(
    &self,
    pq: &PreparedQuery,
    ids: impl Iterator<Item = u32>,
    k: usize,
    clamp: bool,
  ) -> Vec<Scored<f32>> {
    const PAR_CHUNK: usize = 32;
    let ids: Vec<u32> = ids.collect();
    let score = |chunk: &[u32]| -> Vec<Scored<f32>> {
      let mut scratch = Vec::new();
      chunk
        .iter()
        .map(|&id| Scored {
          id,
          score: pq.score(self.doc(id as usize), clamp, &mut scratch),
        })
        .collect()
    };
    let mut hits: Vec<Scored<f32>> = if ids.len() >= 2 * PAR_CHUNK {
      ids.par_chunks(PAR_CHUNK).flat_map_iter(score).collect()
    } else {
      score(&ids)
    };
    sort_hits(&mut hits, true);
    hits.truncate(k);
    hits
  }

  fn search_checked(&self, query: &[f32], o: &SearchOptions) -> Result<Vec<Scored<f32>>> {
    let n = self.len();
    let c = o.candidates.unwrap_or_else(|| o.k.saturating_mul(10)).max(o.k);
    let rerank_q = match o.merge_threshold {
      Some(tau) => carve(query, self.dim, tau),
      None => query.to_vec(),
    };
    let pq = PreparedQuery::active(&rerank_q, self.dim);
    if c >= n {
      // Every document is a candidate: no need to rank FDEs.
      return Ok(self.rerank(&pq, 0..n as u32, o.k, o.clamp_negative));
    }
    let fq = self.encoder.encode_query(query)?;
    let cands = self.fde_top(&PreparedFde::new(&fq), &fq, c);
    Ok(self.rerank(&pq, cands.into_iter().map(|s| s.id), o.k, o.clamp_negative))
  }

  fn check_search(&self, o: &SearchOptions) -> Result<()> {
    validate::k(o.k)?;
    if let Some(t) = o.merge_threshold {
      if !t.is_finite() {
        return Err(Error::invalid(
          "mergeThreshold must be a finite number (the paper uses 0.7)",
        ));
      }
    }
    Ok(())
  }

  /// Top `k` documents for one query point cloud (`nq × dim` floats, nq ≥ 1): FDE candidates,
  /// then exact Chamfer rerank. Scores are Chamfer similarities, best first.
  pub fn search(&self, query: &[f32], o: &SearchOptions) -> Result<Vec<Scored<f32>>> {
    self.check_search(o)?;
    self.check_query(query)?;
    self.search_checked(query, o)
  }

  /// Searches a CSR batch of queries in parallel on at most `threads` threads.
  pub fn search_batch(
    &self,
    queries: &[f32],
    offsets: &[usize],
    o: &SearchOptions,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    self.check_search(o)?;
    let nqs = check_csr(queries, self.dim, offsets, "query tokens")?;
    reject_empty(offsets, "query tokens")?;
    let dim = self.dim;
    parallel::with_threads(threads, || {
      (0..nqs)
        .into_par_iter()
        .map(|i| {
          let q = &queries[offsets[i] * dim..offsets[i + 1] * dim];
          self.search_checked(q, o)
        })
        .collect()
    })
  }

  /// Baseline: exact Chamfer against every document (parallel over documents).
  pub fn search_brute_force(
    &self,
    query: &[f32],
    k: usize,
    clamp_negative: bool,
  ) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    self.check_query(query)?;
    let pq = PreparedQuery::active(query, self.dim);
    let n = self.len();
    let chunks: Vec<usize> = (0..n).step_by(256).collect();
    let partial: Vec<TopMax<f32>> = chunks
      .par_iter()
      .map(|&start| {
        let mut scratch = Vec::new();
        let mut top = TopMax::new(k);
        for i in start..(start + 256).min(n) {
          top.push(pq.score(self.doc(i), clamp_negative, &mut scratch), i as u32);
        }
        top
      })
      .collect();
    let mut top = TopMax::new(k);
    for p in partial {
      top.merge(p);
    }
    Ok(top.into_sorted())
  }

  /// Baseline candidate generation, the single-vector heuristic (PLAID-style, deduplicated):
  /// each query token ranks documents by their best-matching token; the per-token lists are
  /// merged round-robin (rank 1 of every token, then rank 2, …) until `c` distinct documents.
  pub fn single_vector_candidates(&self, query: &[f32], c: usize) -> Result<Vec<u32>> {
    let nq = self.check_query(query)?;
    let n = self.len();
    let c = c.min(n);
    let pq = PreparedQuery::active(query, self.dim);
    // Per document, the best dot of each query token (the maxima the Chamfer kernel computes).
    let per_doc: Vec<Vec<f32>> = (0..n)
      .into_par_iter()
      .map_init(Vec::new, |scratch, i| pq.token_maxima(self.doc(i), scratch))
      .collect();
    let lists: Vec<Vec<u32>> = (0..nq)
      .into_par_iter()
      .map(|m| {
        let mut top = TopMax::new(c);
        for (i, v) in per_doc.iter().enumerate() {
          top.push(v[m], i as u32);
        }
        top.into_sorted().into_iter().map(|s| s.id).collect()
      })
      .collect();
    let mut seen = vec![false; n];
    let mut out = Vec::with_capacity(c);
    'outer: for rank in 0..c {
      for l in &lists {
        if let Some(&id) = l.get(rank) {
          if !seen[id as usize] {
            seen[id as usize] = true;
            out.push(id);
            if out.len() == c {
              break 'outer;
            }
          }
        }
      }
    }
    Ok(out)
  }

  /// Baseline search: single-vector heuristic candidates, then exact Chamfer rerank.
  pub fn search_single_vector(&self, query: &[f32], o: &SearchOptions) -> Result<Vec<Scored<f32>>> {
    self.check_search(o)?;
    self.check_query(query)?;
    let c = o.candidates.unwrap_or_else(|| o.k.saturating_mul(10)).max(o.k);
    let cands = self.single_vector_candidates(query, c)?;
    let pq = PreparedQuery::active(query, self.dim);
    Ok(self.rerank(&pq, cands.into_iter(), o.k, o.clamp_negative))
  }

  /// Bytes held, by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    vec![
      (
        "tokens",
        self.tok_f32.capacity() * 4
          + self.tok_f16.capacity() * 2
          + self.tok_i8.capacity()
          + self.tok_scales.capacity() * 4,
      ),
      ("offsets", self.offsets.capacity() * 8),
      (
        "fde",
        self.fde_f32.capacity() * 4
          + self.fde_f16.capacity() * 2
          + self.fde_pq.as_ref().map_or(0, |p| p.memory_bytes()),
      ),
      (
        "fdeCodebooks",
        self.fde_pq.as_ref().map_or(0, |p| p.quantizer.memory_bytes()),
      ),
      ("encoder", self.encoder.memory_bytes()),
      ("ids", self.ids.memory_bytes()),
    ]
  }

  /// Total bytes held.
  pub fn memory_bytes(&self) -> usize {
    self.memory_usage().iter().map(|(_, b)| b).sum()
  }

  /// Releases spare capacity (after the last add) so memory matches the data.
  pub fn shrink_to_fit(&mut self) {
    self.offsets.shrink_to_fit();
    self.tok_f32.shrink_to_fit();
    self.tok_f16.shrink_to_fit();
    self.tok_i8.shrink_to_fit();
    self.tok_scales.shrink_to_fit();
    self.fde_f32.shrink_to_fit();
    self.fde_f16.shrink_to_fit();
    if let Some(p) = &mut self.fde_pq {
      match &mut p.codes {
        PqCodes::Eight(v) => v.shrink_to_fit(),
        PqCodes::Four(f) => f.blocks.shrink_to_fit(),
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Persistence
  // -------------------------------------------------------------------------------------------

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.dim as u64)
      .put(self.storage.code())
      .put(self.fde_storage.code())
      .put(self.len() as u64)
      .put(self.token_count() as u64);
    let mut w = ContainerWriter::new(Kind::MultiVectorIndex, p.into_bytes());
    w.section(b"FDEE", self.encoder.to_bytes());
    let raw = |f: &dyn Fn(&mut ByteWriter)| {
      let mut b = ByteWriter::new();
      f(&mut b);
      b.into_bytes()
    };
    w.section(b"OFFS", le_bytes(&self.offsets));
    match self.storage {
      TokenStorage::F32 => w.section(b"TOKS", le_bytes(&self.tok_f32)),
      TokenStorage::F16 => w.section(b"TOKS", le_bytes(&self.tok_f16)),
      TokenStorage::Int8 => {
        w.section(b"TOKS", le_bytes(&self.tok_i8));
        w.section(b"TSCL", le_bytes(&self.tok_scales))
      }
    };
    match self.fde_storage {
      FdeStorage::F32 => w.section(b"FDEV", le_bytes(&self.fde_f32)),
      FdeStorage::F16 => w.section(b"FDEV", le_bytes(&self.fde_f16)),
      FdeStorage::Pq => {
        let o = &self.pq_options;
        w.section(
          b"FDPO",
          raw(&|b| {
            b.put(o.m.unwrap_or(0) as u64)
              .put(o.nbits)
              .put(o.training_size as u64)
              .put(o.iterations as u64)
              .put(o.seed);
          }),
        );
        if let Some(p) = &self.fde_pq {
          w.section(b"FDPQ", p.quantizer.to_bytes());
          match &p.codes {
            PqCodes::Eight(v) => w.section(b"FDEV", v.clone()),
            PqCodes::Four(f) => w.section(b"FDEV", f.blocks.clone()),
          };
        }
        &mut w
      }
    };
    w.section(b"IDS_", raw(&|b| self.ids.write(b)));
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::MultiVectorIndex)?;
    let mut p = ByteReader::new(c.params());
    let usz = |r: &mut ByteReader, what: &str| -> Result<usize> {
      usize::try_from(r.get::<u64>(what)?).map_err(|_| Error::corrupt(format!("{what} overflows")))
    };
    let dim = usz(&mut p, "dim")?;
    let storage = TokenStorage::from_code(p.get::<u8>("storage")?)
      .ok_or_else(|| Error::corrupt("unknown token storage"))?;
    let fde_storage = FdeStorage::from_code(p.get::<u8>("fde storage")?)
      .ok_or_else(|| Error::corrupt("unknown FDE storage"))?;
    let n = usz(&mut p, "document count")?;
    let total = usz(&mut p, "token count")?;
    p.finish("MultiVectorIndex parameters")?;
    let encoder = FdeEncoder::from_bytes(c.section(b"FDEE")?)?;
    if encoder.dim() != dim {
      return Err(Error::corrupt(format!(
        "encoder dim {} differs from index dim {dim}",
        encoder.dim()
      )));
    }
    let mut idx = Self::with_encoder(encoder, storage, fde_storage);
    let size_err = |what: &str, got: usize| {
      Error::corrupt(format!(
        "{what} has {got} bytes, which does not match {n} documents / {total} tokens of dim {dim}"
      ))
    };
    let need = |what: &str, s: &[u8], count: Option<usize>, elem: usize| -> Result<usize> {
      match count.and_then(|c| c.checked_mul(elem)) {
        Some(b) if b == s.len() => Ok(count.unwrap_or(0)),
        _ => Err(size_err(what, s.len())),
      }
    };
    let offs = c.section(b"OFFS")?;
    need("offsets", offs, n.checked_add(1), 8)?;
    idx.offsets = ByteReader::new(offs).get_raw::<u64>(n + 1, "offsets")?;
    if idx.offsets[0] != 0 || idx.offsets.windows(2).any(|w| w[1] <= w[0]) || idx.offsets[n] != total as u64 {
      return Err(Error::corrupt(
        "token offsets must start at 0, increase strictly and end at the token count",
      ));
    }
    let floats = total.checked_mul(dim);
    let toks = c.section(b"TOKS")?;
    match storage {
      TokenStorage::F32 => {
        let cnt = need("tokens", toks, floats, 4)?;
        idx.tok_f32 = ByteReader::new(toks).get_raw::<f32>(cnt, "tokens")?;
        if idx.tok_f32.iter().any(|x| !x.is_finite()) {
          return Err(Error::corrupt("tokens contain non-finite values"));
        }
      }
      TokenStorage::F16 => {
        let cnt = need("tokens", toks, floats, 2)?;
        idx.tok_f16 = ByteReader::new(toks).get_raw::<u16>(cnt, "tokens")?;
        if idx.tok_f16.iter().any(|&h| h & 0x7c00 == 0x7c00) {
          return Err(Error::corrupt("f16 tokens contain non-finite values"));
        }
      }
      TokenStorage::Int8 => {
        need("tokens", toks, floats, 1)?;
        idx.tok_i8 = toks.iter().map(|&x| x as i8).collect();
        let sc = c.section(b"TSCL")?;
        need("token scales", sc, Some(total), 4)?;
        idx.tok_scales = ByteReader::new(sc).get_raw::<f32>(total, "token scales")?;
        if idx.tok_scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
          return Err(Error::corrupt("token scales must be finite and non-negative"));
        }
      }
    }
    let od = idx.encoder.output_dim();
    if fde_storage == FdeStorage::Pq {
      let mut r = ByteReader::new(c.section(b"FDPO")?);
      let m = match usz(&mut r, "pq m")? {
        0 => None,
        m => Some(m),
      };
      let nbits = r.get::<u32>("pq nbits")?;
      let training_size = usz(&mut r, "pq training size")?;
      let iterations = usz(&mut r, "pq iterations")?;
      let seed = r.get::<u64>("pq seed")?;
      r.finish("PQ options")?;
      idx.pq_options = FdePqOptions {
        m,
        nbits,
        training_size,
        iterations,
        seed,
      };
      idx
        .pq_options
        .check(od)
        .map_err(|e| Error::corrupt(format!("invalid PQ options: {e}")))?;
      match c.optional_section(b"FDPQ") {
        None if n == 0 => {}
        None => return Err(Error::corrupt("a non-empty PQ index has no FDE codebooks")),
        Some(books) => {
          let q = ProductQuantizer::from_bytes(books)?;
          if q.dim() != od || q.m() != idx.pq_options.resolve_m(od) || q.nbits() != nbits {
            return Err(Error::corrupt(format!(
              "FDE codebooks (dim {}, m {}, nbits {}) do not match the encoder's {od} dimensions and the PQ options",
              q.dim(),
              q.m(),
              q.nbits()
            )));
          }
          let fv = c.section(b"FDEV")?;
          let codes = if nbits == 8 {
            need("FDE codes", fv, n.checked_mul(q.m()), 1)?;
            PqCodes::Eight(fv.to_vec())
          } else {
            PqCodes::Four(
              FastScanCodes::from_parts(q.m(), n, fv.to_vec())
                .ok_or_else(|| Error::corrupt("FDE fast-scan codes are malformed"))?,
            )
          };
          idx.fde_pq = Some(FdePq { quantizer: q, codes });
        }
      }
    }
    let fv = if fde_storage == FdeStorage::Pq {
      &[][..]
    } else {
      c.section(b"FDEV")?
    };
    let fcount = n.checked_mul(od);
    match fde_storage {
      FdeStorage::Pq => {}
      FdeStorage::F32 => {
        let cnt = need("FDEs", fv, fcount, 4)?;
        idx.fde_f32 = ByteReader::new(fv).get_raw::<f32>(cnt, "FDEs")?;
        if idx.fde_f32.iter().any(|x| !x.is_finite()) {
          return Err(Error::corrupt("FDEs contain non-finite values"));
        }
      }
      FdeStorage::F16 => {
        let cnt = need("FDEs", fv, fcount, 2)?;
        idx.fde_f16 = ByteReader::new(fv).get_raw::<u16>(cnt, "FDEs")?;
        if idx.fde_f16.iter().any(|&h| h & 0x7c00 == 0x7c00) {
          return Err(Error::corrupt("f16 FDEs contain non-finite values"));
        }
      }
    }
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    idx.ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    if idx.ids.len() != n {
      return Err(Error::corrupt(format!("{} ids for {n} documents", idx.ids.len())));
    }
    Ok(idx)
  }
}

#[cfg(test)]
mod tests {
  use super::super::fde::Projection;
  use super::super::testdata::clustered_docs;
  use super::*;
  use crate::rng::Rng;

  fn ids(n: usize) -> Vec<ExternalId> {
    (0..n as i64).map(ExternalId::Int).collect()
  }

  fn small_opts(dim: usize, storage: TokenStorage, fde_storage: FdeStorage) -> MultiVectorOptions {
    MultiVectorOptions {
      fde: FdeOptions {
        repetitions: 10,
        simhash_bits: 4,
        projection_dim: 8,
        ..FdeOptions::new(dim)
      },
      storage,
      fde_storage,
      pq: FdePqOptions::default(),
    }
  }

  fn pq_opts(dim: usize, nbits: u32) -> MultiVectorOptions {
    MultiVectorOptions {
      pq: FdePqOptions {
        nbits,
        iterations: 8,
        ..FdePqOptions::default()
      },
      ..small_opts(dim, TokenStorage::F16, FdeStorage::Pq)
    }
  }

  fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
  }

  #[test]
  fn pq_fdes_with_all_candidates_equal_brute_force_and_recall_is_close_to_f32() {
    let mut rng = Rng::new(41);
    let dim = 32;
    let n = 700;
    let (toks, offs) = clustered_docs(&mut rng, n, dim, 5, 25, 30);
    let (qt, qo) = clustered_docs(&mut rng, 20, dim, 6, 10, 30);
    let mut exact = MultiVectorIndex::new(small_opts(dim, TokenStorage::F16, FdeStorage::F32)).unwrap();
    exact.add(ids(n), &toks, &offs, None).unwrap();
    for nbits in [8u32, 4] {
      let mut idx = MultiVectorIndex::new(pq_opts(dim, nbits)).unwrap();
      // The first batch trains the codebooks, the second is encoded with them.
      let first = 400;
      idx
        .add(ids(first), &toks[..offs[first] * dim], &offs[..=first], None)
        .unwrap();
      let rest: Vec<usize> = offs[first..].iter().map(|o| o - offs[first]).collect();
      idx
        .add(
          (first..n).map(|i| ExternalId::Int(i as i64)).collect(),
          &toks[offs[first] * dim..],
          &rest,
          None,
        )
        .unwrap();
      let q8 = idx.fde_quantizer().unwrap();
      assert_eq!(
        (q8.nbits(), q8.m()),
        (nbits, if nbits == 8 { 1280 / 8 } else { 1280 / 4 })
      );
      let (mut rec_pq, mut rec_f32) = (0.0, 0.0);
      for qi in 0..20 {
        let q = &qt[qo[qi] * dim..qo[qi + 1] * dim];
        let want = brute(&idx, q, 10);
        // Every document a candidate: exactly brute force.
        let all = idx
          .search(
            q,
            &SearchOptions {
              candidates: Some(n),
              ..SearchOptions::new(10)
            },
          )
          .unwrap();
        assert_eq!(all, want, "nbits {nbits} query {qi}");
        // n − 1 candidates go through the PQ scan: at most the one dropped document differs.
        let most = idx
          .search(
            q,
            &SearchOptions {
              candidates: Some(n - 1),
              ..SearchOptions::new(10)
            },
          )
          .unwrap();
        assert!(most.iter().filter(|h| want.contains(h)).count() >= 9);
        let truth: Vec<u32> = want.iter().map(|h| h.id).collect();
        let hit = |c: Vec<Scored<f32>>| c.iter().filter(|h| truth.contains(&h.id)).count() as f64 / 10.0;
        rec_pq += hit(idx.fde_candidates(q, 50).unwrap()) / 20.0;
        rec_f32 += hit(exact.fde_candidates(q, 50).unwrap()) / 20.0;
      }
      println!("nbits {nbits}: FDE top-50 recall of the Chamfer top-10: PQ {rec_pq:.3}, f32 {rec_f32:.3}");
      // Close to the unquantized FDE, and far above chance (50 of 700 ≈ 0.07).
      assert!(
        rec_pq >= rec_f32 - 0.1 && rec_pq > 0.25,
        "PQ {rec_pq} vs f32 {rec_f32}"
      );
    }
  }

  #[test]
  fn pq_candidate_scores_are_inner_products_with_the_decoded_fdes() {
    let mut rng = Rng::new(42);
    let dim = 16;
    let (toks, offs) = clustered_docs(&mut rng, 300, dim, 4, 12, 20);
    let (qt, qo) = clustered_docs(&mut rng, 3, dim, 6, 10, 20);
    let mut idx = MultiVectorIndex::new(pq_opts(dim, 8)).unwrap();
    idx.add(ids(300), &toks, &offs, None).unwrap();
    let q = &qt[qo[0] * dim..qo[1] * dim];
    let fq = idx.encoder().encode_query(q).unwrap();
    let p = idx.fde_pq.as_ref().unwrap();
    let PqCodes::Eight(codes) = &p.codes else {
      panic!("8-bit codes")
    };
    let m = p.quantizer.m();
    let decoded = p.quantizer.decode(codes).unwrap();
    let od = idx.encoder().output_dim();
    let mut want: Vec<(f64, u32)> = (0..300)
      .map(|i| (dot64(&fq, &decoded[i * od..(i + 1) * od]), i as u32))
      .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0));
    let got = idx.fde_candidates(q, 20).unwrap();
    for (g, w) in got.iter().zip(&want) {
      assert!(
        (g.score as f64 - w.0).abs() < 1e-3 * (1.0 + w.0.abs()),
        "{} vs {}",
        g.score,
        w.0
      );
    }
    assert_eq!(codes.len(), 300 * m);
  }

  #[test]
  fn pq_index_round_trips_and_rejects_bad_files_and_small_first_batches() {
    let mut rng = Rng::new(43);
    let dim = 16;
    let (toks, offs) = clustered_docs(&mut rng, 300, dim, 4, 12, 20);
    let (qt, qo) = clustered_docs(&mut rng, 4, dim, 6, 10, 20);
    // An empty PQ index saves and loads (no codebooks yet).
    let empty = MultiVectorIndex::new(pq_opts(dim, 8)).unwrap();
    let back = MultiVectorIndex::from_bytes(&empty.to_bytes()).unwrap();
    assert!(back.is_empty() && back.fde_quantizer().is_none());
    // A first batch smaller than 2^nbits documents cannot train 8-bit codebooks.
    let mut small = MultiVectorIndex::new(pq_opts(dim, 8)).unwrap();
    let err = small
      .add(ids(100), &toks[..offs[100] * dim], &offs[..=100], None)
      .unwrap_err();
    assert!(
      err.to_string().contains("at least 2^nbits = 256 documents"),
      "{err}"
    );
    assert!(small.is_empty() && small.fde_quantizer().is_none());
    for nbits in [8u32, 4] {
      let mut idx = MultiVectorIndex::new(pq_opts(dim, nbits)).unwrap();
      idx.add(ids(300), &toks, &offs, None).unwrap();
      let bytes = idx.to_bytes();
      let back = MultiVectorIndex::from_bytes(&bytes).unwrap();
      assert_eq!(back.fde_quantizer(), idx.fde_quantizer());
      assert_eq!(back.pq_options(), idx.pq_options());
      for qi in 0..4 {
        let q = &qt[qo[qi] * dim..qo[qi + 1] * dim];
        let o = SearchOptions {
          candidates: Some(40),
          ..SearchOptions::new(5)
        };
        assert_eq!(back.search(q, &o).unwrap(), idx.search(q, &o).unwrap());
        assert_eq!(
          back.fde_candidates(q, 40).unwrap(),
          idx.fde_candidates(q, 40).unwrap()
        );
      }
      for pos in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 9] {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x20;
        assert!(MultiVectorIndex::from_bytes(&bad).is_err(), "flip at {pos}");
      }
      assert!(MultiVectorIndex::from_bytes(&bytes[..bytes.len() - 5]).is_err());
      // Memory by component: codes are n · code bytes, codebooks dim · 2^nbits floats.
      let mut idx2 = idx.clone();
      idx2.shrink_to_fit();
      let mem: std::collections::HashMap<_, _> = idx2.memory_usage().into_iter().collect();
      let q = idx2.fde_quantizer().unwrap();
      let code_bytes = if nbits == 8 {
        300 * q.m()
      } else {
        300usize.div_ceil(32) * 16 * q.m().div_ceil(2) * 2
      };
      assert_eq!(mem["fde"], code_bytes);
      assert_eq!(mem["fdeCodebooks"], q.dim() * q.ksub() * 4);
    }
    // PQ options are checked up front.
    let bad = MultiVectorOptions {
      pq: FdePqOptions {
        m: Some(7),
        ..FdePqOptions::default()
      },
      ..pq_opts(dim, 8)
    };
    assert!(MultiVectorIndex::new(bad).is_err());
    let bad = MultiVectorOptions {
      pq: FdePqOptions {
        nbits: 5,
        ..FdePqOptions::default()
      },
      ..pq_opts(dim, 8)
    };
    assert!(MultiVectorIndex::new(bad).is_err());
  }

  #[test]
  fn default_pq_sub_quantizers_keep_one_byte_per_eight_floats() {
    let o = FdePqOptions::default();
    assert_eq!(o.resolve_m(2560), 320);
    assert_eq!(o.resolve_m(10240), 1280);
    assert_eq!(FdePqOptions { nbits: 4, ..o }.resolve_m(2560), 640);
    // 7 · 3 = 21: widths 7 (m 3) and 3 are divisors; 7 is nearest 8.
    assert_eq!(o.resolve_m(21), 3);
    assert_eq!(o.resolve_m(13), 1);
  }

  /// Brute force written independently of the index: decode stored tokens, score with the
  /// public `chamfer` kernel, sort.
  fn brute(idx: &MultiVectorIndex, q: &[f32], k: usize) -> Vec<Scored<f32>> {
    let mut all: Vec<Scored<f32>> = (0..idx.len())
      .map(|i| {
        let doc: Vec<f32> = match idx.doc(i) {
          DocTokens::F32(v) => v.to_vec(),
          DocTokens::F16(v) => v.iter().map(|&h| f16::from_bits(h).to_f32()).collect(),
          DocTokens::I8 { codes, scales } => codes
            .iter()
            .enumerate()
            .map(|(j, &c)| c as f32 * scales[j / idx.dim])
            .collect(),
        };
        let s = if idx.storage == TokenStorage::Int8 {
          // Int8 applies the scale after the dot product; recompute the same way.
          let pq = PreparedQuery::new(q, idx.dim).unwrap();
          pq.score(idx.doc(i), false, &mut Vec::new())
        } else {
          super::super::chamfer(q, &doc, idx.dim, false).unwrap()
        };
        Scored {
          id: i as u32,
          score: s,
        }
      })
      .collect();
    sort_hits(&mut all, true);
    all.truncate(k);
    all
  }

  #[test]
  fn search_with_all_candidates_equals_brute_force_chamfer_topk() {
    let mut rng = Rng::new(31);
    let dim = 32;
    let (toks, offs) = clustered_docs(&mut rng, 300, dim, 3, 20, 12);
    let (qt, qo) = clustered_docs(&mut rng, 8, dim, 4, 12, 12);
    for storage in [TokenStorage::F32, TokenStorage::F16, TokenStorage::Int8] {
      let mut idx = MultiVectorIndex::new(small_opts(dim, storage, FdeStorage::F32)).unwrap();
      // Two batches, to exercise offset rebasing.
      idx
        .add(ids(150), &toks[..offs[150] * dim], &offs[..=150], None)
        .unwrap();
      let rest: Vec<usize> = offs[150..].iter().map(|o| o - offs[150]).collect();
      idx
        .add(
          (150..300).map(ExternalId::Int).collect(),
          &toks[offs[150] * dim..],
          &rest,
          None,
        )
        .unwrap();
      for qi in 0..8 {
        let q = &qt[qo[qi] * dim..qo[qi + 1] * dim];
        let want = brute(&idx, q, 10);
        let got = idx
          .search(
            q,
            &SearchOptions {
              candidates: Some(300),
              ..SearchOptions::new(10)
            },
          )
          .unwrap();
        assert_eq!(got, want, "{storage:?} query {qi}");
        assert_eq!(idx.search_brute_force(q, 10, false).unwrap(), want);
        // The FDE path with every candidate (c = n − 1 forces the scan) ranks the same top 10
        // unless one of them is the dropped document.
        let got2 = idx
          .search(
            q,
            &SearchOptions {
              candidates: Some(299),
              ..SearchOptions::new(10)
            },
          )
          .unwrap();
        let common = got2.iter().filter(|h| want.contains(h)).count();
        assert!(common >= 9, "{common}");
      }
    }
  }

  #[test]
  fn fde_candidates_have_good_recall_and_beat_few_candidates() {
    let mut rng = Rng::new(32);
    let dim = 32;
    let (toks, offs) = clustered_docs(&mut rng, 600, dim, 5, 25, 40);
    let (qt, qo) = clustered_docs(&mut rng, 20, dim, 6, 10, 40);
    let mut idx = MultiVectorIndex::new(MultiVectorOptions::new(dim)).unwrap();
    idx.add(ids(600), &toks, &offs, None).unwrap();
    let mut hits = 0;
    let mut total = 0;
    for qi in 0..20 {
      let q = &qt[qo[qi] * dim..qo[qi + 1] * dim];
      let truth: Vec<u32> = idx
        .search_brute_force(q, 10, false)
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
      let got: Vec<u32> = idx
        .search(
          q,
          &SearchOptions {
            candidates: Some(100),
            ..SearchOptions::new(10)
          },
        )
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
      hits += got.iter().filter(|i| truth.contains(i)).count();
      total += 10;
    }
    let recall = hits as f64 / total as f64;
    assert!(recall >= 0.85, "recall@10 with 100 of 600 candidates: {recall}");
  }

  #[test]
  fn single_vector_heuristic_and_merging_behave() {
    let mut rng = Rng::new(33);
    let dim = 16;
    let (toks, offs) = clustered_docs(&mut rng, 200, dim, 3, 12, 10);
    let mut idx = MultiVectorIndex::new(small_opts(dim, TokenStorage::F32, FdeStorage::F16)).unwrap();
    idx.add(ids(200), &toks, &offs, None).unwrap();
    let q = &toks[offs[7] * dim..offs[8] * dim];
    let c = idx.single_vector_candidates(q, 30).unwrap();
    assert_eq!(c.len(), 30);
    let mut d = c.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), 30, "distinct");
    // A document's own tokens: it is the best match of each of its tokens, so it comes first.
    assert_eq!(c[0], 7);
    let all = idx
      .search_single_vector(
        q,
        &SearchOptions {
          candidates: Some(200),
          ..SearchOptions::new(5)
        },
      )
      .unwrap();
    assert_eq!(all, idx.search_brute_force(q, 5, false).unwrap());
    // Ball carving: merged scores never exceed the exact ones, and τ above any dot is a no-op.
    let exact = idx
      .search(
        q,
        &SearchOptions {
          candidates: Some(200),
          ..SearchOptions::new(200)
        },
      )
      .unwrap();
    let merged = idx
      .search(
        q,
        &SearchOptions {
          candidates: Some(200),
          merge_threshold: Some(0.7),
          ..SearchOptions::new(200)
        },
      )
      .unwrap();
    for m in &merged {
      let e = exact.iter().find(|e| e.id == m.id).unwrap();
      assert!(m.score <= e.score + 1e-3, "{} > {}", m.score, e.score);
    }
    let none = idx
      .search(
        q,
        &SearchOptions {
          candidates: Some(200),
          merge_threshold: Some(1e9),
          ..SearchOptions::new(200)
        },
      )
      .unwrap();
    assert_eq!(none, exact);
    let carved = carve(q, dim, 0.7);
    assert!(carved.len() <= q.len());
    let sum_in: f32 = q.iter().sum();
    let sum_out: f32 = carved.iter().sum();
    assert!((sum_in - sum_out).abs() < 1e-3, "carving keeps the total");
  }

  #[test]
  fn search_batch_equals_single_searches() {
    let mut rng = Rng::new(34);
    let dim = 8;
    let (toks, offs) = clustered_docs(&mut rng, 100, dim, 2, 9, 6);
    let mut idx = MultiVectorIndex::new(small_opts(dim, TokenStorage::F16, FdeStorage::F16)).unwrap();
    idx.add(ids(100), &toks, &offs, Some(2)).unwrap();
    let (qt, qo) = clustered_docs(&mut rng, 6, dim, 1, 5, 6);
    let o = SearchOptions {
      candidates: Some(20),
      ..SearchOptions::new(4)
    };
    let batch = idx.search_batch(&qt, &qo, &o, Some(2)).unwrap();
    for i in 0..6 {
      assert_eq!(
        batch[i],
        idx.search(&qt[qo[i] * dim..qo[i + 1] * dim], &o).unwrap()
      );
    }
  }

  #[test]
  fn persistence_round_trip_and_corruption() {
    let mut rng = Rng::new(35);
    let dim = 12;
    let (toks, offs) = clustered_docs(&mut rng, 40, dim, 1, 7, 5);
    for (storage, fs) in [
      (TokenStorage::F32, FdeStorage::F32),
      (TokenStorage::F16, FdeStorage::F16),
      (TokenStorage::Int8, FdeStorage::F32),
    ] {
      let mut o = small_opts(dim, storage, fs);
      o.fde.projection = Projection::Dense;
      o.fde.final_dim = Some(100);
      let mut idx = MultiVectorIndex::new(o).unwrap();
      let sids: Vec<ExternalId> = (0..40).map(|i| ExternalId::Str(format!("doc-{i}"))).collect();
      idx.add(sids, &toks, &offs, None).unwrap();
      let bytes = idx.to_bytes();
      let back = MultiVectorIndex::from_bytes(&bytes).unwrap();
      assert_eq!(back.to_bytes(), bytes);
      let q = &toks[..3 * dim];
      let so = SearchOptions {
        candidates: Some(10),
        ..SearchOptions::new(5)
      };
      assert_eq!(idx.search(q, &so).unwrap(), back.search(q, &so).unwrap());
      assert_eq!(back.ids().get(3), ExternalId::Str("doc-3".into()));
      for cut in [0, 31, bytes.len() / 3, bytes.len() - 1] {
        assert!(matches!(
          MultiVectorIndex::from_bytes(&bytes[..cut]),
          Err(Error::CorruptFile(_))
        ));
      }
      let mut bad = bytes.clone();
      let at = bad.len() - 5;
      bad[at] ^= 1;
      assert!(matches!(
        MultiVectorIndex::from_bytes(&bad),
        Err(Error::CorruptFile(_))
      ));
      assert!(
        matches!(FdeEncoder::from_bytes(&bytes), Err(Error::CorruptFile(_))),
        "wrong kind"
      );
    }
  }

  #[test]
  fn bad_input_is_rejected_and_leaves_the_index_unchanged() {
    let dim = 4;
    let mut idx = MultiVectorIndex::new(small_opts(dim, TokenStorage::F16, FdeStorage::F16)).unwrap();
    let t = [0.5f32; 12];
    idx.add(ids(2), &t[..8], &[0, 1, 2], None).unwrap();
    let before = idx.to_bytes();
    let inv = |r: Result<()>| assert!(matches!(r, Err(Error::InvalidArg(_))), "{r:?}");
    inv(idx.add(vec![ExternalId::Int(5), ExternalId::Int(6)], &t, &[0, 0, 3], None)); // empty doc
    inv(idx.add(vec![ExternalId::Int(5), ExternalId::Int(6)], &t, &[0, 2, 1], None)); // non-monotone
    inv(idx.add(vec![ExternalId::Int(5)], &t[..5], &[0, 1], None)); // dim mismatch (ragged)
    inv(idx.add(vec![ExternalId::Int(5)], &t, &[0, 2], None)); // last offset
    inv(idx.add(vec![ExternalId::Int(5)], &t, &[0, 1, 3], None)); // ids count
    inv(idx.add(vec![], &[], &[0], None)); // empty batch
    assert!(matches!(
      idx.add(vec![ExternalId::Int(1)], &t[..4], &[0, 1], None),
      Err(Error::DuplicateId(_))
    ));
    assert_eq!(idx.to_bytes(), before);
    assert!(idx.search(&[], &SearchOptions::new(1)).is_err(), "empty query");
    assert!(
      idx.search(&[1.0; 5], &SearchOptions::new(1)).is_err(),
      "ragged query"
    );
    assert!(idx.search(&[1.0; 4], &SearchOptions::new(0)).is_err(), "k = 0");
    assert!(idx
      .search(
        &[1.0; 4],
        &SearchOptions {
          merge_threshold: Some(f32::NAN),
          ..SearchOptions::new(1)
        }
      )
      .is_err());
    // k larger than the index returns everything.
    assert_eq!(idx.search(&[1.0; 4], &SearchOptions::new(10)).unwrap().len(), 2);
    assert!(MultiVectorIndex::new(MultiVectorOptions::new(0)).is_err());
  }

  #[test]
  fn add_reports_progress_and_a_cancelled_add_changes_nothing() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let dim = 8;
    let mut rng = Rng::new(37);
    let (toks, offs) = clustered_docs(&mut rng, 1200, dim, 1, 3, 4);
    let mut idx = MultiVectorIndex::new(small_opts(dim, TokenStorage::F16, FdeStorage::F16)).unwrap();
    let calls = AtomicU64::new(0);
    let last = AtomicU64::new(0);
    let report = |d: u64, t: u64| {
      assert_eq!(t, 1200);
      calls.fetch_add(1, Ordering::Relaxed);
      last.fetch_max(d, Ordering::Relaxed);
    };
    let batch = idx
      .prepare_add_with(ids(1200), &toks, &offs, None, &Progress::new(Some(&report), None))
      .unwrap();
    // 1200 documents in steps of 512: 512, 1024, 1200.
    assert_eq!(
      (calls.load(Ordering::Relaxed), last.load(Ordering::Relaxed)),
      (3, 1200)
    );
    let cancelled = AtomicBool::new(true);
    let err = idx.prepare_add_with(
      ids(1200),
      &toks,
      &offs,
      None,
      &Progress::new(None, Some(&cancelled)),
    );
    assert!(matches!(err, Err(Error::Aborted)));
    assert_eq!(idx.len(), 0);
    idx.commit_add(batch).unwrap();
    assert_eq!(idx.len(), 1200);
  }

  #[test]
  fn memory_usage_counts_each_component() {
    let dim = 16;
    let mut rng = Rng::new(36);
    let (toks, offs) = clustered_docs(&mut rng, 50, dim, 4, 4, 3);
    let mut idx = MultiVectorIndex::new(MultiVectorOptions::new(dim)).unwrap();
    idx.add(ids(50), &toks, &offs, None).unwrap();
    idx.shrink_to_fit();
    let m: std::collections::HashMap<_, _> = idx.memory_usage().into_iter().collect();
    assert_eq!(m["tokens"], 50 * 4 * dim * 2);
    assert_eq!(m["fde"], 50 * 10240 * 2);
  }
}
