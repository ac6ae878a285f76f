//! `syncodec parse GRAMMAR_OR_ARTIFACT PATH... [--jobs N] [--ext EXT]`.
//!
//! Output (stdout), a contract: one line per failing file, `FAIL path:line:col: message`, in
//! path order; the last line is exactly `parsed N/M files`. Exit 0 iff N = M (and M > 0 is not
//! required: an empty selection prints `parsed 0/0 files`).
//!
//! `--format json`: one object `{"ok", "parsed", "files", "failures": [{"path", "error"}]}`,
//! `error` being the text after `FAIL ` (`path:line:col: message`).

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;
use syncodec_runtime::artifact::Artifact;

use serde_json::json;

use crate::args::{FormatArg, ParseArgs};
use crate::{CliError, ExitStatus};

pub fn run(args: &ParseArgs) -> Result<ExitStatus, CliError> {
    let artifact = load(&args.grammar_or_artifact, args)?;
    let Some(artifact) = artifact else {
        return Ok(ExitStatus::Failure);
    };
    let grammar = artifact.grammar();
    let files = syncodec_oracles::files::collect_files(&artifact, &args.files.paths, &args.files.extensions)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.files.jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("could not start worker threads: {e}")))?;
    let results: Vec<Option<String>> = pool.install(|| {
        files
            .par_iter()
            .map(|file| match std::fs::read(file) {
                Ok(text) => syncodec_runtime::parser::parse(grammar, &text).err().map(|e| format!("{}:{e}", file.display())),
                Err(e) => Some(format!("{}: could not read file: {e}", file.display())),
            })
            .collect()
    });
    let mut stdout = std::io::stdout().lock();
    let failed = results.iter().flatten().count();
    match args.format {
        FormatArg::Text => {
            for line in results.iter().flatten() {
                writeln!(stdout, "FAIL {line}")?;
            }
            writeln!(stdout, "parsed {}/{} files", files.len() - failed, files.len())?;
        }
        FormatArg::Json => {
            let failures: Vec<_> = files.iter().zip(&results).filter_map(|(f, r)| r.as_ref().map(|m| json!({"path": f.display().to_string(), "error": m}))).collect();
            let value = json!({"ok": failed == 0, "parsed": files.len() - failed, "files": files.len(), "failures": failures});
            writeln!(stdout, "{value}")?;
        }
    }
    Ok(if failed == 0 { ExitStatus::Success } else { ExitStatus::Failure })
}

/// Opens an artifact, or compiles a grammar into an in-memory artifact (diagnostics to stderr).
/// `Ok(None)` when the grammar has errors.
fn load(path: &Path, args: &ParseArgs) -> Result<Option<Artifact>, CliError> {
    if super::looks_like_artifact(path) {
        let artifact = Artifact::open(path).map_err(|source| CliError::Open { path: path.display().to_string(), source })?;
        return Ok(Some(artifact));
    }
    let compilation = super::compile_reporting(path, &args.compile)?;
    let Some(compiled) = compilation.ok() else {
        eprintln!("syncodec: grammar has errors: {}", super::diagnostic_counts(&compilation));
        return Ok(None);
    };
    let bytes = syncodec::emit::encode(compiled)?;
    let artifact = Artifact::from_bytes(&bytes).map_err(|source| CliError::Open { path: path.display().to_string(), source })?;
    Ok(Some(artifact))
}
