//! `MultiVectorIndex` binding: MUVERA candidates + exact Chamfer rerank.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::error::{guard, invalid};
use crate::fde_encoder::{fde_out, offsets_from_js, parse_fde, FdeEncoderInit, NativeFdeEncoder};
use crate::progress::{NativeCancelToken, ProgressCallback, ProgressSink};
use crate::shared::{persistence_methods, read, shared, write, Persist, Shared};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::multivec::{
  FdePqOptions, FdeStorage, MultiVectorIndex, MultiVectorOptions, SearchOptions, TokenStorage,
};
use slimdex_core::topk::Scored;
use std::sync::Arc;

/// Options of `new NativeMultiVectorIndex(...)` (validated and defaulted by the TS layer).
#[napi(object)]
pub struct MultiVectorIndexInit {
  pub fde: FdeEncoderInit,
  /// 'f32' | 'f16' | 'int8'
  pub storage: String,
  /// 'f32' | 'f16' | 'pq'
  pub fde_storage: String,
  /// PQ options for `fdeStorage: 'pq'` (defaults filled in by the TS layer).
  pub pq: Option<FdePqInit>,
}

/// Product quantization of the FDEs (`fdeStorage: 'pq'`).
#[napi(object)]
pub struct FdePqInit {
  /// Sub-quantizers (0 or absent: FDE length / 8 for 8-bit, / 4 for 4-bit codes).
  pub m: Option<f64>,
  /// 8 or 4.
  pub nbits: f64,
  pub training_size: f64,
  pub iterations: f64,
  pub seed: f64,
}

fn parse_pq(o: &FdePqInit) -> napi::Result<FdePqOptions> {
  let m = match to_usize_opt(o.m, "pq.m")? {
    Some(0) | None => None,
    m => m,
  };
  let nbits = to_usize(o.nbits, "pq.nbits")?;
  if nbits != 4 && nbits != 8 {
    return Err(invalid(format!("pq.nbits must be 4 or 8 (got {nbits})")));
  }
  let seed = to_usize(o.seed, "pq.seed")? as u64;
  Ok(FdePqOptions {
    m,
    nbits: nbits as u32,
    training_size: to_usize(o.training_size, "pq.trainingSize")?,
    iterations: to_usize(o.iterations, "pq.iterations")?,
    seed,
  })
}

fn pq_out(o: &FdePqOptions) -> FdePqInit {
  FdePqInit {
    m: o.m.map(|m| m as f64),
    nbits: o.nbits as f64,
    training_size: o.training_size as f64,
    iterations: o.iterations as f64,
    seed: o.seed as f64,
  }
}

/// Options of one search (validated by the TS layer).
#[napi(object, object_to_js = false)]
pub struct MultiVectorSearchInit {
  pub k: f64,
  pub candidates: Option<f64>,
  pub merge_threshold: Option<f64>,
  pub clamp_negative: Option<bool>,
}

#[napi]
pub struct NativeMultiVectorIndex {
  inner: Shared<MultiVectorIndex>,
}

impl Persist for MultiVectorIndex {
  fn to_bytes(&self) -> Vec<u8> {
    MultiVectorIndex::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    MultiVectorIndex::from_bytes(bytes)
  }
}

fn parse_search(o: &MultiVectorSearchInit) -> napi::Result<SearchOptions> {
  let merge_threshold = match o.merge_threshold {
    Some(t) if !t.is_finite() => {
      return Err(invalid(format!(
        "mergeThreshold must be a finite number (got {t})"
      )))
    }
    t => t.map(|t| t as f32),
  };
  Ok(SearchOptions {
    k: to_k(o.k)?,
    candidates: to_usize_opt(o.candidates, "candidates")?,
    merge_threshold,
    clamp_negative: o.clamp_negative.unwrap_or(false),
  })
}

fn storage_name(s: TokenStorage) -> &'static str {
  s.name()
}

fn add_job(
  inner: Shared<MultiVectorIndex>,
  ids: IdsInput,
  tokens: &[f32],
  offsets: &[u32],
  threads: Option<f64>,
  progress: ProgressSink,
) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  let threads = to_usize_opt(threads, "threads")?;
  // Copy now: the JS buffers may be mutated after the call returns.
  let tokens = tokens.to_vec();
  let offsets = offsets_from_js(offsets);
  Ok(Job::new(move || {
    let batch =
      guard(|| progress.run(|p| read(&inner).prepare_add_with(ids, &tokens, &offsets, threads, p)))?;
    guard(|| write(&inner).commit_add(batch))
  }))
}

fn search_batch_job(
  inner: Shared<MultiVectorIndex>,
  queries: &[f32],
  offsets: &[u32],
  options: &MultiVectorSearchInit,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let o = parse_search(options)?;
  let threads = to_usize_opt(threads, "threads")?;
  let queries = queries.to_vec();
  let offsets = offsets_from_js(offsets);
  Ok(Job::new(move || {
    let idx = read(&inner);
    let results = guard(|| idx.search_batch(&queries, &offsets, &o, threads))?;
    Ok(hit_batch_out(idx.ids(), &results))
  }))
}

#[napi]
impl NativeMultiVectorIndex {
  #[napi(constructor)]
  pub fn new(options: MultiVectorIndexInit) -> napi::Result<Self> {
    let fde = parse_fde(&options.fde)?;
    let storage = match options.storage.as_str() {
      "f32" => TokenStorage::F32,
      "f16" => TokenStorage::F16,
      "int8" => TokenStorage::Int8,
      s => {
        return Err(invalid(format!(
          "storage must be 'f32', 'f16' or 'int8' (got {s:?})"
        )))
      }
    };
    let fde_storage = match options.fde_storage.as_str() {
      "f32" => FdeStorage::F32,
      "f16" => FdeStorage::F16,
      "pq" => FdeStorage::Pq,
      s => {
        return Err(invalid(format!(
          "fdeStorage must be 'f32', 'f16' or 'pq' (got {s:?})"
        )))
      }
    };
    let pq = match &options.pq {
      Some(p) => parse_pq(p)?,
      None => FdePqOptions::default(),
    };
    let idx = guard(|| {
      MultiVectorIndex::new(MultiVectorOptions {
        fde,
        storage,
        fde_storage,
        pq,
      })
    })?;
    Ok(NativeMultiVectorIndex { inner: shared(idx) })
  }

  #[napi]
  pub fn options(&self) -> MultiVectorIndexInit {
    let idx = read(&self.inner);
    MultiVectorIndexInit {
      fde: fde_out(idx.encoder().options()),
      storage: storage_name(idx.storage()).into(),
      fde_storage: idx.fde_storage().name().into(),
      pq: (idx.fde_storage() == FdeStorage::Pq).then(|| pq_out(idx.pq_options())),
    }
  }

  /// Number of documents.
  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  /// Total stored tokens.
  #[napi(getter)]
  pub fn token_count(&self) -> f64 {
    read(&self.inner).token_count() as f64
  }

  /// The index's encoder (shares its matrices).
  #[napi]
  pub fn encoder(&self) -> NativeFdeEncoder {
    NativeFdeEncoder {
      inner: Arc::new(read(&self.inner).encoder().clone()),
    }
  }

  #[napi]
  /// Reads the JS buffers in place (no copy): the JS thread waits for the call.
  pub fn add_sync(
    &self,
    ids: IdsInput,
    tokens: &[f32],
    offsets: &[u32],
    threads: Option<f64>,
  ) -> napi::Result<()> {
    let ids = ids_from_js(ids)?;
    let threads = to_usize_opt(threads, "threads")?;
    let offsets = offsets_from_js(offsets);
    let batch = guard(|| read(&self.inner).prepare_add(ids, tokens, &offsets, threads))?;
    guard(|| write(&self.inner).commit_add(batch))
  }

  /// `onProgress(done, total)` counts encoded documents; `cancel` stops the add while it runs
  /// (`signal` only before it starts). A cancelled add leaves the index unchanged.
  #[napi(ts_return_type = "Promise<void>")]
  #[allow(clippy::too_many_arguments)]
  pub fn add(
    &self,
    ids: IdsInput,
    tokens: &[f32],
    offsets: &[u32],
    threads: Option<f64>,
    signal: Option<AbortSignal>,
    #[napi(ts_arg_type = "(done: number, total: number) => void")] on_progress: Option<ProgressCallback>,
    cancel: Option<&NativeCancelToken>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    let job = add_job(
      self.inner.clone(),
      ids,
      tokens,
      offsets,
      threads,
      ProgressSink::new(on_progress, cancel),
    )?;
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  /// One query on the calling thread; results go into `idsOut` / `scoresOut` (≥ k entries).
  /// `mode`: 'muvera' (FDE candidates + rerank), 'bruteforce' or 'singlevector'.
  #[napi]
  pub fn search(
    &self,
    query: &[f32],
    options: MultiVectorSearchInit,
    mode: String,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let o = parse_search(&options)?;
    let idx = read(&self.inner);
    let hits = guard(|| match mode.as_str() {
      "muvera" => idx.search(query, &o),
      "bruteforce" => idx.search_brute_force(query, o.k, o.clamp_negative),
      "singlevector" => idx.search_single_vector(query, &o),
      m => Err(slimdex_core::Error::InvalidArg(format!(
        "unknown search mode {m:?}"
      ))),
    })?;
    // SAFETY: the buffers are private, non-shared Float64Arrays owned by the TS wrapper
    // (`ResultBuffers`); this call is synchronous on the JS thread, so no JS code can read or
    // write them while the slices exist.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe {
      scores_out.as_mut()
    })
  }

  /// Candidate documents of one query, best first: 'fde' (FDE inner product; score = FDE dot)
  /// or 'singlevector' (round-robin over per-token rankings; score = 0).
  #[napi]
  pub fn candidates(&self, query: &[f32], n: f64, method: String) -> napi::Result<HitBatch> {
    let n = to_usize(n, "n")?;
    let idx = read(&self.inner);
    let hits: Vec<Scored<f32>> = guard(|| match method.as_str() {
      "fde" => idx.fde_candidates(query, n),
      "singlevector" => idx
        .single_vector_candidates(query, n)
        .map(|ids| ids.into_iter().map(|id| Scored { id, score: 0.0 }).collect()),
      m => Err(slimdex_core::Error::InvalidArg(format!(
        "unknown candidate method {m:?}"
      ))),
    })?;
    Ok(hit_batch_out(idx.ids(), &[hits]))
  }

  #[napi]
  pub fn search_batch_sync(
    &self,
    queries: &[f32],
    offsets: &[u32],
    options: MultiVectorSearchInit,
    threads: Option<f64>,
  ) -> napi::Result<HitBatch> {
    // In place (no copy): the JS thread waits for the call.
    let o = parse_search(&options)?;
    let threads = to_usize_opt(threads, "threads")?;
    let offsets = offsets_from_js(offsets);
    let idx = read(&self.inner);
    let results = guard(|| idx.search_batch(queries, &offsets, &o, threads))?;
    Ok(hit_batch_out(idx.ids(), &results))
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    queries: &[f32],
    offsets: &[u32],
    options: MultiVectorSearchInit,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    let job = search_batch_job(self.inner.clone(), queries, offsets, &options, threads)?;
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

persistence_methods!(NativeMultiVectorIndex, "Promise<NativeMultiVectorIndex>");
