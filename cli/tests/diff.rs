//! `syncodec diff` on grammar pairs derived from the shipped `grammars/json.ebnf`: a terminal
//! widened, a rule removed, a conflict introduced, a reformatting that changes nothing. Each
//! reported corpus verdict is checked against what `syncodec parse` says of the same files with
//! each grammar.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{syncodec, text, workspace};
use serde_json::Value;

fn json_grammar() -> String {
    std::fs::read_to_string(workspace().join("grammars/json.ebnf")).expect("the shipped JSON grammar")
}

/// Replaces `from` (which must occur) in the shipped JSON grammar.
fn derived(from: &str, to: &str) -> String {
    let grammar = json_grammar();
    assert!(grammar.contains(from), "json.ebnf no longer contains {from:?}");
    grammar.replace(from, to)
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    /// `old.ebnf` (the shipped grammar), `new.ebnf`, and a corpus directory.
    fn new(new_grammar: &str) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("json.ebnf"), json_grammar()).expect("write old");
        std::fs::create_dir(dir.path().join("new")).expect("mkdir");
        std::fs::write(dir.path().join("new/json.ebnf"), new_grammar).expect("write new");
        let corpus = dir.path().join("corpus");
        std::fs::create_dir(&corpus).expect("mkdir");
        for (name, body) in [
            ("array.json", "[1, 2.5, -3e4]"),
            ("plus.json", "[1, +2]"),
            ("object.json", "{\"a\": [true, null], \"b\": {}}"),
            ("scalar.json", "\"text\""),
            ("sum.json", "[1 + 2]"),
            ("broken.json", "{\"a\" 1}"),
        ] {
            std::fs::write(corpus.join(name), body).expect("write corpus file");
        }
        Case { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn old(&self) -> String {
        self.path("json.ebnf")
    }

    fn new_grammar(&self) -> String {
        self.path("new/json.ebnf")
    }

    fn corpus(&self) -> String {
        self.path("corpus")
    }

    /// `syncodec diff --format json` with extra args; the exit code and the object.
    fn diff_json(&self, extra: &[&str]) -> (i32, Value) {
        let (old, new) = (self.old(), self.new_grammar());
        let mut args = vec!["diff", old.as_str(), new.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let out = syncodec(&args);
        let code = out.status.code().expect("exit code");
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", text(&out.stdout), text(&out.stderr)));
        (code, value)
    }

    /// The corpus files `syncodec parse GRAMMAR` rejects (file names).
    fn rejected_by(&self, grammar: &str) -> BTreeSet<String> {
        let out = syncodec(&["parse", grammar, &self.corpus(), "--format", "json"]);
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("parse JSON ({e}): {}", text(&out.stderr)));
        value["failures"].as_array().expect("failures").iter().map(|f| file_name(f["path"].as_str().expect("path"))).collect()
    }

    /// Checks the diff's corpus section against `syncodec parse` with each grammar.
    fn assert_verdicts_match_parse(&self, diff: &Value) {
        let old_rejects = self.rejected_by(&self.old());
        let new_rejects = self.rejected_by(&self.new_grammar());
        let expected: BTreeSet<(String, String)> = old_rejects
            .symmetric_difference(&new_rejects)
            .map(|f| (f.clone(), if old_rejects.contains(f) { "new" } else { "old" }.to_string()))
            .collect();
        let reported: BTreeSet<(String, String)> = diff["corpus"]["changed"]
            .as_array()
            .expect("changed")
            .iter()
            .map(|c| (file_name(c["path"].as_str().expect("path")), c["accepted_by"].as_str().expect("accepted_by").to_string()))
            .collect();
        assert_eq!(reported, expected, "{diff:#}");
        let files = diff["corpus"]["files"].as_u64().expect("files") as usize;
        assert_eq!(diff["corpus"]["only_old_accepts"].as_u64().expect("count") + diff["corpus"]["only_new_accepts"].as_u64().expect("count"), expected.len() as u64);
        assert_eq!(files, 6);
    }
}

fn file_name(path: &str) -> String {
    Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn tokenizer() -> String {
    workspace().join("tokenizers/syncodec-bpe.json").display().to_string()
}

#[test]
fn widened_terminal_shows_patterns_a_witness_verdicts_and_masks() {
    let case = Case::new(&derived("NUMBER: /-?(0|", "NUMBER: /[-+]?(0|"));
    let (code, d) = case.diff_json(&["--corpus", &case.corpus(), "--tokenizer", &tokenizer()]);
    assert_eq!(code, 1, "{d:#}");
    assert_eq!(d["differs"], true);
    let changed = d["language"]["terminals_redefined"].as_array().expect("terminals_redefined");
    assert_eq!(changed.len(), 1, "{d:#}");
    assert_eq!(changed[0]["name"], "NUMBER");
    assert!(changed[0]["old_pattern"].as_str().expect("old").starts_with("/-?(0|"));
    assert!(changed[0]["new_pattern"].as_str().expect("new").starts_with("/[-+]?(0|"));
    assert_eq!(changed[0]["witness"]["text"], "+0");
    assert_eq!(changed[0]["witness"]["accepted_by"], "new");
    assert!(d["language"]["rules_redefined"].as_array().expect("rules").is_empty());
    case.assert_verdicts_match_parse(&d);
    let plus = d["corpus"]["changed"].as_array().expect("changed").iter().find(|c| c["path"].as_str().is_some_and(|p| p.ends_with("plus.json"))).cloned().expect("plus.json changes verdict");
    assert_eq!(plus["accepted_by"], "new");
    assert_eq!(plus["offset"], 4, "the old grammar goes wrong at the `+`");
    let masks = &d["masks"];
    assert!(masks["differing"].as_u64().expect("differing") > 0, "{masks:#}");
    assert!(masks["tokens_added"].as_u64().expect("added") > 0, "{masks:#}");
    let example = &masks["examples"][0];
    assert!(example["added"].as_array().expect("added").iter().any(|t| t["text"].as_str().is_some_and(|s| s.starts_with('+'))), "{example:#}");

    // The text form: the same facts, and the closing line.
    let out = syncodec(&["diff", &case.old(), &case.new_grammar(), "--corpus", &case.corpus()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("terminal redefined: NUMBER\n"), "{stdout}");
    assert!(stdout.contains("only the new accepts \"+0\""), "{stdout}");
    assert!(stdout.contains("only the new accepts "), "{stdout}");
    assert!(stdout.ends_with("differences: language, corpus\n"), "{stdout}");
    let with_masks = text(&syncodec(&["diff", &case.old(), &case.new_grammar(), "--corpus", &case.corpus(), "--tokenizer", &tokenizer()]).stdout);
    assert!(with_masks.contains("\nmasks:\n  "), "{with_masks}");
    assert!(with_masks.contains(" positions in ") && with_masks.contains("\n  total: "), "{with_masks}");
    assert!(with_masks.ends_with("differences: language, corpus, masks\n"), "{with_masks}");
}

#[test]
fn removed_rule_and_its_terminals() {
    let without_arrays = derived("      | array\n", "").replace("array: \"[\" [value (\",\" value)*] \"]\"\n", "");
    let case = Case::new(&without_arrays);
    let (code, d) = case.diff_json(&["--corpus", &case.corpus()]);
    assert_eq!(code, 1);
    let removed: Vec<&str> = d["language"]["rules_removed"].as_array().expect("rules_removed").iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(removed, ["array"], "{d:#}");
    let terminals: Vec<&str> = d["language"]["terminals_removed"].as_array().expect("terminals_removed").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(terminals, ["LSQB", "RSQB"], "{d:#}");
    let redefined = &d["language"]["rules_redefined"];
    assert_eq!(redefined[0]["name"], "value", "{d:#}");
    assert_eq!(redefined[0]["removed"], serde_json::json!(["array"]));
    assert!(d["tables"]["new_states"].as_u64() < d["tables"]["old_states"].as_u64());
    case.assert_verdicts_match_parse(&d);
    // array.json and object.json hold arrays; plus.json and sum.json were rejected before.
    assert_eq!(d["corpus"]["only_old_accepts"], 2, "{d:#}");
    assert_eq!(d["corpus"]["both_reject"], 3, "{d:#}");
}

#[test]
fn introduced_conflict_is_reported_with_its_example() {
    let case = Case::new(&derived("      | \"null\"\n", "      | \"null\"\n      | value \"+\" value\n"));
    let out = syncodec(&["diff", &case.old(), &case.new_grammar()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("tables:\n"), "{stdout}");
    assert!(stdout.contains("conflict introduced: shift/reduce on \"+\""), "{stdout}");
    assert!(stdout.contains("example: "), "{stdout}");
    let (_, d) = case.diff_json(&[]);
    // LR(1) has the conflict in three states (after a top-level, array and object value).
    let introduced = d["tables"]["conflicts_introduced"].as_array().expect("conflicts_introduced");
    assert_eq!(introduced.len(), 3, "{d:#}");
    for c in introduced {
        assert_eq!(c["lookahead"], "\"+\"");
        assert!(c["example"].as_str().expect("example").contains("• \"+\""), "{d:#}");
    }
    assert!(d["tables"]["conflicts_resolved"].as_array().expect("resolved").is_empty());
    let (_, lalr) = case.diff_json(&["--lr", "lalr"]);
    assert_eq!(lalr["tables"]["conflicts_introduced"].as_array().map(Vec::len), Some(1), "{lalr:#}");
    // The other way round, they are resolved.
    let back = syncodec(&["diff", &case.new_grammar(), &case.old(), "--format", "json"]);
    let back: Value = serde_json::from_slice(&back.stdout).expect("JSON");
    assert_eq!(back["tables"]["conflicts_resolved"].as_array().map(Vec::len), Some(3));
    assert!(back["tables"]["conflicts_introduced"].as_array().expect("introduced").is_empty());
}

#[test]
fn reformatting_is_no_difference_masks_included() {
    // Alternatives on one line, rules in another order, comments changed, spacing changed.
    let grammar = json_grammar();
    let body_start = grammar.find("?start").expect("start rule");
    let reformatted = format!(
        "// reformatted\n// @extensions json\n{}",
        grammar[body_start..]
            .replace("?value: object\n      | array\n      | STRING\n      | NUMBER\n      | \"true\"\n      | \"false\"\n      | \"null\"\n", "?value: object | array | STRING | NUMBER | \"true\" | \"false\" | \"null\"\n")
            .replace("array: \"[\" [value (\",\" value)*] \"]\"\n", "")
            .replace("%ignore WS", "array  :  \"[\"  [ value ( \",\" value )* ]  \"]\"\n\n%ignore WS  // white space")
    );
    assert_ne!(reformatted, grammar);
    let case = Case::new(&reformatted);
    let (code, d) = case.diff_json(&["--corpus", &case.corpus(), "--tokenizer", &tokenizer()]);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(d["differs"], false);
    assert_eq!(d["masks"]["differing"], 0, "{d:#}");
    assert!(d["masks"]["positions"].as_u64().expect("positions") > 10, "{d:#}");
    case.assert_verdicts_match_parse(&d);
    let out = syncodec(&["diff", &case.old(), &case.new_grammar(), "--corpus", &case.corpus()]);
    assert_eq!(text(&out.stdout), "no difference\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn artifact_against_its_grammar_is_no_difference() {
    let case = Case::new(&json_grammar());
    let artifact = case.path("json.syncode");
    let built = syncodec(&["build", &case.old(), "-o", &artifact]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let out = syncodec(&["diff", &artifact, &case.old(), "--corpus", &case.corpus(), "--format", "json"]);
    let d: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(out.status.code(), Some(0), "{d:#}");
    assert_eq!(d["tables"]["conflicts_compared"], false);
}

#[test]
fn git_revision_of_a_file() {
    let git = std::process::Command::new("git").args(["rev-parse", "--verify", "HEAD"]).current_dir(workspace()).output();
    let tracked = std::process::Command::new("git").args(["diff", "--quiet", "HEAD", "--", "grammars/json.ebnf"]).current_dir(workspace()).status();
    if !git.is_ok_and(|o| o.status.success()) || !tracked.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no git checkout here, or grammars/json.ebnf differs from HEAD");
        return;
    }
    let out = syncodec(&["diff", "grammars/json.ebnf@HEAD", "grammars/json.ebnf"]);
    assert_eq!(text(&out.stdout), "no difference\n", "{}", text(&out.stderr));
    let bad = syncodec(&["diff", "grammars/json.ebnf@no-such-revision", "grammars/json.ebnf"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("git show no-such-revision:./grammars/json.ebnf"), "{}", text(&bad.stderr));
}

#[test]
fn unreadable_or_broken_input_is_an_error() {
    let case = Case::new("start: undefined_rule\n");
    let out = syncodec(&["diff", &case.old(), &case.new_grammar()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("does not compile"), "{}", text(&out.stderr));
    let missing = syncodec(&["diff", &case.old(), &PathBuf::from(case.path("missing.ebnf")).display().to_string()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("could not read"), "{}", text(&missing.stderr));
}

/// The corpus tests' own verdicts (tests/tests/json_testsuite.rs: every `y_` file parses, every
/// `n_` file is rejected by the shipped grammar): a `NUMBER` that takes a leading `+` changes the
/// verdict of `n_` files only, each of which has a `+` where the old grammar goes wrong; the
/// reformatted grammar changes nothing, masks included.
#[test]
fn json_testsuite_verdicts() {
    let Some(dir) = syncodec_e2e::shared_data("corpora/json-testsuite/test_parsing") else { return };
    let dir = dir.display().to_string();
    let case = Case::new(&derived("NUMBER: /-?(0|", "NUMBER: /[-+]?(0|"));
    let (code, d) = case.diff_json(&["--corpus", &dir]);
    assert_eq!(code, 1);
    let changed = d["corpus"]["changed"].as_array().expect("changed");
    assert!(!changed.is_empty(), "{d:#}");
    for c in changed {
        let path = c["path"].as_str().expect("path");
        let name = file_name(path);
        assert!(name.starts_with("n_"), "only invalid JSON may change verdict: {c:#}");
        assert_eq!(c["accepted_by"], "new", "{c:#}");
        let text = std::fs::read(path).expect("corpus file");
        let offset = c["offset"].as_u64().expect("offset") as usize;
        assert_eq!(text.get(offset), Some(&b'+'), "the old grammar goes wrong at the sign: {c:#}");
    }
    assert_eq!(d["corpus"]["only_old_accepts"], 0);

    let same = Case::new(&derived("?value: object\n      | array\n", "?value: object | array\n"));
    let (code, d) = same.diff_json(&["--corpus", &dir, "--tokenizer", &tokenizer()]);
    assert_eq!(code, 0, "{d:#}");
    assert!(d["masks"]["positions"].as_u64().expect("positions") > 1000, "{d:#}");
}
