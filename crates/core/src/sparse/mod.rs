//! Sparse retrieval: a tokenizer, learned sparse vectors and BM25 on one block index searched
//! with Block-Max Pruning, document reordering by graph bisection, and CIFF interchange.
//!
//! - [`tokenize`]: bm25s-compatible text → tokens (stop words, Snowball, CJK bigrams);
//! - [`blocks`]: the flat block index and the BMP search (safe and approximate);
//! - `term_major`: the BM25 posting layout, searched block-max term-at-a-time in windows
//!   (`term_windows`, `term_dense`: the per-term data it derives at build and load, window
//!   tables and the head terms' dense rows; `above`: the SIMD mask of
//!   the scores that can enter the top-k);
//! - [`index`]: `SparseIndex` (8-bit quantised learned weights);
//! - [`bm25`]: `BM25Index` (five bm25s variants scored eagerly);
//! - [`segments`]: incremental updates (a segment per `add`, tombstones, merged search);
//! - [`reorder`]: recursive graph bisection;
//! - [`ciff`]: Common Index File Format import/export.

mod above;
pub mod blocks;
pub mod bm25;
pub mod ciff;
pub mod index;
pub mod reorder;
pub mod segments;
mod term_dense;
mod term_major;
mod term_windows;
pub mod tokenize;
mod ub;
pub mod vocab;

pub use blocks::SearchParams;
pub use bm25::{Bm25Index, Bm25Method, Bm25Options};
pub use index::{Layout, Quantization, Reorder, SparseIndex, SparseIndexOptions, SparseVector};
pub use segments::{Filter, MAX_SEGMENTS};
pub use tokenize::{Tokenizer, TokenizerOptions};

#[cfg(test)]
mod format_compat_tests;
#[cfg(test)]
mod segment_tests;
#[cfg(test)]
mod tests;
