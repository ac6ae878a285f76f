//! Canonical LR(1) states (Knuth, "On the translation of languages from left to right",
//! *Information and Control* 8, 1965), built on the interned LR(0) cores of [`super::cores`].
//!
//! A canonical LR(1) state is a core plus one lookahead bitset per kernel item; two states are
//! the same iff both agree. States are stored core-indexed: the state records its core id and
//! an offset into one flat arena of lookahead words, and the dedup table hashes
//! `(core, lookahead words)` into an open-addressing table of state ids, so no item set is ever
//! materialized or hashed. The successor of a state on a symbol is computed from the core's
//! precomputed transition ([`super::cores::Transition`]): every target kernel lookahead is a
//! kernel lookahead of the source state or one of its derived sets.
//!
//! States are numbered in breadth-first order from the initial state (kernel `S' -> • start`
//! with lookahead {end}), successors taken in symbol-code order, so numbering is deterministic.
//! The BFS tree is recorded for shortest example inputs.

use super::cores::{resolve, LimitExceeded, Lr0};
use super::items::Grammar;

/// An LR automaton over the cores of an [`Lr0`]: canonical LR(1) or LALR(1).
#[derive(Debug, Clone)]
pub(crate) struct Automaton {
    pub(crate) words: usize,
    /// Per state: its core.
    pub(crate) core: Vec<u32>,
    /// Per state: offset in `lookahead` of its kernel lookaheads (`words` words per kernel item).
    pub(crate) la_offset: Vec<usize>,
    pub(crate) lookahead: Vec<u64>,
    /// Per state: offset in `successor`; the successors align with the core's transitions.
    pub(crate) succ_offset: Vec<u32>,
    pub(crate) successor: Vec<u32>,
    /// BFS tree: for each state but the initial one, `(predecessor, symbol)`.
    pub(crate) parent: Vec<Option<(u32, u32)>>,
}

impl Automaton {
    pub(crate) fn n_states(&self) -> usize {
        self.core.len()
    }

    pub(crate) fn kernel_lookaheads(&self, lr0: &Lr0, state: usize) -> &[u64] {
        let n = lr0.cores[self.core[state] as usize].kernel.len() * self.words;
        &self.lookahead[self.la_offset[state]..self.la_offset[state] + n]
    }

    pub(crate) fn successors(&self, state: usize) -> &[u32] {
        let start = self.succ_offset[state] as usize;
        let end = self.succ_offset.get(state + 1).map_or(self.successor.len(), |&e| e as usize);
        &self.successor[start..end]
    }
}

/// Builds the canonical LR(1) automaton.
pub(crate) fn build(g: &Grammar, lr0: &Lr0, state_limit: usize) -> Result<Automaton, LimitExceeded> {
    let words = g.words;
    let mut a = Automaton {
        words,
        core: vec![0],
        la_offset: vec![0],
        lookahead: vec![0u64; words],
        succ_offset: Vec::new(),
        successor: Vec::new(),
        parent: vec![None],
    };
    super::items::set_bit(&mut a.lookahead, g.end_column());
    let mut table = Interner::new();
    table.insert_hashed(hash_state(0, &a.lookahead), 0);

    let mut kernel_la: Vec<u64> = Vec::new();
    let mut derived: Vec<u64> = Vec::new();
    let mut target_la: Vec<u64> = Vec::new();
    let mut state = 0;
    while state < a.n_states() {
        let core = &lr0.cores[a.core[state] as usize];
        kernel_la.clear();
        kernel_la.extend_from_slice(a.kernel_lookaheads(lr0, state));
        core.derive(words, &kernel_la, &mut derived);
        a.succ_offset.push(a.successor.len() as u32);
        for transition in &core.transitions {
            target_la.clear();
            for &source in &transition.sources {
                target_la.extend_from_slice(resolve(source, words, &kernel_la, &derived));
            }
            let hash = hash_state(transition.target, &target_la);
            let id = match table.find(&a, hash, transition.target, &target_la) {
                Some(id) => id,
                None => {
                    let id = a.n_states() as u32;
                    if a.n_states() >= state_limit {
                        return Err(LimitExceeded);
                    }
                    a.core.push(transition.target);
                    a.la_offset.push(a.lookahead.len());
                    a.lookahead.extend_from_slice(&target_la);
                    a.parent.push(Some((state as u32, transition.symbol)));
                    table.insert_hashed(hash, id);
                    id
                }
            };
            a.successor.push(id);
        }
        state += 1;
    }
    Ok(a)
}

/// FxHash-style mixing of a core id and its lookahead words (deterministic, no random state).
fn hash_state(core: u32, lookahead: &[u64]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (core as u64).wrapping_mul(K);
    for &w in lookahead {
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Open-addressing set of state ids keyed by `(core, lookaheads)` stored in the automaton.
struct Interner {
    /// `u32::MAX` marks an empty slot; the length is a power of two.
    slots: Vec<u32>,
    /// Per state: its hash (for probing and rehashing).
    hashes: Vec<u64>,
}

impl Interner {
    fn new() -> Interner {
        Interner { slots: vec![u32::MAX; 1024], hashes: Vec::new() }
    }

    fn find(&self, a: &Automaton, hash: u64, core: u32, lookahead: &[u64]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let id = self.slots[slot];
            if id == u32::MAX {
                return None;
            }
            let s = id as usize;
            if self.hashes[s] == hash && a.core[s] == core {
                let start = a.la_offset[s];
                if a.lookahead.get(start..start + lookahead.len()) == Some(lookahead) {
                    return Some(id);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Inserts state `id` (which must be `hashes.len()`).
    fn insert_hashed(&mut self, hash: u64, id: u32) {
        debug_assert_eq!(id as usize, self.hashes.len());
        self.hashes.push(hash);
        if self.hashes.len() * 2 > self.slots.len() {
            let mut slots = vec![u32::MAX; self.slots.len() * 2];
            let mask = slots.len() - 1;
            for (state, &h) in self.hashes.iter().enumerate() {
                let mut slot = h as usize & mask;
                while slots[slot] != u32::MAX {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = state as u32;
            }
            self.slots = slots;
        } else {
            let mask = self.slots.len() - 1;
            let mut slot = hash as usize & mask;
            while self.slots[slot] != u32::MAX {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = id;
        }
    }
}
