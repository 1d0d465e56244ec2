//! `BinaryIndex` binding: binary codes with Hamming candidates and float rescoring.

use crate::convert::{hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize_opt, HitBatch, IdsInput, MemoryComponent};
use crate::error::{guard, invalid};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::binary::{BinaryIndex, BinaryIndexOptions, Metric, Rescore, Threshold};
use slimdex_core::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Options of `new NativeBinaryIndex(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct BinaryIndexInit {
  pub dim: f64,
  /// 'zero' | 'mean'
  pub threshold: String,
  /// 'none' | 'asymmetric' | 'int8' | 'float32'
  pub rescore: String,
  /// 'ip' | 'cosine'
  pub metric: String,
}

/// The options an index was built with, as the TS layer spells them.
#[napi(object)]
pub struct BinaryIndexOptionsOut {
  pub dim: u32,
  pub threshold: String,
  pub rescore: String,
  pub metric: String,
}

type Shared = Arc<RwLock<BinaryIndex>>;

#[napi]
pub struct NativeBinaryIndex {
  inner: Shared,
}

fn read(inner: &Shared) -> RwLockReadGuard<'_, BinaryIndex> {
  // A poisoned lock means a panic happened while writing; writes are all-or-nothing
  // (prepare under the read lock, then an append that validates first), so the data is consistent.
  inner.read().unwrap_or_else(|p| p.into_inner())
}
fn write(inner: &Shared) -> RwLockWriteGuard<'_, BinaryIndex> {
  inner.write().unwrap_or_else(|p| p.into_inner())
}

fn parse_options(o: BinaryIndexInit) -> napi::Result<BinaryIndexOptions> {
  let dim = crate::convert::to_usize(o.dim, "dim")?;
  let threshold = match o.threshold.as_str() {
    "zero" => Threshold::Zero,
    "mean" => Threshold::Mean,
    t => return Err(invalid(format!("threshold must be 'zero' or 'mean' (got {t:?})"))),
  };
  let rescore = match o.rescore.as_str() {
    "none" => Rescore::None,
    "asymmetric" => Rescore::Asymmetric,
    "int8" => Rescore::Int8,
    "float32" => Rescore::Float32,
    r => return Err(invalid(format!("rescore must be 'none', 'asymmetric', 'int8' or 'float32' (got {r:?})"))),
  };
  let metric = match o.metric.as_str() {
    "ip" => Metric::InnerProduct,
    "cosine" => Metric::Cosine,
    m => return Err(invalid(format!("metric must be 'ip' or 'cosine' (got {m:?})"))),
  };
  Ok(BinaryIndexOptions { dim, threshold, rescore, metric })
}

fn add_job(inner: Shared, ids: IdsInput, vectors: &[f32]) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  // Copy now: the JS buffer may be mutated after the call returns.
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
  candidates: Option<f64>,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let k = to_k(k)?;
  let candidates = to_usize_opt(candidates, "candidates")?;
  let threads = to_usize_opt(threads, "threads")?;
  let queries = queries.to_vec();
  Ok(Job::new(move || {
    let idx = read(&inner);
    let results = guard(|| idx.search_batch(&queries, k, candidates, threads))?;
    Ok(hit_batch_out(idx.ids(), &results))
  }))
}

fn load_job(path: String, mmap: bool) -> Job<NativeBinaryIndex> {
  Job::new(move || {
    let idx = guard(|| {
      let bytes = io::read_file(&PathBuf::from(&path), mmap)?;
      BinaryIndex::from_bytes(&bytes)
    })?;
    Ok(NativeBinaryIndex { inner: Arc::new(RwLock::new(idx)) })
  })
}

#[napi]
impl NativeBinaryIndex {
  #[napi(constructor)]
  pub fn new(options: BinaryIndexInit) -> napi::Result<Self> {
    let opts = parse_options(options)?;
    let idx = guard(|| BinaryIndex::new(opts))?;
    Ok(NativeBinaryIndex { inner: Arc::new(RwLock::new(idx)) })
  }

  #[napi(getter)]
  pub fn size(&self) -> napi::Result<u32> {
    Ok(read(&self.inner).len() as u32)
  }

  #[napi]
  pub fn options(&self) -> BinaryIndexOptionsOut {
    let idx = read(&self.inner);
    let o = idx.options();
    BinaryIndexOptionsOut {
      dim: o.dim as u32,
      threshold: match o.threshold {
        Threshold::Zero => "zero",
        Threshold::Mean => "mean",
      }
      .into(),
      rescore: match o.rescore {
        Rescore::None => "none",
        Rescore::Asymmetric => "asymmetric",
        Rescore::Int8 => "int8",
        Rescore::Float32 => "float32",
      }
      .into(),
      metric: match o.metric {
        Metric::InnerProduct => "ip",
        Metric::Cosine => "cosine",
      }
      .into(),
    }
  }

  #[napi(getter)]
  pub fn dim(&self) -> napi::Result<u32> {
    Ok(read(&self.inner).dim() as u32)
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
  pub fn add(&self, ids: IdsInput, vectors: &[f32], signal: Option<AbortSignal>) -> napi::Result<AsyncTask<Job<()>>> {
    let job = add_job(self.inner.clone(), ids, vectors)?;
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  /// Adds packed codes (rescore 'none' / 'asymmetric' only).
  #[napi]
  pub fn add_codes_sync(&self, ids: IdsInput, codes: &[u8]) -> napi::Result<()> {
    let ids = ids_from_js(ids)?;
    guard(|| write(&self.inner).add_codes(ids, codes))
  }

  /// Hamming top-k for a packed query code.
  #[napi]
  pub fn search_code(
    &self,
    code: &[u8],
    k: f64,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let idx = read(&self.inner);
    let hits = guard(|| idx.search_code(code, k))?;
    // SAFETY: the buffers are private, non-shared Float64Arrays owned by the TS wrapper
    // (`ResultBuffers`); this call is synchronous on the JS thread, so no JS code can read or
    // write them while the slices exist.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe { scores_out.as_mut() })
  }

  /// One query, on the calling thread (a scan of N codes: fast enough to stay synchronous).
  #[napi]
  /// Results go into `idsOut` / `scoresOut` (at least `k` entries each); see `hits_into`.
  pub fn search(
    &self,
    query: &[f32],
    k: f64,
    candidates: Option<f64>,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let candidates = to_usize_opt(candidates, "candidates")?;
    let idx = read(&self.inner);
    let hits = guard(|| idx.search(query, k, candidates))?;
    // SAFETY: the buffers are private, non-shared Float64Arrays owned by the TS wrapper
    // (`ResultBuffers`); this call is synchronous on the JS thread, so no JS code can read or
    // write them while the slices exist.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe { scores_out.as_mut() })
  }

  #[napi]
  pub fn search_batch_sync(
    &self,
    queries: &[f32],
    k: f64,
    candidates: Option<f64>,
    threads: Option<f64>,
) -> napi::Result<HitBatch> {
    search_batch_job(self.inner.clone(), queries, k, candidates, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: f64,
    candidates: Option<f64>,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    let job = search_batch_job(self.inner.clone(), queries, k, candidates, threads)?;
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  #[napi]
  pub fn memory_usage(&self) -> napi::Result<Vec<MemoryComponent>> {
    Ok(memory_to_js(read(&self.inner).memory_usage()))
  }

  /// Packed codes of every vector (`size × ceil(dim/8)` bytes), a copy.
  #[napi]
  pub fn codes(&self) -> napi::Result<Uint8Array> {
    Ok(Uint8Array::from(read(&self.inner).codes().to_vec()))
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    let bytes = guard(|| Ok(read(&self.inner).to_bytes()))?;
    Ok(Buffer::from(bytes))
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    let idx = guard(|| BinaryIndex::from_bytes(buffer))?;
    Ok(NativeBinaryIndex { inner: Arc::new(RwLock::new(idx)) })
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

  #[napi(ts_return_type = "Promise<NativeBinaryIndex>")]
  pub fn load(path: String, mmap: Option<bool>, signal: Option<AbortSignal>) -> AsyncTask<Job<NativeBinaryIndex>> {
    AsyncTask::with_optional_signal(load_job(path, mmap.unwrap_or(false)), signal)
  }
}
