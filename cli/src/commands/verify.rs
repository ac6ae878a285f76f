//! `syncodec verify ARTIFACT --tokenizer TOK.json PATH... [--jobs N] [--ext EXT]`: teacher-forced
//! soundness of the token masks on real files.
//!
//! Every file (directories are searched for the grammar's extensions, or `--ext`, as `syncodec
//! parse` does) is encoded by the tokenizer without special tokens; the ids must decode to
//! exactly the file's bytes, and the grammar must accept the file. Then a session (at sequence
//! start) is fed the ids one by one: before each token the mask is filled and the token's bit
//! must be set; after the last token the mask must allow an EOS id.
//!
//! Output (stdout), a contract, files in path order:
//! - `VIOLATION path:line:col token=ID "text"`: the file's next token is not in the mask (the
//!   position is where the token starts; text escaped). At the end of a file,
//!   `VIOLATION path:line:col token=EOS "<eos>"` when no EOS id is allowed.
//! - `STOP path:line:col token=ID "text": reason`: the session refused the token (or the mask
//!   could not be computed); the rest of the file is not checked. A refusal of a token the mask
//!   allowed counts as a violation too (the grammar accepts the file, so the session must).
//! - `SKIP path: reason`: not a teacher-forcing case (the grammar rejects the file, it is not
//!   UTF-8, or its tokens do not decode back to its bytes); not counted.
//! - `FAIL path: reason`: the file could not be read.
//! - `skipped S files, stopped K files, failed F files`
//! - last line, exactly: `verified T tokens in F files: V violations; mask us p50=A p99=B max=C`.
//!
//! `--format json`: one object `{"ok", "tokens", "files_verified", "violations", "skipped",
//! "stopped", "failed", "mask_us": {"p50", "p99", "max"}, "files": [{"path", "status"
//! (verified|stopped|skipped|failed), "checks", "violations", "lines"}]}`, `lines` being the text lines above.
//!
//! `T` is the number of mask checks made: one per token fed, plus one end-of-file EOS check per
//! file that was not stopped. `F` counts the files that were teacher-forced (stopped ones
//! included, skipped ones not). `A`, `B`, `C` are the median, 99th percentile (nearest rank) and
//! maximum time of one `fill_bitmask` call, in microseconds. Exit 0 iff `V = 0` and every file
//! could be read; 1 otherwise.

use std::io::Write;

use syncodec_oracles::files::collect_files;
use syncodec_oracles::forcing;
use syncodec_oracles::verify::{verify_files, FileStatus};

use serde_json::json;

use crate::args::{FormatArg, VerifyArgs};
use crate::{CliError, ExitStatus};

pub fn run(args: &VerifyArgs) -> Result<ExitStatus, CliError> {
    let artifact = forcing::open_with_masks(&args.artifact)?;
    let tokenizer = forcing::load_matching_tokenizer(&artifact, &args.tokenizer, &args.eos_tokens)?;
    let files = collect_files(&artifact, &args.files.paths, &args.files.extensions)?;
    let jobs = args.files.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let report = verify_files(&artifact, &tokenizer, &files, jobs);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => {
            for file in &report.files {
                for line in &file.lines {
                    writeln!(stdout, "{line}")?;
                }
            }
            writeln!(stdout, "skipped {} files, stopped {} files, failed {} files", report.count(FileStatus::Skipped), report.count(FileStatus::Stopped), report.count(FileStatus::Failed))?;
            writeln!(stdout, "{}", report.summary_line())?;
        }
        FormatArg::Json => {
            let (p50, p99, max) = report.time_quantiles();
            let files: Vec<_> = report
                .files
                .iter()
                .map(|f| json!({"path": f.path.display().to_string(), "status": f.status.as_str(), "checks": f.checks, "violations": f.violations, "lines": f.lines}))
                .collect();
            let value = json!({
                "ok": report.passed(),
                "tokens": report.checks(),
                "files_verified": report.forced_files(),
                "violations": report.violations(),
                "skipped": report.count(FileStatus::Skipped),
                "stopped": report.count(FileStatus::Stopped),
                "failed": report.count(FileStatus::Failed),
                "mask_us": {"p50": p50, "p99": p99, "max": max},
                "files": files,
            });
            writeln!(stdout, "{value}")?;
        }
    }
    if report.forced_files() == 0 {
        eprintln!(
            "syncodec: nothing was verified: {} of {} file(s) skipped (see the SKIP lines: files the grammar rejects or the tokenizer does not round-trip are not teacher-forcing cases); give files the grammar accepts",
            report.count(FileStatus::Skipped),
            report.files.len()
        );
    }
    Ok(if report.passed() { ExitStatus::Success } else { ExitStatus::Failure })
}
