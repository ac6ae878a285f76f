//! Artifact open-time benchmark: what the default (checksum-verified) open costs against the
//! trusted, unverified one.
//!
//! ```text
//! cargo run --release -p syncodec-e2e --bin bench_open -- [--opens N] ARTIFACT...
//! ```
//!
//! For each artifact (raw or zstd-packed), in this process and with the file in the page cache
//! (one untimed warm-up open first), each row is the median, 10th and 90th percentile of `N`
//! (default 201) timed calls:
//!
//! - `open_unverified`: `Artifact::open_unverified` (mmap, header, rkyv and semantic validation;
//!   the mask store is not read);
//! - `open`: `Artifact::open`, the default (the same plus BLAKE3 over the whole payload);
//! - `checksum only`: `syncodec_artifacts::verify_checksum` over the bytes already in memory (the
//!   hash alone, without the page faults of a fresh map);
//! - `from_bytes`: `Artifact::from_bytes` of the bytes already in memory (copy + verified open).
//!
//! The last column is the median CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`,
//! which also counts the kernel's work for the call, e.g. populating the map): on a loaded machine
//! wall time mostly measures waiting for a core.
//!
//! Prints one markdown table on stdout. `docs/artifact-format.md` quotes its python × llama3 row.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use syncodec_runtime::artifact::Artifact;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench_open: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut opens = 201usize;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--opens" => {
                let value = args.next().ok_or("--opens needs a number")?;
                opens = value.parse().map_err(|_| format!("--opens: not a number: {value}"))?;
                if opens == 0 {
                    return Err("--opens must be at least 1".into());
                }
            }
            "-h" | "--help" => {
                println!("usage: bench_open [--opens N] ARTIFACT...");
                return Ok(());
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        return Err("no artifact given (usage: bench_open [--opens N] ARTIFACT...)".into());
    }
    println!("| artifact | MB | call | median ms | p10 ms | p90 ms | cpu median ms |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for path in &paths {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| format!("read {shown}: {e}"))?;
        // Warm-up: page cache, and a first check that the file opens at all.
        let artifact = Artifact::open(path).map_err(|e| format!("open {shown}: {e}"))?;
        let megabytes = artifact.len() as f64 / 1e6;
        drop(artifact);
        let unpacked = unpacked_aligned(&bytes).map_err(|e| format!("unpack {shown}: {e}"))?;
        let rows: [(&str, Box<dyn Fn() -> Result<(), String>>); 4] = [
            ("open_unverified", Box::new(|| Artifact::open_unverified(path).map(drop).map_err(|e| e.to_string()))),
            ("open", Box::new(|| Artifact::open(path).map(drop).map_err(|e| e.to_string()))),
            ("checksum only", Box::new(|| checksum_only(&unpacked))),
            ("from_bytes", Box::new(|| Artifact::from_bytes(&bytes).map(drop).map_err(|e| e.to_string()))),
        ];
        for (call, f) in rows {
            let mut times = Vec::with_capacity(opens);
            let mut cpu_times = Vec::with_capacity(opens);
            for _ in 0..opens {
                let cpu_start = thread_cpu_time();
                let start = Instant::now();
                f().map_err(|e| format!("{call} {shown}: {e}"))?;
                times.push(start.elapsed());
                if let (Some(a), Some(b)) = (cpu_start, thread_cpu_time()) {
                    cpu_times.push(b.saturating_sub(a));
                }
            }
            let cpu = if cpu_times.len() == opens { format!("{:.3}", ms(quantile(&mut cpu_times, 0.5))) } else { "-".into() };
            println!(
                "| {shown} | {megabytes:.1} | `{call}` | {:.3} | {:.3} | {:.3} | {cpu} |",
                ms(quantile(&mut times, 0.5)),
                ms(quantile(&mut times, 0.1)),
                ms(quantile(&mut times, 0.9))
            );
        }
    }
    println!("\n{opens} timed calls per row after one warm-up open; the file is in the page cache.");
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}, {} cores", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "), std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    Ok(())
}

/// The artifact's raw bytes (unpacked when packed), 16-aligned as `split` needs.
fn unpacked_aligned(bytes: &[u8]) -> Result<syncodec_artifacts::AlignedBytes, syncodec_artifacts::OpenError> {
    if syncodec_artifacts::pack::is_packed(bytes) {
        return syncodec_artifacts::pack::unpack(bytes, syncodec_artifacts::pack::MAX_UNPACKED_LEN);
    }
    Ok(syncodec_artifacts::AlignedBytes::copy_from(bytes))
}

/// BLAKE3 over the payload of `raw`, as the verified open does (header check included).
fn checksum_only(raw: &syncodec_artifacts::AlignedBytes) -> Result<(), String> {
    let checked = syncodec_artifacts::split(raw.as_slice()).map_err(|e| e.to_string())?;
    syncodec_artifacts::verify_checksum(&checked).map_err(|e| e.to_string())
}

fn quantile(times: &mut [Duration], q: f64) -> Duration {
    times.sort();
    times[((times.len() - 1) as f64 * q).round() as usize]
}

/// CPU time this thread has run (user + system, `CLOCK_THREAD_CPUTIME_ID`); `None` where the
/// clock is missing. Unlike wall time it does not count time spent waiting for a core, which
/// dominates on a loaded machine.
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the call writes only into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), u32::try_from(ts.tv_nsec).unwrap_or(0)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
