//! Any bytes given as an artifact: opening must fail cleanly or succeed, and a successfully
//! opened artifact must parse any text and serve masks without panicking (a corrupt mask store
//! is an error, never a crash). Seed the corpus with real artifacts (see docs/artifact-format.md).
//!
//! Three paths per input:
//! - the bytes as they are, through the unverified open (the checksum would stop almost every
//!   mutation before validation; the verified open must agree whenever it succeeds);
//! - the bytes packed into a zstd frame, then opened (the `.zst` path: bounded unpacking, then
//!   the same checks), which must agree with the raw open;
//! - one `MaskCache` shared by two sessions: of the input artifact and of a fixed, valid
//!   artifact built once (two artifacts: the second session is refused, never served the first
//!   one's rows, never a panic), and of the input artifact opened twice (accepted).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use syncodec_artifacts::pack;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SessionError, SessionOptions};

/// A small valid artifact with a mask store: a JSON-ish grammar over a byte vocabulary.
fn fixed_artifact() -> &'static Artifact {
    static FIXED: OnceLock<Artifact> = OnceLock::new();
    FIXED.get_or_init(|| {
        let grammar = "start: value\nvalue: NUMBER | \"[\" [value (\",\" value)*] \"]\"\nNUMBER: /[0-9]+/\n%ignore \" \"\n";
        let compilation = syncodec::compile_str("fixed.lark", grammar, &Default::default());
        let compiled = compilation.ok().expect("the fixed grammar compiles");
        let mut bytes: Vec<Vec<u8>> = vec![b"<eos>".to_vec()];
        bytes.extend((0..=255u8).map(|b| vec![b]));
        let mut special = vec![false; bytes.len()];
        special[0] = true;
        let eos = vec![syncodec::vocab::TokenId::must(0)];
        let width = bytes.len();
        let hash = syncodec::vocab::Vocabulary::hash_of(&bytes, &special, &eos, width, &[]);
        let vocab = syncodec::vocab::Vocabulary {
            bytes,
            special,
            eos,
            width,
            hash,
            kind: syncodec::vocab::VocabKind::ByteLevel,
            leading_space_stripped_first: false,
            first_overrides: Vec::new(),
            model: "fuzz",
        };
        let built = syncodec::build_artifact(compiled, &vocab, "fuzz", &|_, _| {}).expect("the fixed artifact builds");
        Artifact::from_bytes(&built.bytes).expect("the fixed artifact opens")
    })
}

/// Drives a session over token ids taken from `data`.
fn drive(session: &mut Session<'_>, data: &[u8]) {
    let mut row = vec![0u32; session.bitmask_words()];
    // Token ids taken from the input's own bytes: valid ones, invalid ones, EOS.
    for (i, chunk) in data.chunks(7).take(12).enumerate() {
        let _ = session.fill_bitmask(&mut row);
        let _ = session.describe_mask();
        let id = u32::from_le_bytes([chunk[0], *chunk.get(1).unwrap_or(&0), 0, 0]) % (session.vocab_width() as u32 + 2);
        let _ = session.accept_token(id);
        if i % 5 == 4 {
            let _ = session.rollback(2);
        }
    }
    let _ = session.is_complete();
}

fn shared_cache(artifact: &Artifact, data: &[u8]) {
    let fixed = fixed_artifact();
    let input_first = data.first().is_some_and(|b| b & 1 == 0);
    let cache = Arc::new(MaskCache::default());
    let (a, b) = if input_first { (artifact, fixed) } else { (fixed, artifact) };
    let Ok(mut first) = Session::with_cache(a, SessionOptions::default(), Arc::clone(&cache)) else { return };
    drive(&mut first, data);
    match Session::with_cache(b, SessionOptions::default(), Arc::clone(&cache)) {
        Ok(mut second) => {
            // Only an artifact with the fixed one's identity (hashes, checksum, width) shares it.
            assert_eq!(a.header().payload_checksum, b.header().payload_checksum, "a cache was shared by two artifacts");
            drive(&mut second, data);
        }
        Err(SessionError::CacheOfAnotherArtifact { .. } | SessionError::NoMaskStore) => {}
        Err(e) => panic!("unexpected error for a shared cache: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = Artifact::from_bytes_unverified(data);
    // The verified open never accepts what the unverified one refuses.
    if Artifact::from_bytes(data).is_ok() {
        assert!(raw.is_ok(), "the verified open accepted bytes the unverified one refused");
    }
    // The `.zst` path: the same bytes in a zstd frame open exactly when the raw bytes do
    // (bytes that are themselves a zstd frame are unpacked once by the raw open: skip them).
    if !pack::is_packed(data) {
        if let Ok(packed) = pack::pack(data, 1) {
            assert_eq!(Artifact::from_bytes_unverified(&packed).is_ok(), raw.is_ok(), "packing changed the verdict");
        }
    }
    let Ok(artifact) = raw else { return };
    let _ = artifact.verify_integrity();
    let _ = syncodec_runtime::parser::parse(artifact.grammar(), b"[1, {\"a\": null}]\n  x = (1,\n 2)\n");
    if let Ok(mut session) = Session::new(&artifact) {
        drive(&mut session, data);
    }
    shared_cache(&artifact, data);
    // The same bytes opened twice share a cache.
    if let Ok(again) = Artifact::from_bytes_unverified(data) {
        let cache = Arc::new(MaskCache::default());
        if Session::with_cache(&artifact, SessionOptions::default(), Arc::clone(&cache)).is_ok() {
            assert!(Session::with_cache(&again, SessionOptions::default(), cache).is_ok(), "the same artifact was refused its own cache");
        }
    }
});
