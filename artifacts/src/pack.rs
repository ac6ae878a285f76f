//! zstd packing of whole artifacts, for shipping.
//!
//! A packed artifact is one zstd frame (magic `28 B5 2F FD`) whose content is the artifact file,
//! header included, with the content size recorded in the frame header. [`unpack`] accepts any
//! sequence of frames, with or without a recorded size. It decompresses the artifact header first
//! and checks it (magic, format version), then at most the length that header declares (and
//! never more than [`MAX_UNPACKED_LEN`] bytes or the caller's lower limit), with fallible
//! allocation: a small hostile file (a "zstd bomb") costs at most the bytes of one header before
//! it is refused, and a declared size the machine cannot hold is an error, not an abort.
//!
//! **Invariant:** [`unpack`] never panics; every malformed input is an [`OpenError`].

use std::io::Read;

use crate::error::OpenError;
use crate::header::{Header, HEADER_LEN, ZSTD_MAGIC};
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
    let mut decoder = zstd::stream::read::Decoder::with_buffer(packed).map_err(|e| OpenError::Decompress(e.to_string()))?;
    // The artifact header comes first: check it before anything else is decompressed.
    let mut header = Vec::with_capacity(HEADER_LEN);
    (&mut decoder).take(HEADER_LEN as u64).read_to_end(&mut header).map_err(|e| OpenError::Decompress(e.to_string()))?;
    let declared = match Header::declared_len(&header) {
        Ok(n) => n,
        Err(OpenError::BadMagic) => return Err(OpenError::Decompress("its content is not a syncodec artifact (bad magic)".into())),
        Err(e) => return Err(e),
    };
    if declared > limit {
        return Err(OpenError::TooLarge { limit });
    }
    match zstd::zstd_safe::get_frame_content_size(packed) {
        Ok(Some(size)) if size < declared => return Err(OpenError::Truncated { expected: declared, actual: size }),
        Ok(Some(size)) if size > declared => return Err(OpenError::Corrupt(format!("the zstd frame holds {size} bytes but the artifact header declares {declared}"))),
        _ => {}
    }
    // Read the rest up to the declared length; one byte more proves trailing data.
    match AlignedBytes::read_from(&mut header.as_slice().chain(decoder), declared, declared) {
        Ok(Some(bytes)) if bytes.as_slice().len() as u64 == declared => Ok(bytes),
        Ok(Some(bytes)) => Err(OpenError::Truncated { expected: declared, actual: bytes.as_slice().len() as u64 }),
        Ok(None) => Err(OpenError::Corrupt(format!("the zstd content continues past the {declared} bytes the artifact header declares"))),
        Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => Err(OpenError::Decompress(format!("could not allocate {declared} bytes for the unpacked artifact: {e}"))),
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
        let mut bytes = AlignedBytes::zeroed(0);
        bytes.try_resize_zeroed(first).map_err(|e| std::io::Error::new(std::io::ErrorKind::OutOfMemory, e))?;
        let mut len = 0usize;
        loop {
            if len == bytes.len {
                if len as u64 > limit {
                    return Ok(None);
                }
                // Grow to at most `limit + 1` bytes: one byte past the limit proves it is exceeded.
                let grown = (len.saturating_mul(2) as u64).min(limit.saturating_add(1)).max(len as u64 + 1) as usize;
                bytes.try_resize_zeroed(grown).map_err(|e| std::io::Error::new(std::io::ErrorKind::OutOfMemory, e))?;
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

    /// An artifact-shaped file: a valid header for `payload` (the payload is not an archive, which
    /// `unpack` does not look at).
    fn artifact(payload: &[u8]) -> Vec<u8> {
        let header = Header::for_payload(payload, 0, [1; 32], [2; 32], "test");
        [&header.to_bytes()[..], payload].concat()
    }

    #[test]
    fn pack_then_unpack_round_trips_and_records_the_size() {
        let artifact = artifact(&(0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect::<Vec<u8>>());
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
        // An empty payload.
        let empty = self::artifact(&[]);
        assert_eq!(unpack(&pack(&empty, 3).unwrap(), 1000).unwrap().as_slice(), &empty[..]);
    }

    #[test]
    fn the_limit_holds_with_and_without_a_recorded_size() {
        let artifact = artifact(&[7u8; 10_000]);
        let n = artifact.len() as u64;
        let packed = pack(&artifact, 3).unwrap();
        assert!(matches!(unpack(&packed, n - 1), Err(OpenError::TooLarge { .. })));
        assert!(unpack(&packed, n).is_ok());
        let streamed = zstd::stream::encode_all(&artifact[..], 1).unwrap();
        assert!(matches!(unpack(&streamed, n - 1), Err(OpenError::TooLarge { .. })));
        assert_eq!(unpack(&streamed, n).unwrap().as_slice().len() as u64, n);
    }

    #[test]
    fn a_bomb_is_refused_after_its_first_header_bytes() {
        // 64 MiB of zeros (the 2 GB of zeros, scaled down): not an artifact header, so
        // it is refused after decompressing 128 bytes, whatever follows.
        let zeros = zstd::stream::encode_all(std::io::repeat(0).take(64 << 20), 1).unwrap();
        match unpack(&zeros, MAX_UNPACKED_LEN) {
            Err(OpenError::Decompress(m)) => assert!(m.contains("not a syncodec artifact"), "{m}"),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a bomb unpacked"),
        }
        // A valid header that declares 1 KiB, followed by 64 MiB: refused at the declared length.
        let mut lying = artifact(&[0u8; 1024]);
        lying.resize(64 << 20, 0);
        let packed = zstd::stream::encode_all(&lying[..], 1).unwrap();
        assert!(matches!(unpack(&packed, MAX_UNPACKED_LEN), Err(OpenError::Corrupt(m)) if m.contains("continues past")));
        // A header that declares more than the data holds: truncated.
        let short = artifact(&[0u8; 1024]);
        let packed = zstd::stream::encode_all(&short[..1000], 1).unwrap();
        assert!(matches!(unpack(&packed, MAX_UNPACKED_LEN), Err(OpenError::Truncated { .. })));
        // A recorded frame size that disagrees with the header.
        let mut padded = artifact(&[0u8; 10]);
        padded.push(0);
        assert!(matches!(unpack(&pack(&padded, 3).unwrap(), MAX_UNPACKED_LEN), Err(OpenError::Corrupt(_))));
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused_before_allocation() {
        let mut header = Header::for_payload(&[], 0, [0; 32], [0; 32], "test");
        header.payload_len = 3 << 30;
        let packed = pack(&header.to_bytes(), 3).unwrap();
        assert!(matches!(unpack(&packed, MAX_UNPACKED_LEN), Err(OpenError::TooLarge { .. })));
    }

    #[test]
    fn garbage_truncations_and_bit_flips_are_errors_never_panics() {
        assert!(matches!(unpack(b"SYNCODEC", 100), Err(OpenError::Decompress(_))));
        assert!(matches!(unpack(&[0x28, 0xB5, 0x2F, 0xFD, 1, 2], 100), Err(OpenError::Decompress(_))));
        let artifact = artifact(&(0..3000u32).map(|i| (i * 7 % 13) as u8).collect::<Vec<u8>>());
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
