//! Dense-vector compression: k-means, product quantization (8-bit ADC and 4-bit fast scan),
//! IVF, and exact search over scalar storage formats (float16, float8 E4M3, int8) with
//! Matryoshka truncation.

pub mod dot;
pub mod fastscan;
pub mod flat_index;
pub mod ivf;
pub mod kmeans;
pub mod pq;
pub mod pq_index;
pub mod scalar;

pub use flat_index::{FlatIndex, FlatIndexOptions, Storage};
pub use pq::{Metric, PqParams, ProductQuantizer};
pub use pq_index::{PqIndex, PqIndexOptions, Rescore};
