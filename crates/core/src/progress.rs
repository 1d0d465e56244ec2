//! Progress reports and cooperative cancellation for long work (builds, training, dedup).
//!
//! Long loops call [`Progress::step`] between units of work: it reports `(done, total)` to
//! the caller's callback and returns [`Error::Aborted`] once the cancel flag is set, so work
//! already running stops at the next step instead of finishing unseen. The callback must be
//! cheap and thread-safe (steps may come from rayon workers); bindings throttle it.

use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A progress callback: `(units done, units in total)`.
pub type ProgressFn<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Where a long operation reports to. `Progress::none()` costs one branch per step.
#[derive(Clone, Copy, Default)]
pub struct Progress<'a> {
  report: Option<ProgressFn<'a>>,
  cancel: Option<&'a AtomicBool>,
}

impl<'a> Progress<'a> {
  /// No reporting, no cancellation.
  pub fn none() -> Self {
    Self::default()
  }

  pub fn new(report: Option<ProgressFn<'a>>, cancel: Option<&'a AtomicBool>) -> Self {
    Progress { report, cancel }
  }

  /// `Err(Aborted)` once the operation has been cancelled.
  pub fn check(&self) -> Result<()> {
    match self.cancel {
      Some(flag) if flag.load(Ordering::Relaxed) => Err(Error::Aborted),
      _ => Ok(()),
    }
  }

  /// Reports `(done, total)`, then checks for cancellation.
  pub fn step(&self, done: u64, total: u64) -> Result<()> {
    if let Some(report) = self.report {
      report(done, total);
    }
    self.check()
  }

  /// A counter for steps taken from several threads: each call adds `units` and reports the sum.
  pub fn counter(&self, total: u64) -> ProgressCounter<'_, 'a> {
    ProgressCounter {
      progress: self,
      done: AtomicU64::new(0),
      total,
    }
  }
}

/// Shared progress of parallel work (see [`Progress::counter`]).
pub struct ProgressCounter<'p, 'a> {
  progress: &'p Progress<'a>,
  done: AtomicU64,
  total: u64,
}

impl ProgressCounter<'_, '_> {
  /// Adds `units` finished units; `Err(Aborted)` once cancelled.
  pub fn add(&self, units: u64) -> Result<()> {
    let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
    self.progress.step(done.min(self.total), self.total)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use rayon::prelude::*;
  use std::sync::Mutex;

  #[test]
  fn steps_report_and_stop_after_cancel() {
    let seen = Mutex::new(Vec::new());
    let report = |d: u64, t: u64| seen.lock().unwrap().push((d, t));
    let cancel = AtomicBool::new(false);
    let p = Progress::new(Some(&report), Some(&cancel));
    assert!(p.step(1, 3).is_ok());
    cancel.store(true, Ordering::Relaxed);
    assert!(matches!(p.step(2, 3), Err(Error::Aborted)));
    assert_eq!(*seen.lock().unwrap(), vec![(1, 3), (2, 3)]);
    assert!(Progress::none().step(5, 5).is_ok());
  }

  #[test]
  fn a_parallel_counter_reaches_the_total_exactly() {
    let last = AtomicU64::new(0);
    let report = |d: u64, _t: u64| {
      last.fetch_max(d, Ordering::Relaxed);
    };
    let p = Progress::new(Some(&report), None);
    let counter = p.counter(1000);
    (0..100)
      .into_par_iter()
      .try_for_each(|_| counter.add(10))
      .unwrap();
    assert_eq!(last.load(Ordering::Relaxed), 1000);
  }
}
