//! Options shared by the sparse bindings (SparseIndex, BM25Index, Tokenizer).

use crate::convert::{ids_from_js, IdsInput};
use crate::error::invalid;
use napi_derive::napi;
use slimdex_core::sparse::{SearchParams, TokenizerOptions};

/// Tokenizer options (validated and defaulted by the TS layer).
#[napi(object)]
#[derive(Clone)]
pub struct TokenizerInit {
  pub lowercase: bool,
  /// Stop words; absent = the 33-word English list.
  pub stopwords: Option<Vec<String>>,
  /// Snowball language, or absent for none.
  pub stemmer: Option<String>,
  pub cjk_bigrams: bool,
  /// Closed vocabulary (tokens outside it are dropped), or absent.
  pub vocabulary: Option<Vec<String>>,
}

pub fn tokenizer_options(t: TokenizerInit) -> TokenizerOptions {
  let d = TokenizerOptions::default();
  TokenizerOptions {
    lowercase: t.lowercase,
    stopwords: t.stopwords.unwrap_or(d.stopwords),
    stemmer: t.stemmer,
    cjk_bigrams: t.cjk_bigrams,
    vocabulary: t.vocabulary,
  }
}

pub fn tokenizer_out(o: &TokenizerOptions) -> TokenizerInit {
  TokenizerInit {
    lowercase: o.lowercase,
    stopwords: Some(o.stopwords.clone()),
    stemmer: o.stemmer.clone(),
    cjk_bigrams: o.cjk_bigrams,
    vocabulary: o.vocabulary.clone(),
  }
}

/// Search knobs of `search` / `searchBatch`.
#[napi(object, object_to_js = false)]
pub struct SparseSearchInit {
  /// (0, 1]; 1 is safe.
  pub alpha: f64,
  /// (0, 1]; fraction of query terms kept.
  pub beta: f64,
  /// Plain exhaustive scan (verification / benchmarks).
  pub exhaustive: bool,
  /// Allowed ids (a filter), or absent.
  pub filter: Option<IdsInput>,
}

pub struct Search {
  pub params: SearchParams,
  pub filter: Option<Vec<slimdex_core::ids::ExternalId>>,
}

pub fn search_params(s: SparseSearchInit) -> napi::Result<Search> {
  search_params_of(s.alpha, s.beta, s.exhaustive, s.filter)
}

/// [`search_params`] from the knobs passed one by one (the single-query fast path: reading
/// four properties of an options object costs more than a query on a small corpus).
pub fn search_params_of(
  alpha: f64,
  beta: f64,
  exhaustive: bool,
  filter: Option<IdsInput>,
) -> napi::Result<Search> {
  if !(alpha > 0.0 && alpha <= 1.0) {
    return Err(invalid(format!("alpha must be in (0, 1] (got {alpha})")));
  }
  if !(beta > 0.0 && beta <= 1.0) {
    return Err(invalid(format!("beta must be in (0, 1] (got {beta})")));
  }
  let filter = filter.map(ids_from_js).transpose()?;
  Ok(Search {
    params: SearchParams {
      alpha: alpha as f32,
      beta: beta as f32,
      exhaustive,
    },
    filter,
  })
}
