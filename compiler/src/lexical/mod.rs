//! Stage 3: terminal patterns -> minimized byte-level DFAs, and the combined maximal-munch lexer.
//!
//! Pipeline per terminal: [`Pattern`] → regex-syntax HIR (`hir.rs`, which also translates Python
//! `re` syntax, turns look-around groups into marker bytes and rejects backreferences and
//! assertions) → regex-automata dense DFA read back as a *plain* automaton (`dfa.rs`; terminals
//! with look-around go through `lookaround.rs` instead) → Hopcroft minimization with
//! deterministic BFS numbering (`minimize.rs`) → [`TerminalDfa`]. The lexer (`lexer.rs`) is the product of the
//! terminal DFAs, labelled with the winning terminal per state and minimized the same way.
//!
//! **Invariants** (of every [`Dfa`] this stage returns, the lexer's included): states are typed
//! ([`DfaStateId`] for a terminal, [`LexStateId`] for the lexer) and [`DfaState::DEAD`] (state 0)
//! is the dead state (not accepting, not live, every transition to itself); every other state is
//! live and reachable from `start`; `accepting[s]` iff the bytes read from `start` to `s` are in
//! the language (no delayed match reporting); the DFA is minimal for its labelling and its
//! numbering is BFS order from `start` over bytes `0..=255`, so equal grammars give equal tables.
//! A terminal's `start` is never accepting (a terminal matching the empty string is rejected)
//! and never dead (nor is one matching no string).
//!
//! **Lexer tie-break** (the lexeme that ends at the lexer's current position is assigned to one
//! terminal): among the terminals whose language contains the exact bytes read, the winner is the
//! one with (1) the highest priority, then (2) [`TerminalKind::Literal`] before
//! [`TerminalKind::Pattern`], then between patterns (3) the longer maximum lexeme and (4) the
//! longer regex text as Lark writes it (Lark's own sort keys; see `lexer.rs`), then (5) the
//! lowest [`TerminalId`] (declaration order). Maximal
//! munch comes first and is not part of the label: a lexer stops at the *last* accepting state it
//! passes ([`LexerDfa::longest_match`]), so a longer lexeme of a low-priority terminal beats a
//! shorter lexeme of a high-priority one. Why: priority and kind are Lark's own ordering of
//! terminals; the literal-before-pattern rule makes keywords (`"if"`) win over the identifier
//! pattern that also matches them without the grammar author writing priorities; declaration
//! order is the last, always-decisive key, so the label is a total function of the grammar.
//!
//! Rejected with a located [`Diagnostic`]: nested look-around or more than 8 groups in one
//! terminal, backreferences, any assertion (`^`, `$`,
//! `\b`, `\A`, `\Z`, ...), a terminal matching the empty string or no string at all, DFAs over
//! [`LexicalOptions::dfa_state_limit`] states (`terminal NAME: DFA exceeds N states (limit set by
//! --dfa-state-limit)`), and invalid regexes. See `docs/internals-lexical.md`.

mod dfa;
mod hir;
mod lexer;
mod lookaround;
mod minimize;

use std::fmt;

use crate::diagnostics::{Diagnostic, Span};
use crate::lower::Bnf;
#[cfg(doc)]
use crate::lower::{Pattern, TerminalKind};
use syncodec_artifacts::ids::{DfaStateId, Id, IdVec, LexStateId, TerminalId};

/// The state ids of this stage's automata: [`DfaStateId`] inside one terminal's DFA (or one
/// look-around group's), [`LexStateId`] inside the combined lexer. Both keep the dead state at 0
/// ([`DfaState::DEAD`]); raw `u32`s appear only in the artifact tables (`emit.rs`).
pub trait DfaState: Id + Ord + std::hash::Hash {
    /// State 0: not accepting, not live, every transition leads back to it.
    const DEAD: Self;
    /// The state with raw number `raw` (a position in the automaton's tables).
    fn from_raw(raw: u32) -> Self;
    /// The raw number, as the artifact's tables store it.
    fn raw(self) -> u32;
    /// The raw number as a table index.
    fn as_usize(self) -> usize {
        self.raw() as usize
    }
}

macro_rules! dfa_state {
    ($($id:ident),*) => {$(
        impl DfaState for $id {
            const DEAD: Self = $id::DEAD;
            fn from_raw(raw: u32) -> Self {
                $id::from_raw(raw)
            }
            fn raw(self) -> u32 {
                $id::raw(self)
            }
        }
    )*};
}
dfa_state!(DfaStateId, LexStateId);

/// A minimized byte-level DFA over byte equivalence classes, with states of kind `S`.
///
/// State [`DfaState::DEAD`] (0) is the dead state (not accepting, not live, all transitions to
/// itself). Accepting/live are defined on the plain automaton: `accepting[s]` iff the bytes read
/// from `start` to `s` are in the language; `live[s]` iff some continuation reaches an accepting
/// state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dfa<S: DfaState> {
    pub start: S,
    pub n_classes: u32,
    pub classes: [u8; 256],
    /// Row-major: `trans[s * n_classes + classes[b]]`.
    pub trans: Vec<S>,
    pub accepting: IdVec<S, bool>,
    pub live: IdVec<S, bool>,
}

/// One terminal's DFA.
pub type TerminalDfa = Dfa<DfaStateId>;

impl<S: DfaState> Dfa<S> {
    pub fn n_states(&self) -> usize {
        self.accepting.len()
    }

    #[inline]
    pub fn next(&self, state: S, byte: u8) -> S {
        self.trans[state.as_usize() * self.n_classes as usize + self.classes[byte as usize] as usize]
    }

    /// The state reached from `state` after reading all of `bytes` (dead once it dies).
    pub fn walk(&self, state: S, bytes: &[u8]) -> S {
        let mut s = state;
        for &b in bytes {
            if s == S::DEAD {
                break;
            }
            s = self.next(s, b);
        }
        s
    }

    /// The length of the longest string in the language, `None` when it is unbounded (a cycle
    /// through live states) or the language is empty.
    pub fn max_len(&self) -> Option<usize> {
        // Depth-first over live states from `start`: a back edge means a cycle; otherwise the
        // longest path to an accepting state, memoized per state.
        let n = self.n_states();
        let k = self.n_classes as usize;
        let mut memo: Vec<Option<usize>> = vec![None; n]; // longest accepted suffix length
        let mut on_stack = vec![false; n];
        let mut stack: Vec<(S, usize)> = Vec::new(); // (state, next class to visit)
        if !self.live.get(self.start).copied().unwrap_or(false) {
            return None;
        }
        stack.push((self.start, 0));
        on_stack[self.start.as_usize()] = true;
        while let Some(&mut (s, ref mut c)) = stack.last_mut() {
            if *c < k {
                let t = self.trans[s.as_usize() * k + *c];
                *c += 1;
                if !self.live[t] {
                    continue;
                }
                if on_stack[t.as_usize()] {
                    return None;
                }
                if memo[t.as_usize()].is_none() {
                    on_stack[t.as_usize()] = true;
                    stack.push((t, 0));
                }
                continue;
            }
            stack.pop();
            on_stack[s.as_usize()] = false;
            let best = (0..k)
                .map(|c| self.trans[s.as_usize() * k + c])
                .filter(|&t| self.live[t])
                .filter_map(|t| memo[t.as_usize()].map(|m| m + 1))
                .max();
            let own = if self.accepting[s] { Some(0) } else { None };
            memo[s.as_usize()] = best.max(own);
        }
        memo[self.start.as_usize()]
    }

    /// Whether the whole of `bytes` is in the terminal's language.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.accepting[self.walk(self.start, bytes)]
    }

    /// Whether `bytes` is a prefix of some string in the language.
    pub fn is_live_prefix(&self, bytes: &[u8]) -> bool {
        self.live[self.walk(self.start, bytes)]
    }

    /// A shortest string leading from `state` to an accepting state (breadth-first over the
    /// byte classes, smallest byte of each class first), or `None` when `state` is not live.
    pub fn shortest_extension(&self, state: S) -> Option<Vec<u8>> {
        let n_classes = self.n_classes as usize;
        let mut representative = vec![0u8; n_classes];
        for b in (0..=255u8).rev() {
            representative[self.classes[b as usize] as usize] = b;
        }
        let mut prev: Vec<Option<(S, u8)>> = vec![None; self.n_states()];
        let mut seen = vec![false; self.n_states()];
        *seen.get_mut(state.as_usize())? = true;
        let mut queue = std::collections::VecDeque::from([state]);
        while let Some(q) = queue.pop_front() {
            if self.accepting[q] {
                let mut path = Vec::new();
                let mut q = q;
                while let Some((p, b)) = prev[q.as_usize()] {
                    path.push(b);
                    q = p;
                }
                path.reverse();
                return Some(path);
            }
            for &b in &representative {
                let t = self.next(q, b);
                if !seen[t.as_usize()] {
                    seen[t.as_usize()] = true;
                    prev[t.as_usize()] = Some((q, b));
                    queue.push_back(t);
                }
            }
        }
        None
    }
}

/// The combined lexer: one DFA over all terminals with a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexerDfa {
    pub dfa: Dfa<LexStateId>,
    /// Per state: the winning terminal when a lexeme ends here (priority, then literal before
    /// pattern, then declaration order), or `None`.
    pub accept: IdVec<LexStateId, Option<TerminalId>>,
}

/// Output of the lexical stage.
#[derive(Debug, Clone)]
pub struct Lexical {
    /// `None` exactly for declared terminals.
    pub terminals: IdVec<TerminalId, Option<TerminalDfa>>,
    pub lexer: LexerDfa,
    /// Pairs of pattern terminals where one wins a lexeme both match (see [`Shadowing`]).
    pub shadowed: Vec<Shadowing>,
    /// Per terminal id: its position in the tie-break order (0 wins over all others), as the
    /// lexer labels use it; `u32::MAX` for declared terminals.
    pub rank: Vec<u32>,
}

/// Two pattern terminals match the same lexeme and the tie-break gives it to `winner`: `loser`
/// never gets such a lexeme, whatever the parser expects. (Lark's contextual lexer would give it
/// to `loser` where the parser takes `loser` but not `winner`.) The first pair per `(winner,
/// loser)`, with a shortest such lexeme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowing {
    pub winner: TerminalId,
    pub loser: TerminalId,
    pub example: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct LexicalOptions {
    /// Largest DFA (states) allowed for one terminal and for the combined lexer.
    pub dfa_state_limit: usize,
}

impl Default for LexicalOptions {
    fn default() -> Self {
        LexicalOptions { dfa_state_limit: 10_000 }
    }
}

/// Builds every terminal's DFA and the combined lexer. Errors are located diagnostics.
///
/// Every terminal is tried, so all broken terminals are reported at once; the lexer is built
/// only when all terminals succeeded.
pub fn build(bnf: &Bnf, options: &LexicalOptions) -> Result<Lexical, Vec<Diagnostic>> {
    let mut terminals = IdVec::new();
    let mut errors = Vec::new();
    for (_, def) in bnf.terminals.iter() {
        let dfa = match &def.pattern {
            None => None,
            Some(pattern) => match build_terminal(&def.name, def.span, pattern, options.dfa_state_limit) {
                Ok(dfa) => Some(dfa),
                Err(e) => {
                    errors.push(e.to_diagnostic());
                    None
                }
            },
        };
        if terminals.push(dfa).is_err() {
            return Err(vec![Diagnostic::unlocated("too many terminals")]);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let members = lexer::members(bnf, &terminals);
    let rank = lexer::rank_positions(&members, bnf.terminals.len());
    match lexer::build_lexer(&members, options.dfa_state_limit) {
        Ok((lexer, shadowed)) => Ok(Lexical { terminals, lexer, shadowed, rank }),
        Err(e) => Err(vec![e.to_diagnostic()]),
    }
}

/// One terminal: pattern → HIR → minimized DFA, with the empty-string and empty-language checks.
fn build_terminal(
    name: &str,
    span: Span,
    pattern: &crate::lower::Pattern,
    limit: usize,
) -> Result<TerminalDfa, LexicalError> {
    let ctx = TermCtx { name, span };
    let mut looks = Vec::new();
    let hir = hir::pattern_to_hir(pattern, &ctx, &mut looks)?;
    let dfa = dfa::terminal_dfa(&hir, &looks, &ctx, limit)?;
    if dfa.accepting[dfa.start] {
        return Err(LexicalError::new(ErrorKind::EmptyMatch, name, Some(span)).with_help(
            "a terminal must consume at least one byte: change a `*` to `+`, or drop the `?`, \
             and make the terminal optional in the rules that use it instead",
        ));
    }
    if dfa.start == DfaStateId::DEAD {
        return Err(LexicalError::new(ErrorKind::EmptyLanguage, name, Some(span)));
    }
    Ok(dfa)
}

/// The terminal being compiled, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TermCtx<'a> {
    pub name: &'a str,
    /// The terminal's definition site.
    pub span: Span,
}

/// An error of the lexical stage: opaque, with a predicate per interesting kind; becomes a
/// [`Diagnostic`] via [`LexicalError::to_diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexicalError(Box<ErrorInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorInner {
    kind: ErrorKind,
    /// Terminal name, or `None` for the combined lexer.
    terminal: Option<String>,
    span: Option<Span>,
    /// The terminal's definition, when `span` points elsewhere (inside an inlined regex).
    definition: Option<Span>,
    help: Option<String>,
    notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    /// regex-syntax rejected the regex; the text is its description of the problem.
    InvalidRegex(String),
    /// A look-around form the stage cannot compile; the text says which.
    LookAround(String),
    Backreference,
    /// An assertion such as `^` or `\b`; the text is the assertion as written.
    Assertion(String),
    /// `"b".."a"` or `x ~ 3..2`.
    EmptyRange(String),
    EmptyMatch,
    EmptyLanguage,
    LimitExceeded {
        limit: usize,
    },
    /// regex-automata failed for a reason other than a size limit.
    Internal(String),
}

impl LexicalError {
    fn new(kind: ErrorKind, terminal: &str, span: Option<Span>) -> LexicalError {
        LexicalError(Box::new(ErrorInner {
            kind,
            terminal: Some(terminal.to_string()),
            span,
            definition: None,
            help: None,
            notes: Vec::new(),
        }))
    }

    fn lexer(kind: ErrorKind) -> LexicalError {
        LexicalError(Box::new(ErrorInner {
            kind,
            terminal: None,
            span: None,
            definition: None,
            help: None,
            notes: Vec::new(),
        }))
    }

    fn with_help(mut self, help: impl Into<String>) -> LexicalError {
        self.0.help = Some(help.into());
        self
    }

    fn with_note(mut self, note: impl Into<String>) -> LexicalError {
        self.0.notes.push(note.into());
        self
    }

    /// A DFA (a terminal's or the lexer's) exceeded [`LexicalOptions::dfa_state_limit`].
    pub fn is_limit_exceeded(&self) -> bool {
        matches!(self.0.kind, ErrorKind::LimitExceeded { .. })
    }

    /// A terminal matches the empty string.
    pub fn is_empty_match(&self) -> bool {
        self.0.kind == ErrorKind::EmptyMatch
    }

    /// Look-around, a backreference or an assertion in a terminal's regex.
    pub fn is_unsupported_regex(&self) -> bool {
        matches!(self.0.kind, ErrorKind::LookAround(_) | ErrorKind::Backreference | ErrorKind::Assertion(_))
    }

    pub fn span(&self) -> Option<Span> {
        self.0.span
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut d = match self.0.span {
            Some(span) => Diagnostic::error(self.to_string(), span),
            None => Diagnostic::unlocated(self.to_string()),
        };
        if let (Some(def), Some(span)) = (self.0.definition, self.0.span) {
            if def != span {
                let name = self.0.terminal.as_deref().unwrap_or("?");
                d = d.with_label(def, format!("in terminal {name}"));
            }
        }
        for note in &self.0.notes {
            d = d.with_note(note.clone());
        }
        match (&self.0.help, &self.0.kind) {
            (Some(help), _) => d = d.with_help(help.clone()),
            (None, ErrorKind::InvalidRegex(_)) => {
                d = d.with_help("terminal regexes use Python `re` syntax as Lark grammars do (escape `/` as `\\/`); see docs/grammar-language.md for what is supported")
            }
            (None, _) => {}
        }
        d
    }
}

impl fmt::Display for LexicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.0.terminal {
            Some(name) => format!("terminal {name}"),
            None => "lexer".to_string(),
        };
        match &self.0.kind {
            ErrorKind::InvalidRegex(what) => write!(f, "{who}: invalid regex: {what}"),
            ErrorKind::LookAround(what) => write!(f, "{who}: {what}"),
            ErrorKind::Backreference => write!(f, "{who}: backreferences are not supported in terminals"),
            ErrorKind::Assertion(what) => {
                write!(f, "{who}: assertion `{what}` is not supported in terminals")
            }
            ErrorKind::EmptyRange(what) => write!(f, "{who}: empty range {what}"),
            ErrorKind::EmptyMatch => write!(f, "{who} matches the empty string"),
            ErrorKind::EmptyLanguage => write!(f, "{who} matches no string"),
            ErrorKind::LimitExceeded { limit } => {
                write!(f, "{who}: DFA exceeds {limit} states (limit set by --dfa-state-limit)")
            }
            ErrorKind::Internal(what) => write!(f, "{who}: cannot build the DFA: {what}"),
        }
    }
}

impl std::error::Error for LexicalError {}

#[cfg(test)]
pub(crate) mod test_util {
    //! Hand-built [`Bnf`] values and patterns (the front end is developed separately).
    use super::*;
    use crate::diagnostics::FileId;
    use crate::lower::{Pattern, RegexFlags, TerminalDef, TerminalKind};
    use syncodec_artifacts::ids::RuleId;

    pub fn re(source: &str) -> Pattern {
        re_flags(source, RegexFlags::default())
    }

    /// A regex whose span starts at offset 100 and covers `/source/`.
    pub fn re_flags(source: &str, flags: RegexFlags) -> Pattern {
        Pattern::Regex { source: source.to_string(), flags, span: Span::new(FileId(0), 100, 100 + source.len() + 2) }
    }

    pub fn lit(value: &str) -> Pattern {
        Pattern::Literal { value: value.to_string(), case_insensitive: false }
    }

    pub fn lit_i(value: &str) -> Pattern {
        Pattern::Literal { value: value.to_string(), case_insensitive: true }
    }

    pub fn bnf(terms: Vec<(&str, Option<Pattern>, i32, TerminalKind)>) -> Bnf {
        let mut terminals = IdVec::new();
        for (i, (name, pattern, priority, kind)) in terms.into_iter().enumerate() {
            terminals
                .push(TerminalDef {
                    name: name.to_string(),
                    display: name.to_string(),
                    pattern,
                    priority,
                    kind,
                    span: Span::new(FileId(0), i * 10, i * 10 + 5),
                })
                .unwrap();
        }
        Bnf {
            name: "test".to_string(),
            terminals,
            rules: IdVec::new(),
            productions: IdVec::new(),
            start: RuleId::must(0),
            ignore: Vec::new(),
            indentation: None,
            auto_semicolon: None,
        }
    }

    /// One terminal's DFA with the default options.
    pub fn term(pattern: Pattern) -> Result<TerminalDfa, LexicalError> {
        build_terminal("T", Span::new(FileId(0), 0, 5), &pattern, LexicalOptions::default().dfa_state_limit)
    }

    pub fn term_limit(pattern: Pattern, limit: usize) -> Result<TerminalDfa, LexicalError> {
        build_terminal("T", Span::new(FileId(0), 0, 5), &pattern, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::lower::{Pattern, TerminalKind};

    #[test]
    fn build_reports_every_broken_terminal_and_skips_declared() {
        let g = bnf(vec![
            ("A", Some(re("a*")), 0, TerminalKind::Pattern),
            ("_INDENT", None, 0, TerminalKind::Declared),
            ("B", Some(re("(x)\\1")), 0, TerminalKind::Pattern),
        ]);
        let errs = build(&g, &LexicalOptions::default()).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].message, "terminal A matches the empty string");
        assert!(errs[0].help.as_deref().unwrap().contains("`*` to `+`"));
        assert!(errs[1].message.contains("backreferences are not supported in terminals"), "{}", errs[1].message);

        let g = bnf(vec![
            ("NAME", Some(re("[a-z]+")), 0, TerminalKind::Pattern),
            ("_INDENT", None, 0, TerminalKind::Declared),
            ("IF", Some(lit("if")), 0, TerminalKind::Literal),
        ]);
        let lex = build(&g, &LexicalOptions::default()).unwrap();
        assert!(lex.terminals[TerminalId::must(1)].is_none());
        assert!(lex.terminals[TerminalId::must(0)].as_ref().unwrap().matches(b"abc"));
        assert_eq!(lex.lexer.longest_match(b"if", 0), Some((TerminalId::must(2), 2)));
        assert_eq!(lex.lexer.longest_match(b"iff", 0), Some((TerminalId::must(0), 3)));
    }

    #[test]
    fn empty_language_is_an_error() {
        let e = term(re("[^\\s\\S]")).unwrap_err();
        assert_eq!(e.to_string(), "terminal T matches no string");
        let e = term(Pattern::Alt(vec![])).unwrap_err();
        assert_eq!(e.to_string(), "terminal T matches no string");
    }

    #[test]
    fn state_limit_error_names_the_terminal() {
        let e = term_limit(re("[a-z]{20}"), 10).unwrap_err();
        assert!(e.is_limit_exceeded());
        assert_eq!(e.to_string(), "terminal T: DFA exceeds 10 states (limit set by --dfa-state-limit)");
        let d = e.to_diagnostic();
        assert_eq!(d.span, Some(Span::new(crate::diagnostics::FileId(0), 0, 5)));
        // regex-automata's own size limits map to the same error.
        let e = term_limit(re("\\w{200}"), 10).unwrap_err();
        assert!(e.is_limit_exceeded(), "{e}");
        let e = term_limit(re("[a-z]{20}"), 22).unwrap();
        assert_eq!(e.n_states(), 22);
    }

    #[test]
    fn lexer_state_limit() {
        let g = bnf(vec![
            ("A", Some(re("[a-z]{5}")), 0, TerminalKind::Pattern),
            ("B", Some(re("[a-m]{3}x")), 0, TerminalKind::Pattern),
        ]);
        let errs = build(&g, &LexicalOptions { dfa_state_limit: 8 }).unwrap_err();
        assert_eq!(errs[0].message, "lexer: DFA exceeds 8 states (limit set by --dfa-state-limit)");
        assert!(errs[0].span.is_none());
    }
}
