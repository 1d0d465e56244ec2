//! `ProductQuantizer` binding: train codebooks, encode / decode, ADC tables.

use crate::dense_common::{metric_from, nbits_from, seed_from};
use crate::error::guard;
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::dense::{PqParams, ProductQuantizer};
use slimdex_core::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `NativeProductQuantizer.train` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct ProductQuantizerInit {
  pub dim: f64,
  pub m: f64,
  pub nbits: f64,
  pub iters: f64,
  pub seed: f64,
}

#[napi]
pub struct NativeProductQuantizer {
  inner: Arc<ProductQuantizer>,
}

fn train_job(vectors: &[f32], o: ProductQuantizerInit) -> napi::Result<Job<NativeProductQuantizer>> {
  let p = PqParams {
    dim: crate::convert::to_usize(o.dim, "dim")?,
    m: crate::convert::to_usize(o.m, "m")?,
    nbits: nbits_from(o.nbits)?,
    iters: crate::convert::to_usize(o.iters, "iters")?,
    seed: seed_from(o.seed)?,
  };
  let data = vectors.to_vec();
  Ok(Job::new(move || {
    let pq = guard(|| ProductQuantizer::train(&data, &p))?;
    Ok(NativeProductQuantizer { inner: Arc::new(pq) })
  }))
}

#[napi]
impl NativeProductQuantizer {
  #[napi(factory)]
  pub fn train_sync(vectors: &[f32], options: ProductQuantizerInit) -> napi::Result<Self> {
    train_job(vectors, options)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeProductQuantizer>")]
  pub fn train(
    vectors: &[f32],
    options: ProductQuantizerInit,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativeProductQuantizer>>> {
    Ok(AsyncTask::with_optional_signal(
      train_job(vectors, options)?,
      signal,
    ))
  }

  #[napi(getter)]
  pub fn dim(&self) -> u32 {
    self.inner.dim() as u32
  }
  #[napi(getter)]
  pub fn m(&self) -> u32 {
    self.inner.m() as u32
  }
  #[napi(getter)]
  pub fn nbits(&self) -> u32 {
    self.inner.nbits()
  }
  #[napi(getter)]
  pub fn code_size(&self) -> u32 {
    self.inner.code_size() as u32
  }

  /// Packed codes, `n × codeSize` bytes.
  #[napi]
  pub fn encode(&self, vectors: &[f32]) -> napi::Result<Uint8Array> {
    Ok(Uint8Array::from(guard(|| self.inner.encode(vectors))?))
  }

  #[napi]
  pub fn decode(&self, codes: &[u8]) -> napi::Result<Float32Array> {
    Ok(Float32Array::from(guard(|| self.inner.decode(codes))?))
  }

  /// `m × 2^nbits` table (squared distances for 'l2', dot products for 'ip' / 'cosine').
  #[napi]
  pub fn adc_table(&self, query: &[f32], metric: String) -> napi::Result<Float32Array> {
    let metric = metric_from(&metric)?;
    Ok(Float32Array::from(guard(|| self.inner.adc_table(query, metric))?))
  }

  /// `m × 2^nbits × (dim/m)` centroids, a copy.
  #[napi]
  pub fn codebooks(&self) -> Float32Array {
    Float32Array::from(self.inner.codebooks().to_vec())
  }

  #[napi]
  pub fn to_buffer(&self) -> Buffer {
    Buffer::from(self.inner.to_bytes())
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    Ok(NativeProductQuantizer {
      inner: Arc::new(guard(|| ProductQuantizer::from_bytes(buffer))?),
    })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    let bytes = self.inner.to_bytes();
    guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
  }

  #[napi(factory)]
  pub fn load_sync(path: String) -> napi::Result<Self> {
    let pq = guard(|| ProductQuantizer::from_bytes(&io::read_file(&PathBuf::from(&path), false)?))?;
    Ok(NativeProductQuantizer { inner: Arc::new(pq) })
  }
}
