//! Quick single-thread speed check of the multi-vector kernels (not a benchmark suite; see
//! benches/multivec.js). Run: `cargo run --release -p slimdex-core --example multivec_speed`.
use slimdex_core::multivec::{DocTokens, FdeEncoder, FdeOptions, FdeRows, PreparedFde, PreparedQuery};
use slimdex_core::rng::Rng;
use slimdex_core::simd::{self, Tier};
use std::time::Instant;

fn main() {
  let (dim, nq, nd, ndocs) = (128usize, 32usize, 80usize, 2000usize);
  let mut rng = Rng::new(1);
  let q: Vec<f32> = (0..nq * dim).map(|_| rng.normal() as f32).collect();
  let docs: Vec<f32> = (0..ndocs * nd * dim).map(|_| rng.normal() as f32).collect();
  #[cfg(target_arch = "x86_64")]
  if std::env::var("AB_ONLY").is_ok() {
    if std::arch::is_x86_feature_detected!("avx2") {
      ab_projection(&docs[..200 * nd * dim], dim, 200, nd);
    }
    return;
  }
  let docs16: Vec<u16> = docs.iter().map(|&x| half::f16::from_f32(x).to_bits()).collect();
  for tier in simd::available() {
    let pq = PreparedQuery::with_tier(tier, &q, dim).unwrap();
    let mut scratch = Vec::new();
    for (name, f16) in [("f32", false), ("f16", true)] {
      let t = Instant::now();
      let mut s = 0f32;
      let reps = if tier == Tier::Scalar { 1 } else { 5 };
      for _ in 0..reps {
        for i in 0..ndocs {
          let d = if f16 {
            DocTokens::F16(&docs16[i * nd * dim..(i + 1) * nd * dim])
          } else {
            DocTokens::F32(&docs[i * nd * dim..(i + 1) * nd * dim])
          };
          s += pq.score(d, false, &mut scratch);
        }
      }
      let el = t.elapsed().as_secs_f64();
      let per = (reps * ndocs) as f64 / el;
      let gflops = per * (2 * nq * nd * dim) as f64 / 1e9;
      println!("chamfer {tier:?} {name}: {per:.0} docs/s ({gflops:.1} GFLOP/s) [{s}]");
    }
  }
  let enc = FdeEncoder::new(FdeOptions::new(dim)).unwrap();
  let offsets: Vec<usize> = (0..=ndocs).map(|i| i * nd).collect();
  let t = Instant::now();
  let f = enc.encode_documents(&docs, &offsets, Some(1)).unwrap();
  println!(
    "fde encode docs (20,5,16), 1 thread: {:.0} docs/s",
    ndocs as f64 / t.elapsed().as_secs_f64()
  );
  // fastembed-like parameters: dense ±1/√16 projection, clustered-size documents.
  let dense = FdeEncoder::new(FdeOptions {
    projection: slimdex_core::multivec::Projection::Dense,
    ..FdeOptions::new(dim)
  })
  .unwrap();
  for _ in 0..3 {
    let t = Instant::now();
    let _ = dense.encode_documents(&docs, &offsets, Some(1)).unwrap();
    println!(
      "fde encode docs (20,5,16) dense, 1 thread: {:.0} docs/s",
      ndocs as f64 / t.elapsed().as_secs_f64()
    );
  }
  let t = Instant::now();
  let fq = enc
    .encode_queries(
      &docs[..nq * dim * 100],
      &(0..=100).map(|i| i * nq).collect::<Vec<_>>(),
      Some(1),
    )
    .unwrap();
  println!(
    "fde encode queries, 1 thread: {:.0} queries/s",
    100.0 / t.elapsed().as_secs_f64()
  );
  let pf = PreparedFde::new(&fq[..enc.output_dim()]);
  println!("query density {:.2}", pf.density());
  for tier in simd::available() {
    let mut out = vec![0f32; ndocs];
    let t = Instant::now();
    for _ in 0..5 {
      slimdex_core::multivec::fde_scores_with(tier, &pf, FdeRows::F32(&f), 0, &mut out);
    }
    println!(
      "fde scan {tier:?} f32: {:.0} docs/s",
      5.0 * ndocs as f64 / t.elapsed().as_secs_f64()
    );
  }
}

/// The pre-blocking hot loop (per token: SimHash z += x_i·row_i, dense out += x_i·row_i),
/// compiled for AVX2 as the encoder's tiers were, for an A/B of the projection step alone.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn old_projections(
  tokens: &[f32],
  d: usize,
  sim: &[f32],
  dense: &[f32],
  z: &mut [f32],
  proj: &mut [f32],
) -> f32 {
  let (rk, rp) = (z.len(), proj.len());
  let mut sink = 0f32;
  for x in tokens.chunks_exact(d) {
    z.fill(0.0);
    proj.fill(0.0);
    for (xi, row) in x.iter().zip(sim.chunks_exact(rk)) {
      for (zj, g) in z.iter_mut().zip(row) {
        *zj += xi * g;
      }
    }
    for (xi, row) in x.iter().zip(dense.chunks_exact(rp)) {
      for (o, a) in proj.iter_mut().zip(row) {
        *o += xi * a;
      }
    }
    sink += z[0] + proj[0];
  }
  sink
}

#[cfg(target_arch = "x86_64")]
#[allow(dead_code)]
pub fn ab_projection(docs: &[f32], dim: usize, ndocs: usize, nd: usize) {
  use std::time::Instant;
  let sim: Vec<f32> = vec![0.5; dim * 100];
  let dense: Vec<f32> = vec![0.25; dim * 320];
  let (mut z, mut proj) = (vec![0f32; 100], vec![0f32; 320]);
  let enc = FdeEncoder::new(FdeOptions {
    projection: slimdex_core::multivec::Projection::Dense,
    ..FdeOptions::new(dim)
  })
  .unwrap();
  let offsets: Vec<usize> = (0..=ndocs).map(|i| i * nd).collect();
  for _ in 0..3 {
    let t = Instant::now();
    // SAFETY: only called when AVX2 is detected (checked in main).
    let s = unsafe { old_projections(docs, dim, &sim, &dense, &mut z, &mut proj) };
    let old = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = enc.encode_documents(docs, &offsets, Some(1)).unwrap();
    let new = t.elapsed().as_secs_f64();
    println!(
      "A/B: old projection loop alone {:.0} docs/s, whole new encoder {:.0} docs/s [{s}]",
      ndocs as f64 / old,
      ndocs as f64 / new
    );
  }
}
