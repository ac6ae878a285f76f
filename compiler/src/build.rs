//! Stages 6–7 as one call: a compiled grammar and a vocabulary become artifact bytes
//! ([`build_artifact`]), and stages 1–7 from two files ([`build_files`]).
//!
//! Every caller that makes an artifact with a mask store (the CLI's `build`, the Python
//! package, the end-to-end tests, the benchmarks, the CUDA tests) goes through here, so the
//! stage sequence exists once. Nothing is written to disk: callers choose where the bytes go
//! (`emit::write_atomic`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::vocab::{Vocabulary, VocabOptions};
use crate::{emit, mask, vocab, Compilation, CompileOptions, Compiled};

/// Why an artifact could not be built. One enum over the stage errors, so callers handle one
/// type; every message says what failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Read(#[from] crate::ReadError),
    /// The grammar has errors; `messages` are its error diagnostics as `file:line:col: message`.
    #[error("grammar {grammar} has {} error(s): {}", messages.len(), messages.join("; "))]
    Grammar { grammar: String, messages: Vec<String> },
    #[error(transparent)]
    Vocab(#[from] vocab::VocabError),
    #[error(transparent)]
    Mask(#[from] mask::MaskError),
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
}

/// Wall time of stages 6 and 7.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildTimings {
    pub masks: Duration,
    pub encode: Duration,
}

/// An artifact in memory with what its build measured.
#[derive(Debug, Clone)]
pub struct Built {
    pub bytes: Vec<u8>,
    pub stats: mask::MaskStats,
    pub timings: BuildTimings,
}

/// Builds the mask store of `compiled` for `vocab` (on the current rayon pool) and encodes the
/// artifact. `source` names the tokenizer file in the artifact (its file name, by convention);
/// `progress` is called as `mask::build` merges DFA states.
pub fn build_artifact(compiled: &Compiled, vocab: &Vocabulary, source: &str, progress: mask::Progress<'_>) -> Result<Built, BuildError> {
    let started = Instant::now();
    let masks = mask::build(compiled, vocab, progress)?;
    let masks_time = started.elapsed();
    let started = Instant::now();
    let bytes = emit::encode_with_masks(compiled, vocab, source, masks.store)?;
    Ok(Built { bytes, stats: masks.stats, timings: BuildTimings { masks: masks_time, encode: started.elapsed() } })
}

/// Stages 1–7 from a grammar file and a `tokenizer.json`: compiles the grammar (the tokenizer
/// loads meanwhile, on the current rayon pool) and builds the artifact. Warnings are returned in
/// the [`Compilation`]; errors become [`BuildError::Grammar`].
pub fn build_files(grammar: &Path, tokenizer: &Path, options: &CompileOptions, vocab_options: &VocabOptions) -> Result<(Compilation, Built), BuildError> {
    let (compilation, vocab) = rayon::join(|| crate::compile_path(grammar, options), || vocab::load(tokenizer, vocab_options));
    let compilation = compilation?;
    let vocab = vocab?;
    let Some(compiled) = compilation.ok() else {
        return Err(BuildError::Grammar { grammar: grammar.display().to_string(), messages: compilation.error_lines() });
    };
    let source = tokenizer.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let built = build_artifact(compiled, &vocab, &source, &|_, _| {})?;
    Ok((compilation, built))
}
