//! The hasher family (scheme, seed) of MinHash signatures, as the TS layer passes it with
//! signatures it knows the origin of, and as an index reports the family it holds.

use crate::convert::to_usize;
use crate::error::guard;
use napi_derive::napi;
use slimdex_core::minhash::{FamilySlot, Scheme, SignatureFamily};
use slimdex_core::Error;

/// Scheme and seed of the `MinHasher` that made some signatures.
#[napi(object)]
pub struct SignatureFamilyJs {
  pub scheme: String,
  pub seed: f64,
}

pub fn family_from_js(f: Option<SignatureFamilyJs>) -> napi::Result<Option<SignatureFamily>> {
  let Some(f) = f else { return Ok(None) };
  let scheme = guard(|| Scheme::parse(&f.scheme))?;
  let seed = u64::try_from(to_usize(f.seed, "seed")?).map_err(|_| crate::error::invalid("seed overflows"))?;
  Ok(Some(SignatureFamily { scheme, seed }))
}

/// The slot's family for JS; a seed above 2^53 (possible only in a file written from Rust)
/// has no exact JS number, so it is refused rather than rounded.
pub fn family_to_js(slot: &FamilySlot) -> napi::Result<Option<SignatureFamilyJs>> {
  let Some(f) = slot.get() else { return Ok(None) };
  if f.seed > (1u64 << 53) {
    return Err(crate::error::to_napi(Error::InvalidState(format!(
      "the index's hasher seed {} has no exact JavaScript number",
      f.seed
    ))));
  }
  Ok(Some(SignatureFamilyJs {
    scheme: f.scheme.name().to_string(),
    // Exact: checked ≤ 2^53 above.
    seed: f.seed as f64,
  }))
}
