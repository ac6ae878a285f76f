//! GPU bitmask application benchmark.
//!
//! `cargo run --release -p syncodec-cuda --bin bench`
//!
//! Without a usable GPU it prints `no GPU: <reason>` and exits 0. With one:
//!
//! 1. measures device-to-device copy bandwidth (`cuMemcpyDtoDAsync` of
//!    1 GiB, counted as bytes read + bytes written, median of 20);
//! 2. for B ∈ {1, 16, 256, 4096} × V ∈ {32000, 128256, 151936} × {f32, f16,
//!    bf16}, with random masks (every 4- or 8-logit vector mixed, the case that
//!    reads and writes every logit), prints
//!    - `1-call µs`: CUDA events around one launch on an idle stream, median
//!      of 200 (includes launch latency: what one decoding step pays);
//!    - `µs/call`: events around N back-to-back launches divided by N, median
//!      of 30 batches (device time when launches are pipelined);
//!    - `GB/s`: (logits read + logits written + mask read) / `µs/call`;
//!    - `% d2d`: that against the measured copy bandwidth.
//!
//! Targets (issue): B=1, V=128k ≤ 5 µs; B=4096 ≥ 80% of copy bandwidth.

use std::sync::Arc;

use syncodec_cuda::cudarc::driver::{sys, CudaContext, CudaEvent, CudaStream, DevicePtr};
use syncodec_cuda::runtime::apply::{BatchLayout, Dtype};
use syncodec_cuda::{probe, GpuError, GpuMasker};

fn timing_event(ctx: &Arc<CudaContext>) -> Result<CudaEvent, GpuError> {
    Ok(ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))?)
}

/// Median of `reps` measurements of `n` back-to-back `f()` calls, in µs per call.
fn time_us(
    stream: &Arc<CudaStream>,
    reps: usize,
    n: usize,
    mut f: impl FnMut() -> Result<(), GpuError>,
) -> Result<f64, GpuError> {
    let ctx = stream.context();
    let (start, end) = (timing_event(ctx)?, timing_event(ctx)?);
    for _ in 0..3 {
        f()?;
    }
    stream.synchronize()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        start.record(stream)?;
        for _ in 0..n {
            f()?;
        }
        end.record(stream)?;
        end.synchronize()?;
        t.push(f64::from(start.elapsed_ms(&end)?) * 1e3 / n as f64);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn d2d_bandwidth(stream: &Arc<CudaStream>) -> Result<f64, GpuError> {
    let bytes = 1usize << 30;
    let src = stream.alloc_zeros::<u8>(bytes)?;
    let mut dst = stream.alloc_zeros::<u8>(bytes)?;
    let us = time_us(stream, 20, 1, || Ok(stream.memcpy_dtod(&src, &mut dst)?))?;
    Ok(2.0 * bytes as f64 / (us * 1e-6) / 1e9)
}

fn run() -> Result<(), GpuError> {
    let info = probe()?;
    let masker = GpuMasker::on_device(0)?;
    let stream = masker.stream().clone();
    let bw = d2d_bandwidth(&stream)?;
    println!(
        "device: {} (sm_{}{}), device-to-device copy: {bw:.0} GB/s (read + write)",
        info.name, info.compute_capability.0, info.compute_capability.1
    );
    println!("random masks; logits read + written + mask read per call\n");
    println!(
        "{:>5} {:>7} {:>5} {:>10} {:>9} {:>8} {:>6}",
        "B", "V", "dtype", "1-call µs", "µs/call", "GB/s", "% d2d"
    );
    let mut seed = 0x243F_6A88_85A3_08D3u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u32
    };
    for b in [1usize, 16, 256, 4096] {
        for v in [32000usize, 128256, 151936] {
            let lay = BatchLayout::contiguous(b, v);
            let mask: Vec<u32> = (0..b * lay.mask_words).map(|_| rnd()).collect();
            let dmask = stream.clone_htod(&mask)?;
            let n_elems = lay.logits_len()?;
            for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                let bytes_logits = n_elems * dtype.size();
                let logits = stream.alloc_zeros::<u8>(bytes_logits)?;
                let (lp, _g1) = logits.device_ptr(&stream);
                let (mp, _g2) = dmask.device_ptr(&stream);
                // SAFETY: both buffers are live, of this context, and sized
                // for `lay` (bytes_logits = logits_len * dtype size).
                let mut launch = || unsafe { masker.launch_raw(&stream, lp, dtype, lay, mp, 0, b) };
                let one = time_us(&stream, 200, 1, &mut launch)?;
                let n = if bytes_logits > (64 << 20) { 10 } else { 100 };
                let per = time_us(&stream, 30, n, &mut launch)?;
                let moved = 2 * bytes_logits + mask.len() * 4;
                let gbs = moved as f64 / (per * 1e-6) / 1e9;
                println!(
                    "{b:>5} {v:>7} {dtype:>5} {one:>10.2} {per:>9.2} {gbs:>8.0} {:>5.0}%",
                    100.0 * gbs / bw
                );
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = probe() {
        println!("no GPU: {e}");
        return;
    }
    if let Err(e) = run() {
        match e {
            GpuError::Unavailable(_) | GpuError::Compile(_) => println!("no GPU: {e}"),
            e => {
                eprintln!("benchmark failed: {e}");
                std::process::exit(1);
            }
        }
    }
}
