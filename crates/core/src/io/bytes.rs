//! Little-endian encoding of parameters and typed arrays, with bounds-checked reads
//! that report truncation as a corrupt file rather than panicking.

use crate::{Error, Result};

/// Plain numbers that serialise as fixed-size little-endian bytes.
pub trait ToLeBytes: Copy {
  const SIZE: usize;
  fn put(self, out: &mut Vec<u8>);
}
pub trait FromLeBytes: Copy {
  const SIZE: usize;
  fn get(bytes: &[u8]) -> Self;
}

macro_rules! le_number {
  ($($t:ty),*) => {$(
    impl ToLeBytes for $t {
      const SIZE: usize = std::mem::size_of::<$t>();
      #[inline]
      fn put(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()); }
    }
    impl FromLeBytes for $t {
      const SIZE: usize = std::mem::size_of::<$t>();
      #[inline]
      fn get(bytes: &[u8]) -> Self {
        let mut a = [0u8; std::mem::size_of::<$t>()];
        a.copy_from_slice(&bytes[..std::mem::size_of::<$t>()]);
        <$t>::from_le_bytes(a)
      }
    }
  )*};
}
le_number!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

/// The little-endian bytes of a typed array (a section payload with no length prefix).
pub fn le_bytes<T: ToLeBytes>(xs: &[T]) -> Vec<u8> {
  let mut w = ByteWriter::new();
  w.put_raw(xs);
  w.into_bytes()
}

/// Appends fields; used for an index's parameter block and for section payloads.
#[derive(Default, Debug, Clone)]
pub struct ByteWriter {
  buf: Vec<u8>,
}

impl ByteWriter {
  pub fn new() -> Self {
    Self::default()
  }
  pub fn put<T: ToLeBytes>(&mut self, v: T) -> &mut Self {
    v.put(&mut self.buf);
    self
  }
  pub fn put_bool(&mut self, v: bool) -> &mut Self {
    self.put(v as u8)
  }
  /// A length-prefixed (u64) UTF-8 string.
  pub fn put_str(&mut self, s: &str) -> &mut Self {
    self.put(s.len() as u64);
    self.buf.extend_from_slice(s.as_bytes());
    self
  }
  /// A length-prefixed (u64 element count) array.
  pub fn put_slice<T: ToLeBytes>(&mut self, xs: &[T]) -> &mut Self {
    self.put(xs.len() as u64);
    self.put_raw(xs)
  }
  /// An array with no length prefix (the reader must know the count).
  pub fn put_raw<T: ToLeBytes>(&mut self, xs: &[T]) -> &mut Self {
    self.buf.reserve(xs.len() * T::SIZE);
    for &x in xs {
      x.put(&mut self.buf);
    }
    self
  }
  pub fn put_bytes(&mut self, b: &[u8]) -> &mut Self {
    self.put(b.len() as u64);
    self.buf.extend_from_slice(b);
    self
  }
  pub fn len(&self) -> usize {
    self.buf.len()
  }
  pub fn is_empty(&self) -> bool {
    self.buf.is_empty()
  }
  pub fn into_bytes(self) -> Vec<u8> {
    self.buf
  }
}

/// Reads fields back; every read is bounds-checked and names what it was reading.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
  buf: &'a [u8],
  pos: usize,
}

impl<'a> ByteReader<'a> {
  pub fn new(buf: &'a [u8]) -> Self {
    ByteReader { buf, pos: 0 }
  }

  fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
    let end = self
      .pos
      .checked_add(n)
      .filter(|&e| e <= self.buf.len())
      .ok_or_else(|| {
        Error::corrupt(format!(
          "truncated while reading {what} ({n} bytes at offset {})",
          self.pos
        ))
      })?;
    let s = &self.buf[self.pos..end];
    self.pos = end;
    Ok(s)
  }

  pub fn get<T: FromLeBytes>(&mut self, what: &str) -> Result<T> {
    Ok(T::get(self.take(T::SIZE, what)?))
  }
  pub fn get_bool(&mut self, what: &str) -> Result<bool> {
    match self.get::<u8>(what)? {
      0 => Ok(false),
      1 => Ok(true),
      v => Err(Error::corrupt(format!("{what}: invalid boolean byte {v}"))),
    }
  }
  /// A u64 length that must fit in memory and in what remains of the buffer (given the element size).
  pub fn get_len(&mut self, elem_size: usize, what: &str) -> Result<usize> {
    let n = self.get::<u64>(what)?;
    let remaining = (self.buf.len() - self.pos) as u64;
    if n
      .checked_mul(elem_size as u64)
      .is_none_or(|bytes| bytes > remaining)
    {
      return Err(Error::corrupt(format!(
        "{what}: length {n} exceeds the remaining {remaining} bytes"
      )));
    }
    Ok(n as usize)
  }
  pub fn get_str(&mut self, what: &str) -> Result<String> {
    let n = self.get_len(1, what)?;
    let b = self.take(n, what)?;
    String::from_utf8(b.to_vec()).map_err(|_| Error::corrupt(format!("{what}: invalid UTF-8")))
  }
  pub fn get_slice<T: FromLeBytes>(&mut self, what: &str) -> Result<Vec<T>> {
    let n = self.get_len(T::SIZE, what)?;
    self.get_raw(n, what)
  }
  pub fn get_raw<T: FromLeBytes>(&mut self, count: usize, what: &str) -> Result<Vec<T>> {
    let bytes_len = count
      .checked_mul(T::SIZE)
      .ok_or_else(|| Error::corrupt(format!("{what}: element count {count} overflows")))?;
    let b = self.take(bytes_len, what)?;
    Ok(b.chunks_exact(T::SIZE).map(T::get).collect())
  }
  pub fn get_bytes(&mut self, what: &str) -> Result<&'a [u8]> {
    let n = self.get_len(1, what)?;
    self.take(n, what)
  }
  pub fn remaining(&self) -> usize {
    self.buf.len() - self.pos
  }
  /// Fails unless everything was consumed: trailing bytes mean a format mismatch.
  pub fn finish(&self, what: &str) -> Result<()> {
    if self.remaining() != 0 {
      return Err(Error::corrupt(format!(
        "{what}: {} unexpected trailing bytes",
        self.remaining()
      )));
    }
    Ok(())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn round_trip_and_truncation() {
    let mut w = ByteWriter::new();
    w.put(7u32)
      .put(-1.5f32)
      .put_str("héllo")
      .put_slice(&[1u64, 2, 3])
      .put_bool(true);
    let bytes = w.into_bytes();
    let mut r = ByteReader::new(&bytes);
    assert_eq!(r.get::<u32>("a").unwrap(), 7);
    assert_eq!(r.get::<f32>("b").unwrap(), -1.5);
    assert_eq!(r.get_str("c").unwrap(), "héllo");
    assert_eq!(r.get_slice::<u64>("d").unwrap(), vec![1, 2, 3]);
    assert!(r.get_bool("e").unwrap());
    r.finish("all").unwrap();
    for cut in 0..bytes.len() {
      let mut r = ByteReader::new(&bytes[..cut]);
      let res = (|| -> Result<()> {
        r.get::<u32>("a")?;
        r.get::<f32>("b")?;
        r.get_str("c")?;
        r.get_slice::<u64>("d")?;
        r.get_bool("e")?;
        Ok(())
      })();
      assert!(matches!(res, Err(Error::CorruptFile(_))), "cut {cut}");
    }
  }

  #[test]
  fn huge_length_prefix_is_rejected_without_allocating() {
    let mut w = ByteWriter::new();
    w.put(u64::MAX);
    let bytes = w.into_bytes();
    assert!(ByteReader::new(&bytes).get_slice::<f32>("x").is_err());
  }
}
