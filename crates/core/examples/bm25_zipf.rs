//! BM25 on seeded synthetic Zipf text (like benches/lib/sparse-bm25.mjs, own generator): build
//! time, memory, block-max (safe) vs exhaustive latency at k = 10 and 1000, and a check that
//! both return the same hits. Run:
//! `cargo run --release -p slimdex-core --example bm25_zipf -- [docs, default 200000]`
//! Environment: `REPS` (timing passes, default 3); `INDEX=file` loads the index from `file`
//! when it exists, else builds and saves it there (so alternating binaries skip the build);
//! `DUMP=dir` writes `dir/corpus.jsonl` and `dir/queries.json` (for timing bm25s on the same
//! texts); `NO_EXHAUSTIVE=1` skips timing the exhaustive scan (it is still checked against).
use slimdex_core::ids::ExternalId;
use slimdex_core::rng::Rng;
use slimdex_core::sparse::{Bm25Index, Bm25Options, SearchParams};
use std::time::Instant;

/// `n` texts of `min..=max` words over `vocab` words, P(rank r) ∝ 1/(r + 1).
fn zipf_texts(n: usize, vocab: usize, min: usize, max: usize, seed: u64) -> Vec<String> {
  let mut cdf = Vec::with_capacity(vocab);
  let mut s = 0f64;
  for r in 0..vocab {
    s += 1.0 / (r as f64 + 1.0);
    cdf.push(s);
  }
  let mut rng = Rng::new(seed);
  (0..n)
    .map(|_| {
      let len = min + rng.below((max - min + 1) as u64) as usize;
      let words: Vec<String> = (0..len)
        .map(|_| {
          let u = rng.next_f64() * s;
          format!("w{}", cdf.partition_point(|&c| c < u).min(vocab - 1))
        })
        .collect();
      words.join(" ")
    })
    .collect()
}

fn main() {
  let n: usize = std::env::args()
    .nth(1)
    .and_then(|a| a.parse().ok())
    .unwrap_or(200_000);
  let cached = std::env::var("INDEX").ok();
  let have_cache = cached
    .as_deref()
    .is_some_and(|p| std::path::Path::new(p).exists());
  // The corpus is only generated when it is needed (generating 1M texts takes longer than loading).
  let texts = if have_cache && std::env::var("DUMP").is_err() {
    Vec::new()
  } else {
    zipf_texts(n, 100_000, 20, 60, 7)
  };
  let queries = zipf_texts(200, 100_000, 2, 5, 8);
  let docs: Vec<(ExternalId, String)> = texts
    .into_iter()
    .enumerate()
    .map(|(i, t)| (ExternalId::Int(i as i64), t))
    .collect();
  if let Ok(dir) = std::env::var("DUMP") {
    use std::io::Write;
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/corpus.jsonl")).unwrap());
    for (_, t) in &docs {
      writeln!(f, "\"{t}\"").unwrap(); // words are `w123`: nothing to escape
    }
    let qs: Vec<String> = queries.iter().map(|q| format!("\"{q}\"")).collect();
    std::fs::write(format!("{dir}/queries.json"), format!("[{}]", qs.join(","))).unwrap();
  }
  let t = Instant::now();
  let idx = match cached.as_deref().map(std::fs::read) {
    Some(Ok(bytes)) => Bm25Index::from_bytes(&bytes).unwrap(),
    _ => {
      let idx = Bm25Index::build(docs, Bm25Options::default()).unwrap();
      if let Some(path) = &cached {
        std::fs::write(path, idx.to_bytes()).unwrap();
      }
      idx
    }
  };
  let mem: usize = idx.memory_usage().iter().map(|e| e.1).sum();
  println!(
    "built/loaded {n} docs in {:.2}s; {:.0} bytes/doc {:?}",
    t.elapsed().as_secs_f64(),
    mem as f64 / n as f64,
    idx.memory_usage()
  );
  let reps: usize = std::env::var("REPS")
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(3);
  // K=n times only that k.
  let ks: Vec<usize> = match std::env::var("K").ok().and_then(|v| v.parse().ok()) {
    Some(k) => vec![k],
    None => vec![10, 1000],
  };
  for k in ks {
    let safe = SearchParams::default();
    let exh = SearchParams {
      exhaustive: true,
      ..Default::default()
    };
    for q in &queries {
      let a = idx.search(q, k, &safe, None).unwrap();
      let b = idx.search(q, k, &exh, None).unwrap();
      assert!(
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.id == y.id && x.score == y.score),
        "safe != exhaustive for {q:?}"
      );
    }
    let skip_exhaustive = std::env::var("NO_EXHAUSTIVE").is_ok();
    for (name, p) in [("block-max safe", safe), ("exhaustive", exh)] {
      if skip_exhaustive && p.exhaustive {
        continue;
      }
      let t = Instant::now();
      // WARM=1 repeats each query back to back (its postings then come from the caches).
      let warm = std::env::var("WARM").is_ok();
      for r in 0..reps {
        for q in &queries {
          for _ in 0..if warm { reps } else { 1 } {
            std::hint::black_box(idx.search(q, k, &p, None).unwrap());
          }
        }
        if warm && r == 0 {
          break;
        }
      }
      let per = t.elapsed().as_secs_f64() / (reps * queries.len()) as f64;
      println!("k={k} {name}: {:.1} µs/query", per * 1e6);
    }
  }
}
