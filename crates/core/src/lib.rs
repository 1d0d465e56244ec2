//! slimdex-core: memory-efficient retrieval in pure Rust.
//!
//! This crate knows nothing about Node. The `slimdex-node` crate converts JS values
//! into the types here and back; the TypeScript layer validates and composes.
//!
//! Shared infrastructure used by every index:
//! - [`simd`]: run-time CPU feature detection and the cached dispatch tier;
//! - [`topk`]: bounded top-k selection with a deterministic tie-break;
//! - [`io`]: the one container file format (sections with CRC32C, atomic save);
//! - [`ids`]: external (user) ids ↔ dense internal `u32` ids;
//! - [`parallel`]: rayon pools bounded by a `threads` option;
//! - [`error`]: one error enum with stable codes.
#![deny(clippy::all)]

pub mod binary;
pub mod error;
pub mod ids;
pub mod io;
pub mod minhash;
pub mod multivec;
pub mod parallel;
pub mod rng;
pub mod simd;
pub mod sparse;
pub mod topk;
pub mod validate;

pub use error::{Error, Result};

/// Version of this crate, reported by `nativeInfo()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
