//! Applying token bitmasks to logits on the CPU.
//!
//! This module is the reference for mask application: the CUDA kernel in the
//! `syncodec-cuda` crate implements exactly the same semantics and its tests
//! compare against the functions here.
//!
//! # Bitmask layout
//!
//! A bitmask for a vocabulary of `V` tokens is `ceil(V / 32)` `u32` words
//! ([`bitmask_words`]). Token `t` is **allowed** iff bit `t & 31` of word
//! `t >> 5` is set. This is the layout inference servers (vLLM, SGLang,
//! xgrammar) already use, so a mask filled by a session can be handed to them
//! unchanged.
//!
//! # Semantics
//!
//! For one logits row `logits` and one bitmask `bitmask`:
//!
//! - a position `t < 32 * bitmask.len()` whose bit is clear becomes −inf;
//!   a position whose bit is set is left untouched (bit for bit: NaNs, −0.0
//!   and existing −inf stay as they are);
//! - a position `t >= 32 * bitmask.len()` becomes −inf: logits wider than the
//!   mask (a vocabulary padded to a multiple of 64 or 128 by the model) are
//!   disallowed past the mask;
//! - bits past `logits.len()` are ignored, so a bitmask may be longer than
//!   needed.
//!
//! Half-precision logits are passed as raw `u16` bit patterns so that this
//! crate needs no half-float dependency: −inf is `0xFC00` in IEEE binary16
//! ([`F16_NEG_INF`]) and `0xFF80` in bfloat16 ([`BF16_NEG_INF`]).
//!
//! # Batches
//!
//! The `apply_bitmask_batch_*` functions take a `[B, V]` logits buffer with a
//! row stride ([`BatchLayout`]), a `[B', W]` bitmask buffer (`W` words per mask
//! row) and optional row `indices`:
//!
//! - without indices, mask row `i` applies to logits row `i` for every
//!   `i < B` (the bitmask holds at least `B` rows);
//! - with indices, mask row `i` applies to logits row `indices[i]` for every
//!   `i < indices.len()`; rows not listed are left untouched. This is the
//!   convention vLLM uses when only some sequences of a batch are constrained.
//!   A row listed twice gets both masks (their intersection), in any order.
//!
//! Shapes and indices are checked before anything is written: an error leaves
//! the logits unchanged.
//!
//! # Performance
//!
//! The inner loop handles one mask word (32 logits) at a time. All-ones words
//! are skipped, all-zeros words are a plain fill, and mixed words use a
//! branch-free select that LLVM vectorizes. On x86-64 the row loop is compiled
//! three times (baseline, AVX2, AVX-512BW) and picked at run time.

use syncodec_artifacts::bits::row;
use thiserror::Error;

/// −inf as an IEEE binary16 bit pattern.
pub const F16_NEG_INF: u16 = 0xFC00;
/// −inf as a bfloat16 bit pattern.
pub const BF16_NEG_INF: u16 = 0xFF80;

/// Number of `u32` words in a bitmask for `vocab` tokens: `ceil(vocab / 32)`.
pub const fn bitmask_words(vocab: usize) -> usize {
    row::words(vocab)
}

/// Element type of a logits buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// IEEE binary32 (`f32`).
    F32,
    /// IEEE binary16, passed as `u16` bit patterns.
    F16,
    /// bfloat16, passed as `u16` bit patterns.
    Bf16,
}

impl Dtype {
    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }

    /// −inf as a bit pattern of this type, widened to `u32`.
    pub const fn neg_inf_bits(self) -> u32 {
        match self {
            Dtype::F32 => 0xFF80_0000,
            Dtype::F16 => F16_NEG_INF as u32,
            Dtype::Bf16 => BF16_NEG_INF as u32,
        }
    }

    /// Lower-case name (`f32`, `f16`, `bf16`).
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a batched mask application was refused. Nothing is written when one of
/// these is returned.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The row stride is smaller than the number of logits per row.
    #[error("row stride {stride} is smaller than the row width {width}")]
    StrideTooSmall {
        /// Elements between the starts of consecutive rows.
        stride: usize,
        /// Logits per row.
        width: usize,
    },
    /// A buffer holds fewer elements than the shape requires.
    #[error("{what} buffer too short: the shape needs {needed} elements, it has {len}")]
    BufferTooShort {
        /// `"logits"`, `"bitmask"` or `"indices"`.
        what: &'static str,
        /// Elements the shape requires.
        needed: usize,
        /// Elements the buffer has.
        len: usize,
    },
    /// A row index is negative or not below the number of logits rows.
    #[error("row index {index} (indices[{position}]) is out of range for {rows} logits rows")]
    IndexOutOfRange {
        /// Position in the `indices` array.
        position: usize,
        /// The offending value.
        index: i64,
        /// Number of logits rows.
        rows: usize,
    },
    /// The shape's element count does not fit in `usize` (or, on the GPU, in
    /// the kernel's 64-bit / grid limits).
    #[error("shape too large: {0}")]
    TooLarge(&'static str),
}

/// Shape of a batch of logits and of its bitmasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchLayout {
    /// Number of logits rows `B`.
    pub rows: usize,
    /// Logits per row `V` (the model's vocabulary, possibly padded). May be
    /// larger than `32 * mask_words`: the excess becomes −inf.
    pub width: usize,
    /// Elements between the starts of consecutive logits rows (`>= width`).
    pub row_stride: usize,
    /// `u32` words per bitmask row `W`; mask row `i` starts at word `i * W`.
    pub mask_words: usize,
}

impl BatchLayout {
    /// A contiguous `[rows, width]` batch with `ceil(width / 32)`-word masks.
    pub const fn contiguous(rows: usize, width: usize) -> Self {
        BatchLayout {
            rows,
            width,
            row_stride: width,
            mask_words: bitmask_words(width),
        }
    }

    /// Elements a logits buffer must hold: `(rows - 1) * row_stride + width`
    /// (0 when there are no rows).
    pub fn logits_len(&self) -> Result<usize, ApplyError> {
        if self.rows == 0 {
            return Ok(0);
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|n| n.checked_add(self.width))
            .ok_or(ApplyError::TooLarge("logits element count overflows usize"))
    }

    /// Checks the layout against buffer lengths, `mask_rows` being the number
    /// of mask rows that will be applied (`rows` without indices,
    /// `indices.len()` with them). Index values are checked separately
    /// ([`BatchLayout::check_indices`]); the GPU path cannot read them on the
    /// host.
    pub fn check(
        &self,
        logits_len: usize,
        bitmask_len: usize,
        mask_rows: usize,
    ) -> Result<(), ApplyError> {
        if self.row_stride < self.width && self.rows > 1 {
            return Err(ApplyError::StrideTooSmall {
                stride: self.row_stride,
                width: self.width,
            });
        }
        let needed = self.logits_len()?;
        if logits_len < needed {
            return Err(ApplyError::BufferTooShort {
                what: "logits",
                needed,
                len: logits_len,
            });
        }
        let needed = mask_rows
            .checked_mul(self.mask_words)
            .ok_or(ApplyError::TooLarge("bitmask word count overflows usize"))?;
        if bitmask_len < needed {
            return Err(ApplyError::BufferTooShort {
                what: "bitmask",
                needed,
                len: bitmask_len,
            });
        }
        Ok(())
    }

    /// Checks that every index is in `0..rows`.
    pub fn check_indices(&self, indices: &[i32]) -> Result<(), ApplyError> {
        match indices
            .iter()
            .position(|&i| i < 0 || i as usize >= self.rows)
        {
            None => Ok(()),
            Some(position) => Err(ApplyError::IndexOutOfRange {
                position,
                index: i64::from(indices[position]),
                rows: self.rows,
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// Single rows.

/// Sets every logit whose token is not allowed by `bitmask` to −inf, in place.
///
/// See the [module documentation](self) for the exact semantics (positions
/// past `32 * bitmask.len()` become −inf; surplus mask bits are ignored).
/// Never panics.
pub fn apply_bitmask_f32(logits: &mut [f32], bitmask: &[u32]) {
    apply_row(logits, bitmask, f32::NEG_INFINITY);
}

/// [`apply_bitmask_f32`] for IEEE binary16 logits given as `u16` bit patterns
/// (−inf = `0xFC00`).
pub fn apply_bitmask_f16(logits: &mut [u16], bitmask: &[u32]) {
    apply_row(logits, bitmask, F16_NEG_INF);
}

/// [`apply_bitmask_f32`] for bfloat16 logits given as `u16` bit patterns
/// (−inf = `0xFF80`).
pub fn apply_bitmask_bf16(logits: &mut [u16], bitmask: &[u32]) {
    apply_row(logits, bitmask, BF16_NEG_INF);
}

// ---------------------------------------------------------------------------
// Batches.

/// Applies a batch of bitmasks to a `[B, V]` batch of `f32` logits in place.
///
/// `bitmask` holds the mask rows, `layout.mask_words` words each. See the
/// [module documentation](self) for how `indices` selects rows.
///
/// # Errors
///
/// [`ApplyError`] when the stride is smaller than the width, a buffer is too
/// short for the layout, or an index is out of range. Nothing is written then.
pub fn apply_bitmask_batch_f32(
    logits: &mut [f32],
    layout: BatchLayout,
    bitmask: &[u32],
    indices: Option<&[i32]>,
) -> Result<(), ApplyError> {
    apply_batch(logits, layout, bitmask, indices, f32::NEG_INFINITY)
}

/// [`apply_bitmask_batch_f32`] for IEEE binary16 logits as `u16` bit patterns.
///
/// # Errors
///
/// As [`apply_bitmask_batch_f32`].
pub fn apply_bitmask_batch_f16(
    logits: &mut [u16],
    layout: BatchLayout,
    bitmask: &[u32],
    indices: Option<&[i32]>,
) -> Result<(), ApplyError> {
    apply_batch(logits, layout, bitmask, indices, F16_NEG_INF)
}

/// [`apply_bitmask_batch_f32`] for bfloat16 logits as `u16` bit patterns.
///
/// # Errors
///
/// As [`apply_bitmask_batch_f32`].
pub fn apply_bitmask_batch_bf16(
    logits: &mut [u16],
    layout: BatchLayout,
    bitmask: &[u32],
    indices: Option<&[i32]>,
) -> Result<(), ApplyError> {
    apply_batch(logits, layout, bitmask, indices, BF16_NEG_INF)
}

/// [`apply_bitmask_batch_f16`] or [`apply_bitmask_batch_bf16`] chosen by
/// `dtype`, for callers that hold 16-bit logits of a run-time type.
///
/// # Errors
///
/// As [`apply_bitmask_batch_f32`].
pub fn apply_bitmask_batch_u16(
    logits: &mut [u16],
    dtype: Dtype16,
    layout: BatchLayout,
    bitmask: &[u32],
    indices: Option<&[i32]>,
) -> Result<(), ApplyError> {
    apply_batch(logits, layout, bitmask, indices, dtype.neg_inf())
}

/// The two 16-bit logits types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype16 {
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

impl Dtype16 {
    /// −inf as a bit pattern.
    pub const fn neg_inf(self) -> u16 {
        match self {
            Dtype16::F16 => F16_NEG_INF,
            Dtype16::Bf16 => BF16_NEG_INF,
        }
    }
}

impl From<Dtype16> for Dtype {
    fn from(d: Dtype16) -> Dtype {
        match d {
            Dtype16::F16 => Dtype::F16,
            Dtype16::Bf16 => Dtype::Bf16,
        }
    }
}

fn apply_batch<T: Copy>(
    logits: &mut [T],
    layout: BatchLayout,
    bitmask: &[u32],
    indices: Option<&[i32]>,
    neg: T,
) -> Result<(), ApplyError> {
    let mask_rows = indices.map_or(layout.rows, <[i32]>::len);
    layout.check(logits.len(), bitmask.len(), mask_rows)?;
    if let Some(ix) = indices {
        layout.check_indices(ix)?;
    }
    let w = layout.mask_words;
    for i in 0..mask_rows {
        let row = match indices {
            Some(ix) => ix[i] as usize,
            None => i,
        };
        let start = row * layout.row_stride;
        apply_row(
            &mut logits[start..start + layout.width],
            &bitmask[i * w..(i + 1) * w],
            neg,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The row kernel.

/// Picks the widest compiled variant of [`row_generic`] the CPU supports.
#[inline]
fn apply_row<T: Copy>(row: &mut [T], mask: &[u32], neg: T) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU supports AVX-512F/BW, checked just above.
            unsafe { row_avx512(row, mask, neg) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { row_avx2(row, mask, neg) };
            return;
        }
    }
    row_generic(row, mask, neg);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2<T: Copy>(row: &mut [T], mask: &[u32], neg: T) {
    row_generic(row, mask, neg);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
unsafe fn row_avx512<T: Copy>(row: &mut [T], mask: &[u32], neg: T) {
    row_generic(row, mask, neg);
}

/// One row: whole words first, then the partial word, then the part of the
/// row that the mask does not cover.
#[inline(always)]
fn row_generic<T: Copy>(row: &mut [T], mask: &[u32], neg: T) {
    let full_words = row.len() / 32;
    let covered = full_words.min(mask.len());
    let (head, rest) = row.split_at_mut(covered * 32);
    for (chunk, &w) in head.chunks_exact_mut(32).zip(mask) {
        let chunk: &mut [T; 32] = chunk.try_into().expect("chunks_exact yields 32 elements");
        apply_word(chunk, w, neg);
    }
    if covered == full_words && covered < mask.len() {
        // `rest` is shorter than 32 and lies under mask word `covered`.
        let w = mask[covered];
        for (i, x) in rest.iter_mut().enumerate() {
            if w & (1u32 << i) == 0 {
                *x = neg;
            }
        }
    } else {
        rest.fill(neg);
    }
}

/// 32 logits under one mask word.
#[inline(always)]
fn apply_word<T: Copy>(chunk: &mut [T; 32], w: u32, neg: T) {
    if w == u32::MAX {
        return;
    }
    if w == 0 {
        *chunk = [neg; 32];
        return;
    }
    for (i, x) in chunk.iter_mut().enumerate() {
        let keep = w & (1u32 << i) != 0;
        *x = if keep { *x } else { neg };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, one element at a time.
    fn naive<T: Copy>(row: &mut [T], mask: &[u32], neg: T) {
        for (t, x) in row.iter_mut().enumerate() {
            if !row::get(mask, t) {
                *x = neg;
            }
        }
    }

    fn naive_batch<T: Copy>(
        logits: &mut [T],
        layout: BatchLayout,
        bitmask: &[u32],
        indices: Option<&[i32]>,
        neg: T,
    ) {
        let n = indices.map_or(layout.rows, <[i32]>::len);
        for i in 0..n {
            let r = indices.map_or(i, |ix| ix[i] as usize);
            let s = r * layout.row_stride;
            let m = &bitmask[i * layout.mask_words..(i + 1) * layout.mask_words];
            naive(&mut logits[s..s + layout.width], m, neg);
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn single_word_bits() {
        let mut l: Vec<f32> = (0..32).map(|i| i as f32).collect();
        apply_bitmask_f32(&mut l, &[0b1010_0000_0000_0000_0000_0000_0000_0101]);
        for (i, x) in l.iter().enumerate() {
            let allowed = [0, 2, 29, 31].contains(&i);
            assert_eq!(*x == f32::NEG_INFINITY, !allowed, "token {i}");
            if allowed {
                assert_eq!(*x, i as f32);
            }
        }
    }

    #[test]
    fn padded_vocab_past_mask_is_neg_inf() {
        // 40 logits, one mask word: tokens 32..40 are past the mask.
        let mut l = vec![1.0f32; 40];
        apply_bitmask_f32(&mut l, &[u32::MAX]);
        assert!(l[..32].iter().all(|&x| x == 1.0));
        assert!(l[32..].iter().all(|&x| x == f32::NEG_INFINITY));
        // Empty mask: everything disallowed.
        let mut l = vec![1.0f32; 7];
        apply_bitmask_f32(&mut l, &[]);
        assert!(l.iter().all(|&x| x == f32::NEG_INFINITY));
    }

    #[test]
    fn surplus_mask_bits_are_ignored() {
        let mut l = vec![3u16; 33];
        apply_bitmask_bf16(&mut l, &[u32::MAX, 0b11, 0, 0]);
        assert!(l.iter().all(|&x| x == 3));
        let mut l = vec![3u16; 33];
        apply_bitmask_f16(&mut l, &[u32::MAX, 0b10]);
        assert_eq!(l[32], F16_NEG_INF);
    }

    #[test]
    fn allowed_values_untouched_bit_for_bit() {
        let special = [
            f32::NAN,
            -0.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::MIN_POSITIVE,
        ];
        let mut l: Vec<f32> = special.iter().copied().cycle().take(64).collect();
        let before = bits(&l);
        apply_bitmask_f32(&mut l, &[u32::MAX, u32::MAX]);
        assert_eq!(bits(&l), before);
    }

    #[test]
    fn batch_with_stride_and_indices() {
        // 3 rows of width 35, stride 40; masks of 2 words.
        let layout = BatchLayout {
            rows: 3,
            width: 35,
            row_stride: 40,
            mask_words: 2,
        };
        let mut l = vec![1.0f32; 2 * 40 + 35];
        // Mask row 0 -> logits row 2 (allow only token 33); mask row 1 -> row 0 (allow all).
        let mask = [0, 0b10, u32::MAX, u32::MAX];
        apply_bitmask_batch_f32(&mut l, layout, &mask, Some(&[2, 0])).unwrap();
        assert!(
            l[..40].iter().all(|&x| x == 1.0),
            "row 0 all allowed; padding untouched"
        );
        assert!(l[40..80].iter().all(|&x| x == 1.0), "row 1 not listed");
        for t in 0..35 {
            assert_eq!(l[80 + t] == 1.0, t == 33, "row 2 token {t}");
        }
    }

    #[test]
    fn batch_errors_write_nothing() {
        let layout = BatchLayout {
            rows: 2,
            width: 32,
            row_stride: 32,
            mask_words: 1,
        };
        let mut l = vec![1.0f32; 64];
        let e = apply_bitmask_batch_f32(&mut l, layout, &[0, 0], Some(&[0, 2])).unwrap_err();
        assert_eq!(
            e,
            ApplyError::IndexOutOfRange {
                position: 1,
                index: 2,
                rows: 2
            }
        );
        let e = apply_bitmask_batch_f32(&mut l, layout, &[0, 0], Some(&[-1])).unwrap_err();
        assert!(matches!(e, ApplyError::IndexOutOfRange { index: -1, .. }));
        let e = apply_bitmask_batch_f32(&mut l, layout, &[0], None).unwrap_err();
        assert_eq!(
            e,
            ApplyError::BufferTooShort {
                what: "bitmask",
                needed: 2,
                len: 1
            }
        );
        let e = apply_bitmask_batch_f32(&mut l[..63], layout, &[0, 0], None).unwrap_err();
        assert_eq!(
            e,
            ApplyError::BufferTooShort {
                what: "logits",
                needed: 64,
                len: 63
            }
        );
        let bad = BatchLayout {
            row_stride: 31,
            ..layout
        };
        let e = apply_bitmask_batch_f32(&mut l, bad, &[0, 0], None).unwrap_err();
        assert_eq!(
            e,
            ApplyError::StrideTooSmall {
                stride: 31,
                width: 32
            }
        );
        let huge = BatchLayout {
            rows: usize::MAX,
            ..layout
        };
        assert!(matches!(
            apply_bitmask_batch_f32(&mut l, huge, &[], None),
            Err(ApplyError::TooLarge(_))
        ));
        assert!(l.iter().all(|&x| x == 1.0));
        // The last row needs only `width` elements, not a whole stride.
        let l2 = BatchLayout {
            rows: 2,
            width: 30,
            row_stride: 32,
            mask_words: 1,
        };
        apply_bitmask_batch_f32(&mut l[..62], l2, &[0, 0], None).unwrap();
        // No rows at all: any buffers are fine.
        let empty = BatchLayout {
            rows: 0,
            width: 5,
            row_stride: 0,
            mask_words: 9,
        };
        apply_bitmask_batch_f32(&mut [], empty, &[], None).unwrap();
    }

    #[test]
    fn dtype_constants() {
        assert_eq!(f32::from_bits(Dtype::F32.neg_inf_bits()), f32::NEG_INFINITY);
        assert_eq!(Dtype::F16.neg_inf_bits(), 0xFC00);
        assert_eq!(Dtype::Bf16.neg_inf_bits(), 0xFF80);
        // bf16 is the top half of f32.
        assert_eq!((f32::NEG_INFINITY.to_bits() >> 16) as u16, BF16_NEG_INF);
        assert_eq!(bitmask_words(32000), 1000);
        assert_eq!(bitmask_words(32011), 1001);
        assert_eq!(bitmask_words(0), 0);
    }

    /// A mask word drawn to hit the fast paths often.
    fn word() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>(), any::<u32>()]
    }

    proptest! {
        #[test]
        fn row_matches_naive(
            vals in proptest::collection::vec(any::<u32>(), 0..300),
            mask in proptest::collection::vec(word(), 0..12),
        ) {
            let mut fast: Vec<f32> = vals.iter().map(|&b| f32::from_bits(b)).collect();
            let mut slow = fast.clone();
            apply_bitmask_f32(&mut fast, &mask);
            naive(&mut slow, &mask, f32::NEG_INFINITY);
            prop_assert_eq!(bits(&fast), bits(&slow));

            let mut fast: Vec<u16> = vals.iter().map(|&b| b as u16).collect();
            let mut slow = fast.clone();
            apply_bitmask_f16(&mut fast, &mask);
            naive(&mut slow, &mask, F16_NEG_INF);
            prop_assert_eq!(&fast, &slow);

            let mut fast: Vec<u16> = vals.iter().map(|&b| (b >> 16) as u16).collect();
            let mut slow = fast.clone();
            apply_bitmask_bf16(&mut fast, &mask);
            naive(&mut slow, &mask, BF16_NEG_INF);
            prop_assert_eq!(&fast, &slow);
        }

        #[test]
        fn batch_matches_naive(
            rows in 1usize..5,
            width in 0usize..150,
            pad in 0usize..9,
            mask_words in 0usize..7,
            use_indices in any::<bool>(),
            seed in proptest::collection::vec(any::<u32>(), 64),
        ) {
            let layout = BatchLayout { rows, width, row_stride: width + pad, mask_words };
            let indices: Vec<i32> = seed.iter().take(rows + 2).map(|s| (s % rows as u32) as i32).collect();
            let ix = use_indices.then_some(&indices[..]);
            let mask_rows = ix.map_or(rows, <[i32]>::len);
            let bitmask: Vec<u32> = (0..mask_rows * mask_words)
                .map(|i| match seed[i % 64] % 4 { 0 => 0, 1 => u32::MAX, _ => seed[(i * 7 + 3) % 64].rotate_left(i as u32) })
                .collect();
            let n = layout.logits_len().unwrap();
            let mut fast: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let mut slow = fast.clone();
            apply_bitmask_batch_f32(&mut fast, layout, &bitmask, ix).unwrap();
            naive_batch(&mut slow, layout, &bitmask, ix, f32::NEG_INFINITY);
            prop_assert_eq!(bits(&fast), bits(&slow));

            let mut fast: Vec<u16> = (0..n).map(|i| i as u16).collect();
            let mut slow = fast.clone();
            apply_bitmask_batch_u16(&mut fast, Dtype16::Bf16, layout, &bitmask, ix).unwrap();
            naive_batch(&mut slow, layout, &bitmask, ix, BF16_NEG_INF);
            prop_assert_eq!(&fast, &slow);
        }
    }
}
