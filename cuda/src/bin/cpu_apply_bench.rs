//! CPU mask application benchmark: median µs per call of
//! `syncodec_runtime::apply::apply_bitmask_{f32,f16,bf16}` on one row.
//!
//! `cargo run --release -p syncodec-cuda --bin cpu_apply_bench [-- RUNS]`
//!
//! Mask patterns (one mask word covers 32 tokens):
//! - `random`: every bit a coin flip (worst case: every word is mixed);
//! - `grammar`: what a grammar mask looks like, 97% all-zeros words, 2%
//!   mixed, 1% all-ones;
//! - `all-allowed` / `none-allowed`: the two fast paths alone.

use std::hint::black_box;
use std::time::Instant;

use syncodec_runtime::apply::{
    apply_bitmask_bf16, apply_bitmask_f16, apply_bitmask_f32, bitmask_words,
};

/// xorshift64*, enough for benchmark data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn mask(pattern: &str, words: usize, rng: &mut Rng) -> Vec<u32> {
    (0..words)
        .map(|_| {
            let r = rng.next();
            match pattern {
                "random" => r as u32,
                "grammar" => match (r >> 32) % 100 {
                    0 => u32::MAX,
                    1 | 2 => r as u32,
                    _ => 0,
                },
                "all-allowed" => u32::MAX,
                _ => 0,
            }
        })
        .collect()
}

fn median_us(runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..runs.min(200) {
        f();
    }
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let patterns = ["random", "grammar", "all-allowed", "none-allowed"];
    println!("CPU apply_bitmask, one row, median of {runs} calls (µs)");
    print!("{:>7} {:>5}", "vocab", "dtype");
    for p in patterns {
        print!(" {p:>13}");
    }
    println!();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for vocab in [32000usize, 128256, 151936] {
        for dtype in ["f32", "f16", "bf16"] {
            print!("{vocab:>7} {dtype:>5}");
            for p in patterns {
                let m = mask(p, bitmask_words(vocab), &mut rng);
                let us = match dtype {
                    "f32" => {
                        let mut l: Vec<f32> = (0..vocab).map(|i| i as f32).collect();
                        median_us(runs, || apply_bitmask_f32(black_box(&mut l), black_box(&m)))
                    }
                    "f16" => {
                        let mut l: Vec<u16> = (0..vocab).map(|i| i as u16).collect();
                        median_us(runs, || apply_bitmask_f16(black_box(&mut l), black_box(&m)))
                    }
                    _ => {
                        let mut l: Vec<u16> = (0..vocab).map(|i| i as u16).collect();
                        median_us(runs, || {
                            apply_bitmask_bf16(black_box(&mut l), black_box(&m))
                        })
                    }
                };
                print!(" {us:>13.2}");
            }
            println!();
        }
    }
}
