//! Text → tokens, by default exactly like bm25s: lowercase, the Unicode pattern `\b\w\w+\b`
//! (runs of word characters, at least two long), the 33-word English stop list; optionally
//! Snowball stemming (rust-stemmers, the same algorithms as PyStemmer) and CJK bigrams.

use crate::{Error, Result};
use hashbrown::HashSet;
use rust_stemmers::{Algorithm, Stemmer};

/// bm25s's "english" list: the classic Lucene / Elasticsearch English stop set.
pub const ENGLISH_STOPWORDS: [&str; 33] = [
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on",
  "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
];

/// Tokenizer settings.
#[derive(Clone, Debug)]
pub struct TokenizerOptions {
  /// Lowercase before splitting (default true).
  pub lowercase: bool,
  /// Words dropped after lowercasing (default: [`ENGLISH_STOPWORDS`]).
  pub stopwords: Vec<String>,
  /// Snowball stemmer language (e.g. "english", "arabic"); `None` (default): no stemming.
  pub stemmer: Option<String>,
  /// Split runs of CJK ideographs / kana / hangul into overlapping character bigrams
  /// (single characters stay as they are); default false.
  pub cjk_bigrams: bool,
}

impl Default for TokenizerOptions {
  fn default() -> Self {
    TokenizerOptions {
      lowercase: true,
      stopwords: ENGLISH_STOPWORDS.iter().map(|s| s.to_string()).collect(),
      stemmer: None,
      cjk_bigrams: false,
    }
  }
}

/// A configured tokenizer (cheap to share across threads).
pub struct Tokenizer {
  opts: TokenizerOptions,
  stop: HashSet<String>,
  stemmer: Option<Stemmer>,
}

/// Snowball languages rust-stemmers provides, by the names PyStemmer / NLTK use.
fn algorithm(name: &str) -> Option<Algorithm> {
  Some(match name {
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

/// Python's `\w` in Unicode mode: letters, digits and the underscore. (`char::is_alphanumeric`
/// also admits combining marks such as Arabic harakat, which Python's `\w` does not.)
fn is_word(c: char) -> bool {
  c == '_' || c.is_alphanumeric()
}

fn is_cjk(c: char) -> bool {
  matches!(c as u32,
    0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2FA1F)
}

impl Tokenizer {
  pub fn new(opts: TokenizerOptions) -> Result<Self> {
    let stemmer = match &opts.stemmer {
      None => None,
      Some(name) => Some(Stemmer::create(algorithm(name).ok_or_else(|| {
        Error::InvalidArg(format!(
          "stemmer {name:?} is not a Snowball language (arabic, danish, dutch, english, finnish, french, german, greek, hungarian, italian, norwegian, portuguese, romanian, russian, spanish, swedish, tamil, turkish)"
        ))
      })?)),
    };
    let stop = opts.stopwords.iter().map(|s| if opts.lowercase { s.to_lowercase() } else { s.clone() }).collect();
    Ok(Tokenizer { opts, stop, stemmer })
  }

  pub fn options(&self) -> &TokenizerOptions {
    &self.opts
  }

  /// Appends the tokens of `text` to `out`.
  pub fn tokenize_into(&self, text: &str, out: &mut Vec<String>) {
    let lowered;
    let text = if self.opts.lowercase {
      lowered = text.to_lowercase();
      lowered.as_str()
    } else {
      text
    };
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
      word.clear();
      while let Some(&c) = chars.peek() {
        if !is_word(c) {
          break;
        }
        word.push(c);
        chars.next();
      }
      if word.is_empty() {
        chars.next();
        continue;
      }
      if self.opts.cjk_bigrams && word.chars().any(is_cjk) {
        self.push_cjk(&word, out);
      } else {
        self.push_word(&word, out);
      }
    }
  }

  pub fn tokenize(&self, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    self.tokenize_into(text, &mut out);
    out
  }

  /// Tokens of many texts, in parallel.
  pub fn tokenize_batch(&self, texts: &[String]) -> Vec<Vec<String>> {
    use rayon::prelude::*;
    texts.par_iter().map(|t| self.tokenize(t)).collect()
  }

  fn push_word(&self, word: &str, out: &mut Vec<String>) {
    // `\w\w+`: at least two word characters.
    if word.chars().nth(1).is_none() || self.stop.contains(word) {
      return;
    }
    match &self.stemmer {
      Some(s) => out.push(s.stem(word).into_owned()),
      None => out.push(word.to_string()),
    }
  }

  /// A word mixing CJK and other characters: CJK runs become bigrams, the rest words.
  fn push_cjk(&self, word: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
      let cjk = is_cjk(chars[i]);
      let start = i;
      while i < chars.len() && is_cjk(chars[i]) == cjk {
        i += 1;
      }
      let run = &chars[start..i];
      if !cjk {
        self.push_word(&run.iter().collect::<String>(), out);
      } else if run.len() == 1 {
        out.push(run[0].to_string());
      } else {
        for pair in run.windows(2) {
          out.push(pair.iter().collect());
        }
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn toks(opts: TokenizerOptions, text: &str) -> Vec<String> {
    Tokenizer::new(opts).unwrap().tokenize(text)
  }

  #[test]
  fn default_matches_bm25s_pattern_lowercase_and_stop_list() {
    let got = toks(TokenizerOptions::default(), "The QUICK brown-fox, a_b x I'm 42 is it? Ünïcode");
    assert_eq!(got, ["quick", "brown", "fox", "a_b", "42", "ünïcode"]);
    assert!(toks(TokenizerOptions::default(), "").is_empty());
    assert!(toks(TokenizerOptions::default(), "!!! a I ..").is_empty());
  }

  #[test]
  fn english_stemming_and_other_lists() {
    let opts = TokenizerOptions { stemmer: Some("english".into()), ..Default::default() };
    assert_eq!(toks(opts, "running runners easily"), ["run", "runner", "easili"]);
    let none = TokenizerOptions { stopwords: vec![], ..Default::default() };
    assert_eq!(toks(none, "the cat"), ["the", "cat"]);
    assert!(Tokenizer::new(TokenizerOptions { stemmer: Some("klingon".into()), ..Default::default() }).is_err());
  }

  #[test]
  fn arabic_words_and_cjk_bigrams() {
    assert_eq!(toks(TokenizerOptions::default(), "من هو عبد المطلب؟"), ["من", "هو", "عبد", "المطلب"]);
    let cjk = TokenizerOptions { cjk_bigrams: true, ..Default::default() };
    assert_eq!(toks(cjk.clone(), "東京大学 in 日本"), ["東京", "京大", "大学", "日本"]);
    assert_eq!(toks(cjk, "猫"), ["猫"]);
  }
}
