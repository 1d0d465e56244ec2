//! `FdeEncoder` binding: MUVERA fixed-dimensional encodings of point clouds.

use crate::convert::{to_usize, to_usize_opt};
use crate::error::{guard, invalid};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::multivec::{FdeEncoder, FdeOptions, Projection};
use std::sync::Arc;

/// Options of `new NativeFdeEncoder(...)` (validated and defaulted by the TS layer).
#[napi(object)]
pub struct FdeEncoderInit {
  pub dim: f64,
  pub repetitions: f64,
  pub simhash_bits: f64,
  /// 'countsketch' | 'identity' | 'dense'
  pub projection: String,
  pub projection_dim: f64,
  pub final_dim: Option<f64>,
  pub fill_empty: bool,
  /// A safe integer ≥ 0.
  pub seed: f64,
}

pub fn parse_fde(o: &FdeEncoderInit) -> napi::Result<FdeOptions> {
  let projection = match o.projection.as_str() {
    "countsketch" => Projection::CountSketch,
    "identity" => Projection::Identity,
    "dense" => Projection::Dense,
    p => {
      return Err(invalid(format!(
        "projection must be 'countsketch', 'identity' or 'dense' (got {p:?})"
      )))
    }
  };
  Ok(FdeOptions {
    dim: to_usize(o.dim, "dim")?,
    repetitions: to_usize(o.repetitions, "repetitions")?,
    simhash_bits: to_usize(o.simhash_bits, "simhashBits")?,
    projection,
    projection_dim: to_usize(o.projection_dim, "projectionDim")?,
    final_dim: to_usize_opt(o.final_dim, "finalDim")?,
    fill_empty: o.fill_empty,
    seed: to_usize(o.seed, "seed")? as u64,
  })
}

pub fn fde_out(o: &FdeOptions) -> FdeEncoderInit {
  FdeEncoderInit {
    dim: o.dim as f64,
    repetitions: o.repetitions as f64,
    simhash_bits: o.simhash_bits as f64,
    projection: o.projection.name().into(),
    projection_dim: o.projection_dim as f64,
    final_dim: o.final_dim.map(|f| f as f64),
    fill_empty: o.fill_empty,
    // Seeds above 2^53 only come from Rust callers; JS-created encoders are safe integers.
    seed: o.seed as f64,
  }
}

/// CSR offsets from JS (u32 token indices) to the core's usize.
pub fn offsets_from_js(offsets: &[u32]) -> Vec<usize> {
  offsets.iter().map(|&o| o as usize).collect()
}

#[napi]
pub struct NativeFdeEncoder {
  pub(crate) inner: Arc<FdeEncoder>,
}

fn encode_job(
  enc: Arc<FdeEncoder>,
  tokens: &[f32],
  offsets: &[u32],
  document: bool,
  threads: Option<f64>,
) -> napi::Result<Job<Float32Array>> {
  let threads = to_usize_opt(threads, "threads")?;
  // Copy now: the JS buffers may be mutated after the call returns.
  let tokens = tokens.to_vec();
  let offsets = offsets_from_js(offsets);
  Ok(Job::new(move || {
    let out = guard(|| {
      if document {
        enc.encode_documents(&tokens, &offsets, threads)
      } else {
        enc.encode_queries(&tokens, &offsets, threads)
      }
    })?;
    Ok(Float32Array::new(out))
  }))
}

#[napi]
impl NativeFdeEncoder {
  #[napi(constructor)]
  pub fn new(options: FdeEncoderInit) -> napi::Result<Self> {
    let opts = parse_fde(&options)?;
    Ok(NativeFdeEncoder {
      inner: Arc::new(guard(|| FdeEncoder::new(opts))?),
    })
  }

  #[napi]
  pub fn options(&self) -> FdeEncoderInit {
    fde_out(self.inner.options())
  }

  /// Length of every encoding.
  #[napi(getter)]
  pub fn output_dim(&self) -> u32 {
    self.inner.output_dim() as u32
  }

  /// Query encoding of one point cloud (`n × dim` floats).
  #[napi]
  pub fn encode_query(&self, tokens: &[f32]) -> napi::Result<Float32Array> {
    guard(|| self.inner.encode_query(tokens)).map(Float32Array::new)
  }

  /// Document encoding of one point cloud.
  #[napi]
  pub fn encode_document(&self, tokens: &[f32]) -> napi::Result<Float32Array> {
    guard(|| self.inner.encode_document(tokens)).map(Float32Array::new)
  }

  #[napi]
  /// Reads the JS buffers in place (no copy): the JS thread waits for the call.
  pub fn encode_batch_sync(
    &self,
    tokens: &[f32],
    offsets: &[u32],
    document: bool,
    threads: Option<f64>,
  ) -> napi::Result<Float32Array> {
    let threads = to_usize_opt(threads, "threads")?;
    let offsets = offsets_from_js(offsets);
    let enc = &self.inner;
    let out = guard(|| {
      if document {
        enc.encode_documents(tokens, &offsets, threads)
      } else {
        enc.encode_queries(tokens, &offsets, threads)
      }
    })?;
    Ok(Float32Array::new(out))
  }

  #[napi(ts_return_type = "Promise<Float32Array>")]
  pub fn encode_batch(
    &self,
    tokens: &[f32],
    offsets: &[u32],
    document: bool,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<Float32Array>>> {
    let job = encode_job(self.inner.clone(), tokens, offsets, document, threads)?;
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    guard(|| Ok(self.inner.to_bytes())).map(Buffer::from)
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    Ok(NativeFdeEncoder {
      inner: Arc::new(guard(|| FdeEncoder::from_bytes(buffer))?),
    })
  }

  /// Encodes on the libuv pool and resolves with nothing (benchmark helper: measures
  /// encoding without the cost of returning the output to JS).
  #[napi(ts_return_type = "Promise<void>")]
  pub fn encode_batch_discard(
    &self,
    tokens: &[f32],
    offsets: &[u32],
    document: bool,
    threads: Option<f64>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    let enc = self.inner.clone();
    let threads = to_usize_opt(threads, "threads")?;
    let tokens = tokens.to_vec();
    let offsets = offsets_from_js(offsets);
    Ok(spawn(None, move || {
      guard(|| {
        if document {
          enc.encode_documents(&tokens, &offsets, threads).map(|_| ())
        } else {
          enc.encode_queries(&tokens, &offsets, threads).map(|_| ())
        }
      })
    }))
  }
}
