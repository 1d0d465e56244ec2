//! slimdex-node: the napi-rs bindings of slimdex-core. Thin by design: convert JS values,
//! run work (on the libuv pool for async calls), map errors. No algorithms live here.
#![deny(clippy::all)]

mod binary_index;
mod bm25_columns;
mod bm25_index;
mod chamfer;
mod convert;
mod dedup;
mod dense_common;
mod error;
mod fde_encoder;
mod flat_index;
mod kernels;
mod lsh_bloom;
mod min_hasher;
mod minhash_lsh;
mod multi_vector_index;
mod pq_index;
mod product_quantizer;
mod progress;
mod shared;
mod signature_family;
mod snapshot;
mod sparse_common;
mod sparse_index;
mod tasks;
mod tokenizer;
