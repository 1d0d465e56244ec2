//! CIFF (Common Index File Format, osirrc/ciff v1): import into and export from `SparseIndex`,
//! so indexes move to and from PISA, Anserini and the BMP reference.
//!
//! A file is one `Header`, `num_postings_lists` `PostingsList`s, then `num_docs` `DocRecord`s,
//! each a protobuf message prefixed by its varint length. The three messages use only varints,
//! one double and strings, so a ~100-line hand-written codec replaces protoc + prost (no build
//! script, no generated code). Posting docids are d-gaps; `tf` carries the integer impact
//! (8-bit here, as BMP requires). Unknown fields are skipped, as protobuf requires.

use super::index::{Csr, Reorder, SparseIndex};
use super::vocab::Vocab;
use crate::ids::{ExternalId, IdMap};
use crate::{Error, Result};

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
  while v >= 0x80 {
    out.push((v as u8) | 0x80);
    v >>= 7;
  }
  out.push(v as u8);
}
fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
  put_varint(out, ((field as u64) << 3) | wire as u64);
}
fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
  if v != 0 {
    put_key(out, field, 0);
    put_varint(out, v as u64);
  }
}
fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
  put_key(out, field, 2);
  put_varint(out, b.len() as u64);
  out.extend_from_slice(b);
}
fn put_delimited(out: &mut Vec<u8>, msg: &[u8]) {
  put_varint(out, msg.len() as u64);
  out.extend_from_slice(msg);
}

struct Reader<'a> {
  buf: &'a [u8],
  pos: usize,
}

impl<'a> Reader<'a> {
  fn varint(&mut self, what: &str) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
      let b = *self
        .buf
        .get(self.pos)
        .ok_or_else(|| Error::corrupt(format!("CIFF: truncated varint in {what}")))?;
      self.pos += 1;
      v |= ((b & 0x7f) as u64) << shift;
      if b < 0x80 {
        return Ok(v);
      }
    }
    Err(Error::corrupt(format!("CIFF: varint too long in {what}")))
  }
  fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
    let end = usize::try_from(n)
      .ok()
      .and_then(|n| self.pos.checked_add(n))
      .filter(|&e| e <= self.buf.len());
    let end = end.ok_or_else(|| Error::corrupt(format!("CIFF: {what} runs past the end of the data")))?;
    let s = &self.buf[self.pos..end];
    self.pos = end;
    Ok(s)
  }
  fn delimited(&mut self, what: &str) -> Result<&'a [u8]> {
    let n = self.varint(what)?;
    self.take(n, what)
  }
  fn done(&self) -> bool {
    self.pos >= self.buf.len()
  }
}

/// One decoded field: (number, varint value or fixed64 bits, bytes for length-delimited).
fn fields<'a>(msg: &'a [u8], what: &str, mut f: impl FnMut(u32, u64, &'a [u8]) -> Result<()>) -> Result<()> {
  let mut r = Reader { buf: msg, pos: 0 };
  while !r.done() {
    let key = r.varint(what)?;
    let (field, wire) = ((key >> 3) as u32, (key & 7) as u8);
    match wire {
      0 => f(field, r.varint(what)?, &[])?,
      1 => {
        let b = r.take(8, what)?;
        f(field, u64::from_le_bytes(b.try_into().unwrap_or([0; 8])), &[])?
      }
      2 => {
        let b = r.delimited(what)?;
        f(field, 0, b)?
      }
      5 => {
        r.take(4, what)?;
      }
      w => {
        return Err(Error::corrupt(format!(
          "CIFF: unsupported wire type {w} in {what}"
        )))
      }
    }
  }
  Ok(())
}

fn int32(v: u64, what: &str) -> Result<i64> {
  // int32 negatives are sign-extended to 64 bits on the wire.
  let x = v as i64;
  if x < i32::MIN as i64 || x > i32::MAX as i64 {
    return Err(Error::corrupt(format!(
      "CIFF: {what} = {x} is out of int32 range"
    )));
  }
  Ok(x)
}

fn text(b: &[u8], what: &str) -> Result<String> {
  String::from_utf8(b.to_vec()).map_err(|_| Error::corrupt(format!("CIFF: {what} is not UTF-8")))
}

/// Header of a CIFF file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CiffHeader {
  pub version: i64,
  pub num_postings_lists: i64,
  pub num_docs: i64,
  pub total_postings_lists: i64,
  pub total_docs: i64,
  pub total_terms_in_collection: i64,
  pub average_doclength: f64,
  pub description: String,
}

/// Reads a CIFF file into a `SparseIndex` (impacts must be integers in 0..=255; a byte b scores
/// b · `scale`, default 1). External ids are the DocRecords' `collection_docid`s. The CIFF
/// docid order is kept unless `reorder` asks for BP.
pub fn import(
  bytes: &[u8],
  block_size: usize,
  scale: f32,
  reorder: Reorder,
) -> Result<(SparseIndex, CiffHeader)> {
  if !(scale.is_finite() && scale > 0.0) {
    return Err(Error::InvalidArg(format!(
      "scale must be a positive finite number (got {scale})"
    )));
  }
  let mut r = Reader { buf: bytes, pos: 0 };
  let mut h = CiffHeader::default();
  fields(r.delimited("header")?, "header", |f, v, b| {
    match f {
      1 => h.version = int32(v, "version")?,
      2 => h.num_postings_lists = int32(v, "num_postings_lists")?,
      3 => h.num_docs = int32(v, "num_docs")?,
      4 => h.total_postings_lists = int32(v, "total_postings_lists")?,
      5 => h.total_docs = int32(v, "total_docs")?,
      6 => h.total_terms_in_collection = v as i64,
      7 => h.average_doclength = f64::from_bits(v),
      8 => h.description = text(b, "description")?,
      _ => {}
    }
    Ok(())
  })?;
  if h.num_postings_lists < 0 || h.num_docs < 0 {
    return Err(Error::corrupt(format!(
      "CIFF: negative counts in header ({} lists, {} docs)",
      h.num_postings_lists, h.num_docs
    )));
  }
  let n_docs = h.num_docs as usize;
  let mut vocab = Vocab::new();
  // (doc, term, impact) triples in list order: terms ascend within each doc.
  let mut triples: Vec<(u32, u32, u8)> = Vec::new();
  for li in 0..h.num_postings_lists {
    let msg = r.delimited("postings list")?;
    let mut term = None;
    let mut df = None;
    let mut doc: i64 = -1;
    let mut count = 0i64;
    let term_id = vocab.len() as u32;
    fields(msg, "postings list", |f, v, b| {
      match f {
        1 => term = Some(text(b, "term")?),
        2 => df = Some(v as i64),
        4 => {
          let (mut gap, mut tf) = (None, 0i64);
          fields(b, "posting", |f, v, _| {
            match f {
              1 => gap = Some(int32(v, "docid")?),
              2 => tf = int32(v, "tf")?,
              _ => {}
            }
            Ok(())
          })?;
          let gap = gap.unwrap_or(0);
          if gap < 0 || (gap == 0 && doc >= 0) {
            return Err(Error::corrupt(format!(
              "CIFF: list {li}: docid gap {gap} (docids must increase)"
            )));
          }
          doc += gap + if doc < 0 { 1 } else { 0 };
          if doc >= n_docs as i64 {
            return Err(Error::corrupt(format!(
              "CIFF: list {li}: docid {doc} ≥ num_docs {n_docs}"
            )));
          }
          if !(0..=255).contains(&tf) {
            return Err(Error::corrupt(format!(
              "CIFF: list {li}: impact {tf} is outside 0..=255 (quantise to 8 bits first)"
            )));
          }
          count += 1;
          if tf > 0 {
            triples.push((doc as u32, term_id, tf as u8));
          }
        }
        _ => {}
      }
      Ok(())
    })?;
    let term = term.ok_or_else(|| Error::corrupt(format!("CIFF: list {li} has no term")))?;
    if df.is_some_and(|d| d != count) {
      return Err(Error::corrupt(format!(
        "CIFF: list {li} ({term:?}): df {} but {count} postings",
        df.unwrap_or(0)
      )));
    }
    if vocab.get(&term).is_some() {
      return Err(Error::corrupt(format!(
        "CIFF: term {term:?} appears in two postings lists"
      )));
    }
    vocab.intern(&term)?;
  }
  let mut ext = Vec::with_capacity(n_docs.min(bytes.len()));
  for i in 0..n_docs {
    let msg = r.delimited("doc record")?;
    let (mut docid, mut name) = (0i64, String::new());
    fields(msg, "doc record", |f, v, b| {
      match f {
        1 => docid = int32(v, "docid")?,
        2 => name = text(b, "collection_docid")?,
        _ => {}
      }
      Ok(())
    })?;
    if docid != i as i64 {
      return Err(Error::corrupt(format!(
        "CIFF: doc record {i} has docid {docid} (records must come in docid order)"
      )));
    }
    ext.push(ExternalId::Str(name));
  }
  if !r.done() {
    return Err(Error::corrupt(format!(
      "CIFF: {} trailing bytes after the last doc record",
      bytes.len() - r.pos
    )));
  }
  let mut ids = IdMap::new();
  ids
    .push_batch(ext)
    .map_err(|e| Error::corrupt(format!("CIFF: {e}")))?;
  // Counting sort by document (stable: terms stay ascending within a document).
  let mut ptr = vec![0usize; n_docs + 1];
  for &(d, _, _) in &triples {
    ptr[d as usize + 1] += 1;
  }
  for i in 0..n_docs {
    ptr[i + 1] += ptr[i];
  }
  let mut terms = vec![0u32; triples.len()];
  let mut vals = vec![0u8; triples.len()];
  let mut fill = ptr.clone();
  for &(d, t, v) in &triples {
    let p = fill[d as usize];
    terms[p] = t;
    vals[p] = v;
    fill[d as usize] += 1;
  }
  drop(triples);
  let n_terms = vocab.len();
  let idx = SparseIndex::from_csr(
    true,
    vocab,
    n_terms,
    scale,
    ids,
    Csr { ptr, terms, vals },
    block_size,
    reorder,
    super::index::Layout::Blocks,
  )?;
  Ok((idx, h))
}

/// Writes a `SparseIndex` as CIFF: docids are block-order positions (so a BP order carries
/// over), `tf` = the impact byte, terms in term-id order (numeric vocabularies use the decimal
/// index as the term), `collection_docid` = the external id, `doclength` = postings per doc.
/// An index with several segments or deleted documents is exported as its compacted form.
pub fn export(idx: &SparseIndex, description: &str) -> Result<Vec<u8>> {
  if idx.segments().count() > 1 || idx.n_deleted() > 0 {
    let mut compacted = idx.clone();
    compacted.compact()?;
    return export(&compacted, description);
  }
  let seg = idx.segments().list().first();
  let n = idx.len();
  let n_terms = idx.n_terms();
  // Gather postings by term (doc positions ascend because blocks are visited in order).
  let mut per_term: Vec<Vec<(u32, u8)>> = vec![Vec::new(); n_terms];
  let mut doc_len = vec![0u32; n];
  if let Some(s) = seg {
    s.blocks().for_each_posting(|pos, t, v| {
      per_term[t as usize].push((pos as u32, v));
      doc_len[pos] += 1;
    });
  }
  let total: u64 = doc_len.iter().map(|&l| l as u64).sum();
  let mut out = Vec::new();
  let mut h = Vec::new();
  put_int(&mut h, 1, 1);
  put_int(&mut h, 2, n_terms as i64);
  put_int(&mut h, 3, n as i64);
  put_int(&mut h, 4, n_terms as i64);
  put_int(&mut h, 5, n as i64);
  put_int(&mut h, 6, total as i64);
  put_key(&mut h, 7, 1);
  h.extend_from_slice(
    &(if n > 0 { total as f64 / n as f64 } else { 0.0 })
      .to_bits()
      .to_le_bytes(),
  );
  if !description.is_empty() {
    put_bytes(&mut h, 8, description.as_bytes());
  }
  put_delimited(&mut out, &h);
  let mut m = Vec::new();
  let mut p = Vec::new();
  for (t, list) in per_term.iter().enumerate() {
    m.clear();
    let name = match idx.vocab().term(t as u32) {
      Some(s) if idx.is_named() => s.to_string(),
      _ => t.to_string(),
    };
    put_bytes(&mut m, 1, name.as_bytes());
    put_int(&mut m, 2, list.len() as i64);
    put_int(&mut m, 3, list.iter().map(|e| e.1 as i64).sum());
    let mut prev = 0u32;
    for (i, &(d, v)) in list.iter().enumerate() {
      p.clear();
      let gap = if i == 0 { d } else { d - prev };
      prev = d;
      put_int(&mut p, 1, gap as i64);
      put_int(&mut p, 2, v as i64);
      put_bytes(&mut m, 4, &p);
    }
    put_delimited(&mut out, &m);
  }
  // Position → external id.
  let mut at_pos = vec![0u32; n];
  if let Some(s) = seg {
    for id in 0..n as u32 {
      at_pos[s.position(id)] = id;
    }
  }
  for (pos, &id) in at_pos.iter().enumerate() {
    m.clear();
    put_int(&mut m, 1, pos as i64);
    let name = match idx.external_id(id) {
      ExternalId::Str(s) => s,
      ExternalId::Int(v) => v.to_string(),
    };
    put_bytes(&mut m, 2, name.as_bytes());
    put_int(&mut m, 3, doc_len[pos] as i64);
    put_delimited(&mut out, &m);
  }
  Ok(out)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::rng::Rng;
  use crate::sparse::{SearchParams, SparseIndexOptions, SparseVector};

  fn sample() -> SparseIndex {
    let mut rng = Rng::new(4);
    let docs = (0..500)
      .map(|i| {
        let mut t: Vec<u32> = (0..1 + rng.below(15) as usize)
          .map(|_| rng.below(200) as u32)
          .collect();
        t.sort();
        t.dedup();
        let w: Vec<f32> = t.iter().map(|_| 1.0 + rng.below(200) as f32).collect();
        (
          ExternalId::Str(format!("doc{i}")),
          SparseVector::Named(t.iter().map(|x| format!("w{x}")).zip(w).collect()),
        )
      })
      .collect();
    let q = crate::sparse::Quantization {
      scale: Some(1.0),
      clamp: false,
    };
    SparseIndex::build(
      docs,
      &SparseIndexOptions {
        block_size: 16,
        quantization: q,
        reorder: Reorder::Bp,
        layout: crate::sparse::Layout::Blocks,
      },
    )
    .unwrap()
  }

  #[test]
  fn round_trip_keeps_order_and_results() {
    let idx = sample();
    let bytes = export(&idx, "test").unwrap();
    let (back, h) = import(&bytes, 16, 1.0, Reorder::None).unwrap();
    assert_eq!(h.num_docs, 500);
    assert_eq!(h.description, "test");
    assert_eq!(back.n_postings(), idx.n_postings());
    // Same docid order: exporting again gives identical bytes.
    assert_eq!(export(&back, "test").unwrap(), bytes);
    let mut rng = Rng::new(5);
    for _ in 0..20 {
      let q = SparseVector::Named(
        (0..6)
          .map(|_| (format!("w{}", rng.below(200)), 1.0 + rng.below(5) as f32))
          .collect::<std::collections::HashMap<_, _>>()
          .into_iter()
          .collect(),
      );
      let a: Vec<_> = idx
        .search(&q, 10, &SearchParams::default(), None)
        .unwrap()
        .into_iter()
        .map(|h| (idx.external_id(h.id), h.score))
        .collect();
      let b: Vec<_> = back
        .search(&q, 10, &SearchParams::default(), None)
        .unwrap()
        .into_iter()
        .map(|h| (back.external_id(h.id), h.score))
        .collect();
      // Ties may order differently (the tie-break is by internal id, i.e. file order).
      assert_eq!(
        a.iter().map(|x| x.1).collect::<Vec<_>>(),
        b.iter().map(|x| x.1).collect::<Vec<_>>()
      );
    }
  }

  #[test]
  fn corrupted_files_give_clear_errors() {
    let bytes = export(&sample(), "").unwrap();
    for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
      let e = import(&bytes[..cut], 16, 1.0, Reorder::None).expect_err("truncated must fail");
      assert!(matches!(e, Error::CorruptFile(_)), "{e}");
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(import(&extra, 16, 1.0, Reorder::None).is_err());
    // An impact above 255.
    let mut out = Vec::new();
    let mut h = Vec::new();
    put_int(&mut h, 2, 1);
    put_int(&mut h, 3, 1);
    put_delimited(&mut out, &h);
    let (mut m, mut p) = (Vec::new(), Vec::new());
    put_bytes(&mut m, 1, b"x");
    put_int(&mut p, 2, 300);
    put_bytes(&mut m, 4, &p);
    put_delimited(&mut out, &m);
    let mut d = Vec::new();
    put_bytes(&mut d, 2, b"a");
    put_delimited(&mut out, &d);
    let e = import(&out, 16, 1.0, Reorder::None).expect_err("impact 300");
    assert!(e.to_string().contains("0..=255"), "{e}");
  }
}
