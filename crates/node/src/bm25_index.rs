//! `BM25Index` and `Tokenizer` bindings.

use crate::convert::{hit_batch_out, hits_into, ids_from_js, memory_to_js, to_usize, to_usize_opt, HitBatch, IdsInput, MemoryComponent};
use crate::error::{guard, invalid};
use crate::shared::{self, read, shared, Persist, Shared};
use crate::sparse_index::{bmp_options, filter_ids, BmpSearchInit};
use crate::tasks::Job;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::sparse::{Bm25Index, Bm25Method, Bm25Options, Tokenizer, TokenizerOptions};

/// Tokenizer options (validated and defaulted by the TS layer).
#[napi(object)]
pub struct TokenizerInit {
  pub lowercase: bool,
  /// None: bm25s's English list.
  pub stopwords: Option<Vec<String>>,
  pub stemmer: Option<String>,
  pub cjk_bigrams: bool,
}

impl From<TokenizerInit> for TokenizerOptions {
  fn from(t: TokenizerInit) -> Self {
    let stopwords = t.stopwords.unwrap_or_else(|| TokenizerOptions::default().stopwords);
    TokenizerOptions { lowercase: t.lowercase, stopwords, stemmer: t.stemmer, cjk_bigrams: t.cjk_bigrams }
  }
}

fn tokenizer_out(t: &TokenizerOptions) -> TokenizerInit {
  TokenizerInit { lowercase: t.lowercase, stopwords: Some(t.stopwords.clone()), stemmer: t.stemmer.clone(), cjk_bigrams: t.cjk_bigrams }
}

/// BM25 options (validated and defaulted by the TS layer).
#[napi(object)]
pub struct Bm25Init {
  /// 'lucene' | 'robertson' | 'atire' | 'bm25l' | 'bm25+'
  pub method: String,
  pub k1: f64,
  pub b: f64,
  pub delta: f64,
  pub block_size: f64,
  pub tokenizer: TokenizerInit,
}

#[napi]
pub struct NativeTokenizer {
  inner: Tokenizer,
}

#[napi]
impl NativeTokenizer {
  #[napi(constructor)]
  pub fn new(options: TokenizerInit) -> napi::Result<Self> {
    Ok(NativeTokenizer { inner: guard(|| Tokenizer::new(options.into()))? })
  }

  #[napi]
  pub fn tokenize(&self, text: String) -> Vec<String> {
    self.inner.tokenize(&text)
  }

  /// Tokens of many texts, in parallel.
  #[napi]
  pub fn tokenize_batch(&self, texts: Vec<String>) -> Vec<Vec<String>> {
    self.inner.tokenize_batch(&texts)
  }
}

impl Persist for Bm25Index {
  fn to_bytes(&self) -> Vec<u8> {
    Bm25Index::to_bytes(self)
  }
  fn from_bytes(bytes: &[u8]) -> slimdex_core::Result<Self> {
    Bm25Index::from_bytes(bytes)
  }
}

#[napi]
pub struct NativeBm25Index {
  inner: Shared<Bm25Index>,
}

fn build_job(ids: IdsInput, texts: Vec<String>, o: Bm25Init) -> napi::Result<Job<NativeBm25Index>> {
  let ids = ids_from_js(ids)?;
  let method = Bm25Method::parse(&o.method).ok_or_else(|| invalid(format!("method must be lucene, robertson, atire, bm25l or bm25+ (got {:?})", o.method)))?;
  let opts = Bm25Options { method, k1: o.k1, b: o.b, delta: o.delta, block_size: to_usize(o.block_size, "blockSize")? };
  let tok: TokenizerOptions = o.tokenizer.into();
  Ok(Job::new(move || {
    let idx = guard(|| Bm25Index::build(ids, &texts, tok, opts))?;
    Ok(NativeBm25Index { inner: shared(idx) })
  }))
}

#[napi]
impl NativeBm25Index {
  #[napi(factory)]
  pub fn build_sync(ids: IdsInput, texts: Vec<String>, options: Bm25Init) -> napi::Result<Self> {
    build_job(ids, texts, options)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeBm25Index>")]
  pub fn build(ids: IdsInput, texts: Vec<String>, options: Bm25Init, signal: Option<AbortSignal>) -> napi::Result<AsyncTask<Job<NativeBm25Index>>> {
    Ok(AsyncTask::with_optional_signal(build_job(ids, texts, options)?, signal))
  }

  #[napi(getter)]
  pub fn size(&self) -> u32 {
    read(&self.inner).len() as u32
  }

  #[napi(getter)]
  pub fn vocab_size(&self) -> u32 {
    read(&self.inner).vocab_size() as u32
  }

  #[napi(getter)]
  pub fn postings(&self) -> f64 {
    read(&self.inner).postings() as f64
  }

  #[napi]
  pub fn options(&self) -> Bm25Init {
    let idx = read(&self.inner);
    let o = idx.options();
    Bm25Init {
      method: o.method.name().into(),
      k1: o.k1,
      b: o.b,
      delta: o.delta,
      block_size: o.block_size as f64,
      tokenizer: tokenizer_out(idx.tokenizer().options()),
    }
  }

  #[napi]
  pub fn tokenize(&self, text: String) -> Vec<String> {
    read(&self.inner).tokenizer().tokenize(&text)
  }

  /// One query on the calling thread; results go into `idsOut` / `scoresOut`.
  #[napi]
  pub fn search(
    &self,
    text: String,
    options: BmpSearchInit,
    filter: Option<IdsInput>,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let opts = bmp_options(&options)?;
    let filter = filter_ids(filter)?;
    let idx = read(&self.inner);
    let hits = guard(|| idx.search(&text, &opts, filter.as_deref()))?;
    // SAFETY: private, non-shared buffers owned by the TS wrapper; synchronous call on the JS
    // thread, so nothing else touches them while the slices live.
    hits_into(idx.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe { scores_out.as_mut() })
  }

  /// Many queries in parallel on the libuv pool.
  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(&self, texts: Vec<String>, options: BmpSearchInit, threads: Option<f64>, signal: Option<AbortSignal>) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    let opts = bmp_options(&options)?;
    let threads = to_usize_opt(threads, "threads")?;
    let inner = self.inner.clone();
    Ok(AsyncTask::with_optional_signal(
      Job::new(move || {
        let idx = read(&inner);
        let results = guard(|| idx.search_batch(&texts, &opts, threads))?;
        Ok(hit_batch_out(idx.ids(), &results))
      }),
      signal,
    ))
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(read(&self.inner).memory_usage())
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    shared::to_buffer(&self.inner)
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    shared::from_buffer(buffer).map(|inner| NativeBm25Index { inner })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    shared::save_sync(&self.inner, path)
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    shared::save(&self.inner, path, signal)
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    shared::load_job(path, mmap.unwrap_or(false), |inner| NativeBm25Index { inner }).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeBm25Index>")]
  pub fn load(path: String, mmap: Option<bool>, signal: Option<AbortSignal>) -> AsyncTask<Job<NativeBm25Index>> {
    AsyncTask::with_optional_signal(shared::load_job(path, mmap.unwrap_or(false), |inner| NativeBm25Index { inner }), signal)
  }
}
