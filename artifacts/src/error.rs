//! Errors of opening an artifact. Every way a file can be wrong maps to one variant; opening
//! never panics.

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
}
