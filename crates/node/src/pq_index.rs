//! `PQIndex` binding: product quantization (8-bit ADC / 4-bit fast scan), IVF, float rescoring.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::dense_common::{metric_from, metric_name, nbits_from, seed_from};
use crate::error::{guard, invalid};
use crate::shared::{persistence_methods, read, shared, write, Persist, Shared};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::dense::{PqIndex, PqIndexOptions, Rescore};

/// Options of `NativePqIndex.train` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct PqIndexInit {
  pub dim: f64,
  pub m: f64,
  pub nbits: f64,
  /// 'l2' | 'ip' | 'cosine'
  pub metric: String,
  /// IVF lists (0: no IVF).
  pub lists: f64,
  pub nprobe: f64,
  /// 'none' | 'float32'
  pub rescore: String,
  pub iters: f64,
  pub ivf_iters: f64,
  pub seed: f64,
}

/// The options an index was trained with, as the TS layer spells them.
#[napi(object)]
pub struct PqIndexOptionsOut {
  pub dim: u32,
  pub m: u32,
  pub nbits: u32,
  pub metric: String,
  pub lists: u32,
  pub nprobe: u32,
  pub rescore: String,
  pub iters: u32,
  pub ivf_iters: u32,
  pub seed: f64,
}

#[napi]
pub struct NativePqIndex {
  inner: Shared<PqIndex>,
}

fn wrap(idx: PqIndex) -> NativePqIndex {
  NativePqIndex { inner: shared(idx) }
}

impl Persist for PqIndex {
  fn to_bytes(&self) -> Vec<u8> {
    PqIndex::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    PqIndex::from_bytes(bytes)
  }
}

fn parse(o: PqIndexInit) -> napi::Result<PqIndexOptions> {
  Ok(PqIndexOptions {
    dim: to_usize(o.dim, "dim")?,
    m: to_usize(o.m, "m")?,
    nbits: nbits_from(o.nbits)?,
    metric: metric_from(&o.metric)?,
    lists: to_usize(o.lists, "lists")?,
    nprobe: to_usize(o.nprobe, "nprobe")?,
    rescore: match o.rescore.as_str() {
      "none" => Rescore::None,
      "float32" => Rescore::Float32,
      r => {
        return Err(invalid(format!(
          "rescore must be 'none' or 'float32' (got {r:?})"
        )))
      }
    },
    iters: to_usize(o.iters, "iters")?,
    ivf_iters: to_usize(o.ivf_iters, "ivf.iters")?,
    seed: seed_from(o.seed)?,
  })
}

fn train_job(vectors: &[f32], o: PqIndexInit) -> napi::Result<Job<NativePqIndex>> {
  let opts = parse(o)?;
  let data = vectors.to_vec();
  Ok(Job::new(move || Ok(wrap(guard(|| PqIndex::train(&data, opts))?))))
}

fn add_job(inner: Shared<PqIndex>, ids: IdsInput, vectors: &[f32]) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  let vectors = vectors.to_vec();
  Ok(Job::new(move || {
    let batch = guard(|| read(&inner).prepare_add(ids, &vectors))?;
    guard(|| write(&inner).commit_add(batch))
  }))
}

fn search_batch_job(
  inner: Shared<PqIndex>,
  queries: &[f32],
  k: f64,
  nprobe: Option<f64>,
  candidates: Option<f64>,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let k = to_k(k)?;
  let nprobe = to_usize_opt(nprobe, "nprobe")?;
  let candidates = to_usize_opt(candidates, "candidates")?;
  let threads = to_usize_opt(threads, "threads")?;
  let queries = queries.to_vec();
  Ok(Job::new(move || {
    let idx = read(&inner);
    let results = guard(|| idx.search_batch(&queries, k, nprobe, candidates, threads))?;
    Ok(hit_batch_out(idx.ids(), &results))
  }))
}

#[napi]
impl NativePqIndex {
  #[napi(factory)]
  pub fn train_sync(vectors: &[f32], options: PqIndexInit) -> napi::Result<Self> {
    train_job(vectors, options)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativePqIndex>")]
  pub fn train(
    vectors: &[f32],
    options: PqIndexInit,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativePqIndex>>> {
    Ok(AsyncTask::with_optional_signal(
      train_job(vectors, options)?,
      signal,
    ))
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  #[napi]
  pub fn options(&self) -> PqIndexOptionsOut {
    let idx = read(&self.inner);
    let o = idx.options();
    PqIndexOptionsOut {
      dim: o.dim as u32,
      m: o.m as u32,
      nbits: o.nbits,
      metric: metric_name(o.metric).into(),
      lists: o.lists as u32,
      nprobe: o.nprobe as u32,
      rescore: match o.rescore {
        Rescore::None => "none",
        Rescore::Float32 => "float32",
      }
      .into(),
      iters: o.iters as u32,
      ivf_iters: o.ivf_iters as u32,
      seed: o.seed as f64,
    }
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

  /// One query on the calling thread; results go into `idsOut` / `scoresOut` (see `hits_into`).
  #[napi]
  pub fn search(
    &self,
    query: &[f32],
    k: f64,
    nprobe: Option<f64>,
    candidates: Option<f64>,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let nprobe = to_usize_opt(nprobe, "nprobe")?;
    let candidates = to_usize_opt(candidates, "candidates")?;
    let idx = read(&self.inner);
    let hits = guard(|| idx.search(query, k, nprobe, candidates))?;
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
    nprobe: Option<f64>,
    candidates: Option<f64>,
    threads: Option<f64>,
  ) -> napi::Result<HitBatch> {
    search_batch_job(self.inner.clone(), queries, k, nprobe, candidates, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: f64,
    nprobe: Option<f64>,
    candidates: Option<f64>,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    let job = search_batch_job(self.inner.clone(), queries, k, nprobe, candidates, threads)?;
    Ok(AsyncTask::with_optional_signal(job, signal))
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

persistence_methods!(NativePqIndex, "Promise<NativePqIndex>");
