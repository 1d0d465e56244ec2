//! Binary codes: sign packing, Hamming kernels, BinaryIndex.
