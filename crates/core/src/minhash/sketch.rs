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
use rayon::prelude::*;
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
}

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
    Ok(MinHasher {
      opts,
      token_seed,
      a,
      b,
    })
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
    parallel::with_threads(threads, || {
      out
        .par_chunks_mut(k)
        .zip(texts.par_iter())
        .enumerate()
        .try_for_each(|(i, (o, t))| {
          self
            .sign_text_into(t.as_ref(), o)
            .map_err(|e| Error::InvalidArg(format!("texts[{i}]: {e}")))
        })
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
    parallel::with_threads(threads, || {
      out
        .par_chunks_mut(k)
        .zip(sets.par_iter())
        .enumerate()
        .try_for_each(|(i, (o, set))| {
          self
            .sign_tokens_into(set.iter().map(|t| t.as_ref()), o)
            .map_err(|e| Error::InvalidArg(format!("tokenSets[{i}]: {e}")))
        })
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

struct OphState {
  bins: Vec<u64>,
  filled: Vec<bool>,
  any: bool,
}

impl OphState {
  fn new(k: usize) -> Self {
    OphState {
      bins: vec![u64::MAX; k],
      filled: vec![false; k],
      any: false,
    }
  }
  #[inline]
  fn update(&mut self, h: u64) {
    let j = ((h as u128 * self.bins.len() as u128) >> 64) as usize;
    if !self.filled[j] || h < self.bins[j] {
      self.bins[j] = h;
      self.filled[j] = true;
    }
    self.any = true;
  }
  fn finish(&self, mh: &MinHasher, out: &mut [u32]) -> Result<()> {
    check_out(out, self.bins.len())?;
    if !self.any {
      return Err(empty_error());
    }
    for (i, o) in out.iter_mut().enumerate() {
      if self.filled[i] {
        *o = self.bins[i] as u32;
        continue;
      }
      // Probe the ORIGINAL bins (not `out`): see the module doc for why this terminates.
      let mut t = 1u64;
      loop {
        let j = mh.probe(i, t);
        if self.filled[j] {
          *o = self.bins[j] as u32;
          break;
        }
        t += 1;
      }
    }
    Ok(())
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
