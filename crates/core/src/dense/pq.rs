//! Product quantization: the vector is cut into `m` sub-vectors of `dim / m` dimensions and
//! each is replaced by the index of its nearest centroid in a per-subspace codebook of 2^nbits
//! entries (Jégou et al., 2011). Search uses asymmetric distance computation (ADC): an
//! `m × 2^nbits` table of query-to-centroid terms, then `m` lookups per code.
//!
//! Public code layout: 8-bit codes are `m` bytes per vector; 4-bit codes are `⌈m/2⌉` bytes with
//! sub-quantizer 2i in the low nibble and 2i+1 in the high nibble (FAISS's packing order).

use super::kmeans::{self, Assigner, Init, KMeansParams};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::rng::{mix64, Rng};
use crate::simd::Tier;
use crate::{validate, Error, Result};
use rayon::prelude::*;

/// Similarity used by ADC tables and indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
  /// Squared Euclidean distance (smaller is closer).
  L2,
  /// Raw inner product (larger is closer).
  InnerProduct,
  /// Inner product of L2-normalised vectors (vectors and queries are normalised on input).
  Cosine,
}

impl Metric {
  pub fn code(self) -> u8 {
    match self {
      Metric::L2 => 0,
      Metric::InnerProduct => 1,
      Metric::Cosine => 2,
    }
  }
  pub fn from_code(c: u8) -> Option<Metric> {
    match c {
      0 => Some(Metric::L2),
      1 => Some(Metric::InnerProduct),
      2 => Some(Metric::Cosine),
      _ => None,
    }
  }
}

/// Training options.
#[derive(Clone, Debug)]
pub struct PqParams {
  pub dim: usize,
  /// Sub-quantizers; must divide `dim`.
  pub m: usize,
  /// Bits per sub-quantizer code: 4 or 8.
  pub nbits: u32,
  /// k-means iterations per sub-quantizer (default 25).
  pub iters: usize,
  pub seed: u64,
}

/// Largest dim accepted (tables and codebooks are sized from it).
pub const MAX_DIM: usize = 1 << 16;
/// Largest m for 4-bit codes (fast-scan u16 accumulators).
pub const MAX_M_4BIT: usize = 4096;

#[derive(Clone, Debug, PartialEq)]
pub struct ProductQuantizer {
  dim: usize,
  m: usize,
  nbits: u32,
  /// `m × ksub × dsub` centroids.
  codebooks: Vec<f32>,
  /// The same centroids transposed per sub-quantizer (`m × dsub × ksub`) so that table
  /// building runs SIMD lanes across centroids. Derived, never saved.
  books_t: Vec<f32>,
}

pub fn check_params(dim: usize, m: usize, nbits: u32) -> Result<()> {
  if dim == 0 || dim > MAX_DIM {
    return Err(Error::InvalidArg(format!(
      "dim must be an integer in [1, {MAX_DIM}] (got {dim})"
    )));
  }
  if m == 0 || m > dim || !dim.is_multiple_of(m) {
    return Err(Error::InvalidArg(format!(
      "m must divide dim: dim {dim} is not divisible by m {m}"
    )));
  }
  if nbits != 4 && nbits != 8 {
    return Err(Error::InvalidArg(format!("nbits must be 4 or 8 (got {nbits})")));
  }
  // The fast scan sums m quantized entries in u16 lanes; its table scale keeps the sums below
  // 65535 − m/2, which needs m well below 65535.
  if nbits == 4 && m > MAX_M_4BIT {
    return Err(Error::InvalidArg(format!(
      "m must be at most {MAX_M_4BIT} with nbits 4 (got {m})"
    )));
  }
  Ok(())
}

/// Partial seeded shuffle: `cap` row indices out of `n`, sorted.
pub(crate) fn sample_rows(n: usize, cap: usize, seed: u64) -> Vec<usize> {
  if n <= cap {
    return (0..n).collect();
  }
  let mut rng = Rng::new(seed);
  let mut idx: Vec<usize> = (0..n).collect();
  for i in 0..cap {
    let j = i + rng.below((n - i) as u64) as usize;
    idx.swap(i, j);
  }
  let mut pick = idx[..cap].to_vec();
  pick.sort_unstable();
  pick
}

impl ProductQuantizer {
  fn build(dim: usize, m: usize, nbits: u32, codebooks: Vec<f32>) -> ProductQuantizer {
    let (ksub, dsub) = (1usize << nbits, dim / m);
    let mut books_t = vec![0f32; codebooks.len()];
    for s in 0..m {
      for c in 0..ksub {
        for j in 0..dsub {
          books_t[(s * dsub + j) * ksub + c] = codebooks[(s * ksub + c) * dsub + j];
        }
      }
    }
    ProductQuantizer {
      dim,
      m,
      nbits,
      codebooks,
      books_t,
    }
  }

  /// Trains the codebooks on `data` (`n × dim`, finite). Needs n ≥ 2^nbits.
  pub fn train(data: &[f32], p: &PqParams) -> Result<ProductQuantizer> {
    check_params(p.dim, p.m, p.nbits)?;
    let n = validate::vector_count(data.len(), p.dim, "vectors")?;
    validate::finite(data, p.dim, "vectors")?;
    let ksub = 1usize << p.nbits;
    if n < ksub {
      return Err(Error::InvalidArg(format!(
        "training needs at least 2^nbits = {ksub} vectors (one per centroid), got {n}"
      )));
    }
    let (dim, m) = (p.dim, p.m);
    let dsub = dim / m;
    // One sample (FAISS: 256 points per centroid) shared by all sub-quantizers.
    let rows = sample_rows(n, ksub * 256, mix64(p.seed ^ 0x5051));
    let books: Vec<Result<Vec<f32>>> = (0..m)
      .into_par_iter()
      .map(|s| {
        let sub: Vec<f32> = rows
          .iter()
          .flat_map(|&r| data[r * dim + s * dsub..r * dim + (s + 1) * dsub].iter().copied())
          .collect();
        let params = KMeansParams {
          k: ksub,
          iters: p.iters,
          max_points_per_centroid: 0,
          seed: mix64(p.seed.wrapping_add(s as u64)),
          init: Init::Auto,
        };
        Ok(kmeans::train(&sub, dsub, &params)?.centroids)
      })
      .collect();
    let mut codebooks = Vec::with_capacity(m * ksub * dsub);
    for b in books {
      codebooks.extend(b?);
    }
    Ok(ProductQuantizer::build(dim, m, p.nbits, codebooks))
  }

  pub fn from_codebooks(dim: usize, m: usize, nbits: u32, codebooks: Vec<f32>) -> Result<Self> {
    check_params(dim, m, nbits)?;
    if codebooks.len() != dim << nbits {
      return Err(Error::InvalidArg(format!(
        "codebooks must hold {} values (got {})",
        dim << nbits,
        codebooks.len()
      )));
    }
    Ok(ProductQuantizer::build(dim, m, nbits, codebooks))
  }

  pub fn dim(&self) -> usize {
    self.dim
  }
  pub fn m(&self) -> usize {
    self.m
  }
  pub fn nbits(&self) -> u32 {
    self.nbits
  }
  pub fn ksub(&self) -> usize {
    1 << self.nbits
  }
  pub fn dsub(&self) -> usize {
    self.dim / self.m
  }
  pub fn codebooks(&self) -> &[f32] {
    &self.codebooks
  }
  /// Bytes per packed code: m (8-bit) or ⌈m/2⌉ (4-bit).
  pub fn code_size(&self) -> usize {
    if self.nbits == 8 {
      self.m
    } else {
      self.m.div_ceil(2)
    }
  }

  fn centroid(&self, s: usize, c: usize) -> &[f32] {
    let d = self.dsub();
    let o = (s * self.ksub() + c) * d;
    &self.codebooks[o..o + d]
  }

  /// One byte per sub-quantizer (the centroid index), `n × m`, for already validated data.
  pub fn encode_unpacked(&self, data: &[f32]) -> Vec<u8> {
    let (dim, m, dsub, ksub) = (self.dim, self.m, self.dsub(), self.ksub());
    let n = data.len() / dim;
    let per_sub: Vec<Vec<u32>> = (0..m)
      .into_par_iter()
      .map(|s| {
        let a = Assigner::new(&self.codebooks[s * ksub * dsub..(s + 1) * ksub * dsub], dsub);
        let sub: Vec<f32> = data
          .chunks_exact(dim)
          .flat_map(|r| r[s * dsub..(s + 1) * dsub].iter().copied())
          .collect();
        let mut labels = vec![0u32; n];
        let mut dists = vec![0f32; n];
        a.assign_with(crate::simd::tier(), &sub, &mut labels, &mut dists);
        labels
      })
      .collect();
    let mut out = vec![0u8; n * m];
    for (s, labels) in per_sub.iter().enumerate() {
      for (i, &l) in labels.iter().enumerate() {
        out[i * m + s] = l as u8;
      }
    }
    out
  }

  /// Packs unpacked codes into the public layout.
  pub fn pack(&self, unpacked: &[u8]) -> Vec<u8> {
    if self.nbits == 8 {
      return unpacked.to_vec();
    }
    let cs = self.code_size();
    let mut out = vec![0u8; unpacked.len() / self.m * cs];
    for (row, dst) in unpacked.chunks_exact(self.m).zip(out.chunks_exact_mut(cs)) {
      for (s, &c) in row.iter().enumerate() {
        dst[s / 2] |= c << (4 * (s % 2));
      }
    }
    out
  }

  /// Unpacks public codes (validating 4-bit padding) into one byte per sub-quantizer.
  pub fn unpack(&self, codes: &[u8]) -> Result<Vec<u8>> {
    let cs = self.code_size();
    if !codes.len().is_multiple_of(cs) {
      return Err(Error::InvalidArg(format!(
        "codes: length {} is not a multiple of the code size {cs}",
        codes.len()
      )));
    }
    if self.nbits == 8 {
      return Ok(codes.to_vec());
    }
    let mut out = Vec::with_capacity(codes.len() / cs * self.m);
    for (i, code) in codes.chunks_exact(cs).enumerate() {
      for s in 0..self.m {
        out.push((code[s / 2] >> (4 * (s % 2))) & 15);
      }
      if self.m % 2 == 1 && code[cs - 1] >> 4 != 0 {
        return Err(Error::InvalidArg(format!(
          "code {i} has a non-zero padding nibble"
        )));
      }
    }
    Ok(out)
  }

  /// Encodes `n × dim` vectors into packed codes.
  pub fn encode(&self, data: &[f32]) -> Result<Vec<u8>> {
    validate::vector_count(data.len(), self.dim, "vectors")?;
    validate::finite(data, self.dim, "vectors")?;
    Ok(self.pack(&self.encode_unpacked(data)))
  }

  /// Reconstructs vectors from unpacked codes.
  pub fn decode_unpacked(&self, unpacked: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(unpacked.len() / self.m * self.dim);
    for row in unpacked.chunks_exact(self.m) {
      for (s, &c) in row.iter().enumerate() {
        out.extend_from_slice(self.centroid(s, c as usize));
      }
    }
    out
  }

  /// Reconstructs vectors from packed codes.
  pub fn decode(&self, codes: &[u8]) -> Result<Vec<f32>> {
    Ok(self.decode_unpacked(&self.unpack(codes)?))
  }

  /// The ADC table for `q` (already normalised for cosine), `m × ksub`: squared distances
  /// ‖q_s − c‖² for L2, dot products q_s · c otherwise.
  pub fn table_into(&self, q: &[f32], metric: Metric, out: &mut [f32]) {
    self.table_into_with(crate::simd::tier(), q, metric, out)
  }

  /// [`table_into`](Self::table_into) on a given tier; every tier returns the same bits.
  pub fn table_into_with(&self, tier: Tier, q: &[f32], metric: Metric, out: &mut [f32]) {
    let (dsub, ksub) = (self.dsub(), self.ksub());
    let ip = metric != Metric::L2;
    for s in 0..self.m {
      let qs = &q[s * dsub..(s + 1) * dsub];
      let bt = &self.books_t[s * dsub * ksub..(s + 1) * dsub * ksub];
      let o = &mut out[s * ksub..(s + 1) * ksub];
      match tier {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx512 tier is only active when the CPU has AVX-512 F.
        Tier::Avx512 => unsafe { table_avx512(qs, bt, ip, o) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2 tier is only active when the CPU has AVX2.
        Tier::Avx2 => unsafe { table_avx2(qs, bt, ip, o) },
        _ => table_body(qs, bt, ip, o),
      }
    }
  }

  /// Public ADC table: validates the query, normalises it for cosine.
  pub fn adc_table(&self, query: &[f32], metric: Metric) -> Result<Vec<f32>> {
    validate::query_dim(query.len(), self.dim)?;
    validate::finite(query, self.dim, "query")?;
    let mut q = query.to_vec();
    if metric == Metric::Cosine {
      normalize(&mut q)
        .map_err(|_| Error::invalid("query has zero norm and cannot be used with metric 'cosine'"))?;
    }
    let mut t = vec![0f32; self.m * self.ksub()];
    self.table_into(&q, metric, &mut t);
    Ok(t)
  }

  pub fn memory_bytes(&self) -> usize {
    self.codebooks.len() * 4
  }

  pub(crate) fn write_params(&self, w: &mut ByteWriter) {
    w.put(self.dim as u64).put(self.m as u64).put(self.nbits);
  }

  pub(crate) fn read(p: &mut ByteReader<'_>, books: &[u8]) -> Result<ProductQuantizer> {
    let dim = usize::try_from(p.get::<u64>("dim")?).map_err(|_| Error::corrupt("dim overflows"))?;
    let m = usize::try_from(p.get::<u64>("m")?).map_err(|_| Error::corrupt("m overflows"))?;
    let nbits = p.get::<u32>("nbits")?;
    check_params(dim, m, nbits).map_err(|e| Error::corrupt(format!("invalid PQ parameters: {e}")))?;
    let count = dim << nbits;
    if books.len() != count * 4 {
      return Err(Error::corrupt(format!(
        "codebooks have {} bytes, expected {}",
        books.len(),
        count * 4
      )));
    }
    let codebooks = ByteReader::new(books).get_raw::<f32>(count, "codebooks")?;
    if codebooks.iter().any(|x| !x.is_finite()) {
      return Err(Error::corrupt("codebooks contain non-finite values"));
    }
    Ok(ProductQuantizer::build(dim, m, nbits, codebooks))
  }

  pub(crate) fn codebook_bytes(&self) -> Vec<u8> {
    let mut b = ByteWriter::new();
    b.put_raw(&self.codebooks);
    b.into_bytes()
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    self.write_params(&mut p);
    let mut w = ContainerWriter::new(Kind::ProductQuantizer, p.into_bytes());
    w.section(b"PQCB", self.codebook_bytes());
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let c = Container::parse(bytes, Kind::ProductQuantizer)?;
    let mut p = ByteReader::new(c.params());
    let pq = Self::read(&mut p, c.section(b"PQCB")?)?;
    p.finish("parameters")?;
    Ok(pq)
  }
}

/// One sub-quantizer's table row: lanes run across centroids, each adds its terms in
/// dimension order with separate multiply and add, so all tiers agree bit for bit.
#[inline(always)]
fn table_body(qs: &[f32], bt: &[f32], ip: bool, out: &mut [f32]) {
  let ksub = out.len();
  out.fill(0.0);
  for (j, &qj) in qs.iter().enumerate() {
    let row = &bt[j * ksub..(j + 1) * ksub];
    if ip {
      for (o, &c) in out.iter_mut().zip(row) {
        *o += qj * c;
      }
    } else {
      for (o, &c) in out.iter_mut().zip(row) {
        let d = qj - c;
        *o += d * d;
      }
    }
  }
}

/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn table_avx512(qs: &[f32], bt: &[f32], ip: bool, out: &mut [f32]) {
  table_body(qs, bt, ip, out)
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn table_avx2(qs: &[f32], bt: &[f32], ip: bool, out: &mut [f32]) {
  table_body(qs, bt, ip, out)
}

/// Σ_s table[s·ksub + code_s] in sub-quantizer order: the one ADC sum every path uses, so the
/// 8-bit scan, the 4-bit re-ranking and the tests agree bit for bit.
#[inline]
pub fn adc_sum(table: &[f32], ksub: usize, code: &[u8]) -> f32 {
  let mut s = 0f32;
  for (i, &c) in code.iter().enumerate() {
    s += table[i * ksub + c as usize];
  }
  s
}

/// ADC over `n` 8-bit codes (`n × m` bytes) into `out`; four codes per step so the four
/// independent sums overlap their table loads. Same per-code order as [`adc_sum`].
pub fn adc_scan8(table: &[f32], m: usize, codes: &[u8], out: &mut [f32]) {
  let n = codes.len() / m;
  let mut i = 0;
  while i + 4 <= n {
    let (c0, c1, c2, c3) = (
      &codes[i * m..][..m],
      &codes[(i + 1) * m..][..m],
      &codes[(i + 2) * m..][..m],
      &codes[(i + 3) * m..][..m],
    );
    let (mut s0, mut s1, mut s2, mut s3) = (0f32, 0f32, 0f32, 0f32);
    for s in 0..m {
      // A 256-entry array: indexing by a u8 needs no bounds check.
      let t: &[f32; 256] = table[s * 256..s * 256 + 256]
        .try_into()
        .expect("256-entry table row");
      s0 += t[c0[s] as usize];
      s1 += t[c1[s] as usize];
      s2 += t[c2[s] as usize];
      s3 += t[c3[s] as usize];
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
    i += 4;
  }
  while i < n {
    out[i] = adc_sum(table, 256, &codes[i * m..(i + 1) * m]);
    i += 1;
  }
}

pub(crate) fn normalize(v: &mut [f32]) -> std::result::Result<(), ()> {
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
  use crate::dense::kmeans::tests::blobs;

  #[test]
  fn adc_equals_distance_to_the_decoded_vector() {
    let (dim, n) = (24, 600);
    let data = blobs(1, n, dim, 8);
    for nbits in [4, 8] {
      let pq = ProductQuantizer::train(
        &data,
        &PqParams {
          dim,
          m: 6,
          nbits,
          iters: 10,
          seed: 2,
        },
      )
      .unwrap();
      let codes = pq.encode(&data[..50 * dim]).unwrap();
      assert_eq!(codes.len(), 50 * pq.code_size());
      let dec = pq.decode(&codes).unwrap();
      let un = pq.unpack(&codes).unwrap();
      let q = &data[300 * dim..301 * dim];
      for metric in [Metric::L2, Metric::InnerProduct] {
        let t = pq.adc_table(q, metric).unwrap();
        for (i, x) in dec.chunks_exact(dim).enumerate() {
          let adc = adc_sum(&t, pq.ksub(), &un[i * 6..(i + 1) * 6]);
          let want: f32 = match metric {
            Metric::L2 => q.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum(),
            _ => q.iter().zip(x).map(|(a, b)| a * b).sum(),
          };
          assert!(
            (adc - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{nbits} {metric:?}: {adc} vs {want}"
          );
        }
      }
      if nbits == 8 {
        let t = pq.adc_table(q, Metric::L2).unwrap();
        let mut out = vec![0f32; 50];
        adc_scan8(&t, 6, &codes, &mut out);
        for i in 0..50 {
          assert_eq!(
            out[i].to_bits(),
            adc_sum(&t, 256, &codes[i * 6..(i + 1) * 6]).to_bits()
          );
        }
      }
      // Each sub-vector is encoded to its nearest centroid.
      for (i, x) in data[..50 * dim].chunks_exact(dim).enumerate() {
        for s in 0..6 {
          let sub = &x[s * 4..(s + 1) * 4];
          let d = |c: usize| {
            pq.centroid(s, c)
              .iter()
              .zip(sub)
              .map(|(a, b)| (a - b) * (a - b))
              .sum::<f32>()
          };
          let best = (0..pq.ksub()).map(d).fold(f32::INFINITY, f32::min);
          assert!(d(un[i * 6 + s] as usize) <= best + 1e-4);
        }
      }
      for metric in [Metric::L2, Metric::InnerProduct] {
        let mut want = vec![0f32; 6 * pq.ksub()];
        pq.table_into_with(Tier::Scalar, q, metric, &mut want);
        for tier in crate::simd::available() {
          let mut got = vec![0f32; 6 * pq.ksub()];
          pq.table_into_with(tier, q, metric, &mut got);
          assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{tier:?}"
          );
        }
      }
      let back = ProductQuantizer::from_bytes(&pq.to_bytes()).unwrap();
      assert_eq!(back, pq);
    }
  }

  #[test]
  fn training_is_seeded_and_rejects_bad_input() {
    let (dim, n) = (8, 300);
    let data = blobs(3, n, dim, 4);
    let p = PqParams {
      dim,
      m: 4,
      nbits: 4,
      iters: 5,
      seed: 7,
    };
    assert_eq!(
      ProductQuantizer::train(&data, &p).unwrap(),
      ProductQuantizer::train(&data, &p).unwrap()
    );
    let bad = |p: PqParams, d: &[f32]| matches!(ProductQuantizer::train(d, &p), Err(Error::InvalidArg(_)));
    assert!(bad(PqParams { m: 3, ..p.clone() }, &data));
    assert!(bad(
      PqParams {
        nbits: 6,
        ..p.clone()
      },
      &data
    ));
    assert!(bad(p.clone(), &data[..10 * dim]));
    let mut nan = data.clone();
    nan[5] = f32::NAN;
    assert!(bad(p.clone(), &nan));
    let pq = ProductQuantizer::train(&data, &p).unwrap();
    let mut bytes = pq.to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(
      ProductQuantizer::from_bytes(&bytes),
      Err(Error::CorruptFile(_))
    ));
    assert!(matches!(
      pq.unpack(&[0xff, 0xff, 0xff]),
      Err(Error::InvalidArg(_))
    ));
  }
}
