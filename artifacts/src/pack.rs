//! zstd packing of whole artifacts, for shipping.
//!
//! A packed artifact is one zstd frame (magic `28 B5 2F FD`) whose content is the artifact file,
//! header included, with the content size recorded in the frame header. [`unpack`] accepts any
//! sequence of frames, with or without a recorded size, and never produces more than
//! [`MAX_UNPACKED_LEN`] bytes (or the caller's lower limit), so a small hostile file cannot make a
//! reader allocate without bound.
//!
//! **Invariant:** [`unpack`] never panics; every malformed input is an [`OpenError`].

use std::io::Read;

use crate::error::OpenError;
use crate::header::ZSTD_MAGIC;
use crate::AlignedBytes;

/// Default compression level of `syncodec build --zstd`. Measured on python.ebnf × llama3 (a
/// 30 MB artifact of mostly dense bitsets): levels above 19 cost several times the time for
/// under 1% of size (see `docs/artifact-format.md`).
pub const DEFAULT_LEVEL: i32 = 19;

/// The largest artifact [`unpack`] produces: 2 GiB. rkyv's 32-bit relative pointers
/// (`pointer_width_32`) cannot address a larger archive, so nothing valid is lost.
pub const MAX_UNPACKED_LEN: u64 = 2 << 30;

/// Why an artifact could not be packed.
#[derive(Debug, thiserror::Error)]
#[error("could not zstd-compress the artifact: {0}")]
pub struct PackError(#[source] std::io::Error);

/// Whether `bytes` start with the zstd frame magic.
pub fn is_packed(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[..4] == ZSTD_MAGIC
}

/// Compresses artifact bytes into one zstd frame at `level` (1..=22), recording the content size.
pub fn pack(artifact: &[u8], level: i32) -> Result<Vec<u8>, PackError> {
    // One-shot compression records the content size in the frame header (zstd's default).
    zstd::bulk::compress(artifact, level).map_err(PackError)
}

/// Decompresses a packed artifact into a 16-byte aligned buffer, ready for [`crate::split`].
///
/// At most `limit` bytes (capped at [`MAX_UNPACKED_LEN`]) are produced: a larger content is
/// [`OpenError::TooLarge`], undecodable data [`OpenError::Decompress`]. Never panics.
pub fn unpack(packed: &[u8], limit: u64) -> Result<AlignedBytes, OpenError> {
    let limit = limit.min(MAX_UNPACKED_LEN);
    if !is_packed(packed) {
        return Err(OpenError::Decompress("no zstd frame magic".into()));
    }
    // The recorded content size only sizes the first allocation; the limit is enforced on the
    // bytes actually produced.
    let hint = match zstd::zstd_safe::get_frame_content_size(packed) {
        Ok(Some(size)) if size > limit => return Err(OpenError::TooLarge { limit }),
        Ok(Some(size)) => size,
        _ => 0,
    };
    let mut decoder = zstd::stream::read::Decoder::with_buffer(packed).map_err(|e| OpenError::Decompress(e.to_string()))?;
    match AlignedBytes::read_from(&mut decoder, hint, limit) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(OpenError::TooLarge { limit }),
        Err(e) => Err(OpenError::Decompress(e.to_string())),
    }
}

impl AlignedBytes {
    /// Reads `reader` to its end into an aligned buffer; `Ok(None)` once more than `limit` bytes
    /// come. `size_hint` (at most `limit`) sizes the first allocation; the buffer grows by
    /// doubling, so memory stays proportional to the bytes actually read.
    pub fn read_from(reader: &mut impl Read, size_hint: u64, limit: u64) -> std::io::Result<Option<AlignedBytes>> {
        // Without a hint start small; with one, trust it only up to 64 MiB before data arrives.
        let first = size_hint.clamp(4096, 64 << 20).min(limit.max(1)) as usize;
        let mut bytes = AlignedBytes::zeroed(first);
        let mut len = 0usize;
        loop {
            if len == bytes.len {
                if len as u64 > limit {
                    return Ok(None);
                }
                // Grow to at most `limit + 1` bytes: one byte past the limit proves it is exceeded.
                let grown = (len.saturating_mul(2) as u64).min(limit.saturating_add(1)).max(len as u64 + 1) as usize;
                bytes.resize_zeroed(grown);
            }
            let n = match reader.read(&mut bytes.as_mut_slice()[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            len += n;
        }
        if len as u64 > limit {
            return Ok(None);
        }
        bytes.truncate(len);
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_then_unpack_round_trips_and_records_the_size() {
        let artifact: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let packed = pack(&artifact, 3).unwrap();
        assert!(is_packed(&packed));
        assert!(packed.len() < artifact.len() / 4);
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&packed).unwrap(), Some(artifact.len() as u64));
        let unpacked = unpack(&packed, MAX_UNPACKED_LEN).unwrap();
        assert_eq!(unpacked.as_slice(), &artifact[..]);
        assert_eq!(unpacked.as_slice().as_ptr() as usize % 16, 0);
        // A frame without a recorded size (streaming encoder) is accepted too.
        let streamed = zstd::stream::encode_all(&artifact[..], 1).unwrap();
        assert_eq!(unpack(&streamed, MAX_UNPACKED_LEN).unwrap().as_slice(), &artifact[..]);
        // Empty content.
        assert_eq!(unpack(&pack(&[], 3).unwrap(), 10).unwrap().as_slice(), &[] as &[u8]);
    }

    #[test]
    fn the_limit_holds_with_and_without_a_recorded_size() {
        let artifact = vec![7u8; 10_000];
        let packed = pack(&artifact, 3).unwrap();
        assert!(matches!(unpack(&packed, 9_999), Err(OpenError::TooLarge { limit: 9_999 })));
        assert!(unpack(&packed, 10_000).is_ok());
        let streamed = zstd::stream::encode_all(&artifact[..], 1).unwrap();
        assert!(matches!(unpack(&streamed, 9_999), Err(OpenError::TooLarge { .. })));
        assert_eq!(unpack(&streamed, 10_000).unwrap().as_slice().len(), 10_000);
    }

    #[test]
    fn garbage_truncations_and_bit_flips_are_errors_never_panics() {
        assert!(matches!(unpack(b"SYNCODEC", 100), Err(OpenError::Decompress(_))));
        assert!(matches!(unpack(&[0x28, 0xB5, 0x2F, 0xFD, 1, 2], 100), Err(OpenError::Decompress(_))));
        let artifact: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 13) as u8).collect();
        let packed = pack(&artifact, 19).unwrap();
        for n in 0..packed.len() {
            assert!(unpack(&packed[..n], 1 << 20).is_err(), "a prefix of {n} bytes unpacked");
        }
        for i in 0..packed.len() {
            for bit in 0..8 {
                let mut flipped = packed.clone();
                flipped[i] ^= 1 << bit;
                let _ = unpack(&flipped, 1 << 20);
            }
        }
    }
}
