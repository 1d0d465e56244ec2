//! Near-duplicate detection with MinHash: shingling, signatures (one-permutation hashing with
//! optimal densification, classic k-hash MinHash, a datasketch-compatible scheme), b-bit
//! compaction, banded LSH with datasketch's (b, r) choice, LSHBloom and streaming clustering.

mod bloom;
mod cluster;
mod estimate;
mod exact;
mod family;
mod joined;
mod lsh;
mod numpy_rng;
mod shingle;
mod sketch;

pub use bloom::{blocked_fpr, size_filter, BloomOptions, LshBloom};
pub use cluster::{DedupMode, DedupOptions, DedupResult, Deduper};
pub use estimate::{bbit_bytes, bbit_compact, bbit_jaccard, jaccard, jaccard_unchecked};
pub use exact::{exact_jaccard_sorted, exact_pairs, shingle_sets};
pub use family::{FamilySlot, SignatureFamily};
pub use joined::{JoinedSignatures, TOKEN_SEPARATOR};
pub use lsh::{
  band_keys, band_keys_into, check_bands, check_threshold, collision_probability, fp_fn_areas,
  optimal_params, LshHit, LshOptions, MinHashLsh,
};
pub use numpy_rng::Mt19937;
pub use shingle::{for_each_shingle, normalize, shingles, ShingleKind, ShingleOptions, MAX_NGRAM};
pub use sketch::{affine61, sha1_hash32, MinHasher, MinHasherOptions, Scheme, MAX_NUM_PERM, MERSENNE_61};

#[cfg(test)]
mod tests;
