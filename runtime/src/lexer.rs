//! Maximal-munch lexing over the artifact's combined lexer DFA, and read access to the
//! per-terminal DFAs.
//!
//! [`Lexer`] turns text into [`Lexeme`]s: from position `i` it runs the lexer DFA byte by byte,
//! remembers the last position where the state names a winning terminal (`accept != NONE`), and
//! stops at the dead state (0) or the end of the text. The lexeme is `i..last_accept_end`, its
//! terminal the one named by that state (the compiler already resolved ties: priority, then
//! literal before pattern, then declaration order). No accepting end after `i` is a [`LexError`]
//! at `i`. `%ignore` terminals are lexed like any other and then skipped by [`Lexemes`].
//!
//! [`TerminalDfa`] exposes one terminal's own DFA (`grammar.terminals[t].dfa`), which the mask
//! computation walks over a remainder.
//!
//! **Invariant:** no panic and no unbounded loop for any artifact or text. A table miss (which
//! validation at open rules out) reads as the dead state, so a corrupt table can only make lexing
//! fail, never crash. Zero-length lexemes are never produced, even when a (corrupt) lexer start
//! state is accepting, so lexing always advances.
//!
//! Cost: O(length of the longest live prefix) per lexeme; one `get()` on the class table and
//! one on the transition table per byte.

use std::fmt;

use syncodec_artifacts::ids::{ArchivedId, DfaStateId, LexStateId, TerminalId};
use syncodec_artifacts::schema::{ArchivedCompiledGrammar, ArchivedDfa, DFA_ACCEPTING, DFA_LIVE, NONE};

/// One occurrence of a terminal in the text: bytes `start..end`. Synthetic lexemes made by the
/// indenter (INDENT, DEDENT, a final newline) are zero-width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lexeme {
    pub terminal: TerminalId,
    pub start: usize,
    pub end: usize,
}

/// No terminal matches the text at byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no terminal matches the text at byte {offset}")]
pub struct LexError {
    pub offset: usize,
}

/// One DFA step on the archived tables: `trans[state * n_classes + classes[byte]]`.
/// A miss (out-of-range state or class) is the dead state 0.
#[inline]
fn dfa_step(dfa: &ArchivedDfa, state: u32, byte: u8) -> u32 {
    let Some(class) = dfa.classes.get(byte as usize) else { return 0 };
    let n_classes = dfa.n_classes.to_native() as usize;
    let at = (state as usize).wrapping_mul(n_classes).wrapping_add(*class as usize);
    dfa.trans.get(at).map_or(0, |s| s.to_native())
}

#[inline]
fn dfa_flags(dfa: &ArchivedDfa, state: u32) -> u8 {
    dfa.flags.get(state as usize).copied().unwrap_or(0)
}

/// Read access to one terminal's own DFA (not the combined lexer).
#[derive(Clone, Copy)]
pub struct TerminalDfa<'g> {
    terminal: TerminalId,
    dfa: &'g ArchivedDfa,
}

impl<'g> TerminalDfa<'g> {
    /// The DFA of `terminal`, or `None` for a `%declare`d terminal (no pattern) or an id out of
    /// range.
    pub fn new(grammar: &'g ArchivedCompiledGrammar, terminal: TerminalId) -> Option<TerminalDfa<'g>> {
        let dfa = grammar.terminals.get(terminal.as_usize())?.dfa.as_ref()?;
        Some(TerminalDfa { terminal, dfa })
    }

    pub fn terminal(&self) -> TerminalId {
        self.terminal
    }

    #[inline]
    pub fn start(&self) -> DfaStateId {
        DfaStateId::from_raw(self.dfa.start.to_native())
    }

    /// The next state; the dead state when `state` or the byte's class is out of range.
    #[inline]
    pub fn step(&self, state: DfaStateId, byte: u8) -> DfaStateId {
        DfaStateId::from_raw(dfa_step(self.dfa, state.raw(), byte))
    }

    /// Walks `bytes` from `state`, stopping early at the dead state.
    pub fn walk(&self, mut state: DfaStateId, bytes: &[u8]) -> DfaStateId {
        for &b in bytes {
            if Self::is_dead(state) {
                break;
            }
            state = self.step(state, b);
        }
        state
    }

    #[inline]
    pub fn is_dead(state: DfaStateId) -> bool {
        state.raw() == 0
    }

    /// The bytes read to reach `state` form a lexeme of this terminal.
    #[inline]
    pub fn is_accepting(&self, state: DfaStateId) -> bool {
        dfa_flags(self.dfa, state.raw()) & DFA_ACCEPTING != 0
    }

    /// Some continuation from `state` reaches an accepting state.
    #[inline]
    pub fn is_live(&self, state: DfaStateId) -> bool {
        dfa_flags(self.dfa, state.raw()) & DFA_LIVE != 0
    }

    /// Whether `bytes` is exactly one lexeme of this terminal.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.is_accepting(self.walk(self.start(), bytes))
    }
}

impl fmt::Debug for TerminalDfa<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TerminalDfa").field("terminal", &self.terminal).field("n_states", &self.dfa.n_states.to_native()).finish()
    }
}

/// A maximal-munch lexer over one grammar's combined lexer DFA. Cheap to keep and reuse:
/// it holds the grammar reference and a per-terminal `%ignore` bitmap.
#[derive(Clone)]
pub struct Lexer<'g> {
    grammar: &'g ArchivedCompiledGrammar,
    ignored: Vec<bool>,
}

impl<'g> Lexer<'g> {
    pub fn new(grammar: &'g ArchivedCompiledGrammar) -> Lexer<'g> {
        let mut ignored = vec![false; grammar.terminals.len()];
        for t in grammar.ignore.iter() {
            if let Some(slot) = ignored.get_mut(t.raw() as usize) {
                *slot = true;
            }
        }
        Lexer { grammar, ignored }
    }

    pub fn grammar(&self) -> &'g ArchivedCompiledGrammar {
        self.grammar
    }

    /// Whether `terminal` is `%ignore`d (lexed, never passed to the parser).
    #[inline]
    pub fn is_ignored(&self, terminal: TerminalId) -> bool {
        self.ignored.get(terminal.as_usize()).copied().unwrap_or(false)
    }

    #[inline]
    pub fn start(&self) -> LexStateId {
        LexStateId::from_raw(self.grammar.lexer.dfa.start.to_native())
    }

    /// One step of the combined lexer DFA; the dead state on any table miss.
    #[inline]
    pub fn step(&self, state: LexStateId, byte: u8) -> LexStateId {
        LexStateId::from_raw(dfa_step(&self.grammar.lexer.dfa, state.raw(), byte))
    }

    #[inline]
    pub fn is_dead(state: LexStateId) -> bool {
        state.raw() == 0
    }

    /// The terminal that wins when a lexeme ends in `state`, if any.
    #[inline]
    pub fn accepts(&self, state: LexStateId) -> Option<TerminalId> {
        match self.grammar.lexer.accept.get(state.as_usize()).map(|a| a.to_native()) {
            Some(NONE) | None => None,
            Some(raw) => Some(TerminalId::from_raw(raw)),
        }
    }

    /// Some continuation from `state` reaches an accepting state.
    #[inline]
    pub fn is_live(&self, state: LexStateId) -> bool {
        dfa_flags(&self.grammar.lexer.dfa, state.raw()) & DFA_LIVE != 0
    }

    /// The DFA of one terminal (see [`TerminalDfa::new`]).
    pub fn terminal_dfa(&self, terminal: TerminalId) -> Option<TerminalDfa<'g>> {
        TerminalDfa::new(self.grammar, terminal)
    }

    /// The longest lexeme starting at `start` (ignored terminals included), `Ok(None)` at the end
    /// of the text, or a [`LexError`] at `start` when no non-empty prefix matches a terminal.
    pub fn next_lexeme(&self, text: &[u8], start: usize) -> Result<Option<Lexeme>, LexError> {
        let Some(rest) = text.get(start..) else { return Err(LexError { offset: start }) };
        if rest.is_empty() {
            return Ok(None);
        }
        let mut state = self.start();
        let mut best: Option<(TerminalId, usize)> = None;
        for (i, &b) in rest.iter().enumerate() {
            state = self.step(state, b);
            if Self::is_dead(state) {
                break;
            }
            if let Some(terminal) = self.accepts(state) {
                best = Some((terminal, start + i + 1));
            }
        }
        match best {
            Some((terminal, end)) => Ok(Some(Lexeme { terminal, start, end })),
            None => Err(LexError { offset: start }),
        }
    }

    /// Whether the grammar asks for a contextual lexer (see [`Lexer::next_lexeme_among`]).
    #[inline]
    pub fn is_contextual(&self) -> bool {
        self.grammar.contextual_lexer
    }

    /// The terminal's position in the tie-break order (0 wins over all others).
    #[inline]
    pub fn rank(&self, terminal: TerminalId) -> u32 {
        self.grammar.terminals.get(terminal.as_usize()).map_or(u32::MAX, |t| t.rank.to_native())
    }

    /// Of the `(terminal, state)` candidates, the one whose lexeme may end where they are: an
    /// accepting one of lowest rank.
    pub fn winner(&self, cands: &[(TerminalId, DfaStateId)]) -> Option<TerminalId> {
        cands
            .iter()
            .filter(|(t, q)| self.terminal_dfa(*t).is_some_and(|d| d.is_accepting(*q)))
            .min_by_key(|(t, _)| (self.rank(*t), t.raw()))
            .map(|(t, _)| *t)
    }

    /// The longest lexeme starting at `start` among the terminals `allowed` admits, the winner
    /// being the lowest rank among those that match it: Lark's *contextual* lexer, where
    /// `allowed` is what the parser can take next plus the ignored terminals. `Ok(None)` at the
    /// end of the text; a [`LexError`] at `start` when no allowed terminal matches.
    pub fn next_lexeme_among(&self, text: &[u8], start: usize, allowed: &dyn Fn(TerminalId) -> bool) -> Result<Option<Lexeme>, LexError> {
        let Some(rest) = text.get(start..) else { return Err(LexError { offset: start }) };
        if rest.is_empty() {
            return Ok(None);
        }
        let mut cands: Vec<(TerminalId, DfaStateId)> = (0..self.grammar.terminals.len() as u32)
            .map(TerminalId::from_raw)
            .filter(|&t| allowed(t))
            .filter_map(|t| self.terminal_dfa(t).map(|d| (t, d.start())))
            .collect();
        let mut best: Option<(TerminalId, usize)> = None;
        for (i, &b) in rest.iter().enumerate() {
            cands.retain_mut(|(t, q)| match self.terminal_dfa(*t) {
                Some(d) => {
                    *q = d.step(*q, b);
                    d.is_live(*q)
                }
                None => false,
            });
            if cands.is_empty() {
                break;
            }
            if let Some(w) = self.winner(&cands) {
                best = Some((w, start + i + 1));
            }
        }
        match best {
            Some((terminal, end)) => Ok(Some(Lexeme { terminal, start, end })),
            None => Err(LexError { offset: start }),
        }
    }

    /// The lexemes of `text` that the parser sees (ignored terminals skipped), from byte `start`.
    pub fn lexemes<'t>(&self, text: &'t [u8], start: usize) -> Lexemes<'_, 'g, 't> {
        Lexemes { lexer: self, text, pos: start, failed: false }
    }

    /// All non-ignored lexemes of `text`, or the first lexing error.
    pub fn tokenize(&self, text: &[u8]) -> Result<Vec<Lexeme>, LexError> {
        self.lexemes(text, 0).collect()
    }
}

impl fmt::Debug for Lexer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lexer").field("grammar", &self.grammar.name.as_str()).finish()
    }
}

/// Iterator over the non-ignored lexemes of a text; yields at most one error, then ends.
#[derive(Debug)]
pub struct Lexemes<'l, 'g, 't> {
    lexer: &'l Lexer<'g>,
    text: &'t [u8],
    pos: usize,
    failed: bool,
}

impl Lexemes<'_, '_, '_> {
    /// Byte offset where the next lexeme will start (after the last one yielded).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Lexemes<'_, '_, '_> {
    type Item = Result<Lexeme, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.lexer.next_lexeme(self.text, self.pos) {
                Ok(None) => return None,
                Ok(Some(lexeme)) => {
                    self.pos = lexeme.end;
                    if !self.lexer.is_ignored(lexeme.terminal) {
                        return Some(Ok(lexeme));
                    }
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, t};

    fn lex(text: &str) -> Result<Vec<(&'static str, String)>, LexError> {
        let artifact = testing::assign();
        let lexer = Lexer::new(artifact.grammar());
        let lexemes = lexer.tokenize(text.as_bytes())?;
        Ok(lexemes.iter().map(|l| (testing::TERMINALS[l.terminal.as_usize()], text[l.start..l.end].to_string())).collect())
    }

    fn pairs(items: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        items.iter().map(|(a, b)| (*a, b.to_string())).collect()
    }

    #[test]
    fn longest_match_and_ignore() {
        assert_eq!(lex("abc = 12").unwrap(), pairs(&[("NAME", "abc"), ("EQUAL", "="), ("NUMBER", "12")]));
        assert_eq!(lex("ab12(x)").unwrap(), pairs(&[("NAME", "ab"), ("NUMBER", "12"), ("LPAR", "("), ("NAME", "x"), ("RPAR", ")")]));
        assert_eq!(lex("  \t ").unwrap(), pairs(&[]));
        assert_eq!(lex("").unwrap(), pairs(&[]));
    }

    #[test]
    fn literal_beats_pattern_on_equal_length_but_not_on_longer_match() {
        assert_eq!(lex("if iffy i").unwrap(), pairs(&[("IF", "if"), ("NAME", "iffy"), ("NAME", "i")]));
    }

    #[test]
    fn falls_back_to_the_last_accepting_end() {
        // ".." runs the DFA past "." into a non-accepting state that dies at the third byte.
        assert_eq!(lex("....x").unwrap(), pairs(&[("ELLIPSIS", "..."), ("DOT", "."), ("NAME", "x")]));
        assert_eq!(lex("..").unwrap(), pairs(&[("DOT", "."), ("DOT", ".")]));
    }

    #[test]
    fn newline_lexeme_spans_blank_lines_and_crlf() {
        assert_eq!(lex("a\r\n\n  b").unwrap(), pairs(&[("NAME", "a"), ("_NL", "\r\n\n  "), ("NAME", "b")]));
    }

    #[test]
    fn lex_error_reports_the_offset() {
        assert_eq!(lex("ab = $x"), Err(LexError { offset: 5 }));
        assert_eq!(lex("x\r"), Err(LexError { offset: 1 }));
        let artifact = testing::assign();
        let lexer = Lexer::new(artifact.grammar());
        let mut it = lexer.lexemes(b"a ?", 0);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert_eq!(it.next(), Some(Err(LexError { offset: 2 })));
        assert_eq!(it.next(), None);
        assert_eq!(lexer.next_lexeme(b"a", 5), Err(LexError { offset: 5 }));
        assert_eq!(lexer.next_lexeme(b"a", 1), Ok(None));
    }

    #[test]
    fn stepping_api_and_terminal_dfas() {
        let artifact = testing::assign();
        let lexer = Lexer::new(artifact.grammar());
        assert!(lexer.is_ignored(t("WS")));
        assert!(!lexer.is_ignored(t("NAME")));
        assert!(!lexer.is_ignored(TerminalId::from_raw(1000)));
        let s = lexer.step(lexer.start(), b'a');
        assert_eq!(lexer.accepts(s), Some(t("NAME")));
        assert!(lexer.is_live(s));
        assert_eq!(lexer.accepts(lexer.start()), None);
        assert!(Lexer::is_dead(lexer.step(s, b'$')));
        assert!(Lexer::is_dead(lexer.step(LexStateId::from_raw(u32::MAX - 1), b'a')));

        let ellipsis = lexer.terminal_dfa(t("ELLIPSIS")).unwrap();
        assert_eq!(ellipsis.terminal(), t("ELLIPSIS"));
        let two = ellipsis.walk(ellipsis.start(), b"..");
        assert!(ellipsis.is_live(two) && !ellipsis.is_accepting(two));
        assert!(ellipsis.matches(b"..."));
        assert!(!ellipsis.matches(b"...."));
        assert!(TerminalDfa::is_dead(ellipsis.walk(ellipsis.start(), b"x..")));
        assert!(lexer.terminal_dfa(t("_INDENT")).is_none());
        assert!(lexer.terminal_dfa(TerminalId::from_raw(1000)).is_none());
        let nl = lexer.terminal_dfa(t("_NL")).unwrap();
        assert!(nl.matches(b"\r\n  \n\t"));
        assert!(!nl.matches(b"\r"));
    }
}
