//! The token-mask commands' output contract, through the real binary: `inspect`, `mask`,
//! `verify`, `audit`; a tokenizer other than the artifact's is refused; corrupted, truncated,
//! wrong-version and wrong-vocabulary artifacts are clear errors, never panics.
//!
//! Uses the project's own `tokenizers/syncodec-bpe.json` (8k ids, so building is fast) and
//! grammars/json.ebnf; the artifact is built once per test process with `syncodec build
//! --tokenizer`.

use std::process::Output;
use std::sync::{Arc, OnceLock};

use syncodec_artifacts::header::{checksum, Header};
use syncodec_artifacts::{AlignedBytes, HEADER_LEN};
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SessionOptions};

mod common;
use common::{syncodec, text, workspace};

fn tokenizer() -> String {
    workspace().join("tokenizers/syncodec-bpe.json").display().to_string()
}

/// A temporary directory with the json artifact (built by the CLI) and a few files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn artifact(&self) -> String {
        self.path("json.syncode")
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.artifact()).unwrap()
    }

    /// Writes `bytes` as a new artifact file named `name`.
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn fixture() -> Arc<Fixture> {
    static F: OnceLock<Arc<Fixture>> = OnceLock::new();
    Arc::clone(F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let f = Fixture { dir };
        let out = syncodec(&["build", "grammars/json.ebnf", "--tokenizer", &tokenizer(), "-o", &f.artifact()]);
        assert_eq!(out.status.code(), Some(0), "build failed: {}{}", text(&out.stdout), text(&out.stderr));
        let docs = f.dir.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        std::fs::write(docs.join("a.json"), "{\"name\": \"syncodec\", \"sizes\": [1, 2.5, -3e10], \"ok\": true, \"none\": null}\n").unwrap();
        std::fs::write(docs.join("b.json"), "[\n  {\"k\": \"caf\u{e9} \\u00e9 \\\"q\\\"\"},\n  []\n]").unwrap();
        std::fs::write(docs.join("bad.json"), "{\"a\": }").unwrap();
        std::fs::write(docs.join("latin1.json"), b"[\"caf\xe9\"]").unwrap();
        std::fs::write(docs.join("notes.txt"), "not json").unwrap();
        Arc::new(f)
    }))
}

/// A copy of the tokenizer with two vocabulary entries swapped: loads fine, other hash.
fn other_tokenizer(f: &Fixture) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(tokenizer()).unwrap()).unwrap();
    let vocab = v["model"]["vocab"].as_object_mut().expect("BPE vocab");
    let (ka, kb) = ("{", "}");
    let (a, b) = (vocab[ka].clone(), vocab[kb].clone());
    vocab.insert(ka.into(), b);
    vocab.insert(kb.into(), a);
    let p = f.path("other-tokenizer.json");
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

fn assert_clean_error(out: &Output, code: i32, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stdout: {}\nstderr: {stderr}", text(&out.stdout));
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_text_and_json() {
    let f = fixture();
    let out = syncodec(&["inspect", &f.artifact()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let version = format!("format version: {}", syncodec_artifacts::header::FORMAT_VERSION);
    for needle in [version.as_str(), "checksum: ok", "grammar hash: ", "vocabulary hash: ", "terminals: 12", "lr states: 71 (lr1)", "tokens: 8192", "eos ids: 0", "mask store: "] {
        assert!(stdout.contains(needle), "inspect lacks {needle:?}:\n{stdout}");
    }
    let out = syncodec(&["inspect", &f.artifact(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "checksum_ok",
            "compiler_version",
            "file_bytes",
            "flags",
            "format_version",
            "grammar",
            "grammar_hash",
            "mask_store",
            "path",
            "payload_bytes",
            "sections",
            "vocab_hash",
            "vocabulary"
        ]
    );
    for (group, keys) in [
        ("sections", &["grammar_tables", "mask_data", "mask_store", "vocabulary"][..]),
        ("grammar", &["dfa_states", "file_extensions", "layout", "lexer_states", "lr_mode", "lr_states", "name", "productions", "start_rule", "terminals"][..]),
        ("vocabulary", &["eos", "first_overrides", "kind", "source", "special", "tokens", "width"][..]),
        ("mask_store", &["dense", "live_entries", "masks", "sparse", "split_entries", "state_entries"][..]),
    ] {
        let found: Vec<&str> = v[group].as_object().unwrap_or_else(|| panic!("{group} is an object")).keys().map(String::as_str).collect();
        assert_eq!(found, keys, "keys of {group}");
    }
    assert_eq!(v["format_version"], syncodec_artifacts::FORMAT_VERSION);
    assert_eq!(v["checksum_ok"], true);
    assert_eq!(v["grammar"]["terminals"], 12);
    assert_eq!(v["vocabulary"]["tokens"], 8192);
    assert_eq!(v["vocabulary"]["eos"], serde_json::json!([0]));
    assert_eq!(v["vocab_hash"].as_str().map(str::len), Some(64));
    assert_eq!(v["file_bytes"].as_u64(), Some(f.bytes().len() as u64));
    let m = &v["mask_store"];
    assert_eq!(m["masks"].as_u64().unwrap(), m["dense"].as_u64().unwrap() + m["sparse"].as_u64().unwrap());
    assert!(v["sections"]["mask_data"].as_u64().unwrap() > 0);
}

#[test]
fn inspect_grammar_only_artifact() {
    let f = fixture();
    let p = f.path("plain.syncode");
    let out = syncodec(&["build", "grammars/json.ebnf", "-o", &p]);
    assert_eq!(out.status.code(), Some(0));
    let out = syncodec(&["inspect", &p, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vocabulary"], serde_json::Value::Null);
    assert_eq!(v["mask_store"], serde_json::Value::Null);
    assert_eq!(v["vocab_hash"], serde_json::Value::Null);
    // The mask commands need a mask store.
    let out = syncodec(&["mask", &p, "--tokenizer", &tokenizer(), "--text", "{"]);
    assert_clean_error(&out, 2, &["--tokenizer"]);
}

// ---------------------------------------------------------------------------------------------
// mask

#[test]
fn mask_output_lines() {
    let f = fixture();
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &tokenizer(), "--text", "{\"a\": [1, 2", "--show", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "prefix: 11 bytes, complete: no");
    let allowed = lines[1].strip_prefix("allowed ").and_then(|r| r.split_once(" of 8192 tokens (")).map(|(n, _)| n.parse::<usize>().unwrap());
    assert!(allowed.is_some_and(|n| n > 0), "{stdout}");
    assert_eq!(lines[2], "sample of 5 allowed tokens:");
    for l in &lines[3..8] {
        let (id, rest) = l.trim_start().split_once(' ').unwrap();
        assert!(l.starts_with("  ") && id.parse::<u32>().is_ok() && rest.starts_with('"') && rest.ends_with('"'), "{l}");
    }
    assert_eq!(lines[8], "eos allowed: no");
    assert_eq!(lines.len(), 9);

    // A whole program: EOS allowed, named.
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &tokenizer(), "--text", "[1]"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).ends_with("eos allowed: yes (0 \"<|endoftext|>\")\n"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("prefix: 3 bytes, complete: yes\n"));

    // From a file.
    let p = f.write("prefix.txt", b"{\"k\": tr");
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &tokenizer(), "--prefix-file", &p, "--show", "100"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    // After `tr` only tokens continuing `true` (possibly followed by more) are allowed.
    for l in stdout.lines().filter(|l| l.starts_with("  ")) {
        let quoted = l.trim_start().split_once(' ').unwrap().1;
        let body = &quoted[1..quoted.len() - 1];
        assert!("ue".starts_with(body) || body.starts_with("ue"), "{l}");
    }
}

#[test]
fn mask_rejects_a_prefix_that_is_not_viable() {
    let f = fixture();
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &tokenizer(), "--text", "{\"a\": 1,\n ]"]);
    assert_clean_error(&out, 2, &["line 2, column 2", "byte offset 10"]);
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &tokenizer()]);
    assert_eq!(out.status.code(), Some(2), "needs --text or --prefix-file");
}

// ---------------------------------------------------------------------------------------------
// verify

fn is_summary(line: &str) -> bool {
    // verified T tokens in F files: V violations; mask us p50=A p99=B max=C
    let Some(rest) = line.strip_prefix("verified ") else { return false };
    let parts: Vec<&str> = rest.split(' ').collect();
    let num = |s: &str| s.parse::<usize>().is_ok();
    let dec = |s: &str, key: &str| s.strip_prefix(key).is_some_and(|v| v.split_once('.').is_some_and(|(a, b)| num(a) && b.len() == 1 && num(b)));
    parts.len() == 12
        && num(parts[0])
        && parts[1] == "tokens"
        && parts[2] == "in"
        && num(parts[3])
        && parts[4] == "files:"
        && num(parts[5])
        && parts[6] == "violations;"
        && parts[7] == "mask"
        && parts[8] == "us"
        && dec(parts[9], "p50=")
        && dec(parts[10], "p99=")
        && dec(parts[11], "max=")
}

#[test]
fn verify_contract() {
    let f = fixture();
    let out = syncodec(&["verify", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs"), "--jobs", "2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let last = *lines.last().unwrap();
    assert!(is_summary(last), "last line: {last}");
    assert!(last.contains(" in 2 files: 0 violations;"), "{last}");
    // Token count: one check per token plus one EOS check per file.
    let tokens: usize = last.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(tokens > 20, "{last}");
    assert!(lines.iter().any(|l| l.starts_with("SKIP ") && l.contains("bad.json: the grammar rejects the file at 1:7")), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("SKIP ") && l.contains("latin1.json")), "{stdout}");
    assert!(!stdout.contains("notes.txt"), "only .json files are searched: {stdout}");
    assert_eq!(lines[lines.len() - 2], "skipped 2 files, stopped 0 files, failed 0 files");

    // A file given directly is taken whatever its extension; --ext widens the search.
    // Here only notes.txt is found and it is skipped: nothing was verified, which is a failure
    // (exit 1) with a reason, not a pass.
    let out = syncodec(&["verify", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs"), "--ext", "txt"]);
    assert_eq!(out.status.code(), Some(1), "nothing verified must not pass");
    assert!(text(&out.stdout).contains("notes.txt: the grammar rejects"));
    assert!(text(&out.stderr).contains("nothing was verified: 1 of 1 file(s) skipped"), "{}", text(&out.stderr));

    // A missing artifact: the OS error is said once, not once per wrapping layer.
    let out = syncodec(&["verify", &f.path("no.syncode"), "--tokenizer", &tokenizer(), &f.path("docs")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");

    // A path that does not exist is an error.
    let out = syncodec(&["verify", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("missing")]);
    assert_clean_error(&out, 2, &["missing"]);
}

// ---------------------------------------------------------------------------------------------
// audit

#[test]
fn audit_contract() {
    let f = fixture();
    let out = syncodec(&["audit", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs/a.json"), &f.path("docs/b.json"), "--samples", "12", "--seed", "3"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let last = stdout.lines().last().unwrap();
    // audited K positions: R false-rejected, A false-allowed (P% of vocab on average)
    let rest = last.strip_prefix("audited 12 positions: 0 false-rejected, ").unwrap_or_else(|| panic!("{last}"));
    let (a, p) = rest.split_once(" false-allowed (").unwrap();
    // Exact masks: nothing allowed that the session refuses.
    assert_eq!(a, "0", "{last}");
    let p = p.strip_suffix("% of vocab on average)").unwrap();
    assert_eq!(p.split_once('.').map(|(_, d)| d.len()), Some(2), "{last}");
    assert!(p.parse::<f64>().is_ok_and(|x| (0.0..=100.0).contains(&x)));
    assert!(!stdout.contains("FALSE-REJECT"));
    // Same seed, same output.
    let again = syncodec(&["audit", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs/a.json"), &f.path("docs/b.json"), "--samples", "12", "--seed", "3"]);
    assert_eq!(text(&again.stdout), stdout);
}

// ---------------------------------------------------------------------------------------------
// Refusals: other tokenizer, damaged artifacts

#[test]
fn another_tokenizer_is_refused() {
    let f = fixture();
    let other = other_tokenizer(&f);
    let expected_hash = {
        let out = syncodec(&["inspect", &f.artifact(), "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["vocab_hash"].as_str().unwrap().to_string()
    };
    for args in [
        vec!["mask", &f.artifact(), "--tokenizer", &other, "--text", "{"],
        vec!["verify", &f.artifact(), "--tokenizer", &other, &f.path("docs")],
        vec!["audit", &f.artifact(), "--tokenizer", &other, &f.path("docs/a.json"), "--samples", "3"],
    ] {
        let out = syncodec(&args);
        assert_clean_error(&out, 2, &["does not match the artifact", &expected_hash, "this tokenizer's is", "syncodec build GRAMMAR --tokenizer"]);
    }
    // Not a tokenizer at all.
    let out = syncodec(&["mask", &f.artifact(), "--tokenizer", &f.artifact(), "--text", "{"]);
    assert_clean_error(&out, 2, &["tokenizer"]);
}

/// Runs every reading command on `path`; each must fail with `code` and a message containing
/// one of `needles`, without panicking.
fn assert_refused(path: &str, needles: &[&str]) {
    let f = fixture();
    let tok = tokenizer();
    for args in [
        vec!["inspect", path],
        vec!["mask", path, "--tokenizer", &tok, "--text", "{"],
        vec!["verify", path, "--tokenizer", &tok, &f.path("docs")],
        vec!["audit", path, "--tokenizer", &tok, &f.path("docs/a.json"), "--samples", "2"],
    ] {
        let out = syncodec(&args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(0), "{args:?} accepted a damaged artifact: {}", text(&out.stdout));
        assert!(needles.iter().any(|n| stderr.contains(n)), "{args:?}: stderr lacks any of {needles:?}: {stderr}");
    }
}

#[test]
fn truncated_artifacts_are_refused() {
    let f = fixture();
    let bytes = f.bytes();
    for len in [0, 7, 64, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 16, bytes.len() / 2, bytes.len() - 4, bytes.len() - 1] {
        let p = f.write(&format!("truncated-{len}.syncode"), &bytes[..len]);
        assert_refused(&p, &["truncated", "bad magic"]);
    }
}

#[test]
fn wrong_version_is_refused() {
    let f = fixture();
    let mut bytes = f.bytes();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let p = f.write("v2.syncode", &bytes);
    assert_refused(&p, &["format version 2 is not supported", "rebuild"]);
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let p = f.write("v99.syncode", &bytes);
    assert_refused(&p, &["format version 99"]);
}

/// Byte range of the mask store's mask words inside the artifact file.
fn mask_data_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let aligned = AlignedBytes::copy_from(bytes);
    let file = aligned.as_slice();
    let payload = syncodec_artifacts::access(&file[HEADER_LEN..]).expect("valid artifact");
    let data = &payload.masks.as_ref().expect("mask store").mask_data;
    let start = data.as_ptr() as usize - file.as_ptr() as usize;
    start..start + data.len() * 4
}

#[test]
fn flipped_bytes_are_refused() {
    let f = fixture();
    let bytes = f.bytes();
    let range = mask_data_range(&bytes);
    assert!(range.len() > 64, "mask data {range:?}");
    for (i, at) in [range.start, range.start + range.len() / 2, range.end - 1, HEADER_LEN + 100, bytes.len() - 1].into_iter().enumerate() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5A;
        let p = f.write(&format!("flipped-{i}.syncode"), &damaged);
        assert_refused(&p, &["checksum mismatch", "corrupted"]);
    }
    // A damaged header hash field: the vocabulary no longer matches.
    let mut damaged = bytes.clone();
    damaged[70] ^= 1;
    let p = f.write("flipped-vocab-hash.syncode", &damaged);
    let out = syncodec(&["mask", &p, "--tokenizer", &tokenizer(), "--text", "{"]);
    assert_clean_error(&out, 2, &["does not match the artifact"]);
}

/// Damage the mask words but fix up the checksum, so that the artifact opens: the runtime
/// must still never panic (its reads are bounds-checked; masks may be wrong or an error).
#[test]
fn damaged_mask_words_with_a_valid_checksum_never_panic() {
    let f = fixture();
    let bytes = f.bytes();
    let range = mask_data_range(&bytes);
    let text_ids: Vec<u8> = b"{\"a\": [1, 2.5, \"x\"], \"b\": {\"c\": null}}".to_vec();
    let mut seed = 0x1234_5678_u64;
    let mut opened = 0;
    for round in 0..24 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + round % 4 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = range.start + (seed >> 33) as usize % range.len();
            damaged[at] = match round % 3 {
                0 => 0xFF,
                1 => 0x00,
                _ => damaged[at] ^ (seed >> 17) as u8,
            };
        }
        let header = Header::parse(&damaged).unwrap();
        let fixed = Header { payload_checksum: checksum(&damaged[HEADER_LEN..]), ..header };
        damaged[..HEADER_LEN].copy_from_slice(&fixed.to_bytes());
        let Ok(artifact) = Artifact::from_bytes(&damaged) else { continue };
        opened += 1;
        let mut s = Session::with_cache(&artifact, SessionOptions { sequence_start: true, ..SessionOptions::default() }, Arc::new(MaskCache::default())).unwrap();
        let mut row = vec![0u32; s.bitmask_words()];
        for &b in &text_ids {
            let _ = s.fill_bitmask(&mut row);
            if s.feed_text(&[b]).is_err() {
                break;
            }
        }
        let _ = s.fill_bitmask(&mut row);
    }
    // Open-time validation does not read the mask words, so these artifacts open.
    assert!(opened > 0, "no damaged artifact opened");
}

// ---------------------------------------------------------------------------------------------
// --format json on every command

#[test]
fn every_command_has_a_json_form_with_the_text_facts() {
    let f = fixture();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = syncodec(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not one JSON object ({e}): {}{}", text(&out.stdout), text(&out.stderr)))
    };
    let out = f.path("j2.syncode");
    let built = json(&["build", "grammars/json.ebnf", "--tokenizer", &tokenizer(), "-o", &out, "--zstd", "--format", "json"]);
    assert_eq!(built["artifact"]["bytes"], built["artifact_size"]);
    assert!(built["masks"]["n_masks"].as_u64().is_some_and(|n| n > 0) && built["vocabulary"]["tokens"].as_u64().is_some(), "{built}");
    assert!(built["zstd"]["path"].as_str().is_some_and(|p| p.ends_with(".zst")) && built["build_time_s"]["total"].is_number(), "{built}");

    let parsed = json(&["parse", "grammars/json.ebnf", &f.path("docs"), "--format", "json"]);
    assert_eq!((parsed["ok"].as_bool(), parsed["parsed"].as_u64(), parsed["files"].as_u64()), (Some(false), Some(2), Some(4)), "{parsed}");
    assert!(parsed["failures"].as_array().unwrap().iter().any(|f| f["error"].as_str().unwrap().contains("bad.json:1:7")), "{parsed}");

    let verified = json(&["verify", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs"), "--format", "json"]);
    assert_eq!((verified["ok"].as_bool(), verified["files_verified"].as_u64(), verified["violations"].as_u64(), verified["skipped"].as_u64()), (Some(true), Some(2), Some(0), Some(2)), "{verified}");
    assert!(verified["mask_us"]["p50"].is_number() && verified["files"][0]["status"].is_string(), "{verified}");

    let audited = json(&["audit", &f.artifact(), "--tokenizer", &tokenizer(), &f.path("docs/a.json"), "--samples", "5", "--format", "json"]);
    assert_eq!((audited["ok"].as_bool(), audited["positions"].as_u64(), audited["false_rejected"].as_u64()), (Some(true), Some(5), Some(0)), "{audited}");

    let mask = json(&["mask", &f.artifact(), "--tokenizer", &tokenizer(), "--text", "[1, 2]", "--show", "3", "--format", "json"]);
    assert_eq!((mask["complete"].as_bool(), mask["prefix_bytes"].as_u64()), (Some(true), Some(6)), "{mask}");
    assert!(mask["eos_allowed"].as_array().is_some_and(|e| !e.is_empty()) && mask["sample"].as_array().is_some_and(|s| s.len() <= 3), "{mask}");
}
