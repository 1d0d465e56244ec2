//! `NativeBm25Columns`: the results of `BM25Index.searchColumns` as flat columns (document
//! numbers, float32 scores, per-query offsets). No object per hit crosses the boundary; ids are
//! resolved on request against the snapshot that was searched, so a later `compact` (which
//! renumbers documents) cannot make them point at the wrong documents.

use crate::error::invalid;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::ids::ExternalId;
use slimdex_core::sparse::Bm25Index;
use slimdex_core::topk::Scored;
use std::sync::Arc;

/// The three columns, copied out once by the TS wrapper.
#[napi(object)]
pub struct Bm25ColumnArrays {
  /// Internal document numbers (insertion order since the last build/compact).
  pub docs: Uint32Array,
  /// BM25 scores (the same float32 values `search` returns as numbers).
  pub scores: Float32Array,
  /// nq + 1 offsets: query q's hits are `[offsets[q], offsets[q + 1])`.
  pub offsets: Uint32Array,
}

#[napi]
pub struct NativeBm25Columns {
  snap: Arc<Bm25Index>,
  docs: Vec<u32>,
  scores: Vec<f32>,
  offsets: Vec<u32>,
  /// Whether `arrays` moved the scores and offsets out.
  handed_over: bool,
}

impl NativeBm25Columns {
  /// Flattens per-query hits; fails (instead of wrapping) past 2^32 − 1 hits in one batch.
  pub fn new(snap: Arc<Bm25Index>, batches: Vec<Vec<Scored<f32>>>) -> napi::Result<Self> {
    let total: usize = batches.iter().map(Vec::len).sum();
    if total > u32::MAX as usize {
      return Err(invalid(format!(
        "a batch returns {total} hits, more than 2^32 − 1: split the queries"
      )));
    }
    let mut docs = Vec::with_capacity(total);
    let mut scores = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(batches.len() + 1);
    offsets.push(0u32);
    for b in &batches {
      for h in b {
        docs.push(h.id);
        scores.push(h.score);
      }
      // total ≤ u32::MAX was checked above, so every running count fits.
      offsets.push(docs.len() as u32);
    }
    Ok(NativeBm25Columns {
      snap,
      docs,
      scores,
      offsets,
      handed_over: false,
    })
  }
}

#[napi]
impl NativeBm25Columns {
  /// The columns, handed over once (the wrapper's constructor takes them): scores and offsets
  /// move to JS without a copy, docs are copied (`ids` still reads them). A second call fails.
  #[napi]
  pub fn arrays(&mut self) -> napi::Result<Bm25ColumnArrays> {
    if self.handed_over {
      return Err(invalid("the result columns were already handed over".to_string()));
    }
    self.handed_over = true;
    Ok(Bm25ColumnArrays {
      docs: Uint32Array::new(self.docs.clone()),
      scores: Float32Array::new(std::mem::take(&mut self.scores)),
      offsets: Uint32Array::new(std::mem::take(&mut self.offsets)),
    })
  }

  /// External ids of hits `[start, end)`: numbers (exact: ids are safe integers) or strings.
  #[napi]
  pub fn ids(&self, start: f64, end: f64) -> napi::Result<Either<Float64Array, Vec<String>>> {
    let n = self.docs.len();
    let ok = |v: f64| v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= n as f64;
    if !(ok(start) && ok(end) && start <= end) {
      return Err(invalid(format!(
        "hit range [{start}, {end}) is not within [0, {n}]"
      )));
    }
    let docs = &self.docs[start as usize..end as usize];
    let ids = self.snap.ids();
    if ids.holds_strings() {
      return Ok(Either::B(
        docs
          .iter()
          .map(|&d| match ids.get(d) {
            ExternalId::Str(s) => s,
            ExternalId::Int(v) => v.to_string(),
          })
          .collect(),
      ));
    }
    // Integer ids are safe integers (checked on the way in), so f64 holds them exactly.
    Ok(Either::A(Float64Array::new(
      docs
        .iter()
        .map(|&d| ids.get_int(d).unwrap_or_default() as f64)
        .collect(),
    )))
  }
}
