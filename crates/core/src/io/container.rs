//! Writing and validating the container (layout in the module docs).

use crate::{Error, Result};

pub const MAGIC: &[u8; 6] = b"SLMDX\0";
/// Bumped when the layout changes incompatibly; readers refuse newer versions.
pub const FORMAT_VERSION: u16 = 1;

const HEADER_LEN: usize = 32;
const ENTRY_LEN: usize = 32;
const ALIGN: usize = 64;
/// No index has anywhere near this many sections; a larger count is corruption.
const MAX_SECTIONS: u32 = 4096;

/// What a container holds. Values are part of the file format: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
  BinaryIndex = 1,
  ProductQuantizer = 2,
  PqIndex = 3,
  FlatIndex = 4,
  MinHashLsh = 5,
  LshBloom = 6,
  SparseIndex = 7,
  Bm25Index = 8,
  FdeEncoder = 9,
  MultiVectorIndex = 10,
  ScalarQuantizer = 11,
}

impl Kind {
  pub const ALL: [Kind; 11] = [
    Kind::BinaryIndex,
    Kind::ProductQuantizer,
    Kind::PqIndex,
    Kind::FlatIndex,
    Kind::MinHashLsh,
    Kind::LshBloom,
    Kind::SparseIndex,
    Kind::Bm25Index,
    Kind::FdeEncoder,
    Kind::MultiVectorIndex,
    Kind::ScalarQuantizer,
  ];

  pub fn from_u16(v: u16) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| *k as u16 == v)
  }

  pub fn name(self) -> &'static str {
    match self {
      Kind::BinaryIndex => "BinaryIndex",
      Kind::ProductQuantizer => "ProductQuantizer",
      Kind::PqIndex => "PQIndex",
      Kind::FlatIndex => "FlatIndex",
      Kind::MinHashLsh => "MinHashLSH",
      Kind::LshBloom => "LSHBloom",
      Kind::SparseIndex => "SparseIndex",
      Kind::Bm25Index => "BM25Index",
      Kind::FdeEncoder => "FdeEncoder",
      Kind::MultiVectorIndex => "MultiVectorIndex",
      Kind::ScalarQuantizer => "ScalarQuantizer",
    }
  }
}

/// Builds a container in memory: parameters, then named sections.
pub struct ContainerWriter {
  kind: Kind,
  params: Vec<u8>,
  sections: Vec<([u8; 4], Vec<u8>)>,
}

impl ContainerWriter {
  pub fn new(kind: Kind, params: Vec<u8>) -> Self {
    ContainerWriter {
      kind,
      params,
      sections: Vec::new(),
    }
  }

  /// Adds a section; tags must be unique within a container.
  pub fn section(&mut self, tag: &[u8; 4], payload: Vec<u8>) -> &mut Self {
    debug_assert!(
      self.sections.iter().all(|(t, _)| t != tag),
      "duplicate section tag"
    );
    self.sections.push((*tag, payload));
    self
  }

  pub fn to_bytes(&self) -> Vec<u8> {
    let n = self.sections.len();
    let params_at = HEADER_LEN + ENTRY_LEN * n;
    let mut offsets = Vec::with_capacity(n);
    let mut cursor = params_at + self.params.len();
    for (_, payload) in &self.sections {
      cursor = cursor.div_ceil(ALIGN) * ALIGN;
      offsets.push(cursor);
      cursor += payload.len();
    }
    let total = cursor;
    let mut out = vec![0u8; total];
    out[0..6].copy_from_slice(MAGIC);
    out[6..8].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[8..10].copy_from_slice(&(self.kind as u16).to_le_bytes());
    out[12..16].copy_from_slice(&(n as u32).to_le_bytes());
    out[16..20].copy_from_slice(&(self.params.len() as u32).to_le_bytes());
    out[20..24].copy_from_slice(&crc32c::crc32c(&self.params).to_le_bytes());
    for (i, ((tag, payload), &off)) in self.sections.iter().zip(&offsets).enumerate() {
      let e = HEADER_LEN + ENTRY_LEN * i;
      out[e..e + 4].copy_from_slice(tag);
      out[e + 8..e + 16].copy_from_slice(&(off as u64).to_le_bytes());
      out[e + 16..e + 24].copy_from_slice(&(payload.len() as u64).to_le_bytes());
      out[e + 24..e + 28].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
      out[off..off + payload.len()].copy_from_slice(payload);
    }
    out[params_at..params_at + self.params.len()].copy_from_slice(&self.params);
    let header_crc = header_crc(&out[..24], &out[28..params_at]);
    out[24..28].copy_from_slice(&header_crc.to_le_bytes());
    out
  }
}

fn header_crc(fixed: &[u8], table: &[u8]) -> u32 {
  crc32c::crc32c_append(crc32c::crc32c(fixed), table)
}

/// A validated view of a container. Constructed only by [`Container::parse`], which has
/// checked the magic, version, kind, every length and every checksum.
#[derive(Debug)]
pub struct Container<'a> {
  pub kind: Kind,
  pub version: u16,
  params: &'a [u8],
  sections: Vec<([u8; 4], &'a [u8])>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
  u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
  u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
  u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl<'a> Container<'a> {
  /// Validates `bytes` as a container of kind `expected`.
  pub fn parse(bytes: &'a [u8], expected: Kind) -> Result<Container<'a>> {
    let c = Self::parse_any(bytes)?;
    if c.kind != expected {
      return Err(Error::corrupt(format!(
        "this file holds a {} but a {} was expected",
        c.kind.name(),
        expected.name()
      )));
    }
    Ok(c)
  }

  /// Validates `bytes` as a container of any kind (used by `info`-style tools).
  pub fn parse_any(bytes: &'a [u8]) -> Result<Container<'a>> {
    if bytes.len() < HEADER_LEN {
      return Err(Error::corrupt(format!(
        "{} bytes is too short for a slimdex header",
        bytes.len()
      )));
    }
    if &bytes[0..6] != MAGIC {
      return Err(Error::corrupt("not a slimdex file (bad magic)"));
    }
    let version = u16_at(bytes, 6);
    if version > FORMAT_VERSION {
      return Err(Error::corrupt(format!(
        "format version {version} was written by a newer slimdex; this one reads up to version {FORMAT_VERSION}"
      )));
    }
    if version == 0 {
      return Err(Error::corrupt("format version 0 is invalid"));
    }
    let kind_raw = u16_at(bytes, 8);
    let kind =
      Kind::from_u16(kind_raw).ok_or_else(|| Error::corrupt(format!("unknown index kind {kind_raw}")))?;
    let count = u32_at(bytes, 12);
    if count > MAX_SECTIONS {
      return Err(Error::corrupt(format!("section count {count} is implausible")));
    }
    let count = count as usize;
    let params_at = HEADER_LEN + ENTRY_LEN * count;
    let params_len = u32_at(bytes, 16) as usize;
    let params_end = params_at
      .checked_add(params_len)
      .filter(|&e| e <= bytes.len())
      .ok_or_else(|| Error::corrupt("truncated: the section table or parameters run past the end"))?;
    if params_at > bytes.len() {
      return Err(Error::corrupt("truncated: the section table runs past the end"));
    }
    if header_crc(&bytes[..24], &bytes[28..params_at]) != u32_at(bytes, 24) {
      return Err(Error::corrupt("header checksum mismatch"));
    }
    let params = &bytes[params_at..params_end];
    if crc32c::crc32c(params) != u32_at(bytes, 20) {
      return Err(Error::corrupt("parameter checksum mismatch"));
    }
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
      let e = HEADER_LEN + ENTRY_LEN * i;
      let tag: [u8; 4] = bytes[e..e + 4].try_into().expect("4 bytes");
      let off = u64_at(bytes, e + 8);
      let len = u64_at(bytes, e + 16);
      let end = off
        .checked_add(len)
        .filter(|&end| end <= bytes.len() as u64)
        .ok_or_else(|| {
          Error::corrupt(format!(
            "truncated: section {} runs past the end of the data",
            tag_str(&tag)
          ))
        })?;
      if off < params_end as u64 {
        return Err(Error::corrupt(format!(
          "section {} overlaps the header",
          tag_str(&tag)
        )));
      }
      let payload = &bytes[off as usize..end as usize];
      if crc32c::crc32c(payload) != u32_at(bytes, e + 24) {
        return Err(Error::corrupt(format!(
          "checksum mismatch in section {}",
          tag_str(&tag)
        )));
      }
      if sections.iter().any(|(t, _)| *t == tag) {
        return Err(Error::corrupt(format!("duplicate section {}", tag_str(&tag))));
      }
      sections.push((tag, payload));
    }
    Ok(Container {
      kind,
      version,
      params,
      sections,
    })
  }

  pub fn params(&self) -> &'a [u8] {
    self.params
  }

  /// A required section.
  pub fn section(&self, tag: &[u8; 4]) -> Result<&'a [u8]> {
    self
      .optional_section(tag)
      .ok_or_else(|| Error::corrupt(format!("missing section {}", tag_str(tag))))
  }

  pub fn optional_section(&self, tag: &[u8; 4]) -> Option<&'a [u8]> {
    self.sections.iter().find(|(t, _)| t == tag).map(|(_, p)| *p)
  }

  /// (tag, byte length) of every section, for `info`.
  pub fn section_sizes(&self) -> Vec<(String, usize)> {
    self.sections.iter().map(|(t, p)| (tag_str(t), p.len())).collect()
  }
}

fn tag_str(tag: &[u8; 4]) -> String {
  String::from_utf8_lossy(tag).into_owned()
}

#[cfg(test)]
mod tests {
  use super::*;

  fn sample() -> Vec<u8> {
    let mut w = ContainerWriter::new(Kind::BinaryIndex, vec![1, 2, 3, 4, 5]);
    w.section(b"CODE", (0..200u8).collect())
      .section(b"IDS_", vec![9; 13])
      .section(b"EMPT", vec![]);
    w.to_bytes()
  }

  #[test]
  fn round_trip() {
    let bytes = sample();
    let c = Container::parse(&bytes, Kind::BinaryIndex).unwrap();
    assert_eq!(c.params(), &[1, 2, 3, 4, 5]);
    assert_eq!(
      c.section(b"CODE").unwrap(),
      (0..200u8).collect::<Vec<_>>().as_slice()
    );
    assert_eq!(c.section(b"IDS_").unwrap(), &[9; 13]);
    assert_eq!(c.section(b"EMPT").unwrap(), &[] as &[u8]);
    assert!(c.section(b"NOPE").is_err());
  }

  #[test]
  fn every_truncation_and_every_bit_flip_is_rejected() {
    let bytes = sample();
    for cut in 0..bytes.len() {
      assert!(
        Container::parse(&bytes[..cut], Kind::BinaryIndex).is_err(),
        "cut at {cut}"
      );
    }
    for i in 0..bytes.len() {
      for bit in [0u8, 3, 7] {
        let mut b = bytes.clone();
        b[i] ^= 1 << bit;
        // Flips in alignment padding change no checked byte; everything else must fail.
        let is_padding = Container::parse(&bytes, Kind::BinaryIndex)
          .map(|_| padding_ranges(&bytes).iter().any(|r| r.contains(&i)))
          .unwrap();
        let res = Container::parse(&b, Kind::BinaryIndex);
        if is_padding {
          continue;
        }
        assert!(res.is_err(), "flip of bit {bit} at byte {i} was accepted");
      }
    }
  }

  fn padding_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    // Bytes between the end of the params/previous section and the next aligned section start.
    let count = u32_at(bytes, 12) as usize;
    let mut ends = vec![HEADER_LEN + ENTRY_LEN * count + u32_at(bytes, 16) as usize];
    let mut ranges = vec![];
    for i in 0..count {
      let e = HEADER_LEN + ENTRY_LEN * i;
      let off = u64_at(bytes, e + 8) as usize;
      ranges.push(*ends.last().unwrap()..off);
      ends.push(off + u64_at(bytes, e + 16) as usize);
    }
    ranges
  }

  #[test]
  fn wrong_kind_newer_version_and_bad_magic() {
    let bytes = sample();
    let err = Container::parse(&bytes, Kind::PqIndex).unwrap_err();
    assert!(err.to_string().contains("BinaryIndex"), "{err}");
    let mut newer = bytes.clone();
    newer[6..8].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Container::parse(&newer, Kind::BinaryIndex).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(Container::parse(&magic, Kind::BinaryIndex)
      .unwrap_err()
      .to_string()
      .contains("magic"));
  }
}
