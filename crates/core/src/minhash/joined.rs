//! Token sets given as joined documents: each document's tokens joined by U+001F (the ASCII
//! unit separator), the documents' UTF-8 bytes concatenated in one buffer. This is the
//! cheapest form for JavaScript to produce from `string[][]` (one native `join` and one
//! Latin-1 `memcpy` per document, instead of encoding or passing one string per token). A
//! token may itself contain the separator; such a document is detected exactly (it holds more
//! separators than tokens − 1) and reported back, never mis-split, so the caller signs it from
//! its tokens another way.

use super::sketch::{check_offsets, MinHasher};
use crate::{parallel, Error, Result};

/// The byte between two tokens of a joined document. In UTF-8 the byte 0x1F only ever encodes
/// U+001F itself (bytes below 0x80 never occur inside a multi-byte sequence), so counting bytes
/// counts separator characters.
pub const TOKEN_SEPARATOR: u8 = 0x1f;

/// Signatures of joined documents, plus the documents that could not be split.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JoinedSignatures {
  /// `docs × num_perm` slots, document-major; the slots of an ambiguous document are 0.
  pub signatures: Vec<u32>,
  /// Ascending indices of the documents whose separator count is not their token count − 1
  /// (a token contains U+001F): not signed, the caller must sign their tokens another way.
  pub ambiguous: Vec<u32>,
}

impl MinHasher {
  /// Signs joined documents: document d is `data[doc_offsets[d]..doc_offsets[d + 1]]`, its
  /// `token_counts[d]` tokens joined by [`TOKEN_SEPARATOR`]. Gives exactly the signatures of
  /// [`MinHasher::sign_token_sets`] over the same tokens for every document it can split; see
  /// [`JoinedSignatures::ambiguous`] for the others. A document without tokens is an error.
  pub fn sign_joined_tokens(
    &self,
    data: &[u8],
    doc_offsets: &[u32],
    token_counts: &[u32],
    threads: Option<usize>,
  ) -> Result<JoinedSignatures> {
    let docs = doc_offsets.len().saturating_sub(1);
    let mut signatures = vec![0u32; docs * self.num_perm()];
    let ambiguous =
      self.sign_joined_tokens_into(data, doc_offsets, token_counts, &mut signatures, threads)?;
    Ok(JoinedSignatures {
      signatures,
      ambiguous,
    })
  }

  /// [`MinHasher::sign_joined_tokens`] into a caller's buffer of `docs × num_perm` slots (the
  /// JS layer passes its result array: no allocation per chunk, so nothing for V8's GC to
  /// account for). Returns the ambiguous documents; their slots are set to 0.
  pub fn sign_joined_tokens_into(
    &self,
    data: &[u8],
    doc_offsets: &[u32],
    token_counts: &[u32],
    out: &mut [u32],
    threads: Option<usize>,
  ) -> Result<Vec<u32>> {
    check_offsets(doc_offsets, data.len(), "docOffsets", "data bytes")?;
    let docs = doc_offsets.len() - 1;
    if token_counts.len() != docs {
      return Err(Error::InvalidArg(format!(
        "{docs} joined documents but {} token counts",
        token_counts.len()
      )));
    }
    let k = self.num_perm();
    if out.len() != docs * k {
      return Err(Error::InvalidArg(format!(
        "signature buffer has {} slots, expected {docs} documents × numPerm {k}",
        out.len()
      )));
    }
    // Checked up front so that the error names the first empty document.
    if let Some(d) = token_counts.iter().position(|&c| c == 0) {
      return Err(Error::InvalidArg(format!(
        "document {d} has no token: a MinHash signature is undefined for the empty set"
      )));
    }
    let split: Vec<bool> = parallel::try_map_chunks_mut(threads, out, k, |d, out| {
      let doc = &data[doc_offsets[d] as usize..doc_offsets[d + 1] as usize];
      let mut tokens = SplitTokens::new(doc);
      self
        .sign_tokens_into(&mut tokens, out)
        .map_err(|e| Error::InvalidArg(format!("document {d}: {e}")))?;
      // Exact: n tokens joined by a separator split into n parts unless a token holds one.
      if tokens.parts != token_counts[d] as usize {
        out.fill(0);
        return Ok(false);
      }
      Ok(true)
    })?;
    Ok((0..docs as u32).filter(|&d| !split[d as usize]).collect())
  }
}

/// The parts of a joined document between separators (n separators → n + 1 parts, like
/// `split`), found with SIMD `memchr` rather than byte by byte; counts the parts it yields.
struct SplitTokens<'a> {
  rest: Option<&'a [u8]>,
  parts: usize,
}

impl<'a> SplitTokens<'a> {
  fn new(doc: &'a [u8]) -> Self {
    SplitTokens {
      rest: Some(doc),
      parts: 0,
    }
  }
}

impl<'a> Iterator for SplitTokens<'a> {
  type Item = &'a [u8];
  #[inline]
  fn next(&mut self) -> Option<&'a [u8]> {
    let rest = self.rest?;
    self.parts += 1;
    Some(match memchr::memchr(TOKEN_SEPARATOR, rest) {
      Some(i) => {
        self.rest = Some(&rest[i + 1..]);
        &rest[..i]
      }
      None => {
        self.rest = None;
        rest
      }
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::minhash::{MinHasherOptions, Scheme};

  /// Joins token sets the way the JS layer does: tokens by U+001F, documents concatenated.
  fn join(sets: &[Vec<&str>]) -> (Vec<u8>, Vec<u32>, Vec<u32>) {
    let (mut data, mut offsets, mut counts) = (Vec::new(), vec![0u32], Vec::new());
    for set in sets {
      data.extend_from_slice(set.join("\u{1f}").as_bytes());
      offsets.push(data.len() as u32);
      counts.push(set.len() as u32);
    }
    (data, offsets, counts)
  }

  #[test]
  fn joined_documents_sign_like_token_sets_and_embedded_separators_are_reported() {
    let sets: Vec<Vec<&str>> = vec![
      vec!["alpha beta", "gamma", ""],
      vec![""],
      vec!["", ""],
      vec!["é日本", "🙂"],
      vec!["has\u{1f}separator", "x"],
      vec!["\u{1f}"],
      vec!["x", "alpha beta"],
    ];
    let (data, offsets, counts) = join(&sets);
    for scheme in [Scheme::Oph, Scheme::Classic, Scheme::Datasketch] {
      let mh = MinHasher::new(MinHasherOptions {
        num_perm: 16,
        scheme,
        ..Default::default()
      })
      .unwrap();
      let want = mh.sign_token_sets(&sets, Some(1)).unwrap();
      for threads in [Some(1), Some(2)] {
        let got = mh.sign_joined_tokens(&data, &offsets, &counts, threads).unwrap();
        // Into a caller's buffer (stale values in it): the same slots and the same report.
        let mut into = vec![7u32; sets.len() * 16];
        let ambiguous = mh
          .sign_joined_tokens_into(&data, &offsets, &counts, &mut into, threads)
          .unwrap();
        assert_eq!(
          (&into, &ambiguous),
          (&got.signatures, &got.ambiguous),
          "{scheme:?}"
        );
        assert_eq!(got.ambiguous, vec![4, 5], "{scheme:?}");
        for d in 0..sets.len() {
          let row = &got.signatures[d * 16..(d + 1) * 16];
          if got.ambiguous.contains(&(d as u32)) {
            assert!(row.iter().all(|&v| v == 0));
          } else {
            assert_eq!(row, &want[d * 16..(d + 1) * 16], "{scheme:?} document {d}");
          }
        }
      }
    }
  }

  #[test]
  fn split_tokens_equals_slice_split() {
    let mut rng = crate::rng::Rng::new(3);
    let mut cases: Vec<Vec<u8>> = vec![
      vec![],
      vec![0x1f],
      vec![0x1f, 0x1f],
      b"a".to_vec(),
      b"\x1fa\x1f".to_vec(),
    ];
    for len in [1usize, 15, 16, 17, 31, 32, 33, 64, 100, 1000] {
      for _ in 0..20 {
        // Mostly letters, some separators: runs of every length, at the ends too.
        cases.push(
          (0..len)
            .map(|_| {
              if rng.below(6) == 0 {
                0x1f
              } else {
                b'a' + rng.below(26) as u8
              }
            })
            .collect(),
        );
      }
    }
    for doc in &cases {
      let mut it = SplitTokens::new(doc);
      let got: Vec<&[u8]> = it.by_ref().collect();
      let want: Vec<&[u8]> = doc.split(|&b| b == TOKEN_SEPARATOR).collect();
      assert_eq!(got, want, "{doc:?}");
      assert_eq!(it.parts, want.len());
    }
  }

  #[test]
  fn joined_input_is_checked() {
    let mh = MinHasher::new(MinHasherOptions::default()).unwrap();
    let (data, offsets, counts) = join(&[vec!["a", "b"], vec!["c"]]);
    assert!(mh
      .sign_joined_tokens(&data, &offsets, &counts[..1], None)
      .is_err());
    let err = mh.sign_joined_tokens(&data, &offsets, &[2, 0], None).unwrap_err();
    assert!(err.to_string().contains("document 1 has no token"), "{err}");
    assert!(mh.sign_joined_tokens(&data, &[0, 4, 3], &[2, 1], None).is_err());
    assert!(mh.sign_joined_tokens(&data, &[0, 3, 9], &[2, 1], None).is_err());
    assert!(mh.sign_joined_tokens(&data, &[], &[], None).is_err());
    // Fewer separators than claimed tokens is also not split.
    assert_eq!(
      mh.sign_joined_tokens(&data, &offsets, &[3, 1], None)
        .unwrap()
        .ambiguous,
      vec![0]
    );
    let mut short = vec![0u32; mh.num_perm()];
    let err = mh
      .sign_joined_tokens_into(&data, &offsets, &counts, &mut short, None)
      .unwrap_err();
    assert!(err.to_string().contains("signature buffer has"), "{err}");
    let none = mh.sign_joined_tokens(&data, &[0], &[], None).unwrap();
    assert!(none.signatures.is_empty() && none.ambiguous.is_empty());
  }
}
