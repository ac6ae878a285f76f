//! The lowered grammar: plain BNF over typed ids, the output of the front end and lowering.
//!
//! **Invariants:** every [`RuleDef`] has at least one production; every symbol id is in range;
//! terminal names are unique; a terminal has a pattern unless it is `%declare`d
//! ([`TerminalKind::Declared`]); identical anonymous literals share one terminal. Terminal
//! references inside terminal definitions are already inlined into [`Pattern`]s. Tree-shaping
//! features of Lark (`?rule`, `!rule`, `_rule`, `-> alias`) do not change the language and are
//! not represented here.

use crate::diagnostics::Span;
use syncodec_artifacts::ids::{IdVec, ProductionId, RuleId, TerminalId};
pub use syncodec_artifacts::schema::TerminalKind;

#[derive(Debug, Clone)]
pub struct Bnf {
    /// Grammar name (file stem).
    pub name: String,
    pub terminals: IdVec<TerminalId, TerminalDef>,
    pub rules: IdVec<RuleId, RuleDef>,
    pub productions: IdVec<ProductionId, Production>,
    /// The start rule (`start` unless chosen otherwise).
    pub start: RuleId,
    /// Terminals skipped between any two terminals (`%ignore`), in declaration order.
    pub ignore: Vec<TerminalId>,
    /// Set when the grammar declares `_INDENT` and `_DEDENT`.
    pub indentation: Option<IndentDecl>,
    /// Set by `%auto_semicolon`.
    pub auto_semicolon: Option<AutoSemicolonDecl>,
}

#[derive(Debug, Clone)]
pub struct TerminalDef {
    /// Unique name. Named terminals keep theirs; anonymous literals get Lark-style names
    /// (`LPAR` for `"("`, `IF` for `"if"`) or `__ANON_n`.
    pub name: String,
    /// `"if"` for literals (with the `i` suffix when case-insensitive), the name otherwise.
    pub display: String,
    /// `None` exactly when `kind` is [`TerminalKind::Declared`].
    pub pattern: Option<Pattern>,
    /// Lark priority (`NAME.2`); 0 when not given.
    pub priority: i32,
    pub kind: TerminalKind,
    /// Definition site (or first use, for anonymous literals).
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RuleDef {
    pub name: String,
    pub span: Span,
    /// Productions with this rule on the left, in source order. Never empty.
    pub productions: Vec<ProductionId>,
    /// True for rules made by lowering (groups, repetitions), false for rules in the source.
    pub generated: bool,
    /// Lark rule priority (`name.2:`), 0 when not given: a reduce/reduce conflict between
    /// productions of different priorities goes to the highest (see `lr/table.rs`).
    pub priority: i32,
}

#[derive(Debug, Clone)]
pub struct Production {
    pub lhs: RuleId,
    pub rhs: Vec<Symbol>,
    /// The source alternative this production comes from.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    Terminal(TerminalId),
    Rule(RuleId),
}

/// A terminal's pattern, with terminal references inlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// A literal string (escapes already decoded). `case_insensitive` for `"..."i`.
    Literal { value: String, case_insensitive: bool },
    /// A `/regex/flags` in Python `re` syntax as Lark passes it on; `span` covers the regex.
    Regex { source: String, flags: RegexFlags, span: Span },
    /// `"a".."z"`: one character in the inclusive range.
    Range { from: char, to: char },
    Concat(Vec<Pattern>),
    Alt(Vec<Pattern>),
    /// `min..=max` repetitions (`max: None` is unbounded).
    Repeat { inner: Box<Pattern>, min: u32, max: Option<u32> },
}

/// Flags after a `/regex/` (as Python's `re` defines them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegexFlags {
    /// `i`: case-insensitive.
    pub case_insensitive: bool,
    /// `m`: `^`/`$` match at line boundaries.
    pub multi_line: bool,
    /// `s`: `.` matches `\n`.
    pub dot_matches_new_line: bool,
    /// `x`: verbose (whitespace and `#` comments ignored).
    pub ignore_whitespace: bool,
    /// `u`: Unicode (the default for Python 3 str patterns; accepted for compatibility).
    pub unicode: bool,
}

/// Python-style indentation, declared with `%declare _INDENT _DEDENT`.
#[derive(Debug, Clone)]
pub struct IndentDecl {
    /// `_NEWLINE` if defined, else `_NL`: its text after the last `\n` is the next line's indentation.
    pub newline: TerminalId,
    pub indent: TerminalId,
    pub dedent: TerminalId,
    /// Literal terminals `(`, `[`, `{` and `)`, `]`, `}` that exist in the grammar.
    pub open_brackets: Vec<TerminalId>,
    pub close_brackets: Vec<TerminalId>,
}

/// Automatic semicolon insertion, declared with `%auto_semicolon NEWLINE -> SEMI after ...`.
#[derive(Debug, Clone)]
pub struct AutoSemicolonDecl {
    /// Its lexemes are dropped, except after a trigger, where they become `semicolon`.
    pub newline: TerminalId,
    pub semicolon: TerminalId,
    /// Terminals after which a newline (or the end of input) inserts `semicolon`; those the
    /// compiled grammar does not contain are left out.
    pub triggers: Vec<TerminalId>,
}

impl Bnf {
    /// Name of a symbol, for messages.
    pub fn symbol_name(&self, symbol: Symbol) -> &str {
        match symbol {
            Symbol::Terminal(t) => self.terminals.get(t).map_or("?", |d| d.display.as_str()),
            Symbol::Rule(r) => self.rules.get(r).map_or("?", |d| d.name.as_str()),
        }
    }
}
