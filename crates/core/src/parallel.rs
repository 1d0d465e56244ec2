//! Bounded parallelism: batch work runs on a rayon pool with at most `threads` workers.
//! Pools are built once per thread count and reused (building one costs ~100 µs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();

/// Runs `f` inside a pool of `threads` workers (`None` or 0: rayon's global pool, one per core).
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
  match threads {
    None | Some(0) => f(),
    Some(n) => {
      let n = n.min(1024);
      let pool = {
        let mut pools = POOLS
          .get_or_init(Default::default)
          .lock()
          .unwrap_or_else(|p| p.into_inner());
        pools
          .entry(n)
          .or_insert_with(|| {
            Arc::new(
              rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("rayon pool"),
            )
          })
          .clone()
      };
      pool.install(f)
    }
  }
}
