//! CIFF (placeholder)
