//! The undo log of a session: what [`Session::rollback`](super::Session::rollback) restores.
//!
//! A session's state is a function of its text: the hypotheses after a text are what stepping
//! the empty text's state over its bytes gives, whatever the tokens (and `feed_text` calls) that
//! brought the bytes. So the log keeps, per accepted token, only the text length before it (one
//! word), plus a *checkpoint* (the state before a token) every [`CHECKPOINT_TOKENS`] tokens, or
//! sooner once [`CHECKPOINT_BYTES`] bytes have been added since the last one. Rolling back to the
//! text before token `k` restores the last checkpoint at or before `k` and steps it over the
//! text between the two: fewer than [`CHECKPOINT_TOKENS`] tokens and fewer than
//! [`CHECKPOINT_BYTES`] bytes, so a rollback costs at most that much re-lexing and any point of
//! the session can be reached.
//!
//! **Memory.** A checkpoint clones the hypotheses, and a hypothesis's parser stack is shared with
//! every other clone ([`crate::parser::Parser`]), so a checkpoint costs O(hypotheses) plus the
//! parser states pushed since the previous one, not O(nesting depth). A session of `n` tokens
//! over a text of `b` bytes nested `d` deep holds O(b + n + d) in all (`b` for the text, one word
//! per token, `n / CHECKPOINT_TOKENS` checkpoints, and the stack nodes alive in some checkpoint);
//! before, each token's snapshot copied the stacks: O(n × d).
//!
//! **Invariant:** `checkpoints` is sorted by token index, and its first entry is the state before
//! token 0 whenever a token was accepted, so every mark has a checkpoint at or before it.

use super::context::Core;
use super::hyps::State;

/// A checkpoint is taken at least every this many tokens: a rollback re-lexes fewer tokens than
/// this. 32 keeps checkpoints (a few hundred bytes each) under 16 bytes per token on average.
pub(super) const CHECKPOINT_TOKENS: usize = 32;

/// A checkpoint is taken as soon as this many bytes were added since the last one (a long
/// `feed_text` or long tokens): a rollback re-lexes fewer bytes than this.
pub(super) const CHECKPOINT_BYTES: usize = 4096;

/// The state before token `index`, over the first `text_len` bytes.
struct Checkpoint<'g> {
    index: usize,
    text_len: usize,
    state: State<'g>,
}

/// The undo log; see the module docs.
pub(super) struct History<'g> {
    /// Text length before each accepted token, oldest first.
    marks: Vec<usize>,
    checkpoints: Vec<Checkpoint<'g>>,
}

impl<'g> History<'g> {
    pub(super) fn new() -> History<'g> {
        History { marks: Vec::new(), checkpoints: Vec::new() }
    }

    /// Tokens recorded.
    pub(super) fn len(&self) -> usize {
        self.marks.len()
    }

    /// Records a token accepted after `text_len` bytes, `before` being the state then (asked for
    /// only when a checkpoint is due).
    pub(super) fn push(&mut self, text_len: usize, before: impl FnOnce() -> State<'g>) {
        let index = self.marks.len();
        let due = match self.checkpoints.last() {
            None => true,
            Some(last) => index - last.index >= CHECKPOINT_TOKENS || text_len.saturating_sub(last.text_len) >= CHECKPOINT_BYTES,
        };
        if due {
            self.checkpoints.push(Checkpoint { index, text_len, state: before() });
        }
        self.marks.push(text_len);
    }

    /// Forgets the last `n` tokens (`0 < n <= len()`, else nothing happens) and puts the text
    /// and the state back to what they were before the first of them. `state` must be `text`'s.
    pub(super) fn rollback(&mut self, n: usize, core: &Core<'g>, text: &mut Vec<u8>, state: &mut State<'g>) {
        let Some(keep) = self.marks.len().checked_sub(n).filter(|_| n > 0) else { return };
        let target = self.marks[keep];
        self.marks.truncate(keep);
        let current = text.len();
        text.truncate(target);
        // Checkpoints at index >= keep describe forgotten tokens (or, at `keep`, the target).
        let first_forgotten = self.checkpoints.partition_point(|c| c.index < keep);
        let exact = self.checkpoints.drain(first_forgotten..).next().filter(|c| c.index == keep);
        if target == current {
            // Only empty tokens (or EOS) are undone: the state of the same text is the same.
            return;
        }
        if let Some(c) = exact {
            *state = c.state;
            return;
        }
        match self.checkpoints.last() {
            Some(c) => {
                let mut replayed = c.state.clone();
                replayed.advance(core, text, c.text_len);
                *state = replayed;
            }
            // Unreachable by the invariant; re-lexing the whole text is still right.
            None => *state = State::from_text(core, text),
        }
    }

    /// The stack nodes held by the checkpoints and `current`, counted once each (for memory
    /// tests), and the number of checkpoints.
    #[cfg(test)]
    pub(super) fn retained(&self, current: &State<'g>) -> (usize, usize) {
        let mut seen = std::collections::HashSet::new();
        let states = std::iter::once(current).chain(self.checkpoints.iter().map(|c| &c.state));
        let nodes = states.flat_map(|s| &s.hyps).map(|h| h.front.parser.count_new_stack_nodes(&mut seen)).sum();
        (nodes, self.checkpoints.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::hyps::Layout;
    use crate::session::Session;
    use crate::testing;
    use proptest::prelude::*;

    /// What a state means, without the hypotheses' ids (which depend on how it was reached).
    fn fingerprint(state: &State<'_>) -> Vec<String> {
        state
            .hyps
            .iter()
            .map(|h| {
                let layout = match &h.front.layout {
                    Layout::Plain => String::new(),
                    Layout::Indent(ind) => format!("{ind:?}"),
                    Layout::Semi(semi) => format!("{semi:?}"),
                };
                format!("{} {:?} {:?} {:?} {layout}", h.start, h.lex, h.cands, h.front.parser.stack())
            })
            .collect()
    }

    fn token(session: &Session<'_>, text: &str) -> u32 {
        let vocab = session.vocab();
        (0..vocab.n_tokens() as u32).find(|&id| vocab.bytes(syncodec_artifacts::ids::TokenId::from_raw(id)) == Some(text.as_bytes())).unwrap()
    }

    const ASSIGN_TOKENS: &[&str] = &["x", "=", " = ", "(", "((", ")", "))", "1", ",", "\n", "y"];

    /// 200,000 nested `(`: the checkpoints and the current state share one parser stack, so the
    /// session holds O(n) stack nodes (each snapshot copying its stack would hold O(n²)); every
    /// point stays reachable by rollback.
    #[test]
    fn deep_nesting_holds_linear_memory_and_rolls_back_anywhere() {
        const N: usize = 200_000;
        let artifact = testing::with_tokens(testing::assign_grammar(), ASSIGN_TOKENS);
        let mut session = Session::new(&artifact).unwrap();
        let (x, eq, open, one, close) = (token(&session, "x"), token(&session, " = "), token(&session, "("), token(&session, "1"), token(&session, ")"));
        session.accept_token(x).unwrap();
        session.accept_token(eq).unwrap();
        for _ in 0..N {
            session.accept_token(open).unwrap();
        }
        assert_eq!(session.n_accepted(), N + 2);
        let depth = session.state.hyps.iter().map(|h| h.front.parser.depth()).max().unwrap_or(0);
        assert!(depth > N, "the parser holds every open bracket (depth {depth})");
        let (nodes, checkpoints) = session.history.retained(&session.state);
        assert!(nodes <= N + 100, "{nodes} stack nodes retained for {N} nested brackets: snapshots copy stacks");
        assert!(checkpoints <= (N + 2) / CHECKPOINT_TOKENS + 1, "{checkpoints} checkpoints");

        // Close half of them, then roll back, step by step, to points after, inside and before the
        // opening run, each compared with a session fed the same text at once.
        session.accept_token(one).unwrap();
        for _ in 0..N / 2 {
            session.accept_token(close).unwrap();
        }
        let (nodes, _) = session.history.retained(&session.state);
        assert!(nodes <= 2 * N, "{nodes} stack nodes after closing");
        let full = session.text().to_vec();
        let marks = session.history.marks.clone();
        for back in [1, 7, 33, N / 2 - 41, 1, 12_345, N - 12_345, 2] {
            session.rollback(back).unwrap();
            let n = session.n_accepted();
            let mut fresh = Session::new(&artifact).unwrap();
            fresh.feed_text(&full[..marks[n]]).unwrap();
            assert_eq!(session.text(), fresh.text(), "after rollback({back}) to {n}");
            assert_eq!(fingerprint(&session.state), fingerprint(&fresh.state), "after rollback({back}) to {n}");
        }
        assert_eq!(session.n_accepted(), 0);
        assert!(matches!(session.rollback(1), Err(crate::session::SessionError::RollbackTooFar { requested: 1, available: 0 })));
    }

    const BLOCKS_TOKENS: &[&str] = &["if", " a", ":", "\n", "\n  ", "\n    ", "  ", "x", " = ", "(", "((", ")", "1", ",", " ", "y", "\n\n"];

    /// A random walk over valid tokens with rollbacks of any length (across checkpoints, to
    /// the start, of EOS): after each rollback the text is the one before the undone tokens and
    /// the state is what lexing that text from scratch gives.
    fn walk(artifact: &crate::artifact::Artifact, seed: u64, steps: usize) -> Result<(), TestCaseError> {
        let mut rng = seed | 1;
        let mut next = move |below: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % below.max(1) as u64) as usize
        };
        let mut session = Session::new(artifact).unwrap();
        let width = session.vocab_width() as u32;
        let mut lens: Vec<usize> = Vec::new();
        for _ in 0..steps {
            let valid: Vec<u32> = (0..width).filter(|&id| session.is_token_valid(id)).collect();
            if valid.is_empty() || next(12) == 0 {
                let back = match next(8) {
                    0 => lens.len(),
                    1 => next(lens.len() + 1),
                    _ => next(4.min(lens.len() + 1)),
                };
                let before = if back == 0 { session.text().len() } else { lens[lens.len() - back] };
                session.rollback(back).unwrap();
                lens.truncate(lens.len() - back);
                let fresh = State::from_text(&session.core, session.text());
                prop_assert_eq!(session.n_accepted(), lens.len());
                prop_assert_eq!(session.text().len(), before);
                prop_assert_eq!(fingerprint(&session.state), fingerprint(&fresh), "seed {} rollback({})", seed, back);
                prop_assert!(!session.is_finished());
                continue;
            }
            let id = valid[next(valid.len())];
            lens.push(session.text().len());
            session.accept_token(id).unwrap();
            if session.is_finished() {
                let back = 1 + next(lens.len());
                let before = lens[lens.len() - back];
                session.rollback(back).unwrap();
                lens.truncate(lens.len() - back);
                prop_assert_eq!(session.text().len(), before);
                prop_assert_eq!(fingerprint(&session.state), fingerprint(&State::from_text(&session.core, session.text())));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rollback_reaches_any_point(seed in any::<u64>()) {
            walk(&testing::with_tokens(testing::assign_grammar(), ASSIGN_TOKENS), seed, 300)?;
            walk(&testing::with_tokens(testing::blocks_grammar(), BLOCKS_TOKENS), seed, 300)?;
        }
    }
}
