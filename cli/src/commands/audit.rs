//! `syncodec audit ARTIFACT --tokenizer TOK.json FILE... --samples K [--seed S] [--jobs N]`:
//! precision and soundness of the masks against the exact oracle.
//!
//! The files are teacher-forced as by `syncodec verify` (same skips). Their positions (before
//! each token, and the end of the file) are pooled and `K` distinct ones are drawn at random
//! (deterministic from `--seed`; all of them when there are fewer than `K`). At each, the mask
//! (`fill_bitmask`) is compared with the exact set: every token id below `n_tokens` for which
//! `Session::is_token_valid` holds (checked in parallel over the ids).
//!
//! Output (stdout), a contract:
//! - `SKIP path: reason` / `FAIL path: reason` as in `verify`;
//! - `FALSE-REJECT path:line:col token=ID "text"` per token the exact oracle allows and the mask
//!   does not (a soundness bug), at the position's `line:col`;
//! - `STOP path:line:col token=ID "text": reason` when teacher forcing cannot go on (the positions
//!   after it in that file are not audited);
//! - `mask allows X% of vocab on average, exact Y%` (two decimals);
//! - `length-2 superset would also allow, per position: ...`: the tokens SynCode's length-2
//!   superset (the stored masks' union) allows and the session refuses, by cause
//!   (`Session::superset_causes`), one decimal;
//! - last line, exactly: `audited K positions: R false-rejected, A false-allowed (P% of vocab on
//!   average)`, where `A` is the sum over positions of the tokens the mask allows but the oracle
//!   does not, and `P` the average over positions of that count divided by `n_tokens`, times 100.
//!
//! `--format json`: one object `{"ok", "positions", "false_rejected", "false_allowed",
//! "false_allowed_percent", "mask_percent", "exact_percent", "skipped": [{"path", "reason"}],
//! "failed": [{"path", "reason"}], "lines"}` (`lines`: the `FALSE-REJECT` and `STOP` lines).
//!
//! Exit 0 iff `R = 0` and every file could be read; 1 otherwise.

use std::io::Write;

use rayon::prelude::*;
use syncodec_oracles::audit::audit;
use syncodec_oracles::files::collect_files;
use syncodec_oracles::forcing::{self, Prepared};

use serde_json::json;

use crate::args::{AuditArgs, FormatArg};
use crate::{CliError, ExitStatus};

pub fn run(args: &AuditArgs) -> Result<ExitStatus, CliError> {
    let artifact = forcing::open_with_masks(&args.artifact)?;
    let tokenizer = forcing::load_matching_tokenizer(&artifact, &args.tokenizer, &args.eos_tokens)?;
    let files = collect_files(&artifact, &args.files, &args.extensions)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("could not start worker threads: {e}")))?;
    let prepared: Vec<Prepared> = pool.install(|| files.par_iter().map(|f| forcing::prepare(&artifact, &tokenizer, f)).collect());
    let mut forced = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for (path, p) in files.iter().zip(prepared) {
        match p {
            Prepared::Ready(f) => forced.push(f),
            Prepared::Skip(reason) => skipped.push((path.display().to_string(), reason)),
            Prepared::Fail(reason) => failures.push((path.display().to_string(), reason)),
        }
    }
    let failed = !failures.is_empty();
    let report = pool.install(|| audit(&artifact, &forced, args.samples, args.seed));
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => {
            for (path, reason) in &skipped {
                writeln!(stdout, "SKIP {path}: {reason}")?;
            }
            for (path, reason) in &failures {
                writeln!(stdout, "FAIL {path}: {reason}")?;
            }
            for line in &report.lines {
                writeln!(stdout, "{line}")?;
            }
            writeln!(stdout, "mask allows {:.2}% of vocab on average, exact {:.2}%", report.mask_percent(), report.exact_percent())?;
            writeln!(stdout, "{}", report.superset_line())?;
            writeln!(stdout, "{}", report.summary_line())?;
        }
        FormatArg::Json => {
            let pairs = |v: &[(String, String)]| v.iter().map(|(path, reason)| json!({"path": path, "reason": reason})).collect::<Vec<_>>();
            let value = json!({
                "ok": report.false_rejected == 0 && !failed,
                "positions": report.positions,
                "false_rejected": report.false_rejected,
                "false_allowed": report.false_allowed,
                "false_allowed_percent": report.false_allowed_percent(),
                "mask_percent": report.mask_percent(),
                "exact_percent": report.exact_percent(),
                "skipped": pairs(&skipped),
                "failed": pairs(&failures),
                "lines": report.lines,
            });
            writeln!(stdout, "{value}")?;
        }
    }
    Ok(if report.false_rejected == 0 && !failed { ExitStatus::Success } else { ExitStatus::Failure })
}
