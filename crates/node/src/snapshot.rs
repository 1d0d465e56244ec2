//! Copy-on-write sharing for indexes that change after build (BM25Index, SparseIndex).
//!
//! Readers take an `Arc` snapshot (a brief read lock to clone the pointer) and search it without
//! any lock, so a search in flight on the libuv pool keeps a consistent index while an update
//! runs. Updates are serialised by `writer`; each edits a private copy (cheap: the segments'
//! postings are shared `Arc`s inside the core index) and then swaps it in. A failed update
//! changes nothing. Lock poisoning cannot leave a half-made index (the swap is one store), so a
//! poisoned lock is simply taken over.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub struct Snapshot<T> {
  current: RwLock<Arc<T>>,
  writer: Mutex<()>,
}

impl<T: Clone> Snapshot<T> {
  pub fn new(value: T) -> Arc<Self> {
    Arc::new(Snapshot {
      current: RwLock::new(Arc::new(value)),
      writer: Mutex::new(()),
    })
  }

  /// The current index.
  pub fn get(&self) -> Arc<T> {
    self
      .current
      .read()
      .unwrap_or_else(PoisonError::into_inner)
      .clone()
  }

  /// Applies `f` to a copy and publishes it if `f` succeeds.
  pub fn update<R>(&self, f: impl FnOnce(&mut T) -> napi::Result<R>) -> napi::Result<R> {
    let _serial = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
    let mut next = (*self.get()).clone();
    let r = f(&mut next)?;
    *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    Ok(r)
  }
}
