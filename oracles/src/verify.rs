//! Soundness on real code (teacher forcing): a session at sequence start is fed a file's token
//! ids one by one; before each token the mask is filled and the token's bit must be set, and
//! after the last token the mask must allow an EOS id. A token the mask allowed and the session
//! then refuses counts as a violation too (the grammar accepts the file, so the session must).
//!
//! The report's lines (`VIOLATION`, `STOP`, `SKIP`, `FAIL`) and summary are the contract of
//! `syncodec verify` (see the CLI's `verify` command). Every `fill_bitmask` is timed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use syncodec_runtime::artifact::Artifact;
use syncodec::vocab::Tokenizer;
use syncodec_artifacts::bits::row;
use syncodec_runtime::session::MaskCache;

use crate::forcing::{self, Forced, Prepared};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Teacher-forced to the end (violations may have been found).
    Verified,
    /// The session refused a token; the rest was not checked.
    Stopped,
    /// Not a teacher-forcing case.
    Skipped,
    /// Could not be read.
    Failed,
}

impl FileStatus {
    /// The name used in machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Verified => "verified",
            FileStatus::Stopped => "stopped",
            FileStatus::Skipped => "skipped",
            FileStatus::Failed => "failed",
        }
    }
}

/// The result of one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub status: FileStatus,
    /// The file's output lines (`VIOLATION`, `STOP`, `SKIP`, `FAIL`).
    pub lines: Vec<String>,
    /// Mask checks made.
    pub checks: usize,
    pub violations: usize,
}

/// The result of [`verify_files`].
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// In the order of the input files.
    pub files: Vec<FileReport>,
    /// Every `fill_bitmask` time in microseconds, sorted.
    pub times_us: Vec<f32>,
}

impl VerifyReport {
    pub fn checks(&self) -> usize {
        self.files.iter().map(|f| f.checks).sum()
    }

    pub fn violations(&self) -> usize {
        self.files.iter().map(|f| f.violations).sum()
    }

    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    /// Files teacher-forced (verified or stopped).
    pub fn forced_files(&self) -> usize {
        self.count(FileStatus::Verified) + self.count(FileStatus::Stopped)
    }

    /// No violation, every file readable, and at least one file teacher-forced (a run where
    /// every file was skipped verified nothing, which is not a pass).
    pub fn passed(&self) -> bool {
        self.violations() == 0 && self.count(FileStatus::Failed) == 0 && self.forced_files() > 0
    }

    /// `fill_bitmask` time quantiles in microseconds: p50, p99, max.
    pub fn time_quantiles(&self) -> (f64, f64, f64) {
        let t = &self.times_us;
        (forcing::quantile(t, 0.5), forcing::quantile(t, 0.99), t.last().copied().map_or(0.0, f64::from))
    }

    /// The contract's last line.
    pub fn summary_line(&self) -> String {
        let (p50, p99, max) = self.time_quantiles();
        format!(
            "verified {} tokens in {} files: {} violations; mask us p50={:.1} p99={:.1} max={:.1}",
            self.checks(),
            self.forced_files(),
            self.violations(),
            p50,
            p99,
            max
        )
    }
}

/// Teacher-forces every file with `jobs` worker threads (each with its own mask cache, shared
/// by all the files it checks).
pub fn verify_files(artifact: &Artifact, tokenizer: &Tokenizer, files: &[PathBuf], jobs: usize) -> VerifyReport {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, FileReport)>> = Mutex::new(Vec::with_capacity(files.len()));
    let times: Mutex<Vec<f32>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            scope.spawn(|| {
                let cache = Arc::new(MaskCache::default());
                let mut mine = Vec::new();
                let mut my_times = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let report = match forcing::prepare(artifact, tokenizer, path) {
                        Prepared::Ready(forced) => verify_forced(artifact, &cache, &forced, &mut my_times),
                        Prepared::Skip(reason) => FileReport { path: path.clone(), status: FileStatus::Skipped, lines: vec![format!("SKIP {}: {reason}", path.display())], checks: 0, violations: 0 },
                        Prepared::Fail(reason) => FileReport { path: path.clone(), status: FileStatus::Failed, lines: vec![format!("FAIL {}: {reason}", path.display())], checks: 0, violations: 0 },
                    };
                    mine.push((i, report));
                }
                if let Ok(mut all) = results.lock() {
                    all.extend(mine);
                }
                if let Ok(mut all) = times.lock() {
                    all.extend(my_times);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut times_us: Vec<f32> = times.into_inner().unwrap_or_else(|e| e.into_inner());
    times_us.sort_by(f32::total_cmp);
    VerifyReport { files: results.into_iter().map(|(_, r)| r).collect(), times_us }
}

/// Teacher-forces one prepared file; pushes each `fill_bitmask` time (µs) to `times`.
pub fn verify_forced(artifact: &Artifact, cache: &Arc<MaskCache>, forced: &Forced, times: &mut Vec<f32>) -> FileReport {
    let mut report = FileReport { path: forced.path.clone(), status: FileStatus::Verified, lines: Vec::new(), checks: 0, violations: 0 };
    let mut session = match forcing::start_session(artifact, cache) {
        Ok(s) => s,
        Err(e) => {
            report.status = FileStatus::Failed;
            report.lines.push(format!("FAIL {}: {e}", forced.path.display()));
            return report;
        }
    };
    let vocab = session.vocab();
    let mut row = vec![0u32; session.bitmask_words()];
    let mut timed_fill = |session: &mut syncodec_runtime::session::Session<'_>, row: &mut [u32], report: &mut FileReport| {
        let started = Instant::now();
        let result = session.fill_bitmask(row);
        times.push((started.elapsed().as_secs_f64() * 1e6) as f32);
        report.checks += 1;
        result
    };
    // Locations and token texts are made only for the lines printed: a file of n tokens costs
    // O(n) here, not O(n × file size).
    let at = |i: usize| forced.location(forced.starts[i]);
    for (i, &id) in forced.ids.iter().enumerate() {
        let filled = timed_fill(&mut session, &mut row, &mut report);
        let in_mask = row::get(&row, id as usize);
        if !in_mask {
            report.violations += 1;
            report.lines.push(format!("VIOLATION {} token={id} \"{}\"", at(i), forced.token_text(i)));
        }
        if let Err(e) = filled {
            report.status = FileStatus::Stopped;
            report.lines.push(format!("STOP {} token={id} \"{}\": the mask could not be computed: {e}", at(i), forced.token_text(i)));
            return report;
        }
        if let Err(e) = session.accept_token(id) {
            if in_mask {
                report.violations += 1;
            }
            report.status = FileStatus::Stopped;
            report.lines.push(format!("STOP {} token={id} \"{}\": the session refused the token: {e}; the rest of the file is not checked", at(i), forced.token_text(i)));
            return report;
        }
    }
    let filled = timed_fill(&mut session, &mut row, &mut report);
    if filled.is_err() || !vocab.eos().any(|e| row::get(&row, e as usize)) {
        report.violations += 1;
        report.lines.push(format!("VIOLATION {} token=EOS \"<eos>\"", forced.location(forced.text.len())));
    }
    report
}
