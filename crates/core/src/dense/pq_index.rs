//! `PqIndex`: product-quantized vectors (8-bit ADC scan or 4-bit fast scan), optionally under an
//! IVF coarse quantizer with residual encoding, optionally re-scored with stored float32
//! vectors.
//!
//! Internally every path ranks by a distance D (smaller is better): ‖q − x̂‖² for l2 and −q·x̂
//! for ip / cosine. With IVF, x̂ = c_list + r̂ (the PQ encodes the residual x − c_list): for l2
//! the ADC table is built from q − c_list per probed list; for ip the table is shared and
//! −q·c_list is added per list. Returned scores are −D (so larger is better for every metric):
//! the negated squared distance for l2, the inner product for ip / cosine.

use super::dot::{dot_f32, l2sq_f32};
use super::fastscan::{self, FastScanCodes, QTable, BLOCK};
use super::ivf::Coarse;
use super::kmeans::{self, Init, KMeansParams};
use super::pq::{adc_scan8, adc_sum, normalize, sample_rows, Metric, PqParams, ProductQuantizer};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter, Kind};
use crate::rng::mix64;
use crate::topk::{sort_hits, Scored, TopMin};
use crate::{parallel, validate, Error, Result};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rescore {
  /// Rank by ADC distance.
  None,
  /// Re-rank the best `candidates` ADC hits with stored float32 vectors (4·dim bytes/vector).
  Float32,
}

#[derive(Clone, Debug)]
pub struct PqIndexOptions {
  pub dim: usize,
  /// Sub-quantizers (must divide dim).
  pub m: usize,
  /// 4 or 8 bits per sub-quantizer code.
  pub nbits: u32,
  pub metric: Metric,
  /// IVF lists; 0 means no IVF (one flat scan).
  pub lists: usize,
  /// Lists scanned per query by default (clamped to `lists`).
  pub nprobe: usize,
  pub rescore: Rescore,
  /// k-means iterations for the PQ codebooks (default 25).
  pub iters: usize,
  /// k-means iterations for the IVF lists (default 10, FAISS's `IndexIVF` setting: coarse
  /// clusterings are large and converge early).
  pub ivf_iters: usize,
  pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Codes {
  Eight(Vec<u8>),
  Four(FastScanCodes),
}

#[derive(Clone, Debug, PartialEq)]
struct List {
  codes: Codes,
  /// Internal id of each entry (IVF). Without IVF the single list holds every vector in
  /// insertion order, entry i is internal id i, and this stays empty (4 bytes per vector saved).
  ids: Vec<u32>,
}

impl List {
  fn len(&self, m: usize) -> usize {
    match &self.codes {
      Codes::Eight(v) => v.len() / m,
      Codes::Four(f) => f.len(),
    }
  }
  /// Internal id of entry `pos` (< len).
  #[inline]
  fn id(&self, pos: usize) -> u32 {
    if self.ids.is_empty() {
      pos as u32
    } else {
      self.ids[pos]
    }
  }
}

/// A validated, encoded batch ready to append (see [`PqIndex::prepare_add`]).
pub struct PreparedAdd {
  ids: Vec<ExternalId>,
  lists: Vec<u32>,
  codes: Vec<u8>,
  floats: Vec<f32>,
}

#[derive(Clone, Debug)]
pub struct PqIndex {
  opts: PqIndexOptions,
  pq: ProductQuantizer,
  coarse: Option<Coarse>,
  lists: Vec<List>,
  floats: Vec<f32>,
  ids: IdMap,
}

/// Per-probed-list search state.
struct Probe {
  list: usize,
  /// Distance table (m × ksub), smaller is better.
  table: Vec<f32>,
  /// Added to every ADC sum of this list.
  offset: f32,
}

impl PqIndex {
  /// Trains the coarse quantizer (if `lists > 0`) and the PQ codebooks on `data`. The returned
  /// index is empty: call [`add`](Self::add).
  pub fn train(data: &[f32], opts: PqIndexOptions) -> Result<PqIndex> {
    super::pq::check_params(opts.dim, opts.m, opts.nbits)?;
    if opts.nprobe == 0 {
      return Err(Error::invalid("nprobe must be a positive integer"));
    }
    let dim = opts.dim;
    let (n, x) = prepare(data, dim, opts.metric, "vectors")?;
    let ksub = 1usize << opts.nbits;
    if n < ksub.max(opts.lists) {
      return Err(Error::InvalidArg(format!(
        "training needs at least {} vectors (2^nbits = {ksub} codebook centroids, lists = {}), got {n}",
        ksub.max(opts.lists),
        opts.lists
      )));
    }
    let coarse = if opts.lists > 0 {
      let p = KMeansParams {
        k: opts.lists,
        iters: opts.ivf_iters,
        max_points_per_centroid: 256,
        seed: mix64(opts.seed ^ 0x1f),
        init: Init::Auto,
      };
      Some(Coarse::new(dim, kmeans::train(&x, dim, &p)?.centroids))
    } else {
      None
    };
    // PQ trains on residuals of a sample (at most 256 points per codebook centroid).
    let rows = sample_rows(n, ksub * 256, mix64(opts.seed ^ 0x2f));
    let mut sample: Vec<f32> = rows
      .iter()
      .flat_map(|&r| x[r * dim..(r + 1) * dim].iter().copied())
      .collect();
    if let Some(c) = &coarse {
      residuals(c, opts.metric, &mut sample);
    }
    let pq = ProductQuantizer::train(
      &sample,
      &PqParams {
        dim,
        m: opts.m,
        nbits: opts.nbits,
        iters: opts.iters,
        seed: opts.seed,
      },
    )?;
    let nl = opts.lists.max(1);
    let lists = (0..nl).map(|_| empty_list(opts.nbits, opts.m)).collect();
    Ok(PqIndex {
      opts,
      pq,
      coarse,
      lists,
      floats: Vec::new(),
      ids: IdMap::new(),
    })
  }

  pub fn options(&self) -> &PqIndexOptions {
    &self.opts
  }
  pub fn quantizer(&self) -> &ProductQuantizer {
    &self.pq
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
  pub fn dim(&self) -> usize {
    self.opts.dim
  }

  pub fn add(&mut self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<()> {
    let b = self.prepare_add(ids, vectors)?;
    self.commit_add(b)
  }

  /// Validation, list assignment and encoding under a shared borrow.
  pub fn prepare_add(&self, ids: Vec<ExternalId>, vectors: &[f32]) -> Result<PreparedAdd> {
    let (n, x) = prepare(vectors, self.opts.dim, self.opts.metric, "vectors")?;
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
    let (lists, codes) = match &self.coarse {
      Some(c) => {
        let labels = c.assign(&x, self.opts.metric);
        let mut r = x.clone();
        for (row, &l) in r.chunks_exact_mut(self.opts.dim).zip(&labels) {
          for (v, &cv) in row.iter_mut().zip(c.centroid(l as usize)) {
            *v -= cv;
          }
        }
        (labels, self.pq.encode_unpacked(&r))
      }
      None => (vec![0u32; n], self.pq.encode_unpacked(&x)),
    };
    let floats = if self.opts.rescore == Rescore::Float32 {
      x
    } else {
      Vec::new()
    };
    Ok(PreparedAdd {
      ids,
      lists,
      codes,
      floats,
    })
  }

  pub fn commit_add(&mut self, b: PreparedAdd) -> Result<()> {
    self.ids.check_new(&b.ids)?;
    let first = self.ids.len() as u32;
    let m = self.opts.m;
    for (i, (&l, code)) in b.lists.iter().zip(b.codes.chunks_exact(m)).enumerate() {
      let list = &mut self.lists[l as usize];
      match &mut list.codes {
        Codes::Eight(v) => v.extend_from_slice(code),
        Codes::Four(f) => f.push(code),
      }
      if self.coarse.is_some() {
        list.ids.push(first + i as u32);
      }
    }
    self.floats.extend_from_slice(&b.floats);
    self.ids.push_checked(b.ids);
    Ok(())
  }

  fn probes(&self, q: &[f32], nprobe: usize) -> Vec<Probe> {
    let (m, ksub, metric) = (self.opts.m, self.pq.ksub(), self.opts.metric);
    let table_metric = if metric == Metric::L2 {
      Metric::L2
    } else {
      Metric::InnerProduct
    };
    let mut shared: Option<Vec<f32>> = None;
    let make = |qv: &[f32]| {
      let mut t = vec![0f32; m * ksub];
      self.pq.table_into(qv, table_metric, &mut t);
      if metric != Metric::L2 {
        t.iter_mut().for_each(|v| *v = -*v);
      }
      t
    };
    match &self.coarse {
      None => vec![Probe {
        list: 0,
        table: make(q),
        offset: 0.0,
      }],
      Some(c) => c
        .probe(q, nprobe.min(c.lists()), metric)
        .into_iter()
        .map(|(l, qc)| {
          if metric == Metric::L2 {
            let r: Vec<f32> = q.iter().zip(c.centroid(l as usize)).map(|(a, b)| a - b).collect();
            Probe {
              list: l as usize,
              table: make(&r),
              offset: 0.0,
            }
          } else {
            let t = shared.get_or_insert_with(|| make(q)).clone();
            Probe {
              list: l as usize,
              table: t,
              offset: -qc,
            }
          }
        })
        .collect(),
    }
  }

  /// Top `k` by score (−D). `nprobe` overrides the default; `candidates` is how many hits of
  /// the coarser stage the finer stage re-ranks: 4-bit quantized sums → exact ADC (default: as
  /// many as needed to return exactly the ADC top-k), and ADC → float32 rescoring (default 10·k).
  pub fn search(
    &self,
    query: &[f32],
    k: usize,
    nprobe: Option<usize>,
    candidates: Option<usize>,
  ) -> Result<Vec<Scored<f32>>> {
    validate::k(k)?;
    validate::query_dim(query.len(), self.opts.dim)?;
    check_opt(nprobe, "nprobe")?;
    check_opt(candidates, "candidates")?;
    let (_, q) = prepare(query, self.opts.dim, self.opts.metric, "query")?;
    Ok(self.search_prepared(&q, k, nprobe, candidates))
  }

  fn search_prepared(
    &self,
    q: &[f32],
    k: usize,
    nprobe: Option<usize>,
    candidates: Option<usize>,
  ) -> Vec<Scored<f32>> {
    let probes = self.probes(q, nprobe.unwrap_or(self.opts.nprobe));
    let float = self.opts.rescore == Rescore::Float32;
    // How many exact-ADC hits this stage must deliver.
    let want = if float {
      candidates.unwrap_or_else(|| k.saturating_mul(10)).max(k)
    } else {
      k
    };
    let adc = if self.opts.nbits == 8 {
      self.scan8(&probes, want)
    } else {
      let approx = if float { None } else { candidates.map(|c| c.max(k)) };
      self.scan4(&probes, want, approx)
    };
    if !float {
      return adc
        .into_iter()
        .map(|s| Scored {
          id: s.id,
          score: -s.score,
        })
        .collect();
    }
    let dim = self.opts.dim;
    let mut hits: Vec<Scored<f32>> = adc
      .into_iter()
      .map(|s| {
        let x = &self.floats[s.id as usize * dim..(s.id as usize + 1) * dim];
        let score = if self.opts.metric == Metric::L2 {
          -l2sq_f32(q, x)
        } else {
          dot_f32(q, x)
        };
        Scored { id: s.id, score }
      })
      .collect();
    sort_hits(&mut hits, true);
    hits.truncate(k);
    hits
  }

  fn scan8(&self, probes: &[Probe], want: usize) -> Vec<Scored<f32>> {
    let m = self.opts.m;
    let mut top = TopMin::new(want);
    let mut buf = Vec::new();
    for p in probes {
      let list = &self.lists[p.list];
      let Codes::Eight(codes) = &list.codes else {
        continue;
      };
      buf.resize(list.len(m), 0f32);
      adc_scan8(&p.table, m, codes, &mut buf);
      // A plain float compare rejects most codes before the heap's (score, id) order is consulted.
      let mut thr = top.threshold().unwrap_or(f32::INFINITY);
      for (pos, &d) in buf.iter().enumerate() {
        let v = p.offset + d;
        if v <= thr && top.push(v, list.id(pos)) {
          thr = top.threshold().unwrap_or(f32::INFINITY);
        }
      }
    }
    top.into_sorted()
  }

  /// 4-bit: the filtered fast scan hands over only codes whose quantized sum can still make
  /// the top `want`; their exact ADC distance is computed right away (the code is in cache),
  /// so the bound is tested against the k-th best *exact* distance so far. With `approx`, the
  /// best `approx` codes by estimate are kept instead and re-ranked exactly at the end.
  fn scan4(&self, probes: &[Probe], want: usize, approx: Option<usize>) -> Vec<Scored<f32>> {
    let m = self.opts.m;
    let tier = crate::simd::tier();
    let mut code = vec![0u8; m];
    let mut exact = TopMin::<f32>::new(want);
    // Approximate mode: heap ids index `cands`, which records (probe, position).
    let mut best = TopMin::<f32>::new(approx.unwrap_or(0));
    let mut cands: Vec<(u32, u32)> = Vec::new();
    for (pi, p) in probes.iter().enumerate() {
      let list = &self.lists[p.list];
      let Codes::Four(codes) = &list.codes else { continue };
      let mut qt = QTable::new(&p.table, m);
      qt.base += p.offset;
      // One more rounding: the exact value is offset + ADC sum.
      qt.slack += 4.0 * f32::EPSILON * p.offset.abs();
      let n = list.len(m);
      if approx.is_some() {
        let limit = |best: &TopMin<f32>| best.threshold().map_or(u16::MAX, |t| qt.limit_for_estimate(t));
        fastscan::scan_filtered_with(tier, &qt, codes, limit(&best), |b, mask, sums| {
          let mut bits = mask;
          while bits != 0 {
            let j = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let pos = b * BLOCK + j;
            if pos >= n {
              break;
            }
            if best.push(qt.estimate(sums[j]), cands.len() as u32) {
              cands.push((pi as u32, pos as u32));
            }
          }
          limit(&best)
        });
        continue;
      }
      let limit = |exact: &TopMin<f32>| exact.threshold().map_or(u16::MAX, |t| qt.limit_for_lower(t));
      fastscan::scan_filtered_with(tier, &qt, codes, limit(&exact), |b, mask, sums| {
        let mut bits = mask;
        while bits != 0 {
          let j = bits.trailing_zeros() as usize;
          bits &= bits - 1;
          let pos = b * BLOCK + j;
          if pos >= n {
            break;
          }
          // d ≥ lower > t: this code cannot enter the top.
          if exact.threshold().is_some_and(|t| qt.lower(sums[j]) > t) {
            continue;
          }
          codes.get(pos, &mut code);
          exact.push(p.offset + adc_sum(&p.table, 16, &code), list.id(pos));
        }
        limit(&exact)
      });
    }
    for s in best.into_sorted() {
      let (pi, pos) = cands[s.id as usize];
      let p = &probes[pi as usize];
      let list = &self.lists[p.list];
      if let Codes::Four(codes) = &list.codes {
        codes.get(pos as usize, &mut code);
        exact.push(p.offset + adc_sum(&p.table, 16, &code), list.id(pos as usize));
      }
    }
    exact.into_sorted()
  }

  /// Searches `nq × dim` queries in parallel on at most `threads` threads.
  pub fn search_batch(
    &self,
    queries: &[f32],
    k: usize,
    nprobe: Option<usize>,
    candidates: Option<usize>,
    threads: Option<usize>,
  ) -> Result<Vec<Vec<Scored<f32>>>> {
    validate::k(k)?;
    check_opt(nprobe, "nprobe")?;
    check_opt(candidates, "candidates")?;
    let (_, q) = prepare(queries, self.opts.dim, self.opts.metric, "queries")?;
    let dim = self.opts.dim;
    Ok(parallel::with_threads(threads, || {
      q.par_chunks(dim)
        .map(|row| self.search_prepared(row, k, nprobe, candidates))
        .collect()
    }))
  }

  /// Bytes held, by component.
  pub fn memory_usage(&self) -> Vec<(&'static str, usize)> {
    let codes = self
      .lists
      .iter()
      .map(|l| match &l.codes {
        Codes::Eight(v) => v.capacity(),
        Codes::Four(f) => f.memory_bytes(),
      })
      .sum();
    vec![
      ("codes", codes),
      ("listIds", self.lists.iter().map(|l| l.ids.capacity() * 4).sum()),
      ("ids", self.ids.memory_bytes()),
      ("codebooks", self.pq.memory_bytes()),
      (
        "coarse",
        self.coarse.as_ref().map_or(0, |c| c.centroids.len() * 4),
      ),
      ("float32", self.floats.capacity() * 4),
    ]
  }

  pub fn shrink_to_fit(&mut self) {
    for l in &mut self.lists {
      l.ids.shrink_to_fit();
      match &mut l.codes {
        Codes::Eight(v) => v.shrink_to_fit(),
        Codes::Four(f) => f.blocks.shrink_to_fit(),
      }
    }
    self.floats.shrink_to_fit();
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let mut p = ByteWriter::new();
    self.pq.write_params(&mut p);
    p.put(self.opts.metric.code())
      .put(self.opts.lists as u64)
      .put(self.opts.nprobe as u64)
      .put(match self.opts.rescore {
        Rescore::None => 0u8,
        Rescore::Float32 => 1u8,
      })
      .put(self.opts.iters as u64)
      .put(self.opts.ivf_iters as u64)
      .put(self.opts.seed)
      .put(self.len() as u64);
    let mut w = ContainerWriter::new(Kind::PqIndex, p.into_bytes());
    w.section(b"PQCB", self.pq.codebook_bytes());
    if let Some(c) = &self.coarse {
      let mut b = ByteWriter::new();
      b.put_raw(&c.centroids);
      w.section(b"COAR", b.into_bytes());
    }
    let (mut lens, mut codes, mut lids) = (ByteWriter::new(), Vec::new(), ByteWriter::new());
    for l in &self.lists {
      let len = l.len(self.opts.m);
      lens.put(len as u64);
      match &l.codes {
        Codes::Eight(v) => codes.extend_from_slice(v),
        Codes::Four(f) => codes.extend_from_slice(&f.blocks),
      }
      // The file keeps an id per entry either way (the format does not depend on IVF).
      if l.ids.is_empty() {
        lids.put_raw(&(0..len as u32).collect::<Vec<_>>());
      } else {
        lids.put_raw(&l.ids);
      }
    }
    w.section(b"LLEN", lens.into_bytes());
    w.section(b"CODE", codes);
    w.section(b"LIDS", lids.into_bytes());
    let mut ids = ByteWriter::new();
    self.ids.write(&mut ids);
    w.section(b"IDS_", ids.into_bytes());
    if self.opts.rescore == Rescore::Float32 {
      let mut b = ByteWriter::new();
      b.put_raw(&self.floats);
      w.section(b"F32V", b.into_bytes());
    }
    w.to_bytes()
  }

  pub fn from_bytes(bytes: &[u8]) -> Result<PqIndex> {
    let c = Container::parse(bytes, Kind::PqIndex)?;
    let mut p = ByteReader::new(c.params());
    let pq = ProductQuantizer::read(&mut p, c.section(b"PQCB")?)?;
    let metric = Metric::from_code(p.get::<u8>("metric")?).ok_or_else(|| Error::corrupt("unknown metric"))?;
    let usize_of =
      |v: u64, what: &str| usize::try_from(v).map_err(|_| Error::corrupt(format!("{what} overflows")));
    let lists = usize_of(p.get::<u64>("lists")?, "lists")?;
    let nprobe = usize_of(p.get::<u64>("nprobe")?, "nprobe")?;
    let rescore = match p.get::<u8>("rescore")? {
      0 => Rescore::None,
      1 => Rescore::Float32,
      r => return Err(Error::corrupt(format!("unknown rescore mode {r}"))),
    };
    let iters = usize_of(p.get::<u64>("iters")?, "iters")?;
    let ivf_iters = usize_of(p.get::<u64>("ivfIters")?, "ivfIters")?;
    let seed = p.get::<u64>("seed")?;
    let n = usize_of(p.get::<u64>("count")?, "count")?;
    p.finish("parameters")?;
    let (dim, m, nbits) = (pq.dim(), pq.m(), pq.nbits());
    if nprobe == 0 || lists > u32::MAX as usize || n > u32::MAX as usize {
      return Err(Error::corrupt("invalid nprobe, lists or count"));
    }
    let coarse = if lists > 0 {
      let b = c.section(b"COAR")?;
      if Some(b.len()) != lists.checked_mul(dim).and_then(|x| x.checked_mul(4)) {
        return Err(Error::corrupt("coarse centroids have the wrong size"));
      }
      let centroids = ByteReader::new(b).get_raw::<f32>(lists * dim, "coarse centroids")?;
      if centroids.iter().any(|x| !x.is_finite()) {
        return Err(Error::corrupt("coarse centroids contain non-finite values"));
      }
      Some(Coarse::new(dim, centroids))
    } else {
      None
    };
    let nl = lists.max(1);
    let llen = c.section(b"LLEN")?;
    if llen.len() != nl * 8 {
      return Err(Error::corrupt("list lengths have the wrong size"));
    }
    let lens = ByteReader::new(llen).get_raw::<u64>(nl, "list lengths")?;
    let total: u128 = lens.iter().map(|&x| x as u128).sum();
    if total != n as u128 {
      return Err(Error::corrupt(format!(
        "lists hold {total} entries for {n} vectors"
      )));
    }
    let lids_b = c.section(b"LIDS")?;
    if lids_b.len() != n * 4 {
      return Err(Error::corrupt("list ids have the wrong size"));
    }
    let all_ids = ByteReader::new(lids_b).get_raw::<u32>(n, "list ids")?;
    let mut seen = vec![false; n];
    for &id in &all_ids {
      match seen.get_mut(id as usize) {
        Some(s) if !*s => *s = true,
        _ => {
          return Err(Error::corrupt(
            "list ids are not a permutation of the internal ids",
          ))
        }
      }
    }
    let code_b = c.section(b"CODE")?;
    let mut off = 0usize;
    let mut id_off = 0usize;
    let mut out_lists = Vec::with_capacity(nl);
    for &len in &lens {
      let len = len as usize;
      let size = if nbits == 8 {
        len * m
      } else {
        len.div_ceil(BLOCK) * 16 * m.div_ceil(2) * 2
      };
      let chunk = code_b
        .get(off..off + size)
        .ok_or_else(|| Error::corrupt("codes are truncated"))?;
      off += size;
      let codes = if nbits == 8 {
        Codes::Eight(chunk.to_vec())
      } else {
        Codes::Four(
          FastScanCodes::from_parts(m, len, chunk.to_vec())
            .ok_or_else(|| Error::corrupt("fast-scan codes are malformed"))?,
        )
      };
      let ids = &all_ids[id_off..id_off + len];
      out_lists.push(List {
        codes,
        ids: if lists > 0 {
          ids.to_vec()
        } else if ids.iter().enumerate().all(|(i, &id)| id as usize == i) {
          Vec::new()
        } else {
          return Err(Error::corrupt(
            "list ids of an index without IVF must be sequential",
          ));
        },
      });
      id_off += len;
    }
    if off != code_b.len() {
      return Err(Error::corrupt("codes have trailing bytes"));
    }
    let mut r = ByteReader::new(c.section(b"IDS_")?);
    let ids = IdMap::read(&mut r)?;
    r.finish("ids")?;
    if ids.len() != n {
      return Err(Error::corrupt(format!("{} ids for {n} vectors", ids.len())));
    }
    let floats = if rescore == Rescore::Float32 {
      let f = c.section(b"F32V")?;
      if f.len() != n * dim * 4 {
        return Err(Error::corrupt("float32 vectors have the wrong size"));
      }
      let v = ByteReader::new(f).get_raw::<f32>(n * dim, "float32 vectors")?;
      if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::corrupt("float32 vectors contain non-finite values"));
      }
      v
    } else {
      Vec::new()
    };
    let opts = PqIndexOptions {
      dim,
      m,
      nbits,
      metric,
      lists,
      nprobe,
      rescore,
      iters,
      ivf_iters,
      seed,
    };
    Ok(PqIndex {
      opts,
      pq,
      coarse,
      lists: out_lists,
      floats,
      ids,
    })
  }
}

fn check_opt(v: Option<usize>, what: &str) -> Result<()> {
  if v == Some(0) {
    return Err(Error::InvalidArg(format!(
      "{what} must be a positive integer (got 0)"
    )));
  }
  Ok(())
}

fn empty_list(nbits: u32, m: usize) -> List {
  List {
    codes: if nbits == 8 {
      Codes::Eight(Vec::new())
    } else {
      Codes::Four(FastScanCodes::new(m))
    },
    ids: Vec::new(),
  }
}

/// Subtracts each row's list centroid in place.
fn residuals(c: &Coarse, metric: Metric, rows: &mut [f32]) {
  let labels = c.assign(rows, metric);
  for (row, &l) in rows.chunks_exact_mut(c.dim).zip(&labels) {
    for (v, &cv) in row.iter_mut().zip(c.centroid(l as usize)) {
      *v -= cv;
    }
  }
}

/// Validates a batch and normalises it for cosine.
fn prepare(data: &[f32], dim: usize, metric: Metric, what: &str) -> Result<(usize, Vec<f32>)> {
  let n = validate::vector_count(data.len(), dim, what)?;
  validate::finite(data, dim, what)?;
  let mut v = data.to_vec();
  if metric == Metric::Cosine {
    for (i, row) in v.chunks_exact_mut(dim).enumerate() {
      normalize(row).map_err(|_| {
        Error::InvalidArg(format!(
          "{what}: vector {i} has zero norm and cannot be used with metric 'cosine'"
        ))
      })?;
    }
  }
  Ok((n, v))
}

#[cfg(test)]
mod tests;
