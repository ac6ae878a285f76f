//! `syncodec build GRAMMAR [-o FILE] [--lr lalr|lr1]`: compile and write the artifact atomically.
//!
//! Output (stdout): `wrote FILE: N bytes (grammar hash H, compiled in T ms)`. Exit 1 when the
//! grammar has errors (nothing is written), 2 on I/O failure.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::args::BuildArgs;
use crate::cli::{CliError, ExitStatus};

pub fn run(args: &BuildArgs) -> Result<ExitStatus, CliError> {
    let compilation = super::compile_reporting(&args.grammar, &args.compile)?;
    let Some(compiled) = compilation.ok() else {
        eprintln!("syncodec: build failed: {}; nothing written", super::diagnostic_counts(&compilation));
        return Ok(ExitStatus::Failure);
    };
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.syncode", compiled.bnf.name)));
    let bytes = crate::emit::encode(compiled)?;
    crate::emit::write_atomic(&output, &bytes)?;
    writeln!(
        std::io::stdout().lock(),
        "wrote {}: {} bytes (grammar hash {}, compiled in {:.1} ms)",
        output.display(),
        bytes.len(),
        &syncodec_artifacts::header::hex(&compiled.grammar_hash)[..16],
        compilation.timings.total().as_secs_f64() * 1e3
    )?;
    Ok(ExitStatus::Success)
}
