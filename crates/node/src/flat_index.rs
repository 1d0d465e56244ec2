//! `FlatIndex` binding: exact search over float32 / float16 / float8 / int8 storage with
//! optional Matryoshka truncation.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::dense_common::{metric_from, metric_name};
use crate::error::{guard, invalid};
use crate::shared::{persistence_methods, read, shared, write, Persist, Shared};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::dense::{FlatIndex, FlatIndexOptions, Storage};

/// Options of `new NativeFlatIndex(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct FlatIndexInit {
  pub dim: f64,
  /// 'float32' | 'float16' | 'float8' | 'int8'
  pub storage: String,
  /// 'l2' | 'ip' | 'cosine'
  pub metric: String,
  pub truncate_to: Option<f64>,
}

#[napi(object)]
pub struct FlatIndexOptionsOut {
  pub dim: u32,
  pub storage: String,
  pub metric: String,
  pub truncate_to: Option<u32>,
}

#[napi]
pub struct NativeFlatIndex {
  inner: Shared<FlatIndex>,
}

fn wrap(idx: FlatIndex) -> NativeFlatIndex {
  NativeFlatIndex { inner: shared(idx) }
}

impl Persist for FlatIndex {
  fn to_bytes(&self) -> Vec<u8> {
    FlatIndex::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    FlatIndex::from_bytes(bytes)
  }
}

fn storage_name(s: Storage) -> &'static str {
  match s {
    Storage::Float32 => "float32",
    Storage::Float16 => "float16",
    Storage::Float8 => "float8",
    Storage::Int8 => "int8",
  }
}

fn add_job(inner: Shared<FlatIndex>, ids: IdsInput, vectors: &[f32]) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  let vectors = vectors.to_vec();
  Ok(Job::new(move || {
    let batch = guard(|| read(&inner).prepare_add(ids, &vectors))?;
    guard(|| write(&inner).commit_add(batch))
  }))
}

fn search_batch_job(
  inner: Shared<FlatIndex>,
  queries: &[f32],
  k: f64,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let k = to_k(k)?;
  let threads = to_usize_opt(threads, "threads")?;
  let queries = queries.to_vec();
  Ok(Job::new(move || {
    let idx = read(&inner);
    let results = guard(|| idx.search_batch(&queries, k, threads))?;
    Ok(hit_batch_out(idx.ids(), &results))
  }))
}

#[napi]
impl NativeFlatIndex {
  #[napi(constructor)]
  pub fn new(options: FlatIndexInit) -> napi::Result<Self> {
    let storage = match options.storage.as_str() {
      "float32" => Storage::Float32,
      "float16" => Storage::Float16,
      "float8" => Storage::Float8,
      "int8" => Storage::Int8,
      s => {
        return Err(invalid(format!(
          "storage must be 'float32', 'float16', 'float8' or 'int8' (got {s:?})"
        )))
      }
    };
    let opts = FlatIndexOptions {
      dim: to_usize(options.dim, "dim")?,
      storage,
      metric: metric_from(&options.metric)?,
      truncate_to: to_usize_opt(options.truncate_to, "truncateTo")?,
    };
    Ok(wrap(guard(|| FlatIndex::new(opts))?))
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  #[napi]
  pub fn options(&self) -> FlatIndexOptionsOut {
    let idx = read(&self.inner);
    let o = idx.options();
    FlatIndexOptionsOut {
      dim: o.dim as u32,
      storage: storage_name(o.storage).into(),
      metric: metric_name(o.metric).into(),
      truncate_to: o.truncate_to.map(|t| t as u32),
    }
  }

  #[napi]
  pub fn fit(&self, sample: &[f32]) -> napi::Result<()> {
    guard(|| write(&self.inner).fit(sample))
  }

  #[napi]
  pub fn add_sync(&self, ids: IdsInput, vectors: &[f32]) -> napi::Result<()> {
    add_job(self.inner.clone(), ids, vectors)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn add(
    &self,
    ids: IdsInput,
    vectors: &[f32],
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    Ok(AsyncTask::with_optional_signal(
      add_job(self.inner.clone(), ids, vectors)?,
      signal,
    ))
  }

  /// The stored vector at insertion position `index`, decoded (stored dimension).
  #[napi]
  pub fn reconstruct(&self, index: f64) -> napi::Result<Option<Float32Array>> {
    let i = to_usize(index, "index")?;
    Ok(read(&self.inner).reconstruct(i).map(Float32Array::from))
  }

  /// One query on the calling thread; results go into `idsOut` / `scoresOut` (see `hits_into`).
  #[napi]
  pub fn search(
    &self,
    query: &[f32],
    k: f64,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let idx = read(&self.inner);
    let hits = guard(|| idx.search(query, k))?;
    // SAFETY: the buffers are private, non-shared Float64Arrays owned by the TS wrapper
    // (`ResultBuffers`); this call is synchronous on the JS thread, so no JS code can read or
    // write them while the slices exist.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe {
      scores_out.as_mut()
    })
  }

  #[napi]
  pub fn search_batch_sync(&self, queries: &[f32], k: f64, threads: Option<f64>) -> napi::Result<HitBatch> {
    search_batch_job(self.inner.clone(), queries, k, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: f64,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    Ok(AsyncTask::with_optional_signal(
      search_batch_job(self.inner.clone(), queries, k, threads)?,
      signal,
    ))
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(read(&self.inner).memory_usage())
  }

  #[napi]
  pub fn shrink_to_fit(&self) {
    write(&self.inner).shrink_to_fit()
  }
}

persistence_methods!(NativeFlatIndex, "Promise<NativeFlatIndex>");
