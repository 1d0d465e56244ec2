use super::*;
use crate::dense::kmeans::tests::blobs;

fn opts(dim: usize, m: usize, nbits: u32, metric: Metric, lists: usize, rescore: Rescore) -> PqIndexOptions {
  PqIndexOptions {
    dim,
    m,
    nbits,
    metric,
    lists,
    nprobe: 1,
    rescore,
    iters: 8,
    ivf_iters: 8,
    seed: 42,
  }
}

fn ext(n: usize) -> Vec<ExternalId> {
  (0..n as i64).map(ExternalId::Int).collect()
}

/// Brute-force ADC over every stored code with the index's own per-list tables.
fn brute_adc(idx: &PqIndex, q: &[f32], k: usize) -> Vec<Scored<f32>> {
  let probes = idx.probes(q, idx.lists.len());
  let m = idx.opts.m;
  let mut all = Vec::new();
  let mut code = vec![0u8; m];
  for p in &probes {
    let list = &idx.lists[p.list];
    for pos in 0..list.len(m) {
      let id = list.id(pos);
      match &list.codes {
        Codes::Eight(v) => code.copy_from_slice(&v[pos * m..(pos + 1) * m]),
        Codes::Four(f) => f.get(pos, &mut code),
      }
      all.push(Scored {
        id,
        score: -(p.offset + adc_sum(&p.table, idx.pq.ksub(), &code)),
      });
    }
  }
  sort_hits(&mut all, true);
  all.truncate(k);
  all
}

fn exact(data: &[f32], q: &[f32], dim: usize, metric: Metric, k: usize) -> Vec<u32> {
  let mut all: Vec<Scored<f32>> = data
    .chunks_exact(dim)
    .enumerate()
    .map(|(i, x)| Scored {
      id: i as u32,
      score: if metric == Metric::L2 {
        -l2sq_f32(q, x)
      } else {
        dot_f32(q, x)
      },
    })
    .collect();
  sort_hits(&mut all, true);
  all.into_iter().take(k).map(|s| s.id).collect()
}

#[test]
fn full_probe_search_equals_brute_force_adc_for_every_configuration() {
  let (dim, n) = (32, 1500);
  let data = blobs(5, n, dim, 12);
  for nbits in [8, 4] {
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
      for lists in [0, 7] {
        let mut idx = PqIndex::train(&data, opts(dim, 8, nbits, metric, lists, Rescore::None)).unwrap();
        idx.add(ext(n), &data).unwrap();
        for qi in 0..15 {
          let (_, q) = prepare(&data[qi * 97 * dim..(qi * 97 + 1) * dim], dim, metric, "q").unwrap();
          let got = idx.search(&q, 10, Some(lists.max(1)), None).unwrap();
          let want = brute_adc(&idx, &q, 10);
          assert_eq!(got, want, "nbits {nbits} {metric:?} lists {lists} query {qi}");
        }
      }
    }
  }
}

#[test]
fn ivf_residual_adc_equals_distance_to_the_reconstruction() {
  let (dim, n) = (16, 800);
  let data = blobs(6, n, dim, 6);
  for metric in [Metric::L2, Metric::InnerProduct] {
    let mut idx = PqIndex::train(&data, opts(dim, 4, 8, metric, 5, Rescore::None)).unwrap();
    idx.add(ext(n), &data).unwrap();
    let q = &data[3 * dim..4 * dim];
    let coarse = idx.coarse.clone().unwrap();
    for p in idx.probes(q, 5) {
      let list = &idx.lists[p.list];
      let Codes::Eight(codes) = &list.codes else {
        unreachable!()
      };
      for pos in 0..list.len(idx.opts.m).min(20) {
        let code = &codes[pos * 4..(pos + 1) * 4];
        let mut x = idx.pq.decode_unpacked(code);
        x.iter_mut()
          .zip(coarse.centroid(p.list))
          .for_each(|(a, b)| *a += b);
        let adc = p.offset + adc_sum(&p.table, 256, code);
        let want = if metric == Metric::L2 {
          l2sq_f32(q, &x)
        } else {
          -dot_f32(q, &x)
        };
        assert!(
          (adc - want).abs() <= 1e-3 * (1.0 + want.abs()),
          "{metric:?}: {adc} vs {want}"
        );
      }
    }
  }
}

#[test]
fn recall_at_10_against_exact_float_search() {
  let (dim, n, nq) = (64, 4000, 40);
  let data = blobs(7, n, dim, 40);
  let queries = blobs(8, nq, dim, 40);
  let configs = [
    (
      "pq8 m16",
      opts(dim, 16, 8, Metric::L2, 0, Rescore::None),
      None,
      0.35,
    ),
    (
      "pq4 m16 fastscan",
      opts(dim, 16, 4, Metric::L2, 0, Rescore::None),
      None,
      0.08,
    ),
    (
      "pq4 m32 fastscan, 100 candidates",
      opts(dim, 32, 4, Metric::L2, 0, Rescore::None),
      Some(100),
      0.1,
    ),
    (
      "ivf16 pq8 m16 nprobe 4",
      opts(dim, 16, 8, Metric::L2, 16, Rescore::None),
      None,
      0.3,
    ),
    (
      "pq8 m16 + float32 rescore",
      opts(dim, 16, 8, Metric::L2, 0, Rescore::Float32),
      None,
      0.9,
    ),
    (
      "ivf16 pq4 m32 nprobe 4 + float32",
      opts(dim, 32, 4, Metric::InnerProduct, 16, Rescore::Float32),
      None,
      0.6,
    ),
  ];
  for (name, o, cands, floor) in configs {
    let metric = o.metric;
    let mut idx = PqIndex::train(&data, o).unwrap();
    idx.add(ext(n), &data).unwrap();
    let res = idx.search_batch(&queries, 10, Some(4), cands, Some(2)).unwrap();
    let mut hit = 0;
    for (qi, r) in res.iter().enumerate() {
      let truth = exact(&data, &queries[qi * dim..(qi + 1) * dim], dim, metric, 10);
      hit += r.iter().filter(|s| truth.contains(&s.id)).count();
    }
    let recall = hit as f64 / (nq * 10) as f64;
    println!("recall@10 {name}: {recall:.3}");
    assert!(recall >= floor, "{name}: recall {recall}");
  }
}

#[test]
fn persistence_round_trip_and_corruption() {
  let (dim, n) = (16, 700);
  let data = blobs(9, n, dim, 5);
  for (nbits, lists, rescore) in [
    (8, 0, Rescore::None),
    (4, 3, Rescore::Float32),
    (4, 0, Rescore::None),
    (8, 4, Rescore::Float32),
  ] {
    let mut idx = PqIndex::train(&data, opts(dim, 4, nbits, Metric::Cosine, lists, rescore)).unwrap();
    idx.add(ext(n - 50), &data[..(n - 50) * dim]).unwrap();
    idx
      .add(
        (1000..1050).map(ExternalId::Int).collect(),
        &data[(n - 50) * dim..],
      )
      .unwrap();
    // Without IVF the entry position is the internal id: no list ids are held.
    let list_ids = |i: &PqIndex| i.memory_usage().into_iter().find(|c| c.0 == "listIds").unwrap().1;
    if lists == 0 {
      assert_eq!(list_ids(&idx), 0);
    } else {
      assert!(list_ids(&idx) >= 4 * n);
    }
    let bytes = idx.to_bytes();
    let back = PqIndex::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(list_ids(&back), if lists == 0 { 0 } else { 4 * n });
    let q = &data[5 * dim..6 * dim];
    assert_eq!(
      idx.search(q, 7, Some(2), None).unwrap(),
      back.search(q, 7, Some(2), None).unwrap()
    );
    for cut in [10, bytes.len() / 2, bytes.len() - 1] {
      assert!(matches!(
        PqIndex::from_bytes(&bytes[..cut]),
        Err(Error::CorruptFile(_))
      ));
    }
    let mut bad = bytes.clone();
    let mid = bad.len() - 100;
    bad[mid] ^= 0x40;
    assert!(matches!(PqIndex::from_bytes(&bad), Err(Error::CorruptFile(_))));
    assert!(matches!(
      PqIndex::from_bytes(
        &ProductQuantizer::train(
          &data,
          &PqParams {
            dim,
            m: 4,
            nbits: 4,
            iters: 2,
            seed: 1
          }
        )
        .unwrap()
        .to_bytes()
      ),
      Err(Error::CorruptFile(_))
    ));
  }
}

#[test]
fn bad_input_is_rejected_and_leaves_the_index_unchanged() {
  let (dim, n) = (8, 300);
  let data = blobs(10, n, dim, 3);
  let bad = |o: PqIndexOptions, d: &[f32]| matches!(PqIndex::train(d, o), Err(Error::InvalidArg(_)));
  let o = opts(dim, 4, 8, Metric::L2, 0, Rescore::None);
  assert!(bad(PqIndexOptions { m: 3, ..o.clone() }, &data));
  assert!(bad(
    PqIndexOptions {
      nbits: 2,
      ..o.clone()
    },
    &data
  ));
  assert!(bad(o.clone(), &data[..100 * dim]));
  assert!(bad(
    PqIndexOptions {
      nbits: 4,
      lists: 400,
      ..o.clone()
    },
    &data
  ));
  let mut nan = data.clone();
  nan[17] = f32::NAN;
  assert!(bad(o.clone(), &nan));
  let mut idx = PqIndex::train(&data, o).unwrap();
  idx.add(ext(10), &data[..10 * dim]).unwrap();
  let before = idx.to_bytes();
  assert!(matches!(
    idx.add(ext(1), &data[..dim]),
    Err(Error::DuplicateId(_))
  ));
  assert!(idx.add(vec![ExternalId::Int(99)], &nan[16..24]).is_err());
  assert!(idx.add(vec![ExternalId::Int(99)], &data[..dim - 1]).is_err());
  assert_eq!(idx.to_bytes(), before);
  assert!(matches!(
    idx.search(&data[..dim - 1], 5, None, None),
    Err(Error::DimMismatch { .. })
  ));
  assert!(matches!(
    idx.search(&data[..dim], 0, None, None),
    Err(Error::InvalidArg(_))
  ));
  assert!(matches!(
    idx.search(&data[..dim], 3, Some(0), None),
    Err(Error::InvalidArg(_))
  ));
  assert_eq!(idx.search(&data[..dim], 50, None, None).unwrap().len(), 10);
}
