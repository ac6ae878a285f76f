//! The build kernel's host side: the mask store as the device needs it, the
//! packed per-step descriptions of a batch, and the CPU reference of the build
//! kernel (bitmask rows from descriptions, by the runtime's
//! [`build_row`](syncodec_runtime::masks::build_row)). Pure Rust: nothing here
//! touches CUDA.
//!
//! The packed layout is documented on [`PackedDescriptions`].
//!
//! # Row semantics
//!
//! Row = OR of the stored masks (dense: `ceil(n_tokens / 32)` words; sparse:
//! token ids), then the set tokens, then the clear tokens; bits of ids
//! `>= n_tokens` are 0; the row has `ceil(width / 32)` words. That is
//! [`Session::fill_bitmask`](syncodec_runtime::session::Session::fill_bitmask)'s
//! row for the session's [`MaskDescription`]. Set or clear ids `>= n_tokens`
//! change nothing; a mask id `>= n_masks` is an error here (the kernel, which
//! cannot report errors, skips it; the host API checks before uploading).

use std::convert::Infallible;
use std::fmt;

use syncodec_artifacts::bits::row;
use syncodec_artifacts::ids::{MaskId, TokenId};
use syncodec_artifacts::schema::{ArchivedMaskStore, ArchivedVocabulary};
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::masks::{build_row, StoredMasks};
pub use syncodec_artifacts::schema::{MASK_DENSE, MASK_SPARSE};
pub use syncodec_runtime::session::MaskDescription;
use thiserror::Error;

/// Why a mask store or a set of descriptions cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DescriptionError {
    /// The artifact was built without a tokenizer.
    #[error("the artifact has no vocabulary or mask store: rebuild it with `syncodec build GRAMMAR --tokenizer TOKENIZER.json`")]
    NoMaskStore,
    /// The mask store's tables contradict each other.
    #[error("the mask store is corrupt: {0}")]
    Store(String),
    /// A description names a mask the store does not have.
    #[error("description row {row}: mask id {id} is out of range (the store has {n_masks} masks)")]
    MaskId { row: usize, id: u32, n_masks: usize },
    /// Packed words that do not follow the layout.
    #[error("malformed packed descriptions: {0}")]
    Malformed(&'static str),
    /// An output buffer too short for the rows.
    #[error("{what} has {len} elements, {needed} needed")]
    BufferTooShort { what: &'static str, needed: usize, len: usize },
    /// The logits layout's mask rows are not the store's.
    #[error("the layout has {layout} mask words per row but the mask store's rows have {store} (ceil(vocab width / 32))")]
    MaskWords { layout: usize, store: usize },
    /// More than the `u32` offsets or the kernel's 32-bit arithmetic can address.
    #[error("too large: {0}")]
    TooLarge(&'static str),
}

/// An artifact's mask store, copied out of the archive and normalized for the
/// device: offsets rebuilt, sparse masks sorted and deduplicated, every table
/// checked (dense masks of exactly `ceil(n_tokens / 32)` words, sparse ids
/// below `n_tokens`). What [`crate::DeviceMaskStore`] uploads and
/// [`build_bitmask_cpu`] reads.
#[derive(Clone, PartialEq, Eq)]
pub struct HostMaskStore {
    n_tokens: u32,
    width: u32,
    kinds: Vec<u8>,
    offsets: Vec<u32>,
    data: Vec<u32>,
}

impl fmt::Debug for HostMaskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMaskStore")
            .field("n_tokens", &self.n_tokens)
            .field("width", &self.width)
            .field("n_masks", &self.kinds.len())
            .field("data_words", &self.data.len())
            .finish()
    }
}

impl HostMaskStore {
    /// Checks and normalizes a store given as raw tables: `kinds[i]` is
    /// [`MASK_DENSE`] or [`MASK_SPARSE`], mask `i` is
    /// `data[offsets[i]..offsets[i + 1]]`.
    ///
    /// # Errors
    ///
    /// [`DescriptionError::Store`] when the tables are inconsistent,
    /// [`DescriptionError::TooLarge`] past `u32` offsets.
    pub fn new(n_tokens: u32, width: u32, kinds: &[u8], offsets: &[u32], data: &[u32]) -> Result<Self, DescriptionError> {
        Self::build(n_tokens, width, kinds.len(), |i| kinds[i], offsets.len(), |i| offsets[i], data.len(), |i| data[i])
    }

    /// The store of an archived artifact payload.
    ///
    /// # Errors
    ///
    /// As [`HostMaskStore::new`].
    pub fn from_archived(masks: &ArchivedMaskStore, vocab: &ArchivedVocabulary) -> Result<Self, DescriptionError> {
        Self::build(
            vocab.n_tokens.to_native(),
            vocab.width.to_native(),
            masks.mask_kind.len(),
            |i| masks.mask_kind[i],
            masks.mask_offset.len(),
            |i| masks.mask_offset[i].to_native(),
            masks.mask_data.len(),
            |i| masks.mask_data[i].to_native(),
        )
    }

    /// The store of an artifact built with a tokenizer.
    ///
    /// # Errors
    ///
    /// [`DescriptionError::NoMaskStore`], or as [`HostMaskStore::new`].
    pub fn from_artifact(artifact: &Artifact) -> Result<Self, DescriptionError> {
        let p = artifact.payload();
        match (p.masks.as_ref(), p.vocab.as_ref()) {
            (Some(m), Some(v)) => Self::from_archived(m, v),
            _ => Err(DescriptionError::NoMaskStore),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        n_tokens: u32,
        width: u32,
        n_kinds: usize,
        kind: impl Fn(usize) -> u8,
        n_offsets: usize,
        offset: impl Fn(usize) -> u32,
        n_data: usize,
        word: impl Fn(usize) -> u32,
    ) -> Result<Self, DescriptionError> {
        let bad = |s: String| Err(DescriptionError::Store(s));
        if width < n_tokens {
            return bad(format!("vocabulary width {width} below its {n_tokens} tokens"));
        }
        if n_offsets != n_kinds + 1 {
            return bad(format!("{n_offsets} mask offsets for {n_kinds} masks"));
        }
        if n_kinds > (u32::MAX - 1) as usize {
            return Err(DescriptionError::TooLarge("more than 2^32 - 2 masks"));
        }
        let dense_words = n_tokens.div_ceil(32) as usize;
        let mut kinds = Vec::with_capacity(n_kinds);
        let mut offsets = Vec::with_capacity(n_kinds + 1);
        let mut data: Vec<u32> = Vec::with_capacity(n_data);
        offsets.push(0u32);
        for i in 0..n_kinds {
            let (a, b) = (offset(i) as usize, offset(i + 1) as usize);
            if a > b || b > n_data {
                return bad(format!("mask {i}: data range {a}..{b} outside the {n_data} data words"));
            }
            let k = kind(i);
            match k {
                MASK_DENSE => {
                    if b - a != dense_words {
                        return bad(format!("dense mask {i} has {} words, expected {dense_words}", b - a));
                    }
                    data.extend((a..b).map(&word));
                }
                MASK_SPARSE => {
                    let start = data.len();
                    data.extend((a..b).map(&word));
                    let ids = &mut data[start..];
                    if let Some(t) = ids.iter().find(|&&t| t >= n_tokens) {
                        return bad(format!("sparse mask {i} has token id {t}, past the {n_tokens} tokens"));
                    }
                    if !ids.windows(2).all(|w| w[0] < w[1]) {
                        ids.sort_unstable();
                        let mut n = 0;
                        for j in 0..ids.len() {
                            if j == 0 || ids[j] != ids[n - 1] {
                                ids[n] = ids[j];
                                n += 1;
                            }
                        }
                        data.truncate(start + n);
                    }
                }
                _ => return bad(format!("mask {i} has unknown kind {k}")),
            }
            kinds.push(k);
            offsets.push(u32::try_from(data.len()).map_err(|_| DescriptionError::TooLarge("more than 2^32 - 1 mask data words"))?);
        }
        Ok(HostMaskStore { n_tokens, width, kinds, offsets, data })
    }

    /// Real token ids: `0..n_tokens`.
    pub fn n_tokens(&self) -> u32 {
        self.n_tokens
    }

    /// Logits width of the vocabulary.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Words of one bitmask row: `ceil(width / 32)`.
    pub fn words(&self) -> usize {
        self.width.div_ceil(32) as usize
    }

    /// Number of stored masks.
    pub fn n_masks(&self) -> usize {
        self.kinds.len()
    }

    /// Per mask: [`MASK_DENSE`] or [`MASK_SPARSE`].
    pub fn kinds(&self) -> &[u8] {
        &self.kinds
    }

    /// `n_masks + 1` offsets into [`HostMaskStore::data`].
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// Mask data: dense words, or strictly increasing sparse ids.
    pub fn data(&self) -> &[u32] {
        &self.data
    }

    /// Bytes the store occupies on the device.
    pub fn device_bytes(&self) -> usize {
        self.kinds.len() + 4 * (self.offsets.len() + self.data.len())
    }
}

impl StoredMasks for HostMaskStore {
    /// Never fails: like the kernel, an id outside the store adds nothing (the host API checks
    /// ids with [`PackedDescriptions::check_mask_ids`] before building).
    type Error = Infallible;

    fn n_tokens(&self) -> usize {
        self.n_tokens as usize
    }

    /// ORs mask `id` into `row`.
    fn or_into(&self, id: MaskId, out: &mut [u32]) -> Result<(), Infallible> {
        let i = id.as_usize();
        let (Some(&kind), Some(&a), Some(&b)) = (self.kinds.get(i), self.offsets.get(i), self.offsets.get(i + 1)) else { return Ok(()) };
        let d = self.data.get(a as usize..b as usize).unwrap_or(&[]);
        if kind == MASK_DENSE {
            row::union(out, d);
        } else {
            for &t in d {
                row::set(out, t as usize);
            }
        }
        Ok(())
    }
}

/// `B` mask descriptions packed into one `u32` buffer.
///
/// [`Session::describe_mask`](syncodec_runtime::session::Session::describe_mask)
/// gives, per row, stored-mask ids to OR, token ids to set, then ids to clear.
/// [`pack_descriptions`] flattens `B` of them into one `u32` buffer, which is
/// what a step uploads (one host-to-device copy):
///
/// ```text
/// words[0 ..= B]          mask_offsets   \
/// words[B+1 ..= 2B+1]     set_offsets     } absolute indices into `words`
/// words[2B+2 ..= 3B+2]    clear_offsets  /
/// words[3B+3 ..]          mask ids of every row, then set tokens, then clear tokens
/// ```
///
/// Row `r`'s mask ids are `words[mask_offsets[r]..mask_offsets[r + 1]]`, and
/// likewise for the two token lists (three CSR arrays sharing one buffer:
/// `set_offsets[0] == mask_offsets[B]`, `clear_offsets[0] == set_offsets[B]`,
/// `clear_offsets[B] == words.len()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackedDescriptions {
    rows: usize,
    words: Vec<u32>,
}

/// Packs `descs` (one per batch row) for upload; see [`PackedDescriptions`].
///
/// # Panics
///
/// When the packed buffer would exceed `u32::MAX` words (16 GiB per step).
pub fn pack_descriptions(descs: &[MaskDescription]) -> PackedDescriptions {
    let mut p = PackedDescriptions::default();
    p.repack(descs);
    p
}

impl PackedDescriptions {
    /// Re-packs into this buffer, reusing its allocation (one per step in a
    /// decoding loop).
    ///
    /// # Panics
    ///
    /// As [`pack_descriptions`].
    pub fn repack(&mut self, descs: &[MaskDescription]) {
        let b = descs.len();
        let lists: usize = descs.iter().map(|d| d.masks.len() + d.tokens.len() + d.clear.len()).sum();
        let total = 3 * (b + 1) + lists;
        assert!(u32::try_from(total).is_ok(), "packed descriptions exceed 2^32 - 1 words");
        let w = &mut self.words;
        w.clear();
        w.reserve(total);
        w.resize(3 * (b + 1), 0);
        let mut at = 3 * (b + 1);
        for part in 0..3 {
            let base = part * (b + 1);
            for (r, d) in descs.iter().enumerate() {
                w[base + r] = at as u32;
                at += part_list(d, part).len();
            }
            w[base + b] = at as u32;
        }
        for part in 0..3 {
            for d in descs {
                w.extend_from_slice(part_list(d, part));
            }
        }
        debug_assert_eq!(w.len(), total);
        self.rows = b;
    }

    /// Checks words received from elsewhere against the layout.
    ///
    /// # Errors
    ///
    /// [`DescriptionError::Malformed`] when offsets are out of order or out of
    /// range.
    pub fn from_words(rows: usize, words: Vec<u32>) -> Result<Self, DescriptionError> {
        let head = rows.checked_add(1).and_then(|n| n.checked_mul(3)).ok_or(DescriptionError::Malformed("row count overflows"))?;
        if words.len() < head {
            return Err(DescriptionError::Malformed("shorter than its offset arrays"));
        }
        if u32::try_from(words.len()).is_err() {
            return Err(DescriptionError::TooLarge("more than 2^32 - 1 words"));
        }
        let mut prev = head as u64;
        for part in 0..3 {
            let offs = &words[part * (rows + 1)..(part + 1) * (rows + 1)];
            if u64::from(offs[0]) != prev {
                return Err(DescriptionError::Malformed("a list does not start where the previous one ends"));
            }
            if !offs.windows(2).all(|w| w[0] <= w[1]) {
                return Err(DescriptionError::Malformed("offsets decrease"));
            }
            prev = u64::from(offs[rows]);
        }
        if prev != words.len() as u64 {
            return Err(DescriptionError::Malformed("the clear list does not end at the end of the buffer"));
        }
        Ok(PackedDescriptions { rows, words })
    }

    /// Number of rows (`B`).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The packed buffer (what is uploaded).
    pub fn as_words(&self) -> &[u32] {
        &self.words
    }

    /// Bytes moved per step: the packed buffer's size.
    pub fn bytes(&self) -> usize {
        4 * self.words.len()
    }

    fn list(&self, part: usize, row: usize) -> &[u32] {
        let o = part * (self.rows + 1) + row;
        &self.words[self.words[o] as usize..self.words[o + 1] as usize]
    }

    /// Row `row`'s stored-mask ids.
    ///
    /// # Panics
    ///
    /// When `row >= rows()`.
    pub fn mask_ids(&self, row: usize) -> &[u32] {
        assert!(row < self.rows, "row {row} of {}", self.rows);
        self.list(0, row)
    }

    /// Row `row`'s tokens to set.
    ///
    /// # Panics
    ///
    /// When `row >= rows()`.
    pub fn set_tokens(&self, row: usize) -> &[u32] {
        assert!(row < self.rows, "row {row} of {}", self.rows);
        self.list(1, row)
    }

    /// Row `row`'s tokens to clear.
    ///
    /// # Panics
    ///
    /// When `row >= rows()`.
    pub fn clear_tokens(&self, row: usize) -> &[u32] {
        assert!(row < self.rows, "row {row} of {}", self.rows);
        self.list(2, row)
    }

    /// Checks every mask id against a store of `n_masks` masks.
    ///
    /// # Errors
    ///
    /// [`DescriptionError::MaskId`] for the first id out of range.
    pub fn check_mask_ids(&self, n_masks: usize) -> Result<(), DescriptionError> {
        for row in 0..self.rows {
            if let Some(&id) = self.list(0, row).iter().find(|&&id| id as usize >= n_masks) {
                return Err(DescriptionError::MaskId { row, id, n_masks });
            }
        }
        Ok(())
    }
}

fn part_list(d: &MaskDescription, part: usize) -> &[u32] {
    match part {
        0 => &d.masks,
        1 => &d.tokens,
        _ => &d.clear,
    }
}

/// CPU reference of the device kernel: fills `out` (at least
/// `desc.rows() * store.words()` words; row `r` at `r * store.words()`) with
/// the bitmask row of every description: the OR of its stored masks, then its
/// set tokens set, then its clear tokens cleared; bits of ids `>= n_tokens`
/// are 0 (set / clear ids there change nothing). Equal to
/// `Session::fill_bitmask` for descriptions from `Session::describe_mask`.
///
/// # Errors
///
/// [`DescriptionError::MaskId`] (nothing is written), or
/// [`DescriptionError::BufferTooShort`].
pub fn build_bitmask_cpu(store: &HostMaskStore, desc: &PackedDescriptions, out: &mut [u32]) -> Result<(), DescriptionError> {
    let words = store.words();
    let needed = desc.rows() * words;
    if out.len() < needed {
        return Err(DescriptionError::BufferTooShort { what: "bitmask", needed, len: out.len() });
    }
    desc.check_mask_ids(store.n_masks())?;
    for (r, out) in out[..needed].chunks_exact_mut(words.max(1)).enumerate().take(desc.rows()) {
        let masks = desc.mask_ids(r).iter().copied().map(MaskId::from_raw);
        let set = desc.set_tokens(r).iter().copied().map(TokenId::from_raw);
        let clear = desc.clear_tokens(r).iter().copied().map(TokenId::from_raw);
        match build_row(store, masks, set, clear, out) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(masks: &[u32], tokens: &[u32], clear: &[u32]) -> MaskDescription {
        MaskDescription { masks: masks.to_vec(), tokens: tokens.to_vec(), clear: clear.to_vec() }
    }

    #[test]
    fn packing_layout() {
        let p = pack_descriptions(&[desc(&[1, 2], &[7], &[]), desc(&[], &[], &[3, 4]), desc(&[0], &[], &[])]);
        assert_eq!(p.rows(), 3);
        assert_eq!(p.mask_ids(0), &[1, 2]);
        assert_eq!(p.mask_ids(1), &[] as &[u32]);
        assert_eq!(p.mask_ids(2), &[0]);
        assert_eq!(p.set_tokens(0), &[7]);
        assert_eq!(p.clear_tokens(1), &[3, 4]);
        assert_eq!(p.bytes(), 4 * (12 + 6));
        let again = PackedDescriptions::from_words(3, p.as_words().to_vec()).unwrap();
        assert_eq!(again, p);
        let empty = pack_descriptions(&[]);
        assert_eq!(empty.as_words(), &[3, 3, 3]);
        assert!(PackedDescriptions::from_words(0, empty.as_words().to_vec()).is_ok());
        let mut bad = p.as_words().to_vec();
        bad[1] = 99;
        assert!(PackedDescriptions::from_words(3, bad).is_err());
        assert!(PackedDescriptions::from_words(3, p.as_words()[..10].to_vec()).is_err());
    }

    #[test]
    fn repack_reuses_and_matches() {
        let a = [desc(&[5, 6, 7], &[1], &[2]), desc(&[1], &[], &[])];
        let mut p = pack_descriptions(&[desc(&[1; 40], &[], &[])]);
        p.repack(&a);
        assert_eq!(p, pack_descriptions(&a));
    }

    #[test]
    fn store_normalizes_and_checks() {
        // n_tokens 40 -> dense masks of 2 words.
        let s = HostMaskStore::new(40, 70, &[MASK_SPARSE, MASK_DENSE], &[0, 3, 5], &[9, 3, 9, u32::MAX, 0xFF]).unwrap();
        assert_eq!(s.data(), &[3, 9, u32::MAX, 0xFF]);
        assert_eq!(s.offsets(), &[0, 2, 4]);
        assert_eq!(s.words(), 3);
        assert!(HostMaskStore::new(40, 70, &[MASK_DENSE], &[0, 3], &[0, 0, 0]).is_err());
        assert!(HostMaskStore::new(40, 70, &[MASK_SPARSE], &[0, 1], &[40]).is_err());
        assert!(HostMaskStore::new(40, 70, &[7], &[0, 0], &[]).is_err());
        assert!(HostMaskStore::new(40, 70, &[MASK_SPARSE], &[0, 2], &[1]).is_err());
        assert!(HostMaskStore::new(40, 30, &[], &[0], &[]).is_err());
    }

    #[test]
    fn cpu_reference_semantics() {
        // 40 tokens, width 70 (3 words). Mask 0 dense with padding bits set,
        // mask 1 sparse.
        let s = HostMaskStore::new(40, 70, &[MASK_DENSE, MASK_SPARSE], &[0, 2, 4], &[0x0000_00F0, u32::MAX, 1, 33]).unwrap();
        let p = pack_descriptions(&[desc(&[0, 1], &[2, 45, 39], &[4, 33, 60]), desc(&[], &[], &[]), desc(&[1], &[], &[])]);
        let mut out = vec![0xDEAD; 9];
        build_bitmask_cpu(&s, &p, &mut out).unwrap();
        assert_eq!(&out[0..3], &[0xE6, 0xFD, 0]);
        assert_eq!(&out[3..6], &[0, 0, 0]);
        assert_eq!(&out[6..9], &[2, 2, 0]);
        let bad = pack_descriptions(&[desc(&[2], &[], &[])]);
        assert_eq!(build_bitmask_cpu(&s, &bad, &mut out), Err(DescriptionError::MaskId { row: 0, id: 2, n_masks: 2 }));
        assert!(build_bitmask_cpu(&s, &p, &mut out[..8]).is_err());
    }
}
