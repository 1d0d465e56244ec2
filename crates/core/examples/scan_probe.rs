// Temporary probe (not committed).
use slimdex_core::binary as hamming;
use slimdex_core::huge_bytes::HugeBytes;
use slimdex_core::simd;
use std::time::Instant;
fn main() {
  let cb = 128;
  for n in [10_000usize, 1_000_000] {
    let mut v = vec![0u8; n * cb];
    let mut x = 1u64;
    for b in v.iter_mut() {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      *b = x as u8;
    }
    let h = HugeBytes::try_from(&v[..]).unwrap();
    let q = v[..cb].to_vec();
    let reps = 10_000_000 / n;
    for tier in simd::available() {
      let t = Instant::now();
      for _ in 0..reps {
        std::hint::black_box(hamming::topk_scan_with(tier, &q, &h, 10));
      }
      let ns = t.elapsed().as_secs_f64() * 1e9 / (reps * n) as f64;
      let mut out = vec![0u32; n];
      let t = Instant::now();
      for _ in 0..reps {
        hamming::scan_distances_with(tier, &q, &h, &mut out);
        std::hint::black_box(&out);
      }
      let ns2 = t.elapsed().as_secs_f64() * 1e9 / (reps * n) as f64;
      println!("n {n} {tier:?}: topk {ns:.2} ns/code, distances only {ns2:.2} ns/code");
    }
  }
}
