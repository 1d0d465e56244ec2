//! PQ profiling probe (release): training time of the PQ codebooks and IVF lists, and
//! single-query search speed of the 8-bit ADC scan, the 4-bit fast scan and IVF-PQ on seeded
//! clustered Gaussians (the bench's distribution, not its exact data).
//!
//! `cargo run --release -p slimdex-core --example pq_speed -- [n] [what]`, `what` one of
//! `all` (default), `fs` (4-bit only), `train` (training only), `ivf`.
use slimdex_core::dense::{Metric, PqIndex, PqIndexOptions, Rescore};
use slimdex_core::ids::ExternalId;
use slimdex_core::rng::Rng;
use std::time::Instant;

fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
  let mut rng = Rng::new(seed);
  let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.normal() as f32).collect();
  let mut out = Vec::with_capacity(n * dim);
  for _ in 0..n {
    let c = rng.below(clusters as u64) as usize;
    for j in 0..dim {
      out.push(centres[c * dim + j] + 0.6 * rng.normal() as f32);
    }
  }
  out
}

fn opts(dim: usize, nbits: u32, lists: usize) -> PqIndexOptions {
  PqIndexOptions {
    dim,
    m: 48,
    nbits,
    metric: Metric::L2,
    lists,
    nprobe: 1,
    rescore: Rescore::None,
    iters: 25,
    ivf_iters: 10,
    seed: 7,
  }
}

/// The fast-scan kernel alone on random codes: block sums + min test (the pre-filter layout)
/// against the fused filtered scan, at a limit that lets a given share of codes through.
fn kernel(n: usize) {
  use slimdex_core::dense::fastscan::{self, FastScanCodes, QTable, BLOCK};
  let m = 48;
  let mut rng = Rng::new(3);
  let mut fs = FastScanCodes::new(m);
  let mut code = vec![0u8; m];
  for _ in 0..n {
    code.iter_mut().for_each(|c| *c = rng.below(16) as u8);
    fs.push(&code);
  }
  let table: Vec<f32> = (0..m * 16).map(|_| rng.normal() as f32).collect();
  let tq = QTable::new(&table, m);
  let tier = slimdex_core::simd::tier();
  let mut sums = vec![0u16; n.div_ceil(BLOCK) * BLOCK];
  fastscan::scan_with(tier, &tq, &fs, &mut sums);
  let mut sorted = sums[..n].to_vec();
  sorted.sort_unstable();
  for share in [1e-5, 1e-3] {
    let limit = sorted[(n as f64 * share) as usize];
    let reps = 20;
    let t = Instant::now();
    let mut hits = 0usize;
    let mut out = [0u16; BLOCK];
    for _ in 0..reps {
      for b in 0..fastscan::blocks(&fs) {
        fastscan::block_with(tier, &tq, &fs, b, &mut out);
        if out.iter().fold(u16::MAX, |a, &x| a.min(x)) > limit {
          continue;
        }
        hits += out.iter().filter(|&&s| s <= limit).count();
      }
    }
    let old = t.elapsed().as_secs_f64() / reps as f64;
    let t = Instant::now();
    let mut hits2 = 0usize;
    for _ in 0..reps {
      fastscan::scan_filtered_with(tier, &tq, &fs, limit, |_, mask, _| {
        hits2 += mask.count_ones() as usize;
        limit
      });
    }
    let new = t.elapsed().as_secs_f64() / reps as f64;
    println!(
      "kernel n={n} share {share}: block+min {:.2} ms, filtered {:.2} ms ({:.2}×), hits {} / {}, {:.1} GB/s",
      old * 1e3,
      new * 1e3,
      old / new,
      hits / reps,
      hits2 / reps,
      fs.len() as f64 * 24.0 / new / 1e9
    );
  }
}

fn main() {
  let args: Vec<String> = std::env::args().collect();
  let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
  let what = args.get(2).map(String::as_str).unwrap_or("all");
  if what == "kernel" {
    kernel(n);
    return;
  }
  let dim = 384;
  let nq = 50;
  let t = Instant::now();
  let data = clustered(n + nq, dim, 1000, 31);
  let (data, queries) = data.split_at(n * dim);
  let train = &data[..n.min(100_000) * dim];
  println!(
    "data {n} × {dim} in {:.1}s, tier {:?}",
    t.elapsed().as_secs_f64(),
    slimdex_core::simd::tier()
  );
  let ids = || (0..n as i64).map(ExternalId::Int).collect::<Vec<_>>();
  let run = |name: &str, o: PqIndexOptions, nprobes: &[usize]| {
    let t = Instant::now();
    let mut index = PqIndex::train(train, o).expect("train");
    println!("{name}: train {:.2}s", t.elapsed().as_secs_f64());
    if what == "train" {
      return;
    }
    let t = Instant::now();
    index.add(ids(), data).expect("add");
    println!("{name}: add {:.2}s", t.elapsed().as_secs_f64());
    for &np in nprobes {
      let mut best = f64::INFINITY;
      let mut check = 0u64;
      for _ in 0..5 {
        let t = Instant::now();
        for q in queries.chunks_exact(dim) {
          let hits = index.search(q, 10, Some(np), None).expect("search");
          check = check.wrapping_add(hits[0].id as u64);
        }
        best = best.min(t.elapsed().as_secs_f64());
      }
      println!(
        "{name} nprobe {np}: {:.0} q/s (best of 5; check {check})",
        nq as f64 / best
      );
    }
  };
  if what == "all" || what == "fs" || what == "train" {
    run("PQ 4-bit fast scan", opts(dim, 4, 0), &[1]);
  }
  if what == "all" || what == "train" || what == "pq8" {
    run("PQ 8-bit", opts(dim, 8, 0), &[1]);
  }
  if what == "all" || what == "ivf" || what == "train" {
    let lists = ((n as f64).sqrt().round() as usize).max(16);
    run(&format!("IVF{lists} PQ 8-bit"), opts(dim, 8, lists), &[1, 4]);
  }
}
