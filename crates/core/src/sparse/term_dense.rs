//! Dense impact rows for the head of the vocabulary, derived by the term-major layout from its
//! postings (at build and at load; never stored, so the file format is unchanged).
//!
//! Why: a BM25 head term (a Zipf vocabulary's most frequent words) occurs in most documents,
//! and adding its postings to the window accumulator costs a scattered add per posting, read
//! from two streams (document and impact, 8 bytes). Its impacts as one f32 per document instead
//! are added over a window's live blocks with contiguous vector adds and no document ids
//! (Zipf 1M, k = 1000: 1.25× faster per query; k = 10: 1.2×).
//!
//! A row costs 4 bytes per document and only terms with `df ≥ n_docs / 2` get one, so each row
//! costs at most what its list's postings do (8 bytes per posting): the rows together never
//! exceed the postings, and on BM25 text they are a few per cent of them (the rows of five
//! head terms, 16 bytes per document on Zipf 1M against 282 for the postings).

const NO_ROW: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct TermDense {
  n_docs: usize,
  /// Per term: its row in `values`, or NO_ROW.
  row: Vec<u32>,
  /// Rows of `n_docs` impacts (0 where the term is absent).
  values: Vec<f32>,
}

impl TermDense {
  /// Rows for the terms whose lists hold at least half the documents (`term_ptr`, `doc` as in
  /// `TermPostings`, already validated; `imp(p)`: posting p's impact).
  pub fn build(term_ptr: &[u32], doc: &[u32], imp: impl Fn(usize) -> f32, n_docs: usize) -> Self {
    let n_terms = term_ptr.len().saturating_sub(1);
    let min_len = n_docs.div_ceil(2).max(1);
    let mut row = vec![NO_ROW; n_terms];
    let mut values = Vec::new();
    for t in 0..n_terms {
      let (lo, hi) = (term_ptr[t] as usize, term_ptr[t + 1] as usize);
      if hi - lo >= min_len {
        row[t] = (values.len() / n_docs) as u32;
        let start = values.len();
        values.resize(start + n_docs, 0.0);
        for p in lo..hi {
          values[start + doc[p] as usize] = imp(p);
        }
      }
    }
    TermDense { n_docs, row, values }
  }

  /// Term `t`'s impacts by document, if it has a row.
  #[inline]
  pub fn row(&self, t: u32) -> Option<&[f32]> {
    match self.row.get(t as usize) {
      Some(&r) if r != NO_ROW => {
        let s = r as usize * self.n_docs;
        Some(&self.values[s..s + self.n_docs])
      }
      _ => None,
    }
  }

  pub fn bytes(&self) -> usize {
    self.row.len() * 4 + self.values.len() * 4
  }
}
