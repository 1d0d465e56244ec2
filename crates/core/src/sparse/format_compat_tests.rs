//! Files written before BM25 moved to term-major postings still load and search exactly.
//!
//! `testdata/bm25_block_forward_v148ec46.sdx` was written by commit 148ec46 (BM25 stored as a
//! block-forward index) with a throw-away example that ran the steps of `fixture_steps` below on
//! `fixture_corpus`: build 200 docs (block size 8), add 100 more (a second segment), delete two.
//! The same steps on today's code (term-major postings) must give bit-identical hits.

use super::blocks::SearchParams;
use super::bm25::{Bm25Index, Bm25Options};
use crate::ids::ExternalId;
use crate::topk::Scored;

const OLD_BLOCK_FORWARD: &[u8] = include_bytes!("testdata/bm25_block_forward_v148ec46.sdx");

/// Seeded synthetic texts over a 24-word alphabet, skewed to low indexes (many ties).
fn fixture_corpus(n: usize, seed: u64) -> Vec<String> {
  const WORDS: [&str; 24] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
    "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
    "whiskey", "xray",
  ];
  let mut s = seed;
  let mut next = || {
    s = s
      .wrapping_mul(6364136223846793005)
      .wrapping_add(1442695040888963407);
    (s >> 33) as usize
  };
  (0..n)
    .map(|_| {
      let len = 3 + next() % 12;
      (0..len)
        .map(|_| WORDS[(next() % 24).min(next() % 24)])
        .collect::<Vec<_>>()
        .join(" ")
    })
    .collect()
}

fn fixture_steps() -> Bm25Index {
  let texts = fixture_corpus(300, 42);
  let docs = |r: std::ops::Range<usize>| {
    r.map(|i| (ExternalId::Int(i as i64), texts[i].clone()))
      .collect::<Vec<_>>()
  };
  let opts = Bm25Options {
    block_size: 8,
    ..Default::default()
  };
  let mut index = Bm25Index::build(docs(0..200), opts).unwrap();
  index.add(docs(200..300)).unwrap();
  index.delete(&[ExternalId::Int(3), ExternalId::Int(250)]);
  index
}

fn bits(hits: &[Scored<f32>]) -> Vec<(u32, u32)> {
  hits.iter().map(|h| (h.id, h.score.to_bits())).collect()
}

#[test]
fn a_block_forward_bm25_file_loads_and_searches_like_a_fresh_term_major_build() {
  let old = Bm25Index::from_bytes(OLD_BLOCK_FORWARD).expect("the pre-term-major file loads");
  let fresh = fixture_steps();
  let queries = [
    "alpha bravo",
    "charlie",
    "xray whiskey victor",
    "delta echo foxtrot golf",
    "alpha",
    "zulu",
    "mike mike lima",
  ];
  let exhaustive = SearchParams {
    exhaustive: true,
    ..SearchParams::default()
  };
  let mut matched = 0;
  for q in queries {
    for k in [1, 5, 50, 400] {
      for params in [SearchParams::default(), exhaustive] {
        let a = old.search(q, k, &params, None).unwrap();
        let b = fresh.search(q, k, &params, None).unwrap();
        assert_eq!(
          bits(&a),
          bits(&b),
          "query {q:?}, k {k}, exhaustive {}",
          params.exhaustive
        );
        matched += a.len();
      }
    }
  }
  // Not vacuous: the queries hit documents (only "zulu" is out of the vocabulary).
  assert!(matched > 1000, "only {matched} hits compared");
  // The file's own bytes survive a load/save round trip of the old layout.
  let again = Bm25Index::from_bytes(&old.to_bytes()).unwrap();
  assert_eq!(
    bits(
      &again
        .search("alpha bravo", 50, &SearchParams::default(), None)
        .unwrap()
    ),
    bits(
      &old
        .search("alpha bravo", 50, &SearchParams::default(), None)
        .unwrap()
    )
  );
}
