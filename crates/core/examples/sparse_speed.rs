//! Speed check for the sparse indexes (synthetic data, said so): safe BMP vs the exhaustive
//! scan of the same index, alpha sweep with recall, and bytes per posting.
//! Run: `cargo run --release -p slimdex-core --example sparse_speed -- [docs] [bp]`
use slimdex_core::ids::ExternalId;
use slimdex_core::rng::Rng;
use slimdex_core::sparse::{Reorder, SearchParams, SparseIndex, SparseIndexOptions, SparseVector};
use std::time::Instant;

/// SPLADE-like: ~nnz terms per doc, term id = vocab^u − 1 (Zipf-like), skewed weights.
fn vector(rng: &mut Rng, vocab: usize, nnz: usize) -> SparseVector {
  let len = ((nnz as f64) * (0.5 + rng.next_f64())).round().max(1.0) as usize;
  let mut t: Vec<u32> = Vec::with_capacity(len);
  while t.len() < len {
    let x = ((vocab as f64).powf(rng.next_f64()) - 1.0) as u32;
    if !t.contains(&x) {
      t.push(x);
    }
  }
  let w = t
    .iter()
    .map(|_| {
      let u = rng.next_f64();
      (0.05 + 3.0 * u * rng.next_f64()) as f32
    })
    .collect();
  SparseVector::Indexed(t, w)
}

fn main() {
  let n: usize = std::env::args()
    .nth(1)
    .and_then(|s| s.parse().ok())
    .unwrap_or(200_000);
  let vocab = 30_000;
  let mut rng = Rng::new(1);
  let docs: Vec<(ExternalId, SparseVector)> = (0..n)
    .map(|i| (ExternalId::Int(i as i64), vector(&mut rng, vocab, 120)))
    .collect();
  let queries: Vec<SparseVector> = (0..100).map(|_| vector(&mut rng, vocab, 20)).collect();
  let bp = std::env::args().nth(2).as_deref() == Some("bp");
  let opts = SparseIndexOptions {
    reorder: if bp { Reorder::Bp } else { Reorder::None },
    ..Default::default()
  };
  let t = Instant::now();
  let idx = SparseIndex::build(docs, &opts).unwrap();
  println!(
    "reorder {}: built {n} docs, {} postings in {:.1}s",
    if bp { "bp" } else { "none" },
    idx.n_postings(),
    t.elapsed().as_secs_f64()
  );
  let mem = idx.memory_usage();
  let total: usize = mem.iter().map(|m| m.1).sum();
  let get = |k: &str| mem.iter().find(|m| m.0 == k).map_or(0, |m| m.1);
  println!(
    "memory: {mem:?}\n  {:.2} B/posting total, forward {:.2} B/posting, block-max = {:.1}% of forward",
    total as f64 / idx.n_postings() as f64,
    get("forward") as f64 / idx.n_postings() as f64,
    100.0 * (get("blockMaxDense") + get("blockMaxSparse")) as f64 / get("forward") as f64
  );
  for k in [10usize, 1000] {
    let time = |p: &SearchParams| {
      let t = Instant::now();
      let r: Vec<_> = queries
        .iter()
        .map(|q| idx.search(q, k, p, None).unwrap())
        .collect();
      (t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64, r)
    };
    let (ex_ms, ex) = time(&SearchParams {
      exhaustive: true,
      ..Default::default()
    });
    let (bmp_ms, bmp) = time(&SearchParams::default());
    assert_eq!(ex, bmp, "safe BMP must equal exhaustive");
    println!(
      "k={k}: safe BMP {bmp_ms:.3} ms/q, exhaustive {ex_ms:.3} ms/q, speed-up {:.1}x",
      ex_ms / bmp_ms
    );
    if k == 10 {
      for alpha in [0.9f32, 0.8, 0.7, 0.5] {
        let (ms, r) = time(&SearchParams {
          alpha,
          ..Default::default()
        });
        let (mut hit, mut tot) = (0, 0);
        for (a, e) in r.iter().zip(&ex) {
          tot += e.len();
          hit += a.iter().filter(|h| e.iter().any(|x| x.id == h.id)).count();
        }
        println!(
          "  alpha {alpha}: {ms:.3} ms/q, recall@10 {:.3}",
          hit as f64 / tot as f64
        );
      }
    }
  }
}
