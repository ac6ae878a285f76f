//! Read access to the artifact's vocabulary and DFA mask store, and the one routine that turns
//! a mask description (stored masks to OR, then tokens to set and to clear) into a bitmask row.
//!
//! [`Vocab`] answers "which bytes does token `t` contribute" (and at the first position of a
//! sequence), "is `t` special", "which ids are EOS". [`MaskStore`] answers, for a terminal's DFA
//! state, which stored masks to union (`live` and the `split` entry per follower terminal) and
//! ORs them into a row. [`build_row`] is the row semantics every consumer shares (the session's
//! `fill_bitmask`, whoever rebuilds rows from `Session::describe_mask`, and the CUDA crate's CPU
//! reference of its build kernel), over any [`StoredMasks`].
//!
//! Rows use the layout of [`syncodec_artifacts::bits::row`]. Inside the runtime ids are typed
//! ([`TokenId`], [`MaskId`]); [`Vocab`]'s lookups also take the plain `u32` ids servers hold
//! ([`AsTokenId`]).
//!
//! **Invariant:** every read is bounds-checked: open-time validation covers the index tables
//! but not the mask data, so a sparse id at or past `n_tokens` or a short dense mask is a
//! [`StoreError`], never a panic or a bit outside the vocabulary.

use syncodec_artifacts::bits::row;
use syncodec_artifacts::ids::{DfaStateId, MaskId, TerminalId, TokenId};
use syncodec_artifacts::schema::{ArchivedMaskStore, ArchivedVocabulary, MASK_DENSE, MASK_SPARSE, NONE, SPLIT_AFTER_IGNORE};

/// The mask store's data contradicts its index tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the artifact's mask store is corrupt: {0}")]
pub struct StoreError(pub &'static str);

/// A token id as its holder has it: a [`TokenId`] inside the runtime, a plain `u32` at the
/// server-facing edge (engines and the CLI index logits with raw ids).
pub trait AsTokenId: Copy {
    fn token_id(self) -> TokenId;
}

impl AsTokenId for TokenId {
    #[inline]
    fn token_id(self) -> TokenId {
        self
    }
}

impl AsTokenId for u32 {
    #[inline]
    fn token_id(self) -> TokenId {
        TokenId::from_raw(self)
    }
}

/// The vocabulary of an artifact built with a tokenizer.
#[derive(Clone, Copy)]
pub struct Vocab<'a> {
    v: &'a ArchivedVocabulary,
}

impl<'a> Vocab<'a> {
    pub fn new(v: &'a ArchivedVocabulary) -> Vocab<'a> {
        Vocab { v }
    }

    /// Number of real token ids (ids `>= n_tokens` are padding).
    pub fn n_tokens(&self) -> usize {
        self.v.n_tokens.to_native() as usize
    }

    /// Logits width (`>= n_tokens`).
    pub fn width(&self) -> usize {
        self.v.width.to_native() as usize
    }

    /// Words of one bitmask row: `ceil(width / 32)`.
    pub fn words(&self) -> usize {
        row::words(self.width())
    }

    /// The bytes token `id` adds to the text; `None` for padding ids.
    pub fn bytes(&self, id: impl AsTokenId) -> Option<&'a [u8]> {
        let i = id.token_id().as_usize();
        let start = self.v.token_offsets.get(i)?.to_native() as usize;
        let end = self.v.token_offsets.get(i + 1)?.to_native() as usize;
        self.v.token_bytes.get(start..end)
    }

    /// The bytes token `id` adds when it is the first token of a sequence.
    pub fn first_bytes(&self, id: impl AsTokenId) -> Option<&'a [u8]> {
        let id = id.token_id();
        match self.v.first_ids.binary_search_by_key(&id.raw(), |x| x.to_native()) {
            Ok(i) => {
                let start = self.v.first_offsets.get(i)?.to_native() as usize;
                let end = self.v.first_offsets.get(i + 1)?.to_native() as usize;
                self.v.first_bytes.get(start..end)
            }
            Err(_) => self.bytes(id),
        }
    }

    /// Ids whose first-position bytes differ from their usual bytes.
    pub fn first_ids(&self) -> impl Iterator<Item = TokenId> + 'a {
        self.v.first_ids.iter().map(|x| TokenId::from_raw(x.to_native()))
    }

    pub fn has_first_overrides(&self) -> bool {
        !self.v.first_ids.is_empty()
    }

    pub fn is_special(&self, id: impl AsTokenId) -> bool {
        let raw = id.token_id().raw();
        self.v.special.binary_search_by_key(&raw, |x| x.to_native()).is_ok()
    }

    pub fn is_eos(&self, id: impl AsTokenId) -> bool {
        let raw = id.token_id().raw();
        self.v.eos.binary_search_by_key(&raw, |x| x.to_native()).is_ok()
    }

    /// The EOS ids.
    pub fn eos_ids(&self) -> impl Iterator<Item = TokenId> + 'a {
        self.v.eos.iter().map(|x| TokenId::from_raw(x.to_native()))
    }

    /// The EOS ids as plain `u32` (the server-facing form of [`Vocab::eos_ids`]).
    pub fn eos(&self) -> impl Iterator<Item = u32> + 'a {
        self.eos_ids().map(TokenId::raw)
    }

    pub fn kind(&self) -> &'a str {
        self.v.kind.as_str()
    }
}

/// The DFA mask store of an artifact.
#[derive(Clone, Copy)]
pub struct MaskStore<'a> {
    m: &'a ArchivedMaskStore,
    n_tokens: usize,
}

impl<'a> MaskStore<'a> {
    pub fn new(m: &'a ArchivedMaskStore, vocab: &Vocab<'_>) -> MaskStore<'a> {
        MaskStore { m, n_tokens: vocab.n_tokens() }
    }

    /// Global index of `terminal`'s DFA state `state`, if the terminal has a DFA.
    #[inline]
    fn global(&self, terminal: TerminalId, state: DfaStateId) -> Option<usize> {
        let base = self.m.state_base.get(terminal.as_usize())?.to_native();
        if base == NONE {
            return None;
        }
        let g = base as usize + state.as_usize();
        (g < self.m.live.len()).then_some(g)
    }

    /// The `live` mask of a state, if non-empty.
    pub fn live(&self, terminal: TerminalId, state: DfaStateId) -> Option<MaskId> {
        let g = self.global(terminal, state)?;
        stored(self.m.live.get(g)?.to_native())
    }

    /// `after_ignore[j][f]`: the mask for the `j`-th `%ignore` terminal followed by `f`.
    pub fn after_ignore(&self, j: usize, follower: TerminalId) -> Option<MaskId> {
        let n_terminals = self.m.state_base.len();
        stored(self.m.after_ignore.get(j.checked_mul(n_terminals)?.checked_add(follower.as_usize())?)?.to_native())
    }

    /// `(follower, mask, refined)` split entries of a state, followers increasing; `refined`
    /// marks an `%ignore` follower whose entry leaves out the tokens that start the ignored
    /// lexeme right away (see `schema::SPLIT_AFTER_IGNORE`).
    pub fn splits(&self, terminal: TerminalId, state: DfaStateId) -> impl Iterator<Item = (TerminalId, MaskId, bool)> + 'a {
        let range = self
            .global(terminal, state)
            .and_then(|g| {
                let a = self.m.split_start.get(g)?.to_native() as usize;
                let b = self.m.split_start.get(g + 1)?.to_native() as usize;
                (a <= b && b <= self.m.split_follower.len() && b <= self.m.split_mask.len()).then_some(a..b)
            })
            .unwrap_or(0..0);
        let m = self.m;
        range.map(move |i| {
            let f = m.split_follower[i].to_native();
            (TerminalId::from_raw(f & !SPLIT_AFTER_IGNORE), MaskId::from_raw(m.split_mask[i].to_native()), f & SPLIT_AFTER_IGNORE != 0)
        })
    }

    /// Number of stored (deduplicated) masks.
    pub fn n_masks(&self) -> usize {
        self.m.mask_kind.len()
    }

    /// ORs mask `id` into `out` (at least `ceil(n_tokens / 32)` words).
    pub fn or_into(&self, id: MaskId, out: &mut [u32]) -> Result<(), StoreError> {
        let i = id.as_usize();
        let kind = *self.m.mask_kind.get(i).ok_or(StoreError("mask id out of range"))?;
        let start = self.m.mask_offset.get(i).ok_or(StoreError("mask id out of range"))?.to_native() as usize;
        let end = self.m.mask_offset.get(i + 1).ok_or(StoreError("mask id out of range"))?.to_native() as usize;
        let data = self.m.mask_data.get(start..end).ok_or(StoreError("mask data out of range"))?;
        let words = row::words(self.n_tokens);
        match kind {
            MASK_DENSE => {
                if data.len() != words || out.len() < words {
                    return Err(StoreError("dense mask of the wrong length"));
                }
                // `u32_le` is `u32` on little-endian targets; the loop vectorizes either way.
                for (o, d) in out[..words].iter_mut().zip(data) {
                    *o |= d.to_native();
                }
                Ok(())
            }
            MASK_SPARSE => {
                for t in data {
                    let t = t.to_native() as usize;
                    if t >= self.n_tokens {
                        return Err(StoreError("sparse mask id past the vocabulary"));
                    }
                    row::set(out, t);
                }
                Ok(())
            }
            _ => Err(StoreError("unknown mask kind")),
        }
    }

    /// Whether token `t` is in mask `id` (for tests and diagnostics).
    pub fn contains(&self, id: MaskId, t: TokenId) -> Result<bool, StoreError> {
        let mut out = vec![0u32; row::words(self.n_tokens)];
        self.or_into(id, &mut out)?;
        Ok(row::get(&out, t.as_usize()))
    }
}

/// A stored mask id read from a table, `None` for the table's "no mask" entry.
fn stored(raw: u32) -> Option<MaskId> {
    (raw != NONE).then_some(MaskId::from_raw(raw))
}

/// A table of stored masks, as [`build_row`] reads it: the artifact's [`MaskStore`], or a copy
/// of it normalized for a device (the CUDA crate's `HostMaskStore`).
pub trait StoredMasks {
    /// Why a mask cannot be read.
    type Error;

    /// Real token ids are `0..n_tokens()`; row bits at or past it are padding.
    fn n_tokens(&self) -> usize;

    /// ORs stored mask `id` into `row`.
    fn or_into(&self, id: MaskId, row: &mut [u32]) -> Result<(), Self::Error>;
}

impl StoredMasks for MaskStore<'_> {
    type Error = StoreError;

    fn n_tokens(&self) -> usize {
        self.n_tokens
    }

    fn or_into(&self, id: MaskId, out: &mut [u32]) -> Result<(), StoreError> {
        MaskStore::or_into(self, id, out)
    }
}

/// Builds one bitmask row from a mask description: zeroes `row`, ORs the stored `masks`, sets
/// the `set` tokens, clears the `clear` tokens, then clears every bit at or past the store's
/// `n_tokens` (padding ids are never allowed; set or clear ids there change nothing). The one
/// definition of a description's row: `Session::fill_bitmask`, rows rebuilt from
/// `Session::describe_mask` and the CUDA crate's CPU reference all call it.
///
/// # Errors
///
/// The store's error for a mask it cannot read; `row` is then partly built and should be
/// zeroed by the caller (fail closed).
pub fn build_row<S: StoredMasks + ?Sized>(
    store: &S,
    masks: impl IntoIterator<Item = MaskId>,
    set: impl IntoIterator<Item = TokenId>,
    clear: impl IntoIterator<Item = TokenId>,
    out: &mut [u32],
) -> Result<(), S::Error> {
    out.fill(0);
    for m in masks {
        store.or_into(m, out)?;
    }
    for t in set {
        row::set(out, t.as_usize());
    }
    for t in clear {
        row::unset(out, t.as_usize());
    }
    row::keep_below(out, store.n_tokens());
    Ok(())
}
