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

/// `f(i, chunk)` over the `chunk`-sized pieces of `out`, collected in order; the first error
/// (in index order when sequential) is returned. With `threads == Some(1)` it runs on the calling
/// thread: no rayon hand-off (a pool wake-up per call, a sleeping caller) and no splitting, which
/// costs a visible share of short per-item work such as signing a 100-shingle document.
pub fn try_map_chunks_mut<T, R, E, F>(
  threads: Option<usize>,
  out: &mut [T],
  chunk: usize,
  f: F,
) -> Result<Vec<R>, E>
where
  T: Send,
  R: Send,
  E: Send,
  F: Fn(usize, &mut [T]) -> Result<R, E> + Sync + Send,
{
  use rayon::prelude::*;
  if threads == Some(1) {
    return out.chunks_mut(chunk).enumerate().map(|(i, c)| f(i, c)).collect();
  }
  with_threads(threads, || {
    out
      .par_chunks_mut(chunk)
      .enumerate()
      .map(|(i, c)| f(i, c))
      .collect()
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn try_map_chunks_mut_is_the_same_on_one_thread_and_on_a_pool() {
    for threads in [Some(1), Some(2), None] {
      let mut out = vec![0u32; 10];
      let r: Result<Vec<usize>, String> = try_map_chunks_mut(threads, &mut out, 3, |i, c| {
        c.fill(i as u32 + 1);
        Ok(c.len())
      });
      assert_eq!(r.unwrap(), vec![3, 3, 3, 1], "{threads:?}");
      assert_eq!(out, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4], "{threads:?}");
      let e: Result<Vec<()>, usize> =
        try_map_chunks_mut(threads, &mut out, 3, |i, _| if i >= 2 { Err(i) } else { Ok(()) });
      assert!(matches!(e, Err(2) | Err(3)), "{threads:?}");
    }
    let e: Result<Vec<()>, usize> =
      try_map_chunks_mut(
        Some(1),
        &mut [0u8; 9],
        3,
        |i, _| if i >= 1 { Err(i) } else { Ok(()) },
      );
    assert_eq!(e, Err(1), "sequential: the first error");
  }
}
