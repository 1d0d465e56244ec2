//! Learned sparse retrieval and BM25 on one block index searched with Block-Max Pruning.

mod bm25;
mod block_index;
mod vocab;
mod sparse_index;
mod tokenize;

pub use bm25::{Bm25Index, Bm25Method, Bm25Options};
pub use block_index::{BlockIndex, BlockOptions, BmpOptions, Impacts, SparseDocs, MAX_BLOCK_SIZE};
pub use sparse_index::SparseIndex;
pub use tokenize::{Tokenizer, TokenizerOptions, ENGLISH_STOPWORDS};
