//! Stage 6: the DFA mask store (SynCode's M) for one grammar and one vocabulary.
//!
//! For every live state `q` of every terminal τ's DFA: `live(q)`, the text tokens whose bytes
//! walked from `q` never go dead; and for every follower `f` ∈ Follow(τ) (`follow.rs`),
//! `split(q, f)`, the tokens that reach an accepting state of τ after a proper prefix (possibly
//! empty) whose rest, walked from `f`'s start, stays live or passes an accepting state of `f`.
//! Definitions, algorithm and sizes: `docs/internals-masks.md`.
//!
//! Pipeline: `tokens.rs` sorts the distinct token strings into an implicit trie and computes, per
//! (string, offset), the terminals that accept or stay live on the suffix; `walk.rs` walks the
//! trie once per DFA state (rayon-parallel over states); `store.rs` picks each mask's
//! representation and deduplicates.
//!
//! **Invariants:** special tokens and tokens with no bytes are in no mask; masks are stored once
//! each, dense or sparse by size; the output depends only on the grammar and the vocabulary
//! (states are merged in a fixed order, whatever the thread count), so artifacts are
//! byte-identical across runs. Memory: the trie and suffix table (O(vocabulary bytes ×
//! terminals / 64) words), the stored masks, and the bitsets of one batch of states in flight.

mod follow;
mod store;
mod tokens;
mod walk;
#[cfg(test)]
mod tests;

use rayon::prelude::*;
use syncodec_artifacts::bits::{self, row};
use syncodec_artifacts::ids::DfaStateId;
use syncodec_artifacts::schema::{self, MASK_DENSE, NONE};

use crate::lexical::TerminalDfa;
use crate::vocab::Vocabulary;
use crate::Compiled;

/// Why a mask store could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    #[error("the mask store is too large: {value} {what} do not fit the artifact's 32-bit tables")]
    TooLarge { what: &'static str, value: usize },
}

/// Counts that describe a mask store (what `syncodec build` prints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaskStats {
    /// Distinct byte strings among the text tokens.
    pub n_strings: usize,
    /// Nodes of the implicit token trie (the root included).
    pub n_trie_nodes: usize,
    /// DFA states walked (every live state of every terminal).
    pub n_states: usize,
    /// States with a non-empty `live` mask.
    pub n_live: usize,
    /// Non-empty `split(q, f)` entries.
    pub n_split_entries: usize,
    /// Distinct masks stored, and how many of them are dense or sparse.
    pub n_masks: usize,
    pub n_dense: usize,
    pub n_sparse: usize,
    /// Size of the stored mask words in bytes.
    pub mask_bytes: usize,
}

/// The mask store and its statistics.
#[derive(Debug, Clone)]
pub struct MaskBuild {
    pub store: schema::MaskStore,
    pub stats: MaskStats,
}

/// Progress of [`build`]: `done` of `total` DFA states merged. Called from the building thread
/// after each batch; never from library code's workers.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Builds the mask store of `compiled` for `vocab`, on the current rayon pool.
///
/// # Errors
/// [`MaskError::TooLarge`] when a table outgrows the artifact's 32-bit offsets.
pub fn build(compiled: &Compiled, vocab: &Vocabulary, progress: Progress<'_>) -> Result<MaskBuild, MaskError> {
    let dfas: Vec<Option<&TerminalDfa>> = compiled.lexical.terminals.values().map(Option::as_ref).collect();
    let n_terminals = dfas.len();
    let followers = follow::followers(compiled);
    let tokens = tokens::Tokens::new(vocab)?;
    let suffixes = tokens::Suffixes::new(&tokens, &dfas);
    let input = walk::WalkInput { tokens: &tokens, suffixes: &suffixes, mask_words: row::words(vocab.bytes.len()), n_terminals };

    // Global state numbering: terminal t's state q is `state_base[t] + q`.
    let mut state_base = Vec::with_capacity(n_terminals);
    let mut n_global = 0usize;
    let mut work: Vec<(usize, DfaStateId)> = Vec::new();
    for (t, dfa) in dfas.iter().enumerate() {
        match dfa {
            Some(dfa) => {
                state_base.push(u32::try_from(n_global).map_err(|_| MaskError::TooLarge { what: "DFA states", value: n_global })?);
                work.extend(dfa.live.iter().filter(|&(_, &live)| live).map(|(q, _)| (t, q)));
                n_global += dfa.n_states();
            }
            None => state_base.push(NONE),
        }
    }
    if n_global >= NONE as usize {
        return Err(MaskError::TooLarge { what: "DFA states", value: n_global });
    }

    // `%ignore` refinement (see `schema::SPLIT_AFTER_IGNORE`): per ignored terminal, the bytes
    // that can start it and the tokens whose first byte is one of them.
    let words = row::words(vocab.bytes.len());
    let ignore: Vec<usize> = compiled.bnf.ignore.iter().map(|t| t.as_usize()).collect();
    let ignore_start: Vec<Option<([bool; 256], Vec<u32>)>> = ignore
        .iter()
        .map(|&g| {
            let dfa = dfas.get(g).copied().flatten()?;
            let mut starts = [false; 256];
            for b in 0..=255u8 {
                starts[b as usize] = dfa.live[dfa.next(dfa.start, b)];
            }
            let mut bitset = vec![0u32; words];
            for (b, strings) in tokens.first_bytes() {
                if starts[b as usize] {
                    row::set_all(&mut bitset, tokens.ids_in(strings).iter().map(|&id| id as usize));
                }
            }
            Some((starts, bitset))
        })
        .collect();
    // A split entry of state q (accepting) for ignored follower g is refined when no byte that
    // starts g continues q.
    let refine = |dfa: &TerminalDfa, q: DfaStateId, f: u32| -> Option<&[u32]> {
        let j = ignore.iter().position(|&g| g == f as usize)?;
        let (starts, bitset) = ignore_start[j].as_ref()?;
        if !dfa.accepting[q] {
            return None;
        }
        let continues = (0..=255u8).any(|b| starts[b as usize] && dfa.live[dfa.next(q, b)]);
        (!continues).then_some(bitset.as_slice())
    };

    let mut interner = store::Interner::new();
    let mut live = vec![NONE; n_global];
    let mut split_count = vec![0u32; n_global];
    let mut split_follower = Vec::new();
    let mut split_mask = Vec::new();
    let mut stats = MaskStats { n_strings: tokens.n_strings(), n_trie_nodes: tokens.nodes.len(), n_states: work.len(), ..MaskStats::default() };
    // A batch of states is walked in parallel and merged in order; its bitsets are the only
    // per-state memory alive at a time.
    let batch = (rayon::current_num_threads() * 16).max(32);
    let mut done = 0usize;
    for chunk in work.chunks(batch) {
        let results: Vec<store::StateEncoded> = chunk
            .par_iter()
            .map(|&(t, q)| {
                let Some(dfa) = dfas[t] else { return store::StateEncoded { live: None, splits: Vec::new() } };
                let masks = walk::walk_state(&input, dfa, q, &followers[t]);
                let splits = masks
                    .splits
                    .into_iter()
                    .map(|(f, mut m)| match refine(dfa, q, f) {
                        Some(starts) => {
                            m.iter_mut().zip(starts).for_each(|(w, s)| *w &= !s);
                            (f | schema::SPLIT_AFTER_IGNORE, store::encode(m))
                        }
                        None => (f, store::encode(m)),
                    })
                    .collect();
                store::StateEncoded { live: masks.live.map(store::encode), splits }
            })
            .collect();
        for (&(t, q), store::StateEncoded { live: live_mask, splits }) in chunk.iter().zip(results) {
            let global = state_base[t] as usize + q.as_usize();
            if let Some(mask) = live_mask {
                live[global] = interner.intern(mask)?;
                stats.n_live += 1;
            }
            split_count[global] = splits.len() as u32;
            for (f, mask) in splits {
                split_follower.push(f);
                split_mask.push(interner.intern(mask)?);
            }
        }
        done += chunk.len();
        progress(done, work.len());
    }

    // after_ignore[g][f]: tokens that complete a g lexeme after a non-empty proper prefix and
    // whose rest stays live in f or passes an accepting state of f.
    let mut after_ignore = vec![NONE; ignore.len() * n_terminals];
    for (j, &g) in ignore.iter().enumerate() {
        let Some(dfa) = dfas.get(g).copied().flatten() else { continue };
        let mut per_follower: Vec<Option<Vec<u32>>> = vec![None; n_terminals];
        let mut set = vec![0u64; suffixes.n_words];
        for k in 0..tokens.n_strings() {
            let bytes = tokens.string(k);
            set.fill(0);
            // Maximal munch: the g lexeme ends at its last accepting offset, and not inside the
            // string at all when the string ends accepting.
            let mut s = dfa.start;
            let mut last = None;
            let mut ends_accepting = false;
            for (i, &b) in bytes.iter().enumerate() {
                s = dfa.next(s, b);
                if !dfa.live[s] {
                    break;
                }
                if dfa.accepting[s] {
                    if i + 1 < bytes.len() {
                        last = Some(i + 1);
                    } else {
                        ends_accepting = true;
                    }
                }
            }
            if let (false, Some(i)) = (ends_accepting, last) {
                set.copy_from_slice(suffixes.at(tokens.offsets[k] + i));
            }
            for f in bits::iter_ones_u64(&set) {
                let mask = per_follower[f].get_or_insert_with(|| vec![0u32; words]);
                row::set_all(mask, tokens.ids_of(k).iter().map(|&id| id as usize));
            }
        }
        for (f, mask) in per_follower.into_iter().enumerate() {
            if let Some(mask) = mask {
                after_ignore[j * n_terminals + f] = interner.intern(store::encode(mask))?;
            }
        }
    }

    let mut split_start = Vec::with_capacity(n_global + 1);
    let mut at = 0u32;
    split_start.push(0);
    for count in split_count {
        at = at.checked_add(count).ok_or(MaskError::TooLarge { what: "split entries", value: split_follower.len() })?;
        split_start.push(at);
    }
    stats.n_split_entries = split_follower.len();
    stats.n_masks = interner.n_masks();
    stats.n_dense = interner.kind.iter().filter(|&&k| k == MASK_DENSE).count();
    stats.n_sparse = stats.n_masks - stats.n_dense;
    stats.mask_bytes = interner.data.len() * 4;
    let store = schema::MaskStore {
        state_base,
        live,
        split_start,
        split_follower,
        split_mask,
        after_ignore,
        mask_kind: interner.kind,
        mask_offset: interner.offset,
        mask_data: interner.data,
    };
    Ok(MaskBuild { store, stats })
}
