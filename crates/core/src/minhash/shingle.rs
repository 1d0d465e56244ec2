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

/// ASCII byte → its lowercase form if it is a letter or digit, 0 if it separates tokens.
const ASCII_CLASS: [u8; 128] = {
  let mut t = [0u8; 128];
  let mut b = 0;
  while b < 128 {
    let c = b as u8;
    t[b] = if c.is_ascii_alphanumeric() {
      c.to_ascii_lowercase()
    } else {
      0
    };
    b += 1;
  }
  t
};

/// Reusable buffers of one shingling pass (kept per thread, so signing a batch allocates
/// nothing per document once the buffers have grown to the largest document). Both are
/// written by index and only grow; the pass returns how much of each is valid.
#[derive(Default)]
struct Scratch {
  /// The normalised text: words joined by one ASCII space.
  norm: Vec<u8>,
  /// Byte offset in `norm` where each word starts.
  starts: Vec<usize>,
}

thread_local! {
  static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if a caller re-enters).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
  SCRATCH.with(|cell| match cell.try_borrow_mut() {
    Ok(mut s) => f(&mut s),
    Err(_) => f(&mut Scratch::default()),
  })
}

/// Most bytes one char can become: `to_lowercase` yields at most 3 chars of ≤ 4 bytes.
const MAX_LOWER_BYTES: usize = 12;

/// One pass over `text`: writes its normalised form to `sc.norm[..len]` and the start of
/// every word to `sc.starts[..words]`; returns `(len, words)`.
///
/// The ASCII path is branch-free per byte (word boundaries are unpredictable, so branches on
/// them would mispredict about once per word): every byte is written, as its lowercase form or
/// as a space, and the write position only advances past a space that follows a word char, so
/// a run of separators leaves one space. Word starts are recorded the same way. Non-ASCII
/// chars take `char::is_alphanumeric` / `char::to_lowercase`.
fn normalize_words(text: &str, sc: &mut Scratch) -> (usize, usize) {
  let bytes = text.as_bytes();
  // Invariant at the top of the loop: norm.len() ≥ o + (bytes.len() − i) + 1, so the ASCII
  // path (one byte written per byte read) never outgrows it; the non-ASCII path regrows.
  if sc.norm.len() < bytes.len() + 1 {
    sc.norm.resize(bytes.len() + 1, 0);
  }
  // Every word but the first follows at least one separator byte.
  if sc.starts.len() < bytes.len() / 2 + 2 {
    sc.starts.resize(bytes.len() / 2 + 2, 0);
  }
  let (mut o, mut w, mut i) = (0usize, 0usize, 0usize);
  let mut in_word = false;
  while i < bytes.len() {
    // Local slices, so the hot loop keeps pointers and lengths in registers (byte stores
    // through a `Vec` field could alias its header and force reloads).
    let norm = &mut sc.norm[..];
    let starts = &mut sc.starts[..];
    let mut ascii = |b: u8, o: &mut usize, w: &mut usize, in_word: &mut bool| {
      let lower = ASCII_CLASS[(b & 0x7f) as usize];
      let is_word = lower != 0;
      starts[*w] = *o;
      *w += (is_word & !*in_word) as usize;
      norm[*o] = if is_word { lower } else { b' ' };
      *o += (is_word | *in_word) as usize;
      *in_word = is_word;
    };
    // Eight ASCII bytes at a time while no byte has its high bit set.
    while i + 8 <= bytes.len() {
      let chunk: [u8; 8] = bytes[i..i + 8].try_into().unwrap_or([0x80; 8]);
      if u64::from_le_bytes(chunk) & 0x8080_8080_8080_8080 != 0 {
        break;
      }
      for b in chunk {
        ascii(b, &mut o, &mut w, &mut in_word);
      }
      i += 8;
    }
    while i < bytes.len() && bytes[i] < 0x80 {
      ascii(bytes[i], &mut o, &mut w, &mut in_word);
      i += 1;
    }
    if i >= bytes.len() {
      break;
    }
    if bytes[i] < 0x80 {
      continue;
    }
    // `i` is on a char boundary: ASCII bytes and whole chars advance it.
    let c = text[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
    i += c.len_utf8();
    let need = o + MAX_LOWER_BYTES + (bytes.len() - i) + 1;
    if sc.norm.len() < need {
      sc.norm.resize(need, 0);
    }
    let norm = &mut sc.norm[..];
    if c.is_alphanumeric() {
      if !in_word {
        sc.starts[w] = o;
        w += 1;
        in_word = true;
      }
      let mut buf = [0u8; 4];
      for l in c.to_lowercase() {
        let e = l.encode_utf8(&mut buf).as_bytes();
        norm[o..o + e.len()].copy_from_slice(e);
        o += e.len();
      }
    } else {
      norm[o] = b' ';
      o += in_word as usize;
      in_word = false;
    }
  }
  // A separator after the last word left one trailing space.
  if !in_word && o > 0 {
    o -= 1;
  }
  (o, w)
}

/// Lowercases and replaces every run of non-alphanumeric chars by one space (no leading or
/// trailing space). ASCII takes a fast path; other chars use Unicode properties.
pub fn normalize(text: &str) -> String {
  let mut sc = Scratch::default();
  let (len, _) = normalize_words(text, &mut sc);
  sc.norm.truncate(len);
  // Only ASCII bytes and whole UTF-8 encodings of chars were written, in order.
  String::from_utf8(sc.norm).unwrap_or_default()
}

/// Calls `f` with the bytes of every shingle of `text`, in order (repeats included: the
/// sketches are set functions, so repeats do not matter). A non-empty text with fewer than
/// n units gives one shingle, its whole normalised form. Returns the number of shingles
/// emitted (0 only when the text has no alphanumeric char).
pub fn for_each_shingle(text: &str, opts: &ShingleOptions, mut f: impl FnMut(&[u8])) -> usize {
  with_scratch(|sc| {
    let (len, words) = normalize_words(text, sc);
    if len == 0 {
      return 0;
    }
    let bytes = &sc.norm[..len];
    let n = opts.n;
    match opts.kind {
      ShingleKind::Word => {
        let starts = &sc.starts[..words];
        if words <= n {
          f(bytes);
          return 1;
        }
        // Word w ends one byte before word w + 1 starts (the joining space).
        for w in 0..=words - n {
          let end = if w + n < words {
            starts[w + n] - 1
          } else {
            bytes.len()
          };
          f(&bytes[starts[w]..end]);
        }
        words - n + 1
      }
      ShingleKind::Char => {
        // Reuse `starts` for the char boundaries of the normalised text.
        let bounds = &mut sc.starts;
        bounds.clear();
        bounds.extend((0..bytes.len()).filter(|&i| (bytes[i] as i8) >= -0x40));
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
  })
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
  use crate::rng::Rng;

  /// The definition, char by char: the reference the one-pass normaliser is checked against.
  fn normalize_reference(text: &str) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    for c in text.chars() {
      if c.is_alphanumeric() {
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

  #[test]
  fn one_pass_normaliser_matches_the_reference_on_random_unicode() {
    // ASCII letters/digits/punctuation/whitespace, Latin-1, Greek, Cyrillic, CJK, combining
    // marks, chars whose lowercase is longer ('İ', 'Ⱥ'), emoji and non-ASCII whitespace.
    let pool: Vec<char> = "aZ9 .,\t\n-_!éÉßÇΣσΟΦΊЖж日本語\u{3000}\u{0301}İȺ🙂\u{00a0}\u{2028}Å٣"
      .chars()
      .collect();
    let mut rng = Rng::new(42);
    let mut sc = Scratch::default();
    for round in 0..5000 {
      let len = rng.below(60) as usize;
      let text: String = (0..len)
        .map(|_| pool[rng.below(pool.len() as u64) as usize])
        .collect();
      let want = normalize_reference(&text);
      assert_eq!(normalize(&text), want, "round {round}: {text:?}");
      // The reused scratch (grown by earlier, longer texts) gives the same answer.
      let (n, words) = normalize_words(&text, &mut sc);
      assert_eq!(
        &sc.norm[..n],
        want.as_bytes(),
        "round {round} (scratch): {text:?}"
      );
      assert_eq!(words, want.split(' ').filter(|w| !w.is_empty()).count());
    }
  }

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
