//! Binary codes (BPR / binary embedding retrieval): sign packing, Hamming kernels with
//! run-time SIMD dispatch, a streaming top-k scan, and [`BinaryIndex`] with float rescoring.

mod hamming;
mod index;
mod pack;

pub use hamming::{hamming, hamming_scalar, hamming_with, scan_distances_with, topk_scan, topk_scan_with};
pub use index::{BinaryIndex, BinaryIndexOptions, Metric, PreparedAdd, Rescore, Threshold};
pub use pack::{code_bytes, pack_signs, pack_signs_into};
