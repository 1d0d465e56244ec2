//! Where `MinHasher` signing time goes, single thread (process CPU time): normalisation, shingling, hashing and
//! the sketch, on texts read from a JSON-lines file (one JSON string per line).
//! Run: `cargo run --release -p slimdex-core --example minhash_speed -- texts.jsonl [reps]`
use slimdex_core::minhash::{for_each_shingle, normalize, MinHasher, MinHasherOptions, Scheme};
use std::hint::black_box;

/// CPU time of this process in seconds (Linux schedstat of every thread): the machine is shared, so wall time
/// would mostly measure the other jobs.
fn cpu_seconds() -> f64 {
  let mut ns = 0.0;
  for task in std::fs::read_dir("/proc/self/task")
    .into_iter()
    .flatten()
    .flatten()
  {
    let s = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
    ns += s
      .split_whitespace()
      .next()
      .and_then(|x| x.parse::<f64>().ok())
      .unwrap_or(0.0);
  }
  ns / 1e9
}

fn best<F: FnMut() -> u64>(reps: usize, mut f: F) -> (f64, u64) {
  let mut best = f64::INFINITY;
  let mut out = 0;
  for _ in 0..reps {
    let t = cpu_seconds();
    out = black_box(f());
    best = best.min(cpu_seconds() - t);
  }
  (best, out)
}

fn main() {
  let path = std::env::args()
    .nth(1)
    .expect("usage: minhash_speed texts.jsonl [reps]");
  let reps: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(3);
  // Optional third argument: run only the phases whose name contains it (for perf record).
  let only = std::env::args().nth(3).unwrap_or_default();
  let on = |name: &str| name.contains(only.as_str());
  let texts: Vec<String> = std::fs::read_to_string(&path)
    .unwrap()
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
  let n = texts.len();
  let bytes: usize = texts.iter().map(|t| t.len()).sum();
  let opts = MinHasherOptions::default();
  let sh = opts.shingle;
  let mut shingles = 0u64;
  for t in &texts {
    shingles += for_each_shingle(t, &sh, |_| {}) as u64;
  }
  println!(
    "{n} texts, {:.1} MB, {shingles} word 5-gram shingles ({:.0}/doc)",
    bytes as f64 / 1e6,
    shingles as f64 / n as f64
  );
  let report = |name: &str, s: f64| {
    println!(
      "{name:<34} {:>8.3} s  {:>9.0} docs/s  {:>7.1} M shingles/s  {:>6.0} MB/s",
      s,
      n as f64 / s,
      shingles as f64 / s / 1e6,
      bytes as f64 / s / 1e6
    )
  };
  if on("normalize (String)") {
    let (s, _) = best(reps, || texts.iter().map(|t| normalize(t).len() as u64).sum());
    report("normalize (String)", s);
  }
  if on("normalize + shingle") {
    let (s, _) = best(reps, || {
      texts
        .iter()
        .map(|t| {
          for_each_shingle(t, &sh, |b| {
            black_box(b);
          }) as u64
        })
        .sum()
    });
    report("normalize + shingle", s);
  }
  if on("normalize + shingle + xxh3") {
    let (s, _) = best(reps, || {
      let mut acc = 0u64;
      for t in &texts {
        for_each_shingle(t, &sh, |b| acc ^= xxhash_rust::xxh3::xxh3_64_with_seed(b, 7));
      }
      acc
    });
    report("normalize + shingle + xxh3", s);
  }
  for scheme in [Scheme::Oph, Scheme::Classic, Scheme::Datasketch] {
    let name = format!("sign_texts {}", scheme.name());
    if !on(&name) {
      continue;
    }
    let h = MinHasher::new(MinHasherOptions { scheme, ..opts }).unwrap();
    let r = if scheme == Scheme::Oph { reps } else { 1 };
    let (s, _) = best(r, || h.sign_texts(&texts, Some(1)).unwrap()[0] as u64);
    report(&name, s);
  }
  if !on("sign_token_sets oph (pre-split)") {
    return;
  }
  let h = MinHasher::new(opts).unwrap();
  let sets: Vec<Vec<Vec<u8>>> = texts
    .iter()
    .map(|t| {
      let mut v = Vec::new();
      for_each_shingle(t, &sh, |b| v.push(b.to_vec()));
      v
    })
    .collect();
  let (s, _) = best(reps, || h.sign_token_sets(&sets, Some(1)).unwrap()[0] as u64);
  report("sign_token_sets oph (pre-split)", s);
  // The packed (Arrow-style) and joined (U+001F) forms of the same shingles, plus the cost of
  // hashing them alone: the gap between the two is the per-document sketch work.
  let (mut data, mut joined) = (Vec::new(), Vec::new());
  let (mut tok, mut doc, mut joff, mut counts) = (vec![0u32], vec![0u32], vec![0u32], Vec::new());
  for set in &sets {
    for (i, t) in set.iter().enumerate() {
      data.extend_from_slice(t);
      tok.push(data.len() as u32);
      if i > 0 {
        joined.push(0x1f);
      }
      joined.extend_from_slice(t);
    }
    doc.push(tok.len() as u32 - 1);
    joff.push(joined.len() as u32);
    counts.push(set.len() as u32);
  }
  let (s, _) = best(reps, || {
    let mut acc = 0u64;
    for w in tok.windows(2) {
      acc ^= xxhash_rust::xxh3::xxh3_64_with_seed(&data[w[0] as usize..w[1] as usize], 7);
    }
    acc
  });
  report("packed: xxh3 only", s);
  let (s, _) = best(reps, || {
    h.sign_token_offsets(&data, &tok, &doc, Some(1)).unwrap()[0] as u64
  });
  report("sign_token_offsets oph (packed)", s);
  let (s, _) = best(reps, || {
    h.sign_joined_tokens(&joined, &joff, &counts, Some(1))
      .unwrap()
      .signatures[0] as u64
  });
  report("sign_joined_tokens oph (joined)", s);
}
