//! Read access to the artifact's vocabulary and DFA mask store, and the union of stored masks
//! into a bitmask.
//!
//! [`Vocab`] answers "which bytes does token `t` contribute" (and at the first position of a
//! sequence), "is `t` special", "which ids are EOS". [`MaskStore`] answers, for a terminal's DFA
//! state, which stored masks to union (`live` and the `split` entry per follower terminal) and
//! ORs them into a `u32` bitmask (bit `t & 31` of word `t >> 5`).
//!
//! **Invariant:** every read is bounds-checked: open-time validation covers the index tables
//! but not the mask data, so a sparse id at or past `n_tokens` or a short dense mask is a
//! [`StoreError`], never a panic or a bit outside the vocabulary.

use syncodec_artifacts::ids::TerminalId;
use syncodec_artifacts::schema::{ArchivedMaskStore, ArchivedVocabulary, MASK_DENSE, MASK_SPARSE, NONE, SPLIT_AFTER_IGNORE};

/// The mask store's data contradicts its index tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the artifact's mask store is corrupt: {0}")]
pub struct StoreError(pub &'static str);

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
        self.width().div_ceil(32)
    }

    /// The bytes token `id` adds to the text; `None` for padding ids.
    pub fn bytes(&self, id: u32) -> Option<&'a [u8]> {
        let i = id as usize;
        let start = self.v.token_offsets.get(i)?.to_native() as usize;
        let end = self.v.token_offsets.get(i + 1)?.to_native() as usize;
        self.v.token_bytes.get(start..end)
    }

    /// The bytes token `id` adds when it is the first token of a sequence.
    pub fn first_bytes(&self, id: u32) -> Option<&'a [u8]> {
        match self.v.first_ids.binary_search_by_key(&id, |x| x.to_native()) {
            Ok(i) => {
                let start = self.v.first_offsets.get(i)?.to_native() as usize;
                let end = self.v.first_offsets.get(i + 1)?.to_native() as usize;
                self.v.first_bytes.get(start..end)
            }
            Err(_) => self.bytes(id),
        }
    }

    /// Ids whose first-position bytes differ from their usual bytes.
    pub fn first_ids(&self) -> impl Iterator<Item = u32> + 'a {
        self.v.first_ids.iter().map(|x| x.to_native())
    }

    pub fn has_first_overrides(&self) -> bool {
        !self.v.first_ids.is_empty()
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.v.special.binary_search_by_key(&id, |x| x.to_native()).is_ok()
    }

    pub fn is_eos(&self, id: u32) -> bool {
        self.v.eos.binary_search_by_key(&id, |x| x.to_native()).is_ok()
    }

    pub fn eos(&self) -> impl Iterator<Item = u32> + 'a {
        self.v.eos.iter().map(|x| x.to_native())
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
    fn global(&self, terminal: TerminalId, state: u32) -> Option<usize> {
        let base = self.m.state_base.get(terminal.as_usize())?.to_native();
        if base == NONE {
            return None;
        }
        let g = base as usize + state as usize;
        (g < self.m.live.len()).then_some(g)
    }

    /// The `live` mask id of a state, if non-empty.
    pub fn live(&self, terminal: TerminalId, state: u32) -> Option<u32> {
        let g = self.global(terminal, state)?;
        let id = self.m.live.get(g)?.to_native();
        (id != NONE).then_some(id)
    }

    /// `after_ignore[j][f]`: mask id for the `j`-th `%ignore` terminal followed by `f`.
    pub fn after_ignore(&self, j: usize, follower: TerminalId) -> Option<u32> {
        let n_terminals = self.m.state_base.len();
        let id = self.m.after_ignore.get(j.checked_mul(n_terminals)?.checked_add(follower.as_usize())?)?.to_native();
        (id != NONE).then_some(id)
    }

    /// `(follower, mask id, refined)` split entries of a state, followers increasing; `refined`
    /// marks an `%ignore` follower whose entry leaves out the tokens that start the ignored
    /// lexeme right away (see `schema::SPLIT_AFTER_IGNORE`).
    pub fn splits(&self, terminal: TerminalId, state: u32) -> impl Iterator<Item = (TerminalId, u32, bool)> + 'a {
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
            (TerminalId::from_raw(f & !SPLIT_AFTER_IGNORE), m.split_mask[i].to_native(), f & SPLIT_AFTER_IGNORE != 0)
        })
    }

    /// Number of stored (deduplicated) masks.
    pub fn n_masks(&self) -> usize {
        self.m.mask_kind.len()
    }

    /// ORs mask `id` into `out` (at least `ceil(n_tokens / 32)` words).
    pub fn or_into(&self, id: u32, out: &mut [u32]) -> Result<(), StoreError> {
        let i = id as usize;
        let kind = *self.m.mask_kind.get(i).ok_or(StoreError("mask id out of range"))?;
        let start = self.m.mask_offset.get(i).ok_or(StoreError("mask id out of range"))?.to_native() as usize;
        let end = self.m.mask_offset.get(i + 1).ok_or(StoreError("mask id out of range"))?.to_native() as usize;
        let data = self.m.mask_data.get(start..end).ok_or(StoreError("mask data out of range"))?;
        let words = self.n_tokens.div_ceil(32);
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
                    out[t >> 5] |= 1 << (t & 31);
                }
                Ok(())
            }
            _ => Err(StoreError("unknown mask kind")),
        }
    }

    /// Whether token `t` is in mask `id` (for tests and diagnostics).
    pub fn contains(&self, id: u32, t: u32) -> Result<bool, StoreError> {
        let mut row = vec![0u32; self.n_tokens.div_ceil(32)];
        self.or_into(id, &mut row)?;
        Ok(row.get(t as usize >> 5).is_some_and(|w| w >> (t & 31) & 1 == 1))
    }
}
