//! Progress callbacks (a JS function called from worker threads through a thread-safe
//! function) and cancel tokens (an `AbortSignal` that stops work already running).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use slimdex_core::progress::Progress;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `onProgress(done, total)` (`FnArgs`: two arguments, not one array): not called back with an error first, and weak so a pending
/// report never keeps the process alive on its own.
pub type ProgressCallback =
  ThreadsafeFunction<FnArgs<(f64, f64)>, Unknown<'static>, FnArgs<(f64, f64)>, Status, false, true>;

/// Reports at most this often (plus the final one): JS callbacks queue on the event loop.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// A flag the TS layer sets when the call's `AbortSignal` fires; long work checks it between
/// steps and stops with `ABORT_ERR`.
#[napi]
pub struct NativeCancelToken {
  flag: Arc<AtomicBool>,
}

#[napi]
impl NativeCancelToken {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> Self {
    NativeCancelToken {
      flag: Arc::new(AtomicBool::new(false)),
    }
  }

  #[napi]
  pub fn cancel(&self) {
    self.flag.store(true, Ordering::Relaxed);
  }

  #[napi(getter)]
  pub fn cancelled(&self) -> bool {
    self.flag.load(Ordering::Relaxed)
  }
}

/// The progress side of one call, owned by its job (so it can move to the libuv pool).
pub struct ProgressSink {
  callback: Option<ProgressCallback>,
  cancel: Option<Arc<AtomicBool>>,
  last: Mutex<Option<Instant>>,
}

impl ProgressSink {
  pub fn new(callback: Option<ProgressCallback>, token: Option<&NativeCancelToken>) -> Self {
    ProgressSink {
      callback,
      cancel: token.map(|t| t.flag.clone()),
      last: Mutex::new(None),
    }
  }

  fn report(&self, done: u64, total: u64) {
    let Some(callback) = &self.callback else { return };
    let now = Instant::now();
    {
      let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
      if done < total && last.is_some_and(|t| now.duration_since(t) < REPORT_EVERY) {
        return;
      }
      *last = Some(now);
    }
    callback.call(
      FnArgs::from((done as f64, total as f64)),
      ThreadsafeFunctionCallMode::NonBlocking,
    );
  }

  /// Runs `work` with a core `Progress` wired to this sink.
  pub fn run<T>(&self, work: impl FnOnce(&Progress) -> T) -> T {
    let report = |done: u64, total: u64| self.report(done, total);
    let progress = Progress::new(
      self.callback.as_ref().map(|_| &report as _),
      self.cancel.as_deref(),
    );
    work(&progress)
  }
}
