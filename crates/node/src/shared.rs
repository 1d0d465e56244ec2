//! State shared by a binding object and its async jobs, and the persistence methods every
//! index binding exposes (`toBuffer`/`fromBuffer`/`save`/`load` and their sync twins).

use crate::error::guard;
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use slimdex_core::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An index behind a lock: searches share it, adds take it briefly to append.
pub type Shared<T> = Arc<RwLock<T>>;

pub fn shared<T>(value: T) -> Shared<T> {
  Arc::new(RwLock::new(value))
}

/// A poisoned lock means a panic happened while writing; every write is all-or-nothing
/// (validated before anything is appended), so the data is consistent and stays usable.
pub fn read<T>(inner: &Shared<T>) -> RwLockReadGuard<'_, T> {
  inner.read().unwrap_or_else(|p| p.into_inner())
}

pub fn write<T>(inner: &Shared<T>) -> RwLockWriteGuard<'_, T> {
  inner.write().unwrap_or_else(|p| p.into_inner())
}

/// A core object stored in the container format.
pub trait Persist: Sized + Send + Sync + 'static {
  fn to_bytes(&self) -> Vec<u8>;
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self>;
}

pub fn to_buffer<T: Persist>(inner: &Shared<T>) -> napi::Result<Buffer> {
  guard(|| Ok(read(inner).to_bytes())).map(Buffer::from)
}

pub fn from_buffer<T: Persist>(bytes: &[u8]) -> napi::Result<Shared<T>> {
  guard(|| T::from_bytes(bytes)).map(shared)
}

pub fn save_sync<T: Persist>(inner: &Shared<T>, path: String) -> napi::Result<()> {
  let bytes = guard(|| Ok(read(inner).to_bytes()))?;
  guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
}

/// Serialises under the read lock, then writes atomically, on the libuv pool.
pub fn save<T: Persist>(inner: &Shared<T>, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
  let inner = inner.clone();
  spawn(signal, move || save_sync(&inner, path))
}

/// Reads and validates a saved object (memory-mapped while parsing when `mmap`), then wraps it.
pub fn load_job<T: Persist, W: Send + 'static>(
  path: String,
  mmap: bool,
  wrap: impl FnOnce(Shared<T>) -> W + Send + 'static,
) -> Job<W> {
  Job::new(move || {
    let value = guard(|| {
      let bytes = io::read_file(&PathBuf::from(&path), mmap)?;
      T::from_bytes(&bytes)
    })?;
    Ok(wrap(shared(value)))
  })
}

/// The persistence methods of an index binding whose state is `inner: Shared<T>` with
/// `T: Persist`: `toBuffer`, `fromBuffer`, `save`/`saveSync`, `load`/`loadSync` (the latter
/// memory-map the file while parsing when `mmap` is true). `$promise` is the TS type of `load`.
macro_rules! persistence_methods {
  ($native:ident, $promise:literal) => {
    #[napi_derive::napi]
    impl $native {
      #[napi]
      pub fn to_buffer(&self) -> napi::Result<napi::bindgen_prelude::Buffer> {
        $crate::shared::to_buffer(&self.inner)
      }

      #[napi(factory)]
      pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
        $crate::shared::from_buffer(buffer).map(|inner| $native { inner })
      }

      #[napi]
      pub fn save_sync(&self, path: String) -> napi::Result<()> {
        $crate::shared::save_sync(&self.inner, path)
      }

      #[napi(ts_return_type = "Promise<void>")]
      pub fn save(
        &self,
        path: String,
        signal: Option<napi::bindgen_prelude::AbortSignal>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::tasks::Job<()>> {
        $crate::shared::save(&self.inner, path, signal)
      }

      #[napi(factory)]
      pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
        $crate::shared::load_job(path, mmap.unwrap_or(false), |inner| $native { inner }).run_sync()
      }

      #[napi(ts_return_type = $promise)]
      pub fn load(
        path: String,
        mmap: Option<bool>,
        signal: Option<napi::bindgen_prelude::AbortSignal>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::tasks::Job<$native>> {
        napi::bindgen_prelude::AsyncTask::with_optional_signal(
          $crate::shared::load_job(path, mmap.unwrap_or(false), |inner| $native { inner }),
          signal,
        )
      }
    }
  };
}
pub(crate) use persistence_methods;
