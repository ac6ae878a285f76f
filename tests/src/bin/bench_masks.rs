//! Token-mask benchmark: artifact builds, per-token mask latency over real files, the SynCode
//! paper's comparisons (LALR vs LR(1) tables, incremental parsing off) and CPU mask application.
//!
//! ```text
//! cargo run --release -p syncodec-e2e --bin bench_masks -- \
//!     [--grammars json,python,go] [--tokenizers gpt2,codegen,llama2,llama3,qwen2_5] \
//!     [--files N] [--quick | --full] [--only build,latency,compare,apply] [--syncodec PATH]
//! ```
//!
//! Prints markdown tables on stdout (progress on stderr). See `docs/benchmarks.md` for what each
//! column means and how the figures are taken; in short:
//!
//! 1. **Build**: each artifact is built by the `syncodec build --tokenizer T --zstd [--lr lalr]`
//!    CLI in a child process (the same code path users run); its `build time:`, `peak memory:`,
//!    `masks: U unique` and `artifact size:` lines and the `.zst` line are parsed. Median over 1
//!    run (default) or 3 (`--full`). Then `Artifact::open_unverified` of the raw file and of the `.zst`
//!    file (the checksum-verified `Artifact::open` is `bench_open`'s subject),
//!    median of 101 opens (the `.zst` opens stop early after 3 s; the count is shown).
//! 2. **Latency**: teacher forcing over real files (`forcing::prepare`, the same preparation as
//!    `syncodec verify`: the grammar accepts the file, and the tokenizer's ids decode to exactly its
//!    bytes, or the file is skipped and counted). One `MaskCache` per (grammar, tokenizer, mode);
//!    a cold pass over the first file with the empty cache (its maximum is the *cold max*), then the
//!    measured pass over every file, a `Session` (sequence start) per file, every `fill_bitmask`
//!    timed with `Instant` (one per token plus the final, EOS, step). A step is a cache *miss* when
//!    the cache grew during it (a new union was computed); `max hit` is the slowest other step.
//! 3. **Compare**: the same measurement for json and python × llama3 with LALR tables and with
//!    `Session::fill_bitmask_from_scratch` (fewer python files; the table says how many).
//! 4. **Apply**: `apply_bitmask_{f32,f16,bf16}` at V = 32000, 128256, 151936 with a random mask
//!    (each bit set with probability 1/2), median of 2000 calls after 200 warm-up calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use syncodec_artifacts::bits::row;
use syncodec_oracles::forcing::{self, Forced, Prepared};
use syncodec::vocab::Tokenizer;
use syncodec_e2e::generate::Rng;
use syncodec_e2e::{shared_dir, workspace_root};
use syncodec_runtime::apply;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SessionOptions};

const ALL_GRAMMARS: &[&str] = &["json", "python", "go"];
const ALL_TOKENIZERS: &[&str] = &["gpt2", "codegen", "llama2", "llama3", "qwen2_5"];
/// The tokenizer of the comparisons and of most targets.
const REFERENCE_TOKENIZER: &str = "llama3";
/// Grammars of the comparison section (the SynCode paper's Python, plus JSON).
const COMPARE_GRAMMARS: &[&str] = &["json", "python"];
const OPENS: usize = 101;
const ZST_OPEN_BUDGET: Duration = Duration::from_secs(3);
const APPLY_CALLS: usize = 2000;
const APPLY_WARMUP: usize = 200;
const APPLY_WIDTHS: &[usize] = &[32000, 128256, 151936];
/// Sizes of the sampled Python and Go files (bytes): real modules, neither stubs nor giants.
const SAMPLE_SIZES: std::ops::RangeInclusive<u64> = 4 * 1024..=32 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Quick,
    Default,
    Full,
}

#[derive(Debug)]
struct Options {
    grammars: Vec<String>,
    tokenizers: Vec<String>,
    files: Option<usize>,
    mode: Mode,
    sections: Vec<String>,
    syncodec: Option<PathBuf>,
}

impl Options {
    fn section(&self, name: &str) -> bool {
        self.sections.iter().any(|s| s == name)
    }

    fn build_runs(&self) -> usize {
        if self.mode == Mode::Full {
            3
        } else {
            1
        }
    }

    /// Files of the latency sample for `grammar`.
    fn files_for(&self, grammar: &str) -> usize {
        if let Some(n) = self.files {
            return n;
        }
        match (grammar, self.mode) {
            ("json", _) => usize::MAX, // every y_ file (95; they are small)
            (_, Mode::Quick) => 3,
            _ => 20,
        }
    }

    /// Files of the from-scratch comparison for `grammar` (re-parsing the whole prefix per step is
    /// quadratic in the file length).
    fn scratch_files_for(&self, grammar: &str) -> usize {
        let n = self.files_for(grammar);
        match (grammar, self.mode) {
            ("json", _) => n,
            (_, Mode::Quick) => n.min(1),
            _ => n.min(5),
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_masks [--grammars json,python,go] [--tokenizers gpt2,codegen,llama2,llama3,qwen2_5] [--files N] \
         [--quick | --full] [--only build,latency,compare,apply] [--syncodec PATH]"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut grammars: Option<Vec<String>> = None;
    let mut tokenizers: Option<Vec<String>> = None;
    let mut files = None;
    let mut mode = Mode::Default;
    let mut sections: Vec<String> = ["build", "latency", "compare", "apply"].iter().map(|s| s.to_string()).collect();
    let mut syncodec = None;
    let mut args = std::env::args().skip(1);
    let list = |v: Option<String>| -> Vec<String> { v.unwrap_or_else(|| usage()).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--grammars" => grammars = Some(list(args.next())),
            "--tokenizers" => tokenizers = Some(list(args.next())),
            "--files" => files = Some(args.next().and_then(|n| n.parse::<usize>().ok()).filter(|&n| n > 0).unwrap_or_else(|| usage())),
            "--quick" => mode = Mode::Quick,
            "--full" => mode = Mode::Full,
            "--only" => sections = list(args.next()),
            "--syncodec" => syncodec = Some(PathBuf::from(args.next().unwrap_or_else(|| usage()))),
            "-h" | "--help" => usage(),
            other => {
                eprintln!("bench_masks: unknown argument {other:?}");
                usage()
            }
        }
    }
    for s in &sections {
        if !["build", "latency", "compare", "apply"].contains(&s.as_str()) {
            eprintln!("bench_masks: unknown section {s:?}");
            usage()
        }
    }
    let quick = mode == Mode::Quick;
    let grammars = grammars.unwrap_or_else(|| if quick { vec!["json".into(), "python".into()] } else { ALL_GRAMMARS.iter().map(|s| s.to_string()).collect() });
    let tokenizers = tokenizers.unwrap_or_else(|| if quick { vec![REFERENCE_TOKENIZER.into()] } else { ALL_TOKENIZERS.iter().map(|s| s.to_string()).collect() });
    Options { grammars, tokenizers, files, mode, sections, syncodec }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Nearest-rank quantile of sorted values (the convention of `syncodec verify`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// `label ≤ limit unit ✓|✗`.
fn target(label: &str, value: f64, limit: f64, shown: &str) -> String {
    let mark = if value.is_nan() {
        "?"
    } else if value <= limit {
        "✓"
    } else {
        "✗"
    };
    format!("{label}≤ {shown} {mark}")
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn fmt_us(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

// ---------------------------------------------------------------------------------------------
// Machine

fn machine_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let load = std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:")).map(|l| l.trim_start_matches("MemTotal:").trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    format!("machine: {cpus} CPUs (nproc), {model}, MemTotal {mem}, load average at start {load}")
}

fn commit_line() -> Option<String> {
    let out = Command::new("git").args(["rev-parse", "--short", "HEAD"]).current_dir(workspace_root()).output().ok()?;
    let head = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dirty = Command::new("git").args(["status", "--porcelain", "--untracked-files=no"]).current_dir(workspace_root()).output().ok().is_some_and(|o| !o.stdout.is_empty());
    (!head.is_empty()).then(|| format!("commit: {head}{}", if dirty { " (working tree modified)" } else { "" }))
}

// ---------------------------------------------------------------------------------------------
// 1. Builds

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Lr {
    Lr1,
    Lalr,
}

impl Lr {
    fn as_str(self) -> &'static str {
        match self {
            Lr::Lr1 => "lr1",
            Lr::Lalr => "lalr",
        }
    }
}

type Key = (String, String, Lr);

struct Built {
    path: PathBuf,
    /// `build time:` lines, seconds, one per run.
    build_s: Vec<f64>,
    /// The parenthesized stage breakdown of the median run's `build time:` line.
    breakdown: String,
    peak_mib: Vec<f64>,
    raw_bytes: u64,
    zst_bytes: u64,
    unique_masks: u64,
    open_raw_us: f64,
    open_zst_us: f64,
    open_zst_n: usize,
}

/// The `syncodec` binary: `--syncodec PATH`, or `target/release/syncodec` after making sure it is
/// up to date (`cargo build --release -p syncodec-cli --bin syncodec`, a no-op when it is).
fn syncodec_binary(options: &Options) -> Result<PathBuf, String> {
    if let Some(p) = &options.syncodec {
        return Ok(p.clone());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the syncodec CLI (cargo build --release -p syncodec-cli --bin syncodec)...");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "syncodec-cli", "--bin", "syncodec"])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build of the syncodec CLI failed".into());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let bin = target_dir.join("release/syncodec");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} not found after cargo build", bin.display()))
    }
}

fn tokenizer_path(name: &str) -> Result<PathBuf, String> {
    let dir = shared_dir().ok_or("../shared (tokenizers, corpora) not found next to the workspace")?;
    let p = dir.join("tokenizers").join(format!("{name}.json"));
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("tokenizer {} not found", p.display()))
    }
}

/// Value of the first stdout line starting with `prefix`, up to the first space after it.
fn field<'a>(stdout: &'a str, prefix: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| l.strip_prefix(prefix)).map(str::trim).map(|rest| rest.split_whitespace().next().unwrap_or(""))
}

fn build_one(syncodec: &Path, key: &Key, runs: usize) -> Result<Built, String> {
    let (grammar, tok, lr) = key;
    let dir = workspace_root().join("target/bench-masks");
    std::fs::create_dir_all(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{grammar}-{tok}-{}.syncode", lr.as_str()));
    let zst_path = PathBuf::from(format!("{}.zst", path.display()));
    let grammar_path = workspace_root().join(format!("grammars/{grammar}.ebnf"));
    let tok_path = tokenizer_path(tok)?;
    let mut build_s = Vec::new();
    let mut peak_mib = Vec::new();
    let mut lines = Vec::new();
    for run in 0..runs {
        eprintln!("build {grammar} x {tok} ({}) run {}/{runs}...", lr.as_str(), run + 1);
        let out = Command::new(syncodec)
            .arg("build")
            .arg(&grammar_path)
            .arg("--tokenizer")
            .arg(&tok_path)
            .args(["--zstd", "--lr", lr.as_str(), "-o"])
            .arg(&path)
            .output()
            .map_err(|e| format!("could not run {}: {e}", syncodec.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("syncodec build failed ({}): {}{}", out.status, stdout, String::from_utf8_lossy(&out.stderr)));
        }
        let secs: f64 = field(&stdout, "build time:").and_then(|s| s.parse().ok()).ok_or_else(|| format!("no `build time:` line in {stdout:?}"))?;
        build_s.push(secs);
        if let Some(p) = field(&stdout, "peak memory:").and_then(|s| s.parse::<f64>().ok()) {
            peak_mib.push(p);
        }
        lines.push((secs, stdout));
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stdout = &lines[lines.len() / 2].1;
    let breakdown = stdout
        .lines()
        .find(|l| l.starts_with("build time:"))
        .and_then(|l| l.split_once('(').map(|(_, r)| r.trim_end_matches(')').to_string()))
        .unwrap_or_default();
    let raw_bytes = field(stdout, "artifact size:").and_then(|s| s.parse().ok()).ok_or("no `artifact size:` line")?;
    let unique_masks = field(stdout, "masks:").and_then(|s| s.parse().ok()).ok_or("no `masks:` line")?;
    let zst_bytes = std::fs::metadata(&zst_path).map_err(|e| format!("{}: {e}", zst_path.display()))?.len();

    let open = |p: &Path| -> Result<Duration, String> {
        let t = Instant::now();
        let a = Artifact::open_unverified(p).map_err(|e| format!("open {}: {e}", p.display()))?;
        let d = t.elapsed();
        drop(a);
        Ok(d)
    };
    let mut raw = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        raw.push(us(open(&path)?));
    }
    let mut zst = Vec::new();
    let started = Instant::now();
    while zst.len() < OPENS && (zst.len() < 3 || started.elapsed() < ZST_OPEN_BUDGET) {
        zst.push(us(open(&zst_path)?));
    }
    Ok(Built {
        path,
        build_s,
        breakdown,
        peak_mib,
        raw_bytes,
        zst_bytes,
        unique_masks,
        open_raw_us: median(&raw),
        open_zst_us: median(&zst),
        open_zst_n: zst.len(),
    })
}

fn build_targets(key: &Key, b: &Built) -> String {
    let (g, t, lr) = (key.0.as_str(), key.1.as_str(), key.2);
    let build = median(&b.build_s);
    let peak = if b.peak_mib.is_empty() { f64::NAN } else { median(&b.peak_mib) };
    let mut out = Vec::new();
    if t == REFERENCE_TOKENIZER && lr == Lr::Lr1 {
        match g {
            "json" => out.push(target("build ", build, 1.0, "1 s")),
            "python" => {
                out.push(target("build ", build, 10.0, "10 s"));
                out.push(target("RSS ", peak, 1024.0, "1 GiB"));
                out.push(target("raw ", mib(b.raw_bytes), 32.0, "32 MiB"));
                out.push(target("zstd ", mib(b.zst_bytes), 8.0, "8 MiB"));
            }
            _ => {}
        }
    }
    out.push(target("open ", b.open_raw_us, 1000.0, "1 ms"));
    out.join("; ")
}

fn print_build_table(built: &BTreeMap<Key, Built>, runs: usize) {
    println!("## 1. Build\n");
    println!(
        "`syncodec build GRAMMAR --tokenizer T --zstd --lr LR` in a child process; build time and peak RSS from its output \
         (median of {runs} run{}); open: `Artifact::open_unverified`, median of {OPENS} (zstd: of n).\n",
        if runs == 1 { "" } else { "s" }
    );
    println!("| grammar | tokenizer | lr | build s | stages | peak RSS MiB | raw MiB | zstd MiB | unique masks | open raw µs | open zstd µs (n) | target |");
    println!("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|");
    for (key, b) in built {
        let peak = if b.peak_mib.is_empty() { "unknown".to_string() } else { format!("{:.1}", median(&b.peak_mib)) };
        println!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} | {:.2} | {} | {} | {} ({}) | {} |",
            key.0,
            key.1,
            key.2.as_str(),
            median(&b.build_s),
            b.breakdown,
            peak,
            mib(b.raw_bytes),
            mib(b.zst_bytes),
            b.unique_masks,
            fmt_us(b.open_raw_us),
            fmt_us(b.open_zst_us),
            b.open_zst_n,
            build_targets(key, b)
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// Corpora

fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, skip_dir: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if !skip_dir(&p) {
                walk(&p, keep, skip_dir, out);
            }
        } else if ft.is_file() && keep(&p) {
            out.push(p);
        }
    }
}

/// `n` files evenly spaced over the sorted list of files whose size is in [`SAMPLE_SIZES`].
fn spaced_sample(mut files: Vec<PathBuf>, n: usize) -> Vec<PathBuf> {
    files.retain(|f| std::fs::metadata(f).is_ok_and(|m| SAMPLE_SIZES.contains(&m.len())));
    files.sort();
    files.dedup();
    if files.len() <= n {
        return files;
    }
    (0..n).map(|i| files[i * files.len() / n].clone()).collect()
}

fn corpus(grammar: &str, n: usize) -> Result<Vec<PathBuf>, String> {
    match grammar {
        "json" => {
            let dir = shared_dir().map(|d| d.join("corpora/json-testsuite/test_parsing")).filter(|d| d.is_dir()).ok_or("../shared/corpora/json-testsuite/test_parsing not found")?;
            let mut files = Vec::new();
            walk(&dir, &|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with("y_")) && p.extension().is_some_and(|e| e == "json"), &|_| true, &mut files);
            files.sort();
            files.truncate(n);
            Ok(files)
        }
        "python" => {
            let out = Command::new("python3")
                .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
                .output()
                .map_err(|e| format!("python3 not available for the stdlib corpus: {e}"))?;
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if !dir.is_dir() {
                return Err(format!("the stdlib directory {:?} is missing", dir));
            }
            let skip = |p: &Path| p.file_name().is_some_and(|n| ["site-packages", "test", "tests", "idle_test", "__pycache__"].contains(&&*n.to_string_lossy()));
            let mut files = Vec::new();
            walk(&dir, &|p| p.extension().is_some_and(|e| e == "py"), &skip, &mut files);
            Ok(spaced_sample(files, n))
        }
        "go" => {
            let out = Command::new("dpkg").args(["-L", "golang-1.19-src"]).output().map_err(|e| format!("dpkg not available: {e}"))?;
            let files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.ends_with(".go") && l.contains("/src/") && !l.contains("/testdata/"))
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .collect();
            if files.is_empty() {
                return Err("the Go 1.19 sources are not installed (apt-get install golang-1.19-src)".into());
            }
            Ok(spaced_sample(files, n))
        }
        other => Err(format!("no latency corpus for grammar {other:?}")),
    }
}

/// Teacher-forcing cases of `files` and the skipped files with their reasons.
fn prepare(artifact: &Artifact, tokenizer: &Tokenizer, files: &[PathBuf]) -> (Vec<Forced>, Vec<String>) {
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match forcing::prepare(artifact, tokenizer, f) {
            Prepared::Ready(x) => ready.push(x),
            Prepared::Skip(why) | Prepared::Fail(why) => skipped.push(format!("{}: {why}", f.display())),
        }
    }
    (ready, skipped)
}

// ---------------------------------------------------------------------------------------------
// 2./3. Latency

#[derive(Default)]
struct Latency {
    files: usize,
    skipped: usize,
    tokens: usize,
    /// Sorted `fill_bitmask` times of the measured pass, µs.
    times: Vec<f64>,
    /// Steps of the measured pass that computed a new union (the cache grew).
    misses: usize,
    /// Slowest step of the measured pass that was a cache hit, µs.
    hit_max: f64,
    cold_max: f64,
    cold_steps: usize,
    /// Files where a token was outside the mask or refused by the session (should be 0).
    broken: Vec<String>,
    wall: Duration,
}

/// Every step of one file: its `fill_bitmask` time (µs) and whether it missed the cache.
struct Steps {
    times: Vec<f64>,
    misses: usize,
    hit_max: f64,
}

impl Steps {
    fn new() -> Steps {
        Steps { times: Vec::new(), misses: 0, hit_max: f64::NAN }
    }

    /// One timed `fill_bitmask`. A miss is seen as the cache growing (or being cleared when full),
    /// checked outside the timed region.
    fn fill(&mut self, session: &mut Session<'_>, cache: &MaskCache, row: &mut [u32], fill: Fill) -> Result<(), syncodec_runtime::session::SessionError> {
        let rows = cache.len();
        let t = Instant::now();
        let r = match fill {
            Fill::Incremental => session.fill_bitmask(row),
            Fill::FromScratch => session.fill_bitmask_from_scratch(row),
        };
        let dt = us(t.elapsed());
        self.times.push(dt);
        if cache.len() != rows {
            self.misses += 1;
        } else {
            self.hit_max = self.hit_max.max(dt); // NaN.max(x) = x
        }
        r
    }
}

/// How a step's mask is computed: from the incremental state, or after re-lexing and re-parsing
/// the whole text (the SynCode paper's "incremental parsing off" baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    Incremental,
    FromScratch,
}

/// One file through a session, every step recorded in `steps`.
fn force_file(artifact: &Artifact, f: &Forced, fill: Fill, cache: &Arc<MaskCache>, steps: &mut Steps) -> Result<(), String> {
    let options = SessionOptions { sequence_start: true, ..SessionOptions::default() };
    let mut session = Session::with_cache(artifact, options, Arc::clone(cache)).map_err(|e| e.to_string())?;
    let mut row = vec![0u32; session.bitmask_words()];
    for (i, &id) in f.ids.iter().enumerate() {
        let r = steps.fill(&mut session, cache, &mut row, fill);
        r.map_err(|e| format!("{}: mask: {e}", f.location(f.starts[i])))?;
        if !row::get(&row, id as usize) {
            return Err(format!("{}: token {id} not in the mask", f.location(f.starts[i])));
        }
        session.accept_token(id).map_err(|e| format!("{}: {e}", f.location(f.starts[i])))?;
    }
    // The last step: the mask where EOS must be allowed.
    let r = steps.fill(&mut session, cache, &mut row, fill);
    r.map_err(|e| format!("{}: final mask: {e}", f.path.display()))?;
    Ok(())
}

fn measure(artifact: &Artifact, forced: &[Forced], skipped: usize, fill: Fill) -> Latency {
    let started = Instant::now();
    let cache = Arc::new(MaskCache::default());
    let mut lat = Latency { files: forced.len(), skipped, ..Latency::default() };
    if let Some(first) = forced.first() {
        let mut cold = Steps::new();
        if let Err(e) = force_file(artifact, first, fill, &cache, &mut cold) {
            lat.broken.push(format!("(cold pass) {e}"));
        }
        lat.cold_max = cold.times.iter().copied().fold(f64::NAN, f64::max);
        lat.cold_steps = cold.times.len();
    }
    let mut steps = Steps::new();
    for f in forced {
        if let Err(e) = force_file(artifact, f, fill, &cache, &mut steps) {
            lat.broken.push(e);
        }
        lat.tokens += f.ids.len();
    }
    lat.times = steps.times;
    lat.times.sort_by(f64::total_cmp);
    lat.misses = steps.misses;
    lat.hit_max = steps.hit_max;
    lat.wall = started.elapsed();
    lat
}

fn latency_targets(grammar: &str, tok: &str, l: &Latency) -> String {
    if tok != REFERENCE_TOKENIZER {
        return String::new();
    }
    let (p50, p99, max) = (quantile(&l.times, 0.5), quantile(&l.times, 0.99), l.times.last().copied().unwrap_or(f64::NAN));
    let limits: [(f64, &str); 3] = match grammar {
        "json" => [(5.0, "5 µs"), (30.0, "30 µs"), (200.0, "200 µs")],
        "python" => [(10.0, "10 µs"), (100.0, "100 µs"), (1000.0, "1 ms")],
        _ => return String::new(),
    };
    [target("p50 ", p50, limits[0].0, limits[0].1), target("p99 ", p99, limits[1].0, limits[1].1), target("max ", max, limits[2].0, limits[2].1)].join("; ")
}

const LATENCY_HEADER: &str = "| files (skipped) | tokens | steps | p50 µs | p90 µs | p99 µs | max µs | misses | max hit µs | cold max µs (steps) | wall s | target |";
const LATENCY_RULE: &str = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";

fn latency_cells(l: &Latency, targets: &str) -> String {
    format!(
        "{} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {:.1} | {} |",
        l.files,
        l.skipped,
        l.tokens,
        l.times.len(),
        fmt_us(quantile(&l.times, 0.5)),
        fmt_us(quantile(&l.times, 0.9)),
        fmt_us(quantile(&l.times, 0.99)),
        fmt_us(l.times.last().copied().unwrap_or(f64::NAN)),
        l.misses,
        fmt_us(l.hit_max),
        fmt_us(l.cold_max),
        l.cold_steps,
        l.wall.as_secs_f64(),
        targets
    )
}

// ---------------------------------------------------------------------------------------------
// 4. CPU apply

fn bench_apply() {
    println!("## 4. CPU mask application\n");
    println!("`syncodec_runtime::apply::apply_bitmask_*` on one row, random mask (each bit set with probability 1/2), median of {APPLY_CALLS} calls after {APPLY_WARMUP} warm-up calls.\n");
    println!("| V | dtype | median µs | p99 µs | GB/s (logits read+written) | target |");
    println!("|---:|---|---:|---:|---:|---|");
    for &v in APPLY_WIDTHS {
        let mut rng = Rng::new(v as u64);
        let mask: Vec<u32> = (0..apply::bitmask_words(v)).map(|_| rng.next_u64() as u32).collect();
        let logits32: Vec<f32> = (0..v).map(|i| (i % 97) as f32 * 0.01).collect();
        let logits16: Vec<u16> = (0..v).map(|i| 0x3C00 + (i % 97) as u16).collect();
        for dtype in ["f32", "f16", "bf16"] {
            let mut a32 = logits32.clone();
            let mut a16 = logits16.clone();
            let mut call = || match dtype {
                "f32" => apply::apply_bitmask_f32(std::hint::black_box(&mut a32), std::hint::black_box(&mask)),
                "f16" => apply::apply_bitmask_f16(std::hint::black_box(&mut a16), std::hint::black_box(&mask)),
                _ => apply::apply_bitmask_bf16(std::hint::black_box(&mut a16), std::hint::black_box(&mask)),
            };
            for _ in 0..APPLY_WARMUP {
                call();
            }
            let mut times = Vec::with_capacity(APPLY_CALLS);
            for _ in 0..APPLY_CALLS {
                let t = Instant::now();
                call();
                times.push(us(t.elapsed()));
            }
            times.sort_by(f64::total_cmp);
            let med = median(&times);
            let elem = if dtype == "f32" { 4 } else { 2 };
            let gbs = (2 * v * elem) as f64 / (med * 1e-6) / 1e9;
            let tgt = if v == 128256 && dtype == "f32" { target("", med, 10.0, "10 µs") } else { String::new() };
            println!("| {v} | {dtype} | {} | {} | {gbs:.1} | {tgt} |", fmt_us(med), fmt_us(quantile(&times, 0.99)));
        }
    }
    println!();
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let options = parse_args();
    let started = Instant::now();
    println!("# syncodec mask benchmark\n");
    println!("- {}", machine_line());
    if let Some(c) = commit_line() {
        println!("- {c}");
    }
    println!(
        "- mode: {:?}; grammars: {}; tokenizers: {}; sections: {}\n",
        options.mode,
        options.grammars.join(","),
        options.tokenizers.join(","),
        options.sections.join(",")
    );

    // Every artifact the selected sections need, built up front.
    let mut keys: Vec<Key> = Vec::new();
    if options.section("build") || options.section("latency") {
        for g in &options.grammars {
            for t in &options.tokenizers {
                keys.push((g.clone(), t.clone(), Lr::Lr1));
            }
        }
    }
    let compare_grammars: Vec<String> = options.grammars.iter().filter(|g| COMPARE_GRAMMARS.contains(&g.as_str())).cloned().collect();
    if options.section("compare") {
        for g in &compare_grammars {
            keys.push((g.clone(), REFERENCE_TOKENIZER.into(), Lr::Lr1));
            keys.push((g.clone(), REFERENCE_TOKENIZER.into(), Lr::Lalr));
        }
    }
    keys.sort();
    keys.dedup();

    let mut built: BTreeMap<Key, Built> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    if !keys.is_empty() {
        match syncodec_binary(&options) {
            Ok(bin) => {
                for key in &keys {
                    match build_one(&bin, key, options.build_runs()) {
                        Ok(b) => {
                            built.insert(key.clone(), b);
                        }
                        Err(e) => failures.push(format!("build {} x {} ({}): {e}", key.0, key.1, key.2.as_str())),
                    }
                }
            }
            Err(e) => failures.push(e),
        }
    }
    if options.section("build") {
        print_build_table(&built, options.build_runs());
    }

    // Tokenizers are loaded once each (a second or more for the large ones).
    let mut tokenizers: BTreeMap<String, Option<Arc<Tokenizer>>> = BTreeMap::new();
    let mut tokenizer = |name: &str, failures: &mut Vec<String>| -> Option<Arc<Tokenizer>> {
        tokenizers
            .entry(name.to_string())
            .or_insert_with(|| match tokenizer_path(name).and_then(|p| syncodec::vocab::load_tokenizer(&p).map_err(|e| e.to_string())) {
                Ok(t) => Some(Arc::new(t)),
                Err(e) => {
                    failures.push(format!("tokenizer {name}: {e}"));
                    None
                }
            })
            .clone()
    };
    let mut notes: Vec<String> = Vec::new();

    if options.section("latency") {
        println!("## 2. Per-token mask latency (teacher forcing, LR(1), incremental)\n");
        println!(
            "One `fill_bitmask` per token plus the final (EOS) step; a Session per file (sequence start), one MaskCache per row. \
             Figures after a warm-up pass over the first file; *cold max*: the slowest step of that warm-up pass (empty cache). \
             *misses*: steps that computed a new union (the cache grew); *max hit*: the slowest step that did not.\n"
        );
        println!("| grammar | tokenizer {LATENCY_HEADER}");
        println!("|---|---{LATENCY_RULE}");
        for g in &options.grammars {
            let files = match corpus(g, options.files_for(g)) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("latency {g}: {e}"));
                    continue;
                }
            };
            for t in &options.tokenizers {
                let key = (g.clone(), t.clone(), Lr::Lr1);
                let Some(b) = built.get(&key) else { continue };
                let Some(tok) = tokenizer(t, &mut failures) else { continue };
                let artifact = match Artifact::open(&b.path) {
                    Ok(a) => a,
                    Err(e) => {
                        failures.push(format!("open {}: {e}", b.path.display()));
                        continue;
                    }
                };
                eprintln!("latency {g} x {t} ({} files)...", files.len());
                let (forced, skipped) = prepare(&artifact, &tok, &files);
                let lat = measure(&artifact, &forced, skipped.len(), Fill::Incremental);
                println!("| {g} | {t} | {}", latency_cells(&lat, &latency_targets(g, t, &lat)));
                notes.extend(skipped.iter().map(|s| format!("skipped ({g} x {t}): {s}")));
                notes.extend(lat.broken.iter().map(|s| format!("BROKEN ({g} x {t}): {s}")));
            }
        }
        println!();
    }

    if options.section("compare") && !compare_grammars.is_empty() {
        println!("## 3. Comparisons ({REFERENCE_TOKENIZER}): LALR vs LR(1) tables, incremental parsing off\n");
        println!(
            "*from scratch*: `Session::fill_bitmask_from_scratch` re-lexes and re-parses the whole text before every mask (the SynCode paper's \
             baseline); it runs on the first files of the sample only (see the files column), with the incremental LR(1) figure on the \
             same files next to it.\n"
        );
        println!("| grammar | configuration {LATENCY_HEADER}");
        println!("|---|---{LATENCY_RULE}");
        for g in &compare_grammars {
            let files = match corpus(g, options.files_for(g)) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("compare {g}: {e}"));
                    continue;
                }
            };
            let Some(tok) = tokenizer(REFERENCE_TOKENIZER, &mut failures) else { continue };
            let scratch_n = options.scratch_files_for(g);
            let mut rows: Vec<(String, Lr, usize, bool)> = vec![("LR(1), incremental".into(), Lr::Lr1, files.len(), false), ("LALR, incremental".into(), Lr::Lalr, files.len(), false)];
            if scratch_n < files.len() {
                rows.push((format!("LR(1), incremental, first {scratch_n} file(s)"), Lr::Lr1, scratch_n, false));
            }
            rows.push((format!("LR(1), from scratch, first {} file(s)", scratch_n.min(files.len())), Lr::Lr1, scratch_n, true));
            for (label, lr, n, from_scratch) in rows {
                let key = (g.clone(), REFERENCE_TOKENIZER.to_string(), lr);
                let Some(b) = built.get(&key) else { continue };
                let artifact = match Artifact::open(&b.path) {
                    Ok(a) => a,
                    Err(e) => {
                        failures.push(format!("open {}: {e}", b.path.display()));
                        continue;
                    }
                };
                eprintln!("compare {g}: {label}...");
                let subset: Vec<PathBuf> = files.iter().take(n).cloned().collect();
                let (forced, skipped) = prepare(&artifact, &tok, &subset);
                let lat = measure(&artifact, &forced, skipped.len(), if from_scratch { Fill::FromScratch } else { Fill::Incremental });
                println!("| {g} | {label} | {}", latency_cells(&lat, ""));
                notes.extend(lat.broken.iter().map(|s| format!("BROKEN ({g}, {label}): {s}")));
            }
        }
        println!();
    }

    if options.section("apply") {
        bench_apply();
    }

    if !notes.is_empty() {
        println!("## Notes\n");
        for n in &notes {
            println!("- {n}");
        }
        println!();
    }
    if !failures.is_empty() {
        println!("## Failures\n");
        for f in &failures {
            println!("- {f}");
        }
        println!();
    }
    println!("total wall time: {:.1} s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
