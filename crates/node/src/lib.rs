//! slimdex-node: the napi-rs bindings of slimdex-core. Thin by design: convert JS values,
//! run work (on the libuv pool for async calls), map errors. No algorithms live here.
#![deny(clippy::all)]

mod binary_index;
mod chamfer;
mod convert;
mod error;
mod fde_encoder;
mod kernels;
mod multi_vector_index;
mod tasks;
