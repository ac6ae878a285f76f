//! The vocabulary of every real tokenizer in ../shared/tokenizers against the `tokenizers` crate:
//!
//! 1. Every token id: decoding it after an anchor token with the crate gives the same text as
//!    our bytes (lossy UTF-8 on both sides, for partial byte tokens), and on its own (the first
//!    token of a text) the same as our first-token bytes.
//! 2. Real texts (Python stdlib files, JSONTestSuite `y_` files, and texts with Unicode, emoji,
//!    CRLF, tabs, long whitespace runs): `encode(text)` then our bytes must give back the text
//!    exactly, and the crate's `decode`. Texts the tokenizer itself does not round-trip are
//!    listed (and must still agree with the crate's decode).
//!
//! Prints per tokenizer: token ids, specials, EOS, kind, load time.

use std::path::PathBuf;
use std::time::Instant;

use syncodec::vocab::{self, TokenId, VocabOptions, Vocabulary};
use syncodec_e2e::shared_data;

/// Synthetic texts for what the real files lack.
fn synthetic() -> Vec<(String, String)> {
    let mut texts = vec![
        ("unicode", "café naïve Größe ✓ 日本語 Ελληνικά русский العربية עברית 한국어 \u{a0}nbsp\u{a0} x\u{2028}y\u{200b}z"),
        ("emoji", "ok 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ∑∫√ \u{10FFFF}? \u{E000}"),
        ("crlf", "line one\r\nline two\r\n\r\n  indented\r\n"),
        ("tabs", "def f():\n\tif x:\n\t\treturn 1\n\t\t\t\t# deep\n\tpass\n"),
        ("spaces", "a                                        b\n                                                                \n"),
        ("leading space", " starts with a space"),
        ("leading spaces", "    four spaces first\n"),
        ("leading newline", "\n\nnewlines first"),
        ("leading tab", "\tx"),
        ("leading nbsp", "\u{a0}x"),
        ("leading emoji", "😀 first"),
        ("nfd", "cafe\u{301} and A\u{30a}ngstro\u{308}m"),
        ("control", "nul\u{0} bell\u{7} esc\u{1b}[0m del\u{7f} c1\u{85}"),
        ("digits", "1234567890 3.14159e-10 0xFFFF 1_000_000"),
        ("code", "for (int i = 0; i < n; ++i) { s += a[i] * b[i]; } // 💡\nx = {'k': [1, 2.5, None]}\n"),
    ];
    let mut out: Vec<(String, String)> = texts.drain(..).map(|(n, t)| (n.to_string(), t.to_string())).collect();
    out.push(("every char 0x20..0x7e".into(), (0x20u8..0x7f).map(char::from).collect()));
    out
}

/// A few Python stdlib files (found through `python3`), one re-saved with CRLF line ends and one
/// with tab indentation, plus a piece of pydoc's topics that holds non-ASCII text.
fn python_files() -> Vec<(String, String)> {
    let Ok(out) = std::process::Command::new("python3").args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]).output() else {
        eprintln!("no python3: stdlib texts skipped");
        return Vec::new();
    };
    let stdlib = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let mut texts = Vec::new();
    for rel in ["textwrap.py", "json/decoder.py", "string.py", "tokenize.py", "difflib.py"] {
        if let Ok(text) = std::fs::read_to_string(stdlib.join(rel)) {
            texts.push((format!("stdlib/{rel}"), text));
        }
    }
    if let Some((_, t)) = texts.iter().find(|(n, _)| n.ends_with("textwrap.py")) {
        texts.push(("stdlib/textwrap.py (CRLF)".into(), t.replace('\n', "\r\n")));
    }
    if let Some((_, t)) = texts.iter().find(|(n, _)| n.ends_with("decoder.py")) {
        texts.push(("stdlib/json/decoder.py (tabs)".into(), t.replace("    ", "\t")));
    }
    if let Ok(topics) = std::fs::read_to_string(stdlib.join("pydoc_data/topics.py")) {
        let lines: Vec<&str> = topics.lines().filter(|l| !l.is_ascii()).take(200).collect();
        texts.push(("stdlib/pydoc_data/topics.py (non-ASCII lines)".into(), lines.join("\n")));
    }
    if texts.is_empty() {
        eprintln!("no stdlib files found under {}", stdlib.display());
    }
    texts
}

fn json_files() -> Vec<(String, String)> {
    let Some(dir) = shared_data("corpora/json-testsuite/test_parsing") else { return Vec::new() };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("y_")).collect();
    files.sort();
    files.iter().filter_map(|p| Some((format!("json/{}", p.file_name()?.to_string_lossy()), std::fs::read_to_string(p).ok()?))).collect()
}

fn ids(raw: &[u32]) -> Vec<TokenId> {
    raw.iter().map(|i| TokenId::from_raw(*i)).collect()
}

/// Check 1: every token id against the crate's decode. Returns the number of ids checked.
fn check_every_token(name: &str, tok: &vocab::Tokenizer, v: &Vocabulary, failures: &mut Vec<String>) -> usize {
    // An anchor that decodes to plain text, so that the checked token is not the first one.
    let anchor = *tok.encode("x", false).unwrap().get_ids().last().unwrap();
    let anchor_id = TokenId::from_raw(anchor);
    let mut checked = 0;
    for id in 0..v.n_tokens() {
        let t = TokenId::from_raw(id as u32);
        if !v.is_text(t) {
            continue;
        }
        checked += 1;
        let theirs = tok.decode(&[anchor, id as u32], false).unwrap();
        let ours = v.decode(&[anchor_id, t]);
        if String::from_utf8_lossy(&ours) != theirs {
            failures.push(format!("{name}: token {id} after anchor: ours {:?} crate {theirs:?}", String::from_utf8_lossy(&ours)));
        }
        let theirs = tok.decode(&[id as u32], false).unwrap();
        let ours = v.first_bytes(t);
        if String::from_utf8_lossy(ours) != theirs {
            failures.push(format!("{name}: token {id} first: ours {:?} crate {theirs:?}", String::from_utf8_lossy(ours)));
        }
    }
    checked
}

#[test]
fn real_tokenizers_round_trip() {
    let Some(dir) = shared_data("tokenizers") else { return };
    let mut texts = synthetic();
    texts.extend(python_files());
    texts.extend(json_files());
    let total_bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    println!("{} texts, {total_bytes} bytes", texts.len());

    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    assert!(!files.is_empty(), "no tokenizer.json files in {}", dir.display());

    let mut failures = Vec::new();
    let mut not_round_tripping = Vec::new();
    println!("| file | model | kind | token ids | special | EOS | first-token rule | load ms | hash |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let started = Instant::now();
        let tok = vocab::load_tokenizer(path).unwrap_or_else(|e| panic!("{e}"));
        let v = vocab::from_tokenizer(&tok, &name, &VocabOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let load_ms = started.elapsed().as_millis();
        let eos: Vec<String> = v.eos.iter().map(|id| format!("{} `{}`", id.raw(), tok.id_to_token(id.raw()).unwrap_or_default())).collect();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {load_ms} | {} |",
            v.model,
            v.kind.as_str(),
            v.n_tokens(),
            v.n_special(),
            eos.join(", "),
            if v.leading_space_stripped_first { format!("strip ({} ids)", v.first_overrides.len()) } else { "none".into() },
            &v.hash_hex()[..16]
        );
        assert_eq!(v.width, v.n_tokens());
        assert_eq!(v.n_tokens(), tok.get_vocab_size(true), "{name}");

        let started = Instant::now();
        let checked = check_every_token(&name, &tok, &v, &mut failures);
        let every_ms = started.elapsed().as_millis();

        let started = Instant::now();
        let mut n_ids = 0;
        for (text_name, text) in &texts {
            let enc = tok.encode(text.as_str(), false).unwrap();
            n_ids += enc.get_ids().len();
            // Teacher forcing encodes with `encode_ids` (no `Encoding` built): the same ids.
            if vocab::encode_ids(&tok, text).as_deref() != Ok(enc.get_ids()) {
                failures.push(format!("{name} / {text_name}: encode_ids differs from the crate's encode"));
            }
            let ours = v.decode(&ids(enc.get_ids()));
            let theirs = tok.decode(enc.get_ids(), false).unwrap();
            if ours != theirs.as_bytes() {
                failures.push(format!("{name} / {text_name}: our bytes differ from the crate's decode"));
            }
            if theirs != *text {
                let at = theirs.bytes().zip(text.bytes()).position(|(a, b)| a != b).unwrap_or(theirs.len().min(text.len()));
                let snip = |s: &str| s.get(at.saturating_sub(8)..).map(|s| s.chars().take(16).collect::<String>()).unwrap_or_default();
                not_round_tripping.push(format!("{name} / {text_name}: decode(encode(text)) != text at byte {at}: text {:?} decoded {:?}", snip(text), snip(&theirs)));
            } else if ours != text.as_bytes() {
                failures.push(format!("{name} / {text_name}: our bytes differ from the text"));
            }
        }
        // Added (special) tokens in the text are split off first by both.
        let special = "a <|endoftext|> b </s> <s> <|begin_of_text|> <|im_end|> <unk>";
        if vocab::encode_ids(&tok, special).as_deref() != Ok(tok.encode(special, false).unwrap().get_ids()) {
            failures.push(format!("{name} / special tokens: encode_ids differs from the crate's encode"));
        }
        println!("  {name}: {checked} text ids checked one by one in {every_ms} ms; {} texts -> {n_ids} ids in {} ms", texts.len(), started.elapsed().as_millis());
    }
    for line in &not_round_tripping {
        println!("  tokenizer does not round-trip: {line}");
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n"));
}

/// Known facts about the real files (ids from PROVENANCE.md).
#[test]
fn real_tokenizer_facts() {
    let Some(dir) = shared_data("tokenizers") else { return };
    let load = |f: &str| vocab::load(&dir.join(f), &VocabOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = TokenId::from_raw;

    let gpt2 = load("gpt2.json");
    assert_eq!(gpt2.eos, vec![t(50256)]);
    assert_eq!(gpt2.n_special(), 1);
    assert_eq!(gpt2.decode(&[t(15496), t(995)]), b"Hello world");

    let codegen = load("codegen.json");
    assert_eq!(codegen.eos, vec![t(50256)]);
    assert_eq!(codegen.token_bytes(t(50257)), [b' '; 31]);
    assert_eq!(codegen.token_bytes(t(50294)), b"\t\t");
    assert!(codegen.is_text(t(50257)) && codegen.is_text(t(50294)));
    assert_ne!(gpt2.hash, codegen.hash);

    let llama2 = load("llama2.json");
    assert_eq!(llama2.eos, vec![t(2)]);
    assert_eq!(llama2.n_special(), 3);
    assert!(llama2.leading_space_stripped_first);
    assert_eq!(llama2.token_bytes(t(13)), b"\n");
    assert_eq!(llama2.token_bytes(t(259)), b"  ");
    assert_eq!(llama2.first_bytes(t(259)), b" ");
    assert_eq!(llama2.decode(&[t(15043), t(3186)]), b"Hello world");
    for id in [8655, 17891, 20246, 30081] {
        assert!(String::from_utf8_lossy(llama2.token_bytes(t(id))).contains('\u{a0}'), "{id}");
    }
    // Byte fallback: ids 3..=258 are the raw bytes 0..=255.
    for b in 0..=255u32 {
        assert_eq!(llama2.token_bytes(t(3 + b)), [b as u8]);
    }

    let llama3 = load("llama3.json");
    assert_eq!(llama3.eos, vec![t(128001), t(128009)]);
    assert_eq!(llama3.n_special(), 256);
    assert_eq!(llama3.decode(&[t(9906), t(1917)]), b"Hello world");

    let qwen = load("qwen2_5.json");
    assert_eq!(qwen.eos, vec![t(151643), t(151645)]);
    assert!(qwen.is_text(t(151659)));
    assert_eq!(qwen.token_bytes(t(151659)), b"<|fim_prefix|>");
    assert_eq!(qwen.decode(&[t(9707), t(1879)]), b"Hello world");

    // Every byte is a one-token text somewhere, so any text can be generated.
    for v in [&gpt2, &codegen, &llama2, &llama3, &qwen] {
        let mut seen = [false; 256];
        for b in &v.bytes {
            if b.len() == 1 {
                seen[b[0] as usize] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    // Options.
    let padded = vocab::load(&dir.join("qwen2_5.json"), &VocabOptions { vocab_size: Some(151936), eos_tokens: vec!["<|im_end|>".into()], ..Default::default() }).unwrap();
    assert_eq!(padded.width, 151936);
    assert_eq!(padded.eos, vec![t(151645)]);
    assert!(!padded.is_text(t(151643)) && padded.special[151643]);
    assert_ne!(padded.hash, qwen.hash);
    let e = vocab::load(&dir.join("llama3.json"), &VocabOptions { vocab_size: Some(128000), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("128256"), "{e}");
}
