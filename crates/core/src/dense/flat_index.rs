//! `FlatIndex`: exact (exhaustive) search over vectors kept in a compact scalar format —
//! float32, float16, float8 E4M3 or per-dimension int8 — optionally truncated to the first
//! `truncate_to` dimensions (Matryoshka embeddings).
//!
//! The query stays float32; every stored vector is decoded on the fly inside the SIMD dot
//! kernel, so the ranking is exact for the stored (quantized) vectors. Scores: the inner
//! product for ip / cosine, the negated squared distance for l2 (‖q‖² − 2q·x̂ + ‖x̂‖², with
//! ‖x̂‖² of the *decoded* vector stored per row).
//!
//! Matryoshka: vectors and queries are cut to their first `truncate_to` dimensions; with metric
//! cosine they are then renormalised (an MRL prefix is itself an embedding), with ip and l2 they
//! are used as cut.

use super::dot::{dot_e4m3_with, dot_f16_with, dot_f32_with, e4m3_to_f32};
use super::pq::{normalize, Metric};
use super::scalar::{f32_to_e4m3, f32_to_f16, Int8Ranges};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::simd::{self, Tier};
use crate::topk::{Scored, TopMax};
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
  /// 4 bytes per dimension.
  Float32,
  /// IEEE binary16, 2 bytes per dimension.
  Float16,
  /// E4M3, 1 byte per dimension.
  Float8,
  /// Per-dimension affine int8 (calibrated on the first batch or by `fit`), 1 byte per dimension.
  Int8,
}

impl Storage {
  pub fn code(self) -> u8 {
    match self {
      Storage::Float32 => 0,
      Storage::Float16 => 1,
      Storage::Float8 => 2,
      Storage::Int8 => 3,
    }
  }
  fn from_code(c: u8) -> Option<Storage> {
    [Storage::Float32, Storage::Float16, Storage::Float8, Storage::Int8]
      .get(c as usize)
      .copied()
  }
  pub fn bytes_per_dim(self) -> usize {
    match self {
      Storage::Float32 => 4,
      Storage::Float16 => 2,
      Storage::Float8 | Storage::Int8 => 1,
    }
  }
}

#[derive(Clone, Debug)]
pub struct FlatIndexOptions {
  /// Input dimension.
  pub dim: usize,
  pub storage: Storage,
  pub metric: Metric,
  /// Keep only the first `truncate_to` dimensions (1..=dim); `None` keeps all.
  pub truncate_to: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
enum Data {
  F32(Vec<f32>),
  F16(Vec<u16>),
  /// E4M3 or int8 codes.
  U8(Vec<u8>),
}

/// A validated, encoded batch (see [`FlatIndex::prepare_add`]).
pub struct PreparedAdd {
  ids: Vec<ExternalId>,
  data: Data,
  norms: Vec<f32>,
  ranges: Option<Int8Ranges>,
}

pub const MAX_DIM: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct FlatIndex {
  opts: FlatIndexOptions,
  /// Stored dimension (`truncate_to` or `dim`).
  sdim: usize,
  data: Data,
  /// ‖x̂‖² per vector (l2 only).
  norms: Vec<f32>,
  ranges: Option<Int8Ranges>,
  ids: IdMap,
}

impl FlatIndex {
  pub fn new(opts: FlatIndexOptions) -> Result<FlatIndex> {
    if opts.dim == 0 || opts.dim > MAX_DIM {
      return Err(Error::InvalidArg(format!(
        "dim must be an integer in [1, {MAX_DIM}] (got {})",
        opts.dim
      )));
    }
    let sdim = match opts.truncate_to {
      None => opts.dim,
      Some(t) if (1..=opts.dim).contains(&t) => t,
      Some(t) => {
        return Err(Error::InvalidArg(format!(
          "truncateTo must be an integer in [1, dim = {}] (got {t})",
          opts.dim
        )))
      }
    };
    let data = empty(opts.storage);
    Ok(FlatIndex {
      opts,
      sdim,
      data,
      norms: Vec::new(),
      ranges: None,
      ids: IdMap::new(),
    })
  }

  pub fn options(&self) -> &FlatIndexOptions {
    &self.opts
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
  pub fn stored_dim(&self) -> usize {
    self.sdim
  }
  pub fn int8_ranges(&self) -> Option<&Int8Ranges> {
    self.ranges.as_ref()
  }

  /// Validates, truncates and (cosine) renormalises a batch of full-dimension vectors.
  fn prepare(&self, data: &[f32], what: &str) -> Result<(usize, Vec<f32>)> {
    let (dim, sdim) = (self.opts.dim, self.sdim);
    let n = validate::vector_count(data.len(), dim, what)?;
    validate::finite(data, dim, what)?;
    let mut v: Vec<f32> = if sdim == dim {
      data.to_vec()
    } else {
      data
        .chunks_exact(dim)
        .flat_map(|r| r[..sdim].iter().copied())
        .collect()
    };
    if self.opts.metric == Metric::Cosine {
      for (i, row) in v.chunks_exact_mut(sdim).enumerate() {
        normalize(row).map_err(|_| {
          Error::InvalidArg(format!(
            "{what}: vector {i} has zero norm (after truncation) and cannot be used with metric 'cosine'"
          ))
        })?;
      }
    }
    Ok((n, v))
  }

  /// Calibrates the int8 ranges on a sample. Only while empty; only for int8 storage.
  pub fn fit(&mut self, sample: &[f32]) -> Result<()> {
    if self.opts.storage != Storage::Int8 {
      return Err(Error::InvalidState("fit() only applies to storage 'int8'".into()));
    }
    if !self.is_empty() {
      return Err(Error::InvalidState(
        "fit() must be called before the first add()".into(),
      ));
    }
    let (n, v) = self.prepare(sample, "sample")?;
    if n == 0 {
      return Err(Error::invalid("fit() needs at least one vector"));
    }
    self.ranges = Some(Int8Ranges::fit(&v, self.sdim));
    Ok(())
  }

  pub fn add(&mut self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<()> {
    let b = self.prepare_add(ids, vectors)?;
    self.commit_add(b)
  }

  pub fn prepare_add(&self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<PreparedAdd> {
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
    validate::to_u32(self.len() + n, "index size")?;
    self.ids.check_new(&ids)?;
    let sdim = self.sdim;
    let fitted = match (&self.ranges, self.opts.storage) {
      (None, Storage::Int8) => Some(Int8Ranges::fit(&v, sdim)),
      _ => None,
    };
    let data = match self.opts.storage {
      Storage::Float32 => Data::F32(v.clone()),
      Storage::Float16 => {
        let mut h = vec![0u16; v.len()];
        f32_to_f16(&v, &mut h);
        Data::F16(h)
      }
      Storage::Float8 => Data::U8(v.iter().map(|&x| f32_to_e4m3(x)).collect()),
      Storage::Int8 => {
        let r = fitted
          .as_ref()
          .or(self.ranges.as_ref())
          .ok_or_else(|| Error::Internal("int8 ranges missing".into()))?;
        let mut c = vec![0u8; v.len()];
        c.par_chunks_mut(sdim)
          .zip(v.par_chunks(sdim))
          .for_each(|(o, row)| r.encode(row, o));
        Data::U8(c)
      }
    };
    let norms = if self.opts.metric == Metric::L2 {
      let mut buf = vec![0f32; sdim];
      (0..n)
        .map(|i| {
          decode_row(
            &data,
            fitted.as_ref().or(self.ranges.as_ref()),
            self.opts.storage,
            sdim,
            i,
            &mut buf,
          );
          buf.iter().map(|x| x * x).sum()
        })
        .collect()
    } else {
      Vec::new()
    };
    Ok(PreparedAdd {
      ids,
      data,
      norms,
      ranges: fitted,
    })
  }

  pub fn commit_add(&mut self, b: PreparedAdd) -> Result<()> {
    self.ids.check_new(&b.ids)?;
    match (b.ranges, &self.ranges) {
      (Some(r), None) => self.ranges = Some(r),
      (Some(_), Some(_)) => {
        return Err(Error::InvalidState(
          "another add() calibrated the index while this batch was being prepared; add it again".into(),
        ))
      }
      (None, _) => {}
    }
    match (&mut self.data, b.data) {
      (Data::F32(a), Data::F32(x)) => a.extend(x),
      (Data::F16(a), Data::F16(x)) => a.extend(x),
      (Data::U8(a), Data::U8(x)) => a.extend(x),
      _ => return Err(Error::Internal("storage mismatch".into())),
    }
    self.norms.extend(b.norms);
    self.ids.push_checked(b.ids);
    Ok(())
  }

  /// The stored (decoded) vector `i` in the stored dimension.
  pub fn reconstruct(&self, i: usize) -> Option<Vec<f32>> {
    if i >= self.len() {
      return None;
    }
    let mut out = vec![0f32; self.sdim];
    decode_row(
      &self.data,
      self.ranges.as_ref(),
      self.opts.storage,
      self.sdim,
      i,
      &mut out,
    );
    Some(out)
  }

  /// Exact top `k` over the stored vectors.
  pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    validate::query_dim(query.len(), self.opts.dim)?;
    let (_, q) = self.prepare(query, "query")?;
    Ok(self.search_prepared(simd::tier(), &q, k))
  }

  /// Scores of every stored vector for a prepared query (tests and the scan share it).
  fn score_range(&self, tier: Tier, q: &Query, from: usize, to: usize, top: &mut TopMax<f32>) {
    let sdim = self.sdim;
    let mut thr = top.threshold().unwrap_or(f32::NEG_INFINITY);
    for i in from..to {
      let row = i * sdim..(i + 1) * sdim;
      let dot = match &self.data {
        Data::F32(v) => dot_f32_with(tier, &q.q, &v[row]),
        Data::F16(v) => dot_f16_with(tier, &q.q, &v[row]),
        Data::U8(v) if self.opts.storage == Storage::Float8 => dot_e4m3_with(tier, &q.q, &v[row]),
        Data::U8(v) => q.bias + super::dot::dot_u8_with(tier, &q.scaled, &v[row]),
      };
      let s = if self.opts.metric == Metric::L2 {
        -(q.norm - 2.0 * dot + self.norms[i])
      } else {
        dot
      };
      // Ids grow within the range, so a score equal to the threshold can never enter.
      if s > thr && top.push(s, i as u32) {
        thr = top.threshold().unwrap_or(f32::NEG_INFINITY);
      }
    }
  }

  fn query(&self, q: &[f32]) -> Query {
    let (scaled, bias) = match &self.ranges {
      Some(r) if self.opts.storage == Storage::Int8 => (
        q.iter().zip(&r.step).map(|(a, s)| a * s).collect(),
        q.iter().zip(&r.min).map(|(a, m)| a * m).sum(),
      ),
      _ => (Vec::new(), 0.0),
    };
    Query {
      q: q.to_vec(),
      scaled,
      bias,
      norm: q.iter().map(|x| x * x).sum(),
    }
  }

  fn search_prepared(&self, tier: Tier, q: &[f32], k: usize) -> Vec<Scored<f32>> {
    let q = self.query(q);
    const CHUNK: usize = 1 << 14;
    let n = self.len();
    if n <= CHUNK {
      let mut top = TopMax::new(k);
      self.score_range(tier, &q, 0, n, &mut top);
      return top.into_sorted();
    }
    (0..n.div_ceil(CHUNK))
      .into_par_iter()
      .map(|c| {
        let mut top = TopMax::new(k);
        self.score_range(tier, &q, c * CHUNK, ((c + 1) * CHUNK).min(n), &mut top);
        top
      })
      .reduce(
        || TopMax::new(k),
        |mut a, b| {
          a.merge(b);
          a
        },
      )
      .into_sorted()
  }

  /// Many queries (`nq × dim`) in parallel on at most `threads` threads.
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: usize,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    let (_, q) = self.prepare(queries, "queries")?;
    let tier = simd::tier();
    let sdim = self.sdim;
    Ok(parallel::with_threads(threads, || {
      q.par_chunks(sdim)
        .map(|row| {
          let qq = self.query(row);
          let mut top = TopMax::new(k);
          self.score_range(tier, &qq, 0, self.len(), &mut top);
          top.into_sorted()
        })
        .collect()
    }))
  }

  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let vectors = match &self.data {
      Data::F32(v) => v.capacity() * 4,
      Data::F16(v) => v.capacity() * 2,
      Data::U8(v) => v.capacity(),
    };
    vec![
      ("vectors", vectors),
      ("norms", self.norms.capacity() * 4),
      ("ids", self.ids.memory_bytes()),
      (
        "calibration",
        self
          .ranges
          .as_ref()
          .map_or(0, |r| (r.min.len() + r.step.len()) * 4),
      ),
    ]
  }

  pub fn shrink_to_fit(&mut self) {
    match &mut self.data {
      Data::F32(v) => v.shrink_to_fit(),
      Data::F16(v) => v.shrink_to_fit(),
      Data::U8(v) => v.shrink_to_fit(),
    }
    self.norms.shrink_to_fit();
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    p.put(self.opts.dim as u64)
      .put(self.opts.storage.code())
      .put(self.opts.metric.code())
      .put(self.opts.truncate_to.unwrap_or(0) as u64)
      .put(self.len() as u64);
    let mut w = ContainerWriter::new(Kind::FlatIndex, p.into_bytes());
    let vecs = match &self.data {
      Data::F32(v) => {
        let mut b = ByteWriter::new();
        b.put_raw(v);
        b.into_bytes()
      }
      Data::F16(v) => {
        let mut b = ByteWriter::new();
        b.put_raw(v);
        b.into_bytes()
      }
      Data::U8(v) => v.clone(),
    };
    w.section(b"VECS", vecs);
    if self.opts.metric == Metric::L2 {
      let mut b = ByteWriter::new();
      b.put_raw(&self.norms);
      w.section(b"NORM", b.into_bytes());
    }
    if let Some(r) = &self.ranges {
      let mut b = ByteWriter::new();
      b.put_raw(&r.min).put_raw(&r.step);
      w.section(b"I8RG", b.into_bytes());
    }
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<FlatIndex> {
    let c = Container::parse(bytes, Kind::FlatIndex)?;
    let mut p = ByteReader::new(c.params());
    let dim = usize::try_from(p.get::<u64>("dim")?).map_err(|_| Error::corrupt("dim overflows"))?;
    let storage =
      Storage::from_code(p.get::<u8>("storage")?).ok_or_else(|| Error::corrupt("unknown storage"))?;
    let metric = Metric::from_code(p.get::<u8>("metric")?).ok_or_else(|| Error::corrupt("unknown metric"))?;
    let t =
      usize::try_from(p.get::<u64>("truncateTo")?).map_err(|_| Error::corrupt("truncateTo overflows"))?;
    let n = usize::try_from(p.get::<u64>("count")?).map_err(|_| Error::corrupt("count overflows"))?;
    p.finish("parameters")?;
    let mut idx = FlatIndex::new(FlatIndexOptions {
      dim,
      storage,
      metric,
      truncate_to: (t > 0).then_some(t),
    })
    .map_err(|e| Error::corrupt(format!("invalid parameters: {e}")))?;
    let sdim = idx.sdim;
    let values = n
      .checked_mul(sdim)
      .ok_or_else(|| Error::corrupt("size overflows"))?;
    let v = c.section(b"VECS")?;
    if Some(v.len()) != values.checked_mul(storage.bytes_per_dim()) {
      return Err(Error::corrupt(format!(
        "vectors have {} bytes, expected {values} values of {storage:?}",
        v.len()
      )));
    }
    let mut r = ByteReader::new(v);
    idx.data = match storage {
      Storage::Float32 => {
        let x = r.get_raw::<f32>(values, "vectors")?;
        if x.iter().any(|a| !a.is_finite()) {
          return Err(Error::corrupt("vectors contain non-finite values"));
        }
        Data::F32(x)
      }
      Storage::Float16 => {
        let x = r.get_raw::<u16>(values, "vectors")?;
        if x.iter().any(|&h| h & 0x7c00 == 0x7c00) {
          return Err(Error::corrupt("float16 vectors contain Inf or NaN"));
        }
        Data::F16(x)
      }
      Storage::Float8 => {
        if v.iter().any(|&b| b & 0x7f == 0x7f) {
          return Err(Error::corrupt("float8 vectors contain NaN codes"));
        }
        Data::U8(v.to_vec())
      }
      Storage::Int8 => Data::U8(v.to_vec()),
    };
    if metric == Metric::L2 {
      let nb = c.section(b"NORM")?;
      if nb.len() != n * 4 {
        return Err(Error::corrupt("norms have the wrong size"));
      }
      idx.norms = ByteReader::new(nb).get_raw::<f32>(n, "norms")?;
      if idx.norms.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(Error::corrupt("norms are invalid"));
      }
    }
    if storage == Storage::Int8 {
      match c.optional_section(b"I8RG") {
        Some(b) if b.len() == sdim * 8 => {
          let mut r = ByteReader::new(b);
          let min = r.get_raw::<f32>(sdim, "int8 minimums")?;
          let step = r.get_raw::<f32>(sdim, "int8 steps")?;
          if min.iter().any(|x| !x.is_finite()) || step.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(Error::corrupt("int8 ranges are invalid"));
          }
          idx.ranges = Some(Int8Ranges { min, step });
        }
        Some(_) => return Err(Error::corrupt("int8 ranges have the wrong size")),
        None if n > 0 => return Err(Error::corrupt("int8 index has vectors but no ranges")),
        None => {}
      }
    }
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    idx.ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    if idx.ids.len() != n {
      return Err(Error::corrupt(format!("{} ids for {n} vectors", idx.ids.len())));
    }
    Ok(idx)
  }
}

struct Query {
  q: Vec<f32>,
  /// int8: q·step per dimension, and Σ q·min.
  scaled: Vec<f32>,
  bias: f32,
  norm: f32,
}

fn empty(s: Storage) -> Data {
  match s {
    Storage::Float32 => Data::F32(Vec::new()),
    Storage::Float16 => Data::F16(Vec::new()),
    _ => Data::U8(Vec::new()),
  }
}

fn decode_row(
  data: &Data,
  ranges: Option<&Int8Ranges>,
  storage: Storage,
  sdim: usize,
  i: usize,
  out: &mut [f32],
) {
  let row = i * sdim..(i + 1) * sdim;
  match data {
    Data::F32(v) => out.copy_from_slice(&v[row]),
    Data::F16(v) => out
      .iter_mut()
      .zip(&v[row])
      .for_each(|(o, &h)| *o = half::f16::from_bits(h).to_f32()),
    Data::U8(v) if storage == Storage::Float8 => out
      .iter_mut()
      .zip(&v[row])
      .for_each(|(o, &b)| *o = e4m3_to_f32(b)),
    Data::U8(v) => {
      if let Some(r) = ranges {
        r.decode(&v[row], out)
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::dense::kmeans::tests::blobs;
  use crate::topk::sort_hits;

  fn ext(n: usize) -> Vec<ExternalId> {
    (0..n as i64).map(ExternalId::Int).collect()
  }

  const ALL: [Storage; 4] = [Storage::Float32, Storage::Float16, Storage::Float8, Storage::Int8];

  #[test]
  fn search_equals_brute_force_over_the_decoded_vectors() {
    let (dim, n) = (40, 900);
    let data: Vec<f32> = blobs(1, n, dim, 9).iter().map(|x| x * 0.1).collect();
    for storage in ALL {
      for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut idx = FlatIndex::new(FlatIndexOptions {
          dim,
          storage,
          metric,
          truncate_to: None,
        })
        .unwrap();
        idx.add(ext(n), &data).unwrap();
        let dec: Vec<Vec<f32>> = (0..n).map(|i| idx.reconstruct(i).unwrap()).collect();
        for qi in 0..10 {
          let (_, q) = idx
            .prepare(&data[qi * 31 * dim..(qi * 31 + 1) * dim], "q")
            .unwrap();
          let got = idx.search(&data[qi * 31 * dim..(qi * 31 + 1) * dim], 10).unwrap();
          let mut all: Vec<Scored<f32>> = dec
            .iter()
            .enumerate()
            .map(|(i, x)| {
              let d: f64 = q.iter().zip(x).map(|(a, b)| *a as f64 * *b as f64).sum();
              let l: f64 = q
                .iter()
                .zip(x)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
              Scored {
                id: i as u32,
                score: if metric == Metric::L2 { -l as f32 } else { d as f32 },
              }
            })
            .collect();
          sort_hits(&mut all, true);
          // Scores agree to rounding; the id sets agree except for near-ties at the boundary.
          for (g, w) in got.iter().zip(&all) {
            assert!(
              (g.score - w.score).abs() <= 1e-4 * (1.0 + w.score.abs()),
              "{storage:?} {metric:?}: {g:?} vs {w:?}"
            );
          }
          let kth = all[9].score;
          for g in &got {
            let truth = all.iter().find(|s| s.id == g.id).unwrap().score;
            assert!(
              truth >= kth - 1e-4 * (1.0 + kth.abs()),
              "{storage:?} {metric:?}: {g:?} is not in the top 10"
            );
          }
        }
        // Every tier returns the same ids.
        let q = &data[..dim];
        let (_, qp) = idx.prepare(q, "q").unwrap();
        let base = idx.search_prepared(Tier::Scalar, &qp, 5);
        for t in simd::available() {
          let r = idx.search_prepared(t, &qp, 5);
          for (a, b) in r.iter().zip(&base) {
            assert!((a.score - b.score).abs() <= 1e-4 * (1.0 + b.score.abs()));
          }
        }
      }
    }
  }

  #[test]
  fn matryoshka_truncation_equals_the_explicit_computation() {
    let (dim, n, t) = (32, 400, 12);
    let data = blobs(2, n, dim, 5);
    for metric in [Metric::Cosine, Metric::InnerProduct, Metric::L2] {
      let mut a = FlatIndex::new(FlatIndexOptions {
        dim,
        storage: Storage::Float32,
        metric,
        truncate_to: Some(t),
      })
      .unwrap();
      a.add(ext(n), &data).unwrap();
      let cut: Vec<f32> = data.chunks_exact(dim).flat_map(|r| r[..t].to_vec()).collect();
      let mut b = FlatIndex::new(FlatIndexOptions {
        dim: t,
        storage: Storage::Float32,
        metric,
        truncate_to: None,
      })
      .unwrap();
      b.add(ext(n), &cut).unwrap();
      for qi in 0..10 {
        let q = &data[qi * dim..(qi + 1) * dim];
        assert_eq!(a.search(q, 8).unwrap(), b.search(&q[..t], 8).unwrap());
      }
      if metric == Metric::Cosine {
        let r = a.reconstruct(3).unwrap();
        let mut want = data[3 * dim..3 * dim + t].to_vec();
        let norm = want.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        want.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
        assert_eq!(r, want);
      }
    }
  }

  #[test]
  fn recall_of_each_format_against_float32() {
    let (dim, n, nq) = (64, 3000, 30);
    let data = blobs(3, n, dim, 30);
    let queries = blobs(4, nq, dim, 30);
    let mut exact = FlatIndex::new(FlatIndexOptions {
      dim,
      storage: Storage::Float32,
      metric: Metric::Cosine,
      truncate_to: None,
    })
    .unwrap();
    exact.add(ext(n), &data).unwrap();
    let truth = exact.search_batch(&queries, 10, Some(2)).unwrap();
    for (storage, trunc, floor) in [
      (Storage::Float16, None, 0.99),
      (Storage::Float8, None, 0.85),
      (Storage::Int8, None, 0.85),
      (Storage::Float32, Some(32), 0.1),
    ] {
      let mut idx = FlatIndex::new(FlatIndexOptions {
        dim,
        storage,
        metric: Metric::Cosine,
        truncate_to: trunc,
      })
      .unwrap();
      idx.add(ext(n), &data).unwrap();
      let got = idx.search_batch(&queries, 10, Some(2)).unwrap();
      let hits: usize = got
        .iter()
        .zip(&truth)
        .map(|(g, t)| g.iter().filter(|s| t.iter().any(|x| x.id == s.id)).count())
        .sum();
      let recall = hits as f64 / (nq * 10) as f64;
      // Synthetic isotropic blobs are not Matryoshka-trained, so truncation loses a lot here;
      // the floor only guards against a broken path.
      println!("recall@10 {storage:?} truncate {trunc:?}: {recall:.3}");
      assert!(recall >= floor, "{storage:?}: {recall}");
    }
  }

  #[test]
  fn persistence_and_bad_input() {
    let (dim, n) = (12, 120);
    let data = blobs(5, n, dim, 4);
    for storage in ALL {
      let mut idx = FlatIndex::new(FlatIndexOptions {
        dim,
        storage,
        metric: Metric::L2,
        truncate_to: Some(10),
      })
      .unwrap();
      idx.add(ext(n), &data).unwrap();
      let bytes = idx.to_bytes();
      let back = FlatIndex::from_bytes(&bytes).unwrap();
      assert_eq!(back.to_bytes(), bytes);
      assert_eq!(
        back.search(&data[..dim], 5).unwrap(),
        idx.search(&data[..dim], 5).unwrap()
      );
      assert!(matches!(
        FlatIndex::from_bytes(&bytes[..bytes.len() - 3]),
        Err(Error::CorruptFile(_))
      ));
      let before = idx.to_bytes();
      let mut nan = data[..dim].to_vec();
      nan[2] = f32::NAN;
      assert!(matches!(
        idx.add(vec![ExternalId::Int(1000)], &nan),
        Err(Error::InvalidArg(_))
      ));
      assert!(matches!(
        idx.add(vec![ExternalId::Int(0)], &data[..dim]),
        Err(Error::DuplicateId(_))
      ));
      assert_eq!(idx.to_bytes(), before);
      assert!(matches!(
        idx.search(&data[..dim - 2], 5),
        Err(Error::DimMismatch { .. })
      ));
    }
    assert!(FlatIndex::new(FlatIndexOptions {
      dim: 8,
      storage: Storage::Float8,
      metric: Metric::L2,
      truncate_to: Some(9)
    })
    .is_err());
    assert!(FlatIndex::new(FlatIndexOptions {
      dim: 8,
      storage: Storage::Float8,
      metric: Metric::L2,
      truncate_to: Some(0)
    })
    .is_err());
    let mut c = FlatIndex::new(FlatIndexOptions {
      dim: 2,
      storage: Storage::Float32,
      metric: Metric::Cosine,
      truncate_to: None,
    })
    .unwrap();
    assert!(matches!(
      c.add(vec![ExternalId::Int(1)], &[0.0, 0.0]),
      Err(Error::InvalidArg(_))
    ));
  }
}
