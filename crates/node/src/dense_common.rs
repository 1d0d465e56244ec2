//! Option spellings shared by the dense bindings (PQ and flat indexes).

use crate::error::invalid;
use slimdex_core::dense::Metric;

pub fn metric_from(s: &str) -> napi::Result<Metric> {
  match s {
    "l2" => Ok(Metric::L2),
    "ip" => Ok(Metric::InnerProduct),
    "cosine" => Ok(Metric::Cosine),
    m => Err(invalid(format!(
      "metric must be 'l2', 'ip' or 'cosine' (got {m:?})"
    ))),
  }
}

pub fn metric_name(m: Metric) -> &'static str {
  match m {
    Metric::L2 => "l2",
    Metric::InnerProduct => "ip",
    Metric::Cosine => "cosine",
  }
}

pub fn nbits_from(v: f64) -> napi::Result<u32> {
  if v == 4.0 || v == 8.0 {
    Ok(v as u32)
  } else {
    Err(invalid(format!("nbits must be 4 or 8 (got {v})")))
  }
}

/// Seeds cross as f64 and must be exact non-negative integers (≤ 2^53).
pub fn seed_from(v: f64) -> napi::Result<u64> {
  Ok(crate::convert::to_usize(v, "seed")? as u64)
}
