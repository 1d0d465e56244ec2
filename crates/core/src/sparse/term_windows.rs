//! Per-term data the term-major search derives from the postings (at build and at load; never
//! stored, so the file format is unchanged): for long lists the first posting of every window,
//! so a search visiting windows out of docid order starts a term's cursor in a window with one
//! lookup instead of a binary search over ~N postings.

/// Lists with at least this many postings per window get a window table. Its cost is then at
/// most 4 / LONG_LIST_PER_WINDOW bytes per posting (0.5), in practice a few bytes per document
/// (only the head of a Zipf vocabulary qualifies); shorter lists are binary-searched.
const LONG_LIST_PER_WINDOW: usize = 8;

const NO_TABLE: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct TermWindows {
  /// Documents per window (window blocks × block size).
  window_docs: usize,
  n_windows: usize,
  /// Per term: its row in `first`, or NO_TABLE.
  row: Vec<u32>,
  /// Per long term, `n_windows + 1` absolute posting indexes: the first posting whose document
  /// is ≥ the window's first document (the last entry is the list's end).
  first: Vec<u32>,
}

impl TermWindows {
  /// `term_ptr`, `doc` as in `TermPostings` (already validated).
  pub fn build(term_ptr: &[u32], doc: &[u32], n_docs: usize, window_docs: usize) -> Self {
    let n_terms = term_ptr.len().saturating_sub(1);
    let n_windows = n_docs.div_ceil(window_docs.max(1));
    let mut row = vec![NO_TABLE; n_terms];
    let mut first = Vec::new();
    for t in 0..n_terms {
      let (lo, hi) = (term_ptr[t] as usize, term_ptr[t + 1] as usize);
      if n_windows > 1 && hi - lo >= LONG_LIST_PER_WINDOW * n_windows {
        row[t] = (first.len() / (n_windows + 1)) as u32;
        let mut p = lo;
        for w in 0..n_windows {
          let start = w * window_docs;
          while p < hi && (doc[p] as usize) < start {
            p += 1;
          }
          first.push(p as u32);
        }
        first.push(hi as u32);
      }
    }
    TermWindows {
      window_docs,
      n_windows,
      row,
      first,
    }
  }

  /// Whether term `t` has a window table (a long list: `stop` is then the window's end).
  #[inline]
  pub fn has_table(&self, t: u32) -> bool {
    self.row[t as usize] != NO_TABLE
  }

  /// The first posting of term `t` (list `lo..hi` of `doc`) in window `w` or after it.
  #[inline]
  pub fn start(&self, t: u32, w: usize, doc: &[u32], lo: usize, hi: usize) -> usize {
    let r = self.row[t as usize];
    if r != NO_TABLE {
      return self.first[r as usize * (self.n_windows + 1) + w] as usize;
    }
    let start = (w * self.window_docs) as u32;
    lo + doc[lo..hi].partition_point(|&d| d < start)
  }

  /// A posting index past term `t`'s last posting in window `w`: the next window's first
  /// posting for a long list, else the list's end `hi`.
  #[inline]
  pub fn stop(&self, t: u32, w: usize, hi: usize) -> usize {
    let r = self.row[t as usize];
    if r != NO_TABLE {
      return self.first[r as usize * (self.n_windows + 1) + w + 1] as usize;
    }
    hi
  }

  pub fn bytes(&self) -> usize {
    self.row.len() * 4 + self.first.len() * 4
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn window_starts_equal_a_binary_search_for_long_and_short_lists() {
    // Term 0: every third document (long, gets a table); term 1: a few documents; term 2: none.
    let n_docs = 1000;
    let mut doc: Vec<u32> = (0..n_docs as u32).step_by(3).collect();
    let long = doc.len();
    doc.extend([5u32, 64, 65, 700]);
    let term_ptr = vec![0, long as u32, doc.len() as u32, doc.len() as u32];
    let tw = TermWindows::build(&term_ptr, &doc, n_docs, 64);
    assert_ne!(tw.row[0], NO_TABLE);
    assert_eq!(tw.row[1], NO_TABLE);
    for t in 0..3u32 {
      let (lo, hi) = (term_ptr[t as usize] as usize, term_ptr[t as usize + 1] as usize);
      for w in 0..n_docs.div_ceil(64) {
        let want = lo + doc[lo..hi].partition_point(|&d| (d as usize) < w * 64);
        assert_eq!(tw.start(t, w, &doc, lo, hi), want, "term {t} window {w}");
        let past = lo + doc[lo..hi].partition_point(|&d| (d as usize) < (w + 1) * 64);
        let stop = tw.stop(t, w, hi);
        assert!(
          stop >= past && (stop == hi || stop == past),
          "term {t} window {w}"
        );
      }
    }
  }
}
