//! Banded LSH over MinHash signatures.
//!
//! A signature of k slots is cut into b bands of r rows (b·r ≤ k; leftover slots unused).
//! Two signatures become candidates when any band is identical; for Jaccard s that happens
//! with probability 1 − (1 − s^r)^b. [`optimal_params`] chooses (b, r) exactly like
//! datasketch's `_optimal_param`: minimise wFP·∫₀ᵗ P(s) ds + wFN·∫ₜ¹ (1 − P(s)) ds over all
//! b ∈ [1, k], r ∈ [1, ⌊k/b⌋], first minimum in (b, r) order.
//!
//! Band keys are 64-bit xxh3 hashes of the band's slots (little-endian u32s) seeded with the
//! band index, identical on every platform, so external engines can group by them.

use super::estimate::jaccard_unchecked;
use super::family::{FamilySlot, FAMILY_SECTION};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::{parallel, validate, Error, Result};
use hashbrown::HashMap;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Salt mixed with the band index into the band-key hash seed.
const BAND_SALT: u64 = 0x6c73_685f_6261_6e64;

/// Checks a similarity threshold: finite and strictly inside (0, 1).
pub fn check_threshold(t: f64, what: &str) -> Result<()> {
  if !(t > 0.0 && t < 1.0) {
    return Err(Error::InvalidArg(format!(
      "{what} must be a number strictly between 0 and 1 (got {t})"
    )));
  }
  Ok(())
}

// 8-point Gauss–Legendre nodes and weights on [-1, 1].
const GL_X: [f64; 4] = [
  0.183_434_642_495_649_8,
  0.525_532_409_916_329,
  0.796_666_477_413_626_7,
  0.960_289_856_497_536_3,
];
const GL_W: [f64; 4] = [
  0.362_683_783_378_362,
  0.313_706_645_877_887_3,
  0.222_381_034_453_374_5,
  0.101_228_536_290_376_3,
];

/// ∫ f over [lo, hi] with composite 8-point Gauss–Legendre on `panels` panels.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64, panels: usize) -> f64 {
  let h = (hi - lo) / panels as f64;
  let mut sum = 0.0;
  for p in 0..panels {
    let mid = lo + (p as f64 + 0.5) * h;
    let half = 0.5 * h;
    for (&x, &w) in GL_X.iter().zip(&GL_W) {
      sum += w * half * (f(mid - half * x) + f(mid + half * x));
    }
  }
  sum
}

/// Probability that two signatures with Jaccard `s` share at least one of `b` bands of `r` rows.
pub fn collision_probability(s: f64, bands: usize, rows: usize) -> f64 {
  1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

/// datasketch's weighted false-positive / false-negative areas for (b, r) at `threshold`.
pub fn fp_fn_areas(threshold: f64, bands: usize, rows: usize) -> (f64, f64) {
  let fp = integrate(|s| collision_probability(s, bands, rows), 0.0, threshold, 64);
  let fnr = integrate(
    |s| 1.0 - collision_probability(s, bands, rows),
    threshold,
    1.0,
    64,
  );
  (fp, fnr)
}

/// (bands, rows) minimising wFP·FP + wFN·FN (datasketch's objective and tie order).
pub fn optimal_params(threshold: f64, num_perm: usize, weights: (f64, f64)) -> Result<(usize, usize)> {
  check_threshold(threshold, "threshold")?;
  if num_perm == 0 || num_perm > super::sketch::MAX_NUM_PERM {
    return Err(Error::InvalidArg(format!(
      "numPerm must be in 1..={} (got {num_perm})",
      super::sketch::MAX_NUM_PERM
    )));
  }
  let (wfp, wfn) = weights;
  if !(wfp.is_finite() && wfn.is_finite() && wfp >= 0.0 && wfn >= 0.0 && wfp + wfn > 0.0) {
    return Err(Error::InvalidArg(format!(
      "weights must be two finite non-negative numbers, not both 0 (got [{wfp}, {wfn}])"
    )));
  }
  let mut best = (f64::INFINITY, 0, 0);
  for b in 1..=num_perm {
    for r in 1..=num_perm / b {
      let (fp, fnr) = fp_fn_areas(threshold, b, r);
      let err = wfp * fp + wfn * fnr;
      if err < best.0 {
        best = (err, b, r);
      }
    }
  }
  Ok((best.1, best.2))
}

/// Band keys of one signature into `out` (length `bands`).
#[inline]
pub fn band_keys_into(sig: &[u32], bands: usize, rows: usize, out: &mut [u64]) {
  let mut buf = [0u8; 256];
  for (band, o) in out.iter_mut().enumerate().take(bands) {
    let slots = &sig[band * rows..(band + 1) * rows];
    let seed = BAND_SALT ^ (band as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    *o = if rows * 4 <= buf.len() {
      for (i, v) in slots.iter().enumerate() {
        buf[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
      }
      xxh3_64_with_seed(&buf[..rows * 4], seed)
    } else {
      let bytes: Vec<u8> = slots.iter().flat_map(|v| v.to_le_bytes()).collect();
      xxh3_64_with_seed(&bytes, seed)
    };
  }
}

/// Band keys of a flat batch of signatures: `n × bands` u64s, row-major.
pub fn band_keys(
  sigs: &[u32],
  num_perm: usize,
  bands: usize,
  rows: usize,
  threads: Option<usize>,
) -> Result<Vec<u64>> {
  check_bands(num_perm, bands, rows)?;
  let n = validate::vector_count(sigs.len(), num_perm, "signatures")?;
  let mut out = vec![0u64; n * bands];
  parallel::with_threads(threads, || {
    out
      .par_chunks_mut(bands)
      .zip(sigs.par_chunks(num_perm))
      .for_each(|(o, s)| band_keys_into(s, bands, rows, o));
  });
  Ok(out)
}

/// Checks that b bands of r rows fit in a signature of k slots.
pub fn check_bands(num_perm: usize, bands: usize, rows: usize) -> Result<()> {
  if bands == 0 || rows == 0 || bands.checked_mul(rows).is_none_or(|p| p > num_perm) {
    return Err(Error::InvalidArg(format!(
      "bands ({bands}) × rows ({rows}) must be positive and at most numPerm ({num_perm})"
    )));
  }
  Ok(())
}

/// Options of a [`MinHashLsh`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LshOptions {
  /// Jaccard threshold in (0, 1); default 0.9 (datasketch's).
  pub threshold: f64,
  /// Signature length; default 128.
  pub num_perm: usize,
  /// (false-positive, false-negative) weights of the (b, r) objective; default (0.5, 0.5).
  pub weights: (f64, f64),
  /// Explicit (bands, rows); when None they are chosen by [`optimal_params`].
  pub bands_rows: Option<(usize, usize)>,
  /// Keep each signature (k·4 bytes/doc) so queries can be verified by estimated Jaccard.
  pub keep_signatures: bool,
}

impl Default for LshOptions {
  fn default() -> Self {
    LshOptions {
      threshold: 0.9,
      num_perm: 128,
      weights: (0.5, 0.5),
      bands_rows: None,
      keep_signatures: true,
    }
  }
}

/// The banded index: one hash table per band from band key to the internal ids in it.
#[derive(Clone, Debug)]
pub struct MinHashLsh {
  opts: LshOptions,
  bands: usize,
  rows: usize,
  ids: IdMap,
  alive: Vec<bool>,
  live: usize,
  /// `slots × bands` band keys (kept for removal and to rebuild the tables on load).
  keys: Vec<u64>,
  /// `slots × num_perm` signatures when `keep_signatures`.
  sigs: Vec<u32>,
  tables: Vec<HashMap<u64, Vec<u32>>>,
  /// The hasher family of the signatures inserted so far, when the callers said.
  family: FamilySlot,
}

/// One query hit: the id and, when verified, the estimated Jaccard.
#[derive(Clone, Debug, PartialEq)]
pub struct LshHit {
  pub id: ExternalId,
  pub internal: u32,
  pub jaccard: Option<f64>,
}

impl MinHashLsh {
  pub fn new(opts: LshOptions) -> Result<Self> {
    check_threshold(opts.threshold, "threshold")?;
    let (bands, rows) = match opts.bands_rows {
      Some((b, r)) => (b, r),
      None => optimal_params(opts.threshold, opts.num_perm, opts.weights)?,
    };
    check_bands(opts.num_perm, bands, rows)?;
    Ok(MinHashLsh {
      opts,
      bands,
      rows,
      ids: IdMap::new(),
      alive: Vec::new(),
      live: 0,
      keys: Vec::new(),
      sigs: Vec::new(),
      tables: (0..bands).map(|_| HashMap::new()).collect(),
      family: FamilySlot::default(),
    })
  }

  pub fn options(&self) -> &LshOptions {
    &self.opts
  }
  /// The hasher family of the held signatures (see [`FamilySlot`]).
  pub fn family(&self) -> &FamilySlot {
    &self.family
  }
  pub fn family_mut(&mut self) -> &mut FamilySlot {
    &mut self.family
  }
  pub fn bands(&self) -> usize {
    self.bands
  }
  pub fn rows(&self) -> usize {
    self.rows
  }
  /// Number of live (inserted and not removed) documents.
  pub fn len(&self) -> usize {
    self.live
  }
  pub fn is_empty(&self) -> bool {
    self.live == 0
  }

  fn check_sig(&self, sig: &[u32]) -> Result<()> {
    if sig.len() != self.opts.num_perm {
      return Err(Error::InvalidArg(format!(
        "signature has {} slots, expected numPerm = {}",
        sig.len(),
        self.opts.num_perm
      )));
    }
    Ok(())
  }

  /// Inserts a batch (`ids.len()` signatures, flat). All-or-nothing: duplicate ids (within
  /// the batch or with live documents) or wrong lengths leave the index unchanged. A removed
  /// id may be inserted again.
  pub fn insert_batch(
    &mut self,
    ids: Vec<ExternalId>,
    sigs: &[u32],
    threads: Option<usize>,
  ) -> Result<Vec<u32>> {
    let k = self.opts.num_perm;
    let n = validate::vector_count(sigs.len(), k, "signatures")?;
    if n != ids.len() {
      return Err(Error::InvalidArg(format!("{} ids for {n} signatures", ids.len())));
    }
    // Split into revived (removed earlier) and new ids, rejecting live and repeated ones.
    let mut seen: HashMap<&ExternalId, ()> = HashMap::with_capacity(n);
    let mut fresh = Vec::new();
    for id in &ids {
      if seen.insert(id, ()).is_some() {
        return Err(Error::DuplicateId(id.to_string()));
      }
      match self.ids.lookup(id) {
        Some(i) if self.alive[i as usize] => return Err(Error::DuplicateId(id.to_string())),
        Some(_) => {}
        None => fresh.push(id.clone()),
      }
    }
    validate::to_u32(self.ids.len() + fresh.len(), "number of documents")?;
    let keys = band_keys(sigs, k, self.bands, self.rows, threads)?;
    let revived: Vec<Option<u32>> = ids.iter().map(|id| self.ids.lookup(id)).collect();
    self.ids.push_checked(fresh);
    let mut internals = Vec::with_capacity(n);
    for (d, id) in ids.iter().enumerate() {
      let slot = match revived[d] {
        Some(s) => s,
        None => self
          .ids
          .lookup(id)
          .ok_or_else(|| Error::Internal("id vanished".into()))?,
      } as usize;
      if slot == self.alive.len() {
        self.alive.push(false);
        self.keys.extend(std::iter::repeat_n(0, self.bands));
        if self.opts.keep_signatures {
          self.sigs.extend(std::iter::repeat_n(0, k));
        }
      }
      let key_row = &keys[d * self.bands..(d + 1) * self.bands];
      self.keys[slot * self.bands..(slot + 1) * self.bands].copy_from_slice(key_row);
      if self.opts.keep_signatures {
        self.sigs[slot * k..(slot + 1) * k].copy_from_slice(&sigs[d * k..(d + 1) * k]);
      }
      for (band, &key) in key_row.iter().enumerate() {
        self.tables[band].entry(key).or_default().push(slot as u32);
      }
      self.alive[slot] = true;
      self.live += 1;
      internals.push(slot as u32);
    }
    Ok(internals)
  }

  /// Inserts one document.
  pub fn insert(&mut self, id: ExternalId, sig: &[u32]) -> Result<u32> {
    self.check_sig(sig)?;
    Ok(self.insert_batch(vec![id], sig, Some(1))?[0])
  }

  /// Removes a document; returns false when the id is not in the index.
  pub fn remove(&mut self, id: &ExternalId) -> bool {
    let Some(slot) = self.ids.lookup(id) else {
      return false;
    };
    let s = slot as usize;
    if !self.alive[s] {
      return false;
    }
    for band in 0..self.bands {
      let key = self.keys[s * self.bands + band];
      if let Some(list) = self.tables[band].get_mut(&key) {
        list.retain(|&x| x != slot);
        if list.is_empty() {
          self.tables[band].remove(&key);
        }
      }
    }
    self.alive[s] = false;
    self.live -= 1;
    true
  }

  pub fn contains(&self, id: &ExternalId) -> bool {
    self.ids.lookup(id).is_some_and(|s| self.alive[s as usize])
  }

  /// Internal ids sharing at least one band with `sig`, ascending.
  pub fn candidates(&self, sig: &[u32]) -> Result<Vec<u32>> {
    self.check_sig(sig)?;
    let mut keys = vec![0u64; self.bands];
    band_keys_into(sig, self.bands, self.rows, &mut keys);
    Ok(self.candidates_for_keys(&keys))
  }

  fn candidates_for_keys(&self, keys: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (band, key) in keys.iter().enumerate() {
      if let Some(list) = self.tables[band].get(key) {
        out.extend_from_slice(list);
      }
    }
    out.sort_unstable();
    out.dedup();
    out
  }

  /// Signature of a live internal id (only with `keep_signatures`).
  pub fn signature(&self, internal: u32) -> Option<&[u32]> {
    let k = self.opts.num_perm;
    let s = internal as usize;
    (self.opts.keep_signatures && self.alive.get(s).copied().unwrap_or(false))
      .then(|| &self.sigs[s * k..(s + 1) * k])
  }

  /// Documents that share a band with `sig`. With `verify = Some(t)` only those whose
  /// estimated Jaccard is ≥ t are returned, with the estimate (needs `keep_signatures`).
  pub fn query(&self, sig: &[u32], verify: Option<f64>) -> Result<Vec<LshHit>> {
    let cands = self.candidates(sig)?;
    self.finish_hits(sig, cands, verify)
  }

  fn finish_hits(&self, sig: &[u32], cands: Vec<u32>, verify: Option<f64>) -> Result<Vec<LshHit>> {
    if let Some(t) = verify {
      if !(0.0..=1.0).contains(&t) {
        return Err(Error::InvalidArg(format!(
          "verify threshold must be in [0, 1] (got {t})"
        )));
      }
      if !self.opts.keep_signatures {
        return Err(Error::InvalidState(
          "verification needs signatures: create the index with keepSignatures".into(),
        ));
      }
    }
    let mut hits = Vec::with_capacity(cands.len());
    for c in cands {
      let jaccard = match verify {
        Some(t) => {
          let j = self.signature(c).map_or(0.0, |s| jaccard_unchecked(s, sig));
          if j < t {
            continue;
          }
          Some(j)
        }
        None => None,
      };
      hits.push(LshHit {
        id: self.ids.get(c),
        internal: c,
        jaccard,
      });
    }
    Ok(hits)
  }

  /// Queries a flat batch in parallel.
  pub fn query_batch(
    &self,
    sigs: &[u32],
    verify: Option<f64>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<LshHit>>> {
    validate::vector_count(sigs.len(), self.opts.num_perm, "signatures")?;
    parallel::with_threads(threads, || {
      sigs
        .par_chunks(self.opts.num_perm)
        .map(|s| self.query(s, verify))
        .collect::<Result<Vec<_>>>()
    })
  }

  /// Every pair of live documents sharing a band, as internal ids (lower first), sorted.
  /// With `verify = Some(t)`, only pairs with estimated Jaccard ≥ t, with the estimate.
  pub fn candidate_pairs(&self, verify: Option<f64>) -> Result<Vec<(u32, u32, Option<f64>)>> {
    if verify.is_some() && !self.opts.keep_signatures {
      return Err(Error::InvalidState(
        "verification needs signatures: create the index with keepSignatures".into(),
      ));
    }
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for table in &self.tables {
      for list in table.values() {
        for (i, &a) in list.iter().enumerate() {
          for &b in &list[i + 1..] {
            pairs.push((a.min(b), a.max(b)));
          }
        }
      }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = Vec::with_capacity(pairs.len());
    for (a, b) in pairs {
      match verify {
        Some(t) => {
          let j = match (self.signature(a), self.signature(b)) {
            (Some(x), Some(y)) => jaccard_unchecked(x, y),
            _ => 0.0,
          };
          if j >= t {
            out.push((a, b, Some(j)));
          }
        }
        None => out.push((a, b, None)),
      }
    }
    Ok(out)
  }

  /// External id of an internal id.
  pub fn external_id(&self, internal: u32) -> ExternalId {
    self.ids.get(internal)
  }

  /// Bytes held, by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let tables: usize = self
      .tables
      .iter()
      .map(|t| t.capacity() * (8 + 24 + 1) + t.values().map(|v| v.capacity() * 4).sum::<usize>())
      .sum();
    vec![
      ("ids", self.ids.memory_bytes() + self.alive.capacity()),
      ("bandKeys", self.keys.capacity() * 8),
      ("signatures", self.sigs.capacity() * 4),
      ("tables", tables),
    ]
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.opts.threshold)
      .put(self.opts.num_perm as u64)
      .put(self.opts.weights.0)
      .put(self.opts.weights.1)
      .put(self.bands as u64)
      .put(self.rows as u64)
      .put_bool(self.opts.keep_signatures)
      .put(self.alive.len() as u64);
    let mut w = ContainerWriter::new(Kind::MinHashLsh, p.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    w.section(b"ALIV", self.alive.iter().map(|&a| a as u8).collect());
    let mut keys = ByteWriter::new();
    keys.put_raw(&self.keys);
    w.section(b"KEYS", keys.into_bytes());
    if self.opts.keep_signatures {
      let mut s = ByteWriter::new();
      s.put_raw(&self.sigs);
      w.section(b"SIGS", s.into_bytes());
    }
    if let Some(f) = self.family.section() {
      w.section(FAMILY_SECTION, f);
    }
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::MinHashLsh)?;
    let mut p = ByteReader::new(c.params());
    let threshold = p.get::<f64>("threshold")?;
    let num_perm =
      usize::try_from(p.get::<u64>("numPerm")?).map_err(|_| Error::corrupt("numPerm overflows"))?;
    let weights = (p.get::<f64>("weight fp")?, p.get::<f64>("weight fn")?);
    let bands = usize::try_from(p.get::<u64>("bands")?).map_err(|_| Error::corrupt("bands overflows"))?;
    let rows = usize::try_from(p.get::<u64>("rows")?).map_err(|_| Error::corrupt("rows overflows"))?;
    let keep_signatures = p.get_bool("keepSignatures")?;
    let slots = usize::try_from(p.get::<u64>("slots")?).map_err(|_| Error::corrupt("slots overflows"))?;
    p.finish("parameters")?;
    if num_perm == 0 || num_perm > super::sketch::MAX_NUM_PERM {
      return Err(Error::corrupt(format!("numPerm {num_perm} out of range")));
    }
    let opts = LshOptions {
      threshold,
      num_perm,
      weights,
      bands_rows: Some((bands, rows)),
      keep_signatures,
    };
    let mut idx = MinHashLsh::new(opts).map_err(|e| Error::corrupt(format!("invalid parameters: {e}")))?;
    idx.family = FamilySlot::from_section(c.optional_section(FAMILY_SECTION))?;
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    idx.ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    if idx.ids.len() != slots {
      return Err(Error::corrupt(format!(
        "{} ids for {slots} documents",
        idx.ids.len()
      )));
    }
    let alive = c.section(b"ALIV")?;
    if alive.len() != slots || alive.iter().any(|&a| a > 1) {
      return Err(Error::corrupt("alive flags do not match the document count"));
    }
    idx.alive = alive.iter().map(|&a| a == 1).collect();
    idx.live = idx.alive.iter().filter(|&&a| a).count();
    let key_count = slots
      .checked_mul(bands)
      .ok_or_else(|| Error::corrupt("band key count overflows"))?;
    let keys = c.section(b"KEYS")?;
    if Some(keys.len()) != key_count.checked_mul(8) {
      return Err(Error::corrupt("band keys do not match the document count"));
    }
    idx.keys = ByteReader::new(keys).get_raw::<u64>(key_count, "band keys")?;
    if keep_signatures {
      let sig_count = slots
        .checked_mul(num_perm)
        .ok_or_else(|| Error::corrupt("signature count overflows"))?;
      let s = c.section(b"SIGS")?;
      if Some(s.len()) != sig_count.checked_mul(4) {
        return Err(Error::corrupt("signatures do not match the document count"));
      }
      idx.sigs = ByteReader::new(s).get_raw::<u32>(sig_count, "signatures")?;
      // Band keys must be those of the stored signatures.
      let mut k = vec![0u64; bands];
      for slot in 0..slots {
        band_keys_into(
          &idx.sigs[slot * num_perm..(slot + 1) * num_perm],
          bands,
          rows,
          &mut k,
        );
        if k[..] != idx.keys[slot * bands..(slot + 1) * bands] {
          return Err(Error::corrupt(format!(
            "band keys of document {slot} do not match its signature"
          )));
        }
      }
    }
    for slot in 0..slots {
      if idx.alive[slot] {
        for band in 0..bands {
          idx.tables[band]
            .entry(idx.keys[slot * bands + band])
            .or_default()
            .push(slot as u32);
        }
      }
    }
    Ok(idx)
  }
}
