//! Async work on the libuv thread pool.
//!
//! `Job` wraps a closure that does the whole computation off the JS thread and produces a value
//! napi can convert directly; the matching `…Sync` method runs the same closure inline, so the
//! two twins cannot drift apart. Panics are caught inside the job (see `error::guard`).

use napi::bindgen_prelude::*;

pub struct Job<T: Send + 'static> {
  work: Option<Box<dyn FnOnce() -> napi::Result<T> + Send>>,
}

impl<T: Send + 'static> Job<T> {
  pub fn new(work: impl FnOnce() -> napi::Result<T> + Send + 'static) -> Self {
    Job {
      work: Some(Box::new(work)),
    }
  }

  /// Runs on the JS thread (the `…Sync` twin).
  pub fn run_sync(mut self) -> napi::Result<T> {
    self.take()?()
  }

  fn take(&mut self) -> napi::Result<Box<dyn FnOnce() -> napi::Result<T> + Send>> {
    self
      .work
      .take()
      .ok_or_else(|| napi::Error::from_reason("ERR_SLIMDEX_INTERNAL: job ran twice"))
  }
}

impl<T: Send + ToNapiValue + TypeName + 'static> Task for Job<T> {
  type Output = T;
  type JsValue = T;

  fn compute(&mut self) -> napi::Result<T> {
    self.take()?()
  }

  fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
    Ok(output)
  }
}

/// Starts `work` on the libuv pool, cancellable before it starts through `signal`.
pub fn spawn<T: Send + ToNapiValue + TypeName + 'static>(
  signal: Option<AbortSignal>,
  work: impl FnOnce() -> napi::Result<T> + Send + 'static,
) -> AsyncTask<Job<T>> {
  AsyncTask::with_optional_signal(Job::new(work), signal)
}
