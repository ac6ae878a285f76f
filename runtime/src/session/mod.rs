//! Per-sequence constrained decoding: the text so far, its incremental lex/parse state, and the
//! token mask for the next step.
//!
//! A [`Session`] holds the text generated so far (the prompt's code prefix plus accepted tokens)
//! as a small set of *hypotheses* about the text's last, possibly unfinished lexeme (the
//! paper's remainder), each with the parser state after the lexemes before it. A text is a
//! viable prefix iff some hypothesis has a candidate terminal; `accept_token` checks exactly
//! that on the token's bytes, so a token that cannot continue the program is an error and
//! leaves the session unchanged.
//!
//! The mask is exactly the set of tokens `accept_token` accepts (see `exact`), never an
//! all-allowed row on error (fail closed: errors zero the row and are returned). EOS tokens are allowed exactly when the text
//! is a complete program; special tokens never. With [`SessionOptions::sequence_start`], the
//! first token's bytes are the tokenizer's first-position bytes (SentencePiece drops the
//! dummy-prefix space there).
//!
//! A step costs a DFA walk over the new bytes, the mask key (a table scan per candidate), a
//! hash lookup in the shared [`MaskCache`], a copy, and a few LR steps per group of tokens that
//! cross more than one lexeme boundary; a miss ORs a few stored masks and lexes the tokens they
//! leave undecided.
//!
//! The module, by concern (private submodules):
//! - `hyps`: the hypotheses and the incremental lexer that steps them byte by byte;
//! - `key`: the mask key, its recipe of stored masks and token edits, [`MaskDescription`];
//! - `exact`: the superset narrowed to the viable tokens, by groups of equally lexed tokens;
//! - `cache`: [`MaskCache`], exact masks by key, shared by the sessions of one artifact (bound to it);
//! - `history`: what [`Session::rollback`] restores (a text length per token, a checkpoint state
//!   every 32 tokens);
//! - `context`: the per-artifact tables every step reads.
//!
//! Plain `u32` token ids and `&mut [u32]` rows are this module's public edge (what inference
//! servers hold); inside, ids are typed.

use std::sync::Arc;

use syncodec_artifacts::bits::row;
use syncodec_artifacts::ids::TokenId;

use crate::artifact::Artifact;
use crate::masks::{StoreError, Vocab};

mod cache;
mod context;
mod exact;
mod history;
mod hyps;
mod key;

pub use cache::MaskCache;
pub use exact::SupersetCauses;
pub use key::MaskDescription;

use cache::ArtifactId;
use context::Core;
use exact::{ExactMask, LexTable};
use history::History;
use hyps::State;
use key::MaskKey;

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
    #[error("token {id} ({text:?}) is not a valid continuation of the text at byte {offset}: no program starts with the text followed by its bytes")]
    TokenRejected { id: u32, text: String, offset: usize },
    #[error("token {id} has no bytes in the vocabulary (a padding id past its last token) and is never allowed")]
    NoTokenBytes { id: u32 },
    #[error("this MaskCache belongs to another artifact ({owner}), not to the session's ({artifact}): keep one MaskCache per artifact")]
    CacheOfAnotherArtifact { owner: String, artifact: String },
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
}

/// One generation's constraint state; see the module docs.
pub struct Session<'a> {
    core: Core<'a>,
    cache: Arc<MaskCache>,
    options: SessionOptions,
    text: Vec<u8>,
    state: State<'a>,
    finished: bool,
    /// What [`Session::rollback`] restores: a text length per accepted token and a checkpoint
    /// state every few tokens (`history.rs`), O(text + tokens + depth) in all.
    history: History<'a>,
    prefix_fed: bool,
}

impl<'a> Session<'a> {
    /// A session at the empty text, with its own mask cache.
    pub fn new(artifact: &'a Artifact) -> Result<Session<'a>, SessionError> {
        Session::with_cache(artifact, SessionOptions::default(), Arc::new(MaskCache::default()))
    }

    /// A session sharing `cache` with other sessions of the same artifact (a server keeps one
    /// cache per artifact).
    ///
    /// # Errors
    /// [`SessionError::NoMaskStore`] for an artifact built without a tokenizer;
    /// [`SessionError::CacheOfAnotherArtifact`] when `cache` was first used by a session of
    /// another artifact (the first session binds it).
    pub fn with_cache(artifact: &'a Artifact, options: SessionOptions, cache: Arc<MaskCache>) -> Result<Session<'a>, SessionError> {
        let core = Core::new(artifact)?;
        let id = ArtifactId::of(artifact, core.vocab.width());
        cache.bind(id).map_err(|owner| SessionError::CacheOfAnotherArtifact { owner: owner.describe(), artifact: id.describe() })?;
        let state = State::new(&core);
        Ok(Session { core, cache, options, text: Vec::new(), state, finished: false, history: History::new(), prefix_fed: false })
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
        if !state.viable(&self.core, &self.text) {
            // Find the first byte that breaks the prefix, for the message.
            let mut probe = self.state.clone();
            let mut offset = from;
            for i in from..self.text.len() {
                probe.step(&self.core, &self.text, i);
                if !probe.viable(&self.core, &self.text[..=i]) {
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
    fn token_bytes(&self, id: TokenId) -> Option<&'a [u8]> {
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
        let id = TokenId::from_raw(id);
        if self.finished || id.as_usize() >= self.core.vocab.n_tokens() {
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
        self.state.viable_with(&self.core, &self.text, bytes)
    }

    /// Accepts token `id`: an error, with the session unchanged, when the token cannot continue
    /// the program (it is then outside the mask too).
    pub fn accept_token(&mut self, id: u32) -> Result<(), SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        let vocab = self.core.vocab;
        let token = TokenId::from_raw(id);
        if token.as_usize() >= vocab.width() {
            return Err(SessionError::TokenOutOfRange { id, width: vocab.width() });
        }
        if vocab.is_eos(token) {
            if !self.is_complete() {
                return Err(SessionError::EosNotAllowed { id });
            }
            self.history.push(self.text.len(), || self.state.clone());
            self.finished = true;
            return Ok(());
        }
        if vocab.is_special(token) {
            return Err(SessionError::SpecialToken { id });
        }
        let Some(bytes) = self.token_bytes(token) else {
            return Err(SessionError::NoTokenBytes { id });
        };
        let from = self.text.len();
        let mut state = self.state.clone();
        self.text.extend_from_slice(bytes);
        state.advance(&self.core, &self.text, from);
        if !state.viable(&self.core, &self.text) {
            self.text.truncate(from);
            return Err(SessionError::TokenRejected { id, text: String::from_utf8_lossy(bytes).into_owned(), offset: from });
        }
        let old = std::mem::replace(&mut self.state, state);
        self.history.push(from, || old);
        Ok(())
    }

    /// Undoes the last `n` accepted tokens (speculative decoding): any number up to
    /// [`Session::n_accepted`]. Costs re-lexing fewer than 32 tokens (and fewer than 4 KiB) from the
    /// nearest checkpoint, whatever `n`.
    pub fn rollback(&mut self, n: usize) -> Result<(), SessionError> {
        if n > self.history.len() {
            return Err(SessionError::RollbackTooFar { requested: n, available: self.history.len() });
        }
        if n == 0 {
            return Ok(());
        }
        self.history.rollback(n, &self.core, &mut self.text, &mut self.state);
        // Nothing is accepted after EOS, so every token before the last one saw an unfinished session.
        self.finished = false;
        Ok(())
    }

    /// Whether token `id`, as the first token of a sequence (its first-position bytes), starts
    /// a viable text.
    fn first_token_allowed(&self, id: TokenId) -> bool {
        let vocab = self.core.vocab;
        !vocab.is_special(id) && vocab.first_bytes(id).is_some_and(|b| self.viable_with(b))
    }

    /// What the next mask depends on.
    fn key(&self) -> MaskKey {
        MaskKey::new(&self.core, &self.state, &self.text, self.at_sequence_start(), self.is_complete())
    }

    /// The exact mask of the current key, from the cache or built (and cached).
    fn exact_mask(&self) -> Result<Arc<ExactMask>, StoreError> {
        let key = self.key();
        if let Some(mask) = self.cache.get(&key) {
            return Ok(mask);
        }
        let table = match self.cache.table(&key.lexical) {
            Some(table) => table,
            None => {
                let order = self.cache.byte_order(|| exact::byte_order(&self.core));
                let table = Arc::new(LexTable::build(&self.core, &key.lexical, &self.state, &self.text, order)?);
                self.cache.insert_table(key.lexical.clone(), Arc::clone(&table));
                table
            }
        };
        let mask = Arc::new(ExactMask::build(&self.core, &key, table, |id| self.first_token_allowed(id)));
        self.cache.insert(key, Arc::clone(&mask));
        Ok(mask)
    }

    /// Groups of tokens the next fill checks against the parser (tokens crossing more than one
    /// lexeme boundary, indentation newlines), for benchmarks.
    pub fn checked_groups(&self) -> Result<usize, SessionError> {
        Ok(if self.finished { 0 } else { self.exact_mask()?.n_checked() })
    }

    /// Fills `out` (exactly [`Session::bitmask_words`] words) with the allowed tokens: bit
    /// `t & 31` of word `t >> 5` is 1 when token `t` may come next. On error the row is all
    /// zeros (fail closed).
    pub fn fill_bitmask(&mut self, out: &mut [u32]) -> Result<(), SessionError> {
        self.fill(out)
    }

    /// As [`Session::fill_bitmask`], after re-lexing and re-parsing the whole text instead of
    /// relying on the incremental state: the SynCode paper's "incremental parsing off"
    /// baseline, for benchmarks. Gives the same row as [`Session::fill_bitmask`].
    pub fn fill_bitmask_from_scratch(&mut self, out: &mut [u32]) -> Result<(), SessionError> {
        self.state = State::from_text(&self.core, &self.text);
        self.fill(out)
    }

    fn fill(&self, out: &mut [u32]) -> Result<(), SessionError> {
        let words = self.bitmask_words();
        if out.len() != words {
            return Err(SessionError::BufferSize { expected: words, got: out.len() });
        }
        if self.finished {
            out.fill(0);
            return Ok(());
        }
        match self.exact_mask() {
            Ok(mask) => {
                mask.fill(&self.core, &self.state, &self.text, out, |id| self.token_bytes(id).is_some_and(|b| self.viable_with(b)));
                Ok(())
            }
            Err(e) => {
                out.fill(0);
                Err(e.into())
            }
        }
    }

    /// The length-2 superset's recipe, and the tokens it allows that the session refuses (a
    /// row). The session must not be finished.
    fn superset_refused(&self) -> Result<(key::Recipe, Vec<u32>), SessionError> {
        let recipe = self.key().recipe(&self.core, |id| self.first_token_allowed(id));
        let words = self.bitmask_words();
        let (mut refused, mut exact) = (vec![0u32; words], vec![0u32; words]);
        recipe.fill(&self.core, &mut refused)?;
        self.fill(&mut exact)?;
        row::subtract(&mut refused, &exact);
        Ok((recipe, refused))
    }

    /// How many tokens SynCode's length-2 superset would allow here that the session refuses,
    /// by cause (what `syncodec audit` reports to explain the exact masks).
    pub fn superset_causes(&mut self) -> Result<SupersetCauses, SessionError> {
        if self.finished {
            return Ok(SupersetCauses::default());
        }
        let (_, refused) = self.superset_refused()?;
        Ok(self.exact_mask()?.table().causes(&refused))
    }

    /// The next mask as a compact description instead of a bitmask row: the stored masks to
    /// union, then token ids to set and ids to clear (EOS; first-position fixes; the tokens of
    /// the length-2 superset that are not viable). What a device-resident mask store needs per
    /// step: a few ids instead of `width / 8` bytes. [`MaskDescription::build_row`] gives
    /// [`Session::fill_bitmask`]'s row.
    pub fn describe_mask(&mut self) -> Result<MaskDescription, SessionError> {
        if self.finished {
            return Ok(MaskDescription::default());
        }
        let (recipe, refused) = self.superset_refused()?;
        let mut clear: Vec<u32> = recipe.clear.iter().map(|t| t.raw()).collect();
        clear.extend(row::iter_ones(&refused).map(|t| t as u32));
        clear.sort_unstable();
        clear.dedup();
        Ok(MaskDescription {
            masks: recipe.masks.iter().map(|m| m.raw()).collect(),
            tokens: recipe.set.iter().map(|t| t.raw()).collect(),
            clear,
        })
    }
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
