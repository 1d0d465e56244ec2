//! Behavioural tests of the MinHash stack against published formulas, brute force and
//! golden vectors from Python datasketch.

use super::*;
use crate::ids::ExternalId;
use crate::rng::Rng;
use crate::Error;

/// Two random sets of `n` distinct 64-bit elements each sharing `c` = round(2nJ/(1+J))
/// elements; returns them and their exact Jaccard.
fn set_pair(rng: &mut Rng, n: usize, j: f64) -> (Vec<u64>, Vec<u64>, f64) {
  let c = ((2.0 * n as f64 * j / (1.0 + j)).round() as usize).clamp(1, n);
  let common: Vec<u64> = (0..c).map(|_| rng.next_u64()).collect();
  let mut a = common.clone();
  let mut b = common;
  a.extend((0..n - c).map(|_| rng.next_u64()));
  b.extend((0..n - c).map(|_| rng.next_u64()));
  (a, b, c as f64 / (2 * n - c) as f64)
}

fn hasher(scheme: Scheme, num_perm: usize, seed: u64) -> MinHasher {
  MinHasher::new(MinHasherOptions {
    num_perm,
    seed,
    scheme,
    ..Default::default()
  })
  .unwrap()
}

fn sign_hashes(h: &MinHasher, set: &[u64]) -> Vec<u32> {
  let mut out = vec![0u32; h.num_perm()];
  if h.options().scheme == Scheme::Datasketch {
    let tokens: Vec<[u8; 8]> = set.iter().map(|x| x.to_le_bytes()).collect();
    h.sign_tokens_into(tokens.iter().map(|t| &t[..]), &mut out)
      .unwrap();
  } else {
    h.sign_hashes_into(set, &mut out).unwrap();
  }
  out
}

/// Mean and sample variance.
fn mean_var(xs: &[f64]) -> (f64, f64) {
  let m = xs.iter().sum::<f64>() / xs.len() as f64;
  let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1).max(1) as f64;
  (m, v)
}

#[test]
fn datasketch_golden_vectors_match_bit_for_bit() {
  let fixture: serde_json::Value =
    serde_json::from_str(include_str!("testdata/datasketch_golden.json")).unwrap();
  let mut checked = 0;
  for case in fixture["cases"].as_array().unwrap() {
    let seed = case["seed"].as_u64().unwrap();
    let k = case["numPerm"].as_u64().unwrap() as usize;
    // The permutation draws (MT19937 + randint) directly.
    let mut g = Mt19937::new(seed as u32);
    let mut ab = Vec::new();
    for _ in 0..8.min(k) {
      ab.push((g.randint_u64(1, MERSENNE_61), g.randint_u64(0, MERSENNE_61)));
    }
    for (i, &(a, b)) in ab.iter().enumerate() {
      assert_eq!(a, case["a"][i].as_u64().unwrap(), "a[{i}] seed {seed}");
      assert_eq!(b, case["b"][i].as_u64().unwrap(), "b[{i}] seed {seed}");
    }
    let h = hasher(Scheme::Datasketch, k, seed);
    for ts in case["tokenSets"].as_array().unwrap() {
      let tokens: Vec<&str> = ts["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
      let want: Vec<u32> = ts["signature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
      let got = h
        .sign_token_sets(
          &[tokens.iter().map(|t| t.as_bytes()).collect::<Vec<_>>()],
          Some(1),
        )
        .unwrap();
      assert_eq!(got, want, "token set {tokens:?} seed {seed} k {k}");
      checked += 1;
    }
    for tc in case["texts"].as_array().unwrap() {
      let text = tc["text"].as_str().unwrap();
      let py_shingles: Vec<&str> = tc["shingles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
      assert_eq!(shingles(text, &ShingleOptions::default()), py_shingles);
      let want: Vec<u32> = tc["signature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
      assert_eq!(
        h.sign_texts(&[text], Some(1)).unwrap(),
        want,
        "text {text:?} seed {seed} k {k}"
      );
      checked += 1;
    }
  }
  assert!(checked >= 40, "fixture too small: {checked} cases");
}

#[test]
fn every_scheme_is_unbiased_across_sizes_and_similarities() {
  // (scheme, sizes with trial counts)
  let plan: [(Scheme, &[(usize, usize)]); 3] = [
    (
      Scheme::Oph,
      &[(8, 200), (32, 200), (128, 200), (1000, 100), (100_000, 12)],
    ),
    (Scheme::Classic, &[(8, 200), (128, 100), (1000, 30), (100_000, 2)]),
    (Scheme::Datasketch, &[(8, 150), (128, 60), (1000, 12)]),
  ];
  let mut rng = Rng::new(2024);
  for (scheme, sizes) in plan {
    for &(n, trials) in sizes {
      for &j in &[0.1, 0.3, 0.5, 0.8, 0.95] {
        let mut errs = Vec::with_capacity(trials);
        for t in 0..trials {
          let h = hasher(scheme, 128, 1000 + t as u64);
          let (a, b, exact) = set_pair(&mut rng, n, j);
          let est = jaccard(&sign_hashes(&h, &a), &sign_hashes(&h, &b)).unwrap();
          errs.push(est - exact);
        }
        let (m, v) = mean_var(&errs);
        // Standard error of the mean; floor for tiny sets where J is nearly deterministic.
        let se = (v / trials as f64).sqrt().max(0.002);
        assert!(
          m.abs() <= 4.5 * se,
          "{scheme:?} |S|={n} J={j}: mean error {m:.4} > 4.5·SE ({se:.4})"
        );
      }
    }
  }
}

#[test]
fn each_oph_slot_collides_with_probability_j_even_when_bins_are_empty() {
  // |S| = 8 and 48 with k = 128: most slots are filled by densification.
  for &(n, j) in &[(8usize, 0.6f64), (48, 0.4)] {
    let k = 128;
    let trials = 2000;
    let mut hits = vec![0usize; k];
    let mut exact_sum = 0.0;
    let mut rng = Rng::new(n as u64);
    for t in 0..trials {
      let h = hasher(Scheme::Oph, k, 77 + t as u64);
      let (a, b, exact) = set_pair(&mut rng, n, j);
      exact_sum += exact;
      let (sa, sb) = (sign_hashes(&h, &a), sign_hashes(&h, &b));
      for i in 0..k {
        hits[i] += (sa[i] == sb[i]) as usize;
      }
    }
    let jbar = exact_sum / trials as f64;
    let se = (jbar * (1.0 - jbar) / trials as f64).sqrt();
    for (i, &c) in hits.iter().enumerate() {
      let p = c as f64 / trials as f64;
      assert!(
        (p - jbar).abs() <= 4.5 * se,
        "|S|={n} slot {i}: P(collision) {p:.3} vs J {jbar:.3}"
      );
    }
  }
}

#[test]
fn oph_variance_is_within_ten_percent_of_classic_when_sets_are_large() {
  let mut rng = Rng::new(99);
  for &n in &[128usize, 400] {
    let trials = 1200;
    let (mut eo, mut ec) = (Vec::new(), Vec::new());
    for t in 0..trials {
      let (a, b, exact) = set_pair(&mut rng, n, 0.5);
      let ho = hasher(Scheme::Oph, 128, t as u64);
      let hc = hasher(Scheme::Classic, 128, t as u64);
      eo.push(jaccard(&sign_hashes(&ho, &a), &sign_hashes(&ho, &b)).unwrap() - exact);
      ec.push(jaccard(&sign_hashes(&hc, &a), &sign_hashes(&hc, &b)).unwrap() - exact);
    }
    let (_, vo) = mean_var(&eo);
    let (_, vc) = mean_var(&ec);
    // Theory for classic: J(1−J)/k ≈ 0.00195 at J = 0.5, k = 128.
    assert!(
      (vc - 0.25 / 128.0).abs() < 0.25 * 0.25 / 128.0,
      "classic variance {vc} far from J(1-J)/k"
    );
    assert!(
      vo <= 1.10 * vc,
      "|S|={n}: oph variance {vo:.6} > 1.10 × classic {vc:.6}"
    );
  }
}

#[test]
fn oph_of_a_single_element_fills_every_slot_with_it() {
  let h = hasher(Scheme::Oph, 256, 5);
  let s = sign_hashes(&h, &[0xdead_beef_1234_5678]);
  assert!(s.iter().all(|&v| v == 0x1234_5678));
  let mut out = vec![0u32; 256];
  assert!(h.sign_hashes_into(&[], &mut out).is_err());
}

#[test]
fn optimal_params_reproduce_the_datasketch_table() {
  let table: &[(usize, [(usize, usize); 5])] = &[
    (112, [(22, 5), (12, 9), (9, 12), (7, 16), (5, 22)]),
    (128, [(25, 5), (14, 9), (9, 13), (8, 16), (5, 25)]),
    (200, [(33, 6), (20, 10), (14, 14), (11, 18), (8, 25)]),
    (240, [(40, 6), (24, 10), (16, 15), (12, 20), (9, 26)]),
    (250, [(41, 6), (25, 10), (16, 15), (13, 19), (9, 27)]),
    (256, [(42, 6), (25, 10), (17, 15), (13, 19), (9, 28)]),
    (260, [(43, 6), (26, 10), (17, 15), (13, 20), (9, 28)]),
  ];
  for (k, row) in table {
    for (t, want) in [0.5, 0.7, 0.8, 0.85, 0.9].iter().zip(row) {
      assert_eq!(
        optimal_params(*t, *k, (0.5, 0.5)).unwrap(),
        *want,
        "num_perm {k} threshold {t}"
      );
    }
  }
  // datasketch docstring and text-dedup doctest.
  assert_eq!(optimal_params(0.7, 256, (0.5, 0.5)).unwrap(), (25, 10));
}

#[test]
fn measured_s_curve_matches_the_formula() {
  let (bands, rows) = (9, 13);
  let mut rng = Rng::new(11);
  for &s in &[0.5, 0.7, 0.8, 0.85, 0.9] {
    let trials = 500;
    let mut expected = 0.0;
    let mut hits = 0;
    for t in 0..trials {
      let h = hasher(Scheme::Oph, 128, 500 + t as u64);
      let (a, b, exact) = set_pair(&mut rng, 300, s);
      expected += collision_probability(exact, bands, rows);
      let mut lsh = MinHashLsh::new(LshOptions {
        threshold: 0.8,
        bands_rows: Some((bands, rows)),
        ..Default::default()
      })
      .unwrap();
      lsh.insert(ExternalId::Int(0), &sign_hashes(&h, &a)).unwrap();
      hits += (!lsh.query(&sign_hashes(&h, &b), None).unwrap().is_empty()) as usize;
    }
    let p = expected / trials as f64;
    let got = hits as f64 / trials as f64;
    let se = (p * (1.0 - p) / trials as f64).sqrt();
    assert!(
      (got - p).abs() <= 4.0 * se + 0.01,
      "s={s}: measured {got:.3} vs 1-(1-s^r)^b = {p:.3}"
    );
  }
}

fn random_corpus(rng: &mut Rng, n: usize) -> Vec<Vec<u64>> {
  // Groups of near-duplicates: base sets and mutated copies.
  let mut docs = Vec::new();
  while docs.len() < n {
    let base: Vec<u64> = (0..150).map(|_| rng.next_u64()).collect();
    docs.push(base.clone());
    let copies = rng.below(3) as usize;
    for _ in 0..copies {
      let mut d = base.clone();
      let changes = rng.below(30) as usize;
      for _ in 0..changes {
        let i = rng.below(d.len() as u64) as usize;
        d[i] = rng.next_u64();
      }
      docs.push(d);
    }
  }
  docs.truncate(n);
  docs
}

#[test]
fn lsh_queries_and_pairs_match_brute_force_band_comparison() {
  let mut rng = Rng::new(8);
  let docs = random_corpus(&mut rng, 300);
  let h = hasher(Scheme::Oph, 128, 3);
  let sigs: Vec<Vec<u32>> = docs.iter().map(|d| sign_hashes(&h, d)).collect();
  let mut lsh = MinHashLsh::new(LshOptions {
    threshold: 0.7,
    ..Default::default()
  })
  .unwrap();
  let (b, r) = (lsh.bands(), lsh.rows());
  assert_eq!((b, r), (14, 9));
  let flat: Vec<u32> = sigs.concat();
  lsh
    .insert_batch((0..300).map(|i| ExternalId::Int(i as i64)).collect(), &flat, None)
    .unwrap();
  let shares =
    |x: &[u32], y: &[u32]| (0..b).any(|band| x[band * r..(band + 1) * r] == y[band * r..(band + 1) * r]);
  let mut brute_pairs = Vec::new();
  for i in 0..300 {
    let hits = lsh.query(&sigs[i], None).unwrap();
    let got: Vec<u32> = hits.iter().map(|h| h.internal).collect();
    let want: Vec<u32> = (0..300u32)
      .filter(|&j| shares(&sigs[i], &sigs[j as usize]))
      .collect();
    assert_eq!(got, want, "query {i}");
    for &j in &want {
      if j as usize > i {
        brute_pairs.push((i as u32, j));
      }
    }
    // Verified hits are exactly the band-sharing ones with estimated J ≥ 0.7.
    let v: Vec<u32> = lsh
      .query(&sigs[i], Some(0.7))
      .unwrap()
      .iter()
      .map(|h| h.internal)
      .collect();
    let vw: Vec<u32> = want
      .iter()
      .copied()
      .filter(|&j| jaccard_unchecked(&sigs[i], &sigs[j as usize]) >= 0.7)
      .collect();
    assert_eq!(v, vw);
  }
  let pairs: Vec<(u32, u32)> = lsh
    .candidate_pairs(None)
    .unwrap()
    .iter()
    .map(|p| (p.0, p.1))
    .collect();
  assert_eq!(pairs, brute_pairs);
  assert!(pairs.len() > 50, "corpus should have near-duplicates");

  // Removal, re-insertion, duplicates, persistence.
  assert!(lsh.remove(&ExternalId::Int(0)));
  assert!(!lsh.remove(&ExternalId::Int(0)));
  assert!(lsh.query(&sigs[0], None).unwrap().iter().all(|h| h.internal != 0));
  assert!(matches!(
    lsh.insert(ExternalId::Int(1), &sigs[1]),
    Err(Error::DuplicateId(_))
  ));
  let bytes = lsh.to_bytes();
  let back = MinHashLsh::from_bytes(&bytes).unwrap();
  assert_eq!(back.len(), 299);
  for i in [1usize, 5, 77] {
    assert_eq!(
      back.query(&sigs[i], Some(0.5)).unwrap(),
      lsh.query(&sigs[i], Some(0.5)).unwrap()
    );
  }
  lsh.insert(ExternalId::Int(0), &sigs[0]).unwrap();
  assert!(lsh.query(&sigs[0], None).unwrap().iter().any(|h| h.internal == 0));
  for cut in [10, bytes.len() / 2, bytes.len() - 1] {
    assert!(MinHashLsh::from_bytes(&bytes[..cut]).is_err());
  }
  let mut flipped = bytes.clone();
  let last = flipped.len() - 3;
  flipped[last] ^= 1;
  assert!(matches!(
    MinHashLsh::from_bytes(&flipped),
    Err(Error::CorruptFile(_))
  ));

  // Band keys: the same as the index's, row-major, salted per band.
  let keys = band_keys(&flat, 128, b, r, Some(1)).unwrap();
  let mut one = vec![0u64; b];
  band_keys_into(&sigs[7], b, r, &mut one);
  assert_eq!(&keys[7 * b..8 * b], &one[..]);
  let same = vec![42u32; 128];
  let mut k2 = vec![0u64; b];
  band_keys_into(&same, b, r, &mut k2);
  assert_ne!(
    k2[0], k2[1],
    "identical band contents must give different keys in different bands"
  );
}

#[test]
fn bloom_sizing_reaches_the_total_false_positive_rate() {
  let n = 20_000u64;
  for &p in &[1e-2, 1e-3] {
    let opts = BloomOptions {
      expected_items: n,
      false_positive_rate: p,
      ..Default::default()
    };
    let mut f = LshBloom::new(opts).unwrap();
    assert_eq!((f.bands(), f.rows()), (9, 13));
    let band_fp = f.band_false_positive_rate();
    assert!((1.0 - (1.0 - band_fp).powi(9) - p).abs() < p * 1e-9);
    assert!(blocked_fpr(n, size_filter(n, band_fp).0, f.probes()) <= band_fp);
    let mut rng = Rng::new(5);
    for _ in 0..n {
      let sig: Vec<u32> = (0..128).map(|_| rng.next_u32()).collect();
      f.insert(&sig).unwrap();
    }
    let trials = 200_000;
    let mut fps = 0;
    for _ in 0..trials {
      let sig: Vec<u32> = (0..128).map(|_| rng.next_u32()).collect();
      fps += f.has(&sig).unwrap() as usize;
    }
    let rate = fps as f64 / trials as f64;
    let se = (p / trials as f64).sqrt();
    assert!(rate <= p + 4.0 * se, "p={p}: measured {rate}");
    assert!(rate >= 0.5 * p, "p={p}: measured {rate}: filters are oversized");
    // Bytes per document close to the blocked-Bloom optimum (a few tens of bits per band).
    let bits_per_band = f.bytes_per_document() * 8.0 / 9.0;
    let classic = -(band_fp.ln()) / std::f64::consts::LN_2.powi(2);
    assert!(
      bits_per_band >= classic && bits_per_band < classic * 1.35,
      "{bits_per_band} bits vs classic {classic}"
    );
  }
}

#[test]
fn bloom_first_seen_wins_merge_and_persistence() {
  let mut rng = Rng::new(6);
  let docs = random_corpus(&mut rng, 400);
  let h = hasher(Scheme::Oph, 128, 9);
  let sigs: Vec<Vec<u32>> = docs.iter().map(|d| sign_hashes(&h, d)).collect();
  let opts = BloomOptions {
    expected_items: 1000,
    false_positive_rate: 1e-6,
    ..Default::default()
  };
  let mut f = LshBloom::new(opts).unwrap();
  let mut lsh = MinHashLsh::new(LshOptions {
    threshold: 0.8,
    ..Default::default()
  })
  .unwrap();
  for (i, s) in sigs.iter().enumerate() {
    // Exact LSH decision for first-seen-wins: a band shared with a kept document.
    let expect_new = lsh.query(s, None).unwrap().is_empty();
    assert_eq!(f.insert_if_new(s).unwrap(), expect_new, "doc {i}");
    if expect_new {
      lsh.insert(ExternalId::Int(i as i64), s).unwrap();
    }
  }
  assert!(f.count() < 400);
  // Merge: two halves OR-ed give the same bits as inserting everything.
  let (mut a, mut b, mut all) = (
    LshBloom::new(opts).unwrap(),
    LshBloom::new(opts).unwrap(),
    LshBloom::new(opts).unwrap(),
  );
  for (i, s) in sigs.iter().enumerate() {
    if i % 2 == 0 {
      a.insert(s).unwrap()
    } else {
      b.insert(s).unwrap()
    }
    all.insert(s).unwrap();
  }
  a.merge(&b).unwrap();
  assert_eq!(a.to_bytes(), all.to_bytes());
  let other = LshBloom::new(BloomOptions {
    expected_items: 2000,
    ..opts
  })
  .unwrap();
  assert!(matches!(a.merge(&other), Err(Error::InvalidArg(_))));
  // Persistence, plain and memory-mapped.
  let dir = std::env::temp_dir().join(format!("slimdex-bloom-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let path = dir.join("f.slmdx");
  crate::io::save_atomic(&path, &f.to_bytes()).unwrap();
  for mmap in [false, true] {
    let mut g = LshBloom::load(&path, mmap).unwrap();
    assert_eq!(g.is_mapped(), mmap);
    for s in &sigs {
      assert!(g.has(s).unwrap());
    }
    assert_eq!(g.count(), f.count());
    let fresh: Vec<u32> = (0..128).map(|_| rng.next_u32()).collect();
    assert!(g.insert_if_new(&fresh).unwrap());
    assert!(!g.is_mapped());
    assert!(!g.insert_if_new(&fresh).unwrap());
  }
  let bytes = f.to_bytes();
  assert_eq!(LshBloom::from_bytes(&bytes).unwrap().to_bytes(), bytes);
  assert!(LshBloom::from_bytes(&bytes[..bytes.len() - 1]).is_err());
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn indexes_keep_their_signature_family_through_save_load_and_merge() {
  let h = hasher(Scheme::Oph, 128, 9);
  let fam = SignatureFamily::of(&h);
  let other = SignatureFamily::of(&hasher(Scheme::Oph, 128, 10));
  let sig = sign_hashes(&h, &[1, 2, 3, 4, 5]);
  // MinHashLSH: an unknown family is not written; a known one survives the round trip.
  let mut lsh = MinHashLsh::new(LshOptions::default()).unwrap();
  lsh.insert(ExternalId::Int(0), &sig).unwrap();
  let unknown = lsh.to_bytes();
  assert_eq!(MinHashLsh::from_bytes(&unknown).unwrap().family().get(), None);
  lsh.family_mut().adopt(Some(fam));
  let known = lsh.to_bytes();
  assert!(known.len() > unknown.len());
  let back = MinHashLsh::from_bytes(&known).unwrap();
  assert_eq!(back.family().get(), Some(fam));
  assert!(back.family().check(Some(other)).is_err());
  assert_eq!(back.to_bytes(), known);
  // LSHBloom: the same, and merging keeps the known family or refuses a different one.
  let opts = BloomOptions {
    expected_items: 100,
    ..Default::default()
  };
  let mut a = LshBloom::new(opts).unwrap();
  a.insert(&sig).unwrap();
  let mut b = LshBloom::new(opts).unwrap();
  b.family_mut().adopt(Some(fam));
  a.merge(&b).unwrap();
  assert_eq!(a.family().get(), Some(fam));
  let g = LshBloom::from_bytes(&a.to_bytes()).unwrap();
  assert_eq!(g.family().get(), Some(fam));
  assert!(g.has(&sig).unwrap());
  let mut c = LshBloom::new(opts).unwrap();
  c.family_mut().adopt(Some(other));
  let before = a.to_bytes();
  let err = a.merge(&c).unwrap_err();
  assert_eq!(err.code(), "ERR_SLIMDEX_SIGNATURE_MISMATCH");
  assert_eq!(a.to_bytes(), before, "a refused merge changes nothing");
}

fn exact_jaccard(a: &[String], b: &[String]) -> f64 {
  let sa: std::collections::HashSet<&String> = a.iter().collect();
  let sb: std::collections::HashSet<&String> = b.iter().collect();
  sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
}

#[test]
fn dedup_clusters_planted_near_duplicates() {
  let mut rng = Rng::new(21);
  let vocab: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
  let mut texts: Vec<String> = Vec::new();
  for _ in 0..120 {
    let words: Vec<&str> = (0..200)
      .map(|_| vocab[rng.below(2000) as usize].as_str())
      .collect();
    texts.push(words.join(" "));
    if rng.below(2) == 0 {
      // A near-copy: a couple of words changed, and punctuation/case noise.
      let mut w = words.clone();
      w[rng.below(200) as usize] = "changed";
      texts.push(format!("{}!!", w.join(" ").to_uppercase()));
    }
  }
  texts.push(String::new());
  texts.push("  ...  ".into());
  let opts = ShingleOptions::default();
  let sh: Vec<Vec<String>> = texts.iter().map(|t| shingles(t, &opts)).collect();
  let n = texts.len();
  let mut truth = vec![false; n];
  for i in 0..n {
    for j in 0..i {
      let dup = if sh[i].is_empty() || sh[j].is_empty() {
        sh[i].is_empty() && sh[j].is_empty()
      } else {
        exact_jaccard(&sh[i], &sh[j]) >= 0.8
      };
      truth[i] |= dup;
    }
  }
  for mode in [DedupMode::Lsh, DedupMode::Bloom] {
    let mut d = Deduper::new(DedupOptions {
      mode,
      collect_pairs: true,
      expected_items: 1000,
      ..Default::default()
    })
    .unwrap();
    for chunk in texts.chunks(37) {
      d.push(chunk, Some(2)).unwrap();
    }
    let res = d.finish();
    assert_eq!(res.is_duplicate, truth, "{mode:?}");
    assert_eq!(res.duplicates, truth.iter().filter(|&&t| t).count());
    let empty_first = n - 2;
    assert_eq!(res.clusters[n - 1], empty_first as i32);
    if mode == DedupMode::Lsh {
      for (i, (&c, &t)) in res.clusters.iter().zip(&truth).enumerate() {
        assert!(c as usize <= i);
        assert_eq!(c as usize == i, !t);
      }
    }
    if mode == DedupMode::Lsh {
      assert!(res.pairs.iter().all(|&(a, b, j)| a < b && j >= 0.8));
    }
  }
}

#[test]
fn bad_input_gives_clear_errors() {
  for t in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
    assert!(
      matches!(optimal_params(t, 128, (0.5, 0.5)), Err(Error::InvalidArg(_))),
      "{t}"
    );
    assert!(MinHashLsh::new(LshOptions {
      threshold: t,
      ..Default::default()
    })
    .is_err());
    assert!(LshBloom::new(BloomOptions {
      threshold: t,
      ..Default::default()
    })
    .is_err());
    assert!(LshBloom::new(BloomOptions {
      false_positive_rate: t,
      ..Default::default()
    })
    .is_err());
    assert!(Deduper::new(DedupOptions {
      threshold: t,
      ..Default::default()
    })
    .is_err());
  }
  assert!(optimal_params(0.5, 128, (f64::NAN, 0.5)).is_err());
  assert!(optimal_params(0.5, 128, (0.0, 0.0)).is_err());
  assert!(MinHasher::new(MinHasherOptions {
    num_perm: 0,
    ..Default::default()
  })
  .is_err());
  assert!(MinHasher::new(MinHasherOptions {
    num_perm: MAX_NUM_PERM + 1,
    ..Default::default()
  })
  .is_err());
  assert!(MinHasher::new(MinHasherOptions {
    seed: 1 << 32,
    scheme: Scheme::Datasketch,
    ..Default::default()
  })
  .is_err());
  assert!(MinHashLsh::new(LshOptions {
    bands_rows: Some((10, 13)),
    ..Default::default()
  })
  .is_err());
  assert!(MinHashLsh::new(LshOptions {
    bands_rows: Some((0, 13)),
    ..Default::default()
  })
  .is_err());
  assert!(LshBloom::new(BloomOptions {
    expected_items: 0,
    ..Default::default()
  })
  .is_err());

  let h = hasher(Scheme::Oph, 128, 1);
  let err = h.sign_texts(&["fine text here", "", "ok"], None).unwrap_err();
  assert!(err.to_string().contains("texts[1]"), "{err}");
  assert!(h.sign_texts(&["?!"], None).is_err());
  // A huge document signs fine.
  let huge = "lorem ipsum dolor ".repeat(200_000);
  assert_eq!(h.sign_texts(&[huge], None).unwrap().len(), 128);

  let lsh = MinHashLsh::new(LshOptions::default()).unwrap();
  assert!(matches!(lsh.query(&[1; 64], None), Err(Error::InvalidArg(_))));
  let mut lsh2 = lsh.clone();
  assert!(lsh2.insert(ExternalId::Int(1), &[1; 129]).is_err());
  assert!(lsh2
    .insert_batch(vec![ExternalId::Int(1)], &[1; 256], None)
    .is_err());
  assert!(matches!(
    lsh2.insert_batch(vec![ExternalId::Int(1), ExternalId::Int(1)], &[1; 256], None),
    Err(Error::DuplicateId(_))
  ));
  assert!(lsh2.is_empty(), "a failed batch must leave the index unchanged");
  let f = LshBloom::new(BloomOptions {
    expected_items: 10,
    ..Default::default()
  })
  .unwrap();
  assert!(f.has(&[0; 127]).is_err());
  assert!(jaccard(&[1; 128], &[1; 64]).is_err());
}

#[test]
fn bbit_estimator_is_unbiased() {
  let mut rng = Rng::new(17);
  for bits in [1u32, 2, 4, 8] {
    for &j in &[0.3, 0.8] {
      let trials = 300;
      let mut errs = Vec::new();
      for t in 0..trials {
        let h = hasher(Scheme::Oph, 256, t);
        let (a, b, exact) = set_pair(&mut rng, 500, j);
        let sigs = [sign_hashes(&h, &a), sign_hashes(&h, &b)].concat();
        let packed = bbit_compact(&sigs, 256, bits).unwrap();
        let per = bbit_bytes(256, bits);
        errs.push(bbit_jaccard(&packed[..per], &packed[per..], 256, bits).unwrap() - exact);
      }
      let (m, v) = mean_var(&errs);
      let se = (v / trials as f64).sqrt();
      assert!(
        m.abs() <= 4.5 * se + 0.002,
        "bBits={bits} J={j}: mean error {m:.4} (SE {se:.4})"
      );
    }
  }
}
