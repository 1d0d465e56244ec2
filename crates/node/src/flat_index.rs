//! `FlatIndex` binding: exact search over float32 / float16 / float8 / int8 storage with
//! optional Matryoshka truncation.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::dense_common::{metric_from, metric_name};
use crate::error::{guard, invalid};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::dense::{FlatIndex, FlatIndexOptions, Storage};
use slimdex_core::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

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

type Shared = Arc<RwLock<FlatIndex>>;

#[napi]
pub struct NativeFlatIndex {
  inner: Shared,
}

fn read(inner: &Shared) -> RwLockReadGuard<'_, FlatIndex> {
  // Writes are all-or-nothing, so a poisoned lock still guards consistent data.
  inner.read().unwrap_or_else(|p| p.into_inner())
}
fn write(inner: &Shared) -> RwLockWriteGuard<'_, FlatIndex> {
  inner.write().unwrap_or_else(|p| p.into_inner())
}

fn wrap(idx: FlatIndex) -> NativeFlatIndex {
  NativeFlatIndex {
    inner: Arc::new(RwLock::new(idx)),
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

fn add_job(inner: Shared, ids: IdsInput, vectors: &[f32]) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  let vectors = vectors.to_vec();
  Ok(Job::new(move || {
    let batch = guard(|| read(&inner).prepare_add(ids, &vectors))?;
    guard(|| write(&inner).commit_add(batch))
  }))
}

fn search_batch_job(
  inner: Shared,
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

fn load_job(path: String, mmap: bool) -> Job<NativeFlatIndex> {
  Job::new(move || {
    Ok(wrap(guard(|| {
      FlatIndex::from_bytes(&io::read_file(&PathBuf::from(&path), mmap)?)
    })?))
  })
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

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    Ok(Buffer::from(guard(|| Ok(read(&self.inner).to_bytes()))?))
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    Ok(wrap(guard(|| FlatIndex::from_bytes(buffer))?))
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    let bytes = guard(|| Ok(read(&self.inner).to_bytes()))?;
    guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    let inner = self.inner.clone();
    spawn(signal, move || {
      let bytes = guard(|| Ok(read(&inner).to_bytes()))?;
      guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
    })
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    load_job(path, mmap.unwrap_or(false)).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeFlatIndex>")]
  pub fn load(
    path: String,
    mmap: Option<bool>,
    signal: Option<AbortSignal>,
  ) -> AsyncTask<Job<NativeFlatIndex>> {
    AsyncTask::with_optional_signal(load_job(path, mmap.unwrap_or(false)), signal)
  }
}
