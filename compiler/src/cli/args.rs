//! Command-line arguments (clap derive). Output lines of each command are a contract; see the
//! command's module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "syncodec", version, about = "Grammar-constrained decoding: compile grammars to token-mask artifacts, parse and check code.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a grammar and print a summary; exit 1 on any error or conflict.
    Check(CheckArgs),
    /// Parse files or directories with a grammar (or a built artifact).
    Parse(ParseArgs),
    /// Compile a grammar and write the artifact.
    Build(BuildArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LrArg {
    #[default]
    Lr1,
    Lalr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FormatArg {
    #[default]
    Text,
    Json,
}

/// Options that shape compilation, shared by every command that compiles a grammar.
#[derive(Debug, Clone, Args)]
pub struct CompileArgs {
    /// LR table construction: canonical LR(1) or LALR(1).
    #[arg(long, value_enum, default_value_t = LrArg::Lr1)]
    pub lr: LrArg,
    /// Start rule (default: `start`).
    #[arg(long)]
    pub start: Option<String>,
    /// Largest DFA allowed for one terminal or for the combined lexer, in states.
    #[arg(long, default_value_t = 10_000)]
    pub dfa_state_limit: usize,
}

impl CompileArgs {
    pub fn options(&self) -> crate::CompileOptions {
        let mut options = crate::CompileOptions::default();
        options.lower.start = self.start.clone();
        options.lexical.dfa_state_limit = self.dfa_state_limit;
        options.lr.mode = match self.lr {
            LrArg::Lr1 => crate::lr::LrMode::Lr1,
            LrArg::Lalr => crate::lr::LrMode::Lalr,
        };
        options
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Grammar file (.ebnf or .lark).
    pub grammar: PathBuf,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Output format of the summary and diagnostics.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Grammar file, or an artifact written by `syncodec build`.
    pub grammar_or_artifact: PathBuf,
    /// Files or directories (searched recursively for the grammar's file extensions).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// File extension to look for in directories (repeatable; default: the grammar's).
    #[arg(long = "ext")]
    pub extensions: Vec<String>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Grammar file (.ebnf or .lark).
    pub grammar: PathBuf,
    /// Output file (default: the grammar's name with extension .syncode, in the current directory).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub compile: CompileArgs,
}
