//! The vocabulary as the mask walk reads it: the distinct byte strings of the text tokens, sorted,
//! as an implicit trie in preorder, and the per-(string, offset) suffix sets.
//!
//! **Invariants:** strings are non-empty, distinct and sorted bytewise; special tokens and tokens
//! with no bytes are absent. Node 0 is the root (the empty prefix); every other node is one byte
//! deeper than its parent, nodes are in preorder (so a subtree is the node range
//! `index..end`) and the strings below a node are the contiguous range `tok_lo..tok_hi`. At most
//! one string ends at a node (they are distinct).

use std::ops::Range;

use rayon::prelude::*;
use syncodec_artifacts::bits::{self, IdSet};
use syncodec_artifacts::ids::{DfaStateId, TerminalId};

use crate::lexical::TerminalDfa;
use crate::vocab::Vocabulary;

use super::MaskError;

/// Sentinel for "no string ends here".
pub(crate) const NO_STRING: u32 = u32::MAX;

/// One trie node: the byte that leads to it from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub byte: u8,
    pub depth: u32,
    /// First node after this node's subtree.
    pub end: u32,
    /// The string that ends here, or [`NO_STRING`].
    pub string: u32,
    /// The strings in this subtree: `tok_lo..tok_hi`.
    pub tok_lo: u32,
    pub tok_hi: u32,
}

/// Distinct token byte strings, their token ids, and the trie over them.
#[derive(Debug)]
pub(crate) struct Tokens {
    /// `n_strings + 1` offsets into `bytes`.
    pub offsets: Vec<usize>,
    pub bytes: Vec<u8>,
    /// `n_strings + 1` offsets into `ids`: the token ids with each string, increasing.
    pub ids_start: Vec<u32>,
    pub ids: Vec<u32>,
    pub nodes: Vec<Node>,
    /// Length of the longest string.
    pub max_len: usize,
}

impl Tokens {
    /// The text tokens of `vocab` (not special, bytes non-empty), grouped by byte string.
    pub(crate) fn new(vocab: &Vocabulary) -> Result<Tokens, MaskError> {
        let mut order: Vec<u32> = Vec::with_capacity(vocab.bytes.len());
        for (id, (bytes, special)) in vocab.bytes.iter().zip(&vocab.special).enumerate() {
            if !special && !bytes.is_empty() {
                order.push(u32::try_from(id).map_err(|_| MaskError::TooLarge { what: "token ids", value: id })?);
            }
        }
        // Sort by bytes, then id: deterministic, and equal strings become neighbours.
        order.par_sort_unstable_by(|&a, &b| vocab.bytes[a as usize].cmp(&vocab.bytes[b as usize]).then(a.cmp(&b)));
        let mut tokens = Tokens { offsets: vec![0], bytes: Vec::new(), ids_start: vec![0], ids: Vec::with_capacity(order.len()), nodes: Vec::new(), max_len: 0 };
        for (i, &id) in order.iter().enumerate() {
            let s = &vocab.bytes[id as usize];
            let same_as_previous = i > 0 && vocab.bytes[order[i - 1] as usize] == *s;
            if !same_as_previous {
                if i > 0 {
                    tokens.ids_start.push(tokens.ids.len() as u32);
                }
                tokens.bytes.extend_from_slice(s);
                tokens.offsets.push(tokens.bytes.len());
                tokens.max_len = tokens.max_len.max(s.len());
            }
            tokens.ids.push(id);
        }
        if !order.is_empty() {
            tokens.ids_start.push(tokens.ids.len() as u32);
        }
        // Trie nodes (at most one per byte, plus the root) are numbered with `u32`.
        if tokens.bytes.len() >= u32::MAX as usize {
            return Err(MaskError::TooLarge { what: "bytes of token text", value: tokens.bytes.len() });
        }
        tokens.build_trie();
        Ok(tokens)
    }

    pub(crate) fn n_strings(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn string(&self, k: usize) -> &[u8] {
        &self.bytes[self.offsets[k]..self.offsets[k + 1]]
    }

    pub(crate) fn ids_of(&self, k: usize) -> &[u32] {
        self.ids_in(k..k + 1)
    }

    /// The token ids of the strings `strings` (contiguous: ids are grouped by string).
    pub(crate) fn ids_in(&self, strings: Range<usize>) -> &[u32] {
        &self.ids[self.ids_start[strings.start] as usize..self.ids_start[strings.end] as usize]
    }

    /// The root's children in byte order: each first byte with the range of strings below it.
    pub(crate) fn first_bytes(&self) -> impl Iterator<Item = (u8, Range<usize>)> + '_ {
        let mut n = 1;
        std::iter::from_fn(move || {
            let node = self.nodes.get(n)?;
            n = node.end as usize;
            Some((node.byte, node.tok_lo as usize..node.tok_hi as usize))
        })
    }

    /// Preorder trie from the sorted strings: each string adds the nodes below its longest
    /// common prefix with the previous string.
    fn build_trie(&mut self) {
        let n = self.n_strings() as u32;
        let mut nodes = vec![Node { byte: 0, depth: 0, end: 0, string: NO_STRING, tok_lo: 0, tok_hi: n }];
        // `path[d]`: the node at depth `d` on the current string's path.
        let mut path: Vec<usize> = vec![0];
        let mut previous: &[u8] = &[];
        for k in 0..self.n_strings() {
            let s = &self.bytes[self.offsets[k]..self.offsets[k + 1]];
            let lcp = previous.iter().zip(s).take_while(|(a, b)| a == b).count();
            while path.len() > lcp + 1 {
                let closed = path.pop().expect("path holds the root");
                nodes[closed].end = nodes.len() as u32;
                nodes[closed].tok_hi = k as u32;
            }
            for (d, &byte) in s.iter().enumerate().skip(lcp) {
                path.push(nodes.len());
                nodes.push(Node { byte, depth: d as u32 + 1, end: 0, string: NO_STRING, tok_lo: k as u32, tok_hi: 0 });
            }
            if let Some(&last) = path.last() {
                nodes[last].string = k as u32;
            }
            previous = s;
        }
        for closed in path {
            nodes[closed].end = nodes.len() as u32;
            nodes[closed].tok_hi = n;
        }
        self.nodes = nodes;
    }
}

/// Per string `k` and offset `i < len(k)`: the terminals `f` such that `k[i..]`, walked from `f`'s
/// start state, stays live to its end or passes an accepting state of `f`. Flat: the set of
/// byte position `p = offsets[k] + i` is `words[p * n_words..][..n_words]`.
#[derive(Debug)]
pub(crate) struct Suffixes {
    pub n_words: usize,
    pub words: Vec<u64>,
}

impl Suffixes {
    /// `dfas[t]` is terminal `t`'s DFA (`None` for declared terminals, never members).
    pub(crate) fn new(tokens: &Tokens, dfas: &[Option<&TerminalDfa>]) -> Suffixes {
        let n_terminals = dfas.len();
        let n_words = bits::set_words(n_terminals);
        // Terminals by the first byte that keeps them live; a terminal whose start accepts (never
        // produced by the lexical stage) would contain every suffix.
        let mut first: Vec<IdSet<TerminalId>> = vec![IdSet::empty(n_terminals); 256];
        let mut always = IdSet::empty(n_terminals);
        for (t, dfa) in dfas.iter().enumerate() {
            let (Some(dfa), Ok(t)) = (dfa, TerminalId::new(t)) else { continue };
            if dfa.accepting[dfa.start] {
                always.insert(t);
            }
            for b in 0..=255u8 {
                if dfa.live[dfa.next(dfa.start, b)] {
                    first[b as usize].insert(t);
                }
            }
        }
        let chunk = 2048;
        let parts: Vec<Vec<u64>> = (0..tokens.n_strings().div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let lo = c * chunk;
                let hi = (lo + chunk).min(tokens.n_strings());
                let mut out = Vec::with_capacity((tokens.offsets[hi] - tokens.offsets[lo]) * n_words);
                let mut set = IdSet::empty(n_terminals);
                for k in lo..hi {
                    let s = tokens.string(k);
                    for i in 0..s.len() {
                        set.clear();
                        set.union_with(&always);
                        for t in first[s[i] as usize].iter() {
                            if let Some(dfa) = dfas[t.as_usize()] {
                                if stays_live_or_accepts(dfa, dfa.start, &s[i..]) {
                                    set.insert(t);
                                }
                            }
                        }
                        out.extend_from_slice(set.words());
                    }
                }
                out
            })
            .collect();
        Suffixes { n_words, words: parts.concat() }
    }

    #[inline]
    pub(crate) fn at(&self, position: usize) -> &[u64] {
        &self.words[position * self.n_words..(position + 1) * self.n_words]
    }
}

/// Whether `bytes` walked from `state` passes an accepting state (the start included) or ends
/// in a live state without ever going dead.
pub(crate) fn stays_live_or_accepts(dfa: &TerminalDfa, state: DfaStateId, bytes: &[u8]) -> bool {
    let mut s = state;
    if !dfa.live[s] {
        return false;
    }
    if dfa.accepting[s] {
        return true;
    }
    for &b in bytes {
        s = dfa.next(s, b);
        if !dfa.live[s] {
            return false;
        }
        if dfa.accepting[s] {
            return true;
        }
    }
    true
}
