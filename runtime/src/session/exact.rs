//! Exact masks: the length-2 superset of `key` narrowed to exactly the tokens `accept_token`
//! accepts.
//!
//! On a cache miss, every token of the superset that is not certain already (a `live` mask of
//! an unguarded hypothesis's candidate: it keeps that lexeme unfinished, whatever the parser
//! holds) is lexed from the session's hypotheses by the session's own stepping code
//! (`hyps::State::step`), with a [`Recorder`] in place of each hypothesis's parser: it keeps the
//! lexemes instead of parsing them, and offers every terminal as a candidate after each of
//! them. Each surviving branch of a token is then
//!
//! - a hypothesis that committed nothing: its candidates are the session's, so the token is
//!   viable;
//! - or the lexemes it committed (the *sequence*: terminals, plus the bytes the layout stage
//!   reads, and no `%ignore`d lexeme unless the first line's indentation is still open) and the
//!   terminals live on its new straddle (`L`). The token is viable through it iff the parser of
//!   the branch's hypothesis takes the sequence and then a terminal of `L`.
//!
//! A sequence of at most one lexeme, the straddle's own, is decided on the spot: the key holds
//! what the parser takes after it (the candidate's followers). Longer sequences (tokens that
//! cross two or more lexeme boundaries, an indentation newline whose width decides INDENT or
//! DEDENT) depend on more of the parser stack than the key holds, so they are kept as
//! [`Group`]s: every distinct `(hypothesis, sequence)` once, with its tokens by `L`. At each
//! fill the sequence is pushed through a copy of that hypothesis's front, once, and the tokens
//! of every `L` the parser then takes are added wholesale.
//!
//! **Exactness.** The recorder runs the same stepping as `accept_token` (maximal munch, the
//! "lexeme may end here" alternatives and their guards, ghosts), which never consults the parser
//! with the combined lexer except through a hypothesis's candidates, and every consultation is
//! replayed on the real front: a branch the real stepping would have dropped for a rejected
//! lexeme is rejected when its sequence is pushed. So a token is set iff some branch survives
//! the real stepping with a candidate: iff `accept_token` accepts it. The contextual lexer lexes
//! by what the parser takes, so there the undecided tokens are checked one by one instead.
//!
//! **Invariant:** an [`ExactMask`] is a function of its `MaskKey` (see `key`): the recorder
//! reads only what the key holds, and hypotheses are addressed by their position in the key.

use std::collections::HashMap;
use std::sync::Arc;

use syncodec_artifacts::bits::{row, IdSet};
use syncodec_artifacts::ids::{DfaStateId, TerminalId, TokenId};

use super::context::Core;
use super::hyps::{Committer, Hyp, Layout, State};
use super::key::{indentation_part, LexKey, MaskKey};
use crate::indent::Indenter;
use crate::lexer::Lexeme;
use crate::masks::{self, StoreError};

/// A hypothesis front that records the lexemes committed to it; see the module docs.
#[derive(Clone)]
pub(super) struct Recorder {
    /// Position of the session's hypothesis this branch descends from.
    origin: usize,
    lexemes: Vec<Lexeme>,
}

impl<'g> Committer<'g> for Recorder {
    fn push(&mut self, _core: &Core<'g>, lexeme: Lexeme, _text: &[u8]) -> bool {
        self.lexemes.push(lexeme);
        true
    }

    fn open_cands(&self, core: &Core<'g>, text: &[u8], at: usize) -> Vec<(TerminalId, DfaStateId)> {
        core.all_cands(text, at)
    }
}

/// One lexeme of a sequence: its terminal, and its bytes where the layout stage reads them.
type SeqLexeme = (TerminalId, Option<Box<[u8]>>);

/// How lexing tokens from one [`LexKey`] turns out, whatever the parsers hold: the tokens
/// viable already, and the others by branch. Shared by every key with this lexical half.
pub(super) struct LexTable {
    /// Tokens viable whatever the parsers hold (they keep a candidate's lexeme unfinished).
    row: Box<[u32]>,
    buckets: Vec<Bucket>,
    /// Tokens checked one by one at each fill (the contextual lexer).
    recheck: Vec<TokenId>,
}

/// Tokens whose branches commit the same lexemes from the same hypothesis, by the terminals
/// live on their new straddle.
struct Bucket {
    origin: usize,
    lexemes: Vec<SeqLexeme>,
    decide: Decide,
    outcomes: Vec<(IdSet<TerminalId>, Tokens)>,
}

/// The tokens of one outcome: ids, or a row once they are more than a row has words (a fill
/// then ORs words instead of setting bits one by one).
enum Tokens {
    Ids(Vec<TokenId>),
    Row(Box<[u32]>),
}

impl Tokens {
    /// Adds the tokens to `out`.
    fn add_to(&self, out: &mut [u32]) {
        match self {
            Tokens::Ids(ids) => row::set_all(out, ids.iter().map(|t| t.as_usize())),
            Tokens::Row(r) => row::union(out, r),
        }
    }

    fn size_bytes(&self) -> usize {
        match self {
            Tokens::Ids(ids) => 4 * ids.len(),
            Tokens::Row(r) => 4 * r.len(),
        }
    }
}

/// How a bucket is decided.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Decide {
    /// By the followers of the origin's candidate for this terminal (the lexemes are the
    /// straddle's own, or only `%ignore`d ones).
    Followers(TerminalId),
    /// By what the origin's parser takes after a newline (this terminal) whose line is this
    /// wide; inside brackets, where the newline is dropped, by its followers.
    Width(TerminalId, u32),
    /// By pushing the lexemes through a copy of the origin's front, at each fill.
    Check,
}

impl LexTable {
    /// Lexes the tokens `lexical` leaves open; `state` at the end of `text` is the state the
    /// key was taken from, `byte_order` the text token ids sorted by bytes ([`byte_order`]).
    pub(super) fn build(core: &Core<'_>, lexical: &LexKey, state: &State<'_>, text: &[u8], byte_order: &[u32]) -> Result<LexTable, StoreError> {
        let words = core.vocab.words();
        let mut todo = vec![0u32; words];
        masks::build_row(&core.store, lexical.any_parse_masks(core), [], [], &mut todo)?;
        let mut row = vec![0u32; words];
        masks::build_row(&core.store, lexical.certain_live(core), [], [], &mut row)?;
        row::subtract(&mut todo, &row);
        if core.contextual {
            let recheck = row::iter_ones(&todo).map(|t| TokenId::from_raw(t as u32)).collect();
            return Ok(LexTable { row: row.into(), buckets: Vec::new(), recheck });
        }
        let mut lexer = GroupLexer::new(state, text);
        let mut grouper = Grouper::default();
        let tokens = byte_order.iter().map(|&t| TokenId::from_raw(t)).filter(|t| row::get(&todo, t.as_usize())).filter_map(|t| Some((t, core.vocab.bytes(t)?)));
        lexer.lex_sorted(core, tokens, |lexer, t, st| grouper.add(core, lexer, t, st, &mut row));
        let mut buckets = grouper.finish(words);
        buckets.sort_by(|a, b| (a.origin, &a.lexemes).cmp(&(b.origin, &b.lexemes)));
        Ok(LexTable { row: row.into(), buckets, recheck: Vec::new() })
    }

    /// Bytes the table accounts for in the cache budget.
    pub(super) fn size_bytes(&self) -> usize {
        let bucket = |b: &Bucket| {
            let lexemes: usize = b.lexemes.iter().map(|(_, b)| 8 + b.as_ref().map_or(0, |b| b.len())).sum();
            let outcomes: usize = b.outcomes.iter().map(|(l, ts)| 8 * l.words().len() + ts.size_bytes() + 48).sum();
            64 + lexemes + outcomes
        };
        4 * (self.row.len() + self.recheck.len()) + self.buckets.iter().map(bucket).sum::<usize>()
    }
}

/// Why SynCode's length-2 superset (the stored masks' union, [`Session::describe_mask`]'s
/// `masks`) allows tokens the session refuses, in tokens; see
/// [`Session::superset_causes`](super::Session::superset_causes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SupersetCauses {
    /// The token crosses two or more lexeme boundaries and the parser refuses a later lexeme.
    pub multi_boundary: usize,
    /// A newline whose width gives an indentation the parser refuses (INDENT or DEDENTs).
    pub indentation: usize,
    /// The lexer ends the lexeme elsewhere or as another terminal than the split the store
    /// assumed (maximal munch across terminals, a keyword instead of a NAME).
    pub lexer_split: usize,
    /// No way of lexing the token survives (the lexer dies, or only guarded alternatives).
    pub unlexable: usize,
}

impl SupersetCauses {
    pub fn add(&mut self, other: &SupersetCauses) {
        self.multi_boundary += other.multi_boundary;
        self.indentation += other.indentation;
        self.lexer_split += other.lexer_split;
        self.unlexable += other.unlexable;
    }
}

impl LexTable {
    /// Sorts the `refused` tokens by cause, each once (buckets of two or more lexemes first,
    /// then newline widths, then the other buckets; a token in none is unlexable).
    pub(super) fn causes(&self, refused: &[u32]) -> SupersetCauses {
        let mut left = refused.to_vec();
        let mut causes = SupersetCauses::default();
        let take = |b: &Bucket, left: &mut Vec<u32>| {
            let mut n = 0;
            for (_, tokens) in &b.outcomes {
                let ids: Vec<usize> = match tokens {
                    Tokens::Ids(ids) => ids.iter().map(|t| t.as_usize()).collect(),
                    Tokens::Row(r) => row::iter_ones(r).collect(),
                };
                for t in ids {
                    if row::get(left, t) {
                        row::unset(left, t);
                        n += 1;
                    }
                }
            }
            n
        };
        for b in self.buckets.iter().filter(|b| b.lexemes.len() >= 2) {
            causes.multi_boundary += take(b, &mut left);
        }
        for b in self.buckets.iter().filter(|b| b.lexemes.len() < 2 && matches!(b.decide, Decide::Width(..))) {
            causes.indentation += take(b, &mut left);
        }
        for b in self.buckets.iter().filter(|b| b.lexemes.len() < 2) {
            causes.lexer_split += take(b, &mut left);
        }
        causes.unlexable = row::count(&left);
        causes
    }
}

/// The exact mask of one key: the tokens decided for it, the buckets of its [`LexTable`]
/// checked against the parser at each fill, and the final token edits (first position, EOS).
pub(super) struct ExactMask {
    /// The decided tokens; with the edits applied when nothing is left to check.
    base: Box<[u32]>,
    table: Arc<LexTable>,
    /// Indices of the buckets of `table` a fill checks.
    checked: Vec<usize>,
    /// Tokens a fill checks one by one (the contextual lexer).
    recheck: Vec<TokenId>,
    set: Vec<TokenId>,
    clear: Vec<TokenId>,
}

impl ExactMask {
    /// The exact mask of `key` from its lexical table; `first_allowed` decides a
    /// first-position token exactly.
    pub(super) fn build(core: &Core<'_>, key: &MaskKey, table: Arc<LexTable>, first_allowed: impl Fn(TokenId) -> bool) -> ExactMask {
        let edits = key.recipe_edits(core, first_allowed);
        let mut base = table.row.clone();
        let mut checked = Vec::new();
        let mut recheck = Vec::new();
        if !table.recheck.is_empty() {
            // The contextual lexer: only the tokens of this key's superset need the check.
            let recipe = key.recipe(core, |_| false);
            let mut superset = vec![0u32; base.len()];
            if recipe.fill(core, &mut superset).is_ok() {
                recheck.extend(table.recheck.iter().copied().filter(|t| row::get(&superset, t.as_usize())));
            } else {
                recheck.extend(table.recheck.iter().copied());
            }
        }
        for (i, b) in table.buckets.iter().enumerate() {
            let taken = match b.decide {
                Decide::Followers(t) => key.followers(b.origin, t),
                Decide::Width(newline, width) => match key.parse.get(b.origin).and_then(|p| p.widths.as_ref()) {
                    Some(widths) => Some(widths.at(width)),
                    None => key.followers(b.origin, newline),
                },
                Decide::Check => {
                    checked.push(i);
                    continue;
                }
            };
            // A straddle lexeme the parser does not take is refused with its branch.
            let Some(taken) = taken else { continue };
            for (live, tokens) in &b.outcomes {
                if live.intersects(taken) {
                    tokens.add_to(&mut base);
                }
            }
        }
        let mut mask = ExactMask { base, table, checked, recheck, set: edits.0, clear: edits.1 };
        if !mask.has_checks() {
            apply_edits(core, &mask.set, &mask.clear, &mut mask.base);
        }
        mask
    }

    /// Whether a fill has work beyond copying the row.
    fn has_checks(&self) -> bool {
        !self.checked.is_empty() || !self.recheck.is_empty()
    }

    pub(super) fn table(&self) -> &LexTable {
        &self.table
    }

    /// Buckets a fill checks against the parser.
    pub(super) fn n_checked(&self) -> usize {
        self.checked.len()
    }

    /// Bytes the entry accounts for in the cache budget (its table is counted once, apart).
    pub(super) fn size_bytes(&self) -> usize {
        4 * (self.base.len() + self.recheck.len() + self.set.len() + self.clear.len()) + 8 * self.checked.len()
    }

    /// Fills `out` with the mask of `state` at the end of `text` (the state the key was taken
    /// from); `viable` decides one token exactly (for the table's `recheck`).
    pub(super) fn fill(&self, core: &Core<'_>, state: &State<'_>, text: &[u8], out: &mut [u32], viable: impl Fn(TokenId) -> bool) {
        out.copy_from_slice(&self.base);
        if !self.has_checks() {
            return;
        }
        let mut synthetic = Vec::new();
        for b in self.checked.iter().filter_map(|&i| self.table.buckets.get(i)) {
            let Some(h) = state.hyps.get(b.origin) else { continue };
            let Some(taken) = taken_after(core, h, text, &b.lexemes, &mut synthetic) else { continue };
            for (live, tokens) in &b.outcomes {
                if live.intersects(&taken) {
                    tokens.add_to(out);
                }
            }
        }
        for &t in &self.recheck {
            if viable(t) {
                row::set(out, t.as_usize());
            }
        }
        apply_edits(core, &self.set, &self.clear, out);
    }
}

/// Applies the first-position and EOS edits to `out` and clears its padding.
fn apply_edits(core: &Core<'_>, set: &[TokenId], clear: &[TokenId], out: &mut [u32]) {
    for t in set {
        row::set(out, t.as_usize());
    }
    for t in clear {
        row::unset(out, t.as_usize());
    }
    row::keep_below(out, core.vocab.n_tokens());
}

/// The terminals `h`'s parser takes after the lexemes of `sequence` (`None` when it refuses one
/// of them), as the lookahead of a new straddle. `synthetic` is scratch: the text the layout
/// stage reads (the text before the straddle while the first line is open, then each lexeme's
/// recorded bytes).
fn taken_after(core: &Core<'_>, h: &Hyp<'_>, text: &[u8], sequence: &[SeqLexeme], synthetic: &mut Vec<u8>) -> Option<IdSet<TerminalId>> {
    let mut front = h.front.clone();
    synthetic.clear();
    if first_line_open(&h.front.layout) {
        synthetic.extend_from_slice(text.get(..h.start)?);
    }
    for (terminal, bytes) in sequence {
        let start = synthetic.len();
        if let Some(b) = bytes {
            synthetic.extend_from_slice(b);
        }
        if !front.push(core, Lexeme { terminal: *terminal, start, end: synthetic.len() }, synthetic) {
            return None;
        }
    }
    Some(front.lookahead(core, synthetic, synthetic.len()))
}

/// Whether the first lexeme of an indentation grammar is still unseen (the text before it
/// decides the first line's indentation).
fn first_line_open(layout: &Layout) -> bool {
    matches!(layout, Layout::Indent(ind) if !ind.started())
}

/// Sorts lexed tokens into buckets. Branches are looked up by an encoding in a reused buffer,
/// so that a token of a known bucket and outcome costs no allocation.
#[derive(Default)]
struct Grouper {
    /// Encoded `(hypothesis, decide, sequence)` to bucket.
    buckets_by_code: HashMap<Box<[u32]>, usize>,
    /// The tokens of each outcome of each bucket, while lexing.
    tokens: Vec<Vec<Vec<TokenId>>>,
    /// Encoded `(hypothesis, decide, sequence, live)` to bucket and outcome.
    outcomes_by_code: HashMap<Box<[u32]>, (usize, usize)>,
    buckets: Vec<Bucket>,
    code: Vec<u32>,
}

impl Grouper {
    /// Files token `t`, lexed to `st` (`None`: refused by the lexer), into `row` (viable
    /// whatever the parsers hold) or its branches' buckets.
    fn add(&mut self, core: &Core<'_>, lexer: &GroupLexer<'_>, t: TokenId, st: Option<&State<'_, Recorder>>, row: &mut [u32]) {
        let Some(st) = st else { return };
        let live_hyps = || st.witnesses(core, &lexer.buf);
        if live_hyps().any(|h| h.front.lexemes.is_empty()) {
            row::set(row, t.as_usize());
            return;
        }
        for h in live_hyps() {
            let origin = h.front.origin;
            let Some((first_line, indenter)) = lexer.layouts.get(origin) else { continue };
            let newline = indenter.as_ref().map(Indenter::newline);
            self.code.clear();
            self.code.push(origin as u32);
            lexer.encode(core, *first_line, newline, &h.front.lexemes, &mut self.code);
            let sequence_len = self.code.len();
            let mut live = core.no_terminals();
            for &(terminal, _) in &h.cands {
                live.insert(terminal);
            }
            self.code.extend(live.words().iter().flat_map(|&w| [w as u32, (w >> 32) as u32]));
            if let Some(&(b, o)) = self.outcomes_by_code.get(&self.code[..]) {
                if let Some(tokens) = self.tokens.get_mut(b).and_then(|b| b.get_mut(o)) {
                    tokens.push(t);
                }
                continue;
            }
            let b = match self.buckets_by_code.get(&self.code[..sequence_len]) {
                Some(&b) => b,
                None => {
                    let lexemes = lexer.sequence(core, *first_line, newline, &h.front.lexemes);
                    let decide = decide(*first_line, indenter.as_ref(), &h.front.lexemes, &lexemes);
                    self.buckets.push(Bucket { origin, lexemes, decide, outcomes: Vec::new() });
                    self.tokens.push(Vec::new());
                    self.buckets_by_code.insert(self.code[..sequence_len].into(), self.buckets.len() - 1);
                    self.buckets.len() - 1
                }
            };
            let (Some(bucket), Some(tokens)) = (self.buckets.get_mut(b), self.tokens.get_mut(b)) else { continue };
            bucket.outcomes.push((live, Tokens::Ids(Vec::new())));
            tokens.push(vec![t]);
            self.outcomes_by_code.insert(self.code[..].into(), (b, bucket.outcomes.len() - 1));
        }
    }

    /// The buckets with their tokens, as ids or rows of `words` words.
    fn finish(self, words: usize) -> Vec<Bucket> {
        let mut buckets = self.buckets;
        for (bucket, tokens) in buckets.iter_mut().zip(self.tokens) {
            for ((_, slot), ids) in bucket.outcomes.iter_mut().zip(tokens) {
                *slot = if ids.len() > words {
                    let mut r = vec![0u32; words];
                    row::set_all(&mut r, ids.iter().map(|t| t.as_usize()));
                    Tokens::Row(r.into())
                } else {
                    Tokens::Ids(ids)
                };
            }
        }
        buckets
    }
}

/// Lexes tokens from a session's hypotheses with [`Recorder`]s.
struct GroupLexer<'g> {
    state: State<'g, Recorder>,
    /// Per hypothesis: whether the first line is open (its `%ignore`d lexemes are kept), and
    /// the indenter of an indentation grammar.
    layouts: Vec<(bool, Option<Indenter>)>,
    window: Vec<u8>,
    buf: Vec<u8>,
}

impl<'g> GroupLexer<'g> {
    fn new(state: &State<'g>, text: &[u8]) -> GroupLexer<'g> {
        let (w0, window) = state.window(text, 0);
        let hyps = state
            .hyps
            .iter()
            .enumerate()
            .map(|(origin, h)| {
                let mut r = h.with_front(Recorder { origin, lexemes: Vec::new() });
                r.start -= w0;
                r
            })
            .collect();
        let layouts = state
            .hyps
            .iter()
            .map(|h| match &h.front.layout {
                Layout::Indent(ind) => (!ind.started(), Some(ind.clone())),
                _ => (false, None),
            })
            .collect();
        GroupLexer { state: State { hyps, next_id: state.next_id, empty_sentence: false }, layouts, window, buf: Vec::new() }
    }

    /// Lexes `tokens` (in increasing byte order, so that a token reuses the states of the
    /// prefix it shares with the previous one) and reports each one's verdict.
    fn lex_sorted<'t>(&mut self, core: &Core<'g>, tokens: impl Iterator<Item = (TokenId, &'t [u8])>, mut report: impl FnMut(&Self, TokenId, Option<&State<'g, Recorder>>)) {
        let base = self.window.len();
        // states[d]: the state after the first d bytes of the current token.
        let mut states: Vec<State<'g, Recorder>> = vec![self.state.clone()];
        let mut prev: &[u8] = &[];
        self.buf.clear();
        self.buf.extend_from_slice(&self.window);
        for (t, bytes) in tokens {
            let shared = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count().min(states.len() - 1);
            states.truncate(shared + 1);
            self.buf.truncate(base + shared);
            self.buf.extend_from_slice(&bytes[shared..]);
            for d in shared..bytes.len() {
                let Some(last) = states.last() else { break };
                if last.hyps.is_empty() {
                    break;
                }
                let mut next = last.clone();
                next.step(core, &self.buf, base + d);
                states.push(next);
            }
            prev = bytes;
            report(self, t, states.get(bytes.len()).filter(|st| !st.hyps.is_empty()));
        }
    }

    /// Appends [`GroupLexer::sequence`] (with how it is decided) to `code`, without
    /// allocating: per lexeme its terminal, then its byte count (`u32::MAX` for none) and bytes.
    fn encode(&self, core: &Core<'_>, first_line: bool, newline: Option<TerminalId>, lexemes: &[Lexeme], code: &mut Vec<u32>) {
        code.push(lexemes.first().map_or(u32::MAX, |l| l.terminal.raw()));
        for l in lexemes {
            let ignored = core.lexer.is_ignored(l.terminal);
            if ignored && !first_line {
                continue;
            }
            code.push(l.terminal.raw());
            let own = self.buf.get(l.start..l.end).unwrap_or(&[]);
            let bytes = if ignored {
                Some(own)
            } else if Some(l.terminal) == newline {
                Some(indentation_part(own))
            } else {
                None
            };
            match bytes {
                Some(b) => {
                    code.push(b.len() as u32);
                    code.extend(b.iter().map(|&b| u32::from(b)));
                }
                None => code.push(u32::MAX),
            }
        }
    }

    /// The lexemes as the parser and layout stage see them (see [`SeqLexeme`]).
    fn sequence(&self, core: &Core<'_>, first_line: bool, newline: Option<TerminalId>, lexemes: &[Lexeme]) -> Vec<SeqLexeme> {
        lexemes
            .iter()
            .filter_map(|l| {
                let ignored = core.lexer.is_ignored(l.terminal);
                if ignored && !first_line {
                    return None;
                }
                let own = self.buf.get(l.start..l.end).unwrap_or(&[]);
                let bytes = if ignored {
                    Some(own.into())
                } else if Some(l.terminal) == newline {
                    Some(indentation_part(own).into())
                } else {
                    None
                };
                Some((l.terminal, bytes))
            })
            .collect()
    }
}

/// How a branch is decided: by the key when it holds what the parser takes after the lexemes
/// (none or only `%ignore`d ones committed, or the straddle's own lexeme; for a newline of an
/// indentation grammar outside brackets, by its width), outside an open first line; else by a
/// check at each fill.
fn decide(first_line: bool, indenter: Option<&Indenter>, lexemes: &[Lexeme], sequence: &[SeqLexeme]) -> Decide {
    let Some(first) = lexemes.first().map(|l| l.terminal) else { return Decide::Check };
    if first_line {
        return Decide::Check;
    }
    match sequence {
        [] => Decide::Followers(first),
        // The bracket depth is not part of the lexical key: `Width` covers both cases.
        [(t, bytes)] if *t == first => match (indenter.filter(|ind| ind.newline() == first), bytes) {
            (Some(ind), Some(bytes)) => Decide::Width(first, ind.width_after_newline(bytes)),
            (Some(_), None) => Decide::Check,
            (None, _) => Decide::Followers(first),
        },
        _ => Decide::Check,
    }
}

/// The text tokens (not special, with bytes) sorted by their bytes, ids with equal bytes by id.
pub(super) fn byte_order(core: &Core<'_>) -> Box<[u32]> {
    let vocab = core.vocab;
    let mut ids: Vec<u32> = (0..vocab.n_tokens() as u32).filter(|&t| !vocab.is_special(t) && vocab.bytes(t).is_some_and(|b| !b.is_empty())).collect();
    ids.sort_by(|&a, &b| (vocab.bytes(a), a).cmp(&(vocab.bytes(b), b)));
    ids.into()
}
