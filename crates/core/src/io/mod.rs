//! The one container format every index is saved in, and the file plumbing around it.
//!
//! ```text
//! offset  size  field
//! 0       6     magic "SLMDX\0"
//! 6       2     format version (u16 LE), currently FORMAT_VERSION
//! 8       2     index kind (u16 LE, see Kind)
//! 10      2     reserved, 0
//! 12      4     section count (u32)
//! 16      4     params length (u32)
//! 20      4     params CRC32C
//! 24      4     header CRC32C over bytes 0..24, 28..32 and the section table
//! 28      4     reserved, 0
//! 32      32·n  section table: tag[4], reserved u32, offset u64, length u64, crc32c u32, reserved u32
//! …             params bytes (kind-specific, written with ByteWriter)
//! …             section payloads, each starting on a 64-byte boundary (mmap-friendly)
//! ```
//! All integers are little-endian. A reader checks every field before trusting any byte.

mod bytes;
mod container;
mod file;

pub use bytes::{le_bytes, ByteReader, ByteWriter, FromLeBytes, ToLeBytes};
pub use container::{Container, ContainerWriter, Kind, FORMAT_VERSION, MAGIC};
pub use file::{read_file, save_atomic, Bytes};
