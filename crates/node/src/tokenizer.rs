//! `Tokenizer` binding: the bm25s-compatible tokenizer BM25Index uses, on its own.

use crate::error::guard;
use crate::sparse_common::{tokenizer_options, tokenizer_out, TokenizerInit};
use napi_derive::napi;
use slimdex_core::sparse::Tokenizer;

#[napi]
pub struct NativeTokenizer {
  inner: Tokenizer,
}

#[napi]
impl NativeTokenizer {
  #[napi(constructor)]
  pub fn new(options: TokenizerInit) -> napi::Result<Self> {
    let inner = guard(|| Tokenizer::new(tokenizer_options(options)))?;
    Ok(NativeTokenizer { inner })
  }

  #[napi]
  pub fn options(&self) -> TokenizerInit {
    tokenizer_out(self.inner.options())
  }

  #[napi]
  pub fn tokenize(&self, text: String) -> Vec<String> {
    self.inner.tokenize(&text)
  }

  /// Many texts, tokenized in parallel.
  #[napi]
  pub fn tokenize_batch(&self, texts: Vec<String>) -> Vec<Vec<String>> {
    self.inner.tokenize_batch(&texts)
  }
}
