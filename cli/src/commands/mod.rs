//! One module per subcommand, plus what they share: compiling a grammar while reporting its
//! diagnostics on stderr, and loading a grammar-or-artifact for the runtime.

pub mod audit;
pub mod build;
pub mod check;
pub mod diff;
pub mod inspect;
pub mod mask;
pub mod parse;
pub mod verify;

use std::io::Write;
use std::path::Path;

use crate::args::CompileArgs;
use crate::{render, CliError};
use syncodec::Compilation;

/// Compiles `path`, writing every diagnostic (rendered as text) to stderr.
pub fn compile_reporting(path: &Path, args: &CompileArgs) -> Result<Compilation, CliError> {
    let compilation = syncodec::compile_path(path, &args.options(path))?;
    let mut stderr = std::io::stderr().lock();
    for d in &compilation.diagnostics {
        let _ = stderr.write_all(render::render_text(&compilation.sources, d).as_bytes());
    }
    Ok(compilation)
}

/// Number of errors and warnings, as a closing stderr line.
pub fn diagnostic_counts(compilation: &Compilation) -> String {
    let errors = compilation.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = compilation.diagnostics.len() - errors;
    format!("{errors} error(s), {warnings} warning(s)")
}

/// True when the file starts with the artifact magic or the zstd magic of a packed artifact (so
/// `parse` accepts either input).
pub fn looks_like_artifact(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok() && is_artifact_bytes(&magic)
}

/// True when `bytes` start with the artifact magic or the zstd magic of a packed artifact.
pub fn is_artifact_bytes(bytes: &[u8]) -> bool {
    bytes.starts_with(&syncodec_artifacts::header::MAGIC) || syncodec_artifacts::pack::is_packed(bytes)
}
