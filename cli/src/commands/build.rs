//! `syncodec build GRAMMAR [-o FILE] [--lr lalr|lr1] [--tokenizer TOK.json [--vocab-size N]
//! [--eos-token TOKEN]...] [--zstd] [--threads N]`: compile, optionally build the vocabulary and
//! the mask store, and write the artifact atomically (and its zstd-packed copy `FILE.zst`).
//!
//! Output (stdout), a contract (see `docs/artifact-format.md`), one item per line:
//! - always: `wrote FILE: N bytes (grammar hash H, compiled in T ms)`;
//! - with `--tokenizer`, then: `vocabulary: N tokens (width W, KIND, hash H)`,
//!   `masks: U unique (D dense, S sparse), E split entries, L live masks over Q states`,
//!   `build time: X.XX s (grammar A s, vocabulary B s, masks C s, write D s)`,
//!   `peak memory: X.X MiB` (`peak memory: unknown` where the OS does not tell),
//!   `artifact size: N bytes`;
//! - with `--zstd`, last: `wrote FILE.zst: N bytes (zstd level L, T s)`.
//!
//! Exit 1 when the grammar has errors (nothing is written), 2 when syncodec fails (unreadable or
//! unsupported tokenizer, `--vocab-size` below the vocabulary, I/O). A progress bar goes to
//! stderr, only when stderr is a terminal and the mask store takes more than a second.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::args::BuildArgs;
use crate::{CliError, ExitStatus};

pub fn run(args: &BuildArgs) -> Result<ExitStatus, CliError> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("could not start worker threads: {e}")))?;
    pool.install(|| build(args, started))
}

fn build(args: &BuildArgs, started: Instant) -> Result<ExitStatus, CliError> {
    // The tokenizer loads while the grammar compiles: both take a second on large inputs.
    let options = syncodec::vocab::VocabOptions { eos_tokens: args.eos_tokens.clone(), vocab_size: args.vocab_size, allow_large_vocab_size: args.allow_large_vocab_size };
    let (compilation, vocab) = rayon::join(
        || super::compile_reporting(&args.grammar, &args.compile).map(|c| (c, started.elapsed())),
        || {
            args.tokenizer.as_ref().map(|path| {
                let t = Instant::now();
                syncodec::vocab::load(path, &options).map(|v| (v, t.elapsed()))
            })
        },
    );
    let (compilation, grammar_time) = compilation?;
    let Some(compiled) = compilation.ok() else {
        eprintln!("syncodec: build failed: {}; nothing written", super::diagnostic_counts(&compilation));
        return Ok(ExitStatus::Failure);
    };
    let vocab = vocab.transpose()?;
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.syncode", compiled.bnf.name)));
    // Refuse a device node, FIFO or directory at -o before the mask store is built.
    syncodec::emit::output_target(&output)?;
    let mut stdout = std::io::stdout().lock();

    let Some((vocab, vocab_time)) = vocab else {
        let bytes = syncodec::emit::encode(compiled)?;
        syncodec::emit::write_atomic(&output, &bytes)?;
        writeln!(stdout, "wrote {}: {} bytes (grammar hash {}, compiled in {:.1} ms)", output.display(), bytes.len(), short_hash(&compiled.grammar_hash), compilation.timings.total().as_secs_f64() * 1e3)?;
        if args.zstd {
            write_packed(&mut stdout, &output, &bytes)?;
        }
        return Ok(ExitStatus::Success);
    };

    let progress = ProgressBar::new();
    let source = args.tokenizer.as_deref().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let built = syncodec::build_artifact(compiled, &vocab, &source, &|done, total| progress.update(done, total));
    progress.finish();
    let syncodec::Built { bytes, stats, timings } = built?;
    let masks_time = timings.masks;
    let write_started = Instant::now();
    syncodec::emit::write_atomic(&output, &bytes)?;
    let write_time = timings.encode + write_started.elapsed();
    let total = started.elapsed();

    writeln!(stdout, "wrote {}: {} bytes (grammar hash {}, compiled in {:.1} ms)", output.display(), bytes.len(), short_hash(&compiled.grammar_hash), compilation.timings.total().as_secs_f64() * 1e3)?;
    writeln!(stdout, "vocabulary: {} tokens (width {}, {}, hash {})", vocab.n_tokens(), vocab.width, vocab.kind.as_str(), short_hash(&vocab.hash))?;
    writeln!(
        stdout,
        "masks: {} unique ({} dense, {} sparse), {} split entries, {} live masks over {} states",
        stats.n_masks, stats.n_dense, stats.n_sparse, stats.n_split_entries, stats.n_live, stats.n_states
    )?;
    writeln!(
        stdout,
        "build time: {:.2} s (grammar {:.2} s, vocabulary {:.2} s, masks {:.2} s, write {:.2} s)",
        total.as_secs_f64(),
        grammar_time.as_secs_f64(),
        vocab_time.as_secs_f64(),
        masks_time.as_secs_f64(),
        write_time.as_secs_f64()
    )?;
    match peak_memory_bytes() {
        Some(peak) => writeln!(stdout, "peak memory: {:.1} MiB", peak as f64 / (1 << 20) as f64)?,
        None => writeln!(stdout, "peak memory: unknown")?,
    }
    writeln!(stdout, "artifact size: {} bytes", bytes.len())?;
    if args.zstd {
        write_packed(&mut stdout, &output, &bytes)?;
    }
    Ok(ExitStatus::Success)
}

fn short_hash(hash: &[u8; 32]) -> String {
    syncodec_artifacts::header::hex(&hash[..8])
}

/// Writes `OUTPUT.zst` and prints its line.
fn write_packed(stdout: &mut impl Write, output: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let started = Instant::now();
    let mut name = output.as_os_str().to_owned();
    name.push(".zst");
    let packed_path = PathBuf::from(name);
    let level = syncodec_artifacts::pack::DEFAULT_LEVEL;
    let size = syncodec::emit::write_packed(&packed_path, bytes, level)?;
    writeln!(stdout, "wrote {}: {} bytes (zstd level {level}, {:.2} s)", packed_path.display(), size, started.elapsed().as_secs_f64())?;
    Ok(())
}

/// The process's peak resident set size (`VmHWM` of `/proc/self/status`), where the OS tells.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A progress bar on stderr with ETA, shown only on a terminal and only once the build has run
/// for a second (short builds stay quiet; tests never see it).
struct ProgressBar {
    started: Instant,
    enabled: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl ProgressBar {
    fn new() -> ProgressBar {
        ProgressBar { started: Instant::now(), enabled: std::io::stderr().is_terminal(), bar: Mutex::new(None) }
    }

    fn update(&self, done: usize, total: usize) {
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let Ok(mut bar) = self.bar.lock() else { return };
        let bar = bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("masks {bar:40} {pos}/{len} DFA states, {elapsed} elapsed, ETA {eta}") {
                bar.set_style(style);
            }
            bar
        });
        bar.set_position(done as u64);
    }

    fn finish(&self) {
        if let Ok(mut bar) = self.bar.lock() {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
        }
    }
}
