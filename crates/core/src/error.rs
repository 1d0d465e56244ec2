//! One error type for the whole core. Each variant maps to a stable JS error code
//! (see [`Error::code`]); the bindings never invent codes of their own.

use std::fmt;

#[derive(Debug)]
pub enum Error {
  /// An argument is out of range or malformed. The message names the argument.
  InvalidArg(String),
  /// A vector's dimension differs from the index's.
  DimMismatch { expected: usize, got: usize },
  /// An id given to `add` is already in the index (or repeated within the batch).
  DuplicateId(String),
  /// A saved file or buffer failed validation (magic, version, kind, length, checksum).
  CorruptFile(String),
  /// The operation needs state the object does not have yet (e.g. an untrained quantizer).
  InvalidState(String),
  /// The operation was cancelled (AbortSignal or a progress callback asked to stop).
  Aborted,
  /// MinHash signatures from a hasher (scheme or seed) other than the one an index holds.
  SignatureMismatch(String),
  /// An operating-system I/O error, with the path it concerned.
  Io { path: String, source: std::io::Error },
  /// A bug: a panic caught at the boundary, or an invariant that should not fail.
  Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
  /// The stable code carried by the JS error (`err.code`).
  pub fn code(&self) -> &'static str {
    match self {
      Error::InvalidArg(_) => "ERR_SLIMDEX_INVALID_ARG",
      Error::DimMismatch { .. } => "ERR_SLIMDEX_DIM_MISMATCH",
      Error::DuplicateId(_) => "ERR_SLIMDEX_DUPLICATE_ID",
      Error::CorruptFile(_) => "ERR_SLIMDEX_CORRUPT_FILE",
      Error::InvalidState(_) => "ERR_SLIMDEX_INVALID_STATE",
      Error::Aborted => "ABORT_ERR",
      Error::SignatureMismatch(_) => "ERR_SLIMDEX_SIGNATURE_MISMATCH",
      Error::Io { .. } => "ERR_SLIMDEX_IO",
      Error::Internal(_) => "ERR_SLIMDEX_INTERNAL",
    }
  }

  pub fn invalid(msg: impl Into<String>) -> Self {
    Error::InvalidArg(msg.into())
  }

  pub fn corrupt(msg: impl Into<String>) -> Self {
    Error::CorruptFile(msg.into())
  }

  pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
    Error::Io {
      path: path.into(),
      source,
    }
  }
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Error::InvalidArg(m) => write!(f, "{m}"),
      Error::DimMismatch { expected, got } => {
        write!(
          f,
          "dimension mismatch: the index has dim {expected}, the input has {got}"
        )
      }
      Error::DuplicateId(id) => write!(f, "duplicate id {id}: ids must be unique within an index"),
      Error::CorruptFile(m) => write!(f, "corrupt or incompatible index data: {m}"),
      Error::InvalidState(m) => write!(f, "{m}"),
      Error::Aborted => write!(f, "the operation was aborted"),
      Error::SignatureMismatch(m) => write!(f, "{m}"),
      Error::Io { path, source } => write!(f, "{path}: {source}"),
      Error::Internal(m) => write!(f, "internal error (please report): {m}"),
    }
  }
}

impl std::error::Error for Error {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      Error::Io { source, .. } => Some(source),
      _ => None,
    }
  }
}

/// Runs `f`, turning a panic into [`Error::Internal`], so that a bug in a kernel becomes
/// a JS exception instead of killing the host process. Every binding entry point uses it.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
  match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
    Ok(r) => r,
    Err(payload) => {
      let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
      Err(Error::Internal(msg))
    }
  }
}
