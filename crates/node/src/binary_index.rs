//! `BinaryIndex` binding: binary codes with Hamming candidates and float rescoring.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::error::{guard, invalid};
use crate::progress::{NativeCancelToken, ProgressCallback, ProgressSink};
use crate::shared::{persistence_methods, read, shared, write, Persist, Shared};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::binary::{BinaryIndex, BinaryIndexOptions, Metric, Rescore, Threshold};

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

#[napi]
pub struct NativeBinaryIndex {
  inner: Shared<BinaryIndex>,
}

impl Persist for BinaryIndex {
  fn to_bytes(&self) -> Vec<u8> {
    BinaryIndex::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    BinaryIndex::from_bytes(bytes)
  }
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
    r => {
      return Err(invalid(format!(
        "rescore must be 'none', 'asymmetric', 'int8' or 'float32' (got {r:?})"
      )))
    }
  };
  let metric = match o.metric.as_str() {
    "ip" => Metric::InnerProduct,
    "cosine" => Metric::Cosine,
    m => return Err(invalid(format!("metric must be 'ip' or 'cosine' (got {m:?})"))),
  };
  Ok(BinaryIndexOptions {
    dim,
    threshold,
    rescore,
    metric,
  })
}

fn add_job(
  inner: Shared<BinaryIndex>,
  ids: IdsInput,
  vectors: &[f32],
  progress: ProgressSink,
) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  // Copy now: the JS buffer may be mutated after the call returns.
  let vectors = vectors.to_vec();
  Ok(Job::new(move || {
    let batch = guard(|| progress.run(|p| read(&inner).prepare_add_with(ids, &vectors, p)))?;
    guard(|| write(&inner).commit_add(batch))
  }))
}

fn search_batch_job(
  inner: Shared<BinaryIndex>,
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

#[napi]
impl NativeBinaryIndex {
  #[napi(constructor)]
  pub fn new(options: BinaryIndexInit) -> napi::Result<Self> {
    let opts = parse_options(options)?;
    let idx = guard(|| BinaryIndex::new(opts))?;
    Ok(NativeBinaryIndex { inner: shared(idx) })
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
    add_job(self.inner.clone(), ids, vectors, ProgressSink::new(None, None))?.run_sync()
  }

  #[napi(ts_return_type = "Promise<void>")]
  /// `onProgress(done, total)` counts packed vectors; `cancel` stops the add while it runs
  /// (`signal` only before it starts). A cancelled add leaves the index unchanged.
  pub fn add(
    &self,
    ids: IdsInput,
    vectors: &[f32],
    signal: Option<AbortSignal>,
    #[napi(ts_arg_type = "(done: number, total: number) => void")] on_progress: Option<ProgressCallback>,
    cancel: Option<&NativeCancelToken>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    let job = add_job(
      self.inner.clone(),
      ids,
      vectors,
      ProgressSink::new(on_progress, cancel),
    )?;
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
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe {
      scores_out.as_mut()
    })
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
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe {
      scores_out.as_mut()
    })
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
}

persistence_methods!(NativeBinaryIndex, "Promise<NativeBinaryIndex>");
