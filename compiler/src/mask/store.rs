//! Mask representation and deduplication: bitsets in, the flat tables of
//! [`schema::MaskStore`] out.
//!
//! Each mask is stored once. Its representation is a function of the set alone: dense
//! (`ceil(n_tokens / 32)` words) when that is not larger than the sparse list of ids, else sparse
//! (increasing ids). Identical masks are recognized by a BLAKE3 key over the representation,
//! confirmed by comparing the stored words, and get the id of their first occurrence; the
//! caller interns masks in a fixed order, so ids are deterministic.

use std::collections::HashMap;

use syncodec_artifacts::schema::{MASK_DENSE, MASK_SPARSE};

use super::MaskError;

/// A mask in its final representation, with its deduplication key.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub kind: u8,
    pub data: Vec<u32>,
    pub key: [u8; 32],
}

/// The encoded masks of one DFA state (see [`super::walk::StateMasks`]).
#[derive(Debug)]
pub(crate) struct StateEncoded {
    pub live: Option<Encoded>,
    pub splits: Vec<(u32, Encoded)>,
}

/// Chooses the representation of a token bitset and computes its key.
pub(crate) fn encode(bitset: Vec<u32>) -> Encoded {
    let count: usize = bitset.iter().map(|w| w.count_ones() as usize).sum();
    let (kind, data) = if bitset.len() <= count {
        (MASK_DENSE, bitset)
    } else {
        let mut ids = Vec::with_capacity(count);
        for (i, &w) in bitset.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                ids.push((i as u32) << 5 | w.trailing_zeros());
                w &= w - 1;
            }
        }
        (MASK_SPARSE, ids)
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[kind]);
    let mut buffer = [0u8; 4096];
    for chunk in data.chunks(buffer.len() / 4) {
        for (dst, word) in buffer.chunks_exact_mut(4).zip(chunk) {
            dst.copy_from_slice(&word.to_le_bytes());
        }
        hasher.update(&buffer[..chunk.len() * 4]);
    }
    Encoded { kind, data, key: *hasher.finalize().as_bytes() }
}

/// The deduplicated masks so far.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    by_key: HashMap<[u8; 32], u32>,
    pub kind: Vec<u8>,
    pub offset: Vec<u32>,
    pub data: Vec<u32>,
}

impl Interner {
    pub(crate) fn new() -> Interner {
        Interner { by_key: HashMap::new(), kind: Vec::new(), offset: vec![0], data: Vec::new() }
    }

    fn stored(&self, id: u32) -> &[u32] {
        let id = id as usize;
        &self.data[self.offset[id] as usize..self.offset[id + 1] as usize]
    }

    /// The id of `mask`, stored now if it is new.
    pub(crate) fn intern(&mut self, mask: Encoded) -> Result<u32, MaskError> {
        if let Some(&id) = self.by_key.get(&mask.key) {
            if self.kind[id as usize] == mask.kind && self.stored(id) == mask.data.as_slice() {
                return Ok(id);
            }
        }
        let id = u32::try_from(self.kind.len()).ok().filter(|&id| id != u32::MAX).ok_or(MaskError::TooLarge { what: "masks", value: self.kind.len() })?;
        let end = self.data.len() + mask.data.len();
        let end = u32::try_from(end).map_err(|_| MaskError::TooLarge { what: "mask words", value: end })?;
        self.data.extend_from_slice(&mask.data);
        self.offset.push(end);
        self.kind.push(mask.kind);
        // A (never observed) key collision keeps the first mask reachable by key.
        self.by_key.entry(mask.key).or_insert(id);
        Ok(id)
    }

    pub(crate) fn n_masks(&self) -> usize {
        self.kind.len()
    }
}
