//! The `syncodec` command line: argument parsing (`args`), one file per command (`commands/`),
//! and diagnostic rendering (`render`). The libraries below (compiler, oracles, runtime) never
//! print; only this crate does. The oracles behind `verify` and `audit` live in
//! `syncodec-oracles`; this crate only formats what they report.
//!
//! Exit status: 0 success, 1 findings (grammar errors, conflicts, files that fail to parse),
//! 2 syncodec itself failed (unreadable or non-UTF-8 input, I/O error): `syncodec: error: ...`,
//! a `cause:` line per error in the chain and, where the error knows a fix, a `help:` line.
//! Results go to stdout, diagnostics and progress to stderr. A closed stdout (broken pipe) ends
//! the command quietly with 0.

pub mod args;
pub mod commands;
pub mod render;

use std::io::Write;
use std::process::ExitCode;

/// Outcome of a command, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

/// Errors that end a command with exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Read(#[from] syncodec::ReadError),
    #[error(transparent)]
    Emit(#[from] syncodec::emit::EmitError),
    #[error(transparent)]
    Vocab(#[from] syncodec::vocab::VocabError),
    #[error(transparent)]
    Build(#[from] syncodec::BuildError),
    #[error(transparent)]
    Oracle(#[from] syncodec_oracles::OracleError),
    #[error("could not open artifact {path}")]
    Open {
        path: String,
        #[source]
        source: syncodec_artifacts::OpenError,
    },
    #[error("{0}")]
    Usage(String),
    #[error("could not write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// How to fix it, printed as a last `help:` line.
    fn help(&self) -> Option<String> {
        match self {
            CliError::Read(e) | CliError::Build(syncodec::BuildError::Read(e)) => e.help(),
            _ => None,
        }
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = <args::Cli as clap::Parser>::parse();
    let result = match cli.command {
        args::Command::Check(a) => commands::check::run(&a),
        args::Command::Parse(a) => commands::parse::run(&a),
        args::Command::Build(a) => commands::build::run(&a),
        args::Command::Inspect(a) => commands::inspect::run(&a),
        args::Command::Mask(a) => commands::mask::run(&a),
        args::Command::Verify(a) => commands::verify::run(&a),
        args::Command::Audit(a) => commands::audit::run(&a),
        args::Command::Diff(a) => commands::diff::run(&a),
    };
    match result {
        Ok(status) => status.into(),
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let mut stderr = std::io::stderr().lock();
            let mut said = e.to_string();
            let _ = writeln!(stderr, "syncodec: error: {said}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                // A cause whose text the last line already quoted is not repeated.
                let text = cause.to_string();
                if !said.contains(&text) {
                    let _ = writeln!(stderr, "cause: {text}");
                    said = text;
                }
                source = cause.source();
            }
            if let Some(help) = e.help() {
                let _ = writeln!(stderr, "help: {help}");
            }
            ExitStatus::Error.into()
        }
    }
}
