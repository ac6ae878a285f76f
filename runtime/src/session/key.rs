//! The mask key and what it stands for: [`MaskKey`] (what the next mask depends on), the
//! [`Recipe`] it expands to (stored masks to union, then token edits) and the two forms a recipe
//! is served in: a bitmask row, through [`crate::masks::build_row`], or a [`MaskDescription`].
//!
//! The mask is the union, over every hypothesis and candidate `(terminal, state)`, of the stored
//! `live(state)` mask and the `split(state, f)` masks for every follower `f` the parser accepts
//! after that terminal (`%ignore` terminals always; INDENT/DEDENT outcomes of an unfinished
//! newline unioned). That is SynCode's accept-sequence construction with sequences of length 2.
//!
//! **Invariant:** the row is a function of the key alone (for one artifact): the candidates are
//! sorted and deduplicated, and every other input (first position, EOS, indentation filter) is
//! a field. That is what makes [`MaskKey`] a sound cache key.

use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::{ArchivedId, DfaStateId, MaskId, TerminalId, TokenId};

use super::context::Core;
use super::hyps::State;
use super::indent_mask::{IndentFilter, IndentGroups};
use crate::masks::{self, StoreError};

/// What the next mask depends on; the key of the `MaskCache`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct MaskKey {
    /// The next token is the first of the sequence: first-position bytes apply.
    first: bool,
    /// The text is a complete program: EOS is allowed.
    eos: bool,
    /// Indentation masking applies (see `indent_mask`).
    indent: Option<IndentFilter>,
    /// Every hypothesis's candidates with their followers, sorted and deduplicated.
    cands: Vec<KeyCand>,
}

/// One candidate of a hypothesis: a terminal's DFA state over the unfinished lexeme, and the
/// terminals that may follow the lexeme.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct KeyCand {
    terminal: TerminalId,
    state: DfaStateId,
    followers: IdSet<TerminalId>,
}

impl MaskKey {
    /// The key of `state` at the end of `text`.
    pub(super) fn new(core: &Core<'_>, state: &State<'_>, text: &[u8], first: bool, eos: bool, indent: Option<IndentFilter>) -> MaskKey {
        let mut cands = Vec::new();
        for h in &state.hyps {
            for &(terminal, q) in &h.cands {
                cands.push(KeyCand { terminal, state: q, followers: h.front.follow(core, terminal, text, h.start) });
            }
        }
        cands.sort_by(|a, b| (a.terminal, a.state, a.followers.words()).cmp(&(b.terminal, b.state, b.followers.words())));
        cands.dedup();
        MaskKey { first, eos, indent, cands }
    }

    /// Bytes the key accounts for in the cache budget: 4 for the flags, 4 for the indentation
    /// filter, and per candidate 8 plus its follower set.
    pub(super) fn size_bytes(&self) -> usize {
        let cands: usize = self.cands.iter().map(|c| 8 + 8 * c.followers.words().len()).sum();
        4 + if self.indent.is_some() { 4 } else { 0 } + cands
    }

    /// What the key stands for; `first_allowed` decides a first-position token exactly.
    pub(super) fn recipe(&self, core: &Core<'_>, first_allowed: impl Fn(TokenId) -> bool) -> Recipe {
        let mut masks = Vec::new();
        for c in &self.cands {
            c.stored_masks(core, &mut masks);
        }
        masks.sort_unstable();
        masks.dedup();
        let mut set = Vec::new();
        let mut clear = Vec::new();
        if self.first {
            for id in core.vocab.first_ids() {
                if first_allowed(id) {
                    set.push(id);
                } else {
                    clear.push(id);
                }
            }
        }
        if self.eos {
            set.extend(core.vocab.eos_ids());
        }
        Recipe { masks, set, clear, indent: self.indent }
    }
}

impl KeyCand {
    /// The stored masks whose union is this candidate's contribution: `live(q)`, `split(q, f)`
    /// for every follower `f`, and for a refined `%ignore` follower `g` also `live(g's start)`
    /// and `after_ignore[g][f]` for every follower `f`.
    fn stored_masks(&self, core: &Core<'_>, out: &mut Vec<MaskId>) {
        let (t, q) = (self.terminal, self.state);
        out.extend(core.store.live(t, q));
        for (f, m, refined) in core.store.splits(t, q) {
            if !self.followers.contains(f) {
                continue;
            }
            out.push(m);
            if refined {
                if let (Some(j), Some(d)) = (core.grammar.ignore.iter().position(|g| g.to_id() == f), core.dfa(f)) {
                    out.extend(core.store.live(f, d.start()));
                    for next in self.followers.iter().filter(|n| n.as_usize() < core.n_terminals) {
                        out.extend(core.store.after_ignore(j, next));
                    }
                }
            }
        }
    }
}

/// A mask as stored masks to OR, then tokens to set, then tokens to clear, then the tokens of
/// the impossible indentations to clear (kept as a filter: its groups are cleared word by word
/// in a row, listed only in a [`MaskDescription`]).
pub(super) struct Recipe {
    masks: Vec<MaskId>,
    set: Vec<TokenId>,
    clear: Vec<TokenId>,
    indent: Option<IndentFilter>,
}

impl Recipe {
    /// Whether the recipe needs the indentation groups.
    pub(super) fn needs_indent_groups(&self) -> bool {
        self.indent.is_some()
    }

    /// Fills `out` with the recipe's row; `groups` are needed when
    /// [`Recipe::needs_indent_groups`].
    pub(super) fn fill(&self, core: &Core<'_>, groups: Option<&IndentGroups>, out: &mut [u32]) -> Result<(), StoreError> {
        masks::build_row(&core.store, self.masks.iter().copied(), self.set.iter().copied(), self.clear.iter().copied(), out)?;
        if let (Some(filter), Some(groups)) = (self.indent, groups) {
            filter.clear_row(groups, out);
        }
        Ok(())
    }

    /// The recipe as a description, the indentation groups' tokens listed in `clear`.
    pub(super) fn describe(&self, groups: Option<&IndentGroups>) -> MaskDescription {
        let mut d = MaskDescription {
            masks: self.masks.iter().map(|m| m.raw()).collect(),
            tokens: self.set.iter().map(|t| t.raw()).collect(),
            clear: self.clear.iter().map(|t| t.raw()).collect(),
        };
        if let (Some(filter), Some(groups)) = (self.indent, groups) {
            d.clear.extend(filter.tokens(groups).map(TokenId::raw));
            d.clear.sort_unstable();
        }
        d
    }
}

/// A mask as stored-mask ids plus explicit token edits; see
/// [`Session::describe_mask`](super::Session::describe_mask). Plain `u32` ids: this is what a
/// server uploads to a device-resident mask store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskDescription {
    /// Stored mask ids (`schema::MaskStore`) to OR together, sorted.
    pub masks: Vec<u32>,
    /// Token ids to set after the union.
    pub tokens: Vec<u32>,
    /// Token ids to clear last.
    pub clear: Vec<u32>,
}

impl MaskDescription {
    /// The description's bitmask row, by [`masks::build_row`] over `store`.
    ///
    /// # Errors
    ///
    /// The store's error for a mask it cannot read (`out` should then be zeroed).
    pub fn build_row<S: masks::StoredMasks + ?Sized>(&self, store: &S, out: &mut [u32]) -> Result<(), S::Error> {
        let stored = self.masks.iter().copied().map(MaskId::from_raw);
        let set = self.tokens.iter().copied().map(TokenId::from_raw);
        let clear = self.clear.iter().copied().map(TokenId::from_raw);
        masks::build_row(store, stored, set, clear, out)
    }
}
