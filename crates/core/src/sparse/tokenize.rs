//! Text → tokens, by default the same as bm25s: lowercase, the Unicode pattern `\b\w\w+\b`
//! (maximal runs of word characters, at least 2 long), the 33-word English stop list, no
//! stemming. Options: another stop list or none, Snowball stemming, CJK character bigrams,
//! and a closed vocabulary (tokens outside it are dropped).
//!
//! Order of operations is bm25s's: lowercase → split → drop stopwords → stem.
//! One known difference: word characters are Rust's `char::is_alphanumeric` plus `_`, which
//! also counts combining marks with the Alphabetic property (e.g. Arabic harakat) as part of a
//! word, while Python's `\w` splits on them. Undiacritised text tokenizes identically.

use crate::io::{ByteReader, ByteWriter};
use crate::{Error, Result};
use hashbrown::HashSet;
use rust_stemmers::{Algorithm, Stemmer};

/// The classic Lucene/Elasticsearch English stop set that bm25s calls "english" (33 words).
pub const ENGLISH_STOPWORDS: [&str; 33] = [
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
  "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
  "will", "with",
];

/// Snowball languages accepted by the `stemmer` option (rust-stemmers' set).
pub const STEMMER_LANGUAGES: [&str; 18] = [
  "arabic",
  "danish",
  "dutch",
  "english",
  "finnish",
  "french",
  "german",
  "greek",
  "hungarian",
  "italian",
  "norwegian",
  "portuguese",
  "romanian",
  "russian",
  "spanish",
  "swedish",
  "tamil",
  "turkish",
];

fn algorithm(lang: &str) -> Option<Algorithm> {
  Some(match lang {
    "arabic" => Algorithm::Arabic,
    "danish" => Algorithm::Danish,
    "dutch" => Algorithm::Dutch,
    "english" => Algorithm::English,
    "finnish" => Algorithm::Finnish,
    "french" => Algorithm::French,
    "german" => Algorithm::German,
    "greek" => Algorithm::Greek,
    "hungarian" => Algorithm::Hungarian,
    "italian" => Algorithm::Italian,
    "norwegian" => Algorithm::Norwegian,
    "portuguese" => Algorithm::Portuguese,
    "romanian" => Algorithm::Romanian,
    "russian" => Algorithm::Russian,
    "spanish" => Algorithm::Spanish,
    "swedish" => Algorithm::Swedish,
    "tamil" => Algorithm::Tamil,
    "turkish" => Algorithm::Turkish,
    _ => return None,
  })
}

/// Tokenizer settings (all serialised with a BM25 index so queries tokenize like documents).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizerOptions {
  /// Lowercase before splitting (default true).
  pub lowercase: bool,
  /// Stop words, compared after lowercasing and before stemming (default: [`ENGLISH_STOPWORDS`]).
  pub stopwords: Vec<String>,
  /// Snowball language (one of [`STEMMER_LANGUAGES`]) or none (default none).
  pub stemmer: Option<String>,
  /// Split runs of CJK ideographs/kana/hangul into overlapping character bigrams (a run of one
  /// character stays a unigram). Default false: like bm25s, a CJK run is one token.
  pub cjk_bigrams: bool,
  /// Closed vocabulary: tokens (after stemming) outside it are dropped. Default none.
  pub vocabulary: Option<Vec<String>>,
}

impl Default for TokenizerOptions {
  fn default() -> Self {
    TokenizerOptions {
      lowercase: true,
      stopwords: ENGLISH_STOPWORDS.iter().map(|s| s.to_string()).collect(),
      stemmer: None,
      cjk_bigrams: false,
      vocabulary: None,
    }
  }
}

pub struct Tokenizer {
  opts: TokenizerOptions,
  stop: HashSet<String>,
  stemmer: Option<Stemmer>,
  vocab: Option<HashSet<String>>,
}

impl Clone for Tokenizer {
  fn clone(&self) -> Self {
    // Stemmer is not Clone; rebuilding from validated options cannot fail.
    Tokenizer::new(self.opts.clone()).unwrap_or_else(|_| unreachable!("options were validated"))
  }
}

impl std::fmt::Debug for Tokenizer {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Tokenizer").field("opts", &self.opts).finish()
  }
}

#[inline]
fn is_word(c: char) -> bool {
  c.is_alphanumeric() || c == '_'
}

/// CJK Unified Ideographs (+ extension A/B, compatibility), Hiragana, Katakana, Hangul syllables.
#[inline]
fn is_cjk(c: char) -> bool {
  matches!(c as u32,
    0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

impl Tokenizer {
  pub fn new(opts: TokenizerOptions) -> Result<Self> {
    let stemmer = match &opts.stemmer {
      None => None,
      Some(lang) => Some(Stemmer::create(algorithm(lang).ok_or_else(|| {
        Error::InvalidArg(format!(
          "stemmer: unknown language '{lang}' (expected one of {})",
          STEMMER_LANGUAGES.join(", ")
        ))
      })?)),
    };
    let stop = opts
      .stopwords
      .iter()
      .map(|s| {
        if opts.lowercase {
          s.to_lowercase()
        } else {
          s.clone()
        }
      })
      .collect();
    let vocab = opts.vocabulary.as_ref().map(|v| v.iter().cloned().collect());
    Ok(Tokenizer {
      opts,
      stop,
      stemmer,
      vocab,
    })
  }

  pub fn options(&self) -> &TokenizerOptions {
    &self.opts
  }

  /// Tokens of `text` in order (repeats kept). Empty text gives no tokens.
  pub fn tokenize(&self, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    self.for_each_token(text, |t| out.push(t.to_string()));
    out
  }

  /// Many texts, tokenized in parallel.
  pub fn tokenize_batch(&self, texts: &[String]) -> Vec<Vec<String>> {
    use rayon::prelude::*;
    texts.par_iter().map(|t| self.tokenize(t)).collect()
  }

  /// Calls `f` with each token of `text`, in order. Tokens are borrowed (no allocation per
  /// token, and none for the lowercasing of text that has no uppercase ASCII and is ASCII):
  /// a query's tokens are only looked up.
  pub fn for_each_token(&self, text: &str, mut f: impl FnMut(&str)) {
    let lowered;
    let needs_lowering =
      self.opts.lowercase && (!text.is_ascii() || text.bytes().any(|b| b.is_ascii_uppercase()));
    let text = if needs_lowering {
      lowered = text.to_lowercase();
      lowered.as_str()
    } else {
      text
    };
    let mut emit = |raw: &str| {
      if self.stop.contains(raw) {
        return;
      }
      let tok = match &self.stemmer {
        Some(s) => s.stem(raw),
        None => std::borrow::Cow::Borrowed(raw),
      };
      if let Some(v) = &self.vocab {
        if !v.contains(tok.as_ref()) {
          return;
        }
      }
      f(&tok);
    };
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
      if i < text.len() && is_word(c) {
        start.get_or_insert(i);
        continue;
      }
      if let Some(s) = start.take() {
        let run = &text[s..i];
        if self.opts.cjk_bigrams && run.chars().any(is_cjk) {
          split_cjk(run, &mut emit);
        } else if run.chars().nth(1).is_some() {
          emit(run);
        }
      }
    }
  }

  pub fn write(&self, w: &mut ByteWriter) {
    let o = &self.opts;
    w.put_bool(o.lowercase).put_bool(o.cjk_bigrams);
    w.put(o.stopwords.len() as u64);
    for s in &o.stopwords {
      w.put_str(s);
    }
    w.put_str(o.stemmer.as_deref().unwrap_or(""));
    match &o.vocabulary {
      None => {
        w.put_bool(false);
      }
      Some(v) => {
        w.put_bool(true).put(v.len() as u64);
        for s in v {
          w.put_str(s);
        }
      }
    }
  }

  pub fn read(r: &mut ByteReader<'_>) -> Result<Tokenizer> {
    let lowercase = r.get_bool("tokenizer lowercase")?;
    let cjk_bigrams = r.get_bool("tokenizer cjk")?;
    let strings = |r: &mut ByteReader<'_>, what: &str| -> Result<Vec<String>> {
      let n = r.get_len(8, what)?;
      (0..n).map(|_| r.get_str(what)).collect()
    };
    let stopwords = strings(r, "tokenizer stopwords")?;
    let stemmer = r.get_str("tokenizer stemmer")?;
    let vocabulary = if r.get_bool("tokenizer vocabulary flag")? {
      Some(strings(r, "tokenizer vocabulary")?)
    } else {
      None
    };
    let opts = TokenizerOptions {
      lowercase,
      stopwords,
      stemmer: (!stemmer.is_empty()).then_some(stemmer),
      cjk_bigrams,
      vocabulary,
    };
    Tokenizer::new(opts).map_err(|e| Error::corrupt(format!("tokenizer: {e}")))
  }
}

/// Splits a word run into CJK stretches (bigrams) and other stretches (kept if ≥ 2 chars).
fn split_cjk(run: &str, emit: &mut impl FnMut(&str)) {
  let idx: Vec<(usize, char)> = run.char_indices().collect();
  let end_of = |j: usize| if j < idx.len() { idx[j].0 } else { run.len() };
  let mut j = 0;
  while j < idx.len() {
    let cjk = is_cjk(idx[j].1);
    let mut e = j;
    while e < idx.len() && is_cjk(idx[e].1) == cjk {
      e += 1;
    }
    if cjk {
      if e - j == 1 {
        emit(&run[idx[j].0..end_of(j + 1)]);
      } else {
        for a in j..e - 1 {
          emit(&run[idx[a].0..end_of(a + 2)]);
        }
      }
    } else if e - j >= 2 {
      emit(&run[idx[j].0..end_of(e)]);
    }
    j = e;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn tok(opts: TokenizerOptions, s: &str) -> Vec<String> {
    Tokenizer::new(opts).unwrap().tokenize(s)
  }

  #[test]
  fn default_matches_bm25s_rules() {
    let t = |s| tok(TokenizerOptions::default(), s);
    // 1-char tokens dropped, stop words dropped, punctuation splits, underscores and digits are word chars.
    assert_eq!(
      t("The quick-brown fox, a dog_2 & I 42x."),
      vec!["quick", "brown", "fox", "dog_2", "42x"]
    );
    assert_eq!(t(""), Vec::<String>::new());
    assert_eq!(t("  ,,, !! "), Vec::<String>::new());
    assert_eq!(t("ÉCOLE Straße"), vec!["école", "straße"]);
  }

  #[test]
  fn english_stemming_after_stopwords() {
    let o = TokenizerOptions {
      stemmer: Some("english".into()),
      ..Default::default()
    };
    // Snowball English (Porter2) golden stems.
    assert_eq!(
      tok(
        o,
        "The runners were running quickly to these generously sized cities"
      ),
      vec!["runner", "were", "run", "quick", "generous", "size", "citi"]
    );
  }

  #[test]
  fn no_stopwords_and_no_lowercase() {
    let o = TokenizerOptions {
      stopwords: vec![],
      lowercase: false,
      ..Default::default()
    };
    assert_eq!(
      tok(o, "The Cat is on the mat"),
      vec!["The", "Cat", "is", "on", "the", "mat"]
    );
  }

  #[test]
  fn cjk_bigrams_and_runs() {
    let o = TokenizerOptions {
      cjk_bigrams: true,
      ..Default::default()
    };
    assert_eq!(
      tok(o.clone(), "東京都に住む"),
      vec!["東京", "京都", "都に", "に住", "住む"]
    );
    assert_eq!(tok(o.clone(), "中 abc中文de"), vec!["中", "abc", "中文", "de"]);
    // Without the option a CJK run is one token (bm25s behaviour).
    assert_eq!(
      tok(TokenizerOptions::default(), "東京都に住む"),
      vec!["東京都に住む"]
    );
  }

  #[test]
  fn arabic_words_are_kept_and_stemmed() {
    let line = std::fs::read_to_string("../../../shared/datasets/arcd-sample/queries.jsonl")
      .or_else(|_| std::fs::read_to_string("/work/shared/datasets/arcd-sample/queries.jsonl"));
    let Ok(text) = line else { return };
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or("{}")).unwrap();
    let first = v["text"].as_str().unwrap_or("");
    let plain = tok(
      TokenizerOptions {
        stopwords: vec![],
        ..Default::default()
      },
      first,
    );
    // Arabic punctuation (U+061F question mark) splits; words stay whole.
    assert!(plain.iter().all(|t| !t.contains('\u{061F}')), "{plain:?}");
    assert!(
      plain
        .iter()
        .any(|t| t.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))),
      "{plain:?}"
    );
    // Golden: the Arabic Snowball stemmer strips the definite article.
    let o = TokenizerOptions {
      stemmer: Some("arabic".into()),
      stopwords: vec![],
      ..Default::default()
    };
    assert_eq!(tok(o, "الكتاب"), vec!["كتاب"]);
  }

  #[test]
  fn vocabulary_filters_and_options_round_trip() {
    let o = TokenizerOptions {
      vocabulary: Some(vec!["fox".into()]),
      stemmer: Some("french".into()),
      ..Default::default()
    };
    let t = Tokenizer::new(o.clone()).unwrap();
    assert_eq!(t.tokenize("fox and dog fox"), vec!["fox", "fox"]);
    let mut w = ByteWriter::new();
    t.write(&mut w);
    let b = w.into_bytes();
    let back = Tokenizer::read(&mut ByteReader::new(&b)).unwrap();
    assert_eq!(back.options(), &o);
    assert!(Tokenizer::new(TokenizerOptions {
      stemmer: Some("klingon".into()),
      ..Default::default()
    })
    .is_err());
  }
}
