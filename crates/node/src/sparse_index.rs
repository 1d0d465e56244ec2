//! `SparseIndex` binding: learned sparse vectors (8-bit impacts) searched with BMP.
//! Documents and queries cross as CSR columns: `offsets` (n + 1), then either term strings
//! or `indices`, and `values`.

use crate::convert::{
  hit_batch_out, hits_into, ids_from_js, memory_to_js, to_k, to_usize, to_usize_opt, HitBatch, IdsInput,
  MemoryComponent,
};
use crate::error::{guard, invalid};
use crate::snapshot::{segment_methods, Snapshot};
use crate::sparse_common::{search_params, SparseSearchInit};
use crate::tasks::{spawn, Job};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use slimdex_core::io;
use slimdex_core::sparse::{Layout, Quantization, Reorder, SparseIndex, SparseIndexOptions, SparseVector};
use std::path::PathBuf;
use std::sync::Arc;

#[napi(object, object_to_js = false)]
pub struct SparseIndexInit {
  pub block_size: f64,
  /// byte = round(weight / scale); absent: max weight / 255.
  pub scale: Option<f64>,
  /// Clamp out-of-range weights instead of failing.
  pub clamp: bool,
  /// 'none' | 'bp'
  pub reorder: String,
  /// 'blocks' | 'terms'
  pub layout: String,
}

/// Sparse vectors as CSR columns: row i is `[offsets[i], offsets[i+1])` of `terms` or `indices` and `values`.
#[napi(object, object_to_js = false)]
pub struct SparseRows {
  pub offsets: Uint32Array,
  pub terms: Option<Vec<String>>,
  pub indices: Option<Uint32Array>,
  pub values: Float32Array,
}

fn rows(r: SparseRows, what: &str) -> napi::Result<Vec<SparseVector>> {
  let off = r.offsets.as_ref();
  let n_vals = r.values.len();
  let bad = || {
    invalid(format!(
      "{what}: offsets must start at 0, never decrease and end at values.length ({n_vals})"
    ))
  };
  if off.first() != Some(&0)
    || off.windows(2).any(|w| w[0] > w[1])
    || off.last().map(|&l| l as usize) != Some(n_vals)
  {
    return Err(bad());
  }
  let vals = r.values.as_ref();
  match (r.terms, r.indices) {
    (Some(t), None) => {
      if t.len() != n_vals {
        return Err(invalid(format!(
          "{what}: terms ({}) and values ({n_vals}) differ in length",
          t.len()
        )));
      }
      let mut it = t.into_iter();
      Ok(
        off
          .windows(2)
          .map(|w| {
            let n = (w[1] - w[0]) as usize;
            SparseVector::Named(
              it.by_ref()
                .take(n)
                .zip(vals[w[0] as usize..w[1] as usize].iter().copied())
                .collect(),
            )
          })
          .collect(),
      )
    }
    (None, Some(ix)) => {
      if ix.len() != n_vals {
        return Err(invalid(format!(
          "{what}: indices ({}) and values ({n_vals}) differ in length",
          ix.len()
        )));
      }
      let ix = ix.as_ref();
      Ok(
        off
          .windows(2)
          .map(|w| {
            let (a, b) = (w[0] as usize, w[1] as usize);
            SparseVector::Indexed(ix[a..b].to_vec(), vals[a..b].to_vec())
          })
          .collect(),
      )
    }
    _ => Err(invalid(format!("{what}: give exactly one of terms or indices"))),
  }
}

/// Searches read a snapshot; `add` / `delete` / `compact` publish a new one (see `snapshot`).
#[napi]
pub struct NativeSparseIndex {
  inner: Arc<Snapshot<SparseIndex>>,
}

fn docs_from_js(
  ids: IdsInput,
  docs: SparseRows,
) -> napi::Result<Vec<(slimdex_core::ids::ExternalId, SparseVector)>> {
  let ids = ids_from_js(ids)?;
  let vecs = rows(docs, "docs")?;
  if ids.len() != vecs.len() {
    return Err(invalid(format!(
      "ids ({}) and documents ({}) differ in length",
      ids.len(),
      vecs.len()
    )));
  }
  Ok(ids.into_iter().zip(vecs).collect())
}

fn build_job(ids: IdsInput, docs: SparseRows, o: SparseIndexInit) -> napi::Result<Job<NativeSparseIndex>> {
  let docs = docs_from_js(ids, docs)?;
  let opts = SparseIndexOptions {
    block_size: to_usize(o.block_size, "blockSize")?,
    quantization: Quantization {
      scale: o.scale.map(|s| s as f32),
      clamp: o.clamp,
    },
    reorder: match o.reorder.as_str() {
      "none" => Reorder::None,
      "bp" => Reorder::Bp,
      r => return Err(invalid(format!("reorder must be 'none' or 'bp' (got {r:?})"))),
    },
    layout: match o.layout.as_str() {
      "blocks" => Layout::Blocks,
      "terms" => Layout::Terms,
      l => return Err(invalid(format!("layout must be 'blocks' or 'terms' (got {l:?})"))),
    },
  };
  Ok(Job::new(move || {
    let idx = guard(|| SparseIndex::build(docs, &opts))?;
    Ok(NativeSparseIndex {
      inner: Snapshot::new(idx),
    })
  }))
}

fn batch_job(
  inner: Arc<SparseIndex>,
  queries: SparseRows,
  k: f64,
  s: SparseSearchInit,
  threads: Option<f64>,
) -> napi::Result<Job<HitBatch>> {
  let k = to_k(k)?;
  let threads = to_usize_opt(threads, "threads")?;
  let s = search_params(s)?;
  let qs = rows(queries, "queries")?;
  Ok(Job::new(move || {
    let bits = s.filter.as_ref().map(|f| inner.filter_bitset(f));
    let res = guard(|| inner.search_batch(&qs, k, &s.params, bits.as_ref(), threads))?;
    Ok(hit_batch_out(inner.ids(), &res))
  }))
}

fn load_job(path: String, mmap: bool) -> Job<NativeSparseIndex> {
  Job::new(move || {
    let idx = guard(|| SparseIndex::from_bytes(&io::read_file(&PathBuf::from(&path), mmap)?))?;
    Ok(NativeSparseIndex {
      inner: Snapshot::new(idx),
    })
  })
}

#[napi]
impl NativeSparseIndex {
  #[napi(factory)]
  pub fn build_sync(ids: IdsInput, docs: SparseRows, options: SparseIndexInit) -> napi::Result<Self> {
    build_job(ids, docs, options)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeSparseIndex>")]
  pub fn build(
    ids: IdsInput,
    docs: SparseRows,
    options: SparseIndexInit,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<NativeSparseIndex>>> {
    Ok(AsyncTask::with_optional_signal(
      build_job(ids, docs, options)?,
      signal,
    ))
  }

  /// Live documents.
  #[napi(getter)]
  pub fn size(&self) -> u32 {
    self.inner.get().len() as u32
  }

  /// The quantisation scale (weight ≈ byte · scale).
  #[napi(getter)]
  pub fn scale(&self) -> f64 {
    self.inner.get().scale() as f64
  }

  /// How segments store their postings: 'blocks' or 'terms'.
  #[napi(getter)]
  pub fn layout(&self) -> String {
    match self.inner.get().layout() {
      Layout::Blocks => "blocks",
      Layout::Terms => "terms",
    }
    .to_string()
  }

  #[napi(getter)]
  pub fn block_size(&self) -> u32 {
    self.inner.get().block_size() as u32
  }

  /// Stored postings (deleted documents' included until compact).
  #[napi(getter)]
  pub fn postings(&self) -> f64 {
    self.inner.get().n_postings() as f64
  }

  /// Segments (1 after build or compact; one more per add).
  #[napi(getter)]
  pub fn segments(&self) -> u32 {
    self.inner.get().segments().count() as u32
  }

  /// Deleted documents not yet compacted away.
  #[napi(getter)]
  pub fn deleted(&self) -> u32 {
    self.inner.get().n_deleted() as u32
  }

  /// Adds documents as a new segment, on the calling thread.
  #[napi]
  pub fn add_sync(&self, ids: IdsInput, docs: SparseRows) -> napi::Result<()> {
    let docs = docs_from_js(ids, docs)?;
    self.inner.update(|idx| guard(|| idx.add(docs)))
  }

  /// Adds documents as a new segment on the libuv pool; searches keep the previous snapshot meanwhile.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn add(
    &self,
    ids: IdsInput,
    docs: SparseRows,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<()>>> {
    let docs = docs_from_js(ids, docs)?;
    let inner = self.inner.clone();
    Ok(spawn(signal, move || inner.update(|idx| guard(|| idx.add(docs)))))
  }

  /// One query (a single CSR row) on the calling thread; results go into `idsOut` / `scoresOut`.
  #[napi]
  pub fn search(
    &self,
    query: SparseRows,
    k: f64,
    search: SparseSearchInit,
    mut ids_out: Float64ArraySlice,
    mut scores_out: Float64ArraySlice,
  ) -> napi::Result<Either<u32, Vec<String>>> {
    let k = to_k(k)?;
    let s = search_params(search)?;
    let q = rows(query, "query")?;
    let Some(q) = q.first() else {
      return Err(invalid("query: one row expected"));
    };
    let snap = self.inner.get();
    let bits = s.filter.as_ref().map(|f| snap.filter_bitset(f));
    let hits = guard(|| snap.search(q, k, &s.params, bits.as_ref()))?;
    // SAFETY: the buffers are private, non-shared Float64Arrays owned by the TS wrapper
    // (`ResultBuffers`); this call is synchronous on the JS thread, so no JS code can read or
    // write them while the slices exist.
    hits_into(snap.ids(), &hits, unsafe { ids_out.as_mut() }, unsafe {
      scores_out.as_mut()
    })
  }

  #[napi]
  pub fn search_batch_sync(
    &self,
    queries: SparseRows,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
  ) -> napi::Result<HitBatch> {
    batch_job(self.inner.get(), queries, k, search, threads)?.run_sync()
  }

  #[napi(ts_return_type = "Promise<HitBatch>")]
  pub fn search_batch(
    &self,
    queries: SparseRows,
    k: f64,
    search: SparseSearchInit,
    threads: Option<f64>,
    signal: Option<AbortSignal>,
  ) -> napi::Result<AsyncTask<Job<HitBatch>>> {
    Ok(AsyncTask::with_optional_signal(
      batch_job(self.inner.get(), queries, k, search, threads)?,
      signal,
    ))
  }

  /// Imports a CIFF file's bytes (integer impacts 0..=255; a byte b scores b · scale).
  #[napi(factory)]
  pub fn from_ciff(buffer: &[u8], block_size: f64, scale: f64, reorder: String) -> napi::Result<Self> {
    let bs = to_usize(block_size, "blockSize")?;
    let reorder = match reorder.as_str() {
      "none" => Reorder::None,
      "bp" => Reorder::Bp,
      r => return Err(invalid(format!("reorder must be 'none' or 'bp' (got {r:?})"))),
    };
    let (idx, _) = guard(|| slimdex_core::sparse::ciff::import(buffer, bs, scale as f32, reorder))?;
    Ok(NativeSparseIndex {
      inner: Snapshot::new(idx),
    })
  }

  /// The index as CIFF bytes (docids in block order, tf = impact byte).
  #[napi]
  pub fn to_ciff(&self, description: String) -> napi::Result<Buffer> {
    Ok(Buffer::from(guard(|| {
      slimdex_core::sparse::ciff::export(&self.inner.get(), &description)
    })?))
  }

  #[napi]
  pub fn memory_usage(&self) -> Vec<MemoryComponent> {
    memory_to_js(self.inner.get().memory_usage())
  }

  #[napi]
  pub fn to_buffer(&self) -> napi::Result<Buffer> {
    Ok(Buffer::from(guard(|| Ok(self.inner.get().to_bytes()))?))
  }

  #[napi(factory)]
  pub fn from_buffer(buffer: &[u8]) -> napi::Result<Self> {
    Ok(NativeSparseIndex {
      inner: Snapshot::new(guard(|| SparseIndex::from_bytes(buffer))?),
    })
  }

  #[napi]
  pub fn save_sync(&self, path: String) -> napi::Result<()> {
    let bytes = guard(|| Ok(self.inner.get().to_bytes()))?;
    guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
  }

  #[napi(ts_return_type = "Promise<void>")]
  pub fn save(&self, path: String, signal: Option<AbortSignal>) -> AsyncTask<Job<()>> {
    let inner = self.inner.get();
    spawn(signal, move || {
      let bytes = guard(|| Ok(inner.to_bytes()))?;
      guard(|| io::save_atomic(&PathBuf::from(path), &bytes))
    })
  }

  #[napi(factory)]
  pub fn load_sync(path: String, mmap: Option<bool>) -> napi::Result<Self> {
    load_job(path, mmap.unwrap_or(false)).run_sync()
  }

  #[napi(ts_return_type = "Promise<NativeSparseIndex>")]
  pub fn load(
    path: String,
    mmap: Option<bool>,
    signal: Option<AbortSignal>,
  ) -> AsyncTask<Job<NativeSparseIndex>> {
    AsyncTask::with_optional_signal(load_job(path, mmap.unwrap_or(false)), signal)
  }
}

segment_methods!(NativeSparseIndex);
