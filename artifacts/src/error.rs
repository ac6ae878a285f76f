//! Errors of opening an artifact. Every way a file can be wrong maps to one variant; opening
//! never panics. The vocabulary variants come from checking an opened artifact against the
//! caller's tokenizer.

/// Why an artifact could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("could not read the artifact: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a syncodec artifact (bad magic bytes); build one with `syncodec build GRAMMAR -o FILE`")]
    BadMagic,
    #[error("the artifact is zstd-compressed; open it with the runtime's zstd support or unpack it first")]
    Compressed,
    #[error("artifact format version {found} is not supported by this runtime (expects {expected}); rebuild it with a matching `syncodec build`")]
    VersionMismatch { found: u32, expected: u32 },
    #[error("artifact is truncated: expected {expected} bytes, found {actual}; rebuild or re-copy it")]
    Truncated { expected: u64, actual: u64 },
    #[error("artifact payload checksum mismatch: the file is corrupted; rebuild or re-copy it")]
    ChecksumMismatch,
    #[error("artifact payload is not 16-byte aligned in memory (internal error in the caller)")]
    Misaligned,
    #[error("artifact is corrupted: {0}; rebuild it with `syncodec build`")]
    Corrupt(String),
    #[error("could not decompress the zstd-compressed artifact: {0}; re-copy it, or rebuild it with `syncodec build --zstd`")]
    Decompress(String),
    #[error("the zstd-compressed artifact unpacks to more than {limit} bytes, the most this runtime opens")]
    TooLarge { limit: u64 },
    #[error("the artifact was built without a tokenizer, so it has no token masks; rebuild it with `syncodec build GRAMMAR --tokenizer TOKENIZER.json` for this tokenizer")]
    NoVocabulary,
    #[error("the artifact was built for another tokenizer (its vocabulary hash is {}, this tokenizer's is {}); rebuild it with `syncodec build GRAMMAR --tokenizer TOKENIZER.json` for this tokenizer", short_hex(found), short_hex(expected))]
    VocabularyMismatch { expected: [u8; 32], found: [u8; 32] },
}

/// The first 8 bytes of a hash in hex: enough to tell two vocabularies apart in a message.
fn short_hex(hash: &[u8; 32]) -> String {
    crate::header::hex(&hash[..8])
}
