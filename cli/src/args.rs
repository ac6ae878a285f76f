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
    /// Show what an artifact holds: header, hashes, section sizes, counts.
    Inspect(InspectArgs),
    /// Print the token mask after a code prefix.
    Mask(MaskArgs),
    /// Teacher forcing: every token of real files must be in the mask; exit 1 on a violation.
    Verify(VerifyArgs),
    /// Compare masks with the exact oracle at random positions of real files.
    Audit(AuditArgs),
    /// What a grammar change does: language, tables, corpus verdicts, masks; exit 1 if anything differs.
    Diff(DiffArgs),
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
    /// Resolve shift/reduce conflicts as shift and report them as warnings, as Lark's LALR
    /// parser does by default (reduce/reduce conflicts stay errors). On by default for `.lark`
    /// files (see `--strict`).
    #[arg(long)]
    pub prefer_shift: bool,
    /// `basic`: one lexer over every terminal; `contextual`: only the terminals the parser can
    /// take next (plus ignored ones) are tried, as Lark's default LALR lexer does. Default:
    /// contextual for `.lark` files, basic otherwise.
    #[arg(long, value_enum)]
    pub lexer: Option<LexerArg>,
    /// Strict mode for any file: shift/reduce conflicts are errors and the basic lexer is used
    /// unless `--lexer` says otherwise (the default for `.ebnf` files).
    #[arg(long, conflicts_with = "lark")]
    pub strict: bool,
    /// Lark's defaults for any file: shift preferred (conflicts reported as warnings) and the
    /// contextual lexer (the default for `.lark` files).
    #[arg(long)]
    pub lark: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LexerArg {
    #[default]
    Basic,
    Contextual,
}

/// How a grammar file is read: `.lark` files behave as in Lark unless `--strict`, everything
/// else strictly unless `--lark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Conflicts are errors; one lexer over every terminal.
    Strict,
    /// Lark's defaults: shift preferred with the conflicts reported as warnings; the contextual lexer.
    Lark,
}

impl Dialect {
    /// The line `syncodec check` prints.
    pub fn describe(self) -> &'static str {
        match self {
            Dialect::Strict => "mode: strict (shift/reduce conflicts are errors, basic lexer; --lark for Lark's defaults)",
            Dialect::Lark => "mode: lark (shift preferred, conflicts reported as warnings, contextual lexer; --strict to turn off)",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Strict => "strict",
            Dialect::Lark => "lark",
        }
    }
}

impl CompileArgs {
    /// The dialect `grammar` is compiled in.
    pub fn dialect(&self, grammar: &std::path::Path) -> Dialect {
        let lark_file = grammar.extension().is_some_and(|e| e.eq_ignore_ascii_case("lark"));
        if self.strict || !(self.lark || lark_file) {
            Dialect::Strict
        } else {
            Dialect::Lark
        }
    }

    pub fn options(&self, grammar: &std::path::Path) -> syncodec::CompileOptions {
        let lark = self.dialect(grammar) == Dialect::Lark;
        let mut options = syncodec::CompileOptions::default();
        options.lower.start = self.start.clone();
        options.lexical.dfa_state_limit = self.dfa_state_limit;
        options.lr.prefer_shift = self.prefer_shift || lark;
        options.contextual_lexer = match self.lexer {
            Some(l) => l == LexerArg::Contextual,
            None => lark,
        };
        options.lr.mode = match self.lr {
            LrArg::Lr1 => syncodec::lr::LrMode::Lr1,
            LrArg::Lalr => syncodec::lr::LrMode::Lalr,
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

/// The files a command reads, shared by `parse` and `verify`.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// Files or directories (searched recursively for the grammar's file extensions).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// File extension to look for in directories (repeatable; default: the grammar's).
    #[arg(long = "ext")]
    pub extensions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Grammar file, or an artifact written by `syncodec build`.
    pub grammar_or_artifact: PathBuf,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Output format: the text lines (a contract, see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
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
    /// The model's tokenizer.json: also store its vocabulary and the token-mask store.
    #[arg(long, value_name = "TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// Logits width of the model, if larger than the tokenizer's number of token ids.
    #[arg(long, value_name = "N", requires = "tokenizer")]
    pub vocab_size: Option<usize>,
    /// Accept a --vocab-size over 4x the tokenizer's token ids or over 2^24 (taken for a typo otherwise).
    #[arg(long, requires = "vocab_size")]
    pub allow_large_vocab_size: bool,
    /// End-of-sequence token, as written in the tokenizer (repeatable; replaces the default set).
    #[arg(long = "eos-token", value_name = "TOKEN", requires = "tokenizer")]
    pub eos_tokens: Vec<String>,
    /// Also write FILE.zst, the artifact packed with zstd for shipping (the runtime opens both).
    #[arg(long)]
    pub zstd: bool,
    /// Worker threads for the mask store (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output format: the text lines (a contract, see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Artifact written by `syncodec build`.
    pub artifact: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct MaskArgs {
    /// Artifact built with `--tokenizer`.
    pub artifact: PathBuf,
    /// The tokenizer.json the artifact was built with.
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// The code prefix, as text.
    #[arg(long, conflicts_with = "prefix_file", required_unless_present = "prefix_file")]
    pub text: Option<String>,
    /// A file holding the code prefix.
    #[arg(long)]
    pub prefix_file: Option<PathBuf>,
    /// Number of allowed tokens to list.
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// EOS token strings the artifact was built with (default: the artifact's EOS ids).
    #[arg(long = "eos-token")]
    pub eos_tokens: Vec<String>,
    /// Output format: the text lines (a contract, see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Artifact built with `--tokenizer`.
    pub artifact: PathBuf,
    /// The tokenizer.json the artifact was built with.
    #[arg(long)]
    pub tokenizer: PathBuf,
    #[command(flatten)]
    pub files: FileArgs,
    /// EOS token strings the artifact was built with (default: the artifact's EOS ids).
    #[arg(long = "eos-token")]
    pub eos_tokens: Vec<String>,
    /// Output format: the text lines (a contract, see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Artifact built with `--tokenizer`.
    pub artifact: PathBuf,
    /// The tokenizer.json the artifact was built with.
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// Files or directories (searched recursively for the grammar's file extensions).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Number of positions to audit.
    #[arg(long)]
    pub samples: usize,
    /// Seed of the position draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for the exact check (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// File extension to look for in directories (repeatable; default: the grammar's).
    #[arg(long = "ext")]
    pub extensions: Vec<String>,
    /// EOS token strings the artifact was built with (default: the artifact's EOS ids).
    #[arg(long = "eos-token")]
    pub eos_tokens: Vec<String>,
    /// Output format: the text lines (a contract, see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old grammar file or artifact; `path@REV` reads the file at a git revision.
    pub old: String,
    /// The new grammar file or artifact; `path@REV` reads the file at a git revision.
    pub new: String,
    /// A tokenizer.json: with --corpus, compare both sides' masks by teacher forcing (grammar
    /// files are built with it; artifacts must have been).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Files or directories whose verdicts (and, with --tokenizer, masks) are compared.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub corpus: Vec<PathBuf>,
    /// File extension to look for in corpus directories (repeatable; default: the new grammar's).
    #[arg(long = "ext")]
    pub extensions: Vec<String>,
    /// Number of mask differences shown with their context.
    #[arg(long, default_value_t = 5)]
    pub examples: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// Output format: the text lines (see the command's docs) or one JSON object.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}
