//! Core errors → JS errors.
//!
//! napi-rs gives async task errors a fixed `Status` as `code`, so the stable slimdex code travels
//! as a message prefix (`ERR_SLIMDEX_INVALID_ARG: …`) and the TypeScript layer (`src/errors.ts`)
//! turns it into `err.code` on a proper `Error`/`RangeError`. One mechanism for sync and async.

use napi::{Error as NapiError, Status};
use slimdex_core::Error;

/// Converts a core error into a napi error carrying the stable code as a prefix.
pub fn to_napi(e: Error) -> NapiError {
  let status = match e {
    Error::InvalidArg(_) | Error::DimMismatch { .. } | Error::DuplicateId(_) => Status::InvalidArg,
    Error::Aborted => Status::Cancelled,
    _ => Status::GenericFailure,
  };
  NapiError::new(status, format!("{}: {}", e.code(), e))
}

/// Runs a core call with panics caught, mapping its error. Every entry point goes through this.
pub fn guard<T>(f: impl FnOnce() -> slimdex_core::Result<T>) -> napi::Result<T> {
  slimdex_core::error::catch_panic(f).map_err(to_napi)
}

/// An invalid-argument error raised by the binding layer itself (e.g. a bad enum string).
pub fn invalid(msg: impl Into<String>) -> NapiError {
  to_napi(Error::InvalidArg(msg.into()))
}
