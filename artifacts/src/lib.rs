//! The syncodec artifact: the one file the compiler writes and the runtime reads.
//!
//! A file is a fixed [`header`] (magic, format version, hashes, payload length and checksum)
//! followed by an rkyv archive of [`schema::Payload`]. [`split`] checks the header, [`access`] rkyv's
//! structural validation (bounds, alignment, ownership), then the semantic invariants of the
//! tables ([`validate`]), and hands out a zero-copy reference into the caller's bytes.
//!
//! [`bits`] holds the id sets and the token bitmask row layout every crate shares.
//!
//! [`pack`] wraps a whole artifact in one zstd frame for shipping and unpacks it (bounded) into
//! [`AlignedBytes`].
//!
//! **API Boundary:** the compiler writes only through [`encode`], the runtime reads only through
//! [`split`] and [`access`]. **Invariant:** they never panic and never cause UB for any input; every
//! malformed file is an [`OpenError`].

pub mod bits;
pub mod error;
pub mod header;
pub mod ids;
pub mod pack;
pub mod schema;
mod validate;

pub use error::OpenError;
pub use header::{Header, FORMAT_VERSION, HEADER_LEN};

/// A checked, zero-copy view of an artifact held in memory (for example an mmap).
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub header: &'a Header,
    pub payload: &'a schema::ArchivedPayload,
}

/// A parsed header together with the payload bytes it describes.
pub struct Checked<'a> {
    pub header: Header,
    pub payload_bytes: &'a [u8],
}

/// Checks the header of `file` and returns it with the payload slice. O(1).
pub fn split(file: &[u8]) -> Result<Checked<'_>, OpenError> {
    let header = Header::parse(file)?;
    let payload_bytes = &file[HEADER_LEN..];
    if (payload_bytes.as_ptr() as usize) % 16 != 0 {
        return Err(OpenError::Misaligned);
    }
    Ok(Checked { header, payload_bytes })
}

/// Validates the payload structurally (rkyv) and semantically, returning the archived root.
///
/// Cost: proportional to the number of archived objects, not bytes (flat `u32` tables are
/// bounds-checked once), plus one pass over the grammar tables' ids.
pub fn access(payload_bytes: &[u8]) -> Result<&schema::ArchivedPayload, OpenError> {
    let payload = rkyv::access::<schema::ArchivedPayload, rkyv::rancor::Error>(payload_bytes)
        .map_err(|e| OpenError::Corrupt(format!("payload failed validation: {e}")))?;
    validate::payload(payload)?;
    Ok(payload)
}

/// Verifies the payload checksum recorded in the header (reads every byte).
pub fn verify_checksum(checked: &Checked<'_>) -> Result<(), OpenError> {
    if header::checksum(checked.payload_bytes) == checked.header.payload_checksum {
        Ok(())
    } else {
        Err(OpenError::ChecksumMismatch)
    }
}

/// Error while encoding an artifact.
#[derive(Debug, thiserror::Error)]
#[error("could not serialize the artifact: {0}")]
pub struct EncodeError(String);

/// Serializes `payload` and prepends the header. The result is what goes to disk.
pub fn encode(payload: &schema::Payload, flags: u32, grammar_hash: [u8; 32], vocab_hash: [u8; 32], compiler_version: &str) -> Result<Vec<u8>, EncodeError> {
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(payload).map_err(|e| EncodeError(e.to_string()))?;
    let header = Header::for_payload(&bytes, flags, grammar_hash, vocab_hash, compiler_version);
    let mut out = Vec::with_capacity(HEADER_LEN + bytes.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// An owned, 16-byte aligned copy of artifact bytes (for files read into memory or unpacked).
pub struct AlignedBytes {
    words: Vec<u128>,
    len: usize,
}

impl AlignedBytes {
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let mut aligned = AlignedBytes::zeroed(bytes.len());
        aligned.as_mut_slice().copy_from_slice(bytes);
        aligned
    }

    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> AlignedBytes {
        AlignedBytes { words: vec![0u128; len.div_ceil(16)], len }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the allocation holds `words.len() * 16 >= len` initialized bytes.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; u128 has no invalid bit patterns, so any bytes may be written.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    /// Grows or shrinks to `len` bytes; new bytes are zero.
    ///
    /// # Panics
    /// Aborts like any `Vec` growth when memory runs out; [`AlignedBytes::try_resize_zeroed`]
    /// returns an error instead (use it for sizes read from untrusted input).
    pub fn resize_zeroed(&mut self, len: usize) {
        if len < self.len {
            self.truncate(len);
            return;
        }
        self.words.resize(len.div_ceil(16), 0);
        self.len = len;
    }

    /// [`AlignedBytes::resize_zeroed`], failing instead of aborting when the memory cannot be had.
    pub fn try_resize_zeroed(&mut self, len: usize) -> Result<(), std::collections::TryReserveError> {
        let words = len.div_ceil(16);
        if words > self.words.len() {
            self.words.try_reserve_exact(words - self.words.len())?;
        }
        self.resize_zeroed(len);
        Ok(())
    }

    /// Shortens to `len` bytes (no effect when already shorter), keeping the allocation.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            // Keep the bytes past `len` zero, so that growing again yields zeros.
            self.as_mut_slice()[len..].fill(0);
            self.len = len;
            self.words.truncate(len.div_ceil(16));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::*;

    pub(crate) fn tiny_payload() -> Payload {
        let dfa = Dfa { start: 1, n_states: 3, n_classes: 2, classes: (0..=255u8).map(|b| u8::from(b == b'a')).collect(), trans: vec![0, 0, 0, 2, 0, 2], flags: vec![0, DFA_LIVE, DFA_LIVE | DFA_ACCEPTING] };
        Payload {
            grammar: CompiledGrammar {
                name: "tiny".into(),
                start_rule: "start".into(),
                file_extensions: vec!["txt".into()],
                terminals: vec![Terminal { name: "A".into(), display: "A".into(), priority: 0, kind: TerminalKind::Pattern, dfa: Some(dfa.clone()), rank: 0 }],
                rule_names: vec!["start".into()],
                productions: vec![Production { lhs: ids::RuleId::must(0), rhs: vec![0] }],
                ignore: vec![],
                lexer: LexerDfa { dfa, accept: vec![NONE, NONE, 0] },
                lr: LrTable {
                    n_states: 3,
                    n_columns: 2,
                    start_state: 0,
                    action: vec![Action::Shift(1).encode(), 0, 0, Action::Reduce(0).encode(), 0, Action::Accept.encode()],
                    goto: vec![2, NONE, NONE],
                    mode: "lr1".into(),
                },
                indentation: None,
                auto_semicolon: None,
                contextual_lexer: false,
            },
            vocab: None,
            masks: None,
        }
    }

    #[test]
    fn encode_then_view_round_trips() {
        let payload = tiny_payload();
        let bytes = encode(&payload, 0, [7; 32], [0; 32], "0.1.0").unwrap();
        let aligned = AlignedBytes::copy_from(&bytes);
        let checked = split(aligned.as_slice()).unwrap();
        verify_checksum(&checked).unwrap();
        let archived = access(checked.payload_bytes).unwrap();
        assert_eq!(archived.grammar.name.as_str(), "tiny");
        assert_eq!(checked.header.grammar_hash, [7; 32]);
    }

    #[test]
    fn every_truncation_and_every_bit_flip_is_an_error_or_valid_never_a_panic() {
        let bytes = encode(&tiny_payload(), 0, [7; 32], [0; 32], "0.1.0").unwrap();
        for n in 0..bytes.len() {
            let aligned = AlignedBytes::copy_from(&bytes[..n]);
            assert!(split(aligned.as_slice()).is_err());
        }
        for i in HEADER_LEN..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let aligned = AlignedBytes::copy_from(&flipped);
                let checked = split(aligned.as_slice()).unwrap();
                assert!(verify_checksum(&checked).is_err());
                let _ = access(checked.payload_bytes);
            }
        }
    }
}
