//! `SparseIndex` binding: learned sparse vectors searched with Block-Max Pruning.

use crate::convert::{hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput, MemoryComponent};
use crate::error::{guard, invalid};
use crate::shared::{self, read, shared, Persist, Shared};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::ids::ExternalId;
use slimdex_core::sparse::{BmpOptions, SparseDocs, SparseIndex};

/// Options of one search (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct BmpSearchInit {
  pub k: f64,
  pub alpha: f64,
  pub beta: f64,
  pub exhaustive: bool,
}

pub fn bmp_options(o: &BmpSearchInit) -> napi::Result<BmpOptions> {
  Ok(BmpOptions { k: to_k(o.k)?, alpha: o.alpha as f32, beta: o.beta as f32, exhaustive: o.exhaustive })
}

/// Filter ids (the TS layer passes them when a filter is given).
pub fn filter_ids(filter: Option<IdsInput>) -> napi::Result<Option<Vec<ExternalId>>> {
  filter.map(ids_from_js).transpose()
}

impl Persist for SparseIndex {
  fn to_bytes(&self) -> Vec<u8> {
    SparseIndex::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    SparseIndex::from_bytes(bytes)
  }
}

#[napi]
pub struct NativeSparseIndex {
  inner: Shared<SparseIndex>,
}

fn offsets_of(offsets: &[u32]) -> Vec<usize> {
  offsets.iter().map(|&o| o as usize).collect()
}

#[allow(clippy::too_many_arguments)]
fn build_job(
  ids: IdsInput,
  vocab: Vec<String>,
  vocab_size: f64,
  offsets: &[u32],
  terms: &[u32],
  weights: &[f32],
  block_size: f64,
) -> napi::Result<Job<NativeSparseIndex>> {
  let ids = ids_from_js(ids)?;
  let vocab_size = to_usize(vocab_size, "vocabSize")?;
  let block_size = to_usize(block_size, "blockSize")?;
  let (offsets, terms, weights) = (offsets_of(offsets), terms.to_vec(), weights.to_vec());
  Ok(Job::new(move || {
    let docs = SparseDocs { offsets: &offsets, terms: &terms, weights: &weights };
    let idx = guard(|| SparseIndex::build(ids, vocab, vocab_size, &docs, block_size))?;
    Ok(NativeSparseIndex { inner: shared(idx) })
  }))
}

/// (term id, weight) pairs of a query given as ids or as term strings (unknown strings dropped).
fn query_pairs(idx: &SparseIndex, terms: &Either<Uint32Array, Vec<String>>, weights: &[f32]) -> napi::Result<Vec<(u32, f32)>> {
  let n = match terms {
    Either::A(t) => t.len(),
    Either::B(t) => t.len(),
  };
  if n != weights.len() {
    return Err(invalid(format!("query has {n} terms but {} weights", weights.len())));
  }
  Ok(match terms {
    Either::A(t) => t.iter().copied().zip(weights.iter().copied()).collect(),
    Either::B(t) => t.iter().zip(weights).filter_map(|(s, &w)| idx.term_id(s).map(|id| (id, w))).collect(),
  })
}

#[napi]
impl NativeSparseIndex {
  /// Builds from CSR documents: `offsets` (n + 1), `terms` (term ids), `weights`.
  #[napi(factory)]
  #[allow(clippy::too_many_arguments)]
  pub fn build_sync(ids: IdsInput, vocab: Vec<String>, vocab_size: f64, offsets: &[u32], terms: &[u32], weights: &[f32], block_size: f64) -> napi::Result<Self> {
    build_job(ids, vocab, vocab_size, offsets, terms, weights, block_size)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeSparseIndex>")]
  #[allow(clippy::too_many_arguments)]
  pub fn build(
    ids: IdsInput,
    vocab: Vec<String>,
    vocab_size: f64,
    offsets: &[u32],
    terms: &[u32],
    weights: &[f32],
    block_size: f64,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativeSparseIndex>>> {
    Ok(AsyncTask::with_optional_signal(build_job(ids, vocab, vocab_size, offsets, terms, weights, block_size)?, signal))
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  #[napi(getter)]
  pub fn vocab_size(&self) -> u32 {
    read(&self.inner).vocab_size() as u32
  }

  #[napi(getter)]
  pub fn block_size(&self) -> u32 {
    read(&self.inner).block_size() as u32
  }

  #[napi(getter)]
  pub fn postings(&self) -> f64 {
    read(&self.inner).postings() as f64
  }

  /// One query on the calling thread; results go into `idsOut` / `scoresOut`.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn search(
    &self,
    terms: Either<Uint32Array, Vec<String>>,
    weights: &[f32],
    options: BmpSearchInit,
    filter: Option<IdsInput>,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let opts = bmp_options(&options)?;
    let filter = filter_ids(filter)?;
    let idx = read(&self.inner);
    let q = query_pairs(&idx, &terms, weights)?;
    let hits = guard(|| idx.search(&q, &opts, filter.as_deref()))?;
    // SAFETY: private, non-shared buffers owned by the TS wrapper; synchronous call on the JS
    // thread, so nothing else touches them while the slices live.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe { scores_out.as_mut() })
  }

  /// Many queries (CSR: `offsets`, `terms`, `weights`) in parallel.
  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    offsets: &[u32],
    terms: &[u32],
    weights: &[f32],
    options: BmpSearchInit,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    let opts = bmp_options(&options)?;
    let threads = to_usize_opt(threads, "threads")?;
    let (offsets, terms, weights) = (offsets_of(offsets), terms.to_vec(), weights.to_vec());
    if offsets.first() != Some(&0) || offsets.windows(2).any(|w| w[0] > w[1]) || offsets.last() != Some(&terms.len()) || terms.len() != weights.len() {
      return Err(invalid("queries: offsets must start at 0, never decrease and end at terms.length (= weights.length)"));
    }
    let inner = self.inner.clone();
    Ok(AsyncTask::with_optional_signal(
      Job::new(move || {
        let idx = read(&inner);
        let queries: Vec<Vec<(u32, f32)>> = (0..offsets.len() - 1)
          .map(|q| terms[offsets[q]..offsets[q + 1]].iter().copied().zip(weights[offsets[q]..offsets[q + 1]].iter().copied()).collect())
          .collect();
        let results = guard(|| idx.search_batch(&queries, &opts, threads))?;
        Ok(hit_batch_out(idx.ids(), &results))
      }),
      signal,
    ))
  }

  /// Term id of each term string (-1 when unknown).
  #[napi]
  pub fn term_ids(&self, terms: Vec<String>) -> Int32Array {
    let idx = read(&self.inner);
    // Term ids are < 2^32; ids ≥ 2^31 are reported as -1 too rather than wrapping.
    Int32Array::new(terms.iter().map(|t| idx.term_id(t).and_then(|id| i32::try_from(id).ok()).unwrap_or(-1)).collect())
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(read(&self.inner).memory_usage())
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    shared::to_buffer(&self.inner)
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    shared::from_buffer(buffer).map(|inner| NativeSparseIndex { inner })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    shared::save_sync(&self.inner, path)
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    shared::save(&self.inner, path, signal)
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    shared::load_job(path, mmap.unwrap_or(false), |inner| NativeSparseIndex { inner }).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeSparseIndex>")]
  pub fn load(path: String, mmap: Option<bool>, signal: Option<AbortSignal>) -> AsyncTask<Job<NativeSparseIndex>> {
    AsyncTask::with_optional_signal(shared::load_job(path, mmap.unwrap_or(false), |inner| NativeSparseIndex { inner }), signal)
  }
}
