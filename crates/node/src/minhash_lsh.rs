//! `MinHashLSH` binding: banded LSH index over MinHash signatures.

use crate::convert::{id_to_js, ids_from_js, memory_to_js, to_usize_opt, IdsInput, MemoryComponent};
use crate::error::{guard, invalid};
use crate::signature_family::{family_from_js, family_to_js, SignatureFamilyJs};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::ids::ExternalId;
use slimdex_core::io;
use slimdex_core::minhash::{LshHit, LshOptions, MinHashLsh};
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Options of `new NativeMinHashLsh(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct MinHashLshInit {
  pub threshold: f64,
  pub num_perm: f64,
  pub weight_fp: f64,
  pub weight_fn: f64,
  pub bands: Option<f64>,
  pub rows: Option<f64>,
  pub keep_signatures: bool,
}

/// The options an index was built with.
#[napi(object)]
pub struct MinHashLshOptionsOut {
  pub threshold: f64,
  pub num_perm: u32,
  pub weights: Vec<f64>,
  pub bands: u32,
  pub rows: u32,
  pub keep_signatures: bool,
}

/// One query result.
#[napi(object)]
pub struct LshMatch {
  pub id: Either<String, f64>,
  /// Estimated Jaccard, present when the query was verified.
  pub jaccard: Option<f64>,
}

/// One candidate pair (ids in insertion order).
#[napi(object)]
pub struct LshPair {
  pub a: Either<String, f64>,
  pub b: Either<String, f64>,
  pub jaccard: Option<f64>,
}

type Shared = Arc<RwLock<MinHashLsh>>;

#[napi]
pub struct NativeMinHashLsh {
  inner: Shared,
}

fn read(inner: &Shared) -> RwLockReadGuard<'_, MinHashLsh> {
  // Inserts validate everything before the first mutation, so a poisoned lock still guards
  // consistent data.
  inner.read().unwrap_or_else(|p| p.into_inner())
}
fn write(inner: &Shared) -> RwLockWriteGuard<'_, MinHashLsh> {
  inner.write().unwrap_or_else(|p| p.into_inner())
}

pub fn id_from_js(id: Either<String, f64>) -> napi::Result<ExternalId> {
  match id {
    Either::A(s) => Ok(ExternalId::Str(s)),
    Either::B(v) => ExternalId::from_f64(v).map_err(crate::error::to_napi),
  }
}

fn hits_to_js(hits: Vec<LshHit>) -> Vec<LshMatch> {
  hits
    .into_iter()
    .map(|h| LshMatch {
      id: id_to_js(h.id),
      jaccard: h.jaccard,
    })
    .collect()
}

fn insert_job(
  inner: Shared,
  ids: IdsInput,
  sigs: &[u32],
  threads: Option<f64>,
  family: Option<SignatureFamilyJs>,
) -> napi::Result<Job<()>> {
  let ids = ids_from_js(ids)?;
  let threads = to_usize_opt(threads, "threads")?;
  let family = family_from_js(family)?;
  let sigs = sigs.to_vec();
  Ok(Job::new(move || {
    guard(|| {
      // Checked, inserted and recorded under one write lock: a refused batch records nothing.
      let mut idx = write(&inner);
      idx.family().check(family)?;
      idx.insert_batch(ids, &sigs, threads)?;
      idx.family_mut().adopt(family);
      Ok(())
    })
  }))
}

fn query_batch_job(
  inner: Shared,
  sigs: &[u32],
  verify: Option<f64>,
  threads: Option<f64>,
  family: Option<SignatureFamilyJs>,
) -> napi::Result<Job<Vec<Vec<LshMatch>>>> {
  let threads = to_usize_opt(threads, "threads")?;
  let family = family_from_js(family)?;
  let sigs = sigs.to_vec();
  Ok(Job::new(move || {
    let r = guard(|| {
      let idx = read(&inner);
      idx.family().check(family)?;
      idx.query_batch(&sigs, verify, threads)
    })?;
    Ok(r.into_iter().map(hits_to_js).collect())
  }))
}

fn load_job(path: String) -> Job<NativeMinHashLsh> {
  Job::new(move || {
    let idx = guard(|| {
      let bytes = io::read_file(&PathBuf::from(&path), false)?;
      MinHashLsh::from_bytes(&bytes)
    })?;
    Ok(NativeMinHashLsh {
      inner: Arc::new(RwLock::new(idx)),
    })
  })
}

#[napi]
impl NativeMinHashLsh {
  #[napi(constructor)]
  pub fn new(o: MinHashLshInit) -> napi::Result<Self> {
    let num_perm = crate::convert::to_usize(o.num_perm, "numPerm")?;
    let bands_rows = match (o.bands, o.rows) {
      (Some(b), Some(r)) => Some((
        crate::convert::to_usize(b, "bands")?,
        crate::convert::to_usize(r, "rows")?,
      )),
      (None, None) => None,
      _ => return Err(invalid("bands and rows must be given together")),
    };
    let opts = LshOptions {
      threshold: o.threshold,
      num_perm,
      weights: (o.weight_fp, o.weight_fn),
      bands_rows,
      keep_signatures: o.keep_signatures,
    };
    Ok(NativeMinHashLsh {
      inner: Arc::new(RwLock::new(guard(|| MinHashLsh::new(opts))?)),
    })
  }

  #[napi]
  pub fn options(&self) -> MinHashLshOptionsOut {
    let idx = read(&self.inner);
    let o = idx.options();
    MinHashLshOptionsOut {
      threshold: o.threshold,
      num_perm: o.num_perm as u32,
      weights: vec![o.weights.0, o.weights.1],
      bands: idx.bands() as u32,
      rows: idx.rows() as u32,
      keep_signatures: o.keep_signatures,
    }
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  /// The hasher family of the held signatures, once known.
  #[napi(getter)]
  pub fn family(&self) -> napi::Result<Option<SignatureFamilyJs>> {
    family_to_js(read(&self.inner).family())
  }

  #[napi]
  pub fn insert_sync(
    &self,
    ids: IdsInput,
    sigs: &[u32],
    threads: Option<f64>,
    family: Option<SignatureFamilyJs>,
  ) -> napi::Result<()> {
    insert_job(self.inner.clone(), ids, sigs, threads, family)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn insert(
    &self,
    ids: IdsInput,
    sigs: &[u32],
    threads: Option<f64>,
    family: Option<SignatureFamilyJs>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    Ok(AsyncTask::with_optional_signal(
      insert_job(self.inner.clone(), ids, sigs, threads, family)?,
      signal,
    ))
  }

  #[napi]
  pub fn query(
    &self,
    sig: &[u32],
    verify: Option<f64>,
    family: Option<SignatureFamilyJs>,
  ) -> napi::Result<Vec<LshMatch>> {
    let family = family_from_js(family)?;
    guard(|| {
      let idx = read(&self.inner);
      idx.family().check(family)?;
      idx.query(sig, verify)
    })
    .map(hits_to_js)
  }

  #[napi]
  pub fn query_batch_sync(
    &self,
    sigs: &[u32],
    verify: Option<f64>,
    threads: Option<f64>,
    family: Option<SignatureFamilyJs>,
  ) -> napi::Result<Vec<Vec<LshMatch>>> {
    query_batch_job(self.inner.clone(), sigs, verify, threads, family)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<LshMatch[][]>")]
  pub fn query_batch(
    &self,
    sigs: &[u32],
    verify: Option<f64>,
    threads: Option<f64>,
    family: Option<SignatureFamilyJs>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<Vec<Vec<LshMatch>>>>> {
    Ok(AsyncTask::with_optional_signal(
      query_batch_job(self.inner.clone(), sigs, verify, threads, family)?,
      signal,
    ))
  }

  #[napi]
  pub fn remove(&self, id: Either<String, f64>) -> napi::Result<bool> {
    let id = id_from_js(id)?;
    Ok(write(&self.inner).remove(&id))
  }

  #[napi]
  pub fn has(&self, id: Either<String, f64>) -> napi::Result<bool> {
    let id = id_from_js(id)?;
    Ok(read(&self.inner).contains(&id))
  }

  #[napi]
  pub fn candidate_pairs(&self, verify: Option<f64>) -> napi::Result<Vec<LshPair>> {
    let idx = read(&self.inner);
    let pairs = guard(|| idx.candidate_pairs(verify))?;
    Ok(
      pairs
        .into_iter()
        .map(|(a, b, j)| LshPair {
          a: id_to_js(idx.external_id(a)),
          b: id_to_js(idx.external_id(b)),
          jaccard: j,
        })
        .collect(),
    )
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(read(&self.inner).memory_usage())
  }

  #[napi]
  pub fn to_buffer(&self) -> Buffer {
    Buffer::from(read(&self.inner).to_bytes())
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    let idx = guard(|| MinHashLsh::from_bytes(buffer))?;
    Ok(NativeMinHashLsh {
      inner: Arc::new(RwLock::new(idx)),
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
  pub fn load_sync(path: String) -> napi::Result<Self> {
    load_job(path).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeMinHashLsh>")]
  pub fn load(path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<NativeMinHashLsh>> {
    AsyncTask::with_optional_signal(load_job(path), signal)
  }
}
