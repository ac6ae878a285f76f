//! An opened, validated artifact: the immutable ground state every session shares.
//!
//! [`Artifact`] owns the bytes (a read-only `memmap2::Mmap` of the file, or an [`AlignedBytes`]
//! copy for artifacts that never touch disk or were zstd-packed) and remembers where the
//! validated rkyv root lies inside them. A zstd-packed artifact (`syncodec build --zstd`, magic
//! `28 B5 2F FD`) is recognized by its magic and unpacked into memory first, at most
//! [`pack::MAX_UNPACKED_LEN`] bytes; everything after that is the same.
//!
//! Opening runs, in order:
//! 1. the header check ([`syncodec_artifacts::split`]: magic, format version, lengths; O(1));
//! 2. the payload checksum (BLAKE3 of every payload byte against the header's): a flipped bit
//!    anywhere in the payload, mask store included, is [`OpenError::ChecksumMismatch`]. This is
//!    the one step that reads every byte (about 1.5 ms for python × llama3's 12.7 MB, see
//!    `docs/artifact-format.md`); it runs before rkyv sees the payload;
//! 3. rkyv's structural validation plus the semantic checks of [`syncodec_artifacts::access`]
//!    (cost proportional to the number of archived objects and table ids, not to the mask bytes).
//!
//! [`Artifact::open`], [`Artifact::from_bytes`] and [`Artifact::from_aligned`] run all three:
//! the default is safe for a file of unknown origin. The `_unverified` twins
//! ([`Artifact::open_unverified`], [`Artifact::from_bytes_unverified`],
//! [`Artifact::from_aligned_unverified`]) skip step 2, for callers that verified these exact bytes
//! before (a server reopening a file it checked at deployment). They are still memory-safe and
//! never panic on any input (steps 1 and 3 run), but a flipped bit in the mask store then goes
//! unnoticed and serves wrong masks: use them only for trusted bytes (`docs/threat-model.md`).
//! [`Artifact::check_vocabulary`] tells whether the artifact was built for the caller's tokenizer.
//!
//! **Invariant:** every constructor of [`Artifact`] never panics and never causes UB for any
//! input (empty, truncated, bit-flipped, wrong magic, wrong version): every malformed artifact is
//! an [`OpenError`]. After a successful open, every id in the grammar tables is below the length
//! of the table it indexes; readers still index with `get()` and treat a miss as an error. After a
//! successful verified open, the payload is byte for byte the one the compiler wrote (up to
//! BLAKE3's 128-bit collision resistance).
//!
//! **Invariant:** `Artifact` is `Send + Sync`; it is shared by reference (or `Arc`) across threads.
//!
//! `unsafe`: one `unsafe` block maps the file (the usual mmap caveat: another process truncating
//! or rewriting the file while it is mapped is outside what this crate can defend against; the
//! compiler writes artifacts atomically by rename, which never modifies a mapped file), and one
//! turns the stored root offset back into a reference (see [`Artifact::payload`]).

use std::fmt;
use std::fs::File;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};
use syncodec_artifacts::header::FLAG_HAS_VOCAB;
use syncodec_artifacts::pack;
use syncodec_artifacts::schema::{ArchivedCompiledGrammar, ArchivedPayload};
use syncodec_artifacts::{AlignedBytes, Header, OpenError};

/// Where the artifact's bytes live. Both variants keep their bytes at a fixed address for as
/// long as they exist (an mmap region, a heap allocation), even when the `Artifact` moves.
enum Storage {
    Mapped(Mmap),
    /// An empty file: some platforms refuse to map zero bytes.
    Empty,
    Owned(AlignedBytes),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(map) => map,
            Storage::Empty => &[],
            Storage::Owned(bytes) => bytes.as_slice(),
        }
    }
}

/// An opened, validated artifact. See the module docs for what opening checks.
pub struct Artifact {
    storage: Storage,
    header: Header,
    /// Byte offset of the validated [`ArchivedPayload`] root inside `storage.bytes()`.
    root: usize,
}

/// Whether opening verifies the payload checksum (see the module docs, step 2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Integrity {
    Verify,
    Trust,
}

impl Artifact {
    /// Maps the file at `path`, verifies its payload checksum and validates it: the safe default
    /// for a file of any origin. Reads every byte once (the checksum; see the module docs for
    /// the cost). A zstd-packed file is unpacked into memory first.
    ///
    /// Never panics; any malformed or corrupted file is an [`OpenError`] (a flipped payload bit:
    /// [`OpenError::ChecksumMismatch`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Artifact, OpenError> {
        Artifact::open_with(path.as_ref(), Integrity::Verify)
    }

    /// As [`Artifact::open`] without the payload checksum: for a file the caller has verified
    /// before (for example with [`Artifact::verify_integrity`] at deployment) and trusts not to
    /// have changed since. Reads only the header and the tables validation touches, never the mask
    /// store. Still never panics and never causes UB for any input, but a corrupted mask store
    /// opens and serves wrong masks.
    pub fn open_unverified(path: impl AsRef<Path>) -> Result<Artifact, OpenError> {
        Artifact::open_with(path.as_ref(), Integrity::Trust)
    }

    fn open_with(path: &Path, integrity: Integrity) -> Result<Artifact, OpenError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let storage = if len == 0 {
            Storage::Empty
        } else {
            // SAFETY: the map is read-only and private to this `Artifact`. Concurrent
            // modification of the file by another process is the documented mmap caveat (see
            // the module docs); this crate never writes to it.
            // The verified open reads every byte, so the map is populated up front (one call
            // instead of a page fault per few pages; a hint, ignored where unsupported).
            let mut options = MmapOptions::new();
            if integrity == Integrity::Verify {
                options.populate();
            }
            match unsafe { options.map(&file) } {
                Ok(map) => Storage::Mapped(map),
                // The file shrank to nothing between `metadata` and `map`.
                Err(_) if file.metadata().map(|m| m.len() == 0).unwrap_or(false) => Storage::Empty,
                Err(e) => return Err(OpenError::Io(e)),
            }
        };
        if pack::is_packed(storage.bytes()) {
            // A packed file is read once to decompress it; the map is dropped afterwards.
            return Artifact::from_storage(Storage::Owned(pack::unpack(storage.bytes(), pack::MAX_UNPACKED_LEN)?), integrity);
        }
        Artifact::from_storage(storage, integrity)
    }

    /// Copies `bytes` (an artifact, or a zstd-packed one) into an aligned buffer, verifies its
    /// payload checksum and validates it (for artifacts held in memory, e.g. handed over by the
    /// compiler without touching disk). Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, OpenError> {
        Artifact::from_bytes_with(bytes, Integrity::Verify)
    }

    /// As [`Artifact::from_bytes`] without the payload checksum, for trusted bytes (see
    /// [`Artifact::open_unverified`]).
    pub fn from_bytes_unverified(bytes: &[u8]) -> Result<Artifact, OpenError> {
        Artifact::from_bytes_with(bytes, Integrity::Trust)
    }

    fn from_bytes_with(bytes: &[u8], integrity: Integrity) -> Result<Artifact, OpenError> {
        if pack::is_packed(bytes) {
            return Artifact::from_storage(Storage::Owned(pack::unpack(bytes, pack::MAX_UNPACKED_LEN)?), integrity);
        }
        Artifact::from_storage(Storage::Owned(AlignedBytes::copy_from(bytes)), integrity)
    }

    /// Verifies and validates an already aligned buffer without copying it (a packed one is
    /// unpacked first). Never panics.
    pub fn from_aligned(bytes: AlignedBytes) -> Result<Artifact, OpenError> {
        Artifact::from_aligned_with(bytes, Integrity::Verify)
    }

    /// As [`Artifact::from_aligned`] without the payload checksum, for trusted bytes (see
    /// [`Artifact::open_unverified`]).
    pub fn from_aligned_unverified(bytes: AlignedBytes) -> Result<Artifact, OpenError> {
        Artifact::from_aligned_with(bytes, Integrity::Trust)
    }

    fn from_aligned_with(bytes: AlignedBytes, integrity: Integrity) -> Result<Artifact, OpenError> {
        if pack::is_packed(bytes.as_slice()) {
            return Artifact::from_storage(Storage::Owned(pack::unpack(bytes.as_slice(), pack::MAX_UNPACKED_LEN)?), integrity);
        }
        Artifact::from_storage(Storage::Owned(bytes), integrity)
    }

    /// Steps 1-3 of the module docs, in that order: the checksum is verified before rkyv reads
    /// a payload byte.
    fn from_storage(storage: Storage, integrity: Integrity) -> Result<Artifact, OpenError> {
        let file = storage.bytes();
        let checked = syncodec_artifacts::split(file)?;
        if integrity == Integrity::Verify {
            syncodec_artifacts::verify_checksum(&checked)?;
        }
        let payload = syncodec_artifacts::access(checked.payload_bytes)?;
        let flagged = checked.header.flags & FLAG_HAS_VOCAB != 0;
        if flagged != payload.vocab.is_some() {
            return Err(OpenError::Corrupt("the header's vocabulary flag disagrees with the payload".into()));
        }
        let base = file.as_ptr() as usize;
        let at = payload as *const ArchivedPayload as usize;
        let root = at
            .checked_sub(base)
            .filter(|root| root.checked_add(std::mem::size_of::<ArchivedPayload>()).is_some_and(|end| end <= file.len()))
            .ok_or_else(|| OpenError::Corrupt("payload root lies outside the artifact".into()))?;
        let header = checked.header;
        Ok(Artifact { storage, header, root })
    }

    /// The parsed file header (format version, hashes, compiler version).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The archived payload root.
    pub fn payload(&self) -> &ArchivedPayload {
        let bytes = self.storage.bytes();
        // SAFETY: `from_storage` validated (rkyv bytecheck + semantic validation) an
        // `ArchivedPayload` at exactly this offset of exactly these bytes, and checked that it
        // lies inside them. The bytes are never mutated (read-only map or an owned buffer nobody
        // writes to) and stay at the same address while `self` exists (moving `Artifact` moves
        // the `Mmap`/`Vec` handle, not the bytes), so pointer, alignment and validity still hold.
        // The returned reference borrows `self`.
        unsafe { &*bytes.as_ptr().add(self.root).cast::<ArchivedPayload>() }
    }

    /// The compiled grammar: terminals, lexer DFA, LR tables, indentation settings.
    pub fn grammar(&self) -> &ArchivedCompiledGrammar {
        &self.payload().grammar
    }

    /// The vocabulary hash recorded in the header, or `None` for an artifact built without a
    /// tokenizer (no vocabulary, no mask store).
    pub fn vocab_hash(&self) -> Option<[u8; 32]> {
        self.payload().vocab.is_some().then_some(self.header.vocab_hash)
    }

    /// Checks that the artifact was built for the tokenizer whose vocabulary hash is `hash` (as
    /// the compiler computes it, `syncodec::vocab::Vocabulary::hash`). Masks of an artifact built
    /// for another tokenizer name the wrong token ids, so callers check this once after opening.
    ///
    /// # Errors
    /// [`OpenError::NoVocabulary`] when the artifact has no vocabulary,
    /// [`OpenError::VocabularyMismatch`] when it has another one.
    pub fn check_vocabulary(&self, hash: &[u8; 32]) -> Result<(), OpenError> {
        match self.vocab_hash() {
            None => Err(OpenError::NoVocabulary),
            Some(found) if found == *hash => Ok(()),
            Some(found) => Err(OpenError::VocabularyMismatch { expected: *hash, found }),
        }
    }

    /// Size of the artifact in bytes (header included; unpacked size for a packed file).
    pub fn len(&self) -> usize {
        self.storage.bytes().len()
    }

    /// Always false: a valid artifact has at least a header.
    pub fn is_empty(&self) -> bool {
        self.storage.bytes().is_empty()
    }

    /// Verifies the payload checksum recorded in the header. Reads every byte of the artifact.
    /// [`Artifact::open`] already did this; it is for artifacts opened with an `_unverified`
    /// call (`syncodec inspect` opens unverified to describe a corrupted file, then reports the
    /// checksum with this).
    pub fn verify_integrity(&self) -> Result<(), OpenError> {
        let checked = syncodec_artifacts::split(self.storage.bytes())?;
        syncodec_artifacts::verify_checksum(&checked)
    }
}

impl fmt::Debug for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backing = match self.storage {
            Storage::Mapped(_) => "mmap",
            Storage::Empty => "empty",
            Storage::Owned(_) => "memory",
        };
        f.debug_struct("Artifact")
            .field("grammar", &self.grammar().name.as_str())
            .field("bytes", &self.len())
            .field("backing", &backing)
            .field("header", &self.header)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use std::io::Write;
    use syncodec_artifacts::HEADER_LEN;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn artifact_is_send_and_sync() {
        assert_send_sync::<Artifact>();
    }

    #[test]
    fn from_bytes_round_trips_and_checks_integrity() {
        let bytes = testing::assign_bytes();
        let artifact = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(artifact.grammar().name.as_str(), "assign");
        assert_eq!(artifact.header().compiler_version, "test");
        assert_eq!(artifact.len(), bytes.len());
        artifact.verify_integrity().unwrap();
        // Moving the artifact keeps the grammar readable (the bytes do not move).
        let moved = Box::new(artifact);
        assert_eq!(moved.grammar().terminals.len(), testing::TERMINALS.len());
        assert!(format!("{moved:?}").contains("assign"));
        // Shared across threads.
        let shared = std::sync::Arc::new(*moved);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let shared = std::sync::Arc::clone(&shared);
                std::thread::spawn(move || crate::parser::parse(shared.grammar(), b"x = 1\n").is_ok())
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }

    #[test]
    fn open_maps_a_file_and_rejects_an_empty_one() {
        let bytes = testing::assign_bytes();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        file.flush().unwrap();
        let artifact = Artifact::open(file.path()).unwrap();
        assert_eq!(artifact.grammar().name.as_str(), "assign");
        artifact.verify_integrity().unwrap();

        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(Artifact::open(empty.path()), Err(OpenError::BadMagic)));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Artifact::open(dir.path().join("missing.syncodec")), Err(OpenError::Io(_))));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = testing::assign_bytes();
        for n in 0..bytes.len() {
            assert!(Artifact::from_bytes(&bytes[..n]).is_err(), "a prefix of {n} bytes opened");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Artifact::from_bytes(&longer), Err(OpenError::Corrupt(_))));
    }

    #[test]
    fn every_bit_flip_is_an_error_or_a_valid_artifact_never_a_panic() {
        // The unverified open: structural and semantic validation alone must hold.
        let bytes = testing::assign_bytes();
        let mut opened = 0;
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                if let Ok(artifact) = Artifact::from_bytes_unverified(&flipped) {
                    opened += 1;
                    // Whatever survived validation must be usable without panics.
                    let _ = crate::parser::parse(artifact.grammar(), b"x = 1\n(y) = 22\n");
                    if i >= HEADER_LEN {
                        assert!(matches!(artifact.verify_integrity(), Err(OpenError::ChecksumMismatch)));
                    }
                }
            }
        }
        // Flips in the header's hashes and version string leave a valid artifact.
        assert!(opened >= 64 * 8, "only {opened} flipped artifacts opened");
    }

    #[test]
    fn the_default_open_refuses_every_payload_bit_flip() {
        let bytes = testing::assign_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flipped.syncode");
        for i in HEADER_LEN..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let err = Artifact::from_bytes(&flipped).map(|_| ()).unwrap_err();
                assert!(matches!(err, OpenError::ChecksumMismatch), "byte {i} bit {bit}: {err}");
                assert!(Artifact::from_aligned(AlignedBytes::copy_from(&flipped)).is_err(), "byte {i} bit {bit} opened from_aligned");
                // The file path too (one bit per byte, to keep the test fast).
                if bit == i % 8 {
                    std::fs::write(&path, &flipped).unwrap();
                    assert!(matches!(Artifact::open(&path), Err(OpenError::ChecksumMismatch)), "byte {i} bit {bit} opened from a file");
                }
            }
        }
        // The same flips inside a zstd-packed artifact.
        for i in (HEADER_LEN..bytes.len()).step_by(7) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << (i % 8);
            let packed = pack::pack(&flipped, 1).unwrap();
            assert!(matches!(Artifact::from_bytes(&packed), Err(OpenError::ChecksumMismatch)), "packed, byte {i}");
        }
        // Header flips: the checksum, lengths, flags, magic and version are refused; only the two
        // identifying hashes and the compiler version string are not covered (a flipped
        // vocabulary hash fails `check_vocabulary`, never serves masks for another tokenizer).
        for i in 0..HEADER_LEN {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1;
            let identifying = (32..96).contains(&i) || (112..HEADER_LEN).contains(&i);
            assert_eq!(Artifact::from_bytes(&flipped).is_ok(), identifying, "header byte {i}");
        }
        // The unverified twins still open the intact bytes, and the verified ones do too.
        Artifact::from_bytes_unverified(&bytes).unwrap();
        Artifact::from_aligned_unverified(AlignedBytes::copy_from(&bytes)).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        Artifact::open_unverified(&path).unwrap();
        Artifact::open(&path).unwrap();
    }

    #[test]
    fn wrong_magic_version_and_compression_are_named() {
        let bytes = testing::assign_bytes();
        let mut wrong = bytes.clone();
        wrong[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(Artifact::from_bytes(&wrong), Err(OpenError::VersionMismatch { found: 1, expected: syncodec_artifacts::FORMAT_VERSION })));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(matches!(Artifact::from_bytes(&magic), Err(OpenError::BadMagic)));
        assert!(matches!(Artifact::from_bytes(&[0x28, 0xB5, 0x2F, 0xFD, 1, 2]), Err(OpenError::Decompress(_))));
        assert!(matches!(Artifact::from_bytes(&[]), Err(OpenError::BadMagic)));
    }

    #[test]
    fn packed_artifacts_open_from_a_file_and_from_memory() {
        let bytes = testing::assign_bytes();
        let packed = pack::pack(&bytes, 3).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&packed).unwrap();
        file.flush().unwrap();
        for artifact in [Artifact::open(file.path()).unwrap(), Artifact::from_bytes(&packed).unwrap(), Artifact::from_aligned(AlignedBytes::copy_from(&packed)).unwrap()] {
            assert_eq!(artifact.grammar().name.as_str(), "assign");
            assert_eq!(artifact.len(), bytes.len());
            artifact.verify_integrity().unwrap();
        }
        // A packed artifact whose content is corrupt is reported like an unpacked one.
        let mut truncated_inside = pack::pack(&bytes[..bytes.len() - 1], 3).unwrap();
        assert!(matches!(Artifact::from_bytes(&truncated_inside), Err(OpenError::Truncated { .. })));
        // A damaged frame is a decompression error, never a panic.
        let n = truncated_inside.len();
        truncated_inside.truncate(n - 3);
        assert!(matches!(Artifact::from_bytes(&truncated_inside), Err(OpenError::Decompress(_))));
    }

    /// A one-rule grammar with a three-token vocabulary and a one-mask store.
    fn with_vocabulary(hash: [u8; 32], flags: u32) -> Vec<u8> {
        use syncodec_artifacts::schema::{MaskStore, Payload, Vocabulary, MASK_SPARSE, NONE};
        let grammar = testing::grammar("tiny", &[("start", &["NAME"])], false);
        let (state_base, n_states) = testing::state_base(&grammar);
        let mut live = vec![NONE; n_states as usize];
        live[1] = 0;
        let vocab = Vocabulary {
            width: 4,
            n_tokens: 3,
            token_offsets: vec![0, 1, 2, 2],
            token_bytes: b"x=".to_vec(),
            special: vec![2],
            eos: vec![2],
            first_ids: vec![],
            first_offsets: vec![0],
            first_bytes: vec![],
            kind: "plain".into(),
            source: "test".into(),
        };
        let masks = MaskStore {
            state_base,
            live,
            split_start: vec![0; n_states as usize + 1],
            split_follower: vec![],
            split_mask: vec![],
            after_ignore: vec![NONE; grammar.ignore.len() * grammar.terminals.len()],
            mask_kind: vec![MASK_SPARSE],
            mask_offset: vec![0, 1],
            mask_data: vec![0],
        };
        syncodec_artifacts::encode(&Payload { grammar, vocab: Some(vocab), masks: Some(masks) }, flags, [0; 32], hash, "test").unwrap()
    }

    #[test]
    fn the_vocabulary_hash_is_checked() {
        let artifact = Artifact::from_bytes(&with_vocabulary([5; 32], FLAG_HAS_VOCAB)).unwrap();
        assert_eq!(artifact.vocab_hash(), Some([5; 32]));
        artifact.check_vocabulary(&[5; 32]).unwrap();
        let err = artifact.check_vocabulary(&[6; 32]).unwrap_err();
        assert!(matches!(err, OpenError::VocabularyMismatch { expected, found } if expected == [6; 32] && found == [5; 32]));
        let message = err.to_string();
        assert!(message.contains("another tokenizer") && message.contains("--tokenizer") && message.contains("0505050505050505"), "{message}");

        let plain = testing::assign();
        assert_eq!(plain.vocab_hash(), None);
        assert!(matches!(plain.check_vocabulary(&[5; 32]), Err(OpenError::NoVocabulary)));
        // The header flag must agree with the payload.
        assert!(matches!(Artifact::from_bytes(&with_vocabulary([5; 32], 0)), Err(OpenError::Corrupt(_))));
    }
}
