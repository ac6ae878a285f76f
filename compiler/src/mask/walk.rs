//! The masks of one DFA state: a preorder walk of the token trie from that state.
//!
//! The walk keeps the DFA state reached at every depth of the current trie path (so a string
//! shares the walk of its common prefix with the previous one) and the stack of *accepting
//! offsets* on the path: depths `i` where the state after `i` bytes is accepting (depth 0 when the
//! state itself accepts). A string ending at a node that is still live is in `live(q)`; a string
//! is in `split(q, f)` when `f` is in the suffix set of some accepting offset below its length,
//! intersected with Follow(τ). When the DFA goes dead at a node, its whole subtree is skipped:
//! nothing below is live, and the strings below only get the split contributions of the
//! accepting offsets already on the stack (none at all in the common case).

use syncodec_artifacts::ids::DfaStateId;

use crate::lexical::TerminalDfa;

use super::termset::bits;
use super::tokens::{Suffixes, Tokens, NO_STRING};

/// The masks of one state, as bitsets of `ceil(n_tokens / 32)` words (bit `t & 31` of word
/// `t >> 5`). Only non-empty masks are present; `splits` is sorted by follower.
#[derive(Debug, Default)]
pub(crate) struct StateMasks {
    pub live: Option<Vec<u32>>,
    pub splits: Vec<(u32, Vec<u32>)>,
}

/// Read-only inputs shared by every state walk.
pub(crate) struct WalkInput<'a> {
    pub tokens: &'a Tokens,
    pub suffixes: &'a Suffixes,
    /// Words of one token bitset.
    pub mask_words: usize,
    pub n_terminals: usize,
}

/// `live(q)` and `split(q, f)` for every `f` in `follow` (a terminal bitset) for state `q` of `dfa`.
pub(crate) fn walk_state(input: &WalkInput<'_>, dfa: &TerminalDfa, q: DfaStateId, follow: &[u64]) -> StateMasks {
    let tokens = input.tokens;
    let nodes = &tokens.nodes;
    let mut out = Masks { words: input.mask_words, live: None, split: (0..input.n_terminals).map(|_| None).collect() };
    if !dfa.live[q] || nodes.is_empty() {
        return StateMasks::default();
    }
    let mut states = vec![DfaStateId::DEAD; tokens.max_len + 1];
    states[0] = q;
    let mut accepting_offsets: Vec<u32> = Vec::new();
    if dfa.accepting[q] {
        accepting_offsets.push(0);
    }
    let mut scratch = vec![0u64; follow.len()];
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
            if let Some(last) = accepting_offsets.last() {
                for k in node.tok_lo..node.tok_hi {
                    out.split_string(input, k as usize, std::slice::from_ref(last), follow, &mut scratch);
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
            if let (0, Some(last)) = (flag & 1, accepting_offsets.last()) {
                out.split_string(input, k, std::slice::from_ref(last), follow, &mut scratch);
            }
        }
        if flag & 1 != 0 {
            accepting_offsets.push(depth as u32);
        }
        n += 1;
    }
    StateMasks { live: out.live, splits: out.split.into_iter().enumerate().filter_map(|(f, m)| m.map(|m| (f as u32, m))).collect() }
}

/// Bitsets being filled for one state, allocated on first use.
struct Masks {
    words: usize,
    live: Option<Vec<u32>>,
    /// Indexed by follower terminal.
    split: Vec<Option<Vec<u32>>>,
}

fn set_ids(bitset: &mut [u32], ids: &[u32]) {
    for &id in ids {
        bitset[id as usize >> 5] |= 1 << (id & 31);
    }
}

impl Masks {
    fn add_live(&mut self, ids: &[u32]) {
        let words = self.words;
        set_ids(self.live.get_or_insert_with(|| vec![0; words]), ids);
    }

    /// Adds string `k` to `split(q, f)` for each follower `f` in the union of its suffix sets at
    /// `offsets` (all below its length).
    fn split_string(&mut self, input: &WalkInput<'_>, k: usize, offsets: &[u32], follow: &[u64], scratch: &mut [u64]) {
        let base = input.tokens.offsets[k];
        scratch.fill(0);
        for &i in offsets {
            for (acc, w) in scratch.iter_mut().zip(input.suffixes.at(base + i as usize)) {
                *acc |= w;
            }
        }
        let mut any = false;
        for (acc, f) in scratch.iter_mut().zip(follow) {
            *acc &= f;
            any |= *acc != 0;
        }
        if !any {
            return;
        }
        let ids = input.tokens.ids_of(k);
        let words = self.words;
        for f in bits(scratch) {
            if let Some(slot) = self.split.get_mut(f) {
                set_ids(slot.get_or_insert_with(|| vec![0; words]), ids);
            }
        }
    }
}
