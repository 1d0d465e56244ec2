//! Files: atomic saves and validated loads (read into memory or memory-mapped).

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::ops::Deref;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over the target, then fsync of the directory. A crash leaves either the old
/// file or the new one, never a half-written index.
pub fn save_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
  let shown = path.display().to_string();
  let dir = match path.parent() {
    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
    _ => std::path::PathBuf::from("."),
  };
  let file_name = path
    .file_name()
    .ok_or_else(|| Error::invalid(format!("save path {shown:?} does not name a file")))?;
  let tmp = dir.join(format!(
    ".{}.tmp-{}-{}",
    file_name.to_string_lossy(),
    std::process::id(),
    crate::rng::mix64(
      std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
    )
  ));
  let write = || -> std::io::Result<()> {
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    // Persist the rename itself. Directories cannot be opened for fsync on every platform;
    // where they cannot, the rename is still atomic, only its durability is the OS's.
    if let Ok(d) = File::open(&dir) {
      let _ = d.sync_all();
    }
    Ok(())
  };
  write().map_err(|e| {
    let _ = fs::remove_file(&tmp);
    Error::io(shown, e)
  })
}

/// Bytes of a loaded file: owned, or a read-only memory map.
pub enum Bytes {
  Owned(Vec<u8>),
  Mapped(memmap2::Mmap),
}

impl Deref for Bytes {
  type Target = [u8];
  fn deref(&self) -> &[u8] {
    match self {
      Bytes::Owned(v) => v,
      Bytes::Mapped(m) => m,
    }
  }
}

/// Reads a whole file, or maps it when `mmap` is set.
pub fn read_file(path: &Path, mmap: bool) -> Result<Bytes> {
  let shown = path.display().to_string();
  if mmap {
    let f = File::open(path).map_err(|e| Error::io(&shown, e))?;
    // SAFETY: the map is read-only. Soundness requires that no other process truncates or
    // rewrites the file while it is mapped; slimdex itself never modifies a saved file in
    // place (saves go to a temp file and rename over, leaving the mapped inode intact).
    // Loads validate every byte range before use, so a concurrent external modification can
    // corrupt results but the map itself stays valid memory for its length.
    let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(&shown, e))?;
    Ok(Bytes::Mapped(m))
  } else {
    fs::read(path).map(Bytes::Owned).map_err(|e| Error::io(shown, e))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn atomic_save_replaces_and_leaves_no_temp_files() {
    let dir = std::env::temp_dir().join(format!("slimdex-io-test-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.slmdx");
    save_atomic(&p, b"first").unwrap();
    save_atomic(&p, b"second version").unwrap();
    assert_eq!(&*read_file(&p, false).unwrap(), b"second version");
    assert_eq!(&*read_file(&p, true).unwrap(), b"second version");
    let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 1);
    assert!(save_atomic(&dir.join("no/such/dir/x"), b"x").is_err());
    fs::remove_dir_all(&dir).unwrap();
  }
}
