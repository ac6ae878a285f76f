//! Hand-written tokenizer.json fixtures (byte-level and SentencePiece), checked against the
//! `tokenizers` crate's own encode/decode.

use super::*;

/// A JSON string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// GPT-2-style byte-level BPE: the 256 byte chars (ids 0..=255), a few merges, `<|endoftext|>`
/// (special) and a non-special run of four spaces (like CodeGen's). `legacy`: the old serializer
/// format without `model.type`.
fn byte_level_json(legacy: bool) -> String {
    let map = decoder::bytes_to_unicode();
    let mut vocab: Vec<String> = map.iter().map(|c| c.to_string()).collect();
    let merges = [("Ġ", "w"), ("h", "e"), ("he", "l"), ("hel", "l"), ("hell", "o"), ("Ġw", "o"), ("Ã", "©"), ("Ġ", "Ġ")];
    for (a, b) in merges {
        vocab.push(format!("{a}{b}"));
    }
    let eot = vocab.len();
    let entries: Vec<String> = vocab.iter().enumerate().map(|(i, t)| format!("{}:{i}", q(t))).collect();
    let merges: Vec<String> = merges.iter().map(|(a, b)| q(&format!("{a} {b}"))).collect();
    let ty = if legacy { "" } else { r#""type":"BPE","# };
    format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,
        "added_tokens":[
          {{"id":{eot},"special":true,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true}},
          {{"id":{ws},"special":false,"content":"    ","single_word":false,"lstrip":false,"rstrip":false,"normalized":true}}],
        "normalizer":null,
        "pre_tokenizer":{{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true}},
        "post_processor":{{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false}},
        "decoder":{{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true}},
        "model":{{{ty}"dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,
          "vocab":{{{}}},"merges":[{}]}}}}"#,
        entries.join(","),
        merges.join(","),
        ws = eot + 1,
    )
}

/// The SentencePiece vocabulary: `<unk> <s> </s>`, 256 byte tokens (ids 3..=258), then pieces.
fn sp_vocab() -> (String, String) {
    let mut vocab: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    vocab.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
    let merges = [("▁", "▁"), ("▁", "a"), ("a", "b"), ("▁a", "b"), ("▁▁", "▁")];
    vocab.extend(["▁", "a", "b", "é", "c", "\u{a0}"].iter().map(|s| s.to_string()));
    for (a, b) in merges {
        vocab.push(format!("{a}{b}"));
    }
    let entries: Vec<String> = vocab.iter().enumerate().map(|(i, t)| format!("{}:{i}", q(t))).collect();
    let merges: Vec<String> = merges.iter().map(|(a, b)| q(&format!("{a} {b}"))).collect();
    (entries.join(","), merges.join(","))
}

const SP_ADDED: &str = r#"[
  {"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}]"#;

/// Llama-2 style: `Prepend ▁` + `Replace ' ' → ▁` normalizer; decoder Replace, ByteFallback,
/// Fuse, Strip (one leading space).
fn sentencepiece_json() -> String {
    let (vocab, merges) = sp_vocab();
    format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":{SP_ADDED},
        "normalizer":{{"type":"Sequence","normalizers":[{{"type":"Prepend","prepend":"▁"}},{{"type":"Replace","pattern":{{"String":" "}},"content":"▁"}}]}},
        "pre_tokenizer":null,
        "post_processor":{{"type":"TemplateProcessing","single":[{{"SpecialToken":{{"id":"<s>","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}}],
           "pair":[{{"Sequence":{{"id":"A","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}}],
           "special_tokens":{{"<s>":{{"id":"<s>","ids":[1],"tokens":["<s>"]}}}}}},
        "decoder":{{"type":"Sequence","decoders":[{{"type":"Replace","pattern":{{"String":"▁"}},"content":" "}},{{"type":"ByteFallback"}},{{"type":"Fuse"}},{{"type":"Strip","content":" ","start":1,"stop":0}}]}},
        "model":{{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":true,
          "vocab":{{{vocab}}},"merges":[{merges}]}}}}"#
    )
}

/// The Metaspace flavour (pre-tokenizer and decoder `Metaspace`, prepend_scheme `first`), with a
/// post-processor that appends `</s>`.
fn metaspace_json(prepend_scheme: &str) -> String {
    let (vocab, merges) = sp_vocab();
    format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":{SP_ADDED},
        "normalizer":null,
        "pre_tokenizer":{{"type":"Metaspace","replacement":"▁","prepend_scheme":"{prepend_scheme}","split":false}},
        "post_processor":{{"type":"TemplateProcessing","single":[{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"</s>","type_id":0}}}}],
           "pair":[{{"Sequence":{{"id":"A","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}}],
           "special_tokens":{{"</s>":{{"id":"</s>","ids":[2],"tokens":["</s>"]}}}}}},
        "decoder":{{"type":"Sequence","decoders":[{{"type":"Metaspace","replacement":"▁","prepend_scheme":"{prepend_scheme}","split":false}},{{"type":"ByteFallback"}},{{"type":"Fuse"}}]}},
        "model":{{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":true,
          "vocab":{{{vocab}}},"merges":[{merges}]}}}}"#
    )
}

fn build(json: &str, options: &VocabOptions) -> (Tokenizer, Result<Vocabulary, VocabError>) {
    let tok = tokenizer_from_bytes(json.as_bytes(), "fixture").expect("fixture loads");
    let vocab = from_tokenizer(&tok, "fixture", options);
    (tok, vocab)
}

const TEXTS: &[&str] = &[
    "hello world",
    "  hello   world  ",
    "def f(x):\n\treturn x  # café ✓ 日本\r\n",
    "\u{1F600} emoji and \u{a0}nbsp",
    "a\n\n\n        b",
    " leading space",
    "\n",
    "ab ab  ab   é",
];

/// encode → per-token bytes must give back the text and the crate's decode.
fn check_round_trip(tok: &Tokenizer, vocab: &Vocabulary) {
    for text in TEXTS {
        let enc = tok.encode(*text, false).unwrap();
        let ids: Vec<TokenId> = enc.get_ids().iter().map(|i| TokenId::from_raw(*i)).collect();
        let ours = vocab.decode(&ids);
        let theirs = tok.decode(enc.get_ids(), false).unwrap();
        assert_eq!(String::from_utf8_lossy(&ours), *text, "{text:?} ids {:?}", enc.get_ids());
        assert_eq!(ours, theirs.as_bytes(), "{text:?}");
    }
}

#[test]
fn byte_level_fixture() {
    for legacy in [false, true] {
        let (tok, vocab) = build(&byte_level_json(legacy), &VocabOptions::default());
        let vocab = vocab.unwrap();
        assert_eq!(vocab.kind, VocabKind::ByteLevel);
        assert_eq!(vocab.n_tokens(), 256 + 8 + 2);
        assert_eq!(vocab.width, vocab.n_tokens());
        assert!(!vocab.leading_space_stripped_first);
        assert!(vocab.first_overrides.is_empty());
        let eot = TokenId::must(264);
        assert_eq!(vocab.eos, vec![eot]);
        assert!(vocab.special[264] && vocab.bytes[264].is_empty());
        // The non-special whitespace run is text.
        assert!(!vocab.special[265]);
        assert_eq!(vocab.bytes[265], b"    ");
        // Byte tokens are raw bytes, including partial UTF-8.
        for b in 0..=255u8 {
            assert_eq!(vocab.bytes[b as usize], vec![b]);
        }
        assert_eq!(vocab.bytes[256], b" w");
        assert_eq!(vocab.bytes[262], "é".as_bytes());
        check_round_trip(&tok, &vocab);
    }
}

#[test]
fn legacy_and_modern_hash_equal() {
    let a = build(&byte_level_json(false), &VocabOptions::default()).1.unwrap();
    let b = build(&byte_level_json(true), &VocabOptions::default()).1.unwrap();
    assert_eq!(a.hash, b.hash);
    let c = build(&byte_level_json(false), &VocabOptions { vocab_size: Some(300), ..Default::default() }).1.unwrap();
    assert_ne!(a.hash, c.hash);
    assert_eq!(c.width, 300);
    assert!(!c.is_text(TokenId::must(299)));
}

#[test]
fn sentencepiece_fixture() {
    let (tok, vocab) = build(&sentencepiece_json(), &VocabOptions::default());
    let vocab = vocab.unwrap();
    assert_eq!(vocab.kind, VocabKind::SentencePieceByteFallback);
    assert!(vocab.leading_space_stripped_first);
    assert_eq!(vocab.eos, vec![TokenId::must(2)]);
    assert!(vocab.special[0] && vocab.special[1] && vocab.special[2]);
    assert_eq!(vocab.bytes[3 + 0x0A], b"\n");
    assert_eq!(vocab.bytes[3 + 0xF0], vec![0xF0]);
    let space = TokenId::must(259);
    assert_eq!(vocab.token_bytes(space), b" ");
    assert_eq!(vocab.first_bytes(space), b"");
    // `▁▁` at the start keeps one space (Strip removes one).
    let two = TokenId::must(265);
    assert_eq!(vocab.token_bytes(two), b"  ");
    assert_eq!(vocab.first_bytes(two), b" ");
    // `<0x20>` decodes to a space, which Strip removes too at the start of the text.
    assert_eq!(vocab.first_bytes(TokenId::must(3 + 0x20)), b"");
    assert_eq!(vocab.bytes[264], "\u{a0}".as_bytes());
    check_round_trip(&tok, &vocab);
}

#[test]
fn metaspace_fixture() {
    let (tok, vocab) = build(&metaspace_json("first"), &VocabOptions::default());
    let vocab = vocab.unwrap();
    assert_eq!(vocab.kind, VocabKind::SentencePieceByteFallback);
    assert!(vocab.leading_space_stripped_first);
    // `</s>` is found both by name and as the post-processor's appended token.
    assert_eq!(vocab.eos, vec![TokenId::must(2)]);
    // The crate's Metaspace decoder drops every `▁` of the first token.
    assert_eq!(vocab.first_bytes(TokenId::must(265)), b"");
    // Round trip holds for texts whose first token has at most one `▁`.
    for text in ["ab ab", "a\nb", "é c"] {
        let enc = tok.encode(text, false).unwrap();
        let ids: Vec<TokenId> = enc.get_ids().iter().map(|i| TokenId::from_raw(*i)).collect();
        assert_eq!(vocab.decode(&ids), text.as_bytes());
        assert_eq!(vocab.decode(&ids), tok.decode(enc.get_ids(), false).unwrap().as_bytes());
    }
    let (_, never) = build(&metaspace_json("never"), &VocabOptions::default());
    let never = never.unwrap();
    assert!(!never.leading_space_stripped_first);
    assert!(never.first_overrides.is_empty());
}

#[test]
fn eos_override_and_errors() {
    let json = sentencepiece_json();
    let (_, v) = build(&json, &VocabOptions { eos_tokens: vec!["<s>".into(), "ab".into()], vocab_size: None, ..Default::default() });
    let v = v.unwrap();
    let ab = TokenId::must(267);
    assert_eq!(v.eos, vec![TokenId::must(1), ab]);
    // An ordinary token named as EOS is no longer text.
    assert!(!v.is_text(ab) && v.token_bytes(ab).is_empty());

    let (_, e) = build(&json, &VocabOptions { eos_tokens: vec!["<nope>".into()], vocab_size: None, ..Default::default() });
    assert!(matches!(e, Err(VocabError::UnknownEosToken { ref token, .. }) if token == "<nope>"), "{e:?}");
    let (_, e) = build(&json, &VocabOptions { eos_tokens: vec![], vocab_size: Some(10), ..Default::default() });
    let e = e.unwrap_err();
    assert!(matches!(e, VocabError::VocabSizeTooSmall { requested: 10, n_tokens: 270, .. }), "{e:?}");
    assert!(e.to_string().contains("--vocab-size 10"), "{e}");

    // A typo-sized width (more than 4x the ids, or over 2^24) needs the explicit override.
    let (_, e) = build(&json, &VocabOptions { vocab_size: Some(1_000_000_000), ..Default::default() });
    let e = e.unwrap_err();
    assert!(matches!(e, VocabError::ImplausibleVocabSize { requested: 1_000_000_000, n_tokens: 270, .. }), "{e:?}");
    assert!(e.to_string().contains("--allow-large-vocab-size"), "{e}");
    let (_, e) = build(&json, &VocabOptions { vocab_size: Some(270 * 5), ..Default::default() });
    assert!(matches!(e, Err(VocabError::ImplausibleVocabSize { .. })), "{e:?}");
    let (_, v) = build(&json, &VocabOptions { vocab_size: Some(270 * 5), allow_large_vocab_size: true, ..Default::default() });
    assert_eq!(v.unwrap().width, 1350);
    let (_, v) = build(&json, &VocabOptions { vocab_size: Some(270 * 4), ..Default::default() });
    assert_eq!(v.unwrap().width, 1080);
}

#[test]
fn no_eos_is_an_error() {
    let json = byte_level_json(false).replace("<|endoftext|>", "<|pad|>");
    let e = build(&json, &VocabOptions::default()).1.unwrap_err();
    assert!(matches!(e, VocabError::NoEos { .. }), "{e:?}");
    let v = build(&json, &VocabOptions { eos_tokens: vec!["<|pad|>".into()], vocab_size: None, ..Default::default() }).1.unwrap();
    assert_eq!(v.eos, vec![TokenId::must(264)]);
}

#[test]
fn unsupported_decoders_are_named() {
    let base = byte_level_json(false);
    let decoder = r#""decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true}"#;
    assert!(base.contains(decoder));
    for (replacement, needle) in [
        (r###""decoder":{"type":"WordPiece","prefix":"##","cleanup":true}"###, "WordPiece"),
        (r#""decoder":null"#, "no decoder"),
        (r#""decoder":{"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true}"#, "CTC"),
        (r#""decoder":{"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"Strip","content":" ","start":0,"stop":1}]}"#, "stop > 0"),
    ] {
        let json = base.replace(decoder, replacement);
        let e = build(&json, &VocabOptions::default()).1.unwrap_err();
        assert!(matches!(e, VocabError::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn absurd_token_ids_are_rejected() {
    // (The crate re-numbers added tokens itself, so the absurd id is in the model's vocabulary.)
    let json = byte_level_json(false).replace(r#""hello":260"#, r#""hello":4000000000"#);
    assert!(json.contains("4000000000"));
    let e = build(&json, &VocabOptions::default()).1.unwrap_err();
    assert!(matches!(e, VocabError::Unsupported { .. }) && e.to_string().contains("4000000000"), "{e:?}");
}

#[test]
fn bad_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    assert!(matches!(load(&missing, &VocabOptions::default()), Err(VocabError::Unreadable { .. })));
    for (name, content) in [("empty.json", ""), ("obj.json", "{}"), ("garbage.json", "\u{0}\u{1}not json"), ("array.json", "[1,2,3]"), ("model.json", r#"{"model":{"type":"BPE"}}"#)] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = load(&p, &VocabOptions::default()).unwrap_err();
        assert!(matches!(e, VocabError::NotATokenizer { .. }), "{name}: {e:?}");
        assert!(e.to_string().contains(name), "{e}");
    }
    // Truncated real-shaped files.
    let json = sentencepiece_json();
    for cut in [1, json.len() / 3, json.len() / 2, json.len() - 1] {
        assert!(tokenizer_from_bytes(&json.as_bytes()[..cut], "cut").is_err());
    }
}
