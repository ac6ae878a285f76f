//! The LR driver over the artifact's ACTION/GOTO tables, and whole-text parsing with
//! positioned diagnostics.
//!
//! [`Parser`] owns an LR state stack (bottom: `lr.start_state`). [`Parser::feed`] runs the
//! reductions a terminal triggers and then shifts it; `Reduce(p)` pops `rhs.len()` states and
//! pushes `goto(top, lhs)`. [`Parser::finish`] does the same on the End column (the last one)
//! and succeeds when it reaches `Accept`, which the artifact contract places on the End column of
//! `goto(start_state, start rule)`. Both are transactional: the reductions run on a scratch copy
//! of the top of the stack and are committed only when the terminal is shifted, so a rejected
//! terminal leaves the parser exactly as it was (what per-token masking needs).
//! The stack is persistent (`stack::SharedStack`): cloning a parser costs O(1) and clones share
//! the states below the point where they part, so a session's rollback checkpoints, hypotheses
//! and mask queries hold O(depth + states pushed since) in all, not O(clones × depth).
//! [`Parser::acceptable_terminals`] lists the columns of the top state with a non-error action;
//! with `lr1` tables (no default reductions) that is exactly the set of terminals that may come
//! next.
//!
//! [`parse`] chains [`Lexer`] → [`Indenter`] (when the grammar has indentation) or
//! [`SemicolonInserter`] (when it has `%auto_semicolon`; lowering allows only one) → [`Parser`] and
//! reports the first problem as a [`ParseError`] with a byte offset, a 1-based line and a 1-based
//! column counted in characters.
//!
//! **Invariant:** no panic and no unbounded loop for any artifact or text. Every table read is a
//! `get()`; a miss, a missing goto, `Accept` on a terminal column, a reduction that would pop the
//! start state, or a run of non-shrinking reductions longer than any valid table produces
//! (`(depth + 1) * (n_rules + 1) + n_states`) is a [`FeedError::Corrupt`], never a crash or a hang.

use std::fmt;

use syncodec_artifacts::ids::{ArchivedId, LrStateId, TerminalId};
use syncodec_artifacts::schema::{Action, ArchivedCompiledGrammar, ArchivedTerminalKind, NONE};

use crate::indent::{IndentError, Indenter};
use crate::lexer::{Lexeme, Lexer};
use crate::semicolon::SemicolonInserter;
use crate::stack::SharedStack;

/// Why the parser refused a terminal or the end of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The terminal (or the end of input) cannot come next. The parser is unchanged.
    #[error("not acceptable in this state")]
    Unexpected,
    /// The tables contradict themselves (an artifact that passed validation but is still wrong).
    #[error("the artifact's LR table is inconsistent: {0}")]
    Corrupt(&'static str),
}

enum Outcome {
    Shift(LrStateId),
    Accept,
}

/// An LR parser over one grammar's tables. Cloning costs O(1): the state stack is shared (see
/// the module docs), and a feed costs O(states popped and pushed), whatever the depth.
#[derive(Clone)]
pub struct Parser<'g> {
    grammar: &'g ArchivedCompiledGrammar,
    /// Never empty: the bottom is the start state.
    stack: SharedStack<LrStateId>,
    /// The states a feed's reductions push, before they are committed (kept for its allocation).
    scratch: Vec<LrStateId>,
}

impl<'g> Parser<'g> {
    pub fn new(grammar: &'g ArchivedCompiledGrammar) -> Parser<'g> {
        let mut stack = SharedStack::new();
        stack.push(LrStateId::from_raw(grammar.lr.start_state.to_native()));
        Parser { grammar, stack, scratch: Vec::new() }
    }

    pub fn grammar(&self) -> &'g ArchivedCompiledGrammar {
        self.grammar
    }

    /// A copy of the state stack, bottom (the start state) first. O(depth): for diagnostics and
    /// tests; [`Parser::state`] and [`Parser::depth`] are O(1).
    pub fn stack(&self) -> Vec<LrStateId> {
        let mut states: Vec<LrStateId> = self.stack.iter().copied().collect();
        states.reverse();
        states
    }

    /// Number of states on the stack (1 at the start).
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Adds the addresses of the stack's nodes to `seen`; returns how many were new (memory
    /// tests count the states many parsers hold together).
    #[cfg(test)]
    pub(crate) fn count_new_stack_nodes(&self, seen: &mut std::collections::HashSet<usize>) -> usize {
        self.stack.count_new_nodes(seen)
    }

    /// The state on top of the stack.
    pub fn state(&self) -> LrStateId {
        self.stack.peek().copied().unwrap_or(LrStateId::from_raw(self.grammar.lr.start_state.to_native()))
    }

    /// Back to the start state.
    pub fn reset(&mut self) {
        self.stack = SharedStack::new();
        self.stack.push(LrStateId::from_raw(self.grammar.lr.start_state.to_native()));
    }

    fn n_terminals(&self) -> usize {
        self.grammar.terminals.len()
    }

    /// The End column.
    fn end_column(&self) -> usize {
        self.n_terminals()
    }

    #[inline]
    fn action(&self, state: LrStateId, column: usize) -> Result<Action, FeedError> {
        let lr = &self.grammar.lr;
        let n_columns = lr.n_columns.to_native() as usize;
        if column >= n_columns {
            return Err(FeedError::Corrupt("column out of range"));
        }
        let at = state.as_usize().wrapping_mul(n_columns).wrapping_add(column);
        lr.action.get(at).map(|a| Action::decode(a.to_native())).ok_or(FeedError::Corrupt("state out of range"))
    }

    fn goto(&self, state: LrStateId, rule: usize) -> Result<LrStateId, FeedError> {
        let n_rules = self.grammar.rule_names.len();
        if rule >= n_rules {
            return Err(FeedError::Corrupt("rule out of range"));
        }
        let at = state.as_usize().wrapping_mul(n_rules).wrapping_add(rule);
        match self.grammar.lr.goto.get(at).map(|g| g.to_native()) {
            Some(NONE) => Err(FeedError::Corrupt("missing goto after a reduction")),
            Some(target) => Ok(LrStateId::from_raw(target)),
            None => Err(FeedError::Corrupt("state out of range")),
        }
    }

    /// Runs the reductions `column` triggers without touching `self.stack`: the virtual stack
    /// is the bottom `keep` states of the stack (`base`) followed by `scratch`. Returns `keep`
    /// and the final action.
    fn run(&self, column: usize, scratch: &mut Vec<LrStateId>) -> Result<(usize, Outcome), FeedError> {
        let grammar = self.grammar;
        let end = self.end_column();
        let mut base = &self.stack;
        let mut keep = base.len();
        scratch.clear();
        let mut budget = keep
            .saturating_add(1)
            .saturating_mul(grammar.rule_names.len().saturating_add(1))
            .saturating_add(grammar.lr.n_states.to_native() as usize);
        loop {
            let top = match scratch.last() {
                Some(&s) => s,
                None => *base.peek().ok_or(FeedError::Corrupt("empty stack"))?,
            };
            match self.action(top, column)? {
                Action::Error => return Err(FeedError::Unexpected),
                Action::Shift(_) if column == end => return Err(FeedError::Corrupt("shift on the end of input")),
                Action::Shift(target) => return Ok((keep, Outcome::Shift(LrStateId::from_raw(target)))),
                Action::Accept if column == end => return Ok((keep, Outcome::Accept)),
                Action::Accept => return Err(FeedError::Corrupt("accept on a terminal column")),
                Action::Reduce(p) => {
                    let production = grammar.productions.get(p as usize).ok_or(FeedError::Corrupt("production out of range"))?;
                    let n = production.rhs.len();
                    if n <= 1 {
                        budget = budget.checked_sub(1).ok_or(FeedError::Corrupt("reductions do not terminate"))?;
                    }
                    if n >= keep + scratch.len() {
                        return Err(FeedError::Corrupt("a reduction pops the start state"));
                    }
                    let from_scratch = n.min(scratch.len());
                    scratch.truncate(scratch.len() - from_scratch);
                    for _ in from_scratch..n {
                        base = base.below().ok_or(FeedError::Corrupt("empty stack"))?;
                    }
                    keep = base.len();
                    let top = match scratch.last() {
                        Some(&s) => s,
                        None => *base.peek().ok_or(FeedError::Corrupt("empty stack"))?,
                    };
                    scratch.push(self.goto(top, production.lhs.raw() as usize)?);
                }
            }
        }
    }

    /// Reduces as `terminal` requires, then shifts it. On error nothing changes.
    pub fn feed(&mut self, terminal: TerminalId) -> Result<(), FeedError> {
        if terminal.as_usize() >= self.n_terminals() {
            return Err(FeedError::Unexpected);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.run(terminal.as_usize(), &mut scratch);
        let out = match result {
            Ok((keep, Outcome::Shift(target))) => {
                // Pops free the nodes no clone holds; pushes allocate one node each.
                while self.stack.len() > keep {
                    self.stack.pop();
                }
                for &state in &scratch {
                    self.stack.push(state);
                }
                self.stack.push(target);
                Ok(())
            }
            Ok((_, Outcome::Accept)) => Err(FeedError::Corrupt("accept on a terminal column")),
            Err(e) => Err(e),
        };
        self.scratch = scratch;
        out
    }

    /// Whether [`Parser::feed`] would accept `terminal` (exact even for `lalr` tables, whose
    /// rows may hold reductions that fail later).
    pub fn can_feed(&self, terminal: TerminalId) -> bool {
        terminal.as_usize() < self.n_terminals() && matches!(self.run(terminal.as_usize(), &mut Vec::new()), Ok((_, Outcome::Shift(_))))
    }

    /// Checks that the input may end here (the End column leads to `Accept`). Does not change
    /// the parser, so it can be asked at every step.
    pub fn finish(&self) -> Result<(), FeedError> {
        match self.run(self.end_column(), &mut Vec::new())? {
            (_, Outcome::Accept) => Ok(()),
            (_, Outcome::Shift(_)) => Err(FeedError::Corrupt("shift on the end of input")),
        }
    }

    /// Whether the text fed so far is a complete program.
    pub fn is_complete(&self) -> bool {
        self.finish().is_ok()
    }

    /// Terminals with a non-error action in the top state, in id order (End excluded, see
    /// [`Parser::end_acceptable`]).
    pub fn acceptable_terminals(&self) -> impl Iterator<Item = TerminalId> + '_ {
        let top = self.state();
        (0..self.n_terminals())
            .filter(move |&column| matches!(self.action(top, column), Ok(a) if a != Action::Error))
            .map(|column| TerminalId::from_raw(column as u32))
    }

    /// Whether the End column of the top state has a non-error action.
    pub fn end_acceptable(&self) -> bool {
        matches!(self.action(self.state(), self.end_column()), Ok(a) if a != Action::Error)
    }
}

impl fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser").field("grammar", &self.grammar.name.as_str()).field("stack", &self.stack).finish()
    }
}

/// What went wrong; see [`ParseError::message`] for the wording.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A lexeme the parser cannot accept. `found` is its terminal's display string, followed
    /// by its text in quotes unless it is a literal or zero-width.
    Unexpected { found: String, expected: Vec<String> },
    /// The input ended too early.
    UnexpectedEnd { expected: Vec<String> },
    /// No terminal matches the text at the offset; `snippet` is the escaped text there.
    NoTerminal { snippet: String },
    /// Inconsistent indentation.
    Indentation(IndentError),
    /// The artifact's tables are inconsistent.
    Corrupt(&'static str),
}

/// The first syntax error in a text, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    offset: usize,
    line: usize,
    column: usize,
    kind: ParseErrorKind,
}

/// How many expected terminals a message lists before "and N more".
const EXPECTED_SHOWN: usize = 12;

const END_OF_INPUT: &str = "end of input";

impl ParseError {
    fn new(text: &[u8], offset: usize, kind: ParseErrorKind) -> ParseError {
        let (line, column) = line_column(text, offset);
        ParseError { offset, line, column, kind }
    }

    /// Byte offset into the text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The expected terminals' display strings (sorted, deduplicated, `end of input` last when
    /// the input could end there); empty for lexing, indentation and table errors.
    pub fn expected(&self) -> &[String] {
        match &self.kind {
            ParseErrorKind::Unexpected { expected, .. } | ParseErrorKind::UnexpectedEnd { expected } => expected,
            _ => &[],
        }
    }

    pub fn is_unexpected_end(&self) -> bool {
        matches!(self.kind, ParseErrorKind::UnexpectedEnd { .. })
    }

    pub fn is_lex_error(&self) -> bool {
        matches!(self.kind, ParseErrorKind::NoTerminal { .. })
    }

    pub fn is_indentation_error(&self) -> bool {
        matches!(self.kind, ParseErrorKind::Indentation(_))
    }

    /// The message without the position, e.g.
    /// `unexpected NAME "foo", expected one of: ")", ",", NAME`.
    pub fn message(&self) -> String {
        match &self.kind {
            ParseErrorKind::Unexpected { found, expected } if expected.is_empty() => format!("unexpected {found}"),
            ParseErrorKind::Unexpected { found, expected } => format!("unexpected {found}, expected one of: {}", expected_list(expected)),
            ParseErrorKind::UnexpectedEnd { expected } if expected.is_empty() => "unexpected end of input".to_string(),
            ParseErrorKind::UnexpectedEnd { expected } => format!("unexpected end of input, expected one of: {}", expected_list(expected)),
            ParseErrorKind::NoTerminal { snippet } => format!("no terminal matches the text at \"{snippet}\""),
            ParseErrorKind::Indentation(e) => e.to_string(),
            ParseErrorKind::Corrupt(what) => FeedError::Corrupt(what).to_string(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message())
    }
}

impl std::error::Error for ParseError {}

/// 1-based line and 1-based column in characters of byte `offset` (clamped to the text).
/// Lines end at `\n`; a column counts UTF-8 characters (each byte of an invalid sequence that is
/// not a continuation byte counts as one).
pub fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
    (line, column)
}

fn expected_list(expected: &[String]) -> String {
    let shown = expected.iter().take(EXPECTED_SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    match expected.len().checked_sub(EXPECTED_SHOWN) {
        Some(more) if more > 0 => format!("{shown}, and {more} more"),
        _ => shown,
    }
}

/// Up to `max` characters of `bytes`, escaped for a double-quoted string, with `…` when cut.
fn escape(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        out.extend(c.escape_debug());
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

fn display(grammar: &ArchivedCompiledGrammar, terminal: TerminalId) -> String {
    match grammar.terminals.get(terminal.as_usize()) {
        Some(t) => t.display.as_str().to_string(),
        None => format!("terminal {terminal}"),
    }
}

/// What the parser could accept now: display strings sorted and deduplicated, then
/// `end of input` when the End column has an action.
fn expected(parser: &Parser<'_>) -> Vec<String> {
    let grammar = parser.grammar();
    let mut out: Vec<String> = parser.acceptable_terminals().map(|t| display(grammar, t)).collect();
    out.sort();
    out.dedup();
    if parser.end_acceptable() {
        out.push(END_OF_INPUT.to_string());
    }
    out
}

fn describe(grammar: &ArchivedCompiledGrammar, lexeme: Lexeme, text: &[u8]) -> String {
    let name = display(grammar, lexeme.terminal);
    let literal = grammar.terminals.get(lexeme.terminal.as_usize()).is_some_and(|t| t.kind == ArchivedTerminalKind::Literal);
    match text.get(lexeme.start..lexeme.end) {
        Some(bytes) if !bytes.is_empty() && !literal => format!("{name} \"{}\"", escape(bytes, 40)),
        _ => name,
    }
}

fn feed_error(parser: &Parser<'_>, lexeme: Lexeme, text: &[u8], error: FeedError, at_end: bool) -> ParseError {
    let kind = match error {
        FeedError::Corrupt(what) => ParseErrorKind::Corrupt(what),
        FeedError::Unexpected if at_end => ParseErrorKind::UnexpectedEnd { expected: expected(parser) },
        FeedError::Unexpected => ParseErrorKind::Unexpected { found: describe(parser.grammar(), lexeme, text), expected: expected(parser) },
    };
    ParseError::new(text, lexeme.start, kind)
}

/// The non-ignored terminals a lexeme starting at `at` may be, given the parser and the layout
/// stage (indentation or semicolon insertion) in front of it: `set(t, true)` adds `t`,
/// `set(t, false)` removes it. The caller adds the ignored terminals. With indentation, the
/// pending indentation is applied first (as it will be before that lexeme), a newline counts
/// when the parser takes one or brackets are open (where it is dropped); with semicolon
/// insertion a newline counts when it is dropped or becomes an acceptable semicolon.
pub(crate) fn layout_lookahead(
    parser: &Parser<'_>,
    indenter: Option<&Indenter>,
    semicolons: Option<&SemicolonInserter>,
    text: &[u8],
    at: usize,
    set: &mut dyn FnMut(TerminalId, bool),
) {
    match (indenter, semicolons) {
        (Some(ind), _) => {
            let newline = ind.newline();
            let (mut f, mut g) = (parser.clone(), ind.clone());
            let mut queue = Vec::new();
            if g.prepare(text, at, &mut queue).is_ok() && queue.iter().all(|l| f.feed(l.terminal).is_ok()) {
                f.acceptable_terminals().for_each(|t| set(t, true));
            }
            set(newline, ind.bracket_depth() > 0 || parser.can_feed(newline));
        }
        (None, Some(semi)) => {
            parser.acceptable_terminals().for_each(|t| set(t, true));
            if !semi.semicolon_pending() || parser.can_feed(semi.semicolon()) {
                set(semi.newline(), true);
            }
        }
        (None, None) => parser.acceptable_terminals().for_each(|t| set(t, true)),
    }
}

/// Lexes, indents (when the grammar has indentation) or inserts semicolons (with
/// `%auto_semicolon`) and parses `text`; `Ok` when it is a
/// complete program. The error is the first problem found, with its position. A grammar built
/// with the contextual lexer lexes each lexeme among the terminals the parser can take there
/// ([`layout_lookahead`] plus the ignored terminals).
pub fn parse(grammar: &ArchivedCompiledGrammar, text: &[u8]) -> Result<(), ParseError> {
    let lexer = Lexer::new(grammar);
    let mut parser = Parser::new(grammar);
    let mut indenter = grammar.indentation.as_ref().map(Indenter::new);
    let mut semicolons = grammar.auto_semicolon.as_ref().map(SemicolonInserter::new);
    let mut queue: Vec<Lexeme> = Vec::new();
    let n_terminals = grammar.terminals.len();
    let mut pos = 0;
    loop {
        let next = if lexer.is_contextual() {
            let mut allowed: Vec<bool> = (0..n_terminals as u32).map(|t| lexer.is_ignored(TerminalId::from_raw(t))).collect();
            layout_lookahead(&parser, indenter.as_ref(), semicolons.as_ref(), text, pos, &mut |t, on| {
                if let Some(slot) = allowed.get_mut(t.as_usize()) {
                    *slot = on;
                }
            });
            lexer.next_lexeme_among(text, pos, &|t| allowed.get(t.as_usize()).copied().unwrap_or(false))
        } else {
            lexer.next_lexeme(text, pos)
        };
        let lexeme = match next {
            Ok(None) => break,
            Ok(Some(lexeme)) => lexeme,
            Err(e) => {
                let snippet = escape(text.get(e.offset..).unwrap_or(&[]), 16);
                return Err(ParseError::new(text, e.offset, ParseErrorKind::NoTerminal { snippet }));
            }
        };
        pos = lexeme.end;
        if lexer.is_ignored(lexeme.terminal) {
            continue;
        }
        match (indenter.as_mut(), semicolons.as_mut()) {
            (Some(indenter), _) => indenter.push(lexeme, text, &mut queue).map_err(|e| ParseError::new(text, e.offset, ParseErrorKind::Indentation(e)))?,
            (None, Some(semicolons)) => semicolons.push(lexeme, &mut queue),
            (None, None) => queue.push(lexeme),
        }
        for lexeme in queue.drain(..) {
            parser.feed(lexeme.terminal).map_err(|e| feed_error(&parser, lexeme, text, e, false))?;
        }
    }
    if let Some(indenter) = indenter.as_mut() {
        indenter.finish(text.len(), &mut queue);
    } else if let Some(semicolons) = semicolons.as_mut() {
        semicolons.finish(text.len(), &mut queue);
    }
    {
        for lexeme in queue.drain(..) {
            parser.feed(lexeme.terminal).map_err(|e| feed_error(&parser, lexeme, text, e, true))?;
        }
    }
    let end = Lexeme { terminal: TerminalId::from_raw(NONE), start: text.len(), end: text.len() };
    parser.finish().map_err(|e| feed_error(&parser, end, text, e, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Artifact;
    use crate::testing::{self, t};
    use syncodec_artifacts::ids::RuleId;
    use syncodec_artifacts::schema::{Action, Production};

    fn check(artifact: &Artifact, text: &str) -> Result<(), String> {
        parse(artifact.grammar(), text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_valid_programs() {
        let assign = testing::assign();
        assert_eq!(check(&assign, "x = 1\n(y) = (1, z, (...))\n"), Ok(()));
        let blocks = testing::blocks();
        assert_eq!(check(&blocks, "if a:\n  x = 1\n  if b:\n    y\nz\n"), Ok(()));
        assert_eq!(check(&blocks, "if a:\n  if b:\n    y"), Ok(()));
        assert_eq!(check(&blocks, "x = (1,\n   2)\r\ny = 3\r\n"), Ok(()));
        assert_eq!(check(&blocks, "x\n\n   \n"), Ok(()));
    }

    #[test]
    fn unexpected_lexeme_names_it_and_lists_the_expected() {
        let assign = testing::assign();
        assert_eq!(check(&assign, "x = 1\ny 2\n"), Err("2:3: unexpected NUMBER \"2\", expected one of: \"=\"".into()));
        assert_eq!(check(&assign, "x = \n"), Err("1:5: unexpected _NL \"\\n\", expected one of: \"(\", \"...\", NAME, NUMBER".into()));
        assert_eq!(check(&assign, "x = (1 2)\n"), Err("1:8: unexpected NUMBER \"2\", expected one of: \")\", \",\"".into()));
        assert_eq!(check(&assign, "x = 1 =\n"), Err("1:7: unexpected \"=\", expected one of: _NL".into()));
        let err = parse(assign.grammar(), b"x = 1\n=").unwrap_err();
        assert_eq!((err.offset(), err.line(), err.column()), (6, 2, 1));
        assert_eq!(err.expected(), ["\"(\"", "NAME", "end of input"]);
        assert!(matches!(err.kind(), ParseErrorKind::Unexpected { .. }));
    }

    #[test]
    fn premature_end() {
        let assign = testing::assign();
        assert_eq!(check(&assign, "x = 1"), Err("1:6: unexpected end of input, expected one of: _NL".into()));
        assert_eq!(check(&assign, ""), Err("1:1: unexpected end of input, expected one of: \"(\", NAME".into()));
        let blocks = testing::blocks();
        // The synthetic newline at the end is reported as the end of input.
        let err = parse(blocks.grammar(), b"x = (1,\n").unwrap_err();
        assert!(err.is_unexpected_end());
        assert_eq!(err.to_string(), "2:1: unexpected end of input, expected one of: \"(\", \"...\", NAME, NUMBER");
        assert_eq!(check(&blocks, "if a:\n"), Err("2:1: unexpected end of input, expected one of: _INDENT".into()));
    }

    #[test]
    fn lex_errors_quote_the_text() {
        let assign = testing::assign();
        let err = parse(assign.grammar(), "x = 1\nyé = 2\n".as_bytes()).unwrap_err();
        assert!(err.is_lex_error());
        assert_eq!(err.to_string(), "2:2: no terminal matches the text at \"é = 2\\n\"");
        assert_eq!(check(&assign, "x = $this is a long line of text\n"), Err("1:5: no terminal matches the text at \"$this is a long …\"".into()));
    }

    #[test]
    fn indentation_errors() {
        let blocks = testing::blocks();
        let err = parse(blocks.grammar(), b"if a:\n    x\n  y\n").unwrap_err();
        assert!(err.is_indentation_error());
        assert_eq!(err.to_string(), "3:3: unindent does not match any outer indentation level");
        assert_eq!(check(&blocks, "x\n  y\n"), Err("2:3: unexpected _INDENT, expected one of: \"if\", NAME, end of input".into()));
        assert_eq!(check(&blocks, "if a:\nx\n"), Err("2:1: unexpected NAME \"x\", expected one of: _INDENT".into()));
        assert_eq!(check(&blocks, "  x\n"), Err("1:3: unexpected _INDENT, expected one of: \"if\", NAME".into()));
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("aé€x".as_bytes(), 6), (1, 4));
        assert_eq!(line_column(b"ab\ncd", 3), (2, 1));
        assert_eq!(line_column(b"ab\r\ncd", 5), (2, 2));
        assert_eq!(line_column(b"ab", 99), (1, 3));
        assert_eq!(line_column(b"\xff\xfex", 2), (1, 3));
    }

    #[test]
    fn long_expected_lists_are_truncated() {
        let names: Vec<String> = (0..15).map(|i| format!("T{i:02}")).collect();
        assert_eq!(expected_list(&names), "T00, T01, T02, T03, T04, T05, T06, T07, T08, T09, T10, T11, and 3 more");
        assert_eq!(expected_list(&names[..12]), names[..12].join(", "));
    }

    #[test]
    fn parser_api_is_transactional_and_answers_queries() {
        let assign = testing::assign();
        let mut parser = Parser::new(assign.grammar());
        let ids = |p: &Parser<'_>| p.acceptable_terminals().collect::<Vec<_>>();
        assert_eq!(ids(&parser), [t("NAME"), t("LPAR")]);
        assert!(!parser.end_acceptable() && !parser.is_complete());
        for name in ["NAME", "EQUAL", "NUMBER"] {
            parser.feed(t(name)).unwrap();
        }
        let before = parser.stack().to_vec();
        assert_eq!(parser.feed(t("NUMBER")), Err(FeedError::Unexpected));
        assert_eq!(parser.feed(TerminalId::from_raw(999)), Err(FeedError::Unexpected));
        assert_eq!(parser.stack(), before);
        assert!(parser.can_feed(t("_NL")) && !parser.can_feed(t("COMMA")));
        parser.feed(t("_NL")).unwrap();
        assert_eq!(ids(&parser), [t("NAME"), t("LPAR")]);
        assert!(parser.end_acceptable());
        assert_eq!(parser.finish(), Ok(()));
        // Finishing is a query: the parser keeps going.
        parser.feed(t("NAME")).unwrap();
        assert!(!parser.is_complete());
        parser.reset();
        assert_eq!(parser.stack().len(), 1);
    }

    /// Grammars that pass validation but whose tables lie must fail closed, not hang or panic.
    #[test]
    fn inconsistent_tables_are_errors() {
        let base = testing::grammar("assign", &[("start", &["NAME"])], false);
        let end = testing::TERMINALS.len();
        let n_columns = end + 1;
        let start = base.lr.start_state as usize;

        // An empty production whose goto returns to the same state: an endless reduction loop.
        let mut looping = base.clone();
        looping.productions.push(Production { lhs: RuleId::must(0), rhs: vec![] });
        let p = looping.productions.len() as u32 - 1;
        looping.lr.action[start * n_columns + end] = Action::Reduce(p).encode();
        looping.lr.goto[start] = start as u32;
        let artifact = Artifact::from_bytes(&testing::encode(looping)).unwrap();
        let err = parse(artifact.grammar(), b"").unwrap_err();
        assert_eq!(err.kind(), &ParseErrorKind::Corrupt("reductions do not terminate"));

        // A reduction popping the start state, and a missing goto.
        let mut popping = base.clone();
        popping.lr.action[start * n_columns + end] = Action::Reduce(0).encode();
        let artifact = Artifact::from_bytes(&testing::encode(popping.clone())).unwrap();
        assert_eq!(parse(artifact.grammar(), b"").unwrap_err().kind(), &ParseErrorKind::Corrupt("a reduction pops the start state"));
        let mut no_goto = base.clone();
        no_goto.productions.push(Production { lhs: RuleId::must(0), rhs: vec![] });
        no_goto.lr.action[start * n_columns + end] = Action::Reduce(1).encode();
        no_goto.lr.goto[start] = NONE;
        let artifact = Artifact::from_bytes(&testing::encode(no_goto)).unwrap();
        assert_eq!(parse(artifact.grammar(), b"").unwrap_err().kind(), &ParseErrorKind::Corrupt("missing goto after a reduction"));

        // Accept on a terminal column, shift on End.
        let mut accept = base.clone();
        accept.lr.action[start * n_columns + t("NAME").as_usize()] = Action::Accept.encode();
        accept.lr.action[start * n_columns + end] = Action::Shift(0).encode();
        let artifact = Artifact::from_bytes(&testing::encode(accept)).unwrap();
        let err = parse(artifact.grammar(), b"x").unwrap_err();
        assert_eq!(err.kind(), &ParseErrorKind::Corrupt("accept on a terminal column"));
        assert!(err.to_string().starts_with("1:1: the artifact's LR table is inconsistent"));
        assert_eq!(parse(artifact.grammar(), b"").unwrap_err().kind(), &ParseErrorKind::Corrupt("shift on the end of input"));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::testing;
    use proptest::prelude::*;

    proptest! {
        /// Any text over the grammars' alphabet (plus bytes no terminal matches) parses or fails
        /// with an error whose position lies inside the text; nothing panics.
        #[test]
        fn arbitrary_text_never_panics(text in proptest::collection::vec(proptest::sample::select(b"ab19=(),:.. \t\r\n\n\n$\xc3\xa9".to_vec()), 0..60)) {
            for artifact in [testing::assign(), testing::blocks()] {
                if let Err(e) = parse(artifact.grammar(), &text) {
                    prop_assert!(e.offset() <= text.len());
                    prop_assert!(e.line() >= 1 && e.column() >= 1);
                    prop_assert!(!e.message().is_empty());
                }
            }
        }
    }
}
