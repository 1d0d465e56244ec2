//! External ids (what users pass: integers or strings) ↔ dense internal `u32` ids.
//!
//! Internal ids are assigned in insertion order, which is also the tie-break order of
//! every search. Storage is compact because ids can cost more than the codes they label:
//! - `Sequential`: the ids so far are exactly 0, 1, 2, … — nothing stored;
//! - `Ints`: one `i64` per item;
//! - `Strs`: the UTF-8 bytes concatenated plus one `u64` offset per item;
//!
//! plus a lookup table holding only the 4-byte internal id per item (the key is read from
//! the column above when probing). One index holds ids of one type: all integers or all strings.

use crate::io::{ByteReader, ByteWriter};
use crate::{Error, Result};
use hashbrown::HashTable;
use std::fmt;

/// An id as given by the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExternalId {
  /// A safe integer (|v| ≤ 2^53 − 1, so JS numbers round-trip exactly).
  Int(i64),
  Str(String),
}

impl fmt::Display for ExternalId {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      ExternalId::Int(v) => write!(f, "{v}"),
      ExternalId::Str(s) => write!(f, "{s:?}"),
    }
  }
}

/// Largest integer JS numbers represent exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

impl ExternalId {
  /// Converts a JS number, which must be a safe integer.
  pub fn from_f64(v: f64) -> Result<ExternalId> {
    if !v.is_finite() || v.fract() != 0.0 || v.abs() > MAX_SAFE_INTEGER as f64 {
      return Err(Error::InvalidArg(format!(
        "id {v} must be a safe integer or a string"
      )));
    }
    Ok(ExternalId::Int(v as i64))
  }
}

#[derive(Clone, Debug)]
enum Column {
  Sequential(u32),
  Ints(Vec<i64>),
  Strs { bytes: Vec<u8>, ends: Vec<u64> },
}

enum IdRef<'a> {
  Int(i64),
  Str(&'a str),
}

#[derive(Clone, Debug)]
pub struct IdMap {
  column: Column,
  /// Internal ids keyed by the hash of their external id (unused while `Sequential`).
  table: HashTable<u32>,
}

impl Default for IdMap {
  fn default() -> Self {
    IdMap {
      column: Column::Sequential(0),
      table: HashTable::new(),
    }
  }
}

fn hash_int(v: i64) -> u64 {
  crate::rng::mix64(v as u64 ^ 0x05EE_D1D5)
}
fn hash_str(s: &str) -> u64 {
  xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}
fn hash_of(id: &ExternalId) -> u64 {
  match id {
    ExternalId::Int(v) => hash_int(*v),
    ExternalId::Str(s) => hash_str(s),
  }
}

impl IdMap {
  pub fn new() -> Self {
    Self::default()
  }

  pub fn len(&self) -> usize {
    match &self.column {
      Column::Sequential(n) => *n as usize,
      Column::Ints(v) => v.len(),
      Column::Strs { ends, .. } => ends.len(),
    }
  }

  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// Whether the ids are strings (otherwise integers).
  pub fn holds_strings(&self) -> bool {
    matches!(self.column, Column::Strs { .. })
  }

  /// The integer id of an internal id, when the ids are integers.
  pub fn get_int(&self, internal: u32) -> Option<i64> {
    match self.at(internal) {
      IdRef::Int(v) => Some(v),
      IdRef::Str(_) => None,
    }
  }

  fn at(&self, internal: u32) -> IdRef<'_> {
    match &self.column {
      Column::Sequential(_) => IdRef::Int(internal as i64),
      Column::Ints(v) => IdRef::Int(v[internal as usize]),
      Column::Strs { bytes, ends } => {
        let i = internal as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        // Strings are pushed from valid `String`s and validated on load.
        IdRef::Str(std::str::from_utf8(&bytes[start..ends[i] as usize]).expect("validated UTF-8"))
      }
    }
  }

  /// The external id of an internal id (which must be < len()).
  pub fn get(&self, internal: u32) -> ExternalId {
    match self.at(internal) {
      IdRef::Int(v) => ExternalId::Int(v),
      IdRef::Str(s) => ExternalId::Str(s.to_string()),
    }
  }

  fn matches(&self, internal: u32, id: &ExternalId) -> bool {
    match (self.at(internal), id) {
      (IdRef::Int(a), ExternalId::Int(b)) => a == *b,
      (IdRef::Str(a), ExternalId::Str(b)) => a == b,
      _ => false,
    }
  }

  /// The internal id of an external id, if present.
  pub fn lookup(&self, id: &ExternalId) -> Option<u32> {
    match (&self.column, id) {
      (Column::Sequential(n), ExternalId::Int(v)) => (*v >= 0 && *v < *n as i64).then_some(*v as u32),
      (Column::Sequential(_), _) => None,
      _ => self.table.find(hash_of(id), |&i| self.matches(i, id)).copied(),
    }
  }

  /// Checks a batch (types, duplicates within it and against the map) without changing anything.
  pub fn check_new(&self, ids: &[ExternalId]) -> Result<()> {
    let existing_is_str = match &self.column {
      Column::Strs { .. } => Some(true),
      Column::Ints(_) => Some(false),
      Column::Sequential(n) => (*n > 0).then_some(false),
    };
    let first_is_str = ids.first().map(|i| matches!(i, ExternalId::Str(_)));
    let want_str = existing_is_str.or(first_is_str).unwrap_or(false);
    for id in ids {
      if matches!(id, ExternalId::Str(_)) != want_str {
        return Err(Error::InvalidArg(format!(
          "id {id} is a {} but this index holds {} ids: use one id type per index",
          if want_str { "number" } else { "string" },
          if want_str { "string" } else { "number" }
        )));
      }
    }
    let needed = self
      .len()
      .checked_add(ids.len())
      .filter(|&n| n <= u32::MAX as usize);
    if needed.is_none() {
      return Err(Error::invalid("an index holds at most 2^32 − 1 items"));
    }
    let mut seen: HashTable<usize> = HashTable::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
      if self.lookup(id).is_some() {
        return Err(Error::DuplicateId(id.to_string()));
      }
      let h = hash_of(id);
      if seen.find(h, |&j| ids[j] == *id).is_some() {
        return Err(Error::DuplicateId(id.to_string()));
      }
      seen.insert_unique(h, i, |&j| hash_of(&ids[j]));
    }
    Ok(())
  }

  /// Appends a batch that passed [`check_new`](Self::check_new); returns the first internal id.
  pub fn push_checked(&mut self, ids: Vec<ExternalId>) -> u32 {
    let first = self.len() as u32;
    for id in ids {
      self.push_one(id);
    }
    first
  }

  /// Checks then appends; the map is unchanged on error.
  pub fn push_batch(&mut self, ids: Vec<ExternalId>) -> Result<u32> {
    self.check_new(&ids)?;
    Ok(self.push_checked(ids))
  }

  fn push_one(&mut self, id: ExternalId) {
    let internal = self.len() as u32;
    if let (Column::Sequential(n), ExternalId::Int(v)) = (&mut self.column, &id) {
      if *v == *n as i64 {
        *n += 1;
        return;
      }
    }
    self.materialize(matches!(id, ExternalId::Str(_)));
    match (&mut self.column, &id) {
      (Column::Ints(v), ExternalId::Int(x)) => v.push(*x),
      (Column::Strs { bytes, ends }, ExternalId::Str(s)) => {
        bytes.extend_from_slice(s.as_bytes());
        ends.push(bytes.len() as u64);
      }
      _ => unreachable!("types were checked by check_new"),
    }
    let column = &self.column;
    let rehash = |&i: &u32| match Self::at_column(column, i) {
      IdRef::Int(v) => hash_int(v),
      IdRef::Str(s) => hash_str(s),
    };
    self.table.insert_unique(hash_of(&id), internal, rehash);
  }

  fn at_column(column: &Column, internal: u32) -> IdRef<'_> {
    match column {
      Column::Sequential(_) => IdRef::Int(internal as i64),
      Column::Ints(v) => IdRef::Int(v[internal as usize]),
      Column::Strs { bytes, ends } => {
        let i = internal as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        IdRef::Str(std::str::from_utf8(&bytes[start..ends[i] as usize]).expect("validated UTF-8"))
      }
    }
  }

  /// Leaves the `Sequential` form (needed before a non-sequential id or a string is stored).
  fn materialize(&mut self, strings: bool) {
    if let Column::Sequential(n) = self.column {
      self.column = if strings {
        Column::Strs {
          bytes: Vec::new(),
          ends: Vec::new(),
        }
      } else {
        Column::Ints((0..n as i64).collect())
      };
      self.table = HashTable::with_capacity(n as usize);
      for i in 0..n {
        self
          .table
          .insert_unique(hash_int(i as i64), i, |&j| hash_int(j as i64));
      }
    }
  }

  /// Makes `internal`'s external id free for a new item (a deleted document's id may be added
  /// again). The column keeps the old value, so `get(internal)` still answers; `lookup` no
  /// longer finds it. Returns false if it was not bound.
  pub fn unbind(&mut self, internal: u32) -> bool {
    if internal as usize >= self.len() {
      return false;
    }
    self.materialize(self.holds_strings());
    let h = match self.at(internal) {
      IdRef::Int(v) => hash_int(v),
      IdRef::Str(s) => hash_str(s),
    };
    match self.table.find_entry(h, |&i| i == internal) {
      Ok(e) => {
        e.remove();
        true
      }
      Err(_) => false,
    }
  }

  /// Bytes held (column + lookup table).
  pub fn memory_bytes(&self) -> usize {
    let column = match &self.column {
      Column::Sequential(_) => 0,
      Column::Ints(v) => v.capacity() * 8,
      Column::Strs { bytes, ends } => bytes.capacity() + ends.capacity() * 8,
    };
    // hashbrown: one u32 bucket plus one control byte per slot.
    column + self.table.capacity() * 5
  }

  pub fn write(&self, w: &mut ByteWriter) {
    match &self.column {
      Column::Sequential(n) => {
        w.put(0u8).put(*n as u64);
      }
      Column::Ints(v) => {
        w.put(1u8).put_slice(v);
      }
      Column::Strs { bytes, ends } => {
        w.put(2u8).put_slice(ends).put_bytes(bytes);
      }
    }
  }

  /// Reads and validates an id column; rejects duplicates and malformed strings.
  pub fn read(r: &mut ByteReader<'_>) -> Result<IdMap> {
    Self::read_unbound(r, &[])
  }

  /// Like [`read`](Self::read), with the (sorted, unique) internal ids in `unbound` left out of
  /// the lookup table (see [`unbind`](Self::unbind)); only bound ids must be unique.
  pub fn read_unbound(r: &mut ByteReader<'_>, unbound: &[u32]) -> Result<IdMap> {
    let mut map = Self::read_column(r)?;
    if unbound.is_empty() {
      if let Column::Sequential(_) = map.column {
        return Ok(map);
      }
    }
    if unbound.last().is_some_and(|&u| u as usize >= map.len()) {
      return Err(Error::corrupt("a deleted id lies beyond the id count"));
    }
    map.materialize(map.holds_strings());
    let n = map.len();
    map.table = HashTable::with_capacity(n);
    let mut skip = unbound.iter().peekable();
    for i in 0..n as u32 {
      if skip.peek() == Some(&&i) {
        skip.next();
        continue;
      }
      let id = map.get(i);
      if map.table.find(hash_of(&id), |&j| map.matches(j, &id)).is_some() {
        return Err(Error::corrupt(format!("duplicate id {id} in saved data")));
      }
      let column = &map.column;
      map
        .table
        .insert_unique(hash_of(&id), i, |&j| match Self::at_column(column, j) {
          IdRef::Int(v) => hash_int(v),
          IdRef::Str(s) => hash_str(s),
        });
    }
    Ok(map)
  }

  fn read_column(r: &mut ByteReader<'_>) -> Result<IdMap> {
    let tag = r.get::<u8>("id column kind")?;
    let column = match tag {
      0 => {
        let n = r.get::<u64>("id count")?;
        let n = u32::try_from(n).map_err(|_| Error::corrupt("id count exceeds u32"))?;
        return Ok(IdMap {
          column: Column::Sequential(n),
          table: HashTable::new(),
        });
      }
      1 => Column::Ints(r.get_slice::<i64>("integer ids")?),
      2 => {
        let ends = r.get_slice::<u64>("string id offsets")?;
        let bytes = r.get_bytes("string id bytes")?.to_vec();
        let mut prev = 0u64;
        for &e in &ends {
          if e < prev || e > bytes.len() as u64 {
            return Err(Error::corrupt("string id offsets are not monotone"));
          }
          std::str::from_utf8(&bytes[prev as usize..e as usize])
            .map_err(|_| Error::corrupt("string id is not valid UTF-8"))?;
          prev = e;
        }
        if prev != bytes.len() as u64 {
          return Err(Error::corrupt("string id bytes have trailing data"));
        }
        Column::Strs { bytes, ends }
      }
      t => return Err(Error::corrupt(format!("unknown id column kind {t}"))),
    };
    let map = IdMap {
      column,
      table: HashTable::new(),
    };
    if map.len() > u32::MAX as usize {
      return Err(Error::corrupt("id count exceeds u32"));
    }
    Ok(map)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use ExternalId::*;

  #[test]
  fn sequential_then_arbitrary_ints() {
    let mut m = IdMap::new();
    m.push_batch(vec![Int(0), Int(1), Int(2)]).unwrap();
    assert_eq!(m.memory_bytes(), 0);
    assert_eq!(m.lookup(&Int(2)), Some(2));
    m.push_batch(vec![Int(100), Int(-5)]).unwrap();
    assert_eq!(m.lookup(&Int(100)), Some(3));
    assert_eq!(m.lookup(&Int(1)), Some(1));
    assert_eq!(m.get(4), Int(-5));
    assert!(matches!(
      m.push_batch(vec![Int(7), Int(1)]),
      Err(Error::DuplicateId(_))
    ));
    assert!(matches!(
      m.push_batch(vec![Int(7), Int(7)]),
      Err(Error::DuplicateId(_))
    ));
    assert_eq!(m.len(), 5, "a rejected batch leaves the map unchanged");
    assert!(m.push_batch(vec![Str("a".into())]).is_err());
  }

  #[test]
  fn strings_round_trip_through_bytes() {
    let mut m = IdMap::new();
    m.push_batch(vec![Str("doc-1".into()), Str("ü".into()), Str("".into())])
      .unwrap();
    let mut w = ByteWriter::new();
    m.write(&mut w);
    let bytes = w.into_bytes();
    let back = IdMap::read(&mut ByteReader::new(&bytes)).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back.get(1), Str("ü".into()));
    assert_eq!(back.lookup(&Str("".into())), Some(2));
    assert!(back.lookup(&Int(0)).is_none());
  }

  #[test]
  fn unsafe_numbers_are_rejected() {
    assert!(ExternalId::from_f64(1.5).is_err());
    assert!(ExternalId::from_f64(f64::INFINITY).is_err());
    assert!(ExternalId::from_f64(2f64.powi(60)).is_err());
    assert_eq!(ExternalId::from_f64(-3.0).unwrap(), Int(-3));
  }
}
