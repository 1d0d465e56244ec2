//! Profiling aid for PQ training (not a benchmark): times the k-means assignment and a full
//! PQ training, and with `recall` compares the 8-bit ADC recall@10 of k-means++ and random
//! initialisation on clustered synthetic data (the distribution of benches/dense.mjs).
//! `cargo run --release -p slimdex-core --example pq_train_profile -- [ntrain] [m] [nbits] [recall]`
use slimdex_core::dense::kmeans::{self, Assigner, Init, KMeansParams};
use slimdex_core::dense::pq::{adc_scan8, Metric};
use slimdex_core::dense::{PqParams, ProductQuantizer};
use slimdex_core::rng::{mix64, Rng};
use std::time::Instant;

fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
  let mut rng = Rng::new(seed);
  let centres: Vec<f32> = (0..1000 * dim).map(|_| rng.normal() as f32).collect();
  (0..n)
    .flat_map(|_| {
      let c = rng.below(1000) as usize;
      (0..dim)
        .map(|j| centres[c * dim + j] + 0.6 * rng.normal() as f32)
        .collect::<Vec<_>>()
    })
    .collect()
}

fn top10(scores: &[f32]) -> Vec<usize> {
  let mut idx: Vec<usize> = (0..scores.len()).collect();
  idx.select_nth_unstable_by(10, |&a, &b| scores[a].total_cmp(&scores[b]));
  idx.truncate(10);
  idx
}

fn main() {
  let args: Vec<String> = std::env::args().skip(1).collect();
  let num = |i: usize, d: usize| args.get(i).map_or(d, |a| a.parse().expect("number"));
  let (ntrain, m, nbits) = (num(0, 20_000), num(1, 48), num(2, 8) as u32);
  let dim = 384;
  let recall = args.get(3).is_some_and(|a| a == "recall");
  let n = if recall { 200_000 } else { ntrain };
  let data = clustered(n + 100, dim, 31);
  let (base, queries) = data.split_at(n * dim);
  let train = &base[..ntrain * dim];
  let dsub = dim / m;
  let k = 1usize << nbits;
  let sub: Vec<f32> = train
    .chunks_exact(dim)
    .flat_map(|r| r[..dsub].iter().copied())
    .collect();
  let (mut l, mut d) = (vec![0u32; ntrain], vec![0f32; ntrain]);
  let t = Instant::now();
  let a = Assigner::new(&sub[..k * dsub], dsub);
  for _ in 0..25 {
    a.assign(&sub, &mut l, &mut d);
  }
  println!("assign ×25 (one subspace): {:.3} s", t.elapsed().as_secs_f64());
  let t = Instant::now();
  let pq = ProductQuantizer::train(
    train,
    &PqParams {
      dim,
      m,
      nbits,
      iters: 25,
      seed: 1,
    },
  )
  .unwrap();
  println!(
    "PQ train m={m} nbits={nbits} n={ntrain}: {:.3} s",
    t.elapsed().as_secs_f64()
  );
  if !recall || nbits != 8 {
    return;
  }
  let truth: Vec<Vec<usize>> = queries
    .chunks_exact(dim)
    .map(|q| {
      let s: Vec<f32> = base
        .chunks_exact(dim)
        .map(|v| v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum())
        .collect();
      top10(&s)
    })
    .collect();
  let eval = |pq: &ProductQuantizer| {
    let codes = pq.encode(base).unwrap();
    let mut table = vec![0f32; m * 256];
    let mut out = vec![0f32; n];
    let mut hit = 0;
    for (q, t) in queries.chunks_exact(dim).zip(&truth) {
      pq.table_into(q, Metric::L2, &mut table);
      adc_scan8(&table, m, &codes, &mut out);
      hit += top10(&out).iter().filter(|i| t.contains(i)).count();
    }
    hit as f64 / (10 * truth.len()) as f64
  };
  println!("library default init: recall@10 {:.3}", eval(&pq));
  for init in [Init::PlusPlus, Init::Random] {
    for seed in 0..3u64 {
      let mut books = Vec::new();
      let mut obj = 0.0;
      for s in 0..m {
        let sub: Vec<f32> = train
          .chunks_exact(dim)
          .flat_map(|r| r[s * dsub..(s + 1) * dsub].iter().copied())
          .collect();
        let p = KMeansParams {
          init,
          max_points_per_centroid: 0,
          ..KMeansParams::new(256, mix64(seed * 100 + s as u64))
        };
        let r = kmeans::train(&sub, dsub, &p).unwrap();
        obj += r.objective.last().unwrap();
        books.extend(r.centroids);
      }
      let pq = ProductQuantizer::from_codebooks(dim, m, 8, books).unwrap();
      println!(
        "{init:?} seed {seed}: objective {obj:.0}, recall@10 {:.3}",
        eval(&pq)
      );
    }
  }
}
