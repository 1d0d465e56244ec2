//! Term strings ↔ dense term ids (u32, so vocabularies beyond 65,536 terms are fine).

use crate::io::{ByteReader, ByteWriter};
use crate::{Error, Result};
use hashbrown::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Vocab {
  terms: Vec<String>,
  ids: HashMap<String, u32>,
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
    self.ids.get(term).copied()
  }

  /// The id of `term`, adding it if new.
  pub fn intern(&mut self, term: &str) -> Result<u32> {
    if let Some(&id) = self.ids.get(term) {
      return Ok(id);
    }
    let id = u32::try_from(self.terms.len()).map_err(|_| Error::invalid("more than 2^32 distinct terms"))?;
    self.terms.push(term.to_string());
    self.ids.insert(term.to_string(), id);
    Ok(id)
  }

  pub fn memory_bytes(&self) -> usize {
    // Each term is stored twice (list and map key) plus the map's slot.
    self.terms.iter().map(|t| 2 * t.len() + 2 * std::mem::size_of::<String>() + 4).sum()
  }

  pub fn write(&self, w: &mut ByteWriter) {
    w.put(self.terms.len() as u64);
    for t in &self.terms {
      w.put_str(t);
    }
  }

  pub fn read(r: &mut ByteReader) -> Result<Self> {
    let n = r.get::<u64>("vocabulary size")?;
    let mut v = Vocab::new();
    for i in 0..n {
      let t = r.get_str("term")?;
      if v.get(&t).is_some() {
        return Err(Error::corrupt(format!("term {t:?} appears twice in the vocabulary (at {i})")));
      }
      v.intern(&t)?;
    }
    Ok(v)
  }
}
