//! MinHash signatures: three schemes behind one [`MinHasher`].
//!
//! - `Oph` (default): one-permutation hashing with optimal densification (Shrivastava 2017):
//!   one 64-bit hash per token picks its bin (`h·k >> 64`) and competes for the bin minimum
//!   (the full hash is kept, so values from different bins never coincide). Each empty bin i
//!   then probes bins `U(i, 1), U(i, 2), …` of the ORIGINAL (undensified) array, where U is a
//!   2-universal hash of the pair (bin, attempt), and copies the first non-empty one. Both
//!   sets of a pair follow the same probe sequence, so every slot collides with probability J.
//!   No cap on attempts: U(i, t) = (a·(i·2^32 + t) + b) mod p with p = 2^61 − 1 and a ≠ 0 runs
//!   through every residue as t runs through p consecutive values, and every bin owns residues,
//!   so the loop ends (after k/m probes on average, m = non-empty bins). O(|S| + k²/m).
//! - `Classic`: k independent hashes `(a_i·x + b_i) mod (2^61 − 1)` computed exactly with a
//!   128-bit product, x = 64-bit token hash reduced mod p. O(|S|·k).
//! - `Datasketch`: bit-compatible with Python datasketch's default `MinHash`: token hash =
//!   first 4 bytes (little-endian) of SHA-1, permutations drawn from NumPy `RandomState(seed)`,
//!   and the uint64 wrap-around of `a·hv + b` before `% (2^61 − 1)` reproduced on purpose.
//!
//! Output: one `u32` per slot (the low 32 bits of the slot's value; datasketch values are
//! 32-bit already). Empty documents (no shingle) are an error: MinHash is undefined there.

use super::numpy_rng::Mt19937;
use super::shingle::{for_each_shingle, ShingleOptions};
use crate::rng::Rng;
use crate::{parallel, Error, Result};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Mersenne prime 2^61 − 1.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// Largest accepted `num_perm`.
pub const MAX_NUM_PERM: usize = 65_536;

/// Which MinHash construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
  Oph,
  Classic,
  Datasketch,
}

impl Scheme {
  pub fn parse(s: &str) -> Result<Scheme> {
    match s {
      "oph" => Ok(Scheme::Oph),
      "classic" => Ok(Scheme::Classic),
      "datasketch" => Ok(Scheme::Datasketch),
      _ => Err(Error::InvalidArg(format!(
        "scheme must be 'oph', 'classic' or 'datasketch' (got {s:?})"
      ))),
    }
  }
  pub fn name(self) -> &'static str {
    match self {
      Scheme::Oph => "oph",
      Scheme::Classic => "classic",
      Scheme::Datasketch => "datasketch",
    }
  }
  pub fn code(self) -> u8 {
    match self {
      Scheme::Oph => 0,
      Scheme::Classic => 1,
      Scheme::Datasketch => 2,
    }
  }
  pub fn from_code(c: u8) -> Option<Scheme> {
    [Scheme::Oph, Scheme::Classic, Scheme::Datasketch]
      .into_iter()
      .find(|s| s.code() == c)
  }
}

/// Options of a [`MinHasher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinHasherOptions {
  /// Slots per signature, 1..=65536; default 128.
  pub num_perm: usize,
  /// Seed of every hash; default 1 (datasketch's default). The datasketch scheme needs
  /// seed < 2^32 (NumPy's `RandomState` limit).
  pub seed: u64,
  pub scheme: Scheme,
  pub shingle: ShingleOptions,
}

impl Default for MinHasherOptions {
  fn default() -> Self {
    MinHasherOptions {
      num_perm: 128,
      seed: 1,
      scheme: Scheme::Oph,
      shingle: ShingleOptions::default(),
    }
  }
}

/// Computes signatures. Immutable after construction, so it is shared across threads.
#[derive(Clone, Debug)]
pub struct MinHasher {
  opts: MinHasherOptions,
  /// Seed of the 64-bit token hash (oph, classic).
  token_seed: u64,
  /// classic / datasketch: a_i, b_i. oph: the probe hash's a, b.
  a: Vec<u64>,
  b: Vec<u64>,
  /// oph: the first [`PROBE_TABLE`] probes of every bin, `probe(i, 1..=PROBE_TABLE)`, row i
  /// at `[i·PROBE_TABLE, (i+1)·PROBE_TABLE)` (bins < 2^16 because k ≤ 65,536). Densification
  /// reads them instead of evaluating the 2-universal hash; later probes use the formula.
  probe_table: Vec<u16>,
}

/// Probes per bin precomputed for densification: with half the bins filled, 8 probes miss with
/// probability 2^−8, so the formula is rarely evaluated.
const PROBE_TABLE: usize = 8;

#[inline]
fn reduce61(x: u128) -> u64 {
  // x < 2^122: fold twice, then one conditional subtraction.
  let s = (x as u64 & MERSENNE_61) as u128 + (x >> 61);
  let s = (s as u64 & MERSENNE_61) + (s >> 61) as u64;
  if s >= MERSENNE_61 {
    s - MERSENNE_61
  } else {
    s
  }
}

/// (a·x + b) mod (2^61 − 1) for a, b, x < 2^61 − 1.
#[inline]
pub fn affine61(a: u64, x: u64, b: u64) -> u64 {
  reduce61(a as u128 * x as u128 + b as u128)
}

/// datasketch's token hash: SHA-1, first 4 bytes read little-endian.
#[inline]
pub fn sha1_hash32(bytes: &[u8]) -> u32 {
  let d = sha1_smol::Sha1::from(bytes).digest().bytes();
  u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

impl MinHasher {
  pub fn new(opts: MinHasherOptions) -> Result<Self> {
    let k = opts.num_perm;
    if k == 0 || k > MAX_NUM_PERM {
      return Err(Error::InvalidArg(format!(
        "numPerm must be an integer in 1..={MAX_NUM_PERM} (got {k})"
      )));
    }
    opts.shingle.validate()?;
    let token_seed = crate::rng::mix64(opts.seed ^ 0x6d69_6e68_6173_6821);
    let (a, b) = match opts.scheme {
      Scheme::Oph => {
        let mut rng = Rng::new(opts.seed ^ 0x6f70_6864_656e_7331);
        (vec![1 + rng.below(MERSENNE_61 - 1)], vec![rng.below(MERSENNE_61)])
      }
      Scheme::Classic => {
        let mut rng = Rng::new(opts.seed ^ 0x636c_6173_7369_6331);
        let mut a = Vec::with_capacity(k);
        let mut b = Vec::with_capacity(k);
        for _ in 0..k {
          a.push(1 + rng.below(MERSENNE_61 - 1));
          b.push(rng.below(MERSENNE_61));
        }
        (a, b)
      }
      Scheme::Datasketch => {
        let seed = u32::try_from(opts.seed).map_err(|_| {
          Error::InvalidArg(format!(
            "seed must be in 0..=4294967295 for scheme 'datasketch' (got {})",
            opts.seed
          ))
        })?;
        // datasketch: for each perm, a = randint(1, p), then b = randint(0, p) (interleaved).
        let mut g = Mt19937::new(seed);
        let mut a = Vec::with_capacity(k);
        let mut b = Vec::with_capacity(k);
        for _ in 0..k {
          a.push(g.randint_u64(1, MERSENNE_61));
          b.push(g.randint_u64(0, MERSENNE_61));
        }
        (a, b)
      }
    };
    let mut mh = MinHasher {
      opts,
      token_seed,
      a,
      b,
      probe_table: Vec::new(),
    };
    if opts.scheme == Scheme::Oph {
      let table: Vec<u16> = (0..k)
        .flat_map(|i| (1..=PROBE_TABLE as u64).map(move |t| (i, t)))
        .map(|(i, t)| u16::try_from(mh.probe(i, t)).unwrap_or(u16::MAX))
        .collect();
      mh.probe_table = table;
    }
    Ok(mh)
  }

  pub fn options(&self) -> &MinHasherOptions {
    &self.opts
  }
  pub fn num_perm(&self) -> usize {
    self.opts.num_perm
  }

  /// Signs one document given as its distinct-or-not tokens (raw bytes, not re-shingled).
  /// `out.len()` must be `num_perm`. Errors when there is no token.
  pub fn sign_tokens_into<'t>(
    &self,
    tokens: impl IntoIterator<Item = &'t [u8]>,
    out: &mut [u32],
  ) -> Result<()> {
    match self.opts.scheme {
      Scheme::Datasketch => {
        let mut st = DatasketchState::new(self.opts.num_perm);
        for t in tokens {
          st.update(self, sha1_hash32(t));
        }
        st.finish(out)
      }
      Scheme::Oph => {
        let mut st = OphState::new(self.opts.num_perm);
        for t in tokens {
          st.update(xxh3_64_with_seed(t, self.token_seed));
        }
        st.finish(self, out)
      }
      Scheme::Classic => {
        let mut st = ClassicState::new(self.opts.num_perm);
        for t in tokens {
          st.update(self, xxh3_64_with_seed(t, self.token_seed));
        }
        st.finish(out)
      }
    }
  }

  /// Signs one text: shingles it with the hasher's shingle options, then hashes the shingles.
  pub fn sign_text_into(&self, text: &str, out: &mut [u32]) -> Result<()> {
    let sh = &self.opts.shingle;
    let emitted = match self.opts.scheme {
      Scheme::Datasketch => {
        let mut st = DatasketchState::new(self.opts.num_perm);
        let c = for_each_shingle(text, sh, |s| st.update(self, sha1_hash32(s)));
        if c > 0 {
          st.finish(out)?;
        }
        c
      }
      Scheme::Oph => {
        let mut st = OphState::new(self.opts.num_perm);
        let c = for_each_shingle(text, sh, |s| st.update(xxh3_64_with_seed(s, self.token_seed)));
        if c > 0 {
          st.finish(self, out)?;
        }
        c
      }
      Scheme::Classic => {
        let mut st = ClassicState::new(self.opts.num_perm);
        let c = for_each_shingle(text, sh, |s| {
          st.update(self, xxh3_64_with_seed(s, self.token_seed))
        });
        if c > 0 {
          st.finish(out)?;
        }
        c
      }
    };
    if emitted == 0 {
      return Err(Error::invalid(
        "the text has no letter or digit, so it has no shingle to sign",
      ));
    }
    Ok(())
  }

  /// Signs a batch of texts in parallel; the result is flat, `texts.len() × num_perm`.
  /// Errors name the first document that has no shingle.
  pub fn sign_texts<S: AsRef<str> + Sync>(&self, texts: &[S], threads: Option<usize>) -> Result<Vec<u32>> {
    let k = self.opts.num_perm;
    let mut out = vec![0u32; texts.len() * k];
    parallel::try_map_chunks_mut(threads, &mut out, k, |i, o| {
      self
        .sign_text_into(texts[i].as_ref(), o)
        .map_err(|e| Error::InvalidArg(format!("texts[{i}]: {e}")))
    })?;
    Ok(out)
  }

  /// Signs a batch of token sets in parallel; the result is flat, `sets.len() × num_perm`.
  pub fn sign_token_sets<S: AsRef<[u8]> + Sync>(
    &self,
    sets: &[Vec<S>],
    threads: Option<usize>,
  ) -> Result<Vec<u32>> {
    let k = self.opts.num_perm;
    let mut out = vec![0u32; sets.len() * k];
    parallel::try_map_chunks_mut(threads, &mut out, k, |i, o| {
      self
        .sign_tokens_into(sets[i].iter().map(|t| t.as_ref()), o)
        .map_err(|e| Error::InvalidArg(format!("tokenSets[{i}]: {e}")))
    })?;
    Ok(out)
  }

  /// Signs token sets given in one flat buffer, Arrow-style: token t is
  /// `data[token_offsets[t]..token_offsets[t + 1]]` and document d holds tokens
  /// `doc_offsets[d]..doc_offsets[d + 1]`. Same signatures as [`MinHasher::sign_token_sets`]
  /// over the same tokens; the result is flat, `(doc_offsets.len() − 1) × num_perm`.
  /// Offsets must be non-decreasing and in range (checked).
  pub fn sign_token_offsets(
    &self,
    data: &[u8],
    token_offsets: &[u32],
    doc_offsets: &[u32],
    threads: Option<usize>,
  ) -> Result<Vec<u32>> {
    check_offsets(token_offsets, data.len(), "tokenOffsets", "data bytes")?;
    check_offsets(doc_offsets, token_offsets.len() - 1, "docOffsets", "tokens")?;
    let k = self.opts.num_perm;
    let docs = doc_offsets.len() - 1;
    let mut out = vec![0u32; docs * k];
    let token = |t: usize| &data[token_offsets[t] as usize..token_offsets[t + 1] as usize];
    parallel::try_map_chunks_mut(threads, &mut out, k, |d, o| {
      let (lo, hi) = (doc_offsets[d] as usize, doc_offsets[d + 1] as usize);
      self
        .sign_tokens_into((lo..hi).map(token), o)
        .map_err(|e| Error::InvalidArg(format!("document {d}: {e}")))
    })?;
    Ok(out)
  }

  /// Signs a set given by precomputed 64-bit token hashes (oph and classic only; used by
  /// the estimation tests and by callers that hash tokens themselves).
  pub fn sign_hashes_into(&self, hashes: &[u64], out: &mut [u32]) -> Result<()> {
    match self.opts.scheme {
      Scheme::Oph => {
        let mut st = OphState::new(self.opts.num_perm);
        hashes.iter().for_each(|&h| st.update(h));
        st.finish(self, out)
      }
      Scheme::Classic => {
        let mut st = ClassicState::new(self.opts.num_perm);
        hashes.iter().for_each(|&h| st.update(self, h));
        st.finish(out)
      }
      Scheme::Datasketch => Err(Error::invalid(
        "scheme 'datasketch' hashes tokens with SHA-1; sign tokens instead",
      )),
    }
  }

  /// The oph probe: bin visited by empty bin `i` at attempt `t` (t ≥ 1).
  #[inline]
  fn probe(&self, i: usize, t: u64) -> usize {
    let x = ((i as u64) << 32) + t;
    let x = if x >= MERSENNE_61 { x - MERSENNE_61 } else { x };
    let h = affine61(self.a[0], x, self.b[0]);
    ((h as u128 * self.opts.num_perm as u128) >> 61) as usize
  }
}

/// Offsets into something of `len` units: at least one entry, non-decreasing, last ≤ len.
pub(super) fn check_offsets(offsets: &[u32], len: usize, name: &str, units: &str) -> Result<()> {
  if offsets.is_empty() {
    return Err(Error::InvalidArg(format!(
      "{name} must have at least one entry (0 for no items)"
    )));
  }
  if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
    return Err(Error::InvalidArg(format!(
      "{name} must be non-decreasing ({name}[{}] = {} < {name}[{i}] = {})",
      i + 1,
      offsets[i + 1],
      offsets[i]
    )));
  }
  let last = offsets[offsets.len() - 1] as usize;
  if last > len {
    return Err(Error::InvalidArg(format!(
      "{name} ends at {last}, past the {len} {units}"
    )));
  }
  Ok(())
}

fn check_out(out: &[u32], k: usize) -> Result<()> {
  if out.len() != k {
    return Err(Error::InvalidArg(format!(
      "signature buffer has {} slots, expected numPerm = {k}",
      out.len()
    )));
  }
  Ok(())
}

fn empty_error() -> Error {
  Error::invalid("the document has no token: a MinHash signature is undefined for the empty set")
}

/// Value of an OPH bin that no token reached. Token hashes are capped at `EMPTY_BIN − 1`, a
/// deterministic map (both sets of a pair apply it), so a bin is filled iff it is not EMPTY.
const EMPTY_BIN: u64 = u64::MAX;

thread_local! {
  /// Bins of the OPH sketch being built on this thread, reused across documents.
  static OPH_BINS: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

struct OphState {
  bins: Vec<u64>,
  tokens: usize,
}

impl OphState {
  fn new(k: usize) -> Self {
    let mut bins = OPH_BINS.with(|c| c.take());
    bins.clear();
    bins.resize(k, EMPTY_BIN);
    OphState { bins, tokens: 0 }
  }
  #[inline(always)]
  fn update(&mut self, h: u64) {
    let h = h.min(EMPTY_BIN - 1);
    // The high bits pick the bin (Lemire's multiply-shift range reduction, no division).
    let j = ((h as u128 * self.bins.len() as u128) >> 64) as usize;
    if let Some(b) = self.bins.get_mut(j) {
      *b = (*b).min(h);
    }
    self.tokens += 1;
  }
  fn finish(&self, mh: &MinHasher, out: &mut [u32]) -> Result<()> {
    check_out(out, self.bins.len())?;
    if self.tokens == 0 {
      return Err(empty_error());
    }
    let bins = &self.bins;
    // Filled bins are their own slot; only the empty ones (about half of them at |S| ≈ k) are
    // densified, found 64 at a time through a bit mask (built without branches: whether a bin
    // is empty is a coin flip for sparse sets, which a branch would mispredict half the time).
    for ((outs, chunk), w) in out.chunks_mut(64).zip(bins.chunks(64)).zip(0..) {
      let mut empty = 0u64;
      for (b, (o, &v)) in outs.iter_mut().zip(chunk).enumerate() {
        *o = v as u32;
        empty |= u64::from(v == EMPTY_BIN) << b;
      }
      while empty != 0 {
        let b = empty.trailing_zeros() as usize;
        empty &= empty - 1;
        outs[b] = self.densified(mh, w * 64 + b) as u32;
      }
    }
    Ok(())
  }

  /// The value of empty bin `i`: the first non-empty ORIGINAL bin (not `out`, see the module
  /// doc for why this terminates) along its probe sequence.
  #[inline(always)]
  fn densified(&self, mh: &MinHasher, i: usize) -> u64 {
    let bins = &self.bins;
    // The tabled probes (same values as `probe`), first non-empty picked without branches.
    let row = &mh.probe_table[i * PROBE_TABLE..(i + 1) * PROBE_TABLE];
    let mut v = EMPTY_BIN;
    for &j in row.iter().rev() {
      let b = bins[j as usize];
      v = if b != EMPTY_BIN { b } else { v };
    }
    // All of them empty (rare): further probes by the formula.
    let mut t = PROBE_TABLE as u64 + 1;
    while v == EMPTY_BIN {
      v = bins[mh.probe(i, t)];
      t += 1;
    }
    v
  }
}

impl Drop for OphState {
  fn drop(&mut self) {
    let bins = std::mem::take(&mut self.bins);
    OPH_BINS.with(|c| c.set(bins));
  }
}

struct ClassicState {
  mins: Vec<u64>,
  any: bool,
}

impl ClassicState {
  fn new(k: usize) -> Self {
    ClassicState {
      mins: vec![u64::MAX; k],
      any: false,
    }
  }
  #[inline]
  fn update(&mut self, mh: &MinHasher, h: u64) {
    let x = reduce61(h as u128);
    for ((m, &a), &b) in self.mins.iter_mut().zip(&mh.a).zip(&mh.b) {
      let v = affine61(a, x, b);
      if v < *m {
        *m = v;
      }
    }
    self.any = true;
  }
  fn finish(&self, out: &mut [u32]) -> Result<()> {
    check_out(out, self.mins.len())?;
    if !self.any {
      return Err(empty_error());
    }
    for (o, &m) in out.iter_mut().zip(&self.mins) {
      *o = m as u32;
    }
    Ok(())
  }
}

struct DatasketchState {
  mins: Vec<u32>,
  any: bool,
}

impl DatasketchState {
  fn new(k: usize) -> Self {
    DatasketchState {
      mins: vec![u32::MAX; k],
      any: false,
    }
  }
  #[inline]
  fn update(&mut self, mh: &MinHasher, hv: u32) {
    let hv = hv as u64;
    for ((m, &a), &b) in self.mins.iter_mut().zip(&mh.a).zip(&mh.b) {
      // NumPy uint64 arithmetic: the product and the sum wrap mod 2^64 before `% p`.
      let v = (a.wrapping_mul(hv).wrapping_add(b) % MERSENNE_61) as u32;
      if v < *m {
        *m = v;
      }
    }
    self.any = true;
  }
  fn finish(&self, out: &mut [u32]) -> Result<()> {
    check_out(out, self.mins.len())?;
    if !self.any {
      return Err(empty_error());
    }
    out.copy_from_slice(&self.mins);
    Ok(())
  }
}

#[cfg(test)]
mod densification_tests {
  use super::*;
  use crate::rng::Rng;

  /// The spec's optimal densification written plainly: bins by `h·k >> 64`, minimum per bin,
  /// every empty bin copies the first non-empty original bin of `probe(i, 1), probe(i, 2), …`.
  fn reference(mh: &MinHasher, hashes: &[u64]) -> Vec<u32> {
    let k = mh.num_perm();
    let mut bins: Vec<Option<u64>> = vec![None; k];
    for &h in hashes {
      let h = h.min(EMPTY_BIN - 1);
      let j = ((h as u128 * k as u128) >> 64) as usize;
      bins[j] = Some(bins[j].map_or(h, |v| v.min(h)));
    }
    (0..k)
      .map(|i| {
        let v = (0u64..).find_map(|t| if t == 0 { bins[i] } else { bins[mh.probe(i, t)] });
        v.unwrap_or(0) as u32
      })
      .collect()
  }

  #[test]
  fn table_driven_densification_equals_the_probe_formula() {
    let mut rng = Rng::new(9);
    for k in [1usize, 7, 64, 128, 1000] {
      let mh = MinHasher::new(MinHasherOptions {
        num_perm: k,
        seed: k as u64,
        ..Default::default()
      })
      .unwrap();
      for size in [1usize, 2, 3, 5, 17, 100, 3000] {
        let hashes: Vec<u64> = (0..size).map(|_| rng.next_u64()).collect();
        let mut out = vec![0u32; k];
        mh.sign_hashes_into(&hashes, &mut out).unwrap();
        assert_eq!(out, reference(&mh, &hashes), "k={k} |S|={size}");
      }
    }
  }

  #[test]
  fn packed_token_offsets_sign_like_token_sets_and_bad_offsets_are_refused() {
    let sets: Vec<Vec<String>> = vec![
      vec!["alpha beta".into(), "gamma".into(), "".into()],
      vec!["é日本".into()],
      vec!["x".into(), "alpha beta".into()],
    ];
    let mut data = Vec::new();
    let mut tok = vec![0u32];
    let mut doc = vec![0u32];
    for s in &sets {
      for t in s {
        data.extend_from_slice(t.as_bytes());
        tok.push(data.len() as u32);
      }
      doc.push(tok.len() as u32 - 1);
    }
    for scheme in [Scheme::Oph, Scheme::Classic, Scheme::Datasketch] {
      let mh = MinHasher::new(MinHasherOptions {
        num_perm: 16,
        scheme,
        ..Default::default()
      })
      .unwrap();
      let want = mh.sign_token_sets(&sets, Some(1)).unwrap();
      assert_eq!(
        mh.sign_token_offsets(&data, &tok, &doc, Some(1)).unwrap(),
        want,
        "{scheme:?}"
      );
    }
    let mh = MinHasher::new(MinHasherOptions::default()).unwrap();
    assert!(mh.sign_token_offsets(&data, &[], &doc, None).is_err());
    assert!(mh.sign_token_offsets(&data, &[0, 5, 3], &[0, 2], None).is_err());
    assert!(mh
      .sign_token_offsets(&data, &[0, data.len() as u32 + 1], &[0, 1], None)
      .is_err());
    assert!(mh
      .sign_token_offsets(&data, &tok, &[0, tok.len() as u32], None)
      .is_err());
    // A document without tokens has no signature.
    assert!(mh.sign_token_offsets(&data, &tok, &[0, 0], None).is_err());
    assert!(mh.sign_token_offsets(&data, &tok, &[0], None).unwrap().is_empty());
  }
}
