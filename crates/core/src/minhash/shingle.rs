//! Shingling: text → normalised tokens → word or character n-grams, each handed on as the
//! UTF-8 bytes of the n-gram (words joined by one space). The sketch decides how to hash
//! them (seeded xxh3 for 'oph'/'classic', SHA-1 for 'datasketch').
//!
//! Normalisation (Unicode-aware, no locale): lowercase with `char::to_lowercase`; every char
//! that is not alphanumeric (punctuation, symbols, all kinds of whitespace) separates tokens;
//! tokens are joined by single ASCII spaces. Because of that, a word n-gram is a contiguous
//! slice of the normalised string, so shingling allocates nothing per shingle.

use crate::{Error, Result};

/// Word or character n-grams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShingleKind {
  /// n consecutive normalised words joined by one space (default, n = 5).
  Word,
  /// n consecutive Unicode scalar values of the normalised text (spaces included).
  Char,
}

/// How a text becomes a set of shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShingleOptions {
  pub kind: ShingleKind,
  /// n-gram length in words or chars, 1..=MAX_NGRAM; default 5.
  pub n: usize,
}

/// Largest accepted n-gram length.
pub const MAX_NGRAM: usize = 1024;

impl Default for ShingleOptions {
  fn default() -> Self {
    ShingleOptions {
      kind: ShingleKind::Word,
      n: 5,
    }
  }
}

impl ShingleOptions {
  pub fn validate(&self) -> Result<()> {
    if self.n == 0 || self.n > MAX_NGRAM {
      return Err(Error::InvalidArg(format!(
        "ngram must be an integer in 1..={MAX_NGRAM} (got {})",
        self.n
      )));
    }
    Ok(())
  }
}

/// Lowercases and replaces every run of non-alphanumeric chars by one space (no leading or
/// trailing space). ASCII takes a fast path; other chars use Unicode properties.
pub fn normalize(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  let mut pending_space = false;
  for c in text.chars() {
    if c.is_ascii() {
      if c.is_ascii_alphanumeric() {
        if pending_space && !out.is_empty() {
          out.push(' ');
        }
        pending_space = false;
        out.push(c.to_ascii_lowercase());
      } else {
        pending_space = true;
      }
    } else if c.is_alphanumeric() {
      if pending_space && !out.is_empty() {
        out.push(' ');
      }
      pending_space = false;
      out.extend(c.to_lowercase());
    } else {
      pending_space = true;
    }
  }
  out
}

/// Calls `f` with the bytes of every shingle of `text`, in order (repeats included: the
/// sketches are set functions, so repeats do not matter). A non-empty text with fewer than
/// n units gives one shingle, its whole normalised form. Returns the number of shingles
/// emitted (0 only when the text has no alphanumeric char).
pub fn for_each_shingle(text: &str, opts: &ShingleOptions, mut f: impl FnMut(&[u8])) -> usize {
  let norm = normalize(text);
  if norm.is_empty() {
    return 0;
  }
  let bytes = norm.as_bytes();
  let n = opts.n;
  match opts.kind {
    ShingleKind::Word => {
      // Start offsets of the words and the end offset of each (exclusive).
      let mut starts: Vec<usize> = Vec::with_capacity(bytes.len() / 4 + 1);
      starts.push(0);
      for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' {
          starts.push(i + 1);
        }
      }
      let words = starts.len();
      if words <= n {
        f(bytes);
        return 1;
      }
      let end_of = |w: usize| {
        if w + 1 < words {
          starts[w + 1] - 1
        } else {
          bytes.len()
        }
      };
      for w in 0..=words - n {
        f(&bytes[starts[w]..end_of(w + n - 1)]);
      }
      words - n + 1
    }
    ShingleKind::Char => {
      let mut bounds: Vec<usize> = norm.char_indices().map(|(i, _)| i).collect();
      bounds.push(bytes.len());
      let chars = bounds.len() - 1;
      if chars <= n {
        f(bytes);
        return 1;
      }
      for c in 0..=chars - n {
        f(&bytes[bounds[c]..bounds[c + n]]);
      }
      chars - n + 1
    }
  }
}

/// The shingles of `text` as owned strings (tests, debugging and the JS `shingles()` helper).
pub fn shingles(text: &str, opts: &ShingleOptions) -> Vec<String> {
  let mut out = Vec::new();
  for_each_shingle(text, opts, |b| out.push(String::from_utf8_lossy(b).into_owned()));
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn normalisation_is_unicode_aware() {
    assert_eq!(normalize("  Hello,   WORLD!\tfoo-bar\n"), "hello world foo bar");
    assert_eq!(normalize("ÉCOLE Straße ΣΟΦΊΑ"), "école straße σοφία");
    assert_eq!(normalize("日本語\u{3000}テキスト"), "日本語 テキスト");
    assert_eq!(normalize("...!!!"), "");
    assert_eq!(normalize(""), "");
  }

  #[test]
  fn word_ngrams_match_a_naive_join() {
    let text = "The quick, brown fox -- jumps over the LAZY dog.";
    for n in 1..=10 {
      let opts = ShingleOptions {
        kind: ShingleKind::Word,
        n,
      };
      let words: Vec<&str> = "the quick brown fox jumps over the lazy dog".split(' ').collect();
      let expect: Vec<String> = if words.len() <= n {
        vec![words.join(" ")]
      } else {
        words.windows(n).map(|w| w.join(" ")).collect()
      };
      assert_eq!(shingles(text, &opts), expect, "n={n}");
    }
  }

  #[test]
  fn char_ngrams_count_scalar_values() {
    let opts = ShingleOptions {
      kind: ShingleKind::Char,
      n: 3,
    };
    assert_eq!(shingles("Ab Çd", &opts), vec!["ab ", "b ç", " çd"]);
    assert_eq!(shingles("Éé", &opts), vec!["éé"]);
  }

  #[test]
  fn short_and_empty_documents() {
    let opts = ShingleOptions::default();
    assert_eq!(shingles("only three words", &opts), vec!["only three words"]);
    assert!(shingles("  ?! ", &opts).is_empty());
    assert!(ShingleOptions {
      kind: ShingleKind::Word,
      n: 0
    }
    .validate()
    .is_err());
  }
}
