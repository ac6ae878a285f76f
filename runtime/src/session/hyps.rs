//! The incremental lexer: a text's *hypotheses* about how its tail is lexed, stepped one byte
//! at a time, and the parser+layout front each of them has committed lexemes to.
//!
//! - A [`Hyp`] is a [`Front`] (parser stack plus INDENT/DEDENT or semicolon-insertion state)
//!   after the lexemes it has committed, the start of its unfinished lexeme (the *straddle*),
//!   the combined lexer's state over the straddle, and the per-terminal DFA states of the
//!   terminals the parser accepts next whose DFA is still live on the straddle (*candidates*).
//! - Appending a byte advances every hypothesis. When the lexer dies after an accepting
//!   position, the longest lexeme is committed (maximal munch) and a new straddle starts. When
//!   the lexer leaves an accepting state into a live, non-accepting one (`1e`, `..`, `"""`), an
//!   alternative hypothesis "the lexeme ended here" is spawned; it is guarded by its parent and
//!   dropped as soon as the parent accepts again (munch would then prefer the longer lexeme).
//!
//! The stepping is generic over what a hypothesis commits lexemes to ([`Committer`]): the
//! session's [`Front`] (parser and layout), or the exact mask's recorder (`exact::Recorder`),
//! which keeps the lexemes instead of parsing them, so that tokens can be grouped by the
//! lexemes their bytes produce. Both run this same code, which is what makes the groups agree
//! with `accept_token`.
//!
//! **Invariant:** a [`State`] is viable (the text is a viable prefix) iff some hypothesis has a
//! candidate, or the text is the empty sentence of a grammar that allows nothing else; a hypothesis without candidates (a *ghost*) is kept only while another one is
//! guarded by it. Stepping never panics: every table read goes through checked accessors.

use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::{ArchivedId, DfaStateId, LexStateId, TerminalId};
use syncodec_artifacts::schema::ArchivedCompiledGrammar;

use super::context::Core;
use crate::indent::Indenter;
use crate::lexer::{Lexeme, Lexer};
use crate::parser::Parser;
use crate::semicolon::SemicolonInserter;

/// Bytes [`State::can_escape`] looks ahead (a UTF-8 character's continuation bytes fit).
const ESCAPE_DEPTH: usize = 4;

/// Distinct lexer states [`State::can_escape`] follows at one depth before giving up (as yes).
const ESCAPE_FRONTIER: usize = 64;

/// A front that takes every lexeme: lexing without the parser ([`State::can_escape`]).
#[derive(Clone)]
pub(super) struct Unparsed;

impl<'g> Committer<'g> for Unparsed {
    fn push(&mut self, _core: &Core<'g>, _lexeme: Lexeme, _text: &[u8]) -> bool {
        true
    }

    fn open_cands(&self, core: &Core<'g>, text: &[u8], at: usize) -> Vec<(TerminalId, DfaStateId)> {
        core.all_cands(text, at)
    }
}

/// The layout stage between the lexer and the parser.
#[derive(Clone)]
pub(super) enum Layout {
    Plain,
    Indent(Indenter),
    Semi(SemicolonInserter),
}

/// What the parser has seen: its stack plus the layout stage's state.
#[derive(Clone)]
pub(super) struct Front<'g> {
    pub(super) parser: Parser<'g>,
    pub(super) layout: Layout,
}

/// What a hypothesis commits its lexemes to; see the module docs.
pub(super) trait Committer<'g>: Clone {
    /// Commits one lexeme; `false` when it is rejected (the hypothesis is then dropped).
    fn push(&mut self, core: &Core<'g>, lexeme: Lexeme, text: &[u8]) -> bool;
    /// The candidates of a straddle starting at byte `at`: the terminals a lexeme there may
    /// be, with their DFA start states.
    fn open_cands(&self, core: &Core<'g>, text: &[u8], at: usize) -> Vec<(TerminalId, DfaStateId)>;
}

impl<'g> Committer<'g> for Front<'g> {
    fn push(&mut self, core: &Core<'g>, lexeme: Lexeme, text: &[u8]) -> bool {
        Front::push(self, core, lexeme, text)
    }

    fn open_cands(&self, core: &Core<'g>, text: &[u8], at: usize) -> Vec<(TerminalId, DfaStateId)> {
        let la = self.lookahead(core, text, at);
        la.iter().filter_map(|t| core.dfa(t).map(|d| (t, d.start()))).collect()
    }
}

impl<'g> Front<'g> {
    fn new(grammar: &'g ArchivedCompiledGrammar) -> Front<'g> {
        let layout = match (grammar.indentation.as_ref(), grammar.auto_semicolon.as_ref()) {
            (Some(ind), _) => Layout::Indent(Indenter::new(ind)),
            (None, Some(semi)) => Layout::Semi(SemicolonInserter::new(semi)),
            (None, None) => Layout::Plain,
        };
        Front { parser: Parser::new(grammar), layout }
    }

    /// Passes one lexeme through the layout stage to the parser. `false` when the parser (or
    /// the indentation) rejects it; the front is then garbage and must be dropped.
    pub(super) fn push(&mut self, core: &Core<'_>, lexeme: Lexeme, text: &[u8]) -> bool {
        if core.lexer.is_ignored(lexeme.terminal) {
            return true;
        }
        let mut queue = Vec::new();
        match &mut self.layout {
            Layout::Plain => queue.push(lexeme),
            Layout::Indent(ind) => {
                if ind.push(lexeme, text, &mut queue).is_err() {
                    return false;
                }
            }
            Layout::Semi(semi) => semi.push(lexeme, &mut queue),
        }
        queue.into_iter().all(|l| self.parser.feed(l.terminal).is_ok())
    }

    /// Whether the input may end here.
    fn can_finish(&self, end: usize) -> bool {
        let mut f = self.clone();
        let mut queue = Vec::new();
        match &mut f.layout {
            Layout::Plain => {}
            Layout::Indent(ind) => ind.finish(end, &mut queue),
            Layout::Semi(semi) => semi.finish(end, &mut queue),
        }
        queue.into_iter().all(|l| f.parser.feed(l.terminal).is_ok()) && f.parser.finish().is_ok()
    }

    /// The lexeme terminals that may come next, for a lexeme starting at byte `at`.
    pub(super) fn lookahead(&self, core: &Core<'_>, text: &[u8], at: usize) -> IdSet<TerminalId> {
        let mut set = core.ignore.clone();
        let (indenter, semicolons) = match &self.layout {
            Layout::Plain => (None, None),
            Layout::Indent(ind) => (Some(ind), None),
            Layout::Semi(semi) => (None, Some(semi)),
        };
        crate::parser::layout_lookahead(&self.parser, indenter, semicolons, text, at, &mut |t, on| {
            if on {
                set.insert(t);
            } else {
                set.remove(t);
            }
        });
        set
    }

    /// The lexeme terminals that may follow a lexeme of `terminal` starting at `at` whose end
    /// is not known yet.
    pub(super) fn follow(&self, core: &Core<'_>, terminal: TerminalId, text: &[u8], at: usize) -> IdSet<TerminalId> {
        if let Layout::Indent(ind) = &self.layout {
            if !ind.started() && core.lexer.is_ignored(terminal) {
                // Leading whitespace of the first line: its final width is unknown.
                let mut all = core.no_terminals();
                all.insert_below(core.n_terminals);
                return all;
            }
        }
        if core.lexer.is_ignored(terminal) {
            return self.lookahead(core, text, at);
        }
        if let Layout::Indent(ind) = &self.layout {
            if terminal == ind.newline() {
                if ind.bracket_depth() > 0 {
                    return self.lookahead(core, text, at);
                }
                // The newline's indentation is not known yet: union every outcome.
                let mut f = self.parser.clone();
                let mut set = core.ignore.clone();
                if f.feed(terminal).is_err() {
                    return set;
                }
                core.add_acceptable(&f, &mut set);
                let indentation = core.grammar.indentation.as_ref();
                if let Some(indent) = indentation.map(|i| i.indent.to_id()) {
                    let mut g = f.clone();
                    if g.feed(indent).is_ok() {
                        core.add_acceptable(&g, &mut set);
                    }
                }
                if let Some(dedent) = indentation.map(|i| i.dedent.to_id()) {
                    let mut g = f.clone();
                    for _ in 1..ind.levels().len() {
                        if g.feed(dedent).is_err() {
                            break;
                        }
                        core.add_acceptable(&g, &mut set);
                    }
                }
                return set;
            }
        }
        let mut f = self.clone();
        if !f.push(core, Lexeme { terminal, start: at, end: at.max(text.len()) }, text) {
            return core.no_terminals();
        }
        f.lookahead(core, text, text.len())
    }
}

/// One way the text's tail may be lexed; see the module docs.
#[derive(Clone)]
pub(super) struct Hyp<'g, F = Front<'g>> {
    pub(super) front: F,
    /// Start of the unfinished lexeme.
    pub(super) start: usize,
    /// Combined lexer state over `text[start..]`.
    pub(super) lex: LexStateId,
    /// Acceptable terminals still live on `text[start..]`, with their DFA states. Empty for a
    /// *ghost*: kept only to know when its guarded alternatives become invalid.
    pub(super) cands: Vec<(TerminalId, DfaStateId)>,
    pub(super) id: u32,
    /// Ids of hypotheses whose next accepting position invalidates this one.
    pub(super) guards: Vec<u32>,
    /// Marker for the front's lifetime when `F` does not hold it.
    _grammar: std::marker::PhantomData<&'g ()>,
}

impl<'g, F> Hyp<'g, F> {
    /// The same hypothesis committing to `front` instead.
    pub(super) fn with_front<G>(&self, front: G) -> Hyp<'g, G> {
        Hyp { front, start: self.start, lex: self.lex, cands: self.cands.clone(), id: self.id, guards: self.guards.clone(), _grammar: std::marker::PhantomData }
    }
}

/// The lexing state of a text: its hypotheses.
#[derive(Clone)]
pub(super) struct State<'g, F = Front<'g>> {
    pub(super) hyps: Vec<Hyp<'g, F>>,
    pub(super) next_id: u32,
    /// The empty text of a grammar whose only sentence it is (`start: `, no `%ignore`): no
    /// lexeme can start, yet the text is viable and complete. Its one hypothesis is a ghost at
    /// byte 0 (so `complete` sees the finished front); any byte ends it.
    pub(super) empty_sentence: bool,
}

impl<'g> State<'g> {
    /// The state of the empty text.
    pub(super) fn new(core: &Core<'g>) -> State<'g> {
        let mut state = State { hyps: Vec::new(), next_id: 0, empty_sentence: false };
        let front = Front::new(core.grammar);
        match state.open(core, front.clone(), 0, &[], Vec::new()) {
            Some(h) => state.hyps.push(h),
            None if front.can_finish(0) => {
                state.empty_sentence = true;
                state.hyps.push(Hyp { front, start: 0, lex: core.lexer.start(), cands: Vec::new(), id: 0, guards: Vec::new(), _grammar: std::marker::PhantomData });
            }
            None => {}
        }
        state
    }

    /// The state of `text`, lexed and parsed from its first byte.
    pub(super) fn from_text(core: &Core<'g>, text: &[u8]) -> State<'g> {
        let mut state = State::new(core);
        state.advance(core, text, 0);
        state
    }

    /// Whether `text` followed by `bytes` is still a viable prefix (`self` is `text`'s state).
    pub(super) fn viable_with(&self, core: &Core<'g>, text: &[u8], bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return self.viable(core, text);
        }
        let (w0, mut window) = self.window(text, bytes.len());
        window.extend_from_slice(bytes);
        let mut state = self.clone();
        for h in &mut state.hyps {
            h.start -= w0;
        }
        state.advance(core, &window, text.len() - w0);
        state.viable(core, &window)
    }

    /// Where the text that stepping more bytes may read again starts, and a copy of it with
    /// room for `extra` more bytes. Only the unfinished lexemes' bytes are read again (and,
    /// before the first lexeme of an indentation grammar, the text before it), so a check works
    /// on a window of the text starting at the earliest hypothesis, positions shifted by `w0`.
    pub(super) fn window(&self, text: &[u8], extra: usize) -> (usize, Vec<u8>) {
        let w0 = if self.needs_whole_text() { 0 } else { self.hyps.iter().map(|h| h.start).min().unwrap_or(text.len()) };
        let mut window = Vec::with_capacity(text.len() - w0 + extra);
        window.extend_from_slice(&text[w0..]);
        (w0, window)
    }

    /// Whether some hypothesis has not seen the first lexeme of an indentation grammar: the
    /// text before it decides the first line's indentation.
    pub(super) fn needs_whole_text(&self) -> bool {
        self.hyps.iter().any(|h| matches!(&h.front.layout, Layout::Indent(ind) if !ind.started()))
    }

    /// Whether the text is a complete program.
    pub(super) fn complete(&self, core: &Core<'g>, text: &[u8]) -> bool {
        self.hyps.iter().any(|h| {
            if h.start == text.len() {
                return h.front.can_finish(text.len());
            }
            if h.cands.is_empty() {
                return false;
            }
            let Some(w) = core.accepts(h) else { return false };
            let mut front = h.front.clone();
            front.push(core, Lexeme { terminal: w, start: h.start, end: text.len() }, text) && front.can_finish(text.len())
        })
    }
}

impl<'g, F: Committer<'g>> State<'g, F> {
    /// A hypothesis whose unfinished lexeme starts at `at` (nothing of it read yet).
    fn open(&mut self, core: &Core<'g>, front: F, at: usize, text: &[u8], guards: Vec<u32>) -> Option<Hyp<'g, F>> {
        let cands = front.open_cands(core, text, at);
        if cands.is_empty() {
            return None;
        }
        self.next_id += 1;
        Some(Hyp { front, start: at, lex: core.lexer.start(), cands, id: self.next_id, guards, _grammar: std::marker::PhantomData })
    }

    /// Whether the text (ending `text`) is a viable prefix: some hypothesis has a candidate
    /// and is either unguarded or can outlive its guards ([`State::witnesses`]).
    pub(super) fn viable(&self, core: &Core<'g>, text: &[u8]) -> bool {
        self.empty_sentence || self.witnesses(core, text).next().is_some()
    }

    /// The hypotheses that make the text viable: those with a candidate, except that guarded
    /// ones count only when some continuation of the text leaves a candidate to a hypothesis no
    /// present one guards. Without that, a guard certain to fire leaves a dead end: after a
    /// keyword the parser takes, the first byte of a multi-byte character opens "keyword, then
    /// a NAME" guarded by the longer NAME, which every completed character makes accept.
    pub(super) fn witnesses<'s>(&'s self, core: &Core<'g>, text: &[u8]) -> impl Iterator<Item = &'s Hyp<'g, F>> + 's {
        let guarded = |h: &Hyp<'g, F>| h.guards.iter().any(|g| self.hyps.iter().any(|o| o.id == *g));
        let any_guarded = self.hyps.iter().any(|h| !h.cands.is_empty() && guarded(h));
        let all_guarded = !self.hyps.iter().any(|h| !h.cands.is_empty() && !guarded(h));
        let escapes = any_guarded && all_guarded && self.can_escape(core, text);
        self.hyps.iter().filter(move |h| !h.cands.is_empty() && (escapes || !guarded(h)))
    }

    /// Whether some continuation of `text` (at most [`ESCAPE_DEPTH`] bytes, lexed without the
    /// parser) leaves a candidate to an unguarded hypothesis. Undecided within the bounds counts
    /// as yes, so this never turns a viable text into a dead one.
    fn can_escape(&self, core: &Core<'g>, text: &[u8]) -> bool {
        let w0 = self.hyps.iter().map(|h| h.start).min().unwrap_or(text.len()).min(text.len());
        let hyps = self.hyps.iter().map(|h| {
            let mut u = h.with_front(Unparsed);
            u.start -= w0;
            u
        });
        let start = State { hyps: hyps.collect(), next_id: self.next_id, empty_sentence: false };
        let mut frontier = vec![(start, text[w0..].to_vec())];
        for _ in 0..ESCAPE_DEPTH {
            let mut next: Vec<(State<'g, Unparsed>, Vec<u8>)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (state, buf) in &frontier {
                for b in 0..=255u8 {
                    let mut buf = buf.clone();
                    buf.push(b);
                    let mut s = state.clone();
                    s.step(core, &buf, buf.len() - 1);
                    let ids: Vec<u32> = s.hyps.iter().map(|h| h.id).collect();
                    let free = |h: &Hyp<'g, Unparsed>| !h.guards.iter().any(|g| ids.contains(g));
                    if s.hyps.iter().any(|h| !h.cands.is_empty() && free(h)) {
                        return true;
                    }
                    if !s.hyps.iter().any(|h| !h.cands.is_empty()) {
                        continue;
                    }
                    let signature: Vec<_> = s.hyps.iter().map(|h| (h.lex, h.cands.clone(), buf.len() - h.start, h.guards.iter().filter_map(|g| ids.iter().position(|i| i == g)).collect::<Vec<_>>())).collect();
                    if seen.insert(signature) {
                        next.push((s, buf));
                    }
                }
            }
            if next.is_empty() {
                return false;
            }
            if next.len() > ESCAPE_FRONTIER {
                return true;
            }
            frontier = next;
        }
        true
    }

    /// Appends `text[from..]` (already in `text`) byte by byte.
    pub(super) fn advance(&mut self, core: &Core<'g>, text: &[u8], from: usize) {
        for i in from..text.len() {
            self.step(core, text, i);
            if self.hyps.is_empty() {
                return;
            }
        }
    }

    /// Steps one hypothesis's unfinished lexeme over byte `b`; `false` when the lexer dies
    /// (with the contextual lexer: when no candidate is left).
    fn step_straddle(core: &Core<'g>, h: &mut Hyp<'g, F>, b: u8) -> bool {
        if !core.contextual {
            h.lex = core.lexer.step(h.lex, b);
            if Lexer::is_dead(h.lex) {
                return false;
            }
        }
        step_cands(core, &mut h.cands, b);
        !core.contextual || !h.cands.is_empty()
    }

    /// Appends byte `text[i]`.
    pub(super) fn step(&mut self, core: &Core<'g>, text: &[u8], i: usize) {
        let b = text[i];
        self.empty_sentence = false;
        let mut out: Vec<Hyp<'g, F>> = Vec::with_capacity(self.hyps.len() + 1);
        let mut accepted: Vec<u32> = Vec::new();
        for mut h in std::mem::take(&mut self.hyps) {
            let was = if i > h.start { core.accepts(&h) } else { None };
            // Where the lexer is after `b`: dead, or whether a lexeme may end there. The
            // contextual lexer is the candidates themselves, stepped here once.
            let had_cands = !h.cands.is_empty();
            let (dead, next_accepts) = if core.contextual {
                step_cands(core, &mut h.cands, b);
                (h.cands.is_empty(), core.lexer.winner(&h.cands))
            } else {
                let next = core.lexer.step(h.lex, b);
                (Lexer::is_dead(next), core.lexer.accepts(next))
            };
            if dead {
                if let Some(w) = was {
                    // Maximal munch: the lexeme [start, i) is final. Commit it and restart at i.
                    let mut front = h.front;
                    if !front.push(core, Lexeme { terminal: w, start: h.start, end: i }, text) {
                        continue;
                    }
                    if let Some(mut nh) = self.open(core, front, i, text, h.guards) {
                        if Self::step_straddle(core, &mut nh, b) {
                            if core.accepts(&nh).is_some() {
                                accepted.push(nh.id);
                            }
                            out.push(nh);
                        }
                    }
                }
                continue;
            }
            if let Some(w) = was {
                if next_accepts.is_none() && had_cands {
                    // Leaving an accepting state: the lexeme may also end at i.
                    let mut front = h.front.clone();
                    if front.push(core, Lexeme { terminal: w, start: h.start, end: i }, text) {
                        let mut guards = h.guards.clone();
                        guards.push(h.id);
                        if let Some(mut alt) = self.open(core, front, i, text, guards) {
                            if Self::step_straddle(core, &mut alt, b) {
                                out.push(alt);
                            }
                        }
                    }
                }
            }
            if !core.contextual {
                Self::step_straddle(core, &mut h, b);
            }
            if core.accepts(&h).is_some() {
                accepted.push(h.id);
            }
            out.push(h);
        }
        if !accepted.is_empty() {
            out.retain(|h| !h.guards.iter().any(|g| accepted.contains(g)));
        }
        // Ghosts matter only while something is guarded by them.
        let guarded: Vec<u32> = out.iter().flat_map(|h| h.guards.iter().copied()).collect();
        out.retain(|h| !h.cands.is_empty() || guarded.contains(&h.id));
        self.hyps = out;
    }
}

/// Steps every candidate over `b`, dropping those that can no longer reach a lexeme.
fn step_cands(core: &Core<'_>, cands: &mut Vec<(TerminalId, DfaStateId)>, b: u8) {
    cands.retain_mut(|(t, q)| match core.dfa(*t) {
        Some(d) => {
            *q = d.step(*q, b);
            d.is_live(*q)
        }
        None => false,
    });
}
