//! syncodec compiler: a Lark-style EBNF grammar becomes terminal DFAs, a maximal-munch lexer and
//! LR(1) tables, written as one artifact that the runtime serves masks from.
//!
//! [`compile`] reads as the list of stage calls: `lower::lower_file` (parse + lower) →
//! `lexical::build` → `lr::build`; [`build_artifact`] runs the rest with a vocabulary
//! (`vocab::load`): `mask::build` (the DFA mask store) → `emit`. Each stage has one entry
//! function and one output type. The grammar stages (lower, lexical, LR conflicts) report
//! problems as located [`diagnostics::Diagnostic`]s; the later stages fail with typed errors
//! ([`BuildError`] joins them). This library never prints: the `syncodec` binary (crate
//! `syncodec-cli`) renders diagnostics and drives the commands.
//!
//! # Glossary
//! - **terminal**: a lexical category of the grammar (`NAME`, `"if"`), id [`TerminalId`]. Never a
//!   vocabulary token.
//! - **rule** / **production**: a nonterminal ([`RuleId`]) and one of its alternatives after
//!   lowering to BNF ([`ProductionId`]).
//! - **lexeme**: one occurrence of a terminal in a text (a byte range).
//! - **token**: a vocabulary token of an LLM tokenizer (`TokenId`), never a terminal.
//! - **DFA state**: a state of one terminal's DFA; **lexer state**: of the combined lexer DFA;
//!   **LR state**: of the LR automaton. Three kinds, three id types, never mixed.
//! - **mask**: the set of tokens allowed at a decoding step; **remainder** and **accept
//!   sequence**: as in the SynCode paper (the suffix whose terminal may still change, and the
//!   terminal sequences that may come next).
//!
//! [`TerminalId`]: syncodec_artifacts::ids::TerminalId
//! [`RuleId`]: syncodec_artifacts::ids::RuleId
//! [`ProductionId`]: syncodec_artifacts::ids::ProductionId

mod build;
pub mod diagnostics;
pub mod diff;
pub mod emit;
pub mod grammar;
pub mod lexical;
pub mod lower;
pub mod lr;
pub mod mask;
pub mod vocab;

use std::path::Path;
use std::time::{Duration, Instant};

pub use build::{build_artifact, build_files, BuildError, BuildTimings, Built};
use diagnostics::{Diagnostic, FileId, SourceMap};

/// Options for [`compile`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    pub lower: lower::LowerOptions,
    pub lexical: lexical::LexicalOptions,
    pub lr: lr::LrOptions,
    /// Lex with only the terminals the parser can take next, as Lark's contextual lexer does
    /// (recorded in the artifact; the runtime lexes accordingly).
    pub contextual_lexer: bool,
}

/// A grammar that went through every stage.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub bnf: lower::Bnf,
    pub lexical: lexical::Lexical,
    pub lr: lr::LrTables,
    /// BLAKE3 over every source text and the options that change the tables.
    pub grammar_hash: [u8; 32],
    /// Extensions (without dot) of the files this grammar parses.
    pub file_extensions: Vec<String>,
    /// See [`CompileOptions::contextual_lexer`].
    pub contextual_lexer: bool,
}

/// Wall time spent per stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub lower: Duration,
    pub lexical: Duration,
    pub lr: Duration,
}

impl Timings {
    pub fn total(&self) -> Duration {
        self.lower + self.lexical + self.lr
    }
}

/// Everything a compilation produced: the sources (for rendering), every diagnostic, and the
/// compiled grammar when all stages ran (it may still carry LR conflicts, which are errors).
#[derive(Debug)]
pub struct Compilation {
    pub sources: SourceMap,
    pub main: FileId,
    pub diagnostics: Vec<Diagnostic>,
    pub compiled: Option<Compiled>,
    pub timings: Timings,
}

impl Compilation {
    /// True when every stage ran and no diagnostic is an error.
    pub fn is_ok(&self) -> bool {
        self.compiled.is_some() && !diagnostics::has_errors(&self.diagnostics)
    }

    /// Every error diagnostic as one line, `file:line:col: message` (unlocated ones without the
    /// place), for callers that do not render snippets.
    pub fn error_lines(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| match d.span {
                Some(span) => format!("{}: {}", self.sources.location(span), d.message),
                None => d.message.clone(),
            })
            .collect()
    }

    /// The compiled grammar if [`Compilation::is_ok`].
    pub fn ok(&self) -> Option<&Compiled> {
        if self.is_ok() {
            self.compiled.as_ref()
        } else {
            None
        }
    }
}

/// Why a grammar file could not even be read: an I/O error, or bytes that are not UTF-8 (then
/// located at the first invalid byte: line, column and byte offset).
#[derive(Debug)]
pub struct ReadError {
    path: String,
    kind: ReadErrorKind,
}

#[derive(Debug)]
enum ReadErrorKind {
    Io(std::io::Error),
    NotUtf8 {
        /// 1-based line and column (in characters) of the first invalid byte.
        line: usize,
        column: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// That byte.
        byte: u8,
        /// The file ends inside a character rather than holding a byte that fits nowhere.
        truncated: bool,
        /// The file starts with a UTF-16 byte-order mark.
        utf16: bool,
    },
}

impl ReadError {
    /// The path as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Byte offset of the first byte that is not UTF-8, when that is why the file was refused.
    pub fn invalid_utf8_offset(&self) -> Option<usize> {
        match self.kind {
            ReadErrorKind::NotUtf8 { offset, .. } => Some(offset),
            ReadErrorKind::Io(_) => None,
        }
    }

    /// How to fix it, when there is more to say than the message.
    pub fn help(&self) -> Option<String> {
        match self.kind {
            ReadErrorKind::NotUtf8 { utf16: true, .. } => {
                Some(format!("the file starts with a UTF-16 byte-order mark; save it as UTF-8, e.g. `iconv -f utf-16 -t utf-8 {}`", self.path))
            }
            ReadErrorKind::NotUtf8 { .. } => Some(format!(
                "grammar files are UTF-8: save the file as UTF-8 (a Latin-1 or Windows-1252 file converts with `iconv -f windows-1252 -t utf-8 {}`)",
                self.path
            )),
            ReadErrorKind::Io(_) => None,
        }
    }

    /// `bytes`, read from `path`, failed UTF-8 validation with `error`.
    pub(crate) fn not_utf8(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> ReadError {
        let offset = error.valid_up_to();
        let valid = bytes.get(..offset).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        let line = valid.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = valid.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        let kind = ReadErrorKind::NotUtf8 {
            line,
            column,
            offset,
            byte: bytes.get(offset).copied().unwrap_or(0),
            truncated: error.error_len().is_none(),
            utf16: bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]),
        };
        ReadError { path: path.display().to_string(), kind }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = &self.path;
        match &self.kind {
            ReadErrorKind::Io(source) => write!(f, "could not read grammar {path}: {source}"),
            ReadErrorKind::NotUtf8 { line, column, offset, byte, truncated, .. } => {
                write!(f, "could not read grammar {path}: invalid UTF-8 at {path}:{line}:{column} (byte offset {offset}): ")?;
                if *truncated {
                    write!(f, "the file ends inside a character (byte 0x{byte:02X} starts one)")
                } else {
                    write!(f, "byte 0x{byte:02X} does not start a UTF-8 character there")
                }
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Io(source) => Some(source),
            ReadErrorKind::NotUtf8 { .. } => None,
        }
    }
}

/// Reads a grammar file and compiles it.
///
/// # Errors
/// [`ReadError`] when the file cannot be read or is not UTF-8.
pub fn compile_path(path: &Path, options: &CompileOptions) -> Result<Compilation, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError { path: path.display().to_string(), kind: ReadErrorKind::Io(source) })?;
    let text = String::from_utf8(bytes).map_err(|e| ReadError::not_utf8(path, e.as_bytes(), e.utf8_error()))?;
    let mut sources = SourceMap::new();
    let main = sources.add(path.display().to_string(), text);
    Ok(compile(sources, main, options))
}

/// Compiles grammar text given by name (tests, fuzzing).
pub fn compile_str(name: &str, text: &str, options: &CompileOptions) -> Compilation {
    let mut sources = SourceMap::new();
    let main = sources.add(name, text);
    compile(sources, main, options)
}

/// Runs every stage on `main`, collecting diagnostics; stops after the first stage with errors.
pub fn compile(mut sources: SourceMap, main: FileId, options: &CompileOptions) -> Compilation {
    let mut timings = Timings::default();
    let started = Instant::now();
    let lowered = lower::lower_file(&mut sources, main, &options.lower);
    timings.lower = started.elapsed();
    let mut diagnostics = lowered.diagnostics;
    let done = |sources, diagnostics, compiled, timings| Compilation { sources, main, diagnostics, compiled, timings };
    let Some(bnf) = lowered.bnf else {
        return done(sources, diagnostics, None, timings);
    };

    let started = Instant::now();
    let lexical = lexical::build(&bnf, &options.lexical);
    timings.lexical = started.elapsed();
    let lexical = match lexical {
        Ok(lexical) => lexical,
        Err(errors) => {
            diagnostics.extend(errors);
            return done(sources, diagnostics, None, timings);
        }
    };

    let started = Instant::now();
    let tables = lr::build(&bnf, &options.lr);
    timings.lr = started.elapsed();
    let tables = match tables {
        Ok(tables) => tables,
        Err(error) => {
            let span = bnf.rules.get(bnf.start).map(|r| r.span);
            let mut d = Diagnostic::unlocated(error.to_string()).with_help("simplify the grammar, or use `--lr lalr` for a smaller automaton");
            d.span = span;
            diagnostics.push(d);
            return done(sources, diagnostics, None, timings);
        }
    };
    diagnostics.extend(lr::conflict_diagnostics(&bnf, &tables, options.lr.prefer_shift));
    if !options.contextual_lexer {
        diagnostics.extend(shadowing_warnings(&bnf, &lexical, &tables));
    }

    let file_extensions = file_extensions(&sources, main, &bnf.name);
    let grammar_hash = grammar_hash(&sources, options);
    let compiled = Compiled { bnf, lexical, lr: tables, grammar_hash, file_extensions, contextual_lexer: options.contextual_lexer };
    done(sources, diagnostics, Some(compiled), timings)
}

/// A warning per [`lexical::Shadowing`] that the parser can observe: some LR state takes the
/// losing terminal but not the winner, so there a lexeme both match is rejected although the
/// grammar seems to allow it. Grammars written for Lark's contextual lexer (which only tries the
/// terminals the parser can take) meet this; syncodec's lexer does not consult the parser.
fn shadowing_warnings(bnf: &lower::Bnf, lexical: &lexical::Lexical, tables: &lr::LrTables) -> Vec<Diagnostic> {
    let columns = tables.n_terminals + 1;
    let takes = |state: usize, t: syncodec_artifacts::ids::TerminalId| {
        tables.action.get(state * columns + t.raw() as usize).is_some_and(|a| *a != lr::Action::Error)
    };
    let mut out = Vec::new();
    for s in &lexical.shadowed {
        let Some(state) = (0..tables.n_states).find(|&q| takes(q, s.loser) && !takes(q, s.winner)) else { continue };
        let (Some(winner), Some(loser)) = (bnf.terminals.get(s.winner), bnf.terminals.get(s.loser)) else { continue };
        let example = String::from_utf8_lossy(&s.example);
        out.push(
            Diagnostic::warning(
                format!(
                    "terminal {} loses every lexeme it shares with {} (e.g. {:?}), also where the parser takes only {} (LR state {state})",
                    loser.name, winner.name, example, loser.name
                ),
                loser.span,
            )
            .with_note("syncodec's lexer does not consult the parser (like Lark's `lexer=\"basic\"`); Lark's default contextual lexer would produce the other terminal there")
            .with_help(format!(
                "make the two terminals' languages disjoint and use both where {} was meant (e.g. `{}` for the shared lexemes and a terminal for the rest), or give {} a higher priority (`{}.2`) if it should win everywhere",
                loser.name, winner.name, loser.name, loser.name
            )),
        );
    }
    out
}

/// BLAKE3 over the source texts (in load order) and the table-shaping options.
fn grammar_hash(sources: &SourceMap, options: &CompileOptions) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for f in sources.files() {
        h.update(&(f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    h.update(options.lr.mode.as_str().as_bytes());
    h.update(options.lower.start.as_deref().unwrap_or("start").as_bytes());
    if options.contextual_lexer {
        h.update(b"contextual");
    }
    *h.finalize().as_bytes()
}

/// The file extensions a grammar parses: from a `// @extensions py pyi` comment line in the
/// grammar if present, else a table of well-known grammar names, else the grammar's name.
fn file_extensions(sources: &SourceMap, main: FileId, name: &str) -> Vec<String> {
    let declared = sources.get(main).and_then(|f| {
        f.text.lines().find_map(|line| line.trim().strip_prefix("// @extensions").map(|rest| rest.split_whitespace().map(|e| e.trim_start_matches('.').to_string()).collect::<Vec<_>>()))
    });
    if let Some(exts) = declared.filter(|e| !e.is_empty()) {
        return exts;
    }
    let known: &[&str] = match name {
        "python" => &["py"],
        "go" => &["go"],
        "json" => &["json"],
        "sql" => &["sql"],
        _ => &[],
    };
    if known.is_empty() {
        vec![name.to_string()]
    } else {
        known.iter().map(|s| s.to_string()).collect()
    }
}

/// Counts that describe a compiled grammar (what `syncodec check` prints and snapshots).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub grammar: String,
    pub start: String,
    /// Rules written in the source.
    pub rules: usize,
    /// Rules after lowering (including generated ones).
    pub bnf_rules: usize,
    pub productions: usize,
    pub terminals: usize,
    pub ignored_terminals: usize,
    pub declared_terminals: usize,
    /// Sum of the states of every terminal's minimized DFA.
    pub dfa_states: usize,
    /// The terminal with the largest DFA and its state count.
    pub largest_dfa: Option<(String, usize)>,
    pub lexer_states: usize,
    pub lr_mode: String,
    pub lr_states: usize,
    pub conflicts: usize,
    pub indentation: bool,
    /// `%auto_semicolon` is on (the text form prints a line only then).
    pub auto_semicolon: bool,
    /// The contextual lexer is on (the text form prints a line only then).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub contextual_lexer: bool,
    pub file_extensions: Vec<String>,
}

impl Summary {
    pub fn of(compiled: &Compiled) -> Summary {
        let bnf = &compiled.bnf;
        let dfa_sizes: Vec<(String, usize)> = compiled
            .lexical
            .terminals
            .iter()
            .filter_map(|(id, d)| d.as_ref().map(|d| (bnf.terminals.get(id).map(|t| t.name.clone()).unwrap_or_default(), d.n_states())))
            .collect();
        let largest_dfa = dfa_sizes.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))).cloned();
        Summary {
            grammar: bnf.name.clone(),
            start: bnf.rules.get(bnf.start).map(|r| r.name.clone()).unwrap_or_default(),
            rules: bnf.rules.values().filter(|r| !r.generated).count(),
            bnf_rules: bnf.rules.len(),
            productions: bnf.productions.len(),
            terminals: bnf.terminals.len(),
            ignored_terminals: bnf.ignore.len(),
            declared_terminals: bnf.terminals.values().filter(|t| t.kind == lower::TerminalKind::Declared).count(),
            dfa_states: dfa_sizes.iter().map(|d| d.1).sum(),
            largest_dfa,
            lexer_states: compiled.lexical.lexer.dfa.n_states(),
            lr_mode: compiled.lr.mode.as_str().to_string(),
            lr_states: compiled.lr.n_states,
            conflicts: compiled.lr.conflicts.len(),
            indentation: bnf.indentation.is_some(),
            auto_semicolon: bnf.auto_semicolon.is_some(),
            contextual_lexer: compiled.contextual_lexer,
            file_extensions: compiled.file_extensions.clone(),
        }
    }

    /// The text form printed by `syncodec check`.
    pub fn to_text(&self) -> String {
        let largest = self.largest_dfa.as_ref().map_or(String::new(), |(n, s)| format!("largest {n} {s}, "));
        let semicolons = if self.auto_semicolon { "semicolon insertion: yes\n" } else { "" };
        let contextual = if self.contextual_lexer { "lexer: contextual\n" } else { "" };
        let text = format!(
            "grammar: {} (start rule `{}`, files .{})\nrules: {} ({} after lowering, {} productions)\nterminals: {} ({} ignored, {} declared)\ndfa states: {} ({}lexer {})\nlr states: {} ({})\nconflicts: {}\nindentation: {}\n",
            self.grammar,
            self.start,
            self.file_extensions.join(" ."),
            self.rules,
            self.bnf_rules,
            self.productions,
            self.terminals,
            self.ignored_terminals,
            self.declared_terminals,
            self.dfa_states,
            largest,
            self.lexer_states,
            self.lr_states,
            self.lr_mode,
            self.conflicts,
            if self.indentation { "yes" } else { "no" },
        );
        text + semicolons + contextual
    }
}
