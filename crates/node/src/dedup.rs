//! The streaming `dedup` engine (`NativeDeduper`): signs batches of texts in parallel and
//! clusters them in order with LSH or LSHBloom.

use crate::convert::to_usize_opt;
use crate::error::{guard, invalid};
use crate::lsh_bloom::bands_rows;
use crate::min_hasher::{parse_hasher, MinHasherInit};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::minhash::{DedupMode, DedupOptions, Deduper};
use std::sync::{Arc, Mutex, MutexGuard};

/// Options of `new NativeDeduper(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct DeduperInit {
  pub hasher: MinHasherInit,
  pub threshold: f64,
  /// 'lsh' | 'bloom'
  pub mode: String,
  pub verify: bool,
  pub collect_pairs: bool,
  pub weight_fp: f64,
  pub weight_fn: f64,
  pub bands: Option<f64>,
  pub rows: Option<f64>,
  pub expected_items: f64,
  pub false_positive_rate: f64,
}

/// The result of `finish()`.
#[napi(object)]
pub struct DedupOutput {
  pub clusters: Int32Array,
  pub is_duplicate: Uint8Array,
  pub duplicates: f64,
  pub pair_a: Uint32Array,
  pub pair_b: Uint32Array,
  pub pair_jaccard: Float32Array,
  pub bands: u32,
  pub rows: u32,
}

type SharedDeduper = Arc<Mutex<Option<Deduper>>>;

#[napi]
pub struct NativeDeduper {
  inner: SharedDeduper,
}

fn lock(inner: &SharedDeduper) -> MutexGuard<'_, Option<Deduper>> {
  inner.lock().unwrap_or_else(|p| p.into_inner())
}

fn finished() -> napi::Error {
  crate::error::to_napi(slimdex_core::Error::InvalidState("dedup already finished".into()))
}

fn push_job(inner: SharedDeduper, texts: Vec<String>, threads: Option<f64>) -> napi::Result<Job<u32>> {
  let threads = to_usize_opt(threads, "threads")?;
  Ok(Job::new(move || {
    let mut g = lock(&inner);
    let d = g.as_mut().ok_or_else(finished)?;
    guard(|| d.push(&texts, threads))?;
    Ok(d.len() as u32)
  }))
}

#[napi]
impl NativeDeduper {
  #[napi(constructor)]
  pub fn new(o: DeduperInit) -> napi::Result<Self> {
    let mode = match o.mode.as_str() {
      "lsh" => DedupMode::Lsh,
      "bloom" => DedupMode::Bloom,
      m => return Err(invalid(format!("mode must be 'lsh' or 'bloom' (got {m:?})"))),
    };
    let opts = DedupOptions {
      threshold: o.threshold,
      hasher: parse_hasher(&o.hasher)?,
      mode,
      verify: o.verify,
      collect_pairs: o.collect_pairs,
      weights: (o.weight_fp, o.weight_fn),
      bands_rows: bands_rows(o.bands, o.rows)?,
      expected_items: crate::convert::to_usize(o.expected_items, "expectedItems")? as u64,
      false_positive_rate: o.false_positive_rate,
    };
    let d = guard(|| Deduper::new(opts))?;
    Ok(NativeDeduper {
      inner: Arc::new(Mutex::new(Some(d))),
    })
  }

  /// Signs a batch (in parallel) and clusters it; resolves to the number of documents seen.
  #[napi(ts_return_type = "Promise<number>")]
  pub fn push(
    &self,
    texts: Vec<String>,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<u32>>> {
    Ok(AsyncTask::with_optional_signal(
      push_job(self.inner.clone(), texts, threads)?,
      signal,
    ))
  }

  #[napi]
  pub fn push_sync(&self, texts: Vec<String>, threads: Option<f64>) -> napi::Result<u32> {
    push_job(self.inner.clone(), texts, threads)?.run_sync()
  }

  #[napi]
  pub fn finish(&self) -> napi::Result<DedupOutput> {
    let d = lock(&self.inner).take().ok_or_else(finished)?;
    let (bands, rows) = d.bands_rows();
    let r = d.finish();
    let (mut a, mut b, mut j) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y, s) in r.pairs {
      a.push(x);
      b.push(y);
      j.push(s);
    }
    Ok(DedupOutput {
      clusters: Int32Array::from(r.clusters),
      is_duplicate: Uint8Array::from(r.is_duplicate.into_iter().map(u8::from).collect::<Vec<u8>>()),
      duplicates: r.duplicates as f64,
      pair_a: Uint32Array::from(a),
      pair_b: Uint32Array::from(b),
      pair_jaccard: Float32Array::from(j),
      bands: bands as u32,
      rows: rows as u32,
    })
  }
}
