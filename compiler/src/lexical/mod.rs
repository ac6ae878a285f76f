//! Stage 3: terminal patterns -> minimized byte-level DFAs, and the combined maximal-munch lexer.

use crate::diagnostics::Diagnostic;
use crate::lower::Bnf;
use syncodec_artifacts::ids::{IdVec, TerminalId};

/// A minimized byte-level DFA for one terminal, over byte equivalence classes.
///
/// State 0 is the dead state (not accepting, not live, all transitions to itself).
/// Accepting/live are defined on the plain automaton: `accepting[s]` iff the bytes read from
/// `start` to `s` are in the language; `live[s]` iff some continuation reaches an accepting state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalDfa {
    pub start: u32,
    pub n_classes: u32,
    pub classes: [u8; 256],
    /// Row-major: `trans[s * n_classes + classes[b]]`.
    pub trans: Vec<u32>,
    pub accepting: Vec<bool>,
    pub live: Vec<bool>,
}

impl TerminalDfa {
    pub fn n_states(&self) -> usize {
        self.accepting.len()
    }

    #[inline]
    pub fn next(&self, state: u32, byte: u8) -> u32 {
        self.trans[state as usize * self.n_classes as usize + self.classes[byte as usize] as usize]
    }

    /// Whether the whole of `bytes` is in the terminal's language.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut s = self.start;
        for &b in bytes {
            s = self.next(s, b);
        }
        self.accepting[s as usize]
    }
}

/// The combined lexer: one DFA over all terminals with a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexerDfa {
    pub dfa: TerminalDfa,
    /// Per state: the winning terminal when a lexeme ends here (priority, then literal before
    /// pattern, then declaration order), or `None`.
    pub accept: Vec<Option<TerminalId>>,
}

/// Output of the lexical stage.
#[derive(Debug, Clone)]
pub struct Lexical {
    /// `None` exactly for declared terminals.
    pub terminals: IdVec<TerminalId, Option<TerminalDfa>>,
    pub lexer: LexerDfa,
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
pub fn build(bnf: &Bnf, options: &LexicalOptions) -> Result<Lexical, Vec<Diagnostic>> {
    let _ = (bnf, options);
    Err(vec![Diagnostic::unlocated("lexical stage not implemented yet")])
}
