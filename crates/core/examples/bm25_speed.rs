//! BM25 on real text (msmarco-sample): build time, block-max (safe) vs exhaustive latency.
//! Run: `cargo run --release -p slimdex-core --example bm25_speed -- [dataset dir]`
use slimdex_core::ids::ExternalId;
use slimdex_core::sparse::{Bm25Index, Bm25Options, SearchParams};
use std::time::Instant;

fn main() {
  let dir = std::env::args()
    .nth(1)
    .unwrap_or_else(|| "/work/shared/datasets/msmarco-sample".into());
  let corpus = std::fs::read_to_string(format!("{dir}/corpus.jsonl")).expect("corpus.jsonl");
  let docs: Vec<(ExternalId, String)> = corpus
    .lines()
    .map(|l| {
      let v: serde_json::Value = serde_json::from_str(l).expect("json");
      let text = format!(
        "{} {}",
        v["title"].as_str().unwrap_or(""),
        v["text"].as_str().unwrap_or("")
      );
      (ExternalId::Str(v["_id"].as_str().unwrap_or("").to_string()), text)
    })
    .collect();
  let queries: Vec<String> = std::fs::read_to_string(format!("{dir}/queries.jsonl"))
    .expect("queries.jsonl")
    .lines()
    .map(|l| {
      serde_json::from_str::<serde_json::Value>(l).expect("json")["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
    })
    .collect();
  let n = docs.len();
  let t = Instant::now();
  let idx = Bm25Index::build(docs, Bm25Options::default()).unwrap();
  println!(
    "built {n} docs in {:.3}s; memory {:?}",
    t.elapsed().as_secs_f64(),
    idx.memory_usage()
  );
  // BM25_SPEED_REPS / BM25_SPEED_K: longer runs of one k for a profiler.
  let reps: usize = std::env::var("BM25_SPEED_REPS")
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(20);
  let ks: Vec<usize> = match std::env::var("BM25_SPEED_K").ok().and_then(|v| v.parse().ok()) {
    Some(k) => vec![k],
    None => vec![10, 1000],
  };
  for k in ks {
    for exhaustive in [false, true] {
      let p = SearchParams {
        exhaustive,
        ..Default::default()
      };
      let t = Instant::now();
      for _ in 0..reps {
        for q in &queries {
          std::hint::black_box(idx.search(q, k, &p, None).unwrap());
        }
      }
      let per = t.elapsed().as_secs_f64() / (reps * queries.len()) as f64;
      println!(
        "k={k} {}: {:.1} µs/query ({:.0} q/s)",
        if exhaustive {
          "exhaustive"
        } else {
          "block-max safe"
        },
        per * 1e6,
        1.0 / per
      );
    }
  }
}
