//! Per-sequence constrained decoding: the text so far, its incremental lex/parse state, and the
//! token mask for the next step.
//!
//! A [`Session`] holds the text generated so far (the prompt's code prefix plus accepted tokens)
//! as a committed parser state plus a small set of *hypotheses* about the text's last,
//! possibly unfinished lexeme (the paper's remainder):
//!
//! - A hypothesis is a parser+layout state (INDENT/DEDENT or semicolon insertion applied) after
//!   the lexemes it has committed, the start of its unfinished lexeme (the *straddle*), the
//!   combined lexer's state over the straddle, and the per-terminal DFA states of the terminals
//!   the parser accepts next whose DFA is still live on the straddle (*candidates*).
//! - Appending a byte advances every hypothesis. When the lexer dies after an accepting
//!   position, the longest lexeme is committed (maximal munch) and a new straddle starts. When
//!   the lexer leaves an accepting state into a live, non-accepting one (`1e`, `..`, `"""`), an
//!   alternative hypothesis "the lexeme ended here" is spawned; it is guarded by its parent and
//!   dropped as soon as the parent accepts again (munch would then prefer the longer lexeme).
//! - A text is a viable prefix iff some hypothesis has a candidate. `accept_token` checks
//!   exactly that on the token's bytes, so a token that cannot continue the program is an error
//!   and leaves the session unchanged.
//!
//! The mask is the union, over every hypothesis and candidate `(terminal, state)`, of the stored
//! `live(state)` mask and the `split(state, f)` masks for every follower `f` the parser accepts
//! after that terminal (`%ignore` terminals always; INDENT/DEDENT outcomes of an unfinished
//! newline unioned). That is SynCode's accept-sequence construction with sequences of length 2:
//! a superset of the viable tokens (sound), never an all-allowed mask on error (fail closed:
//! errors zero the row and are returned). Unions are cached per artifact, keyed by the
//! `(terminal, state, follower set)` triples, so the common step costs a DFA walk over the new
//! bytes, a table scan per candidate, a hash lookup and a copy.
//!
//! EOS tokens are allowed exactly when the text is a complete program; special tokens never.
//! With [`SessionOptions::sequence_start`], the first token's bytes are the tokenizer's
//! first-position bytes (SentencePiece drops the dummy-prefix space there).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use syncodec_artifacts::ids::{ArchivedId, DfaStateId, LexStateId, TerminalId};
use syncodec_artifacts::schema::ArchivedCompiledGrammar;

use crate::artifact::Artifact;
use crate::indent::Indenter;
use crate::lexer::{Lexeme, Lexer, TerminalDfa};
use crate::masks::{MaskStore, StoreError, Vocab};
use crate::parser::Parser;
use crate::semicolon::SemicolonInserter;

/// Errors of a [`Session`]. The session is unchanged after any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the artifact has no vocabulary or mask store: rebuild it with `syncodec build GRAMMAR --tokenizer TOKENIZER.json`")]
    NoMaskStore,
    #[error("bitmask buffer has {got} words, expected {expected} (ceil(vocab width / 32))")]
    BufferSize { expected: usize, got: usize },
    #[error("token id {id} is outside the vocabulary (width {width})")]
    TokenOutOfRange { id: u32, width: usize },
    #[error("token {id} is a special token and is never allowed by the grammar")]
    SpecialToken { id: u32 },
    #[error("token {id} ({text:?}) cannot continue the program: it is not in the mask")]
    TokenRejected { id: u32, text: String },
    #[error("EOS token {id} is not allowed: the program is not complete")]
    EosNotAllowed { id: u32 },
    #[error("the session has ended (EOS was accepted); only rollback is possible")]
    Finished,
    #[error("the text is not a valid program prefix at byte {offset}")]
    TextRejected { offset: usize },
    #[error("cannot roll back {requested} tokens: only {available} were accepted")]
    RollbackTooFar { requested: usize, available: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Options of a [`Session`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionOptions {
    /// The first accepted token is the first token of the whole sequence (no prompt before
    /// it), so the tokenizer's first-position bytes apply (SentencePiece's dummy prefix).
    pub sequence_start: bool,
    /// Re-lex and re-parse the whole text before every mask instead of keeping the state
    /// incrementally (the SynCode paper's "incremental parsing off" baseline; benchmarks only).
    pub from_scratch: bool,
}

/// A small set of terminal ids.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct TermSet(Vec<u64>);

impl TermSet {
    fn new(n: usize) -> TermSet {
        TermSet(vec![0; n.div_ceil(64)])
    }
    #[inline]
    fn insert(&mut self, t: TerminalId) {
        if let Some(w) = self.0.get_mut(t.as_usize() >> 6) {
            *w |= 1 << (t.as_usize() & 63);
        }
    }
    fn remove(&mut self, t: TerminalId) {
        if let Some(w) = self.0.get_mut(t.as_usize() >> 6) {
            *w &= !(1 << (t.as_usize() & 63));
        }
    }
    fn fill(&mut self, n: usize) {
        for t in 0..n {
            self.insert(TerminalId::from_raw(t as u32));
        }
    }
    fn iter(&self) -> impl Iterator<Item = TerminalId> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| (0..64).filter(move |b| w >> b & 1 == 1).map(move |b| TerminalId::from_raw((i * 64 + b) as u32)))
    }
}

/// Unions of stored masks already computed, shared by every session of one artifact.
///
/// Bounded: when the cached rows exceed the byte budget the cache is cleared (a cold miss costs
/// one union, so a simple policy is enough).
pub struct MaskCache {
    map: Mutex<CacheMap>,
    budget: usize,
    /// Tokens grouped by leading spaces, for indentation masking (built on first use).
    indent_groups: std::sync::OnceLock<Vec<Vec<u32>>>,
}

#[derive(Default)]
struct CacheMap {
    rows: HashMap<Vec<u32>, Arc<[u32]>>,
    bytes: usize,
}

impl MaskCache {
    /// A cache holding at most `budget_bytes` of bitmask rows.
    pub fn new(budget_bytes: usize) -> MaskCache {
        MaskCache { map: Mutex::new(CacheMap::default()), budget: budget_bytes, indent_groups: std::sync::OnceLock::new() }
    }

    fn get(&self, key: &[u32]) -> Option<Arc<[u32]>> {
        self.map.lock().ok()?.rows.get(key).cloned()
    }

    fn insert(&self, key: Vec<u32>, row: Arc<[u32]>) {
        if let Ok(mut map) = self.map.lock() {
            let size = row.len() * 4 + key.len() * 4;
            if map.bytes + size > self.budget {
                map.rows.clear();
                map.bytes = 0;
            }
            map.bytes += size;
            map.rows.insert(key, row);
        }
    }

    /// Number of cached rows.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.rows.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MaskCache {
    /// 64 MiB of rows (4,096 rows of a 128k vocabulary).
    fn default() -> MaskCache {
        MaskCache::new(64 << 20)
    }
}

/// Immutable per-artifact context every hypothesis step needs.
struct Core<'a> {
    grammar: &'a ArchivedCompiledGrammar,
    lexer: Lexer<'a>,
    dfas: Vec<Option<TerminalDfa<'a>>>,
    ignore: TermSet,
    n_terminals: usize,
    vocab: Vocab<'a>,
    store: MaskStore<'a>,
    /// The grammar asks for a contextual lexer: candidates decide lexeme ends and winners.
    contextual: bool,
}

impl<'a> Core<'a> {
    fn new(artifact: &'a Artifact) -> Result<Core<'a>, SessionError> {
        let payload = artifact.payload();
        let (Some(v), Some(m)) = (payload.vocab.as_ref(), payload.masks.as_ref()) else { return Err(SessionError::NoMaskStore) };
        let grammar = &payload.grammar;
        let n_terminals = grammar.terminals.len();
        let vocab = Vocab::new(v);
        let mut ignore = TermSet::new(n_terminals);
        for t in grammar.ignore.iter() {
            ignore.insert(TerminalId::from_raw(t.raw()));
        }
        Ok(Core {
            grammar,
            lexer: Lexer::new(grammar),
            dfas: (0..n_terminals).map(|t| TerminalDfa::new(grammar, TerminalId::from_raw(t as u32))).collect(),
            ignore,
            n_terminals,
            store: MaskStore::new(m, &vocab),
            vocab,
            contextual: grammar.contextual_lexer,
        })
    }

    /// The stored masks whose union is the contribution of candidate `(t, q)` with follower
    /// bits `followers` (32-bit words of the terminal set): `live(q)`, `split(q, f)` for every
    /// follower, and for a refined `%ignore` follower `g` also `live(g's start)` and
    /// `after_ignore[g][f]` for every follower `f`.
    fn mask_ids(&self, t: TerminalId, q: u32, followers: &[u32], out: &mut Vec<u32>) {
        let has = |f: TerminalId| followers.get(f.as_usize() / 32).is_some_and(|w| w >> (f.as_usize() % 32) & 1 == 1);
        out.extend(self.store.live(t, q));
        for (f, m, refined) in self.store.splits(t, q) {
            if !has(f) {
                continue;
            }
            out.push(m);
            if refined {
                if let (Some(j), Some(d)) = (self.grammar.ignore.iter().position(|g| g.raw() == f.raw()), self.dfa(f)) {
                    out.extend(self.store.live(f, d.start().raw()));
                    for next in (0..self.n_terminals as u32).map(TerminalId::from_raw).filter(|&n| has(n)) {
                        out.extend(self.store.after_ignore(j, next));
                    }
                }
            }
        }
    }

    fn dfa(&self, t: TerminalId) -> Option<&TerminalDfa<'a>> {
        self.dfas.get(t.as_usize())?.as_ref()
    }

    /// The terminal a lexeme of `h` would be if it ended where `h` is: the combined lexer's
    /// label, or with the contextual lexer the best of the candidates.
    fn accepts(&self, h: &Hyp<'_>) -> Option<TerminalId> {
        if self.contextual {
            self.lexer.winner(&h.cands)
        } else {
            self.lexer.accepts(h.lex)
        }
    }

    /// Terminals with a non-error action in the parser's top state.
    fn row(&self, parser: &Parser<'_>, set: &mut TermSet) {
        for t in parser.acceptable_terminals() {
            set.insert(t);
        }
    }
}

/// The layout stage between the lexer and the parser.
#[derive(Clone)]
enum Layout {
    Plain,
    Indent(Indenter),
    Semi(SemicolonInserter),
}

/// What the parser has seen: its stack plus the layout stage's state.
#[derive(Clone)]
struct Front<'g> {
    parser: Parser<'g>,
    layout: Layout,
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
    fn push(&mut self, core: &Core<'_>, lexeme: Lexeme, text: &[u8]) -> bool {
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
    fn lookahead(&self, core: &Core<'_>, text: &[u8], at: usize) -> TermSet {
        let mut set = core.ignore.clone();
        let (indenter, semicolons) = match &self.layout {
            Layout::Plain => (None, None),
            Layout::Indent(ind) => (Some(ind), None),
            Layout::Semi(semi) => (None, Some(semi)),
        };
        crate::parser::layout_lookahead(&self.parser, indenter, semicolons, text, at, &mut |t, on| {
            if on {
                set.insert(t)
            } else {
                set.remove(t)
            }
        });
        set
    }

    /// The lexeme terminals that may follow a lexeme of `terminal` starting at `at` whose end
    /// is not known yet.
    fn follow(&self, core: &Core<'_>, terminal: TerminalId, text: &[u8], at: usize) -> TermSet {
        if let Layout::Indent(ind) = &self.layout {
            if !ind.started() && core.lexer.is_ignored(terminal) {
                // Leading whitespace of the first line: its final width is unknown.
                let mut all = TermSet::new(core.n_terminals);
                all.fill(core.n_terminals);
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
                core.row(&f, &mut set);
                let indent = core.grammar.indentation.as_ref().map(|i| TerminalId::from_raw(i.indent.raw()));
                let dedent = core.grammar.indentation.as_ref().map(|i| TerminalId::from_raw(i.dedent.raw()));
                if let Some(indent) = indent {
                    let mut g = f.clone();
                    if g.feed(indent).is_ok() {
                        core.row(&g, &mut set);
                    }
                }
                if let Some(dedent) = dedent {
                    let mut g = f.clone();
                    for _ in 1..ind.levels().len() {
                        if g.feed(dedent).is_err() {
                            break;
                        }
                        core.row(&g, &mut set);
                    }
                }
                return set;
            }
        }
        let mut f = self.clone();
        if !f.push(core, Lexeme { terminal, start: at, end: at.max(text.len()) }, text) {
            return TermSet::new(core.n_terminals);
        }
        f.lookahead(core, text, text.len())
    }
}

/// One way the text's tail may be lexed; see the module docs.
#[derive(Clone)]
struct Hyp<'g> {
    front: Front<'g>,
    /// Start of the unfinished lexeme.
    start: usize,
    /// Combined lexer state over `text[start..]`.
    lex: LexStateId,
    /// Acceptable terminals still live on `text[start..]`, with their DFA states. Empty for a
    /// *ghost*: kept only to know when its guarded alternatives become invalid.
    cands: Vec<(TerminalId, DfaStateId)>,
    id: u32,
    /// Ids of hypotheses whose next accepting position invalidates this one.
    guards: Vec<u32>,
}

/// The lexing state of a text: its hypotheses.
#[derive(Clone)]
struct State<'g> {
    hyps: Vec<Hyp<'g>>,
    next_id: u32,
}

impl<'g> State<'g> {
    fn new(core: &Core<'g>) -> State<'g> {
        let mut state = State { hyps: Vec::new(), next_id: 0 };
        if let Some(h) = state.open(core, Front::new(core.grammar), 0, &[], Vec::new()) {
            state.hyps.push(h);
        }
        state
    }

    /// A hypothesis whose unfinished lexeme starts at `at` (nothing of it read yet).
    fn open(&mut self, core: &Core<'g>, front: Front<'g>, at: usize, text: &[u8], guards: Vec<u32>) -> Option<Hyp<'g>> {
        let la = front.lookahead(core, text, at);
        let cands: Vec<_> = la.iter().filter_map(|t| core.dfa(t).map(|d| (t, d.start()))).collect();
        if cands.is_empty() {
            return None;
        }
        self.next_id += 1;
        Some(Hyp { front, start: at, lex: core.lexer.start(), cands, id: self.next_id, guards })
    }

    fn viable(&self) -> bool {
        self.hyps.iter().any(|h| !h.cands.is_empty())
    }

    /// Appends `text[from..]` (already in `text`) byte by byte.
    fn advance(&mut self, core: &Core<'g>, text: &[u8], from: usize) {
        for i in from..text.len() {
            self.step(core, text, i);
            if self.hyps.is_empty() {
                return;
            }
        }
    }

    /// Steps one hypothesis's unfinished lexeme over byte `b`; `false` when the lexer dies
    /// (with the contextual lexer: when no candidate is left).
    fn step_straddle(core: &Core<'g>, h: &mut Hyp<'g>, b: u8) -> bool {
        if !core.contextual {
            h.lex = core.lexer.step(h.lex, b);
            if Lexer::is_dead(h.lex) {
                return false;
            }
        }
        step_cands(core, &mut h.cands, b);
        !core.contextual || !h.cands.is_empty()
    }

    fn step(&mut self, core: &Core<'g>, text: &[u8], i: usize) {
        let b = text[i];
        let mut out: Vec<Hyp<'g>> = Vec::with_capacity(self.hyps.len() + 1);
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

    /// Whether the text is a complete program.
    fn complete(&self, core: &Core<'g>, text: &[u8]) -> bool {
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

/// One generation's constraint state; see the module docs.
pub struct Session<'a> {
    core: Core<'a>,
    cache: Arc<MaskCache>,
    options: SessionOptions,
    text: Vec<u8>,
    state: State<'a>,
    finished: bool,
    history: Vec<Snapshot<'a>>,
    prefix_fed: bool,
}

struct Snapshot<'a> {
    text_len: usize,
    state: State<'a>,
    finished: bool,
}

/// Key tag of a first-position row in the cache.
const KEY_FIRST: u32 = 1;
/// Key tag of a row where EOS is allowed.
const KEY_EOS: u32 = 2;
/// Key tag of a row with indentation masking; the next key word has bit `k` set when a line
/// indented by `k` more spaces than the unfinished newline already has is impossible.
const KEY_INDENT: u32 = 4;
/// Leading-space counts covered by indentation masking (tokens with more are left alone).
const INDENT_GROUPS: usize = 32;

/// Token groups for indentation masking: group `k` holds the tokens made of exactly `k` spaces
/// followed by a byte that can start neither an `%ignore`d lexeme nor the newline terminal
/// (so not a tab, form feed, line break, `#`, `\\` or a BOM in Python), as dense bitsets. Such
/// a token, right after an unfinished newline whose line so far is `w` spaces, fixes the line's
/// indentation at `w + k`.
fn indent_groups(core: &Core<'_>, newline: TerminalId) -> Vec<Vec<u32>> {
    let vocab = &core.vocab;
    let mut layout_start = [false; 256];
    let ignored = core.grammar.ignore.iter().map(|t| TerminalId::from_raw(t.raw()));
    for t in ignored.chain(std::iter::once(newline)) {
        if let Some(d) = core.dfa(t) {
            for b in 0..=255u8 {
                layout_start[b as usize] |= d.is_live(d.step(d.start(), b));
            }
        }
    }
    let words = vocab.n_tokens().div_ceil(32);
    let mut groups = vec![vec![0u32; words]; INDENT_GROUPS];
    for id in 0..vocab.n_tokens() as u32 {
        if vocab.is_special(id) {
            continue;
        }
        let Some(bytes) = vocab.bytes(id) else { continue };
        let k = bytes.iter().take_while(|&&b| b == b' ').count();
        match bytes.get(k) {
            Some(&b) if k < INDENT_GROUPS && !layout_start[b as usize] => groups[k][id as usize >> 5] |= 1 << (id & 31),
            _ => {}
        }
    }
    groups
}

impl<'a> Session<'a> {
    /// A session at the empty text, with its own mask cache.
    pub fn new(artifact: &'a Artifact) -> Result<Session<'a>, SessionError> {
        Session::with_cache(artifact, SessionOptions::default(), Arc::new(MaskCache::default()))
    }

    /// A session sharing `cache` with other sessions of the same artifact (a server keeps one
    /// cache per artifact).
    pub fn with_cache(artifact: &'a Artifact, options: SessionOptions, cache: Arc<MaskCache>) -> Result<Session<'a>, SessionError> {
        let core = Core::new(artifact)?;
        let state = State::new(&core);
        Ok(Session { core, cache, options, text: Vec::new(), state, finished: false, history: Vec::new(), prefix_fed: false })
    }

    /// Logits width: the bitmask covers ids `0..width`.
    pub fn vocab_width(&self) -> usize {
        self.core.vocab.width()
    }

    /// Words of one bitmask row, `ceil(width / 32)`.
    pub fn bitmask_words(&self) -> usize {
        self.core.vocab.words()
    }

    pub fn vocab(&self) -> Vocab<'a> {
        self.core.vocab
    }

    /// The text so far.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Tokens accepted so far (what [`Session::rollback`] can undo).
    pub fn n_accepted(&self) -> usize {
        self.history.len()
    }

    /// Whether EOS has been accepted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Appends code that is not generated (the prompt's code prefix). Not undoable by
    /// [`Session::rollback`] except by rolling back tokens accepted before it.
    pub fn feed_text(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        let from = self.text.len();
        let mut state = self.state.clone();
        self.text.extend_from_slice(bytes);
        state.advance(&self.core, &self.text, from);
        if !state.viable() {
            // Find the first byte that breaks the prefix, for the message.
            let mut probe = self.state.clone();
            let mut offset = from;
            for i in from..self.text.len() {
                probe.step(&self.core, &self.text, i);
                if !probe.viable() {
                    offset = i;
                    break;
                }
            }
            self.text.truncate(from);
            return Err(SessionError::TextRejected { offset });
        }
        self.state = state;
        self.prefix_fed |= !bytes.is_empty();
        Ok(())
    }

    fn at_sequence_start(&self) -> bool {
        self.options.sequence_start && self.text.is_empty() && !self.prefix_fed
    }

    /// The bytes `id` would add now.
    fn token_bytes(&self, id: u32) -> Option<&'a [u8]> {
        if self.at_sequence_start() {
            self.core.vocab.first_bytes(id)
        } else {
            self.core.vocab.bytes(id)
        }
    }

    /// Whether the text so far is a complete program (EOS allowed).
    pub fn is_complete(&self) -> bool {
        !self.finished && self.state.complete(&self.core, &self.text)
    }

    /// Exact check: whether appending token `id` keeps the text a viable prefix (EOS: whether
    /// the program is complete). Costs a DFA walk over the token's bytes.
    pub fn is_token_valid(&self, id: u32) -> bool {
        if self.finished || id as usize >= self.core.vocab.n_tokens() {
            return false;
        }
        if self.core.vocab.is_eos(id) {
            return self.is_complete();
        }
        if self.core.vocab.is_special(id) {
            return false;
        }
        match self.token_bytes(id) {
            Some(bytes) => self.viable_with(bytes),
            None => false,
        }
    }

    fn viable_with(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return self.state.viable();
        }
        // Only the unfinished lexemes' bytes are read again (and, before the first lexeme of an
        // indentation grammar, the text before it), so the check works on a window of the text
        // starting at the earliest hypothesis, with positions shifted by the window's start.
        let needs_all = self.state.hyps.iter().any(|h| matches!(&h.front.layout, Layout::Indent(ind) if !ind.started()));
        let w0 = if needs_all { 0 } else { self.state.hyps.iter().map(|h| h.start).min().unwrap_or(self.text.len()) };
        let mut window = Vec::with_capacity(self.text.len() - w0 + bytes.len());
        window.extend_from_slice(&self.text[w0..]);
        window.extend_from_slice(bytes);
        let mut state = self.state.clone();
        for h in &mut state.hyps {
            h.start -= w0;
        }
        state.advance(&self.core, &window, self.text.len() - w0);
        state.viable()
    }

    /// Accepts token `id`: an error, with the session unchanged, when the token cannot continue
    /// the program (it is then outside the mask too).
    pub fn accept_token(&mut self, id: u32) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        let vocab = self.core.vocab;
        if id as usize >= vocab.width() {
            return Err(SessionError::TokenOutOfRange { id, width: vocab.width() });
        }
        if vocab.is_eos(id) {
            if !self.is_complete() {
                return Err(SessionError::EosNotAllowed { id });
            }
            self.push_history();
            self.finished = true;
            return Ok(());
        }
        if vocab.is_special(id) {
            return Err(SessionError::SpecialToken { id });
        }
        let Some(bytes) = self.token_bytes(id) else {
            return Err(SessionError::TokenRejected { id, text: String::new() });
        };
        let from = self.text.len();
        let mut state = self.state.clone();
        self.text.extend_from_slice(bytes);
        state.advance(&self.core, &self.text, from);
        if !state.viable() {
            self.text.truncate(from);
            return Err(SessionError::TokenRejected { id, text: String::from_utf8_lossy(bytes).into_owned() });
        }
        let old = std::mem::replace(&mut self.state, state);
        self.history.push(Snapshot { text_len: from, state: old, finished: false });
        Ok(())
    }

    fn push_history(&mut self) {
        self.history.push(Snapshot { text_len: self.text.len(), state: self.state.clone(), finished: self.finished });
    }

    /// Undoes the last `n` accepted tokens (speculative decoding).
    pub fn rollback(&mut self, n: usize) -> Result<(), SessionError> {
        if n > self.history.len() {
            return Err(SessionError::RollbackTooFar { requested: n, available: self.history.len() });
        }
        if n == 0 {
            return Ok(());
        }
        let keep = self.history.len() - n;
        let mut tail = self.history.split_off(keep);
        let snap = tail.swap_remove(0);
        self.text.truncate(snap.text_len);
        self.state = snap.state;
        self.finished = snap.finished;
        Ok(())
    }

    /// With [`SessionOptions::from_scratch`], rebuilds the state from the whole text.
    fn refresh_from_scratch(&mut self) {
        if self.options.from_scratch {
            let mut state = State::new(&self.core);
            state.advance(&self.core, &self.text, 0);
            self.state = state;
        }
    }

    /// Whether token `id`, as the first token of a sequence (its first-position bytes), starts
    /// a viable text.
    fn first_token_allowed(&self, id: u32) -> bool {
        let vocab = self.core.vocab;
        !vocab.is_special(id) && vocab.first_bytes(id).is_some_and(|b| self.viable_with(b))
    }

    /// The leading-space token groups of indentation masking, built once per cache.
    fn indent_groups(&self) -> &[Vec<u32>] {
        self.cache.indent_groups.get_or_init(|| indent_groups(&self.core, self.indent_newline()))
    }

    fn indent_newline(&self) -> TerminalId {
        self.core.grammar.indentation.as_ref().map_or(TerminalId::from_raw(u32::MAX), |i| TerminalId::from_raw(i.newline.raw()))
    }

    /// Indentation masking: when the text ends inside a newline lexeme (the only hypothesis,
    /// outside brackets) whose last line so far is `w` spaces, the bits `k` for which a line
    /// indented `w + k` is impossible (not a level to dedent to, not the current level, not a
    /// deeper one where INDENT is acceptable). `None` when it does not apply.
    fn indent_filter(&self) -> Option<u32> {
        let [h] = self.state.hyps.as_slice() else { return None };
        let Layout::Indent(ind) = &h.front.layout else { return None };
        let newline = ind.newline();
        if h.cands.len() != 1 || h.cands[0].0 != newline || ind.bracket_depth() > 0 {
            return None;
        }
        let straddle = self.text.get(h.start..)?;
        let nl = straddle.iter().rposition(|&b| b == b'\n')?;
        let line = &straddle[nl + 1..];
        if line.iter().any(|&b| b != b' ') {
            return None;
        }
        let w = line.len() as u32;
        let indentation = self.core.grammar.indentation.as_ref()?;
        let (indent, dedent) = (TerminalId::from_raw(indentation.indent.raw()), TerminalId::from_raw(indentation.dedent.raw()));
        let mut after = h.front.parser.clone();
        if after.feed(newline).is_err() {
            return None;
        }
        let levels = ind.levels();
        let top = levels.last().copied().unwrap_or(0);
        let indent_ok = after.can_feed(indent);
        // A line can start at levels[j] when (len - 1 - j) DEDENTs are accepted and then some
        // lexeme other than INDENT/DEDENT is.
        let starts_line = |p: &Parser<'_>| p.acceptable_terminals().any(|t| t != indent && t != dedent);
        let mut dedent_ok = vec![false; levels.len()];
        let mut g = after.clone();
        for j in (0..levels.len()).rev() {
            if j + 1 < levels.len() && g.feed(dedent).is_err() {
                break;
            }
            dedent_ok[j] = starts_line(&g);
        }
        let mut bad = 0u32;
        for k in 0..INDENT_GROUPS as u32 {
            let width = w + k;
            let ok = if width > top { indent_ok } else { levels.iter().position(|&l| l == width).is_some_and(|j| dedent_ok[j]) };
            if !ok {
                bad |= 1 << k;
            }
        }
        (bad != 0).then_some(bad)
    }

    /// The `(terminal, state, followers)` triples whose stored masks make up the mask, sorted
    /// and deduplicated, flattened into a cache key.
    fn key(&self) -> Vec<u32> {
        let core = &self.core;
        let mut triples: Vec<(u32, u32, TermSet)> = Vec::new();
        for h in &self.state.hyps {
            for &(t, q) in &h.cands {
                let f = h.front.follow(core, t, &self.text, h.start);
                triples.push((t.raw(), q.raw(), f));
            }
        }
        triples.sort_by(|a, b| (a.0, a.1, &a.2 .0).cmp(&(b.0, b.1, &b.2 .0)));
        triples.dedup();
        let mut key = Vec::with_capacity(1 + triples.len() * 4);
        let mut tag = 0;
        if self.at_sequence_start() {
            tag |= KEY_FIRST;
        }
        if self.is_complete() {
            tag |= KEY_EOS;
        }
        let indent = self.indent_filter();
        if indent.is_some() {
            tag |= KEY_INDENT;
        }
        key.push(tag);
        if let Some(bad) = indent {
            key.push(bad);
        }
        for (t, q, f) in triples {
            key.push(t);
            key.push(q);
            for w in f.0 {
                key.push(w as u32);
                key.push((w >> 32) as u32);
            }
        }
        key
    }

    /// Fills `out` (exactly [`Session::bitmask_words`] words) with the allowed tokens: bit
    /// `t & 31` of word `t >> 5` is 1 when token `t` may come next. On error the row is all
    /// zeros (fail closed).
    pub fn fill_bitmask(&mut self, out: &mut [u32]) -> Result<(), SessionError> {
        let words = self.bitmask_words();
        if out.len() != words {
            return Err(SessionError::BufferSize { expected: words, got: out.len() });
        }
        if self.finished {
            out.fill(0);
            return Ok(());
        }
        self.refresh_from_scratch();
        let key = self.key();
        if let Some(row) = self.cache.get(&key) {
            out.copy_from_slice(&row);
            return Ok(());
        }
        if let Err(e) = self.compute(&key, out) {
            out.fill(0);
            return Err(e);
        }
        self.cache.insert(key, Arc::from(&*out));
        Ok(())
    }

    #[doc(hidden)]
    pub fn debug_dump(&self) {
        let g = self.core.grammar;
        let name = |t: TerminalId| g.terminals.get(t.as_usize()).map(|x| x.name.as_str().to_string()).unwrap_or_default();
        for h in &self.state.hyps {
            println!("hyp id={} start={} lex={} guards={:?} stack={:?}", h.id, h.start, h.lex.raw(), h.guards, h.front.parser.stack());
            for &(t, q) in &h.cands {
                let f = h.front.follow(&self.core, t, &self.text, h.start);
                let fs: Vec<String> = f.iter().map(name).collect();
                let splits: Vec<String> = self.core.store.splits(t, q.raw()).map(|(f, m, r)| format!("{}:{}{}", name(f), m, if r { "*" } else { "" })).collect();
                println!("  cand {} q={} live={:?} follow={:?}\n   splits={:?}", name(t), q.raw(), self.core.store.live(t, q.raw()), fs, splits);
            }
        }
    }

    /// The next mask as a compact description instead of a bitmask row: the stored masks to
    /// union, then token ids to set and ids to clear (EOS; first-position fixes). What a
    /// device-resident mask store needs per step: a few ids instead of `width / 8` bytes.
    /// `row = OR(masks); set(tokens); clear(clear)` equals [`Session::fill_bitmask`]'s row.
    pub fn describe_mask(&mut self) -> Result<MaskDescription, SessionError> {
        let mut d = MaskDescription::default();
        if self.finished {
            return Ok(d);
        }
        self.refresh_from_scratch();
        let key = self.key();
        let core = &self.core;
        let tag = key.first().copied().unwrap_or(0);
        for (t, q, followers) in triples(&key, core.n_terminals) {
            core.mask_ids(t, q, followers, &mut d.masks);
        }
        d.masks.sort_unstable();
        d.masks.dedup();
        let vocab = core.vocab;
        if tag & KEY_FIRST != 0 {
            for id in vocab.first_ids() {
                let allowed = self.first_token_allowed(id);
                if allowed {
                    d.tokens.push(id);
                } else {
                    d.clear.push(id);
                }
            }
        }
        if tag & KEY_INDENT != 0 {
            // Impossible indentations: the tokens of the bad leading-space groups.
            let bad = key.get(1).copied().unwrap_or(0);
            let groups = self.indent_groups();
            for (k, group) in groups.iter().enumerate() {
                if bad >> k & 1 == 1 {
                    for (i, &w) in group.iter().enumerate() {
                        d.clear.extend((0..32).filter(|b| w >> b & 1 == 1).map(|b| (i * 32 + b) as u32));
                    }
                }
            }
            d.clear.sort_unstable();
        }
        if tag & KEY_EOS != 0 {
            d.tokens.extend(vocab.eos());
        }
        Ok(d)
    }

    /// The union for `key` (see [`Session::key`]) without the cache.
    fn compute(&self, key: &[u32], out: &mut [u32]) -> Result<(), SessionError> {
        let core = &self.core;
        out.fill(0);
        let tag = key.first().copied().unwrap_or(0);
        let mut ids = Vec::new();
        for (t, q, followers) in triples(key, core.n_terminals) {
            core.mask_ids(t, q, followers, &mut ids);
        }
        ids.sort_unstable();
        ids.dedup();
        for m in ids {
            core.store.or_into(m, out)?;
        }
        let vocab = core.vocab;
        if tag & KEY_FIRST != 0 {
            for id in vocab.first_ids() {
                let allowed = self.first_token_allowed(id);
                if let Some(w) = out.get_mut(id as usize >> 5) {
                    if allowed {
                        *w |= 1 << (id & 31);
                    } else {
                        *w &= !(1 << (id & 31));
                    }
                }
            }
        }
        if tag & KEY_INDENT != 0 {
            let bad = key.get(1).copied().unwrap_or(0);
            let groups = self.indent_groups();
            for (k, group) in groups.iter().enumerate() {
                if bad >> k & 1 == 1 {
                    for (o, g) in out.iter_mut().zip(group) {
                        *o &= !g;
                    }
                }
            }
        }
        if tag & KEY_EOS != 0 {
            for id in vocab.eos() {
                if let Some(w) = out.get_mut(id as usize >> 5) {
                    *w |= 1 << (id & 31);
                }
            }
        }
        // Padding ids past the vocabulary are never allowed.
        let n = vocab.n_tokens();
        for (i, w) in out.iter_mut().enumerate() {
            let lo = i * 32;
            if lo >= n {
                *w = 0;
            } else if lo + 32 > n {
                *w &= (1u32 << (n - lo)) - 1;
            }
        }
        Ok(())
    }
}

/// The `(terminal, state, follower bits)` triples of a cache key.
fn triples(key: &[u32], n_terminals: usize) -> impl Iterator<Item = (TerminalId, u32, &[u32])> {
    let set_words = n_terminals.div_ceil(64) * 2;
    let skip = if key.first().is_some_and(|t| t & KEY_INDENT != 0) { 2 } else { 1 };
    key.get(skip..).unwrap_or(&[]).chunks_exact(2 + set_words).map(|c| (TerminalId::from_raw(c[0]), c[1], &c[2..]))
}

/// A mask as stored-mask ids plus explicit token edits; see [`Session::describe_mask`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskDescription {
    /// Stored mask ids (`schema::MaskStore`) to OR together, sorted.
    pub masks: Vec<u32>,
    /// Token ids to set after the union.
    pub tokens: Vec<u32>,
    /// Token ids to clear last.
    pub clear: Vec<u32>,
}

/// Fills one bitmask row per session (`out` holds `sessions.len()` rows of
/// [`Session::bitmask_words`] words), in parallel over the machine's cores. Every row is
/// filled or zeroed; the first error is returned.
pub fn fill_bitmasks(sessions: &mut [Session<'_>], out: &mut [u32]) -> Result<(), SessionError> {
    let Some(words) = sessions.first().map(Session::bitmask_words) else { return Ok(()) };
    if out.len() != words * sessions.len() {
        return Err(SessionError::BufferSize { expected: words * sessions.len(), got: out.len() });
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(sessions.len());
    if threads <= 1 {
        let mut first = Ok(());
        for (s, row) in sessions.iter_mut().zip(out.chunks_mut(words)) {
            let r = s.fill_bitmask(row);
            if first.is_ok() {
                first = r;
            }
        }
        return first;
    }
    let per = sessions.len().div_ceil(threads);
    let results: Vec<Result<(), SessionError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .chunks_mut(per)
            .zip(out.chunks_mut(per * words))
            .map(|(ss, rows)| {
                scope.spawn(move || {
                    let mut first = Ok(());
                    for (s, row) in ss.iter_mut().zip(rows.chunks_mut(words)) {
                        let r = s.fill_bitmask(row);
                        if first.is_ok() {
                            first = r;
                        }
                    }
                    first
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Err(SessionError::Store(StoreError("a mask thread panicked"))))).collect()
    });
    results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
}
