//! `syncodec parse GRAMMAR_OR_ARTIFACT PATH... [--jobs N] [--ext EXT]`.
//!
//! Output (stdout), a contract: one line per failing file, `FAIL path:line:col: message`, in
//! path order; the last line is exactly `parsed N/M files`. Exit 0 iff N = M (and M > 0 is not
//! required: an empty selection prints `parsed 0/0 files`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use syncodec_runtime::artifact::Artifact;

use crate::cli::args::ParseArgs;
use crate::cli::{CliError, ExitStatus};

pub fn run(args: &ParseArgs) -> Result<ExitStatus, CliError> {
    let artifact = load(&args.grammar_or_artifact, args)?;
    let Some(artifact) = artifact else {
        return Ok(ExitStatus::Failure);
    };
    let grammar = artifact.grammar();
    let extensions: Vec<String> = if args.extensions.is_empty() {
        grammar.file_extensions.iter().map(|e| e.as_str().to_string()).collect()
    } else {
        args.extensions.iter().map(|e| e.trim_start_matches('.').to_string()).collect()
    };
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &extensions, &mut files).map_err(|e| CliError::Usage(format!("could not read {}: {e}", path.display())))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("could not start worker threads: {e}")))?;
    let results: Vec<Option<String>> = pool.install(|| {
        files
            .par_iter()
            .map(|file| match std::fs::read(file) {
                Ok(text) => syncodec_runtime::parser::parse(grammar, &text).err().map(|e| format!("FAIL {}:{e}", file.display())),
                Err(e) => Some(format!("FAIL {}: could not read file: {e}", file.display())),
            })
            .collect()
    });
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    for line in results.iter().flatten() {
        failed += 1;
        writeln!(stdout, "{line}")?;
    }
    writeln!(stdout, "parsed {}/{} files", files.len() - failed, files.len())?;
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
    let bytes = crate::emit::encode(compiled)?;
    let artifact = Artifact::from_bytes(&bytes).map_err(|source| CliError::Open { path: path.display().to_string(), source })?;
    Ok(Some(artifact))
}

/// Adds `path` (a file, taken as is) or the files under it with one of `extensions`, sorted.
/// Symbolic links to directories are not followed.
pub(crate) fn collect(path: &Path, extensions: &[String], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let p = entry.path();
            if kind.is_dir() {
                stack.push(p);
            } else if (kind.is_file() || (kind.is_symlink() && p.is_file())) && p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.iter().any(|x| x == e)) {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}
