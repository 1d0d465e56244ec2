//! LSHBloom (Khan et al., arXiv 2411.04257): banded LSH where each band's hash table is
//! replaced by a Bloom filter over the band keys. It answers "has a document sharing a band
//! with this one been seen?" in a few bytes per document, with no ids and no deletion.
//!
//! Differences from the reference code (datasketch `MinHashLSHBloom`):
//! - items are our salted 64-bit band keys, not `sum(band) mod p`;
//! - filters are cache-blocked (each item sets/tests `probes` bits inside one 64-byte block:
//!   one cache miss per band), sized with the exact blocked-Bloom false-positive formula
//!   (Poisson number of items per block);
//! - `false_positive_rate` is the TOTAL extra rate over all bands: each band gets
//!   p_band = 1 − (1 − p)^(1/b), so that 1 − (1 − p_band)^b = p.

use super::family::{FamilySlot, FAMILY_SECTION};
use super::lsh::{band_keys_into, check_bands, check_threshold, optimal_params};
use crate::io::{read_file, ByteReader, ByteWriter, Bytes, Container, ContainerWriter, Kind};
use crate::{Error, Result};
use std::path::Path;

const BLOCK_BYTES: usize = 64;
const BLOCK_BITS: u64 = 512;
const MAX_PROBES: u32 = 16;

/// Options of an [`LshBloom`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BloomOptions {
  /// Jaccard threshold in (0, 1); default 0.8 (the LSHBloom paper's).
  pub threshold: f64,
  /// Signature length; default 128.
  pub num_perm: usize,
  /// Number of documents the filters are sized for (≥ 1).
  pub expected_items: u64,
  /// Total extra false-positive rate over all bands, in (0, 1); default 1e-5.
  pub false_positive_rate: f64,
  /// (false-positive, false-negative) weights of the (b, r) objective; default (0.5, 0.5).
  pub weights: (f64, f64),
  /// Explicit (bands, rows); None → chosen like MinHashLSH.
  pub bands_rows: Option<(usize, usize)>,
}

impl Default for BloomOptions {
  fn default() -> Self {
    BloomOptions {
      threshold: 0.8,
      num_perm: 128,
      expected_items: 1_000_000,
      false_positive_rate: 1e-5,
      weights: (0.5, 0.5),
      bands_rows: None,
    }
  }
}

/// False-positive rate of a blocked Bloom filter with `blocks` 512-bit blocks, `n` items and
/// `k` probes per item: Σ_i Poisson(i; n/blocks) · (1 − (1 − 1/512)^(k·i))^k.
pub fn blocked_fpr(n: u64, blocks: u64, k: u32) -> f64 {
  let lambda = n as f64 / blocks as f64;
  // Sum the Poisson terms around the mean until they vanish.
  let lo = (lambda - 12.0 * lambda.sqrt() - 12.0).max(0.0) as u64;
  let hi = (lambda + 12.0 * lambda.sqrt() + 12.0) as u64;
  let mut total = 0.0;
  for i in lo..=hi {
    let ln_p = -lambda + i as f64 * lambda.max(f64::MIN_POSITIVE).ln() - ln_factorial(i);
    let fill = 1.0 - (1.0 - 1.0 / BLOCK_BITS as f64).powf((k as u64 * i) as f64);
    total += ln_p.exp() * fill.powi(k as i32);
  }
  total
}

fn ln_factorial(n: u64) -> f64 {
  if n < 2 {
    0.0
  } else {
    libm::lgamma(n as f64 + 1.0)
  }
}

/// The smallest (blocks, probes) reaching `fp` for `n` items.
pub fn size_filter(n: u64, fp: f64) -> (u64, u32) {
  let mut best = (u64::MAX, 1u32);
  for k in 1..=MAX_PROBES {
    // Binary search on the number of blocks (fpr decreases with blocks), starting from the
    // classic Bloom optimum (a lower bound: blocking only adds false positives), which also
    // keeps the Poisson sums short.
    let classic_bits = n as f64 * -fp.ln() / std::f64::consts::LN_2.powi(2);
    let start = ((classic_bits / BLOCK_BITS as f64) as u64).max(1);
    let (mut lo, mut hi) = (start, start);
    while blocked_fpr(n, hi, k) > fp {
      hi = hi.saturating_mul(2);
      if hi > 1 << 40 {
        break;
      }
    }
    while lo < hi {
      let mid = lo + (hi - lo) / 2;
      if blocked_fpr(n, mid, k) <= fp {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if lo < best.0 {
      best = (lo, k);
    }
  }
  best
}

enum Storage {
  Owned(Vec<u8>),
  /// A mapped file and the byte range of the bit arrays inside it (copied on first write).
  Mapped(Bytes, usize, usize),
}

/// One cache-blocked Bloom filter per band, stored back to back.
pub struct LshBloom {
  opts: BloomOptions,
  bands: usize,
  rows: usize,
  /// Per-band false-positive rate.
  band_fp: f64,
  blocks: u64,
  probes: u32,
  /// Documents inserted (merges add counts).
  count: u64,
  bits: Storage,
  /// The hasher family of the signatures inserted so far, when the callers said.
  family: FamilySlot,
}

impl std::fmt::Debug for LshBloom {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("LshBloom")
      .field("opts", &self.opts)
      .field("bands", &self.bands)
      .field("rows", &self.rows)
      .field("blocks", &self.blocks)
      .field("probes", &self.probes)
      .field("count", &self.count)
      .finish()
  }
}

#[inline]
fn mix(h: u64) -> u64 {
  crate::rng::mix64(h ^ 0x626c_6f6f_6d5f_6b31)
}

/// Calls `f` with `probes` bit positions in a 512-bit block: independent 9-bit chunks of a
/// SplitMix64 stream seeded by the item hash. (Double hashing `h1 + j·h2 mod 512` was tried
/// first: in a domain this small its progressions overlap and the false-positive rate doubled.)
#[inline]
fn positions(h: u64, probes: u32, mut f: impl FnMut(usize)) {
  let mut state = h;
  let mut word = 0u64;
  let mut left = 0;
  for _ in 0..probes {
    if left == 0 {
      state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
      word = crate::rng::mix64(state);
      left = 7;
    }
    f((word & (BLOCK_BITS - 1)) as usize);
    word >>= 9;
    left -= 1;
  }
}

impl LshBloom {
  pub fn new(opts: BloomOptions) -> Result<Self> {
    check_threshold(opts.threshold, "threshold")?;
    let p = opts.false_positive_rate;
    if !(p > 0.0 && p < 1.0) {
      return Err(Error::InvalidArg(format!(
        "falsePositiveRate must be strictly between 0 and 1 (got {p})"
      )));
    }
    if opts.expected_items == 0 || opts.expected_items > 1 << 40 {
      return Err(Error::InvalidArg(format!(
        "expectedItems must be in 1..=2^40 (got {})",
        opts.expected_items
      )));
    }
    let (bands, rows) = match opts.bands_rows {
      Some(br) => br,
      None => optimal_params(opts.threshold, opts.num_perm, opts.weights)?,
    };
    check_bands(opts.num_perm, bands, rows)?;
    // 1 − (1 − p)^(1/b), computed without cancellation for tiny p.
    let band_fp = -libm::expm1(libm::log1p(-p) / bands as f64);
    let (blocks, probes) = size_filter(opts.expected_items, band_fp);
    let total = (blocks as usize)
      .checked_mul(BLOCK_BYTES)
      .and_then(|b| b.checked_mul(bands))
      .ok_or_else(|| Error::invalid("the filters would not fit in memory: lower expectedItems"))?;
    Ok(LshBloom {
      opts,
      bands,
      rows,
      band_fp,
      blocks,
      probes,
      count: 0,
      bits: Storage::Owned(vec![0u8; total]),
      family: FamilySlot::default(),
    })
  }

  pub fn options(&self) -> &BloomOptions {
    &self.opts
  }
  /// The hasher family of the inserted signatures (see [`FamilySlot`]).
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
  /// The false-positive rate each band's filter was sized for.
  pub fn band_false_positive_rate(&self) -> f64 {
    self.band_fp
  }
  /// Documents inserted so far.
  pub fn count(&self) -> u64 {
    self.count
  }
  /// Probes (bits set per item) in each filter.
  pub fn probes(&self) -> u32 {
    self.probes
  }

  fn bytes(&self) -> &[u8] {
    match &self.bits {
      Storage::Owned(v) => v,
      Storage::Mapped(m, start, len) => &m[*start..*start + *len],
    }
  }

  fn bytes_mut(&mut self) -> &mut Vec<u8> {
    if let Storage::Mapped(..) = self.bits {
      self.bits = Storage::Owned(self.bytes().to_vec());
    }
    match &mut self.bits {
      Storage::Owned(v) => v,
      Storage::Mapped(..) => unreachable!("converted above"),
    }
  }

  /// Byte offset of the block of `key` in `band` and the seed of its bit positions.
  #[inline]
  fn locate(&self, band: usize, key: u64) -> (usize, u64) {
    let h = mix(key);
    let block = ((h as u128 * self.blocks as u128) >> 64) as usize;
    ((band * self.blocks as usize + block) * BLOCK_BYTES, h)
  }

  #[inline]
  fn test_key(bits: &[u8], offset: usize, h: u64, probes: u32) -> bool {
    let block = &bits[offset..offset + BLOCK_BYTES];
    let mut all = true;
    positions(h, probes, |pos| all &= block[pos >> 3] & (1 << (pos & 7)) != 0);
    all
  }

  fn keys_of(&self, sig: &[u32]) -> Result<Vec<u64>> {
    if sig.len() != self.opts.num_perm {
      return Err(Error::InvalidArg(format!(
        "signature has {} slots, expected numPerm = {}",
        sig.len(),
        self.opts.num_perm
      )));
    }
    let mut keys = vec![0u64; self.bands];
    band_keys_into(sig, self.bands, self.rows, &mut keys);
    Ok(keys)
  }

  /// Index of the first band whose filter already holds this signature's band key.
  pub fn first_hit(&self, sig: &[u32]) -> Result<Option<usize>> {
    let keys = self.keys_of(sig)?;
    let bits = self.bytes();
    Ok(keys.iter().enumerate().position(|(band, &k)| {
      let (o, h) = self.locate(band, k);
      Self::test_key(bits, o, h, self.probes)
    }))
  }

  /// True when a document sharing a band with `sig` was inserted (or a false positive).
  pub fn has(&self, sig: &[u32]) -> Result<bool> {
    Ok(self.first_hit(sig)?.is_some())
  }

  /// First seen wins: when no band matches, inserts the signature and returns true; when one
  /// does, leaves the filters unchanged and returns false (a near-duplicate).
  pub fn insert_if_new(&mut self, sig: &[u32]) -> Result<bool> {
    if self.has(sig)? {
      return Ok(false);
    }
    self.insert(sig)?;
    Ok(true)
  }

  /// Inserts unconditionally.
  pub fn insert(&mut self, sig: &[u32]) -> Result<()> {
    let keys = self.keys_of(sig)?;
    let locs: Vec<_> = keys
      .iter()
      .enumerate()
      .map(|(band, &k)| self.locate(band, k))
      .collect();
    let probes = self.probes;
    let bits = self.bytes_mut();
    for (o, h) in locs {
      positions(h, probes, |pos| bits[o + (pos >> 3)] |= 1 << (pos & 7));
    }
    self.count += 1;
    Ok(())
  }

  /// Streams a flat batch through [`insert_if_new`](Self::insert_if_new) in order.
  pub fn insert_if_new_batch(&mut self, sigs: &[u32]) -> Result<Vec<bool>> {
    crate::validate::vector_count(sigs.len(), self.opts.num_perm, "signatures")?;
    sigs
      .chunks_exact(self.opts.num_perm)
      .map(|s| self.insert_if_new(s))
      .collect()
  }

  fn same_shape(&self, o: &LshBloom) -> bool {
    self.opts.num_perm == o.opts.num_perm
      && self.bands == o.bands
      && self.rows == o.rows
      && self.blocks == o.blocks
      && self.probes == o.probes
  }

  /// Bitwise OR of another filter set built with the same parameters (map-reduce).
  pub fn merge(&mut self, other: &LshBloom) -> Result<()> {
    if !self.same_shape(other) {
      return Err(Error::InvalidArg(format!(
        "cannot merge LSHBloom filters with different parameters (numPerm {}/{}, bands {}/{}, rows {}/{}, blocks {}/{}, probes {}/{})",
        self.opts.num_perm,
        other.opts.num_perm,
        self.bands,
        other.bands,
        self.rows,
        other.rows,
        self.blocks,
        other.blocks,
        self.probes,
        other.probes
      )));
    }
    let mut family = self.family;
    family.merge(other.family)?;
    let src = other.bytes().to_vec();
    let dst = self.bytes_mut();
    for (d, s) in dst.iter_mut().zip(&src) {
      *d |= s;
    }
    self.count += other.count;
    self.family = family;
    Ok(())
  }

  /// Bytes of the filters.
  pub fn memory_bytes(&self) -> usize {
    self.bytes().len()
  }

  /// Filter bytes per expected document.
  pub fn bytes_per_document(&self) -> f64 {
    self.memory_bytes() as f64 / self.opts.expected_items as f64
  }

  /// Whether the bits are read from a memory map (until the first write).
  pub fn is_mapped(&self) -> bool {
    matches!(self.bits, Storage::Mapped(..))
  }

  fn params_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.opts.threshold)
      .put(self.opts.num_perm as u64)
      .put(self.opts.expected_items)
      .put(self.opts.false_positive_rate)
      .put(self.opts.weights.0)
      .put(self.opts.weights.1)
      .put(self.bands as u64)
      .put(self.rows as u64)
      .put(self.blocks)
      .put(self.probes)
      .put(self.count);
    p.into_bytes()
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut w = ContainerWriter::new(Kind::LshBloom, self.params_bytes());
    w.section(b"BITS", self.bytes().to_vec());
    if let Some(f) = self.family.section() {
      w.section(FAMILY_SECTION, f);
    }
    w.to_bytes()
  }

  /// Parses and validates; returns the filter and the byte range of the bits in `bytes`.
  fn parse(bytes: &[u8]) -> Result<(LshBloom, usize, usize)> {
    let c = Container::parse(bytes, Kind::LshBloom)?;
    let mut p = ByteReader::new(c.params());
    let threshold = p.get::<f64>("threshold")?;
    let num_perm =
      usize::try_from(p.get::<u64>("numPerm")?).map_err(|_| Error::corrupt("numPerm overflows"))?;
    let expected_items = p.get::<u64>("expectedItems")?;
    let false_positive_rate = p.get::<f64>("falsePositiveRate")?;
    let weights = (p.get::<f64>("weight fp")?, p.get::<f64>("weight fn")?);
    let bands = usize::try_from(p.get::<u64>("bands")?).map_err(|_| Error::corrupt("bands overflows"))?;
    let rows = usize::try_from(p.get::<u64>("rows")?).map_err(|_| Error::corrupt("rows overflows"))?;
    let blocks = p.get::<u64>("blocks")?;
    let probes = p.get::<u32>("probes")?;
    let count = p.get::<u64>("count")?;
    p.finish("parameters")?;
    if num_perm == 0 || num_perm > super::sketch::MAX_NUM_PERM {
      return Err(Error::corrupt(format!("numPerm {num_perm} out of range")));
    }
    check_threshold(threshold, "threshold").map_err(|e| Error::corrupt(e.to_string()))?;
    check_bands(num_perm, bands, rows).map_err(|e| Error::corrupt(e.to_string()))?;
    if !(false_positive_rate > 0.0 && false_positive_rate < 1.0) || expected_items == 0 {
      return Err(Error::corrupt("falsePositiveRate or expectedItems out of range"));
    }
    if blocks == 0 || !(1..=MAX_PROBES).contains(&probes) {
      return Err(Error::corrupt(format!(
        "invalid filter shape: {blocks} blocks, {probes} probes"
      )));
    }
    let bits = c.section(b"BITS")?;
    let want = (blocks as usize)
      .checked_mul(BLOCK_BYTES)
      .and_then(|x| x.checked_mul(bands));
    if want != Some(bits.len()) {
      return Err(Error::corrupt(format!(
        "filter bits have {} bytes, expected {want:?}",
        bits.len()
      )));
    }
    let family = FamilySlot::from_section(c.optional_section(FAMILY_SECTION))?;
    let start = bits.as_ptr() as usize - bytes.as_ptr() as usize;
    let opts = BloomOptions {
      threshold,
      num_perm,
      expected_items,
      false_positive_rate,
      weights,
      bands_rows: Some((bands, rows)),
    };
    let band_fp = -libm::expm1(libm::log1p(-false_positive_rate) / bands as f64);
    let f = LshBloom {
      opts,
      bands,
      rows,
      band_fp,
      blocks,
      probes,
      count,
      bits: Storage::Owned(Vec::new()),
      family,
    };
    Ok((f, start, bits.len()))
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let (mut f, start, len) = Self::parse(bytes)?;
    f.bits = Storage::Owned(bytes[start..start + len].to_vec());
    Ok(f)
  }

  /// Loads a saved file; with `mmap` the bits stay in the mapped file (no copy) until the
  /// first insert or merge copies them to memory.
  pub fn load(path: &Path, mmap: bool) -> Result<Self> {
    let data = read_file(path, mmap)?;
    let (mut f, start, len) = Self::parse(&data)?;
    f.bits = match data {
      Bytes::Owned(mut v) => {
        v.truncate(start + len);
        v.drain(..start);
        Storage::Owned(v)
      }
      mapped @ Bytes::Mapped(_) => Storage::Mapped(mapped, start, len),
    };
    Ok(f)
  }
}
