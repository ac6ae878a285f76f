//! Sets of ids as bits: [`IdSet`], a set of one id type (terminals, tokens) in `u64` words, and
//! [`row`], the token bitmask row that the runtime, the CUDA crate and the inference engines
//! share (bit `t & 31` of `u32` word `t >> 5` is token `t`, little-endian words).
//!
//! The row layout is a format fact: artifacts store dense masks in it, engines allocate
//! `ceil(vocab / 32)` words per sequence, and the kernels read it. Every crate reads and writes
//! rows through [`row`], never by hand.
//!
//! **Invariant:** an [`IdSet`] holds only ids below the capacity it was made for; inserting past
//! it is refused (returns false), so no call panics on an id read from a file.

use std::marker::PhantomData;

use crate::ids::Id;

/// A fixed-capacity set of ids of one type, one bit each.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdSet<I> {
    words: Vec<u64>,
    _id: PhantomData<fn() -> I>,
}

/// `u64` words of a set with room for `capacity` ids (at least one word, so a set is never
/// zero-sized and word slices can be compared directly).
pub fn set_words(capacity: usize) -> usize {
    capacity.div_ceil(64).max(1)
}

impl<I: Id> IdSet<I> {
    /// The empty set with room for ids `0..capacity`.
    pub fn empty(capacity: usize) -> IdSet<I> {
        IdSet { words: vec![0; set_words(capacity)], _id: PhantomData }
    }

    /// A set over the given raw words (as the compiler's suffix table stores them).
    pub fn from_words(words: Vec<u64>) -> IdSet<I> {
        IdSet { words, _id: PhantomData }
    }

    /// Inserts `id`; true when it was not there yet. Ids past the capacity are ignored (false).
    pub fn insert(&mut self, id: I) -> bool {
        let i = id.index();
        match self.words.get_mut(i / 64) {
            Some(w) => {
                let bit = 1u64 << (i % 64);
                let new = *w & bit == 0;
                *w |= bit;
                new
            }
            None => false,
        }
    }

    /// Removes `id` (no effect when absent or past the capacity).
    pub fn remove(&mut self, id: I) {
        let i = id.index();
        if let Some(w) = self.words.get_mut(i / 64) {
            *w &= !(1u64 << (i % 64));
        }
    }

    pub fn contains(&self, id: I) -> bool {
        let i = id.index();
        self.words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Inserts every id below `n` (clamped to the capacity).
    pub fn insert_below(&mut self, n: usize) {
        let n = n.min(self.words.len() * 64);
        for (k, w) in self.words.iter_mut().enumerate() {
            let lo = k * 64;
            if n >= lo + 64 {
                *w = u64::MAX;
            } else if n > lo {
                *w |= (1u64 << (n - lo)) - 1;
            }
        }
    }

    /// Adds every member of `other`; true when something was new.
    pub fn union_with(&mut self, other: &IdSet<I>) -> bool {
        union_words(&mut self.words, &other.words)
    }

    /// Keeps only the members that are also in `other`; true when some member is left.
    pub fn intersect_with(&mut self, other: &IdSet<I>) -> bool {
        intersect_words(&mut self.words, &other.words)
    }

    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Whether `self` and `other` share a member.
    pub fn intersects(&self, other: &IdSet<I>) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The raw words (bit `i % 64` of word `i / 64` is id `i`).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = I> + '_ {
        iter_ones_u64(&self.words).filter_map(|i| I::from_usize(i).ok())
    }
}

impl<I: Id> std::fmt::Debug for IdSet<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// ORs `src` into `dst` word by word (over the shorter length); true when a bit was new.
pub fn union_words(dst: &mut [u64], src: &[u64]) -> bool {
    let mut changed = false;
    for (d, s) in dst.iter_mut().zip(src) {
        let new = *d | s;
        changed |= new != *d;
        *d = new;
    }
    changed
}

/// ANDs `src` into `dst` word by word; words of `dst` past the end of `src` are cleared (no id
/// there is in `src`). True when a bit of `dst` is left set.
pub fn intersect_words(dst: &mut [u64], src: &[u64]) -> bool {
    let mut any = false;
    for (k, d) in dst.iter_mut().enumerate() {
        *d &= src.get(k).copied().unwrap_or(0);
        any |= *d != 0;
    }
    any
}

/// Positions of the set bits of `words`, in increasing order.
pub fn iter_ones_u64(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(k, &w)| ones_from(k * 64, w))
}

/// Positions set in both `a` and `b` (over the shorter length), in increasing order: the members
/// of the intersection, without building it.
pub fn iter_ones_and<'a>(a: &'a [u64], b: &'a [u64]) -> impl Iterator<Item = usize> + 'a {
    a.iter().zip(b).enumerate().flat_map(|(k, (&x, &y))| ones_from(k * 64, x & y))
}

/// `base + i` for every set bit `i` of `w`, increasing (one word of a set or a row, whose first
/// bit is position `base`).
#[inline]
fn ones_from(base: usize, w: u64) -> impl Iterator<Item = usize> {
    let mut rest = w;
    std::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let b = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        Some(base + b)
    })
}

/// The token bitmask row: `u32` words, bit `t & 31` of word `t >> 5` is token `t`.
///
/// Functions take a raw index so that the server-facing edge (plain `u32` token ids, `&mut [u32]`
/// rows owned by the engine) and the typed internals (`TokenId`) share them. Indices past the row
/// are ignored by the setters and read as absent.
pub mod row {
    /// Words of a row over `n_tokens` tokens.
    pub const fn words(n_tokens: usize) -> usize {
        n_tokens.div_ceil(32)
    }

    #[inline]
    pub fn set(row: &mut [u32], t: usize) {
        if let Some(w) = row.get_mut(t >> 5) {
            *w |= 1 << (t & 31);
        }
    }

    #[inline]
    pub fn unset(row: &mut [u32], t: usize) {
        if let Some(w) = row.get_mut(t >> 5) {
            *w &= !(1 << (t & 31));
        }
    }

    #[inline]
    pub fn get(row: &[u32], t: usize) -> bool {
        row.get(t >> 5).is_some_and(|w| w >> (t & 31) & 1 == 1)
    }

    /// Sets every listed token.
    pub fn set_all(row: &mut [u32], tokens: impl IntoIterator<Item = usize>) {
        for t in tokens {
            set(row, t);
        }
    }

    /// ORs `src` into `dst` word by word (over the shorter length).
    #[inline]
    pub fn union(dst: &mut [u32], src: &[u32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d |= s;
        }
    }

    /// Clears in `dst` every token set in `src` (word by word, over the shorter length).
    #[inline]
    pub fn subtract(dst: &mut [u32], src: &[u32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d &= !s;
        }
    }

    /// Clears every token at or past `n_tokens` (the padding of a row wider than the
    /// vocabulary's real ids).
    pub fn keep_below(row: &mut [u32], n_tokens: usize) {
        let full = n_tokens / 32;
        let Some(rest) = row.get_mut(full..) else { return };
        if let Some((partial, tail)) = rest.split_first_mut() {
            *partial &= (1u32 << (n_tokens % 32)) - 1;
            tail.fill(0);
        }
    }

    /// The set tokens in increasing order.
    pub fn iter_ones(row: &[u32]) -> impl Iterator<Item = usize> + '_ {
        row.iter().enumerate().flat_map(|(k, &w)| super::ones_from(k * 32, u64::from(w)))
    }

    /// Number of set tokens.
    pub fn count(row: &[u32]) -> usize {
        row.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TerminalId;

    #[test]
    fn id_set_inserts_iterates_and_refuses_past_capacity() {
        let mut s = IdSet::<TerminalId>::empty(70);
        assert!(s.insert(TerminalId::must(3)));
        assert!(!s.insert(TerminalId::must(3)));
        assert!(s.insert(TerminalId::must(69)));
        assert!(!s.insert(TerminalId::must(200)));
        assert_eq!(s.iter().map(|t| t.raw()).collect::<Vec<_>>(), vec![3, 69]);
        s.remove(TerminalId::must(3));
        assert!(!s.contains(TerminalId::must(3)));
        assert_eq!(s.len(), 1);
        s.insert_below(66);
        assert_eq!(s.len(), 67);
        assert!(s.contains(TerminalId::must(65)) && !s.contains(TerminalId::must(66)));
    }

    #[test]
    fn intersection_keeps_common_members_and_says_whether_any_is_left() {
        let mut a = IdSet::<TerminalId>::empty(130);
        let mut b = IdSet::<TerminalId>::empty(130);
        for t in [1, 64, 129] {
            a.insert(TerminalId::must(t));
        }
        for t in [64, 100] {
            b.insert(TerminalId::must(t));
        }
        assert!(a.intersect_with(&b));
        assert_eq!(a.iter().map(|t| t.raw()).collect::<Vec<_>>(), vec![64]);
        b.remove(TerminalId::must(64));
        assert!(!a.intersect_with(&b) && a.is_empty());
        // Words past the end of `src` hold no common id.
        let mut words = vec![1u64, 2, 4];
        assert!(intersect_words(&mut words, &[3]));
        assert_eq!(words, vec![1, 0, 0]);
        // The members of an intersection, without building it.
        let (x, y) = ([0b1011u64, 1 << 63, 1], [0b0110u64, u64::MAX]);
        assert_eq!(iter_ones_and(&x, &y).collect::<Vec<_>>(), vec![1, 127]);
        assert_eq!(iter_ones_u64(&x).collect::<Vec<_>>(), vec![0, 1, 3, 127, 128]);
    }

    #[test]
    fn row_layout_is_bit_t_mod_32_of_word_t_div_32() {
        let mut r = vec![0u32; row::words(70)];
        row::set(&mut r, 0);
        row::set(&mut r, 33);
        row::set(&mut r, 69);
        row::set(&mut r, 1000);
        assert_eq!(r, vec![1, 2, 32]);
        assert_eq!(row::iter_ones(&r).collect::<Vec<_>>(), vec![0, 33, 69]);
        row::unset(&mut r, 33);
        assert!(!row::get(&r, 33) && row::get(&r, 69) && !row::get(&r, 5000));
        assert_eq!(row::count(&r), 2);
    }

    #[test]
    fn row_subtract_and_keep_below() {
        let mut r = vec![u32::MAX; 3];
        row::subtract(&mut r, &[0b1010, 0]);
        assert_eq!(r, vec![!0b1010, u32::MAX, u32::MAX]);
        row::keep_below(&mut r, 40);
        assert_eq!(r, vec![!0b1010, 0xFF, 0]);
        row::keep_below(&mut r, 64);
        assert_eq!(r, vec![!0b1010, 0xFF, 0]);
        row::keep_below(&mut r, 0);
        assert_eq!(r, vec![0, 0, 0]);
        let mut short = vec![u32::MAX];
        row::keep_below(&mut short, 1000);
        assert_eq!(short, vec![u32::MAX]);
    }
}
