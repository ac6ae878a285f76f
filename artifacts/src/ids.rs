//! Typed ids shared by the compiler, the artifact schema and the runtime.
//!
//! Each id is a `#[repr(transparent)]` wrapper around `u32` made by one macro, so a
//! terminal id can never be passed where an LR state id is expected. This project has
//! three kinds of state ([`DfaStateId`], [`LexStateId`], [`LrStateId`]); there is no bare
//! `StateId`. [`IdVec`] is a vector that can only be indexed by its id type.
//!
//! **Invariant:** an id is always `< LIMIT` (`u32::MAX`, which stays free as a sentinel).
//! Ids read from artifact bytes are checked against table lengths by `validate` before use.

use std::fmt;
use std::marker::PhantomData;

/// An id did not fit in 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} id {value} exceeds the limit of {limit}")]
pub struct IdOverflow {
    pub kind: &'static str,
    pub value: usize,
    pub limit: usize,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
        #[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash))]
        #[repr(transparent)]
        pub struct $name(u32);

        impl $name {
            /// Largest raw value (exclusive); `u32::MAX` is reserved as a sentinel.
            pub const LIMIT: usize = u32::MAX as usize;

            /// Makes an id from a position, failing when it does not fit.
            pub fn new(value: usize) -> Result<Self, IdOverflow> {
                if value < Self::LIMIT {
                    Ok(Self(value as u32))
                } else {
                    Err(IdOverflow { kind: stringify!($name), value, limit: Self::LIMIT })
                }
            }

            /// Makes an id from a position known to fit (tests, small internal tables).
            ///
            /// # Panics
            /// When `value >= LIMIT`.
            #[track_caller]
            pub fn must(value: usize) -> Self {
                match Self::new(value) {
                    Ok(id) => id,
                    Err(e) => panic!("{e}"),
                }
            }

            /// The id as a raw u32 (for tables stored in artifacts).
            #[inline]
            pub const fn from_raw(raw: u32) -> Self {
                Self(raw)
            }

            /// The raw u32.
            #[inline]
            pub const fn raw(self) -> u32 {
                self.0
            }

            /// The id as a vector index.
            #[inline]
            pub const fn as_usize(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl $crate::ids::ArchivedId for <$name as rkyv::Archive>::Archived {
            type Native = $name;
            #[inline]
            fn raw(&self) -> u32 {
                self.0.to_native()
            }
            #[inline]
            fn to_id(&self) -> $name {
                $name(self.0.to_native())
            }
        }

        impl $crate::ids::Id for $name {
            fn from_usize(value: usize) -> Result<Self, IdOverflow> {
                Self::new(value)
            }
            fn index(self) -> usize {
                self.as_usize()
            }
        }
    };
}

/// Reading an archived id (as stored in an artifact) back as the native id.
pub trait ArchivedId {
    type Native;
    /// The raw u32.
    fn raw(&self) -> u32;
    /// The native id. Not checked against any table: `validate` has done that at open.
    fn to_id(&self) -> Self::Native;
}

/// Common behaviour of the id newtypes, used by [`IdVec`].
pub trait Id: Copy + Eq + fmt::Debug {
    fn from_usize(value: usize) -> Result<Self, IdOverflow>;
    fn index(self) -> usize;
}

id_type!(
    /// A grammar terminal (a lexical category such as `NAME` or `"if"`). Never a vocabulary token.
    TerminalId
);
id_type!(
    /// A nonterminal (a rule) of the lowered grammar.
    RuleId
);
id_type!(
    /// One production `rule -> symbols` of the lowered grammar.
    ProductionId
);
id_type!(
    /// A state inside one terminal's DFA. Meaningless without the terminal it belongs to.
    DfaStateId
);
id_type!(
    /// A state of the combined lexer DFA over all terminals.
    LexStateId
);
id_type!(
    /// A state of the LR automaton.
    LrStateId
);
id_type!(
    /// A vocabulary token of the LLM's tokenizer. Never a grammar terminal.
    TokenId
);
id_type!(
    /// A stored mask in the mask store.
    MaskId
);

impl DfaStateId {
    /// State 0, the dead state of every terminal DFA: not accepting, not live, and every
    /// transition from it leads back to it (the artifact's [`crate::schema::Dfa`] tables keep it
    /// at 0).
    pub const DEAD: DfaStateId = DfaStateId(0);
}

impl LexStateId {
    /// State 0, the dead state of the combined lexer DFA: no terminal can match any more.
    pub const DEAD: LexStateId = LexStateId(0);
}

/// A vector indexed by one id type only (in the spirit of la-arena's `ArenaMap`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdVec<I, T> {
    items: Vec<T>,
    _id: PhantomData<fn(I) -> I>,
}

impl<I: Id, T> IdVec<I, T> {
    pub fn new() -> Self {
        Self { items: Vec::new(), _id: PhantomData }
    }

    pub fn from_vec(items: Vec<T>) -> Self {
        Self { items, _id: PhantomData }
    }

    /// Appends and returns the new element's id.
    pub fn push(&mut self, value: T) -> Result<I, IdOverflow> {
        let id = I::from_usize(self.items.len())?;
        self.items.push(value);
        Ok(id)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, id: I) -> Option<&T> {
        self.items.get(id.index())
    }

    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.items.get_mut(id.index())
    }

    /// Iterates `(id, &value)` in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (I, &T)> + '_ {
        self.items.iter().enumerate().map(|(i, v)| {
            (I::from_usize(i).expect("IdVec length is bounded by push"), v)
        })
    }

    pub fn ids(&self) -> impl ExactSizeIterator<Item = I> + '_ {
        (0..self.items.len()).map(|i| I::from_usize(i).expect("IdVec length is bounded by push"))
    }

    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

impl<I: Id, T> Default for IdVec<I, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Id, T> std::ops::Index<I> for IdVec<I, T> {
    type Output = T;
    /// # Panics
    /// When `id` was not made by this vector (an internal invariant violation).
    #[track_caller]
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> std::ops::IndexMut<I> for IdVec<I, T> {
    #[track_caller]
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<I: Id, T: fmt::Debug> fmt::Debug for IdVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_overflow() {
        let t = TerminalId::new(7).unwrap();
        assert_eq!(t.as_usize(), 7);
        assert_eq!(TerminalId::from_raw(t.raw()), t);
        let err = LrStateId::new(u32::MAX as usize).unwrap_err();
        assert_eq!(err.kind, "LrStateId");
        assert!(err.to_string().contains("exceeds the limit"));
    }

    #[test]
    fn dead_states_are_state_zero() {
        assert_eq!((DfaStateId::DEAD.raw(), LexStateId::DEAD.raw()), (0, 0));
        assert_eq!(DfaStateId::DEAD, DfaStateId::default());
    }

    #[test]
    fn idvec_push_returns_sequential_ids() {
        let mut v: IdVec<RuleId, &str> = IdVec::new();
        let a = v.push("a").unwrap();
        let b = v.push("b").unwrap();
        assert_eq!((a.as_usize(), b.as_usize()), (0, 1));
        assert_eq!(v[b], "b");
        assert_eq!(v.iter().map(|(id, s)| (id.as_usize(), *s)).collect::<Vec<_>>(), vec![(0, "a"), (1, "b")]);
    }
}
