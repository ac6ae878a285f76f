//! The immutable per-artifact context every session step reads: grammar tables, the combined
//! lexer, each terminal's DFA, the `%ignore` set, the vocabulary and the mask store.
//!
//! **Invariant:** a [`Core`] is built once per [`Session`](super::Session) from a validated
//! artifact and never changes; everything that depends on the text lives in `hyps::State`.

use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::{ArchivedId, DfaStateId, TerminalId};
use syncodec_artifacts::schema::ArchivedCompiledGrammar;

use super::hyps::Hyp;
use super::SessionError;
use crate::artifact::Artifact;
use crate::lexer::{Lexer, TerminalDfa};
use crate::masks::{MaskStore, Vocab};
use crate::parser::Parser;

/// Immutable per-artifact context every hypothesis step needs.
pub(super) struct Core<'a> {
    pub(super) grammar: &'a ArchivedCompiledGrammar,
    pub(super) lexer: Lexer<'a>,
    dfas: Vec<Option<TerminalDfa<'a>>>,
    /// The `%ignore` terminals.
    pub(super) ignore: IdSet<TerminalId>,
    pub(super) n_terminals: usize,
    pub(super) vocab: Vocab<'a>,
    pub(super) store: MaskStore<'a>,
    /// The grammar asks for a contextual lexer: candidates decide lexeme ends and winners.
    pub(super) contextual: bool,
    /// Per byte `b`, every terminal whose DFA is still live after `b` from its start, with its
    /// start state: the candidates of a straddle about to read `b` when every terminal is
    /// allowed (the exact mask's recorder).
    pub(super) starts_by_byte: Vec<Vec<(TerminalId, DfaStateId)>>,
}

impl<'a> Core<'a> {
    pub(super) fn new(artifact: &'a Artifact) -> Result<Core<'a>, SessionError> {
        let payload = artifact.payload();
        let (Some(v), Some(m)) = (payload.vocab.as_ref(), payload.masks.as_ref()) else { return Err(SessionError::NoMaskStore) };
        let grammar = &payload.grammar;
        let n_terminals = grammar.terminals.len();
        let vocab = Vocab::new(v);
        let mut ignore = IdSet::empty(n_terminals);
        for t in grammar.ignore.iter() {
            ignore.insert(t.to_id());
        }
        let dfas: Vec<Option<TerminalDfa<'a>>> = (0..n_terminals).map(|t| TerminalDfa::new(grammar, TerminalId::from_raw(t as u32))).collect();
        let starts_by_byte = (0..=255u8)
            .map(|b| {
                let live = |(t, d): (usize, &Option<TerminalDfa<'a>>)| {
                    let d = d.as_ref()?;
                    d.is_live(d.step(d.start(), b)).then(|| (TerminalId::from_raw(t as u32), d.start()))
                };
                dfas.iter().enumerate().filter_map(live).collect()
            })
            .collect();
        Ok(Core {
            grammar,
            lexer: Lexer::new(grammar),
            dfas,
            starts_by_byte,
            ignore,
            n_terminals,
            store: MaskStore::new(m, &vocab),
            vocab,
            contextual: grammar.contextual_lexer,
        })
    }

    pub(super) fn dfa(&self, t: TerminalId) -> Option<&TerminalDfa<'a>> {
        self.dfas.get(t.as_usize())?.as_ref()
    }

    /// The terminal a lexeme of `h` would be if it ended where `h` is: the combined lexer's
    /// label, or with the contextual lexer the best of the candidates.
    pub(super) fn accepts<F>(&self, h: &Hyp<'_, F>) -> Option<TerminalId> {
        if self.contextual {
            self.lexer.winner(&h.cands)
        } else {
            self.lexer.accepts(h.lex)
        }
    }

    /// Adds the terminals with a non-error action in the parser's top state to `set`.
    pub(super) fn add_acceptable(&self, parser: &Parser<'_>, set: &mut IdSet<TerminalId>) {
        for t in parser.acceptable_terminals() {
            set.insert(t);
        }
    }

    /// The candidates of a straddle starting at byte `at` of `text` when every terminal is
    /// allowed: those whose DFA survives that byte (all of them past the end).
    pub(super) fn all_cands(&self, text: &[u8], at: usize) -> Vec<(TerminalId, DfaStateId)> {
        match text.get(at) {
            Some(&b) => self.starts_by_byte.get(b as usize).cloned().unwrap_or_default(),
            None => self.starts_by_byte.iter().flatten().copied().collect(),
        }
    }

    /// An empty terminal set of this grammar's capacity.
    pub(super) fn no_terminals(&self) -> IdSet<TerminalId> {
        IdSet::empty(self.n_terminals)
    }
}
