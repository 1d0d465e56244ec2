//! `LSHBloom` binding: one cache-blocked Bloom filter per band, first seen wins.

use crate::convert::{memory_to_js, MemoryComponent};
use crate::error::{guard, invalid};
use crate::signature_family::{family_from_js, family_to_js, SignatureFamilyJs};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::io;
use slimdex_core::minhash::{BloomOptions, LshBloom};
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Options of `new NativeLshBloom(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct LshBloomInit {
  pub threshold: f64,
  pub num_perm: f64,
  pub expected_items: f64,
  pub false_positive_rate: f64,
  pub weight_fp: f64,
  pub weight_fn: f64,
  pub bands: Option<f64>,
  pub rows: Option<f64>,
}

/// The options a filter set was built with.
#[napi(object)]
pub struct LshBloomOptionsOut {
  pub threshold: f64,
  pub num_perm: u32,
  pub expected_items: f64,
  pub false_positive_rate: f64,
  pub weights: Vec<f64>,
  pub bands: u32,
  pub rows: u32,
}

type Shared = Arc<RwLock<LshBloom>>;

#[napi]
pub struct NativeLshBloom {
  inner: Shared,
}

fn read(inner: &Shared) -> RwLockReadGuard<'_, LshBloom> {
  inner.read().unwrap_or_else(|p| p.into_inner())
}
fn write(inner: &Shared) -> RwLockWriteGuard<'_, LshBloom> {
  inner.write().unwrap_or_else(|p| p.into_inner())
}

pub fn bands_rows(bands: Option<f64>, rows: Option<f64>) -> napi::Result<Option<(usize, usize)>> {
  match (bands, rows) {
    (Some(b), Some(r)) => Ok(Some((
      crate::convert::to_usize(b, "bands")?,
      crate::convert::to_usize(r, "rows")?,
    ))),
    (None, None) => Ok(None),
    _ => Err(invalid("bands and rows must be given together")),
  }
}

fn load_job(path: String, mmap: bool) -> Job<NativeLshBloom> {
  Job::new(move || {
    let f = guard(|| LshBloom::load(&PathBuf::from(&path), mmap))?;
    Ok(NativeLshBloom {
      inner: Arc::new(RwLock::new(f)),
    })
  })
}

fn bools(v: Vec<bool>) -> Uint8Array {
  Uint8Array::from(v.into_iter().map(u8::from).collect::<Vec<u8>>())
}

#[napi]
impl NativeLshBloom {
  #[napi(constructor)]
  pub fn new(o: LshBloomInit) -> napi::Result<Self> {
    let expected = crate::convert::to_usize(o.expected_items, "expectedItems")? as u64;
    let opts = BloomOptions {
      threshold: o.threshold,
      num_perm: crate::convert::to_usize(o.num_perm, "numPerm")?,
      expected_items: expected,
      false_positive_rate: o.false_positive_rate,
      weights: (o.weight_fp, o.weight_fn),
      bands_rows: bands_rows(o.bands, o.rows)?,
    };
    Ok(NativeLshBloom {
      inner: Arc::new(RwLock::new(guard(|| LshBloom::new(opts))?)),
    })
  }

  #[napi]
  pub fn options(&self) -> LshBloomOptionsOut {
    let f = read(&self.inner);
    let o = f.options();
    LshBloomOptionsOut {
      threshold: o.threshold,
      num_perm: o.num_perm as u32,
      expected_items: o.expected_items as f64,
      false_positive_rate: o.false_positive_rate,
      weights: vec![o.weights.0, o.weights.1],
      bands: f.bands() as u32,
      rows: f.rows() as u32,
    }
  }

  /// Documents inserted so far (summed over merges).
  #[napi(getter)]
  pub fn count(&self) -> f64 {
    read(&self.inner).count() as f64
  }

  #[napi(getter)]
  pub fn band_false_positive_rate(&self) -> f64 {
    read(&self.inner).band_false_positive_rate()
  }

  /// The hasher family of the inserted signatures, once known.
  #[napi(getter)]
  pub fn family(&self) -> napi::Result<Option<SignatureFamilyJs>> {
    family_to_js(read(&self.inner).family())
  }

  /// Runs `insert` under the write lock: signatures of another family are refused before any
  /// change, and the family is recorded only after the insert succeeded.
  fn insert_checked<R>(
    &self,
    family: Option<SignatureFamilyJs>,
    insert: impl FnOnce(&mut LshBloom) -> slimdex_core::Result<R>,
  ) -> napi::Result<R> {
    let family = family_from_js(family)?;
    guard(|| {
      let mut f = write(&self.inner);
      f.family().check(family)?;
      let r = insert(&mut f)?;
      f.family_mut().adopt(family);
      Ok(r)
    })
  }

  #[napi]
  pub fn insert_if_new(&self, sig: &[u32], family: Option<SignatureFamilyJs>) -> napi::Result<bool> {
    self.insert_checked(family, |f| f.insert_if_new(sig))
  }

  /// `insertIfNew` over a flat batch, in order; 1 = new (inserted), 0 = near-duplicate.
  #[napi]
  pub fn insert_if_new_batch(
    &self,
    sigs: &[u32],
    family: Option<SignatureFamilyJs>,
  ) -> napi::Result<Uint8Array> {
    self
      .insert_checked(family, |f| f.insert_if_new_batch(sigs))
      .map(bools)
  }

  #[napi]
  pub fn has(&self, sig: &[u32], family: Option<SignatureFamilyJs>) -> napi::Result<bool> {
    let family = family_from_js(family)?;
    guard(|| {
      let f = read(&self.inner);
      f.family().check(family)?;
      f.has(sig)
    })
  }

  #[napi]
  pub fn has_batch(&self, sigs: &[u32], family: Option<SignatureFamilyJs>) -> napi::Result<Uint8Array> {
    let family = family_from_js(family)?;
    let f = read(&self.inner);
    let k = f.options().num_perm;
    guard(|| {
      f.family().check(family)?;
      slimdex_core::validate::vector_count(sigs.len(), k, "signatures")?;
      sigs
        .chunks_exact(k)
        .map(|s| f.has(s))
        .collect::<slimdex_core::Result<Vec<bool>>>()
    })
    .map(bools)
  }

  #[napi]
  pub fn merge(&self, other: &NativeLshBloom) -> napi::Result<()> {
    if Arc::ptr_eq(&self.inner, &other.inner) {
      return Ok(()); // OR with itself changes nothing (and would deadlock).
    }
    let o = read(&other.inner);
    guard(|| write(&self.inner).merge(&o))
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(vec![("filters", read(&self.inner).memory_bytes())])
  }

  /// Filter bytes per expected document.
  #[napi]
  pub fn bytes_per_document(&self) -> f64 {
    read(&self.inner).bytes_per_document()
  }

  #[napi(getter)]
  pub fn is_mapped(&self) -> bool {
    read(&self.inner).is_mapped()
  }

  #[napi]
  pub fn to_buffer(&self) -> Buffer {
    Buffer::from(read(&self.inner).to_bytes())
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    let f = guard(|| LshBloom::from_bytes(buffer))?;
    Ok(NativeLshBloom {
      inner: Arc::new(RwLock::new(f)),
    })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    let bytes = read(&self.inner).to_bytes();
    guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    let inner = self.inner.clone();
    spawn(signal, move || {
      let bytes = read(&inner).to_bytes();
      guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
    })
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    load_job(path, mmap.unwrap_or(false)).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeLshBloom>")]
  pub fn load(
    path: String,
    mmap: Option<bool>,
    signal: Option<AbortSignal>,
  ) -> AsyncTask<Job<NativeLshBloom>> {
    AsyncTask::with_optional_signal(load_job(path, mmap.unwrap_or(false)), signal)
  }
}
