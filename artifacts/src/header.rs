//! The fixed 128-byte header that precedes the rkyv payload.
//!
//! It is read and checked before rkyv sees a single payload byte, so a file from another
//! format version or another tool is rejected with a precise message and no validation cost.
//! All integers are little-endian.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0   | 8  | magic `SYNCODEC` |
//! | 8   | 4  | format version ([`FORMAT_VERSION`]) |
//! | 12  | 4  | header size (128) |
//! | 16  | 4  | flags (bit 0: the payload holds a vocabulary and mask store) |
//! | 20  | 4  | reserved, zero (a non-zero word or an unknown flag is refused as damage) |
//! | 24  | 8  | payload length in bytes |
//! | 32  | 32 | grammar hash (BLAKE3 of the grammar sources) |
//! | 64  | 32 | vocabulary hash (BLAKE3 of the token byte strings; zero when absent) |
//! | 96  | 16 | payload checksum (first 16 bytes of BLAKE3 of the payload) |
//! | 112 | 16 | compiler version, UTF-8, zero-padded |

use crate::error::OpenError;

/// First eight bytes of every artifact.
pub const MAGIC: [u8; 8] = *b"SYNCODEC";
/// Bumped on every change of the header or the schema. Exists so that a mismatch is a clear
/// error instead of a validation failure deep inside the payload.
pub const FORMAT_VERSION: u32 = 5;
/// Size of the header; the payload starts here (a multiple of 16, as rkyv's alignment needs).
pub const HEADER_LEN: usize = 128;

/// Flag: the payload carries a vocabulary and a mask store.
pub const FLAG_HAS_VOCAB: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format_version: u32,
    pub flags: u32,
    pub payload_len: u64,
    pub grammar_hash: [u8; 32],
    pub vocab_hash: [u8; 32],
    pub payload_checksum: [u8; 16],
    pub compiler_version: String,
}

impl Header {
    /// Builds the header for `payload`, computing its checksum.
    pub fn for_payload(payload: &[u8], flags: u32, grammar_hash: [u8; 32], vocab_hash: [u8; 32], compiler_version: &str) -> Header {
        Header {
            format_version: FORMAT_VERSION,
            flags,
            payload_len: payload.len() as u64,
            grammar_hash,
            vocab_hash,
            payload_checksum: checksum(payload),
            compiler_version: compiler_version.chars().take(16).collect(),
        }
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        out[16..20].copy_from_slice(&self.flags.to_le_bytes());
        out[24..32].copy_from_slice(&self.payload_len.to_le_bytes());
        out[32..64].copy_from_slice(&self.grammar_hash);
        out[64..96].copy_from_slice(&self.vocab_hash);
        out[96..112].copy_from_slice(&self.payload_checksum);
        let version = self.compiler_version.as_bytes();
        let n = version.len().min(16);
        out[112..112 + n].copy_from_slice(&version[..n]);
        out
    }

    /// Parses and checks the header of `file` (the whole file: its length is checked against
    /// the payload length). Reads only the first 128 bytes. Never panics.
    pub fn parse(file: &[u8]) -> Result<Header, OpenError> {
        let expected = Header::declared_len(file)?;
        let actual = file.len() as u64;
        if actual < expected {
            return Err(OpenError::Truncated { expected, actual });
        }
        if actual > expected {
            return Err(OpenError::Corrupt(format!("{} trailing bytes after the payload", actual - expected)));
        }
        let u32_at = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
        // Unknown flags and a non-zero reserved word are refused, not ignored: this format
        // version defines neither, so they are damage (a flipped bit), never a newer writer.
        let flags = u32_at(16);
        if flags & !FLAG_HAS_VOCAB != 0 {
            return Err(OpenError::Corrupt(format!("unknown header flags {flags:#x}")));
        }
        if u32_at(20) != 0 {
            return Err(OpenError::Corrupt("the header's reserved word is not zero".into()));
        }
        let mut grammar_hash = [0u8; 32];
        grammar_hash.copy_from_slice(&file[32..64]);
        let mut vocab_hash = [0u8; 32];
        vocab_hash.copy_from_slice(&file[64..96]);
        let mut payload_checksum = [0u8; 16];
        payload_checksum.copy_from_slice(&file[96..112]);
        let version_bytes = &file[112..128];
        let end = version_bytes.iter().position(|&b| b == 0).unwrap_or(16);
        let compiler_version = String::from_utf8_lossy(&version_bytes[..end]).into_owned();
        Ok(Header { format_version: u32_at(8), flags, payload_len: expected - HEADER_LEN as u64, grammar_hash, vocab_hash, payload_checksum, compiler_version })
    }

    /// Checks the fixed fields at the start of an artifact (magic, format version, header size)
    /// and returns the file length they declare (header plus payload). Needs only the first
    /// [`HEADER_LEN`] bytes, so a packed artifact can be checked before it is unpacked. Never panics.
    pub fn declared_len(prefix: &[u8]) -> Result<u64, OpenError> {
        if prefix.len() < 8 || prefix[0..8] != MAGIC {
            if prefix.len() >= 4 && prefix[0..4] == ZSTD_MAGIC {
                return Err(OpenError::Compressed);
            }
            return Err(OpenError::BadMagic);
        }
        if prefix.len() < HEADER_LEN {
            return Err(OpenError::Truncated { expected: HEADER_LEN as u64, actual: prefix.len() as u64 });
        }
        let u32_at = |at: usize| u32::from_le_bytes([prefix[at], prefix[at + 1], prefix[at + 2], prefix[at + 3]]);
        let format_version = u32_at(8);
        if format_version != FORMAT_VERSION {
            return Err(OpenError::VersionMismatch { found: format_version, expected: FORMAT_VERSION });
        }
        let header_len = u32_at(12);
        if header_len as usize != HEADER_LEN {
            return Err(OpenError::Corrupt(format!("header size is {header_len}, expected {HEADER_LEN}")));
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&prefix[24..32]);
        let payload_len = u64::from_le_bytes(len_bytes);
        (HEADER_LEN as u64).checked_add(payload_len).ok_or_else(|| OpenError::Corrupt("payload length overflows".into()))
    }
}

/// First four bytes of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The payload checksum: first 16 bytes of its BLAKE3 hash.
pub fn checksum(payload: &[u8]) -> [u8; 16] {
    let hash = blake3::hash(payload);
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.as_bytes()[..16]);
    out
}

/// Lowercase hex of a hash, for display.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> Vec<u8> {
        let h = Header::for_payload(payload, 0, [1; 32], [0; 32], "0.1.0");
        let mut file = h.to_bytes().to_vec();
        file.extend_from_slice(payload);
        file
    }

    #[test]
    fn header_round_trips() {
        let file = sample(b"0123456789abcdef");
        let h = Header::parse(&file).unwrap();
        assert_eq!(h.payload_len, 16);
        assert_eq!(h.compiler_version, "0.1.0");
        assert_eq!(h.payload_checksum, checksum(b"0123456789abcdef"));
    }

    #[test]
    fn header_rejects_every_truncation_and_bad_version() {
        let file = sample(b"0123456789abcdef");
        for n in 0..file.len() {
            assert!(Header::parse(&file[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        let mut wrong = file.clone();
        wrong[8] = 99;
        assert!(matches!(Header::parse(&wrong), Err(OpenError::VersionMismatch { found: 99, .. })));
        assert!(matches!(Header::parse(&[0x28, 0xB5, 0x2F, 0xFD, 0]), Err(OpenError::Compressed)));
    }

    #[test]
    fn unknown_flags_and_a_reserved_word_are_damage() {
        let file = sample(b"0123456789abcdef");
        for (at, bit) in [(16, 1), (19, 7), (20, 0), (23, 7)] {
            let mut flipped = file.clone();
            flipped[at] ^= 1 << bit;
            assert!(matches!(Header::parse(&flipped), Err(OpenError::Corrupt(_))), "byte {at} bit {bit}");
        }
        let mut with_vocab = file.clone();
        with_vocab[16] |= FLAG_HAS_VOCAB as u8;
        assert_eq!(Header::parse(&with_vocab).unwrap().flags, FLAG_HAS_VOCAB);
    }
}
