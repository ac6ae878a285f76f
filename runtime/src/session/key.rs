//! The mask key and what it stands for: [`MaskKey`] (what the next mask depends on), the
//! [`Recipe`] it expands to (stored masks to union, then token edits) and the description form
//! of a mask, [`MaskDescription`].
//!
//! The recipe's union, over every hypothesis and candidate `(terminal, state)`, of the stored
//! `live(state)` mask and the `split(state, f)` masks for every follower `f` the parser accepts
//! after that terminal (`%ignore` terminals always; INDENT/DEDENT outcomes of an unfinished
//! newline unioned) is SynCode's accept-sequence construction with sequences of length 2: a
//! superset of the viable tokens. `exact` narrows it to exactly the viable tokens.
//!
//! **Invariant:** everything `exact` caches for a key is a function of the key alone (for one
//! artifact): per hypothesis, in the session's order, the combined lexer's state, whether the
//! straddle is empty, the candidates with their followers, the guards (as positions), and the
//! straddle's bytes where the layout stage reads them (an indentation newline); the whole text
//! while the first lexeme of an indentation grammar is unseen; the first-position and EOS flags.
//! That is what makes [`MaskKey`] a sound cache key.

use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::{ArchivedId, DfaStateId, LexStateId, MaskId, TerminalId, TokenId};

use super::context::Core;
use super::hyps::{Front, Layout, State};
use crate::indent::Indenter;
use crate::lexer::Lexeme;
use crate::masks::{self, StoreError};

/// What the next mask depends on; the key of the `MaskCache`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct MaskKey {
    /// The next token is the first of the sequence: first-position bytes apply.
    pub(super) first: bool,
    /// The text is a complete program: EOS is allowed.
    pub(super) eos: bool,
    /// How tokens are lexed from here.
    pub(super) lexical: LexKey,
    /// Per hypothesis (in the order of `lexical.hyps`): what its parser takes after its
    /// straddle's lexeme.
    pub(super) parse: Vec<ParseHyp>,
}

/// The lexical half of a [`MaskKey`]: everything lexing a token from the session's
/// hypotheses reads (the key of an `exact::LexTable`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct LexKey {
    /// The whole text, while some hypothesis has not seen the first lexeme of an indentation
    /// grammar (the text before it decides the first line's indentation).
    pub(super) text: Option<Box<[u8]>>,
    /// The hypotheses, in the session's order.
    pub(super) hyps: Vec<LexHyp>,
}

/// What a hypothesis contributes to the lexical key.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct LexHyp {
    pub(super) lex: LexStateId,
    /// Nothing of the straddle read yet.
    pub(super) fresh: bool,
    /// Positions (in the key) of the hypotheses guarding this one.
    pub(super) guards: Vec<u16>,
    /// The candidates (terminal, DFA state over the straddle), in the hypothesis's order.
    pub(super) cands: Vec<(TerminalId, DfaStateId)>,
    /// The leading blanks of the straddle's last line (from its last `\n`) when the layout
    /// stage will read them (a newline of an indentation grammar: its width decides INDENT or
    /// DEDENT).
    pub(super) straddle: Option<Box<[u8]>>,
}

/// What a hypothesis's parser takes next.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct ParseHyp {
    /// Per candidate: the terminals that may follow its lexeme.
    pub(super) followers: Vec<IdSet<TerminalId>>,
    /// For a newline candidate of an indentation grammar outside brackets, what the parser
    /// takes after the newline at each indentation width.
    pub(super) widths: Option<NewlineWidths>,
}

/// The part of a newline lexeme the indentation reads: from its last `\n` (the whole text
/// when it has none) up to the first byte that is not a blank (where the width stops).
pub(super) fn indentation_part(own: &[u8]) -> &[u8] {
    let from = own.iter().rposition(|&b| b == b'\n').unwrap_or(0);
    let blanks = own[from..].iter().skip(1).take_while(|&&b| matches!(b, b' ' | b'\t' | b'\x0c')).count();
    &own[from..(from + 1 + blanks).min(own.len())]
}

/// What the parser takes after a newline lexeme (and the INDENT or DEDENTs its width gives),
/// by the width of the line it opens.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct NewlineWidths {
    /// The open indentation levels, innermost last.
    levels: Vec<u32>,
    /// At exactly each level.
    at_level: Vec<IdSet<TerminalId>>,
    /// Deeper than the innermost level (INDENT).
    deeper: IdSet<TerminalId>,
    /// Between levels (an indentation error).
    between: IdSet<TerminalId>,
}

impl NewlineWidths {
    fn new(core: &Core<'_>, front: &Front<'_>, ind: &Indenter) -> NewlineWidths {
        let levels = ind.levels().to_vec();
        let after = |width: u32| {
            let mut text = vec![b'\n'];
            text.resize(1 + width as usize, b' ');
            let mut f = front.clone();
            if !f.push(core, Lexeme { terminal: ind.newline(), start: 0, end: text.len() }, &text) {
                return core.no_terminals();
            }
            f.lookahead(core, &text, text.len())
        };
        let top = levels.last().copied().unwrap_or(0);
        let at_level = levels.iter().map(|&w| after(w)).collect();
        let between = (0..top).find(|w| !levels.contains(w)).map_or_else(|| core.no_terminals(), after);
        NewlineWidths { deeper: after(top.saturating_add(1)), at_level, between, levels }
    }

    /// What the parser takes after a newline whose line is `width` wide.
    pub(super) fn at(&self, width: u32) -> &IdSet<TerminalId> {
        match self.levels.iter().position(|&l| l == width) {
            Some(j) => self.at_level.get(j).unwrap_or(&self.between),
            None if width > self.levels.last().copied().unwrap_or(0) => &self.deeper,
            None => &self.between,
        }
    }
}

impl MaskKey {
    /// The key of `state` at the end of `text`.
    pub(super) fn new(core: &Core<'_>, state: &State<'_>, text: &[u8], first: bool, eos: bool) -> MaskKey {
        let position = |id: u32| state.hyps.iter().position(|h| h.id == id).and_then(|i| u16::try_from(i).ok());
        let mut hyps = Vec::with_capacity(state.hyps.len());
        let mut parse = Vec::with_capacity(state.hyps.len());
        for h in &state.hyps {
            let followers = h.cands.iter().map(|&(terminal, _)| h.front.follow(core, terminal, text, h.start)).collect();
            let newline = match &h.front.layout {
                Layout::Indent(ind) if h.cands.iter().any(|&(t, _)| t == ind.newline()) => Some(ind),
                _ => None,
            };
            let straddle = newline.map(|_| indentation_part(text.get(h.start..).unwrap_or(&[])).into());
            let widths = newline.filter(|ind| ind.bracket_depth() == 0 && ind.started()).map(|ind| NewlineWidths::new(core, &h.front, ind));
            hyps.push(LexHyp { lex: h.lex, fresh: h.start >= text.len(), guards: h.guards.iter().filter_map(|&g| position(g)).collect(), cands: h.cands.clone(), straddle });
            parse.push(ParseHyp { followers, widths });
        }
        let text = state.needs_whole_text().then(|| text.into());
        MaskKey { first, eos, lexical: LexKey { text, hyps }, parse }
    }

    /// Bytes the key accounts for in the cache budget.
    pub(super) fn size_bytes(&self) -> usize {
        let parse = |p: &ParseHyp| 16 + p.followers.iter().map(|f| 8 * f.words().len()).sum::<usize>() + if p.widths.is_some() { 64 } else { 0 };
        8 + self.lexical.size_bytes() + self.parse.iter().map(parse).sum::<usize>()
    }

    /// The followers of candidate `terminal` of hypothesis `h`.
    pub(super) fn followers(&self, h: usize, terminal: TerminalId) -> Option<&IdSet<TerminalId>> {
        let j = self.lexical.hyps.get(h)?.cands.iter().position(|&(t, _)| t == terminal)?;
        self.parse.get(h)?.followers.get(j)
    }

    /// The length-2 superset of the viable tokens as a recipe; `first_allowed` decides a
    /// first-position token exactly.
    pub(super) fn recipe(&self, core: &Core<'_>, first_allowed: impl Fn(TokenId) -> bool) -> Recipe {
        let mut masks = Vec::new();
        for (h, p) in self.lexical.hyps.iter().zip(&self.parse) {
            for (&(t, q), f) in h.cands.iter().zip(&p.followers) {
                stored_masks(core, t, q, Some(f), &mut masks);
            }
        }
        masks.sort_unstable();
        masks.dedup();
        let (set, clear) = self.recipe_edits(core, first_allowed);
        Recipe { masks, set, clear }
    }

    /// The token edits after the union: first-position tokens set or cleared (decided by
    /// `first_allowed`), then EOS set when the text is complete.
    pub(super) fn recipe_edits(&self, core: &Core<'_>, first_allowed: impl Fn(TokenId) -> bool) -> (Vec<TokenId>, Vec<TokenId>) {
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
        (set, clear)
    }

}

impl LexKey {
    /// Bytes the key accounts for in the cache budget.
    pub(super) fn size_bytes(&self) -> usize {
        let hyp = |h: &LexHyp| 16 + 2 * h.guards.len() + 8 * h.cands.len() + h.straddle.as_ref().map_or(0, |s| s.len());
        self.text.as_ref().map_or(0, |t| t.len()) + self.hyps.iter().map(hyp).sum::<usize>()
    }

    /// The stored masks of every candidate with every follower: a superset of the viable
    /// tokens whatever the parsers hold.
    pub(super) fn any_parse_masks(&self, core: &Core<'_>) -> Vec<MaskId> {
        let mut masks = Vec::new();
        for &(t, q) in self.hyps.iter().flat_map(|h| &h.cands) {
            stored_masks(core, t, q, None, &mut masks);
        }
        masks.sort_unstable();
        masks.dedup();
        masks
    }

    /// The `live(state)` masks of the candidates of unguarded hypotheses: tokens that keep such
    /// a candidate's lexeme unfinished, viable whatever the parser holds (a live candidate keeps
    /// the combined lexer live, and the contextual lexer is the candidates).
    pub(super) fn certain_live(&self, core: &Core<'_>) -> Vec<MaskId> {
        let mut masks: Vec<MaskId> = self.hyps.iter().filter(|h| h.guards.is_empty()).flat_map(|h| &h.cands).filter_map(|&(t, q)| core.store.live(t, q)).collect();
        masks.sort_unstable();
        masks.dedup();
        masks
    }
}

/// The stored masks whose union is candidate `(t, q)`'s contribution: `live(q)`, `split(q, f)`
/// for every follower `f` (every one when `followers` is `None`), and for a refined `%ignore`
/// follower `g` also `live(g's start)` and `after_ignore[g][f]` for every follower `f`.
fn stored_masks(core: &Core<'_>, t: TerminalId, q: DfaStateId, followers: Option<&IdSet<TerminalId>>, out: &mut Vec<MaskId>) {
    let follows = |f: TerminalId| followers.map_or(true, |set| set.contains(f));
    out.extend(core.store.live(t, q));
    for (f, m, refined) in core.store.splits(t, q) {
        if !follows(f) {
            continue;
        }
        out.push(m);
        if refined {
            if let (Some(j), Some(d)) = (core.grammar.ignore.iter().position(|g| g.to_id() == f), core.dfa(f)) {
                out.extend(core.store.live(f, d.start()));
                for next in (0..core.n_terminals as u32).map(TerminalId::from_raw).filter(|&n| follows(n)) {
                    out.extend(core.store.after_ignore(j, next));
                }
            }
        }
    }
}

/// A mask as stored masks to OR, then tokens to set, then tokens to clear.
pub(super) struct Recipe {
    pub(super) masks: Vec<MaskId>,
    pub(super) set: Vec<TokenId>,
    pub(super) clear: Vec<TokenId>,
}

impl Recipe {
    /// Fills `out` with the recipe's row.
    pub(super) fn fill(&self, core: &Core<'_>, out: &mut [u32]) -> Result<(), StoreError> {
        masks::build_row(&core.store, self.masks.iter().copied(), self.set.iter().copied(), self.clear.iter().copied(), out)
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
