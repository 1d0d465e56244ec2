//! Incremental updates: after `add`/`delete` the results equal a reference computed from the
//! documented semantics (learned sparse: a fresh build over the live documents with the same
//! scale; BM25: global N/df including deleted documents, avgdl frozen per segment), and after
//! `compact` they equal a fresh build exactly (ids, scores, tie order).

use super::blocks::BlockIndex;
use super::bm25::{idf, tfc, Bm25Index, Bm25Method, Bm25Options};
use super::index::{Layout, Quantization, Reorder, SparseIndex, SparseIndexOptions, SparseVector};
use super::tests::{brute, load_msmarco, random_docs, random_query};
use super::tokenize::Tokenizer;
use super::SearchParams;
use crate::ids::ExternalId;
use crate::rng::Rng;
use crate::topk::Scored;
use crate::Error;
use std::collections::{HashMap, HashSet};

fn ext(idx_ids: &crate::ids::IdMap, hits: &[Scored<f32>]) -> Vec<(ExternalId, f32)> {
  hits.iter().map(|h| (idx_ids.get(h.id), h.score)).collect()
}

const EXACT: SearchParams = SearchParams {
  alpha: 1.0,
  beta: 1.0,
  exhaustive: false,
};
const SCAN: SearchParams = SearchParams {
  alpha: 1.0,
  beta: 1.0,
  exhaustive: true,
};

#[test]
fn sparse_segments_equal_a_fresh_build_of_the_live_documents() {
  let n = 1200;
  let docs = random_docs(n, 300, 10, 21);
  let mut rng = Rng::new(22);
  let queries: Vec<SparseVector> = (0..10).map(|_| random_query(&mut rng, 300, 6)).collect();
  // The segmented index in either layout; the fresh build it must equal is always
  // block-forward, so the term-major one is checked against the other layout too.
  for &(bs, reorder, layout) in &[
    (8usize, Reorder::None, Layout::Terms),
    (32, Reorder::Bp, Layout::Blocks),
    (32, Reorder::Bp, Layout::Terms),
    (128, Reorder::None, Layout::Blocks),
  ] {
    let q0 = Quantization {
      scale: None,
      clamp: true,
    };
    let mut idx = SparseIndex::build(
      docs[..500].to_vec(),
      &SparseIndexOptions {
        block_size: bs,
        quantization: q0,
        reorder,
        layout,
      },
    )
    .unwrap();
    idx.add(docs[500..800].to_vec()).unwrap();
    idx.add(docs[800..1000].to_vec()).unwrap();
    idx.add(docs[1000..].to_vec()).unwrap();
    assert_eq!(idx.segments().count(), 4);
    let term_major = layout == Layout::Terms;
    assert!(idx
      .segments()
      .list()
      .iter()
      .all(|s| s.blocks().is_term_major() == term_major));
    // Delete every 7th document, and one from each segment boundary.
    let dead: HashSet<usize> = (0..n)
      .filter(|i| i % 7 == 3)
      .chain([0, 500, 999, n - 1])
      .collect();
    let dead_ids: Vec<ExternalId> = dead.iter().map(|&i| docs[i].0.clone()).collect();
    assert_eq!(idx.delete(&dead_ids), dead.len());
    assert_eq!(idx.delete(&dead_ids), 0, "deleting again deletes nothing");
    assert_eq!(
      idx.delete(&[ExternalId::Int(1 << 40), ExternalId::Str("x".into())]),
      0,
      "unknown ids are ignored"
    );
    assert_eq!(idx.len(), n - dead.len());
    let live: Vec<(ExternalId, SparseVector)> = (0..n)
      .filter(|i| !dead.contains(i))
      .map(|i| docs[i].clone())
      .collect();
    let fresh_opts = SparseIndexOptions {
      block_size: bs,
      quantization: Quantization {
        scale: Some(idx.scale()),
        clamp: true,
      },
      reorder,
      layout: Layout::Blocks,
    };
    let fresh = SparseIndex::build(live.clone(), &fresh_opts).unwrap();
    let allowed: Vec<ExternalId> = (0..n).filter(|i| i % 3 == 0).map(|i| docs[i].0.clone()).collect();
    let check = |idx: &SparseIndex, what: &str| {
      let f_idx = idx.filter_bitset(&allowed);
      let f_fresh = fresh.filter_bitset(&allowed);
      for q in &queries {
        for &k in &[1usize, 10, 100, n + 5] {
          let want = ext(fresh.ids(), &fresh.search(q, k, &EXACT, None).unwrap());
          assert_eq!(
            ext(idx.ids(), &idx.search(q, k, &EXACT, None).unwrap()),
            want,
            "{what} {layout:?} bs {bs} k {k}"
          );
          assert_eq!(
            ext(idx.ids(), &idx.search(q, k, &SCAN, None).unwrap()),
            want,
            "{what} exhaustive bs {bs} k {k}"
          );
          let wantf = ext(fresh.ids(), &fresh.search(q, k, &EXACT, Some(&f_fresh)).unwrap());
          assert_eq!(
            ext(idx.ids(), &idx.search(q, k, &EXACT, Some(&f_idx)).unwrap()),
            wantf,
            "{what} filter bs {bs} k {k}"
          );
        }
      }
      let batch = idx.search_batch(&queries, 10, &EXACT, None, Some(2)).unwrap();
      for (q, b) in queries.iter().zip(&batch) {
        assert_eq!(
          ext(idx.ids(), b),
          ext(fresh.ids(), &fresh.search(q, 10, &EXACT, None).unwrap())
        );
      }
    };
    check(&idx, "segments");
    let back = SparseIndex::from_bytes(&idx.to_bytes()).unwrap();
    assert_eq!((back.segments().count(), back.n_deleted()), (4, dead.len()));
    check(&back, "segments after load");
    assert_eq!(back.layout(), layout);
    let mut compacted = back.clone();
    compacted.compact().unwrap();
    assert_eq!(compacted.layout(), layout);
    assert!(compacted.segments().list()[0].blocks().is_term_major() == term_major);
    assert_eq!(
      (
        compacted.segments().count(),
        compacted.n_deleted(),
        compacted.len()
      ),
      (1, 0, live.len())
    );
    assert_eq!(compacted.n_postings(), fresh.n_postings());
    check(&compacted, "compacted");
    // A deleted id may be added again (it is a new document, last in insertion order).
    let mut again = back;
    let reused = docs[3].clone();
    again.add(vec![reused.clone()]).unwrap();
    assert!(matches!(again.add(vec![reused]), Err(Error::DuplicateId(_))));
    assert!(
      matches!(again.add(vec![docs[1].clone()]), Err(Error::DuplicateId(_))),
      "a live id is a duplicate"
    );
  }
}

#[test]
fn sparse_add_rejects_bad_batches_and_leaves_the_index_unchanged() {
  let named = |id: i64, t: &str, w: f32| (ExternalId::Int(id), SparseVector::Named(vec![(t.into(), w)]));
  let mut idx = SparseIndex::build(
    vec![named(0, "a", 2.0), named(1, "b", 1.0)],
    &SparseIndexOptions::default(),
  )
  .unwrap();
  let before = idx.to_bytes();
  let bad: Vec<Vec<(ExternalId, SparseVector)>> = vec![
    vec![named(5, "c", 1.0), named(5, "d", 1.0)], // repeated id in the batch
    vec![named(1, "c", 1.0)],                     // a live id
    vec![(
      ExternalId::Str("s".into()),
      SparseVector::Named(vec![("c".into(), 1.0)]),
    )], // other id type
    vec![named(6, "c", 100.0)],                   // above 255 · scale, no clamp
    vec![named(7, "c", f32::NAN)],
    vec![(ExternalId::Int(8), SparseVector::Indexed(vec![1], vec![1.0]))], // other vector form
    vec![(
      ExternalId::Int(9),
      SparseVector::Named(vec![("c".into(), 1.0), ("c".into(), 1.0)]),
    )],
  ];
  for b in bad {
    assert!(idx.add(b).is_err());
    assert_eq!(
      idx.to_bytes(),
      before,
      "a rejected add leaves the index unchanged"
    );
  }
  idx.add(vec![named(2, "c", 1.0)]).unwrap();
  let h = idx
    .search(&SparseVector::Named(vec![("c".into(), 1.0)]), 5, &EXACT, None)
    .unwrap();
  assert_eq!(
    ext(idx.ids(), &h).iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
    vec![ExternalId::Int(2)]
  );
  // An index built empty takes its form from the first add.
  let mut empty = SparseIndex::build(vec![], &SparseIndexOptions::default()).unwrap();
  empty
    .add(vec![(
      ExternalId::Int(0),
      SparseVector::Indexed(vec![4], vec![0.5]),
    )])
    .unwrap();
  assert_eq!(
    empty
      .search(&SparseVector::Indexed(vec![4], vec![1.0]), 1, &EXACT, None)
      .unwrap()
      .len(),
    1
  );
}

#[test]
fn too_many_segments_compact_automatically() {
  let mut idx = SparseIndex::build(
    random_docs(10, 50, 5, 1),
    &SparseIndexOptions {
      quantization: Quantization {
        scale: Some(0.05),
        clamp: true,
      },
      ..Default::default()
    },
  )
  .unwrap();
  let more = random_docs(400, 50, 5, 2);
  for (i, d) in more.into_iter().enumerate() {
    idx.add(vec![(ExternalId::Int(10 + i as i64), d.1)]).unwrap();
    assert!(idx.segments().count() <= super::MAX_SEGMENTS);
  }
  assert_eq!(idx.len(), 410);
  // The largest segment count round-trips (every segment gets its own section tags).
  let mut full = SparseIndex::build(
    random_docs(5, 50, 5, 3),
    &SparseIndexOptions {
      quantization: Quantization {
        scale: Some(0.05),
        clamp: true,
      },
      ..Default::default()
    },
  )
  .unwrap();
  for (i, d) in random_docs(super::MAX_SEGMENTS - 1, 50, 5, 4)
    .into_iter()
    .enumerate()
  {
    full.add(vec![(ExternalId::Int(5 + i as i64), d.1)]).unwrap();
  }
  assert_eq!(full.segments().count(), super::MAX_SEGMENTS);
  let back = SparseIndex::from_bytes(&full.to_bytes()).unwrap();
  assert_eq!(back.segments().count(), super::MAX_SEGMENTS);
  let mut rng = Rng::new(9);
  for _ in 0..5 {
    let q = random_query(&mut rng, 50, 4);
    assert_eq!(
      back.search(&q, 30, &EXACT, None).unwrap(),
      full.search(&q, 30, &EXACT, None).unwrap()
    );
  }
}

/// The documented BM25 statistics between compactions, in f64 from the token lists:
/// N and df over every document ever added (deleted included), avgdl per add batch.
fn reference_bm25(
  batches: &[Vec<Vec<String>>],
  dead: &HashSet<usize>,
  o: &Bm25Options,
  query: &[String],
) -> Vec<(usize, f64)> {
  let all: Vec<(&Vec<String>, f64)> = batches
    .iter()
    .flat_map(|b| {
      let avg = b.iter().map(|d| d.len()).sum::<usize>() as f64 / b.len() as f64;
      b.iter().map(move |d| (d, avg))
    })
    .collect();
  let n = all.len() as f64;
  let mut df: HashMap<&str, f64> = HashMap::new();
  for (d, _) in &all {
    let u: HashSet<&str> = d.iter().map(|s| s.as_str()).collect();
    for t in u {
      *df.entry(t).or_default() += 1.0;
    }
  }
  let q: Vec<&String> = query.iter().filter(|t| df.contains_key(t.as_str())).collect();
  let mut out = Vec::new();
  for (i, (d, avg)) in all.iter().enumerate() {
    if dead.contains(&i) || !q.iter().any(|t| d.contains(t)) {
      continue;
    }
    let l = d.len() as f64;
    let s: f64 = q
      .iter()
      .map(|t| {
        let tf = d.iter().filter(|x| x == t).count() as f64;
        idf(o.method, n, df[t.as_str()]) * tfc(o.method, tf, l, *avg, o.k1, o.b, o.delta)
      })
      .sum();
    out.push((i, s));
  }
  out
}

#[test]
fn bm25_segments_follow_the_documented_statistics_and_compact_exactly() {
  let Some(data) = load_msmarco() else { return };
  let n = data.texts.len();
  let cuts = [0, n / 2, 3 * n / 4, n];
  let docs: Vec<(ExternalId, String)> = data
    .ids
    .iter()
    .cloned()
    .map(ExternalId::Str)
    .zip(data.texts.iter().cloned())
    .collect();
  for method in [Bm25Method::Lucene, Bm25Method::Bm25l, Bm25Method::Bm25Plus] {
    let o = Bm25Options {
      method,
      ..Default::default()
    };
    let tok = Tokenizer::new(o.tokenizer.clone()).unwrap();
    let mut idx = Bm25Index::build(docs[..cuts[1]].to_vec(), o.clone()).unwrap();
    idx.add(docs[cuts[1]..cuts[2]].to_vec()).unwrap();
    idx.add(docs[cuts[2]..].to_vec()).unwrap();
    let dead: HashSet<usize> = (0..n).filter(|i| i % 5 == 1).collect();
    let dead_ids: Vec<ExternalId> = dead.iter().map(|&i| docs[i].0.clone()).collect();
    assert_eq!(idx.delete(&dead_ids), dead.len());
    assert_eq!(
      (idx.segments().count(), idx.len(), idx.n_stats()),
      (3, n - dead.len(), n)
    );
    let batches: Vec<Vec<Vec<String>>> = cuts
      .windows(2)
      .map(|w| data.texts[w[0]..w[1]].iter().map(|t| tok.tokenize(t)).collect())
      .collect();
    for seg_avg in idx.segment_avgdl().iter().zip(&batches) {
      let want = seg_avg.1.iter().map(|d| d.len()).sum::<usize>() as f64 / seg_avg.1.len() as f64;
      assert!((seg_avg.0 - want).abs() < 1e-9);
    }
    let loaded = Bm25Index::from_bytes(&idx.to_bytes()).unwrap();
    for (qi, (_, qtext)) in data.queries.iter().enumerate().take(25) {
      let mut want = reference_bm25(&batches, &dead, &o, &tok.tokenize(qtext));
      want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
      for &k in &[10usize, 1000] {
        let got = idx.search(qtext, k, &EXACT, None).unwrap();
        assert_eq!(
          got,
          idx.search(qtext, k, &SCAN, None).unwrap(),
          "safe = exhaustive across segments"
        );
        assert_eq!(
          got,
          loaded.search(qtext, k, &EXACT, None).unwrap(),
          "save/load keeps segments and tombstones"
        );
        assert_eq!(got.len(), want.len().min(k), "query {qi}: result count");
        let by_pos: HashMap<usize, f64> = want.iter().copied().collect();
        let top = want.first().map_or(1.0, |w| w.1.abs().max(1.0));
        for h in &got {
          assert!(
            !dead.contains(&(h.id as usize)),
            "a deleted document was returned"
          );
          let r = by_pos[&(h.id as usize)];
          assert!(
            (h.score as f64 - r).abs() <= 1e-5 * top,
            "query {qi}: score {} vs reference {r}",
            h.score
          );
        }
        // Same ranking up to float ties: the k-th score agrees with the reference's.
        if let (Some(g), Some(w)) = (got.last(), want.get(got.len() - 1)) {
          assert!((g.score as f64 - w.1).abs() <= 1e-5 * top);
        }
      }
    }
    // After compact: exactly a fresh build over the live documents.
    let live: Vec<(ExternalId, String)> = (0..n)
      .filter(|i| !dead.contains(i))
      .map(|i| docs[i].clone())
      .collect();
    let fresh = Bm25Index::build(live, o.clone()).unwrap();
    let mut c = loaded.clone();
    c.compact().unwrap();
    assert_eq!(
      c.to_bytes(),
      fresh.to_bytes(),
      "{method:?}: compact() writes the same bytes as a fresh build"
    );
    let allowed: Vec<ExternalId> = (0..n).filter(|i| i % 2 == 0).map(|i| docs[i].0.clone()).collect();
    for (_, qtext) in data.queries.iter().take(25) {
      for &k in &[1usize, 10, 1000] {
        assert_eq!(
          ext(c.ids(), &c.search(qtext, k, &EXACT, None).unwrap()),
          ext(fresh.ids(), &fresh.search(qtext, k, &EXACT, None).unwrap())
        );
        let (fc, ff) = (c.filter_bitset(&allowed), fresh.filter_bitset(&allowed));
        assert_eq!(
          ext(c.ids(), &c.search(qtext, k, &EXACT, Some(&fc)).unwrap()),
          ext(fresh.ids(), &fresh.search(qtext, k, &EXACT, Some(&ff)).unwrap())
        );
      }
    }
  }
}

#[test]
fn bm25_add_rejects_bad_input_and_old_files_fail_clearly() {
  let d = |id: &str, t: &str| (ExternalId::Str(id.into()), t.to_string());
  let mut idx = Bm25Index::build(
    vec![d("a", "the cat sat"), d("b", "dogs bark loudly")],
    Bm25Options::default(),
  )
  .unwrap();
  let before = idx.to_bytes();
  assert!(matches!(idx.add(vec![d("a", "cat")]), Err(Error::DuplicateId(_))));
  assert!(matches!(
    idx.add(vec![d("c", "cat"), d("c", "dog")]),
    Err(Error::DuplicateId(_))
  ));
  assert!(matches!(
    idx.add(vec![(ExternalId::Int(3), "cat".into())]),
    Err(Error::InvalidArg(_))
  ));
  assert_eq!(idx.to_bytes(), before);
  // delete + add replaces a document; the reused id is new in insertion order.
  assert_eq!(
    idx.delete(&[ExternalId::Str("a".into()), ExternalId::Str("zz".into())]),
    1
  );
  idx.add(vec![d("a", "a cat and a cat")]).unwrap();
  let h = idx.search("cat", 5, &EXACT, None).unwrap();
  assert_eq!(h.len(), 1);
  assert_eq!(idx.external_id(h[0].id), ExternalId::Str("a".into()));
  assert_eq!(idx.n_stats(), 3, "the deleted document still counts in N");
  // Empty adds and empty texts are fine.
  idx.add(vec![]).unwrap();
  idx.add(vec![d("e", "")]).unwrap();
  // A file of the single-segment layout (no SEGS section) fails with a clear message.
  let c = crate::io::Container::parse(&before, crate::io::Kind::Bm25Index).unwrap();
  let mut w = crate::io::ContainerWriter::new(crate::io::Kind::Bm25Index, c.params().to_vec());
  for (tag, _) in c.section_sizes() {
    let t: [u8; 4] = tag.as_bytes().try_into().unwrap_or(*b"????");
    if &t != b"SEGS" {
      if let Ok(p) = c.section(&t) {
        w.section(&t, p.to_vec());
      }
    }
  }
  match Bm25Index::from_bytes(&w.to_bytes()) {
    Err(Error::CorruptFile(m)) => assert!(m.contains("rebuild"), "{m}"),
    other => panic!("expected a layout error, got {other:?}"),
  }
}

#[test]
fn single_segment_sparse_files_of_the_earlier_layout_still_load() {
  let docs = random_docs(300, 80, 6, 5);
  for reorder in [Reorder::None, Reorder::Bp] {
    let idx = SparseIndex::build(
      docs.clone(),
      &SparseIndexOptions {
        block_size: 16,
        reorder,
        ..Default::default()
      },
    )
    .unwrap();
    let bytes = idx.to_bytes();
    // The earlier layout: parameters without the clamp flag, no SEGS / DEAD sections.
    let c = crate::io::Container::parse(&bytes, crate::io::Kind::SparseIndex).unwrap();
    let params = c.params();
    let mut w =
      crate::io::ContainerWriter::new(crate::io::Kind::SparseIndex, params[..params.len() - 1].to_vec());
    for (tag, _) in c.section_sizes() {
      let t: [u8; 4] = tag.as_bytes().try_into().unwrap();
      if &t != b"SEGS" && &t != b"DEAD" {
        w.section(&t, c.section(&t).unwrap().to_vec());
      }
    }
    let old = SparseIndex::from_bytes(&w.to_bytes()).unwrap();
    assert_eq!((old.segments().count(), old.len()), (1, 300));
    let mut rng = Rng::new(6);
    for _ in 0..10 {
      let q = random_query(&mut rng, 80, 5);
      assert_eq!(
        old.search(&q, 20, &EXACT, None).unwrap(),
        idx.search(&q, 20, &EXACT, None).unwrap()
      );
    }
  }
}

/// `search_above(floor)` returns exactly the top k of the documents scoring strictly above
/// `floor` (ties by lower id), for floors taken from real scores (ties at the floor are the
/// case that matters) and between them.
#[test]
fn block_search_above_a_floor_is_the_exact_top_k_above_it() {
  let n = 900;
  let mut rng = Rng::new(41);
  // Few terms and small integer impacts: many documents share each score.
  let docs: Vec<(Vec<u32>, Vec<u8>)> = (0..n)
    .map(|_| {
      let mut t: Vec<u32> = (0..30).filter(|_| rng.below(5) == 0).collect();
      if t.is_empty() {
        t.push(rng.below(30) as u32);
      }
      let v = t.iter().map(|_| 1 + rng.below(3) as u8).collect();
      (t, v)
    })
    .collect();
  for bs in [8usize, 32, 128] {
    let blocks = BlockIndex::<u8>::build(n, 30, bs, |i| (&docs[i].0, &docs[i].1)).unwrap();
    for qi in 0..8 {
      let mut q: Vec<(u32, f32)> = Vec::new();
      for t in 0..30u32 {
        if rng.below(3) == 0 {
          q.push((t, (1 + rng.below(2)) as f32));
        }
      }
      let all = blocks.search(&q, n + 5, &SCAN, None, &[]);
      for k in [1usize, 10, 100, n + 5] {
        let scores: Vec<f32> = all.iter().map(|h| h.score).collect();
        let mut floors = vec![0.0f32, scores[scores.len() / 3], scores[scores.len() / 2] + 0.5];
        floors.push(scores[0]);
        for floor in floors {
          let want: Vec<Scored<f32>> = all.iter().filter(|h| h.score > floor).take(k).copied().collect();
          let got = blocks.search_above(&q, k, &EXACT, None, &[], floor);
          assert_eq!(got, want, "bs {bs} query {qi} k {k} floor {floor}");
        }
      }
    }
  }
}

/// Many segments, heavy ties, deletions and a filter: the segmented search (which carries the
/// k-th score from segment to segment) equals brute force over all live documents, ties by
/// insertion order, for every k.
#[test]
fn carried_threshold_across_segments_keeps_results_exact_with_ties() {
  let n = 1500;
  let docs = random_docs(n, 60, 8, 43);
  let mut rng = Rng::new(44);
  let queries: Vec<SparseVector> = (0..12).map(|_| random_query(&mut rng, 60, 5)).collect();
  let bounds = [0usize, 400, 410, 700, 1100, 1101, n];
  for (bs, reorder) in [(8usize, Reorder::None), (32, Reorder::Bp), (128, Reorder::None)] {
    let opts = SparseIndexOptions {
      block_size: bs,
      quantization: Quantization {
        scale: Some(0.5),
        clamp: false,
      },
      reorder,
      // The carried k-th score through both layouts' segment searches.
      layout: if bs == 128 { Layout::Blocks } else { Layout::Terms },
    };
    let mut idx = SparseIndex::build(docs[bounds[0]..bounds[1]].to_vec(), &opts).unwrap();
    for w in bounds[1..].windows(2) {
      idx.add(docs[w[0]..w[1]].to_vec()).unwrap();
    }
    assert_eq!(idx.segments().count(), bounds.len() - 1);
    let dead: Vec<usize> = (0..n).filter(|i| i % 11 == 5).collect();
    let dead_ext: Vec<ExternalId> = dead.iter().map(|&i| docs[i].0.clone()).collect();
    let mut alive = vec![true; n];
    for round in 0..2 {
      let allowed_ext: Vec<ExternalId> = (0..n).filter(|i| i % 3 != 1).map(|i| docs[i].0.clone()).collect();
      let allowed: Vec<bool> = (0..n).map(|i| alive[i] && i % 3 != 1).collect();
      let filter = idx.filter_bitset(&allowed_ext);
      for q in &queries {
        for k in [1usize, 10, 100, n + 5] {
          let want = brute(&docs, 0.5, q, k, Some(&alive));
          assert_eq!(
            idx.search(q, k, &EXACT, None).unwrap(),
            want,
            "bs {bs} round {round} k {k}"
          );
          assert_eq!(idx.search(q, k, &SCAN, None).unwrap(), want);
          let want_f = brute(&docs, 0.5, q, k, Some(&allowed));
          assert_eq!(
            idx.search(q, k, &EXACT, Some(&filter)).unwrap(),
            want_f,
            "filtered, k {k}"
          );
        }
      }
      if round == 1 {
        break;
      }
      // Second round: with deletions.
      assert_eq!(idx.delete(&dead_ext), dead.len());
      for &i in &dead {
        alive[i] = false;
      }
    }
  }
}

/// A copy-on-write `delete` (what the bindings do: clone the current snapshot, delete on the
/// copy, publish it) shares the id map and postings with the snapshot it came from instead of
/// copying them, and leaves that snapshot exactly as it was (a search running on it meanwhile
/// sees the documents as before). Re-adding a deleted id works; a live id is still rejected.
#[test]
fn delete_on_a_snapshot_copy_shares_the_ids_and_leaves_the_snapshot_intact() {
  let n = 700;
  let docs = random_docs(n, 200, 10, 51);
  let mut rng = Rng::new(52);
  let queries: Vec<SparseVector> = (0..8).map(|_| random_query(&mut rng, 200, 6)).collect();
  let opts = SparseIndexOptions {
    block_size: 32,
    quantization: Quantization {
      scale: Some(0.5),
      clamp: false,
    },
    reorder: Reorder::None,
    layout: Layout::Blocks,
  };
  let mut snapshot = SparseIndex::build(docs[..400].to_vec(), &opts).unwrap();
  snapshot.add(docs[400..].to_vec()).unwrap();
  let before: Vec<_> = queries
    .iter()
    .map(|q| snapshot.search(q, 50, &EXACT, None).unwrap())
    .collect();
  let mut alive = vec![true; n];
  let mut current = snapshot.clone();
  for step in 0..3 {
    let mut next = current.clone();
    let kill: Vec<usize> = (0..n).filter(|i| i % 9 == step * 3 + 1).collect();
    let kill_ext: Vec<ExternalId> = kill.iter().map(|&i| docs[i].0.clone()).collect();
    assert_eq!(next.delete(&kill_ext), kill.len());
    for &i in &kill {
      alive[i] = false;
    }
    assert!(
      std::ptr::eq(next.ids(), current.ids()),
      "delete copied the id map"
    );
    assert!(
      std::ptr::eq(next.vocab(), current.vocab()),
      "delete copied the vocabulary"
    );
    for (q, old) in queries.iter().zip(&before) {
      assert_eq!(
        &snapshot.search(q, 50, &EXACT, None).unwrap(),
        old,
        "the old snapshot changed"
      );
      assert_eq!(
        next.search(q, 50, &EXACT, None).unwrap(),
        brute(&docs, 0.5, q, 50, Some(&alive))
      );
    }
    assert_eq!(current.len() - kill.len(), next.len());
    current = next;
  }
  assert_eq!(snapshot.len(), n);
  // A deleted id can be added again (in a later segment); a live one cannot; a failed add
  // changes nothing.
  let again = docs[1].clone();
  assert!(!alive[1]);
  assert!(matches!(
    current.add(vec![docs[0].clone()]),
    Err(Error::DuplicateId(_))
  ));
  let len = current.len();
  assert!(matches!(
    current.add(vec![again.clone(), docs[0].clone()]),
    Err(Error::DuplicateId(_))
  ));
  assert_eq!(current.len(), len);
  current.add(vec![again.clone()]).unwrap();
  assert_eq!(current.len(), len + 1);
  assert_eq!(
    current.delete(std::slice::from_ref(&again.0)),
    1,
    "the re-added document is live"
  );
  assert_eq!(current.delete(std::slice::from_ref(&again.0)), 0);
  // The same for BM25 (shared Segments code, its own id map and statistics).
  let Some(data) = load_msmarco() else { return };
  let texts: Vec<(ExternalId, String)> = data
    .texts
    .iter()
    .take(300)
    .enumerate()
    .map(|(i, t)| (ExternalId::Int(i as i64), t.clone()))
    .collect();
  let bm = Bm25Index::build(texts.clone(), Bm25Options::default()).unwrap();
  let mut bm_next = bm.clone();
  assert_eq!(bm_next.delete(&[ExternalId::Int(3), ExternalId::Int(7)]), 2);
  assert!(
    std::ptr::eq(bm_next.ids(), bm.ids()),
    "BM25 delete copied the id map"
  );
  assert_eq!((bm.len(), bm_next.len()), (300, 298));
  bm_next.add(vec![texts[3].clone()]).unwrap();
  assert_eq!(bm_next.len(), 299);
}

/// Brute-force top-k of `q` over f32 documents: Σ w · impact in ascending term order (the order
/// both layouts sum in), scores > floor, allowed positions only, ties by lower id.
fn brute_f32(
  docs: &[(Vec<u32>, Vec<f32>)],
  q: &[(u32, f32)],
  k: usize,
  floor: f32,
  allowed: Option<&[bool]>,
  ids: &[u32],
) -> Vec<Scored<f32>> {
  let mut hits: Vec<Scored<f32>> = Vec::new();
  for (pos, (t, v)) in docs.iter().enumerate() {
    if allowed.is_some_and(|a| !a[pos]) {
      continue;
    }
    let mut s = 0f32;
    for &(qt, w) in q {
      if let Ok(j) = t.binary_search(&qt) {
        s += w * v[j];
      }
    }
    if s > floor {
      let id = if ids.is_empty() { pos as u32 } else { ids[pos] };
      hits.push(Scored { id, score: s });
    }
  }
  hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
  hits.truncate(k);
  hits
}

/// The term-major layout (BM25's) and the block-forward layout are independent code paths:
/// both must equal brute force exactly, ties by id included, with floors, filters, an id
/// permutation and the exhaustive scan, and the term-major index must round-trip its file.
#[test]
fn term_major_search_equals_block_forward_and_brute_force() {
  let n: usize = 1300;
  let nt = 40u32;
  let mut rng = Rng::new(57);
  // Few terms, impacts from a handful of values: many exact ties; some empty documents. Terms
  // 0 and 1 are in ~3/4 of the documents, so they get head-term dense rows.
  let docs: Vec<(Vec<u32>, Vec<f32>)> = (0..n)
    .map(|_| {
      let t: Vec<u32> = (0..nt)
        .filter(|&t| {
          if t < 2 {
            rng.below(4) != 0
          } else {
            rng.below(4 + t as u64 / 4) == 0
          }
        })
        .collect();
      let v = t
        .iter()
        .map(|_| [0.25f32, 0.5, 0.75, 1.5][rng.below(4) as usize])
        .collect();
      (t, v)
    })
    .collect();
  let allowed: Vec<bool> = (0..n).map(|i| rng.below(4) == 0 || i == 3).collect();
  let mut bits = vec![0u64; n.div_ceil(64)];
  for (i, _) in allowed.iter().enumerate().filter(|e| *e.1) {
    bits[i / 64] |= 1 << (i % 64);
  }
  let mut perm: Vec<u32> = (0..n as u32).collect();
  for i in (1..n).rev() {
    perm.swap(i, rng.below(i as u64 + 1) as usize);
  }
  for bs in [8usize, 32, 128] {
    let doc = |i: usize| (docs[i].0.as_slice(), docs[i].1.as_slice());
    let fwd = BlockIndex::<f32>::build(n, nt as usize, bs, doc).unwrap();
    let tm = BlockIndex::<f32>::build_term_major(n, nt as usize, bs, doc).unwrap();
    assert!(tm.is_term_major() && !fwd.is_term_major());
    assert_eq!(tm.n_postings(), fwd.n_postings());
    let mut w = crate::io::ContainerWriter::new(crate::io::Kind::Bm25Index, Vec::new());
    tm.write(&mut w, b'B');
    let bytes = w.to_bytes();
    let c = crate::io::Container::parse(&bytes, crate::io::Kind::Bm25Index).unwrap();
    let back = BlockIndex::<f32>::read(&c, b'B').unwrap();
    assert!(back.is_term_major());
    let head_rows = |ix: &BlockIndex<f32>| ix.memory_usage().iter().find(|e| e.0 == "headRows").map(|e| e.1);
    // Two rows of n impacts (and a row slot per term), derived again on load.
    assert!(
      head_rows(&tm) >= Some(2 * n * 4) && head_rows(&tm) < Some(3 * n * 4),
      "{:?}",
      head_rows(&tm)
    );
    assert_eq!(head_rows(&back), head_rows(&tm));
    for qi in 0..10 {
      let mut q: Vec<(u32, f32)> = Vec::new();
      for t in 0..nt {
        if rng.below(6) == 0 || (q.is_empty() && t == nt - 1) {
          q.push((t, [1.0f32, 2.0, 0.5][rng.below(3) as usize]));
        }
      }
      let all = brute_f32(&docs, &q, n, 0.0, None, &[]);
      for k in [1usize, 10, 100, 1000, n + 5] {
        let mut floors = vec![0.0f32];
        if !all.is_empty() {
          floors.extend([all[all.len() / 3].score, all[0].score]);
        }
        for &floor in &floors {
          let want = brute_f32(&docs, &q, k, floor, None, &[]);
          let what = format!("bs {bs} query {qi} k {k} floor {floor}");
          assert_eq!(tm.search_above(&q, k, &EXACT, None, &[], floor), want, "{what}");
          assert_eq!(fwd.search_above(&q, k, &EXACT, None, &[], floor), want, "{what}");
          assert_eq!(back.search_above(&q, k, &EXACT, None, &[], floor), want, "{what}");
          let wantf = brute_f32(&docs, &q, k, floor, Some(&allowed), &[]);
          assert_eq!(
            tm.search_above(&q, k, &EXACT, Some(&bits), &[], floor),
            wantf,
            "filtered {what}"
          );
          assert_eq!(
            tm.search_above(&q, k, &SCAN, Some(&bits), &[], floor),
            wantf,
            "scan {what}"
          );
          let wantp = brute_f32(&docs, &q, k, floor, None, &perm);
          assert_eq!(
            tm.search_above(&q, k, &EXACT, None, &perm, floor),
            wantp,
            "permuted {what}"
          );
          assert_eq!(
            fwd.search_above(&q, k, &EXACT, None, &perm, floor),
            wantp,
            "permuted {what}"
          );
        }
        assert_eq!(
          tm.search(&q, k, &SCAN, None, &[]),
          brute_f32(&docs, &q, k, 0.0, None, &[])
        );
        // Approximate (alpha < 1): hits keep their exact scores, and a document of the exact
        // top k is missing only where alpha · its score ≤ the last hit's (its block's bound
        // fell below the k-th score / alpha).
        let exact: HashMap<u32, f32> = all.iter().map(|h| (h.id, h.score)).collect();
        let want = brute_f32(&docs, &q, k, 0.0, None, &[]);
        for alpha in [0.5f32, 0.8] {
          let p = SearchParams { alpha, ..EXACT };
          let got = tm.search(&q, k, &p, None, &[]);
          assert_eq!(got.len(), want.len(), "alpha {alpha} bs {bs} k {k}");
          assert!(
            got.iter().all(|h| exact.get(&h.id) == Some(&h.score)),
            "alpha {alpha}"
          );
          assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
          let kept: HashSet<u32> = got.iter().map(|h| h.id).collect();
          let last = got.last().map_or(0.0, |h| h.score);
          for h in want.iter().filter(|h| !kept.contains(&h.id)) {
            assert!(
              alpha * h.score <= last,
              "alpha {alpha} bs {bs} k {k}: {h:?} missing, last {last}"
            );
          }
        }
      }
    }
  }
}

/// An empty index lists the components of its layout (at 0 bytes), the same names a built one
/// lists: BM25 is term-major (`postings`, `headRows`), learned sparse block-forward (`forward`).
#[test]
fn an_empty_index_names_the_components_of_its_layout() {
  let names = |v: Vec<(&'static str, usize)>| v.into_iter().map(|e| e.0).collect::<Vec<_>>();
  let empty = Bm25Index::build(Vec::new(), Bm25Options::default()).unwrap();
  let one = Bm25Index::build(
    vec![(ExternalId::Int(1), "hello world".to_string())],
    Bm25Options::default(),
  )
  .unwrap();
  assert_eq!(names(empty.memory_usage()), names(one.memory_usage()));
  assert!(empty
    .memory_usage()
    .iter()
    .all(|e| e.0 != "forward" && (e.1 == 0 || e.0 == "segments")));
  let opts = SparseIndexOptions::default();
  let empty = SparseIndex::build(Vec::new(), &opts).unwrap();
  let v = SparseVector::Indexed(vec![3], vec![0.5]);
  let one = SparseIndex::build(vec![(ExternalId::Int(1), v)], &opts).unwrap();
  assert_eq!(names(empty.memory_usage()), names(one.memory_usage()));
  assert!(names(empty.memory_usage()).contains(&"forward"));
}
