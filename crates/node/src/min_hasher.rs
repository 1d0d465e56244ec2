//! `MinHasher` binding: batch signing (flat `Uint32Array` out, parallel in the core), plus the
//! stateless MinHash helpers (Jaccard, b-bit compaction, (b, r) choice, band keys).

use crate::convert::to_usize_opt;
use crate::error::{guard, invalid};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::minhash::{self, MinHasher, MinHasherOptions, Scheme, ShingleKind, ShingleOptions};
use std::sync::Arc;

/// Options of `new NativeMinHasher(...)` (validated and defaulted by the TS layer).
#[napi(object, object_to_js = false)]
pub struct MinHasherInit {
  pub num_perm: f64,
  pub seed: f64,
  /// 'oph' | 'classic' | 'datasketch'
  pub scheme: String,
  /// 'word' | 'char'
  pub shingle: String,
  pub ngram: f64,
}

/// The options a hasher was built with.
#[napi(object)]
pub struct MinHasherOptionsOut {
  pub num_perm: u32,
  pub seed: f64,
  pub scheme: String,
  pub shingle: String,
  pub ngram: u32,
}

/// Parses the shared hasher options (also used by `NativeDeduper`).
pub fn parse_hasher(o: &MinHasherInit) -> napi::Result<MinHasherOptions> {
  let num_perm = crate::convert::to_usize(o.num_perm, "numPerm")?;
  let seed = crate::convert::to_usize(o.seed, "seed")? as u64;
  let scheme = guard(|| Scheme::parse(&o.scheme))?;
  let kind = match o.shingle.as_str() {
    "word" => ShingleKind::Word,
    "char" => ShingleKind::Char,
    s => return Err(invalid(format!("shingle must be 'word' or 'char' (got {s:?})"))),
  };
  let n = crate::convert::to_usize(o.ngram, "ngram")?;
  Ok(MinHasherOptions {
    num_perm,
    seed,
    scheme,
    shingle: ShingleOptions { kind, n },
  })
}

#[napi]
pub struct NativeMinHasher {
  inner: Arc<MinHasher>,
}

fn sign_job(h: Arc<MinHasher>, texts: Vec<String>, threads: Option<f64>) -> napi::Result<Job<Uint32Array>> {
  let threads = to_usize_opt(threads, "threads")?;
  Ok(Job::new(move || {
    guard(|| h.sign_texts(&texts, threads)).map(Uint32Array::from)
  }))
}

fn sign_tokens_job(
  h: Arc<MinHasher>,
  sets: Vec<Vec<String>>,
  threads: Option<f64>,
) -> napi::Result<Job<Uint32Array>> {
  let threads = to_usize_opt(threads, "threads")?;
  Ok(Job::new(move || {
    guard(|| h.sign_token_sets(&sets, threads)).map(Uint32Array::from)
  }))
}

/// Signatures of joined token sets (`signJoinedTokens`).
#[napi(object)]
pub struct JoinedSignatures {
  /// documents × numPerm slots; the slots of an ambiguous document are 0.
  pub signatures: Uint32Array,
  /// Ascending indices of the documents that could not be split (sign them from their tokens).
  pub ambiguous: Uint32Array,
}

fn joined_signatures(r: minhash::JoinedSignatures) -> JoinedSignatures {
  JoinedSignatures {
    signatures: Uint32Array::from(r.signatures),
    ambiguous: Uint32Array::from(r.ambiguous),
  }
}

#[napi]
impl NativeMinHasher {
  #[napi(constructor)]
  pub fn new(options: MinHasherInit) -> napi::Result<Self> {
    let opts = parse_hasher(&options)?;
    Ok(NativeMinHasher {
      inner: Arc::new(guard(|| MinHasher::new(opts))?),
    })
  }

  #[napi]
  pub fn options(&self) -> MinHasherOptionsOut {
    let o = self.inner.options();
    MinHasherOptionsOut {
      num_perm: o.num_perm as u32,
      seed: o.seed as f64,
      scheme: o.scheme.name().into(),
      shingle: match o.shingle.kind {
        ShingleKind::Word => "word",
        ShingleKind::Char => "char",
      }
      .into(),
      ngram: o.shingle.n as u32,
    }
  }

  #[napi]
  pub fn sign_sync(&self, texts: Vec<String>, threads: Option<f64>) -> napi::Result<Uint32Array> {
    sign_job(self.inner.clone(), texts, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<Uint32Array>")]
  pub fn sign(
    &self,
    texts: Vec<String>,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<Uint32Array>>> {
    Ok(AsyncTask::with_optional_signal(
      sign_job(self.inner.clone(), texts, threads)?,
      signal,
    ))
  }

  #[napi]
  pub fn sign_tokens_sync(
    &self,
    token_sets: Vec<Vec<String>>,
    threads: Option<f64>,
  ) -> napi::Result<Uint32Array> {
    sign_tokens_job(self.inner.clone(), token_sets, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<Uint32Array>")]
  pub fn sign_tokens(
    &self,
    token_sets: Vec<Vec<String>>,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<Uint32Array>>> {
    Ok(AsyncTask::with_optional_signal(
      sign_tokens_job(self.inner.clone(), token_sets, threads)?,
      signal,
    ))
  }

  /// Signs token sets packed Arrow-style (one UTF-8 buffer, token and document offsets): no
  /// string crosses the JS boundary, the typed arrays are read in place.
  #[napi]
  pub fn sign_token_offsets_sync(
    &self,
    data: &[u8],
    token_offsets: &[u32],
    doc_offsets: &[u32],
    threads: Option<f64>,
  ) -> napi::Result<Uint32Array> {
    let threads = to_usize_opt(threads, "threads")?;
    guard(|| {
      self
        .inner
        .sign_token_offsets(data, token_offsets, doc_offsets, threads)
    })
    .map(Uint32Array::from)
  }

  #[napi(ts_return_type = "Promise<Uint32Array>")]
  pub fn sign_token_offsets(
    &self,
    data: &[u8],
    token_offsets: &[u32],
    doc_offsets: &[u32],
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<Uint32Array>>> {
    let threads = to_usize_opt(threads, "threads")?;
    // The worker thread cannot borrow JS memory: copy (memcpy speed, small next to signing).
    let (h, data, tokens, docs) = (
      self.inner.clone(),
      data.to_vec(),
      token_offsets.to_vec(),
      doc_offsets.to_vec(),
    );
    let job =
      Job::new(move || guard(|| h.sign_token_offsets(&data, &tokens, &docs, threads)).map(Uint32Array::from));
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  /// Signs joined token sets: document d is `data[docOffsets[d], docOffsets[d + 1])`, UTF-8,
  /// its `tokenCounts[d]` tokens joined by U+001F. Documents holding more separators than
  /// tokens − 1 (a token contains U+001F) are listed in `ambiguous` and left unsigned (slots 0),
  /// never mis-split. The typed arrays are read in place; the signatures go into `out`
  /// (documents × numPerm slots) and the ambiguous documents are returned.
  #[napi]
  pub fn sign_joined_tokens_into_sync(
    &self,
    data: &[u8],
    doc_offsets: &[u32],
    token_counts: &[u32],
    mut out: Uint32ArraySlice,
    threads: Option<f64>,
  ) -> napi::Result<Uint32Array> {
    let threads = to_usize_opt(threads, "threads")?;
    // SAFETY: `out` is the result array the TS wrapper (`signTokensSync`) allocated for this
    // call and has not handed out yet, distinct from the scratch buffers behind `data`,
    // `doc_offsets` and `token_counts`; the call is synchronous on the JS thread, so no JS
    // code reads or writes it (or detaches it) while the slice exists.
    let out = unsafe { out.as_mut() };
    guard(|| {
      self
        .inner
        .sign_joined_tokens_into(data, doc_offsets, token_counts, out, threads)
    })
    .map(Uint32Array::from)
  }

  /// The async twin of `signJoinedTokensIntoSync`: copies its inputs (the worker thread
  /// cannot borrow JS memory) and returns new signatures.
  #[napi(ts_return_type = "Promise<JoinedSignatures>")]
  pub fn sign_joined_tokens(
    &self,
    data: &[u8],
    doc_offsets: &[u32],
    token_counts: &[u32],
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<JoinedSignatures>>> {
    let threads = to_usize_opt(threads, "threads")?;
    // The worker thread cannot borrow JS memory: copy (memcpy speed, small next to signing).
    let (h, data, docs, counts) = (
      self.inner.clone(),
      data.to_vec(),
      doc_offsets.to_vec(),
      token_counts.to_vec(),
    );
    let job =
      Job::new(move || guard(|| h.sign_joined_tokens(&data, &docs, &counts, threads)).map(joined_signatures));
    Ok(AsyncTask::with_optional_signal(job, signal))
  }

  /// The shingles of one text under this hasher's shingle options (for inspection and tests).
  #[napi]
  pub fn shingles(&self, text: String) -> Vec<String> {
    minhash::shingles(&text, &self.inner.options().shingle)
  }
}

/// Fraction of equal slots of two signatures (the Jaccard estimate).
#[napi]
pub fn minhash_jaccard(a: &[u32], b: &[u32]) -> napi::Result<f64> {
  guard(|| minhash::jaccard(a, b))
}

/// Packs the lowest `bits` bits of every slot of a flat batch of signatures.
#[napi]
pub fn minhash_bbit_compact(sigs: &[u32], num_perm: f64, bits: f64) -> napi::Result<Uint8Array> {
  let k = crate::convert::to_usize(num_perm, "numPerm")?;
  let b = crate::convert::to_usize(bits, "bBits")?;
  let b = u32::try_from(b).map_err(|_| invalid(format!("bBits must be in 1..=16 (got {bits})")))?;
  guard(|| minhash::bbit_compact(sigs, k, b)).map(Uint8Array::from)
}

/// Corrected Jaccard estimate of two packed b-bit signatures.
#[napi]
pub fn minhash_bbit_jaccard(a: &[u8], b: &[u8], num_perm: f64, bits: f64) -> napi::Result<f64> {
  let k = crate::convert::to_usize(num_perm, "numPerm")?;
  let bb = crate::convert::to_usize(bits, "bBits")?;
  let bb = u32::try_from(bb).map_err(|_| invalid(format!("bBits must be in 1..=16 (got {bits})")))?;
  guard(|| minhash::bbit_jaccard(a, b, k, bb))
}

/// Bands and rows of a banded LSH.
#[napi(object)]
pub struct BandsRows {
  pub bands: u32,
  pub rows: u32,
}

/// datasketch's (b, r) choice for a threshold.
#[napi]
pub fn minhash_optimal_params(
  threshold: f64,
  num_perm: f64,
  weight_fp: f64,
  weight_fn: f64,
) -> napi::Result<BandsRows> {
  let k = crate::convert::to_usize(num_perm, "numPerm")?;
  let (b, r) = guard(|| minhash::optimal_params(threshold, k, (weight_fp, weight_fn)))?;
  Ok(BandsRows {
    bands: b as u32,
    rows: r as u32,
  })
}

/// Band keys of a flat batch of signatures: `n × bands` u64s.
#[napi]
pub fn minhash_band_keys(
  sigs: &[u32],
  num_perm: f64,
  bands: f64,
  rows: f64,
  threads: Option<f64>,
) -> napi::Result<BigUint64Array> {
  let k = crate::convert::to_usize(num_perm, "numPerm")?;
  let b = crate::convert::to_usize(bands, "bands")?;
  let r = crate::convert::to_usize(rows, "rows")?;
  let threads = to_usize_opt(threads, "threads")?;
  guard(|| minhash::band_keys(sigs, k, b, r, threads)).map(BigUint64Array::from)
}

/// Exact pairs of a corpus (ground truth for evaluation).
#[napi(object)]
pub struct ExactPairs {
  pub a: Uint32Array,
  pub b: Uint32Array,
  pub jaccard: Float64Array,
}

/// Every pair of texts whose shingle sets (same shingling as `MinHasher`) have exact Jaccard
/// ≥ threshold: an exact all-pairs join (prefix filtering + verification), for evaluation.
#[napi]
pub fn minhash_exact_pairs(
  texts: Vec<String>,
  shingle: String,
  ngram: f64,
  threshold: f64,
  threads: Option<f64>,
) -> napi::Result<ExactPairs> {
  let kind = match shingle.as_str() {
    "word" => ShingleKind::Word,
    "char" => ShingleKind::Char,
    s => return Err(invalid(format!("shingle must be 'word' or 'char' (got {s:?})"))),
  };
  let opts = ShingleOptions {
    kind,
    n: crate::convert::to_usize(ngram, "ngram")?,
  };
  let threads = to_usize_opt(threads, "threads")?;
  let pairs = guard(|| {
    opts.validate()?;
    let sets = minhash::shingle_sets(&texts, &opts, threads);
    minhash::exact_pairs(&sets, threshold, threads)
  })?;
  let (mut a, mut b, mut j) = (Vec::new(), Vec::new(), Vec::new());
  for (x, y, s) in pairs {
    a.push(x);
    b.push(y);
    j.push(s);
  }
  Ok(ExactPairs {
    a: Uint32Array::from(a),
    b: Uint32Array::from(b),
    jaccard: Float64Array::from(j),
  })
}
