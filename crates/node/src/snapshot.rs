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

/// The update methods of a segmented index binding whose state is `inner: Arc<Snapshot<T>>`
/// (BM25 and learned sparse): `delete`, `compactSync`, `compact`. Each edits a copy and
/// publishes it, so searches in flight keep their snapshot. (`add` differs per index: its
/// documents are converted differently.)
macro_rules! segment_methods {
  ($native:ident) => {
    #[napi_derive::napi]
    impl $native {
      /// Tombstones documents; returns how many were deleted (unknown ids are ignored).
      #[napi]
      pub fn delete(&self, ids: $crate::convert::IdsInput) -> napi::Result<u32> {
        let ids = $crate::convert::ids_from_js(ids)?;
        // At most one deletion per internal id, and internal ids are u32.
        self.inner.update(|idx| Ok(idx.delete(&ids) as u32))
      }

      #[napi]
      pub fn compact_sync(&self) -> napi::Result<()> {
        self.inner.update(|idx| $crate::error::guard(|| idx.compact()))
      }

      #[napi(ts_return_type = "Promise<void>")]
      pub fn compact(
        &self,
        signal: Option<napi::bindgen_prelude::AbortSignal>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::tasks::Job<()>> {
        let inner = self.inner.clone();
        $crate::tasks::spawn(signal, move || {
          inner.update(|idx| $crate::error::guard(|| idx.compact()))
        })
      }
    }
  };
}
pub(crate) use segment_methods;
