//! `BM25Index` binding: bm25s-compatible BM25 scored eagerly, searched with block-max pruning;
//! incremental `add` / `delete` / `compact` through a copy-on-write snapshot.

use crate::bm25_columns::NativeBm25Columns;
use crate::convert::{
  hit_batch_out, hits_into_halves, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch,
  IdsInput, MemoryComponent,
};
use crate::error::{guard, invalid};
use crate::snapshot::{segment_methods, Snapshot};
use crate::sparse_common::{
  search_params, search_params_of, tokenizer_options, tokenizer_out, SparseSearchInit, TokenizerInit,
};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::io;
use slimdex_core::sparse::{Bm25Index, Bm25Method, Bm25Options};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `NativeBm25Index.build` (validated and defaulted by the TS layer).
#[napi(object)]
pub struct Bm25Init {
  /// 'lucene' | 'robertson' | 'atire' | 'bm25l' | 'bm25+'
  pub method: String,
  pub k1: f64,
  pub b: f64,
  pub delta: f64,
  pub block_size: f64,
  pub tokenizer: TokenizerInit,
}

/// Searches read a snapshot; `add` / `delete` / `compact` publish a new one (see `snapshot`).
#[napi]
pub struct NativeBm25Index {
  inner: Arc<Snapshot<Bm25Index>>,
}

fn docs_from_js(
  ids: IdsInput,
  texts: Vec<String>,
) -> napi::Result<Vec<(slimdex_core::ids::ExternalId, String)>> {
  let ids = ids_from_js(ids)?;
  if ids.len() != texts.len() {
    return Err(invalid(format!(
      "ids ({}) and texts ({}) differ in length",
      ids.len(),
      texts.len()
    )));
  }
  Ok(ids.into_iter().zip(texts).collect())
}

fn build_job(ids: IdsInput, texts: Vec<String>, o: Bm25Init) -> napi::Result<Job<NativeBm25Index>> {
  let docs = docs_from_js(ids, texts)?;
  let opts = Bm25Options {
    method: Bm25Method::parse(&o.method).map_err(crate::error::to_napi)?,
    k1: o.k1,
    b: o.b,
    delta: o.delta,
    block_size: to_usize(o.block_size, "blockSize")?,
    tokenizer: tokenizer_options(o.tokenizer),
  };
  Ok(Job::new(move || {
    let idx = guard(|| Bm25Index::build(docs, opts))?;
    Ok(NativeBm25Index {
      inner: Snapshot::new(idx),
    })
  }))
}

fn batch_job(
  inner: Arc<Bm25Index>,
  texts: Vec<String>,
  k: f64,
  s: SparseSearchInit,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let k = to_k(k)?;
  let threads = to_usize_opt(threads, "threads")?;
  let s = search_params(s)?;
  Ok(Job::new(move || {
    let bits = s.filter.as_ref().map(|f| inner.filter_bitset(f));
    let res = guard(|| inner.search_batch(&texts, k, &s.params, bits.as_ref(), threads))?;
    Ok(hit_batch_out(inner.ids(), &res))
  }))
}

fn columns_job(
  inner: Arc<Bm25Index>,
  texts: Vec<String>,
  k: f64,
  s: SparseSearchInit,
  threads: Option<f64>,
) -> napi::Result<Job<NativeBm25Columns>> {
  let k = to_k(k)?;
  let threads = to_usize_opt(threads, "threads")?;
  let s = search_params(s)?;
  Ok(Job::new(move || {
    let bits = s.filter.as_ref().map(|f| inner.filter_bitset(f));
    let res = guard(|| inner.search_batch(&texts, k, &s.params, bits.as_ref(), threads))?;
    NativeBm25Columns::new(inner, res)
  }))
}

fn load_job(path: String, mmap: bool) -> Job<NativeBm25Index> {
  Job::new(move || {
    let idx = guard(|| Bm25Index::from_bytes(&io::read_file(&PathBuf::from(&path), mmap)?))?;
    Ok(NativeBm25Index {
      inner: Snapshot::new(idx),
    })
  })
}

#[napi]
impl NativeBm25Index {
  #[napi(factory)]
  pub fn build_sync(ids: IdsInput, texts: Vec<String>, options: Bm25Init) -> napi::Result<Self> {
    build_job(ids, texts, options)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeBm25Index>")]
  pub fn build(
    ids: IdsInput,
    texts: Vec<String>,
    options: Bm25Init,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativeBm25Index>>> {
    Ok(AsyncTask::with_optional_signal(
      build_job(ids, texts, options)?,
      signal,
    ))
  }

  /// Live documents.
  #[napi(getter)]
  pub fn size(&self) -> u32 {
    self.inner.get().len() as u32
  }

  #[napi(getter)]
  pub fn vocabulary_size(&self) -> u32 {
    self.inner.get().vocab().len() as u32
  }

  /// Segments (1 after build or compact; one more per add).
  #[napi(getter)]
  pub fn segments(&self) -> u32 {
    self.inner.get().segments().count() as u32
  }

  /// Deleted documents not yet compacted away.
  #[napi(getter)]
  pub fn deleted(&self) -> u32 {
    self.inner.get().n_deleted() as u32
  }

  /// N of the idf: documents added since the last build/compact, deleted ones included.
  #[napi(getter)]
  pub fn statistics_documents(&self) -> f64 {
    self.inner.get().n_stats() as f64
  }

  /// Adds documents as a new segment, on the calling thread.
  #[napi]
  pub fn add_sync(&self, ids: IdsInput, texts: Vec<String>) -> napi::Result<()> {
    let docs = docs_from_js(ids, texts)?;
    self.inner.update(|idx| guard(|| idx.add(docs)))
  }

  /// Adds documents as a new segment on the libuv pool; searches keep the previous snapshot meanwhile.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn add(
    &self,
    ids: IdsInput,
    texts: Vec<String>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    let docs = docs_from_js(ids, texts)?;
    let inner = self.inner.clone();
    Ok(spawn(signal, move || inner.update(|idx| guard(|| idx.add(docs)))))
  }

  #[napi]
  pub fn options(&self) -> Bm25Init {
    let snap = self.inner.get();
    let o = snap.options();
    Bm25Init {
      method: o.method.name().into(),
      k1: o.k1,
      b: o.b,
      delta: o.delta,
      block_size: o.block_size as f64,
      tokenizer: tokenizer_out(&o.tokenizer),
    }
  }

  /// One query on the calling thread. The knobs come one by one (no options object to read)
  /// and the hits go into `out` (ids in its first half, scores in its second); when they do
  /// not fit, nothing is written and their count is returned (see `hits_into_halves`).
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn search(
    &self,
    text: String,
    k: f64,
    alpha: f64,
    beta: f64,
    exhaustive: bool,
    filter: Option<IdsInput>,
    mut out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let s = search_params_of(alpha, beta, exhaustive, filter)?;
    let snap = self.inner.get();
    let bits = s.filter.as_ref().map(|f| snap.filter_bitset(f));
    let hits = guard(|| snap.search(&text, k, &s.params, bits.as_ref()))?;
    // SAFETY: the buffer is a private, non-shared Float64Array owned by the TS wrapper
    // (`HalvesBuffer`); this call is synchronous on the JS thread, so no JS code can read or
    // write it while the slice exists.
    hits_into_halves(snap.ids(), &hits, unsafe { out.as_mut() })
  }

  #[napi]
  pub fn search_batch_sync(
    &self,
    texts: Vec<String>,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
  ) -> napi::Result<HitBatch> {
    batch_job(self.inner.get(), texts, k, search, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    texts: Vec<String>,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    Ok(AsyncTask::with_optional_signal(
      batch_job(self.inner.get(), texts, k, search, threads)?,
      signal,
    ))
  }

  /// Many queries as flat columns (see `NativeBm25Columns`), on the calling thread.
  #[napi]
  pub fn search_columns_sync(
    &self,
    texts: Vec<String>,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
  ) -> napi::Result<NativeBm25Columns> {
    columns_job(self.inner.get(), texts, k, search, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeBm25Columns>")]
  pub fn search_columns(
    &self,
    texts: Vec<String>,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativeBm25Columns>>> {
    Ok(AsyncTask::with_optional_signal(
      columns_job(self.inner.get(), texts, k, search, threads)?,
      signal,
    ))
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(self.inner.get().memory_usage())
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    Ok(Buffer::from(guard(|| Ok(self.inner.get().to_bytes()))?))
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    Ok(NativeBm25Index {
      inner: Snapshot::new(guard(|| Bm25Index::from_bytes(buffer))?),
    })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    let bytes = guard(|| Ok(self.inner.get().to_bytes()))?;
    guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    let inner = self.inner.get();
    spawn(signal, move || {
      let bytes = guard(|| Ok(inner.to_bytes()))?;
      guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
    })
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    load_job(path, mmap.unwrap_or(false)).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeBm25Index>")]
  pub fn load(
    path: String,
    mmap: Option<bool>,
    signal: Option<AbortSignal>,
  ) -> AsyncTask<Job<NativeBm25Index>> {
    AsyncTask::with_optional_signal(load_job(path, mmap.unwrap_or(false)), signal)
  }
}

segment_methods!(NativeBm25Index);
