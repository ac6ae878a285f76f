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
//! `--format json`: one object with the same facts: `artifact` {`path`, `bytes`, `grammar_hash`,
//! `compile_ms`}; with `--tokenizer` also `vocabulary` {`tokens`, `width`, `kind`, `hash`}, `masks`
//! (the store statistics), `build_time_s` {`total`, `grammar`, `vocabulary`, `masks`, `write`},
//! `peak_memory_bytes` (null where unknown), `artifact_size`; with `--zstd`, `zstd` {`path`,
//! `bytes`, `level`, `seconds`}.
//!
//! Exit 1 when the grammar has errors (nothing is written), 2 when syncodec fails (unreadable or
//! unsupported tokenizer, `--vocab-size` below the vocabulary, I/O). A progress bar goes to
//! stderr, only when stderr is a terminal and the mask store takes more than a second.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::args::{BuildArgs, FormatArg};
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
    let spinner = Spinner::start("compiling the grammar and loading the tokenizer");
    let (compilation, vocab) = rayon::join(
        || super::compile_reporting(&args.grammar, &args.compile).map(|c| (c, started.elapsed())),
        || {
            args.tokenizer.as_ref().map(|path| {
                let t = Instant::now();
                syncodec::vocab::load(path, &options).map(|v| (v, t.elapsed()))
            })
        },
    );
    spinner.finish();
    let (compilation, grammar_time) = compilation?;
    let Some(compiled) = compilation.ok() else {
        eprintln!("syncodec: build failed: {}; nothing written", super::diagnostic_counts(&compilation));
        return Ok(ExitStatus::Failure);
    };
    let vocab = vocab.transpose()?;
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.syncode", compiled.bnf.name)));
    // Refuse a device node, FIFO or directory at -o before the mask store is built.
    syncodec::emit::output_target(&output)?;
    let mut report = Report::default();
    let wrote = |bytes: &[u8]| {
        let line = format!("wrote {}: {} bytes (grammar hash {}, compiled in {:.1} ms)", output.display(), bytes.len(), short_hash(&compiled.grammar_hash), compilation.timings.total().as_secs_f64() * 1e3);
        let value = json!({"path": output.display().to_string(), "bytes": bytes.len(), "grammar_hash": syncodec_artifacts::header::hex(&compiled.grammar_hash), "compile_ms": compilation.timings.total().as_secs_f64() * 1e3});
        (line, value)
    };

    let Some((vocab, vocab_time)) = vocab else {
        let bytes = syncodec::emit::encode(compiled)?;
        syncodec::emit::write_atomic(&output, &bytes)?;
        report.add("artifact", wrote(&bytes));
        if args.zstd {
            report.add("zstd", write_packed(&output, &bytes)?);
        }
        report.print(args.format)?;
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

    report.add("artifact", wrote(&bytes));
    report.add(
        "vocabulary",
        (
            format!("vocabulary: {} tokens (width {}, {}, hash {})", vocab.n_tokens(), vocab.width, vocab.kind.as_str(), short_hash(&vocab.hash)),
            json!({"tokens": vocab.n_tokens(), "width": vocab.width, "kind": vocab.kind.as_str(), "hash": syncodec_artifacts::header::hex(&vocab.hash)}),
        ),
    );
    report.add(
        "masks",
        (
            format!(
                "masks: {} unique ({} dense, {} sparse), {} split entries, {} live masks over {} states",
                stats.n_masks, stats.n_dense, stats.n_sparse, stats.n_split_entries, stats.n_live, stats.n_states
            ),
            serde_json::to_value(stats).unwrap_or_default(),
        ),
    );
    let secs = |d: Duration| d.as_secs_f64();
    report.add(
        "build_time_s",
        (
            format!(
                "build time: {:.2} s (grammar {:.2} s, vocabulary {:.2} s, masks {:.2} s, write {:.2} s)",
                secs(total),
                secs(grammar_time),
                secs(vocab_time),
                secs(masks_time),
                secs(write_time)
            ),
            json!({"total": secs(total), "grammar": secs(grammar_time), "vocabulary": secs(vocab_time), "masks": secs(masks_time), "write": secs(write_time)}),
        ),
    );
    let peak = peak_memory_bytes();
    let peak_line = match peak {
        Some(peak) => format!("peak memory: {:.1} MiB", peak as f64 / (1 << 20) as f64),
        None => "peak memory: unknown".to_string(),
    };
    report.add("peak_memory_bytes", (peak_line, json!(peak)));
    report.add("artifact_size", (format!("artifact size: {} bytes", bytes.len()), json!(bytes.len())));
    if args.zstd {
        report.add("zstd", write_packed(&output, &bytes)?);
    }
    report.print(args.format)?;
    Ok(ExitStatus::Success)
}

/// What `build` prints: the text lines in order, and the same facts as one JSON object.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    fields: serde_json::Map<String, Value>,
}

impl Report {
    fn add(&mut self, key: &str, (line, value): (String, Value)) {
        self.lines.push(line);
        self.fields.insert(key.to_string(), value);
    }

    fn print(self, format: FormatArg) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        match format {
            FormatArg::Text => {
                for line in &self.lines {
                    writeln!(stdout, "{line}")?;
                }
            }
            FormatArg::Json => writeln!(stdout, "{}", Value::Object(self.fields))?,
        }
        Ok(())
    }
}

fn short_hash(hash: &[u8; 32]) -> String {
    syncodec_artifacts::header::hex(&hash[..8])
}

/// Writes `OUTPUT.zst`; returns its line and JSON value.
fn write_packed(output: &Path, bytes: &[u8]) -> Result<(String, Value), CliError> {
    let started = Instant::now();
    let mut name = output.as_os_str().to_owned();
    name.push(".zst");
    let packed_path = PathBuf::from(name);
    let level = syncodec_artifacts::pack::DEFAULT_LEVEL;
    let size = syncodec::emit::write_packed(&packed_path, bytes, level)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        format!("wrote {}: {} bytes (zstd level {level}, {seconds:.2} s)", packed_path.display(), size),
        json!({"path": packed_path.display().to_string(), "bytes": size, "level": level, "seconds": seconds}),
    ))
}

/// The process's peak resident set size (`VmHWM` of `/proc/self/status`), where the OS tells.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A spinner with elapsed time on stderr for a phase without a measurable position (the grammar
/// compile, the tokenizer load): shown only on a terminal and only once the phase has run for a
/// second, like [`ProgressBar`]. A background thread ticks it until [`Spinner::finish`].
struct Spinner {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    fn start(label: &'static str) -> Spinner {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Spinner { done, thread: None };
        }
        let flag = std::sync::Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut spinner: Option<indicatif::ProgressBar> = None;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if started.elapsed() >= Duration::from_secs(1) {
                    spinner
                        .get_or_insert_with(|| {
                            let bar = indicatif::ProgressBar::new_spinner();
                            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}, {elapsed}") {
                                bar.set_style(style);
                            }
                            bar.set_message(label);
                            bar
                        })
                        .tick();
                }
            }
            if let Some(bar) = spinner {
                bar.finish_and_clear();
            }
        });
        Spinner { done, thread: Some(thread) }
    }

    fn finish(mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
