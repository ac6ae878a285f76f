//! A small bitset over terminal ids (`ceil(n_terminals / 64)` words), and the flat word layout the
//! suffix table shares with it.

/// A set of raw terminal ids below the `n_terminals` it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TermSet {
    words: Vec<u64>,
}

/// Words of a set over `n_terminals` terminals.
pub(crate) fn n_words(n_terminals: usize) -> usize {
    n_terminals.div_ceil(64).max(1)
}

impl TermSet {
    pub(crate) fn empty(n_terminals: usize) -> TermSet {
        TermSet { words: vec![0; n_words(n_terminals)] }
    }

    /// Inserts `t`; true when it was not there yet. Ids past the width are ignored (false).
    pub(crate) fn insert(&mut self, t: usize) -> bool {
        match self.words.get_mut(t / 64) {
            Some(w) => {
                let bit = 1u64 << (t % 64);
                let new = *w & bit == 0;
                *w |= bit;
                new
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, t: usize) -> bool {
        self.words.get(t / 64).is_some_and(|w| w & (1u64 << (t % 64)) != 0)
    }

    pub(crate) fn union_with(&mut self, other: &TermSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub(crate) fn intersect_with(&mut self, other: &TermSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// Members in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        bits(&self.words)
    }
}

/// The set bits of `words`, increasing.
pub(crate) fn bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let bit = w.trailing_zeros() as usize;
            w &= w - 1;
            Some(i * 64 + bit)
        })
    })
}
