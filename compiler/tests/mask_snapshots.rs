//! Mask snapshots: for every shipped grammar, the token mask after each prefix of its probe file
//! (`grammars/probes/NAME.txt`) under the project's own tokenizer (`tokenizers/syncodec-bpe.json`,
//! 8k ids, so each grammar builds in seconds), snapshotted as `grammars/snapshots/NAME-masks.snap`.
//! A grammar edit shows up as a reviewable diff of behaviour (`cargo insta review`); see
//! docs/grammars.md § Changing a grammar.
//!
//! Per probe: the prefix (escaped), then either where the session rejects it, or the number of
//! allowed tokens, whether EOS is allowed, the allowed single-byte tokens as character ranges, and
//! the first [`SHOWN`] allowed and disallowed multi-byte tokens by id.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use syncodec::vocab::{VocabOptions, Vocabulary};
use syncodec::{build_artifact, compile_path, CompileOptions};
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SessionOptions};

/// Multi-byte tokens listed per probe, allowed and disallowed each.
const SHOWN: usize = 8;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the compiler crate sits in the workspace").to_path_buf()
}

fn vocab() -> Vocabulary {
    syncodec::vocab::load(&root().join("tokenizers/syncodec-bpe.json"), &VocabOptions::default()).expect("the project's tokenizer loads")
}

/// Decodes a probe line: `\n`, `\t`, `\r`, `\\` and `\xNN`; any other backslash stays as it is.
fn decode(line: &str) -> Vec<u8> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (decoded, used) = match rest {
            [b'\\', b'n', ..] => (vec![b'\n'], 2),
            [b'\\', b't', ..] => (vec![b'\t'], 2),
            [b'\\', b'r', ..] => (vec![b'\r'], 2),
            [b'\\', b'\\', ..] => (vec![b'\\'], 2),
            [b'\\', b'x', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&rest[2..4]).expect("ASCII hex digits");
                (vec![u8::from_str_radix(hex, 16).expect("two hex digits")], 4)
            }
            [b, ..] => (vec![*b], 1),
            [] => unreachable!("i < len"),
        };
        out.extend(decoded);
        i += used;
    }
    out
}

/// Bytes for display: printable ASCII as is, `\n`, `\t`, `\r`, `\\`, `\"`, others `\xNN`.
fn show(bytes: &[u8]) -> String {
    bytes.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect()
}

/// The probes of a grammar: the empty prefix, then every probe line.
fn probes(name: &str) -> Vec<Vec<u8>> {
    let path = root().join(format!("grammars/probes/{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (every shipped grammar needs a probe file)", path.display()));
    std::iter::once(Vec::new()).chain(text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(decode)).collect()
}

/// Allowed single-byte tokens as ranges, `a-z0-9_`.
fn byte_ranges(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let mut j = i;
        while j + 1 < bytes.len() && bytes[j + 1] == bytes[j] + 1 {
            j += 1;
        }
        out.push_str(&show(&[bytes[i]]));
        if j > i + 1 {
            out.push('-');
        }
        if j > i {
            out.push_str(&show(&[bytes[j]]));
        }
        i = j + 1;
    }
    out
}

fn snapshot(name: &str, vocab: &Vocabulary) -> String {
    let grammar = root().join(format!("grammars/{name}.ebnf"));
    let compilation = compile_path(&grammar, &CompileOptions::default()).expect("the grammar reads");
    let compiled = compilation.ok().unwrap_or_else(|| panic!("{name} fails: {:?}", compilation.error_lines()));
    let built = build_artifact(compiled, vocab, "syncodec-bpe.json", &|_, _| {}).expect("the artifact builds");
    let artifact = Artifact::from_bytes(&built.bytes).expect("the artifact opens");
    let cache = Arc::new(MaskCache::default());
    let mut text = format!("grammar {name}, tokenizer syncodec-bpe.json ({} ids)\n", vocab.bytes.len());
    for prefix in probes(name) {
        text.push_str(&format!("\nprobe \"{}\"\n", show(&prefix)));
        let mut session = Session::with_cache(&artifact, SessionOptions { sequence_start: true }, Arc::clone(&cache)).expect("a session starts");
        if let Err(e) = session.feed_text(&prefix) {
            text.push_str(&format!("  rejected: {e}\n"));
            continue;
        }
        let mut row = vec![0u32; session.bitmask_words()];
        session.fill_bitmask(&mut row).expect("the mask is computed");
        let v = session.vocab();
        let allowed = |id: usize| row[id / 32] >> (id % 32) & 1 == 1;
        let n_tokens = v.n_tokens();
        let n_allowed = (0..n_tokens).filter(|&id| allowed(id)).count();
        let eos = v.eos().any(|id| allowed(id as usize));
        text.push_str(&format!("  allowed {n_allowed}, eos {}\n", if eos { "yes" } else { "no" }));
        let token = |id: usize| if prefix.is_empty() { v.first_bytes(id as u32) } else { v.bytes(id as u32) }.unwrap_or(&[]);
        let mut single: Vec<u8> = (0..n_tokens).filter(|&id| allowed(id) && token(id).len() == 1).map(|id| token(id)[0]).collect();
        single.sort_unstable();
        single.dedup();
        text.push_str(&format!("  bytes: \"{}\"\n", byte_ranges(&single)));
        let multi = |want: bool| -> String {
            (0..n_tokens)
                .filter(|&id| token(id).len() > 1 && allowed(id) == want)
                .take(SHOWN)
                .map(|id| format!("{id} \"{}\"", show(token(id))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!("  allowed: {}\n", multi(true)));
        text.push_str(&format!("  disallowed: {}\n", multi(false)));
    }
    text
}

fn check(name: &str) {
    let text = snapshot(name, &vocab());
    insta::with_settings!({snapshot_path => root().join("grammars/snapshots"), prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!(format!("{name}-masks"), text);
    });
}

#[test]
fn json_masks() {
    check("json");
}

#[test]
fn python_masks() {
    check("python");
}

#[test]
fn go_masks() {
    check("go");
}

#[test]
fn sql_masks() {
    check("sql");
}

#[test]
fn every_shipped_grammar_has_probes_and_a_test() {
    let tested = ["go", "json", "python", "sql"];
    let mut shipped: Vec<String> = std::fs::read_dir(root().join("grammars"))
        .expect("grammars/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ebnf" || e == "lark"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    shipped.sort();
    assert_eq!(shipped, tested, "a new shipped grammar needs grammars/probes/NAME.txt and a test here");
    for name in tested {
        assert!(probes(name).len() >= 30, "{name}: a few dozen probes");
    }
}

#[test]
fn probe_lines_decode() {
    assert_eq!(decode(r"a\n\t\\\x20b\q"), b"a\n\t\\ b\\q");
    assert_eq!(byte_ranges(b"0abcxyz"), "0a-cx-z");
    assert_eq!(byte_ranges(b"ab\n"), "ab\\n");
}
