//! Session edge cases that once went wrong (issue 13): one `MaskCache` shared by the sessions of
//! two artifacts, a grammar whose only sentence is the empty text, and the message of a refused
//! token. Small grammars and a byte vocabulary keep each artifact a few milliseconds to build.

use std::sync::Arc;

use syncodec::vocab::{TokenId, VocabKind, Vocabulary};
use syncodec_artifacts::bits;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SessionError, SessionOptions};

/// Token 0 is EOS; tokens 1..=256 are the single bytes; `extra` multi-byte tokens follow.
/// `padding` ids past the last token widen the logits.
fn vocabulary(extra: &[&[u8]], padding: usize) -> Vocabulary {
    let mut bytes: Vec<Vec<u8>> = vec![b"<eos>".to_vec()];
    bytes.extend((0..=255u8).map(|b| vec![b]));
    bytes.extend(extra.iter().map(|t| t.to_vec()));
    let mut special = vec![false; bytes.len()];
    special[0] = true;
    let eos = vec![TokenId::must(0)];
    let width = bytes.len() + padding;
    let hash = Vocabulary::hash_of(&bytes, &special, &eos, width, &[]);
    Vocabulary { bytes, special, eos, width, hash, kind: VocabKind::ByteLevel, leading_space_stripped_first: false, first_overrides: Vec::new(), model: "test" }
}

fn build(grammar: &str, vocab: &Vocabulary) -> Artifact {
    let compilation = syncodec::compile_str("test.lark", grammar, &Default::default());
    let compiled = compilation.ok().unwrap_or_else(|| panic!("{grammar:?} does not compile: {:?}", compilation.diagnostics));
    let built = syncodec::build_artifact(compiled, vocab, "test", &|_, _| {}).expect("the artifact builds");
    Artifact::from_bytes(&built.bytes).expect("the artifact opens")
}

fn byte_token(b: u8) -> u32 {
    1 + u32::from(b)
}

fn allowed(row: &[u32], width: usize) -> Vec<u32> {
    (0..width).filter(|&t| bits::row::get(row, t)).map(|t| t as u32).collect()
}

fn mask(session: &mut Session<'_>) -> Vec<u32> {
    let mut row = vec![0u32; session.bitmask_words()];
    session.fill_bitmask(&mut row).expect("the mask fills");
    allowed(&row, session.vocab_width())
}

const DIGITS: &str = "start: NUMBER\nNUMBER: /[0-9]+/\n";
const LETTERS: &str = "start: WORD\nWORD: /[a-z]+/\n";

#[test]
fn a_cache_is_bound_to_the_artifact_it_was_first_used_with() {
    let vocab = vocabulary(&[], 0);
    let digits = build(DIGITS, &vocab);
    let letters = build(LETTERS, &vocab);
    let wider = build(DIGITS, &vocabulary(&[b"12"], 40));
    let cache = Arc::new(MaskCache::default());

    let mut first = Session::with_cache(&digits, SessionOptions::default(), Arc::clone(&cache)).unwrap();
    assert!(mask(&mut first).contains(&byte_token(b'7')));
    assert!(!cache.is_empty());

    // Same width, another grammar: refused (it used to get the digits' rows silently).
    let err = Session::with_cache(&letters, SessionOptions::default(), Arc::clone(&cache)).map(drop).unwrap_err();
    assert!(matches!(err, SessionError::CacheOfAnotherArtifact { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("another artifact") && message.contains("one MaskCache per artifact"), "{message}");
    // Another width: refused too (it used to panic in `copy_from_slice`).
    let err = Session::with_cache(&wider, SessionOptions::default(), Arc::clone(&cache)).map(drop).unwrap_err();
    assert!(matches!(err, SessionError::CacheOfAnotherArtifact { .. }), "{err:?}");

    // Sessions of the owning artifact, including a second opening of the same bytes, share it.
    let reopened = build(DIGITS, &vocab);
    let mut second = Session::with_cache(&reopened, SessionOptions::default(), Arc::clone(&cache)).unwrap();
    assert_eq!(mask(&mut second), mask(&mut first));

    // Each artifact with its own cache serves its own rows.
    let mut own = Session::with_cache(&letters, SessionOptions::default(), Arc::new(MaskCache::default())).unwrap();
    let letters_mask = mask(&mut own);
    assert!(letters_mask.contains(&byte_token(b'q')) && !letters_mask.contains(&byte_token(b'7')));
}

#[test]
fn the_empty_language_allows_only_eos_at_the_start() {
    let vocab = vocabulary(&[b"ab"], 3);
    let artifact = build("start: \n", &vocab);
    assert!(syncodec_runtime::parser::parse(artifact.grammar(), b"").is_ok(), "parse accepts the empty text");
    for options in [SessionOptions::default(), SessionOptions { sequence_start: true }] {
        let mut session = Session::with_cache(&artifact, options, Arc::new(MaskCache::default())).unwrap();
        assert!(session.is_complete());
        assert_eq!(mask(&mut session), vec![0], "only EOS (token 0) at the start");
        let description = session.describe_mask().unwrap();
        let mut rebuilt = vec![0u32; session.bitmask_words()];
        let payload = artifact.payload();
        let v = syncodec_runtime::masks::Vocab::new(payload.vocab.as_ref().unwrap());
        description.build_row(&syncodec_runtime::masks::MaskStore::new(payload.masks.as_ref().unwrap(), &v), &mut rebuilt).unwrap();
        assert_eq!(allowed(&rebuilt, session.vocab_width()), vec![0], "describe_mask agrees");
        assert!(!session.is_token_valid(byte_token(b'a')));
        assert!(session.accept_token(byte_token(b' ')).is_err());
        assert!(session.feed_text(b"x").is_err());
        session.accept_token(0).unwrap();
        assert!(session.is_finished());
    }
    // `%ignore`d text is still allowed in a grammar whose language is otherwise empty.
    let spaced = build("start: \n%ignore \" \"\n", &vocab);
    let mut session = Session::new(&spaced).unwrap();
    assert_eq!(mask(&mut session), vec![0, byte_token(b' ')]);
}

#[test]
fn a_refused_token_is_described_truthfully() {
    let vocab = vocabulary(&[], 2);
    let artifact = build(DIGITS, &vocab);
    let mut session = Session::new(&artifact).unwrap();
    session.feed_text(b"12").unwrap();
    let err = session.accept_token(byte_token(b'x')).unwrap_err();
    assert_eq!(err, SessionError::TokenRejected { id: byte_token(b'x'), text: "x".into(), offset: 2 });
    let message = err.to_string();
    assert!(message.contains("not a valid continuation of the text at byte 2") && message.contains("\"x\""), "{message}");
    assert!(!message.contains("not in the mask"), "{message}");
    // A padding id past the last token has no bytes.
    let padding = vocab.bytes.len() as u32;
    let err = session.accept_token(padding).unwrap_err();
    assert_eq!(err, SessionError::NoTokenBytes { id: padding });
    assert_eq!(session.text(), b"12", "the session is unchanged");
}
