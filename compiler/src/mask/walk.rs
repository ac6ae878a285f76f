//! The masks of one DFA state: a preorder walk of the token trie from that state.
//!
//! The walk keeps the DFA state reached at every depth of the current trie path (so a string
//! shares the walk of its common prefix with the previous one) and the stack of *accepting
//! offsets* on the path: depths `i` where the state after `i` bytes is accepting (depth 0 when the
//! state itself accepts). A string ending at a node that is still live is in `live(q)`; a string
//! is in `split(q, f)` when `f` is in the suffix set of its last accepting offset below its length
//! (maximal munch), intersected with Follow(τ). When the DFA goes dead at a node, its whole
//! subtree is skipped: nothing below is live, and the strings below only get the split
//! contribution of the last accepting offset already on the stack (none at all in the common
//! case).

use syncodec_artifacts::bits::{self, row, IdSet};
use syncodec_artifacts::ids::{DfaStateId, TerminalId};

use crate::lexical::TerminalDfa;

use super::tokens::{Suffixes, Tokens, NO_STRING};

/// The masks of one state, as token rows of `ceil(n_tokens / 32)` words ([`row`] layout). Only
/// non-empty masks are present; `splits` is sorted by follower.
#[derive(Debug, Default)]
pub(crate) struct StateMasks {
    pub live: Option<Vec<u32>>,
    pub splits: Vec<(u32, Vec<u32>)>,
}

/// Read-only inputs shared by every state walk.
pub(crate) struct WalkInput<'a> {
    pub tokens: &'a Tokens,
    pub suffixes: &'a Suffixes,
    /// Words of one token row.
    pub mask_words: usize,
    pub n_terminals: usize,
}

/// `live(q)` and `split(q, f)` for every `f` in `follow` for state `q` of `dfa`.
pub(crate) fn walk_state(input: &WalkInput<'_>, dfa: &TerminalDfa, q: DfaStateId, follow: &IdSet<TerminalId>) -> StateMasks {
    let tokens = input.tokens;
    let nodes = &tokens.nodes;
    let mut out = Masks { words: input.mask_words, live: None, split: (0..input.n_terminals).map(|_| None).collect() };
    if !dfa.live[q] || nodes.is_empty() {
        return StateMasks::default();
    }
    let follow = follow.words();
    let mut states = vec![DfaStateId::DEAD; tokens.max_len + 1];
    states[0] = q;
    let mut accepting_offsets: Vec<u32> = Vec::new();
    if dfa.accepting[q] {
        accepting_offsets.push(0);
    }
    // Per state: bit 0 accepting, bit 1 live (the dead state and non-live states have neither).
    let flags: Vec<u8> = dfa.accepting.values().zip(dfa.live.values()).map(|(&a, &l)| if l { 2 | u8::from(a) } else { 0 }).collect();
    let mut n = 1usize;
    while n < nodes.len() {
        let node = nodes[n];
        let depth = node.depth as usize;
        while accepting_offsets.last().is_some_and(|&a| a as usize >= depth) {
            accepting_offsets.pop();
        }
        let s = dfa.next(states[depth - 1], node.byte);
        let flag = flags[s.as_usize()];
        if flag == 0 {
            // Maximal munch: the lexeme ends at the last accepting offset on the path.
            if let Some(&last) = accepting_offsets.last() {
                for k in node.tok_lo..node.tok_hi {
                    out.split_string(input, k as usize, last, follow);
                }
            }
            n = node.end as usize;
            continue;
        }
        states[depth] = s;
        if node.string != NO_STRING {
            let k = node.string as usize;
            out.add_live(tokens.ids_of(k));
            // A string that ends in an accepting state has a lexeme at least as long as itself:
            // no split inside it. Otherwise only the last accepting offset can end the lexeme.
            if let (0, Some(&last)) = (flag & 1, accepting_offsets.last()) {
                out.split_string(input, k, last, follow);
            }
        }
        if flag & 1 != 0 {
            accepting_offsets.push(depth as u32);
        }
        n += 1;
    }
    StateMasks { live: out.live, splits: out.split.into_iter().enumerate().filter_map(|(f, m)| m.map(|m| (f as u32, m))).collect() }
}

/// Token rows being filled for one state, allocated on first use.
struct Masks {
    words: usize,
    live: Option<Vec<u32>>,
    /// Indexed by follower terminal.
    split: Vec<Option<Vec<u32>>>,
}

impl Masks {
    fn add_live(&mut self, ids: &[u32]) {
        let words = self.words;
        let live = self.live.get_or_insert_with(|| vec![0; words]);
        row::set_all(live, ids.iter().map(|&id| id as usize));
    }

    /// Adds string `k` to `split(q, f)` for each follower `f` in `follow` whose start takes the
    /// rest of the string from `offset` (below its length): its suffix set there.
    fn split_string(&mut self, input: &WalkInput<'_>, k: usize, offset: u32, follow: &[u64]) {
        let suffix = input.suffixes.at(input.tokens.offsets[k] + offset as usize);
        let words = self.words;
        for f in bits::iter_ones_and(suffix, follow) {
            if let Some(slot) = self.split.get_mut(f) {
                row::set_all(slot.get_or_insert_with(|| vec![0; words]), input.tokens.ids_of(k).iter().map(|&id| id as usize));
            }
        }
    }
}
