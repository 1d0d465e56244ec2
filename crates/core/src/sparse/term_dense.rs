//! Dense impact rows for the head of the vocabulary, derived by the term-major layout from its
//! postings (at build and at load; never stored, so the file format is unchanged).
//!
//! Why: a BM25 head term (a Zipf vocabulary's most frequent words) occurs in most documents,
//! and adding its postings to the window accumulator costs a scattered add per posting, read
//! from two streams (document and impact, 8 bytes). Its impacts as one f32 per document instead
//! are added over a window's live blocks with contiguous vector adds and no document ids
//! (Zipf 1M, k = 1000: 1.25× faster per query; k = 10: 1.2×).
//!
//! A row costs 4 bytes per document and a term gets one only when its postings cost at least as
//! much (`df · posting_bytes ≥ 4 · n_docs`: df ≥ n_docs / 2 for BM25's 8-byte postings, 4/5 of
//! the documents for learned sparse's 5-byte ones), so the rows together never exceed the
//! postings; on BM25 text they are a few per cent of them (the rows of five head terms, 16 bytes
//! per document on Zipf 1M against 282 for the postings).

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
  /// Rows for the terms whose postings (`posting_bytes` each) cost at least a row (`term_ptr`,
  /// `doc` as in `TermPostings`, already validated; `imp(p)`: posting p's impact).
  pub fn build(
    term_ptr: &[u32],
    doc: &[u32],
    imp: impl Fn(usize) -> f32,
    n_docs: usize,
    posting_bytes: usize,
  ) -> Self {
    let n_terms = term_ptr.len().saturating_sub(1);
    let min_len = (4 * n_docs).div_ceil(posting_bytes.max(1)).max(1);
    let mut row = Vec::new();
    let mut values = Vec::new();
    for t in 0..n_terms {
      let (lo, hi) = (term_ptr[t] as usize, term_ptr[t + 1] as usize);
      if hi - lo >= min_len {
        // Allocated on the first row only: most segments of a small index have none.
        row.resize(n_terms, NO_ROW);
        // Rows ≤ terms, whose ids are u32: the count fits.
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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rows_hold_each_postings_impacts_only_where_they_cost_no_more_than_the_list() {
    // 10 docs; term 0 in all, term 1 in 6, term 2 in 8, term 3 in 1.
    let lists: [&[u32]; 4] = [
      &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      &[0, 2, 4, 6, 8, 9],
      &[0, 1, 2, 3, 4, 5, 6, 7],
      &[5],
    ];
    let mut term_ptr = vec![0u32];
    let mut doc = Vec::new();
    for l in lists {
      doc.extend_from_slice(l);
      term_ptr.push(doc.len() as u32);
    }
    let imp = |p: usize| 1.0 + p as f32;
    // 8-byte postings (f32): df ≥ 5 gets a row; 5-byte (u8): df ≥ 8.
    for (bytes, want) in [
      (8usize, [true, true, true, false]),
      (5, [true, false, true, false]),
    ] {
      let d = TermDense::build(&term_ptr, &doc, imp, 10, bytes);
      for (t, &has) in want.iter().enumerate() {
        let row = d.row(t as u32);
        assert_eq!(row.is_some(), has, "bytes {bytes} term {t}");
        if let Some(row) = row {
          let mut expect = vec![0f32; 10];
          for p in term_ptr[t] as usize..term_ptr[t + 1] as usize {
            expect[doc[p] as usize] = imp(p);
          }
          assert_eq!(row, expect.as_slice());
        }
      }
      let rows = want.iter().filter(|&&h| h).count();
      assert_eq!(d.bytes(), 4 * 4 + rows * 10 * 4);
    }
    // No qualifying term: nothing allocated, not even the per-term slots.
    let d = TermDense::build(&term_ptr, &doc, imp, 10, 1);
    assert_eq!((d.row(0), d.bytes()), (None, 0));
    assert_eq!(TermDense::default().row(3), None);
  }
}
