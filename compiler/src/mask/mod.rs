//! Stage 6: the DFA mask store (SynCode's M) for one grammar and one vocabulary.
//!
//! For every live state `q` of every terminal τ's DFA: `live(q)`, the text tokens whose bytes
//! walked from `q` never go dead; and for every follower `f` ∈ Follow(τ) (`follow.rs`),
//! `split(q, f)`, the tokens that reach an accepting state of τ after a proper prefix (possibly
//! empty) whose rest, walked from `f`'s start, stays live or passes an accepting state of `f`.
//! Definitions, algorithm and sizes: `docs/internals-masks.md`.
//!
//! Pipeline ([`build`], one function per step): `Layout::new` gathers the DFAs and Follow sets
//! (`follow.rs`), and `tokens.rs` sorts the distinct token strings into an implicit trie and
//! computes, per (string, offset), the terminals that accept or stay live on the suffix;
//! `IgnoreRefinement::new` prepares the `%ignore` refinement of split entries; `walk_states` walks
//! the trie once per live DFA state (`walk.rs`, rayon-parallel over states), refines, and has
//! `store.rs` pick each mask's representation and deduplicate; `after_ignore` reads that table
//! off the split entries already walked; `assemble` lays out the store and its statistics.
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
use syncodec_artifacts::bits::{row, IdSet};
use syncodec_artifacts::ids::{DfaStateId, TerminalId};
use syncodec_artifacts::schema::{self, MASK_DENSE, NONE, SPLIT_AFTER_IGNORE};

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
    let layout = Layout::new(compiled, vocab)?;
    let refinement = IgnoreRefinement::new(&compiled.bnf.ignore, &layout);
    let tables = walk_states(&layout, &refinement, progress)?;
    let split_start = tables.split_start()?;
    let after_ignore = after_ignore(&compiled.bnf.ignore, &layout, &tables, &split_start);
    Ok(assemble(&layout, tables, split_start, after_ignore))
}

/// Everything the state walks read: the terminals' DFAs and Follow sets, the token trie with its
/// suffix sets, and the global numbering of DFA states in the artifact's tables.
struct Layout<'a> {
    /// Per terminal (raw id): its DFA, `None` for declared terminals.
    dfas: Vec<Option<&'a TerminalDfa>>,
    /// Per terminal (raw id): Follow(τ) (`follow.rs`).
    followers: Vec<IdSet<TerminalId>>,
    tokens: tokens::Tokens,
    suffixes: tokens::Suffixes,
    /// Words of one token row.
    mask_words: usize,
    /// Per terminal: its first global state (terminal τ's state q is `state_base[τ] + q`), or
    /// [`NONE`] for a terminal without a DFA.
    state_base: Vec<u32>,
    /// Number of global states (every state of every DFA, dead ones included).
    n_global: usize,
    /// The states to walk, in global order: every live state of every terminal's DFA.
    work: Vec<(usize, DfaStateId)>,
}

impl<'a> Layout<'a> {
    /// Collects the DFAs and Follow sets, builds the token trie and the suffix table, and numbers
    /// the states globally.
    fn new(compiled: &'a Compiled, vocab: &Vocabulary) -> Result<Layout<'a>, MaskError> {
        let dfas: Vec<Option<&TerminalDfa>> = compiled.lexical.terminals.values().map(Option::as_ref).collect();
        let followers = follow::followers(compiled);
        let tokens = tokens::Tokens::new(vocab)?;
        let suffixes = tokens::Suffixes::new(&tokens, &dfas);
        let mut state_base = Vec::with_capacity(dfas.len());
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
        Ok(Layout { dfas, followers, tokens, suffixes, mask_words: row::words(vocab.bytes.len()), state_base, n_global, work })
    }

    fn walk_input(&self) -> walk::WalkInput<'_> {
        walk::WalkInput { tokens: &self.tokens, suffixes: &self.suffixes, mask_words: self.mask_words, n_terminals: self.dfas.len() }
    }

    /// The global number of state `q` of terminal `t` (a terminal with a DFA).
    fn global(&self, t: usize, q: DfaStateId) -> usize {
        self.state_base[t] as usize + q.as_usize()
    }
}

/// The `%ignore` refinement of split entries (see `schema::SPLIT_AFTER_IGNORE`): per ignored
/// terminal, the bytes that can start it and the tokens whose first byte is one of them.
struct IgnoreRefinement {
    /// Per `%ignore` entry: the ignored terminal (raw id) and, when it has a DFA, its start
    /// bytes and its starting tokens as a token row.
    ignored: Vec<(usize, Option<([bool; 256], Vec<u32>)>)>,
}

impl IgnoreRefinement {
    fn new(ignore: &[TerminalId], layout: &Layout<'_>) -> IgnoreRefinement {
        let ignored = ignore
            .iter()
            .map(|g| {
                let starts = layout.dfas.get(g.as_usize()).copied().flatten().map(|dfa| {
                    let mut starts = [false; 256];
                    for b in 0..=255u8 {
                        starts[b as usize] = dfa.live[dfa.next(dfa.start, b)];
                    }
                    let mut tokens = vec![0u32; layout.mask_words];
                    for (b, strings) in layout.tokens.first_bytes() {
                        if starts[b as usize] {
                            row::set_all(&mut tokens, layout.tokens.ids_in(strings).iter().map(|&id| id as usize));
                        }
                    }
                    (starts, tokens)
                });
                (g.as_usize(), starts)
            })
            .collect();
        IgnoreRefinement { ignored }
    }

    /// The tokens to drop from `split(q, f)` of `dfa`, when that entry is refined: `f` is ignored,
    /// `q` accepts, and no byte that starts `f` continues `q`.
    fn refine(&self, dfa: &TerminalDfa, q: DfaStateId, f: u32) -> Option<&[u32]> {
        let (_, start) = self.ignored.iter().find(|(g, _)| *g == f as usize)?;
        let (starts, tokens) = start.as_ref()?;
        if !dfa.accepting[q] {
            return None;
        }
        let continues = (0..=255u8).any(|b| starts[b as usize] && dfa.live[dfa.next(q, b)]);
        (!continues).then_some(tokens.as_slice())
    }
}

/// The per-state tables of the store, filled by [`walk_states`] in global state order.
struct StateTables {
    interner: store::Interner,
    /// Per global state: mask id of `live`, or [`NONE`].
    live: Vec<u32>,
    /// Per global state: its number of split entries.
    split_count: Vec<u32>,
    split_follower: Vec<u32>,
    split_mask: Vec<u32>,
    /// States with a non-empty `live` mask.
    n_live: usize,
}

impl StateTables {
    /// `split_start`: per global state, the index of its first split entry (`n_global + 1`
    /// entries, prefix sums of the counts).
    fn split_start(&self) -> Result<Vec<u32>, MaskError> {
        let mut split_start = Vec::with_capacity(self.split_count.len() + 1);
        let mut at = 0u32;
        split_start.push(0);
        for &count in &self.split_count {
            at = at.checked_add(count).ok_or(MaskError::TooLarge { what: "split entries", value: self.split_follower.len() })?;
            split_start.push(at);
        }
        Ok(split_start)
    }
}

/// Walks every live state (rayon-parallel, a batch at a time), refines its `%ignore` split
/// entries, encodes its masks, and merges them in global order, so mask ids do not depend on the
/// thread count. A batch's token rows are the only per-state memory alive at a time.
fn walk_states(layout: &Layout<'_>, refinement: &IgnoreRefinement, progress: Progress<'_>) -> Result<StateTables, MaskError> {
    let input = layout.walk_input();
    let mut tables = StateTables {
        interner: store::Interner::new(),
        live: vec![NONE; layout.n_global],
        split_count: vec![0; layout.n_global],
        split_follower: Vec::new(),
        split_mask: Vec::new(),
        n_live: 0,
    };
    let batch = (rayon::current_num_threads() * 16).max(32);
    let mut done = 0usize;
    for chunk in layout.work.chunks(batch) {
        let results: Vec<store::StateEncoded> = chunk
            .par_iter()
            .map(|&(t, q)| {
                let Some(dfa) = layout.dfas[t] else { return store::StateEncoded { live: None, splits: Vec::new() } };
                let masks = walk::walk_state(&input, dfa, q, &layout.followers[t]);
                let splits = masks
                    .splits
                    .into_iter()
                    .map(|(f, mut m)| match refinement.refine(dfa, q, f) {
                        Some(drop) => {
                            m.iter_mut().zip(drop).for_each(|(w, d)| *w &= !d);
                            (f | SPLIT_AFTER_IGNORE, store::encode(m))
                        }
                        None => (f, store::encode(m)),
                    })
                    .collect();
                store::StateEncoded { live: masks.live.map(store::encode), splits }
            })
            .collect();
        for (&(t, q), store::StateEncoded { live, splits }) in chunk.iter().zip(results) {
            let global = layout.global(t, q);
            if let Some(mask) = live {
                tables.live[global] = tables.interner.intern(mask)?;
                tables.n_live += 1;
            }
            tables.split_count[global] = splits.len() as u32;
            for (f, mask) in splits {
                tables.split_follower.push(f);
                tables.split_mask.push(tables.interner.intern(mask)?);
            }
        }
        done += chunk.len();
        progress(done, layout.work.len());
    }
    Ok(tables)
}

/// `after_ignore[g][f]` (flat, `ignore.len() × n_terminals`): the tokens that complete a `g`
/// lexeme after a non-empty proper prefix and whose rest stays live in `f` or passes an
/// accepting state of `f` — which is `split(start_g, f)`, already walked and stored: Follow(g) is
/// every terminal with a DFA (`follow.rs`), and `start_g` never accepts (the lexical stage
/// rejects a terminal matching the empty string), so its split entries are never refined and
/// never split at offset 0. Reading the entries reuses their mask ids, as interning the same
/// masks again would.
fn after_ignore(ignore: &[TerminalId], layout: &Layout<'_>, tables: &StateTables, split_start: &[u32]) -> Vec<u32> {
    let n_terminals = layout.dfas.len();
    let mut after_ignore = vec![NONE; ignore.len() * n_terminals];
    for (j, g) in ignore.iter().enumerate() {
        let Some(dfa) = layout.dfas.get(g.as_usize()).copied().flatten() else { continue };
        debug_assert!(!dfa.accepting[dfa.start], "a terminal's start state never accepts");
        let global = layout.global(g.as_usize(), dfa.start);
        for e in split_start[global] as usize..split_start[global + 1] as usize {
            let f = tables.split_follower[e];
            debug_assert_eq!(f & SPLIT_AFTER_IGNORE, 0, "a non-accepting state's split entries are never refined");
            after_ignore[j * n_terminals + f as usize] = tables.split_mask[e];
        }
    }
    after_ignore
}

/// The store's tables and their statistics.
fn assemble(layout: &Layout<'_>, tables: StateTables, split_start: Vec<u32>, after_ignore: Vec<u32>) -> MaskBuild {
    let interner = tables.interner;
    let n_dense = interner.kind.iter().filter(|&&k| k == MASK_DENSE).count();
    let stats = MaskStats {
        n_strings: layout.tokens.n_strings(),
        n_trie_nodes: layout.tokens.nodes.len(),
        n_states: layout.work.len(),
        n_live: tables.n_live,
        n_split_entries: tables.split_follower.len(),
        n_masks: interner.n_masks(),
        n_dense,
        n_sparse: interner.n_masks() - n_dense,
        mask_bytes: interner.data.len() * 4,
    };
    let store = schema::MaskStore {
        state_base: layout.state_base.clone(),
        live: tables.live,
        split_start,
        split_follower: tables.split_follower,
        split_mask: tables.split_mask,
        after_ignore,
        mask_kind: interner.kind,
        mask_offset: interner.offset,
        mask_data: interner.data,
    };
    MaskBuild { store, stats }
}
