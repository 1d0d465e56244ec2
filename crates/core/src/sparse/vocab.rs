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

/// Term ids in the canonical order every build assigns: the terms used by `rows` sorted by
/// their UTF-8 bytes. `term_of(old)` names an old id; rows are remapped to the new ids and each
/// row re-sorted by them (values follow their terms; repeated terms stay, adjacent). Because
/// the order depends only on the set of terms, `compact()` reproduces a fresh build's ids and
/// with them the exact order in which a document's scores are summed.
pub fn canonicalize<'a, V: Copy>(
  n_old: usize,
  term_of: impl Fn(u32) -> &'a str,
  rows: &mut [(Vec<u32>, Vec<V>)],
) -> Result<Vocab> {
  let mut used = vec![false; n_old];
  for r in rows.iter() {
    for &t in &r.0 {
      used[t as usize] = true;
    }
  }
  let mut names: Vec<(&str, u32)> = (0..n_old as u32)
    .filter(|&t| used[t as usize])
    .map(|t| (term_of(t), t))
    .collect();
  names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
  let mut remap = vec![u32::MAX; n_old];
  let mut vocab = Vocab::new();
  for &(name, old) in &names {
    remap[old as usize] = vocab.intern(name)?;
  }
  let mut pairs: Vec<(u32, V)> = Vec::new();
  for (terms, vals) in rows.iter_mut() {
    pairs.clear();
    pairs.extend(terms.iter().map(|&t| remap[t as usize]).zip(vals.iter().copied()));
    pairs.sort_by_key(|p| p.0);
    terms.clear();
    vals.clear();
    for &(t, v) in &pairs {
      terms.push(t);
      vals.push(v);
    }
  }
  Ok(vocab)
}

/// Terms not yet in a vocabulary, numbered after it while a batch is validated, so a failed
/// batch leaves the vocabulary unchanged.
pub struct PendingTerms<'v> {
  base: &'v Vocab,
  map: HashMap<String, u32>,
  terms: Vec<String>,
}

impl<'v> PendingTerms<'v> {
  pub fn new(base: &'v Vocab) -> Self {
    PendingTerms {
      base,
      map: HashMap::new(),
      terms: Vec::new(),
    }
  }
  /// The id `term` has (or will have once committed).
  pub fn id(&mut self, term: &str) -> Result<u32> {
    if let Some(id) = self.base.get(term) {
      return Ok(id);
    }
    if let Some(&id) = self.map.get(term) {
      return Ok(id);
    }
    let id = crate::validate::to_u32(self.base.len() + self.terms.len(), "vocabulary size")?;
    self.map.insert(term.to_string(), id);
    self.terms.push(term.to_string());
    Ok(id)
  }
  /// Ids in use after commit.
  pub fn len(&self) -> usize {
    self.base.len() + self.terms.len()
  }
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
  /// The name of any id handed out so far.
  pub fn name(&self, id: u32) -> &str {
    let i = id as usize;
    if i < self.base.len() {
      self.base.term(id).unwrap_or("")
    } else {
      &self.terms[i - self.base.len()]
    }
  }
  /// The new terms, in id order.
  pub fn into_new_terms(self) -> Vec<String> {
    self.terms
  }
}

impl Vocab {
  /// Appends terms returned by [`PendingTerms::into_new_terms`].
  pub fn extend_new(&mut self, terms: Vec<String>) -> Result<()> {
    for t in terms {
      self.intern(&t)?;
    }
    Ok(())
  }
}
