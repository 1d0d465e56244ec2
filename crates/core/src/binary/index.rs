//! `BinaryIndex`: 1 bit per dimension for candidate generation by Hamming distance, then
//! rescoring of the candidates with the float query (BPR / binary embedding retrieval).

use super::{hamming, pack};
use crate::huge_bytes::HugeBytes;
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::progress::Progress;
use crate::topk::{sort_hits, Scored};
use crate::{parallel, simd, validate, Error, Result};
use rayon::prelude::*;

/// Where each dimension is cut into a bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
  /// bit = x > 0 (sentence-transformers' `ubinary`).
  Zero,
  /// bit = x > mean of the dimension (learned by `fit` or from the first batch; saved).
  Mean,
}

/// How Hamming candidates are re-ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rescore {
  /// Hamming order; score = dim − 2·hamming (the ±1 inner product).
  None,
  /// float query · (±1 code): better order at no extra memory.
  Asymmetric,
  /// float query · stored int8 vector (per-dimension scale): dim extra bytes per vector.
  Int8,
  /// float query · stored float32 vector: exact, 4·dim extra bytes per vector.
  Float32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
  /// Raw inner product.
  InnerProduct,
  /// Vectors and queries are L2-normalised; scores are cosines (for float32 rescoring).
  Cosine,
}

#[derive(Clone, Debug)]
pub struct BinaryIndexOptions {
  pub dim: usize,
  pub threshold: Threshold,
  pub rescore: Rescore,
  pub metric: Metric,
}

/// A batch validated and encoded by [`BinaryIndex::prepare_add`], ready to append.
pub struct PreparedAdd {
  ids: Vec<ExternalId>,
  codes: Vec<u8>,
  int8: Vec<i8>,
  floats: Vec<f32>,
  /// Means / int8 scales fitted from this batch (first batch of an unfitted index).
  fit: Option<Fit>,
}

/// Per-dimension means (threshold 'mean') and int8 scales (rescore 'int8'), when they apply.
type Fit = (Option<Vec<f32>>, Option<Vec<f32>>);

/// Upper bound on dim: codes and rescoring buffers are sized from it.
const MAX_DIM: usize = 1 << 20;

#[derive(Debug)]
pub struct BinaryIndex {
  opts: BinaryIndexOptions,
  code_bytes: usize,
  /// Per-dimension thresholds when `Threshold::Mean` has been fitted.
  means: Option<Vec<f32>>,
  /// Per-dimension int8 scales (value = q · scale) once calibrated.
  int8_scales: Option<Vec<f32>>,
  /// Scanned in full by every search, so kept on huge pages (see `HugeBytes`).
  codes: HugeBytes,
  int8: Vec<i8>,
  floats: Vec<f32>,
  ids: IdMap,
}

impl BinaryIndex {
  pub fn new(opts: BinaryIndexOptions) -> Result<Self> {
    if opts.dim == 0 || opts.dim > MAX_DIM {
      return Err(Error::InvalidArg(format!(
        "dim must be an integer in [1, {MAX_DIM}] (got {})",
        opts.dim
      )));
    }
    Ok(BinaryIndex {
      code_bytes: pack::code_bytes(opts.dim),
      opts,
      means: None,
      int8_scales: None,
      codes: HugeBytes::new(),
      int8: Vec::new(),
      floats: Vec::new(),
      ids: IdMap::new(),
    })
  }

  pub fn options(&self) -> &BinaryIndexOptions {
    &self.opts
  }
  pub fn dim(&self) -> usize {
    self.opts.dim
  }
  pub fn len(&self) -> usize {
    self.ids.len()
  }
  pub fn is_empty(&self) -> bool {
    self.ids.is_empty()
  }
  pub fn ids(&self) -> &IdMap {
    &self.ids
  }
  pub fn code_bytes(&self) -> usize {
    self.code_bytes
  }
  /// Packed codes of every vector, `len() × code_bytes()` bytes.
  pub fn codes(&self) -> &[u8] {
    &self.codes
  }
  pub fn means(&self) -> Option<&[f32]> {
    self.means.as_deref()
  }
  pub fn is_fitted(&self) -> bool {
    (self.opts.threshold == Threshold::Zero || self.means.is_some())
      && (self.opts.rescore != Rescore::Int8 || self.int8_scales.is_some())
  }

  /// Validates a batch and applies the metric (cosine: L2-normalise). Returns owned vectors.
  fn prepare(&self, vectors: &[f32], what: &str) -> Result<(usize, Vec<f32>)> {
    let n = validate::vector_count(vectors.len(), self.opts.dim, what)?;
    validate::finite(vectors, self.opts.dim, what)?;
    let mut v = vectors.to_vec();
    if self.opts.metric == Metric::Cosine {
      for (i, row) in v.chunks_exact_mut(self.opts.dim).enumerate() {
        normalize(row).map_err(|_| {
          Error::InvalidArg(format!(
            "{what}: vector {i} has zero norm and cannot be used with metric 'cosine'"
          ))
        })?;
      }
    }
    Ok((n, v))
  }

  /// Learns the per-dimension means (threshold 'mean') and int8 scales (rescore 'int8') from a
  /// sample. Only allowed while the index is empty: codes already stored depend on them.
  pub fn fit(&mut self, sample: &[f32]) -> Result<()> {
    if !self.is_empty() {
      return Err(Error::InvalidState(
        "fit() must be called before the first add()".into(),
      ));
    }
    let (n, v) = self.prepare(sample, "sample")?;
    if n == 0 {
      return Err(Error::invalid("fit() needs at least one vector"));
    }
    self.fit_prepared(n, &v);
    Ok(())
  }

  fn fit_prepared(&mut self, n: usize, v: &[f32]) {
    let dim = self.opts.dim;
    if self.opts.threshold == Threshold::Mean {
      let mut sums = vec![0f64; dim];
      for row in v.chunks_exact(dim) {
        for (s, &x) in sums.iter_mut().zip(row) {
          *s += x as f64;
        }
      }
      self.means = Some(sums.into_iter().map(|s| (s / n as f64) as f32).collect());
    }
    if self.opts.rescore == Rescore::Int8 {
      let mut absmax = vec![0f32; dim];
      for row in v.chunks_exact(dim) {
        for (m, &x) in absmax.iter_mut().zip(row) {
          *m = m.max(x.abs());
        }
      }
      // A dimension that is all zero in the sample gets the natural range of normalised
      // embeddings ([-1, 1]) so later non-zero values still quantise sensibly.
      self.int8_scales = Some(
        absmax
          .into_iter()
          .map(|m| if m > 0.0 { m / 127.0 } else { 1.0 / 127.0 })
          .collect(),
      );
    }
  }

  /// Adds vectors with their ids. All-or-nothing: on any error the index is unchanged.
  /// The first batch fits the means / int8 scales when `fit` was not called.
  pub fn add(&mut self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<()> {
    let batch = self.prepare_add(ids, vectors)?;
    self.commit_add(batch)
  }

  /// The expensive half of `add` (validation, normalisation, packing), done under a shared
  /// borrow so concurrent searches keep running; [`commit_add`](Self::commit_add) appends.
  pub fn prepare_add(&self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<PreparedAdd> {
    self.prepare_add_with(ids, vectors, &Progress::none())
  }

  /// [`prepare_add`](Self::prepare_add) reporting packed vectors to `progress`, and stopping
  /// with `Error::Aborted` (index unchanged) when it is cancelled.
  pub fn prepare_add_with(
    &self,
    ids: Vec<ExternalId>,
    vectors: &[f32],
    progress: &Progress,
  ) -> Result<PreparedAdd> {
    let (n, v) = self.prepare(vectors, "vectors")?;
    if ids.len() != n {
      return Err(Error::InvalidArg(format!(
        "ids has {} entries but vectors holds {n} vectors",
        ids.len()
      )));
    }
    if n == 0 {
      return Err(Error::invalid(
        "add() needs at least one vector (got an empty batch)",
      ));
    }
    self.ids.check_new(&ids)?;
    // Fit on a scratch copy when needed so `self` stays untouched until commit.
    let fitted_here = !self.is_fitted();
    let mut scratch;
    let fitted: &BinaryIndex = if fitted_here {
      scratch = BinaryIndex::new(self.opts.clone())?;
      scratch.fit_prepared(n, &v);
      &scratch
    } else {
      self
    };
    let dim = self.opts.dim;
    let cb = self.code_bytes;
    let mut codes = vec![0u8; n * cb];
    let means = fitted.means.as_deref();
    // Packed in slices of rows so progress and cancellation are seen while the batch runs.
    const SLICE_ROWS: usize = 1024;
    let packed = progress.counter(n as u64);
    codes
      .par_chunks_mut(cb * SLICE_ROWS)
      .zip(v.par_chunks(dim * SLICE_ROWS))
      .try_for_each(|(out, rows)| {
        for (code, row) in out.chunks_exact_mut(cb).zip(rows.chunks_exact(dim)) {
          pack::pack_signs_into(row, means, code);
        }
        packed.add((rows.len() / dim) as u64)
      })?;
    let int8 = match (self.opts.rescore, fitted.int8_scales.as_deref()) {
      (Rescore::Int8, Some(scales)) => v
        .chunks_exact(dim)
        .flat_map(|row| row.iter().zip(scales).map(|(&x, &s)| quantize_i8(x, s)))
        .collect(),
      _ => Vec::new(),
    };
    let fit = fitted_here.then(|| (fitted.means.clone(), fitted.int8_scales.clone()));
    let floats = if self.opts.rescore == Rescore::Float32 {
      v
    } else {
      Vec::new()
    };
    Ok(PreparedAdd {
      ids,
      codes,
      int8,
      floats,
      fit,
    })
  }

  /// Appends a prepared batch. Re-checks the ids (another add may have committed since the
  /// batch was prepared); on error nothing changes.
  pub fn commit_add(&mut self, batch: PreparedAdd) -> Result<()> {
    self.ids.check_new(&batch.ids)?;
    match (&batch.fit, self.is_fitted()) {
      (Some((means, scales)), false) => {
        self.means = means.clone();
        self.int8_scales = scales.clone();
      }
      (Some(_), true) => {
        return Err(Error::InvalidState(
          "another add() fitted the index while this batch was being prepared; add it again".into(),
        ))
      }
      (None, _) => {}
    }
    self
      .codes
      .extend_from_slice(&batch.codes)
      .map_err(|e| Error::io("codes", e))?;
    self.int8.extend_from_slice(&batch.int8);
    self.floats.extend_from_slice(&batch.floats);
    self.ids.push_checked(batch.ids);
    Ok(())
  }

  /// Adds already-packed codes (`n × code_bytes`, NumPy `packbits` order, padding bits zero),
  /// e.g. sentence-transformers `ubinary` output. Only for rescore 'none' and 'asymmetric',
  /// which need nothing but the codes. All-or-nothing.
  pub fn add_codes(&mut self, ids: Vec<ExternalId>, codes: &[u8]) -> Result<()> {
    if !matches!(self.opts.rescore, Rescore::None | Rescore::Asymmetric) {
      return Err(Error::InvalidState(
        "addCodes needs rescore 'none' or 'asymmetric' (the other modes store float data)".into(),
      ));
    }
    let cb = self.code_bytes;
    if !codes.len().is_multiple_of(cb) {
      return Err(Error::InvalidArg(format!(
        "codes: length {} is not a multiple of {cb} bytes",
        codes.len()
      )));
    }
    let n = codes.len() / cb;
    if ids.len() != n {
      return Err(Error::InvalidArg(format!(
        "ids has {} entries but codes holds {n} codes",
        ids.len()
      )));
    }
    if n == 0 {
      return Err(Error::invalid(
        "addCodes() needs at least one code (got an empty batch)",
      ));
    }
    check_padding(codes, cb, self.opts.dim)?;
    self.ids.check_new(&ids)?;
    self
      .codes
      .extend_from_slice(codes)
      .map_err(|e| Error::io("codes", e))?;
    self.ids.push_checked(ids);
    Ok(())
  }

  /// Hamming top-k for a packed query code; score = dim − 2·hamming.
  pub fn search_code(&self, code: &[u8], k: usize) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    if code.len() != self.code_bytes {
      return Err(Error::DimMismatch {
        expected: self.code_bytes * 8,
        got: code.len() * 8,
      });
    }
    check_padding(code, self.code_bytes, self.opts.dim)?;
    let dim = self.opts.dim as f32;
    Ok(
      hamming::topk_scan(code, &self.codes, k)
        .into_iter()
        .map(|s| Scored {
          id: s.id,
          score: dim - 2.0 * s.score as f32,
        })
        .collect(),
    )
  }

  /// Top `k` for one query. `candidates` (default 10·k, at least k) is how many Hamming
  /// neighbours are rescored; it is ignored for `Rescore::None`.
  pub fn search(&self, query: &[f32], k: usize, candidates: Option<usize>) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    validate::query_dim(query.len(), self.opts.dim)?;
    let (_, q) = self.prepare(query, "query")?;
    Ok(self.search_prepared(&q, k, candidates))
  }

  fn search_prepared(&self, q: &[f32], k: usize, candidates: Option<usize>) -> Vec<Scored<f32>> {
    let dim = self.opts.dim;
    let mut qcode = vec![0u8; self.code_bytes];
    pack::pack_signs_into(q, self.means.as_deref(), &mut qcode);
    let tier = simd::tier();
    if self.opts.rescore == Rescore::None {
      return hamming::topk_scan_with(tier, &qcode, &self.codes, k)
        .into_iter()
        .map(|s| Scored {
          id: s.id,
          score: dim as f32 - 2.0 * s.score as f32,
        })
        .collect();
    }
    let c = candidates.unwrap_or_else(|| k.saturating_mul(10)).max(k);
    let cands = hamming::topk_scan_with(tier, &qcode, &self.codes, c);
    let table = (self.opts.rescore == Rescore::Asymmetric).then(|| NibbleTable::new(q));
    let mut hits: Vec<Scored<f32>> = cands
      .into_iter()
      .map(|s| Scored {
        id: s.id,
        score: self.rescore(q, table.as_ref(), s.id as usize),
      })
      .collect();
    sort_hits(&mut hits, true);
    hits.truncate(k);
    hits
  }

  fn rescore(&self, q: &[f32], table: Option<&NibbleTable>, i: usize) -> f32 {
    let dim = self.opts.dim;
    match self.opts.rescore {
      Rescore::Asymmetric => {
        let code = &self.codes[i * self.code_bytes..(i + 1) * self.code_bytes];
        table.expect("built for asymmetric rescoring").score(code)
      }
      Rescore::Int8 => {
        let scales = self
          .int8_scales
          .as_deref()
          .expect("int8 index is fitted once it has vectors");
        let row = &self.int8[i * dim..(i + 1) * dim];
        q.iter()
          .zip(row)
          .zip(scales)
          .map(|((&x, &v), &s)| x * (v as f32 * s))
          .sum()
      }
      // SIMD dot (runtime tier) shared with the dense indexes.
      Rescore::Float32 => crate::dense::dot::dot_f32(q, &self.floats[i * dim..(i + 1) * dim]),
      Rescore::None => unreachable!("handled by the caller"),
    }
  }

  /// Searches many queries (flat `nq × dim`) in parallel on at most `threads` threads.
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: usize,
    candidates: Option<usize>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    let (_, q) = self.prepare(queries, "queries")?;
    let dim = self.opts.dim;
    Ok(parallel::with_threads(threads, || {
      q.par_chunks(dim)
        .map(|row| self.search_prepared(row, k, candidates))
        .collect()
    }))
  }

  /// Bytes held, by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    vec![
      ("codes", self.codes.capacity()),
      ("ids", self.ids.memory_bytes()),
      (
        "int8",
        self.int8.capacity() + self.int8_scales.as_ref().map_or(0, |s| s.len() * 4),
      ),
      ("float32", self.floats.capacity() * 4),
      ("means", self.means.as_ref().map_or(0, |m| m.len() * 4)),
    ]
  }

  /// Releases spare capacity (after the last add) so memory matches the data.
  pub fn shrink_to_fit(&mut self) {
    self.codes.shrink_to_fit();
    self.int8.shrink_to_fit();
    self.floats.shrink_to_fit();
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.opts.dim as u64)
      .put(threshold_code(self.opts.threshold))
      .put(rescore_code(self.opts.rescore))
      .put(metric_code(self.opts.metric))
      .put(self.len() as u64);
    let mut w = ContainerWriter::new(Kind::BinaryIndex, p.into_bytes());
    w.section(b"CODE", self.codes.to_vec());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    if let Some(m) = &self.means {
      let mut b = ByteWriter::new();
      b.put_raw(m);
      w.section(b"MEAN", b.into_bytes());
    }
    if let Some(s) = &self.int8_scales {
      let mut b = ByteWriter::new();
      b.put_raw(s);
      w.section(b"I8SC", b.into_bytes());
      w.section(b"I8VC", self.int8.iter().map(|&x| x as u8).collect());
    }
    if self.opts.rescore == Rescore::Float32 {
      let mut b = ByteWriter::new();
      b.put_raw(&self.floats);
      w.section(b"F32V", b.into_bytes());
    }
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::BinaryIndex)?;
    let mut p = ByteReader::new(c.params());
    let dim = usize::try_from(p.get::<u64>("dim")?).map_err(|_| Error::corrupt("dim overflows"))?;
    let threshold = match p.get::<u8>("threshold")? {
      0 => Threshold::Zero,
      1 => Threshold::Mean,
      t => return Err(Error::corrupt(format!("unknown threshold {t}"))),
    };
    let rescore = match p.get::<u8>("rescore")? {
      0 => Rescore::None,
      1 => Rescore::Asymmetric,
      2 => Rescore::Int8,
      3 => Rescore::Float32,
      r => return Err(Error::corrupt(format!("unknown rescore mode {r}"))),
    };
    let metric = match p.get::<u8>("metric")? {
      0 => Metric::InnerProduct,
      1 => Metric::Cosine,
      m => return Err(Error::corrupt(format!("unknown metric {m}"))),
    };
    let n = usize::try_from(p.get::<u64>("count")?).map_err(|_| Error::corrupt("count overflows"))?;
    p.finish("parameters")?;
    let mut idx = BinaryIndex::new(BinaryIndexOptions {
      dim,
      threshold,
      rescore,
      metric,
    })
    .map_err(|e| Error::corrupt(format!("invalid parameters: {e}")))?;
    let expect = |what: &str, got: usize, want: Option<usize>| -> Result<()> {
      match want {
        Some(w) if w == got => Ok(()),
        _ => Err(Error::corrupt(format!(
          "{what} has {got} bytes, expected {want:?} for {n} vectors of dim {dim}"
        ))),
      }
    };
    let codes = c.section(b"CODE")?;
    expect("codes", codes.len(), n.checked_mul(idx.code_bytes))?;
    idx.codes = HugeBytes::try_from(codes).map_err(|e| Error::io("codes", e))?;
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    idx.ids = crate::ids::IdMap::read(&mut r)?;
    r.finish("ids")?;
    if idx.ids.len() != n {
      return Err(Error::corrupt(format!("{} ids for {n} vectors", idx.ids.len())));
    }
    if let Some(m) = c.optional_section(b"MEAN") {
      expect("means", m.len(), Some(dim * 4))?;
      idx.means = Some(ByteReader::new(m).get_raw::<f32>(dim, "means")?);
    }
    if threshold == Threshold::Mean && idx.means.is_none() && n > 0 {
      return Err(Error::corrupt("threshold 'mean' index has vectors but no means"));
    }
    if rescore == Rescore::Int8 {
      if let Some(s) = c.optional_section(b"I8SC") {
        expect("int8 scales", s.len(), Some(dim * 4))?;
        idx.int8_scales = Some(ByteReader::new(s).get_raw::<f32>(dim, "int8 scales")?);
        let v = c.section(b"I8VC")?;
        expect("int8 vectors", v.len(), n.checked_mul(dim))?;
        idx.int8 = v.iter().map(|&x| x as i8).collect();
      } else if n > 0 {
        return Err(Error::corrupt("int8 index has vectors but no scales"));
      }
    }
    if rescore == Rescore::Float32 {
      let f = c.section(b"F32V")?;
      expect(
        "float32 vectors",
        f.len(),
        n.checked_mul(dim).and_then(|x| x.checked_mul(4)),
      )?;
      idx.floats = ByteReader::new(f).get_raw::<f32>(n * dim, "float32 vectors")?;
    }
    for (what, v) in [
      ("means", idx.means.as_deref()),
      ("int8 scales", idx.int8_scales.as_deref()),
      ("float32 vectors", Some(&idx.floats[..])),
    ] {
      if let Some(v) = v {
        if v.iter().any(|x| !x.is_finite()) {
          return Err(Error::corrupt(format!("{what} contain non-finite values")));
        }
      }
    }
    Ok(idx)
  }
}

/// Padding bits (beyond `dim` in the last byte of each code) must be zero, or they would
/// silently add to Hamming distances.
fn check_padding(codes: &[u8], cb: usize, dim: usize) -> Result<()> {
  let pad = cb * 8 - dim;
  if pad == 0 {
    return Ok(());
  }
  let mask = (1u8 << pad) - 1;
  if let Some(i) = codes.chunks_exact(cb).position(|c| c[cb - 1] & mask != 0) {
    return Err(Error::InvalidArg(format!(
      "code {i} has bits set beyond dim {dim} (padding bits must be zero)"
    )));
  }
  Ok(())
}

fn threshold_code(t: Threshold) -> u8 {
  match t {
    Threshold::Zero => 0,
    Threshold::Mean => 1,
  }
}
fn rescore_code(r: Rescore) -> u8 {
  match r {
    Rescore::None => 0,
    Rescore::Asymmetric => 1,
    Rescore::Int8 => 2,
    Rescore::Float32 => 3,
  }
}
fn metric_code(m: Metric) -> u8 {
  match m {
    Metric::InnerProduct => 0,
    Metric::Cosine => 1,
  }
}

/// Asymmetric scoring table: for each nibble (4 code bits) of the code, the 16 possible values
/// of Σ q_i·(±1) over its bits. Scoring a code is then 2·code_bytes lookups instead of dim
/// bit extractions; building it costs 16 adds per 4 dimensions.
struct NibbleTable {
  sums: Vec<f32>,
}

impl NibbleTable {
  fn new(q: &[f32]) -> Self {
    let nibbles = q.len().div_ceil(4);
    let mut sums = vec![0f32; nibbles * 16];
    for n in 0..nibbles {
      for value in 0..16usize {
        // Bit 3 of the nibble is the first of its four dimensions (MSB-first packing); the
        // sum runs in dimension order so the result equals the sequential ±q_i sum exactly
        // when those partial sums are exact, and is within f32 rounding otherwise.
        let mut s = 0f32;
        for b in 0..4 {
          let d = n * 4 + b;
          if d < q.len() {
            s += if (value >> (3 - b)) & 1 == 1 { q[d] } else { -q[d] };
          }
        }
        sums[n * 16 + value] = s;
      }
    }
    NibbleTable { sums }
  }

  #[inline]
  fn score(&self, code: &[u8]) -> f32 {
    let mut s = 0f32;
    for (j, &byte) in code.iter().enumerate() {
      s += self.sums[j * 32 + (byte >> 4) as usize];
      if let Some(low) = self.sums.get(j * 32 + 16 + (byte & 15) as usize) {
        s += low;
      }
    }
    s
  }
}

/// Round to nearest, saturating at ±127 (symmetric range, so −128 is never produced).
fn quantize_i8(x: f32, scale: f32) -> i8 {
  (x / scale).round().clamp(-127.0, 127.0) as i8
}

fn normalize(v: &mut [f32]) -> std::result::Result<(), ()> {
  let norm = v.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt();
  if norm == 0.0 || !norm.is_finite() {
    return Err(());
  }
  for x in v.iter_mut() {
    *x = (*x as f64 / norm) as f32;
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Scalar reference for the brute-force checks.
  fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
  }
  use crate::rng::Rng;

  #[test]
  fn add_reports_progress_and_a_cancelled_add_leaves_the_index_unchanged() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mut rng = Rng::new(3);
    let v = clustered(&mut rng, 5000, 64, 4);
    let opts = BinaryIndexOptions {
      dim: 64,
      threshold: Threshold::Zero,
      rescore: Rescore::None,
      metric: Metric::InnerProduct,
    };
    let idx = BinaryIndex::new(opts).unwrap();
    let ids = |n: usize| (0..n as i64).map(ExternalId::Int).collect::<Vec<_>>();
    let last = AtomicU64::new(0);
    let report = |d: u64, t: u64| {
      assert_eq!(t, 5000);
      last.fetch_max(d, Ordering::Relaxed);
    };
    let batch = idx
      .prepare_add_with(ids(5000), &v, &Progress::new(Some(&report), None))
      .unwrap();
    assert_eq!(last.load(Ordering::Relaxed), 5000);
    let cancelled = AtomicBool::new(true);
    let err = idx.prepare_add_with(ids(5000), &v, &Progress::new(None, Some(&cancelled)));
    assert!(matches!(err, Err(Error::Aborted)));
    assert_eq!(idx.len(), 0);
    let mut idx = idx;
    idx.commit_add(batch).unwrap();
    assert_eq!(idx.len(), 5000);
  }

  fn clustered(rng: &mut Rng, n: usize, dim: usize, clusters: usize) -> Vec<f32> {
    let centers: Vec<f32> = (0..clusters * dim).map(|_| rng.normal() as f32).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
      let c = rng.below(clusters as u64) as usize;
      for j in 0..dim {
        out.push(centers[c * dim + j] + 0.3 * rng.normal() as f32);
      }
    }
    out
  }

  fn exact_topk(data: &[f32], q: &[f32], dim: usize, k: usize) -> Vec<u32> {
    let mut all: Vec<Scored<f32>> = data
      .chunks_exact(dim)
      .enumerate()
      .map(|(i, v)| Scored {
        id: i as u32,
        score: dot(q, v),
      })
      .collect();
    sort_hits(&mut all, true);
    all.into_iter().take(k).map(|s| s.id).collect()
  }

  fn ids(n: usize) -> Vec<ExternalId> {
    (0..n as i64).map(ExternalId::Int).collect()
  }

  #[test]
  fn float32_rescoring_with_all_candidates_is_exact() {
    let mut rng = Rng::new(3);
    let (n, dim) = (500, 64);
    let data = clustered(&mut rng, n, dim, 10);
    let mut idx = BinaryIndex::new(BinaryIndexOptions {
      dim,
      threshold: Threshold::Zero,
      rescore: Rescore::Float32,
      metric: Metric::InnerProduct,
    })
    .unwrap();
    idx.add(ids(n), &data).unwrap();
    for qi in 0..20 {
      let q = &data[qi * dim..(qi + 1) * dim];
      let got: Vec<u32> = idx
        .search(q, 10, Some(n))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
      assert_eq!(got, exact_topk(&data, q, dim, 10));
    }
  }

  #[test]
  fn persistence_round_trip_is_bit_identical() {
    let mut rng = Rng::new(4);
    for rescore in [
      Rescore::None,
      Rescore::Asymmetric,
      Rescore::Int8,
      Rescore::Float32,
    ] {
      let (n, dim) = (50, 37);
      let data = clustered(&mut rng, n, dim, 3);
      let mut idx = BinaryIndex::new(BinaryIndexOptions {
        dim,
        threshold: Threshold::Mean,
        rescore,
        metric: Metric::Cosine,
      })
      .unwrap();
      idx.add(ids(n), &data).unwrap();
      let bytes = idx.to_bytes();
      let back = BinaryIndex::from_bytes(&bytes).unwrap();
      assert_eq!(back.to_bytes(), bytes);
      let q = &data[..dim];
      let a = idx.search(q, 5, None).unwrap();
      let b = back.search(q, 5, None).unwrap();
      assert_eq!(a, b);
    }
  }

  #[test]
  fn rejected_add_leaves_index_unchanged() {
    let mut idx = BinaryIndex::new(BinaryIndexOptions {
      dim: 4,
      threshold: Threshold::Zero,
      rescore: Rescore::Float32,
      metric: Metric::InnerProduct,
    })
    .unwrap();
    idx
      .add(ids(2), &[1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0])
      .unwrap();
    let before = idx.to_bytes();
    assert!(idx
      .add(vec![ExternalId::Int(5)], &[1.0, f32::NAN, 0.0, 0.0])
      .is_err());
    assert!(idx.add(vec![ExternalId::Int(1)], &[1.0, 1.0, 0.0, 0.0]).is_err());
    assert!(idx
      .add(
        vec![ExternalId::Int(7), ExternalId::Int(8)],
        &[1.0, 1.0, 0.0, 0.0]
      )
      .is_err());
    assert!(idx.add(vec![], &[]).is_err());
    assert_eq!(idx.to_bytes(), before);
  }
}
