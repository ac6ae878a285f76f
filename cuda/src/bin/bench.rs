//! GPU bitmask application benchmark.
//!
//! `cargo run --release -p syncodec-cuda --bin bench [-- [--only apply|build] [--artifact FILE.syncode]]`
//!
//! The apply kernel (host-built bitmask applied on the GPU) needs a GPU;
//! without a usable one it prints `no GPU: <reason>`. The build kernel
//! (device-resident mask store) needs an artifact built with a tokenizer
//! (`--artifact`, or `$SYNCODEC_BENCH_ARTIFACT`); it prints the bytes moved
//! per step on any machine, and the timings only with a GPU. The program
//! exits 0 without a GPU.
//!
//! The apply kernel, with a GPU:
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
//!
//! The build kernel: descriptions come from random walks over the artifact's
//! grammar (sessions after a prompt, each step a random token of the mask, a
//! new session when the text is complete or stuck), a pool of every step's
//! `describe_mask()`; a batch of B rows is taken round-robin from the pool.
//! For B ∈ {1, 256, 4096}:
//! - bytes moved host → device per step: the B bitmask rows the apply kernel
//!   reads (`B × ceil(width / 32) × 4`) against the packed descriptions;
//! - host µs to pack the descriptions (`PackedDescriptions::repack`);
//! - with a GPU, per logits dtype (f32, bf16), µs per step measured with
//!   CUDA events around the step's work on the stream (median of 50 after
//!   warm-up): `apply`: copy the bitmask rows (from pinned memory) + the
//!   apply kernel; `fused`: `DeviceDescriptions::update` (the packed words,
//!   from the pageable `Vec` as a server would) + the fused build-and-apply
//!   kernel; `build`: the same copy + the build kernel alone (bitmask rows
//!   on the device). The device-built rows are checked against the host-built
//!   ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use syncodec_artifacts::bits;
use syncodec_cuda::cudarc::driver::{sys, CudaContext, CudaEvent, CudaStream, DevicePtr};
use syncodec_cuda::runtime::apply::{BatchLayout, Dtype, Dtype16};
use syncodec_cuda::runtime::artifact::Artifact;
use syncodec_cuda::runtime::session::{MaskCache, Session, SessionOptions};
use syncodec_cuda::{
    probe, DeviceDescriptions, DeviceMaskStore, GpuError, GpuMasker,
    HostMaskStore, MaskDescription, PackedDescriptions,
};

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

/// xorshift64.
fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// The build kernel's pool of real descriptions: `walkers` sessions, `steps` random
/// grammar-valid tokens each (restarting when complete or stuck), every
/// step's `describe_mask()`.
fn description_pool(artifact: &Artifact, walkers: usize, steps: usize) -> Result<Vec<MaskDescription>, String> {
    let cache = Arc::new(MaskCache::default());
    let new = || Session::with_cache(artifact, SessionOptions::default(), cache.clone()).map_err(|e| e.to_string());
    let mut next = rng(0x9E37_79B9_7F4A_7C15);
    let mut pool = Vec::with_capacity(walkers * steps);
    let mut allowed = Vec::new();
    for _ in 0..walkers {
        let mut s = new()?;
        let mut row = vec![0u32; s.bitmask_words()];
        for _ in 0..steps {
            pool.push(s.describe_mask().map_err(|e| e.to_string())?);
            s.fill_bitmask(&mut row).map_err(|e| e.to_string())?;
            allowed.clear();
            let vocab = s.vocab();
            allowed.extend(bits::row::iter_ones(&row).map(|t| t as u32).filter(|&t| !vocab.is_eos(t)));
            if allowed.is_empty() || next() & 63 == 0 && s.is_complete() {
                s = new()?;
                continue;
            }
            let t = allowed[(next() % allowed.len() as u64) as usize];
            if s.accept_token(t).is_err() {
                // The mask is a sound superset: a rejected token ends this walk.
                s = new()?;
            }
        }
    }
    Ok(pool)
}

fn batch(pool: &[MaskDescription], b: usize) -> Vec<MaskDescription> {
    (0..b).map(|i| pool[(i * 7919) % pool.len()].clone()).collect()
}

fn build_kernel(path: Option<PathBuf>) -> Result<(), GpuError> {
    println!("\n== The build kernel: device-resident mask store ==");
    let Some(path) = path else {
        println!(
            "no artifact: pass --artifact FILE (or set SYNCODEC_BENCH_ARTIFACT) with an artifact built by \
             `syncodec build GRAMMAR --tokenizer TOKENIZER.json -o FILE`"
        );
        return Ok(());
    };
    let artifact = match Artifact::open(&path) {
        Ok(a) => a,
        Err(e) => {
            println!("cannot open {}: {e}", path.display());
            return Ok(());
        }
    };
    let host = HostMaskStore::from_artifact(&artifact)?;
    let words = host.words();
    let t = Instant::now();
    let pool = match description_pool(&artifact, 64, 128) {
        Ok(p) => p,
        Err(e) => {
            println!("random walks failed: {e}");
            return Ok(());
        }
    };
    let masks_per_row = pool.iter().map(|d| d.masks.len()).sum::<usize>() as f64 / pool.len() as f64;
    println!(
        "{}: n_tokens {}, width {}, {} stored masks ({} bytes on the device); pool of {} descriptions from random walks \
         ({:.1} s), {masks_per_row:.2} mask ids per row",
        path.display(),
        host.n_tokens(),
        host.width(),
        host.n_masks(),
        host.device_bytes(),
        pool.len(),
        t.elapsed().as_secs_f64()
    );
    let sizes = [1usize, 256, 4096];
    println!(
        "\n{:>5} {:>15} {:>14} {:>7} {:>9}",
        "B", "bitmask bytes", "packed bytes", "ratio", "pack µs"
    );
    let mut packed_by_b = Vec::new();
    for &b in &sizes {
        let descs = batch(&pool, b);
        let mut p = PackedDescriptions::default();
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            p.repack(&descs);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        let a = b * words * 4;
        println!(
            "{b:>5} {a:>15} {:>14} {:>6.0}x {:>9.1}",
            p.bytes(),
            a as f64 / p.bytes() as f64,
            times[times.len() / 2]
        );
        packed_by_b.push((b, p));
    }
    let masker = match probe().and_then(|_| GpuMasker::on_device(0)) {
        Ok(m) => m,
        Err(e) => {
            println!("\ntimings need a GPU: {e}");
            return Ok(());
        }
    };
    let stream = masker.stream().clone();
    let ctx = stream.context().clone();
    let store = DeviceMaskStore::upload(&stream, &host)?;
    println!(
        "\nµs per step (CUDA events around the host-to-device copy + kernel(s), median of 50)"
    );
    println!(
        "{:>5} {:>5} {:>10} {:>10} {:>10}",
        "B", "dtype", "apply", "fused", "build"
    );
    for (b, packed) in &packed_by_b {
        let b = *b;
        let width = host.width() as usize;
        let lay = BatchLayout::contiguous(b, width);
        // The apply kernel's host rows: the CPU reference of the same descriptions.
        let mut rows = vec![0u32; b * words];
        syncodec_cuda::build_bitmask_cpu(&host, packed, &mut rows)?;
        // SAFETY: a page-locked host buffer, written before the copies that
        // read it are enqueued.
        let mut pinned_rows = unsafe { ctx.alloc_pinned_with_flags::<u32>(rows.len(), 0) }?;
        pinned_rows.as_mut_slice()?.copy_from_slice(&rows);
        let mut dmask = stream.alloc_zeros::<u32>(rows.len())?;
        let mut ddesc = DeviceDescriptions::upload(&stream, packed)?;
        let mut dbits = stream.alloc_zeros::<u32>(rows.len())?;
        for dtype in [Dtype::F32, Dtype::Bf16] {
            let n = lay.logits_len()?;
            let a_us;
            let fused_us;
            if dtype == Dtype::F32 {
                let mut logits = stream.alloc_zeros::<f32>(n)?;
                a_us = time_us(&stream, 50, 1, || {
                    stream.memcpy_htod(&pinned_rows, &mut dmask)?;
                    masker.apply_f32(&mut logits, lay, &dmask, None)
                })?;
                fused_us = time_us(&stream, 50, 1, || {
                    ddesc.update(&stream, packed)?;
                    masker.apply_descriptions_f32(&mut logits, lay, &store, &ddesc, None, None)
                })?;
            } else {
                let mut logits = stream.alloc_zeros::<u16>(n)?;
                a_us = time_us(&stream, 50, 1, || {
                    stream.memcpy_htod(&pinned_rows, &mut dmask)?;
                    masker.apply_u16(&mut logits, Dtype16::Bf16, lay, &dmask, None)
                })?;
                fused_us = time_us(&stream, 50, 1, || {
                    ddesc.update(&stream, packed)?;
                    masker.apply_descriptions_u16(&mut logits, Dtype16::Bf16, lay, &store, &ddesc, None, None)
                })?;
            }
            let build_us = time_us(&stream, 50, 1, || {
                ddesc.update(&stream, packed)?;
                masker.build_bitmask(&store, &ddesc, &mut dbits)
            })?;
            println!("{b:>5} {dtype:>5} {a_us:>10.1} {fused_us:>10.1} {build_us:>10.1}");
        }
        // The device-built rows must be the host-built rows.
        let back = stream.clone_dtoh(&dbits)?;
        stream.synchronize()?;
        if back != rows {
            eprintln!("B={b}: the device-built bitmask differs from the CPU reference");
            std::process::exit(1);
        }
    }
    Ok(())
}

fn main() {
    let mut only = None;
    let mut artifact = std::env::var_os("SYNCODEC_BENCH_ARTIFACT").map(PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => only = args.next(),
            "--artifact" => artifact = args.next().map(PathBuf::from),
            _ => {
                eprintln!("usage: bench [--only apply|build] [--artifact FILE.syncode]");
                std::process::exit(2);
            }
        }
    }
    if only.as_deref() != Some("build") {
        println!("== The apply kernel: host-built bitmask applied on the GPU ==");
        match probe().and_then(|_| run()) {
            Ok(()) => {}
            Err(e @ (GpuError::Unavailable(_) | GpuError::Compile(_))) => println!("no GPU: {e}"),
            Err(e) => {
                eprintln!("benchmark failed: {e}");
                std::process::exit(1);
            }
        }
    }
    if only.as_deref() != Some("apply") {
        match build_kernel(artifact) {
            Ok(()) => {}
            Err(e @ (GpuError::Unavailable(_) | GpuError::Compile(_))) => println!("no GPU: {e}"),
            Err(e) => {
                eprintln!("benchmark failed: {e}");
                std::process::exit(1);
            }
        }
    }
}
