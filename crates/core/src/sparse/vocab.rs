//! Term strings ↔ dense u32 term ids (first-seen order). u32 ids: vocabularies may exceed 65,536.

use crate::io::{ByteReader, ByteWriter};
use crate::{Error, Result};
use hashbrown::HashMap;

#[derive(Clone, Debug, Default)]
pub struct Vocab {
  map: HashMap<String, u32>,
  terms: Vec<String>,
}

impl Vocab {
  pub fn new() -> Self {
    Self::default()
  }
  pub fn len(&self) -> usize {
    self.terms.len()
  }
  pub fn is_empty(&self) -> bool {
    self.terms.is_empty()
  }
  pub fn get(&self, term: &str) -> Option<u32> {
    self.map.get(term).copied()
  }
  pub fn term(&self, id: u32) -> Option<&str> {
    self.terms.get(id as usize).map(|s| s.as_str())
  }
  /// The id of `term`, adding it if new.
  pub fn intern(&mut self, term: &str) -> Result<u32> {
    if let Some(&id) = self.map.get(term) {
      return Ok(id);
    }
    let id = crate::validate::to_u32(self.terms.len(), "vocabulary size")?;
    self.map.insert(term.to_string(), id);
    self.terms.push(term.to_string());
    Ok(id)
  }
  pub fn memory_bytes(&self) -> usize {
    // Strings are held twice (map key and list) plus ~8 bytes of table per entry.
    self.terms.iter().map(|s| 2 * s.len() + 48 + 12).sum()
  }
  pub fn write(&self, w: &mut ByteWriter) {
    w.put(self.terms.len() as u64);
    for t in &self.terms {
      w.put_str(t);
    }
  }
  pub fn read(r: &mut ByteReader<'_>) -> Result<Vocab> {
    let n = r.get_len(8, "vocabulary size")?;
    let mut v = Vocab::new();
    for _ in 0..n {
      let t = r.get_str("vocabulary term")?;
      if v.map.contains_key(&t) {
        return Err(Error::corrupt(format!("vocabulary term {t:?} repeated")));
      }
      v.intern(&t)?;
    }
    Ok(v)
  }
}
