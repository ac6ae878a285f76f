//! The CLI's output contract and exit codes, run through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn syncodec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncodec")).args(args).current_dir(workspace()).output().expect("run syncodec")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_json_grammar_succeeds() {
    let out = syncodec(&["check", "grammars/json.ebnf"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("conflicts: 0"), "{stdout}");
    assert!(stdout.ends_with("ok\n"), "{stdout}");
}

#[test]
fn check_json_format_is_one_json_object() {
    let out = syncodec(&["check", "grammars/json.ebnf", "--lr", "lalr", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["ok"], true);
    assert_eq!(v["summary"]["lr_mode"], "lalr");
    assert!(v["summary"]["lr_states"].as_u64().unwrap() > 0);
}

#[test]
fn each_kind_of_bad_grammar_exits_1_with_a_located_diagnostic() {
    for (fixture, needle) in [
        ("malformed_rule.ebnf", "malformed_rule.ebnf:4:"),
        ("regex_syntax.ebnf", "regex_syntax.ebnf:4:"),
        ("undefined_rule.ebnf", "undefined_rule.ebnf:3:8"),
        ("conflict_shift_reduce.ebnf", "conflict_shift_reduce.ebnf:4:"),
    ] {
        let path = format!("compiler/tests/errors/{fixture}");
        for format in ["text", "json"] {
            let out = syncodec(&["check", &path, "--format", format]);
            assert_eq!(out.status.code(), Some(1), "{fixture} ({format}): {}", text(&out.stderr));
            let all = text(&out.stdout) + &text(&out.stderr);
            assert!(all.contains(needle), "{fixture} ({format}): no {needle} in:\n{all}");
            assert!(!all.contains("panicked"), "{fixture}: {all}");
        }
    }
}

#[test]
fn missing_grammar_file_exits_2() {
    let out = syncodec(&["check", "no/such/grammar.ebnf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("syncodec: error: could not read grammar"), "{}", text(&out.stderr));
}

#[test]
fn parse_reports_failures_and_the_exact_last_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.json"), "{\"a\": [1, 2.5e3, true, null]}\n").unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\"a\": [1,]}").unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "not json").unwrap();
    let out = syncodec(&["parse", "grammars/json.ebnf", dir.path().to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("FAIL ") && lines[0].contains("bad.json:1:10: "), "{stdout}");
    assert_eq!(lines[1], "parsed 1/2 files");
}

#[test]
fn build_writes_an_artifact_that_parse_accepts_and_corruption_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("json.syncode");
    let out = syncodec(&["build", "grammars/json.ebnf", "-o", artifact.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("wrote {}: ", artifact.display())));
    let sample = dir.path().join("x.json");
    std::fs::write(&sample, "[1, {\"k\": \"v\"}]").unwrap();
    let out = syncodec(&["parse", artifact.to_str().unwrap(), sample.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "parsed 1/1 files\n");

    let bytes = std::fs::read(&artifact).unwrap();
    let truncated = dir.path().join("truncated.syncode");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = syncodec(&["parse", truncated.to_str().unwrap(), sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("truncated"), "{}", text(&out.stderr));
}
