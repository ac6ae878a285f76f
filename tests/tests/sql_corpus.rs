//! grammars/sql.ebnf against real SQL, with SQLite itself (Python's `sqlite3`) as the reference.
//!
//! Corpus: the `.sql` files under `tests/` of the sqlglot and sqlparse source distributions (TPC-H
//! and TPC-DS queries, sqlglot's optimizer fixtures, `identity.sql`, `pretty.sql`, sqlparse's
//! files), pinned to the versions below and cached in `target/sql-corpus/` (downloaded with
//! `pip download` when missing; without network or python3 the test is skipped, under `CI=true`
//! it fails). Nothing third-party is committed.
//!
//! Reference: `EXPLAIN <statement>` prepared by SQLite on an empty in-memory database. A syntax
//! error ("syntax error", "incomplete input", "unrecognized token", and the errors SQLite's parser
//! actions raise for token sequences its grammar admits: "unknown join type", "... should come
//! after ...", "a JOIN clause is required before ...", "unknown table option") is a reject; success
//! or a name-resolution error raised after the whole statement was parsed ("no such table", ...)
//! is an accept; any other error is "unclear" and the text is left out. The reference runs once,
//! in one python3 process, over all statements and mutants (JSON lines in and out).
//!
//! Positives: every corpus statement SQLite accepts, except the statement kinds whose errors on an
//! empty database SQLite raises in the middle of parsing (ALTER TABLE, CREATE TRIGGER) and CREATE
//! VIRTUAL TABLE, none of which the grammar is judged on. All positives must parse.
//! Negatives: single-token mutants of the positives (delete, duplicate, swap with the next token);
//! of those SQLite rejects, at least `MUTANT_REJECT_FLOOR` must be rejected by the grammar, and of
//! those SQLite accepts, at least `MUTANT_ACCEPT_FLOOR` must be accepted. Figures: docs/grammars-sql.md.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use syncodec_e2e::generate::Rng;
use syncodec_e2e::mutate::mutant;
use syncodec_e2e::workspace_root;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::lexer::Lexer;

const SDISTS: [&str; 2] = ["sqlglot==30.30.0", "sqlparse==0.6.1"];
const MUTANTS_PER_STATEMENT: usize = 8;
const MUTANT_REJECT_FLOOR: f64 = 0.95;
const MUTANT_ACCEPT_FLOOR: f64 = 0.95;

/// The directory holding the extracted sdists, downloading and extracting them if needed.
fn corpus_dir() -> Option<PathBuf> {
    syncodec_e2e::sdists::extracted("sql-corpus", &SDISTS, "the SQL corpus")
}

fn sql_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") && path.components().any(|c| c.as_os_str() == "tests") {
            out.push(path);
        }
    }
}

/// Statements of one fixture file: one per line in `identity.sql` and `partial.sql`, otherwise
/// texts ending with a line that ends in `;` (sqlglot's `# directive` lines dropped). The final
/// `;` is removed.
fn statements(path: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim();
        let s = s.strip_suffix(';').unwrap_or(s).trim_end();
        if !s.is_empty() {
            out.push(s.to_string());
        }
    };
    let name = path.file_name().unwrap().to_string_lossy();
    if name == "identity.sql" || name == "partial.sql" {
        text.lines().for_each(&mut push);
        return out;
    }
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            push(&current);
            current.clear();
        }
    }
    push(&current);
    out
}

const REFERENCE: &str = r#"
import json, sqlite3, sys
REJECT = ("syntax error", "incomplete input", "unrecognized token", "unknown join type",
          "should come after", "a JOIN clause is required before", "unknown table option")
ACCEPT = ("no such table", "no such column", "no such function", "no such view", "no such index",
          "no such window", "no such collation", "no tables specified", "circular reference",
          "Incorrect number of bindings", "You did not supply", "misuse of", "ambiguous column",
          "wrong number of arguments")
conn = sqlite3.connect(":memory:")
print(json.dumps("sqlite " + sqlite3.sqlite_version), flush=True)
for line in sys.stdin:
    text = json.loads(line)
    try:
        conn.execute("EXPLAIN " + text)
        verdict = "accept"
    except Exception as e:
        m = str(e)
        if any(r in m for r in REJECT):
            verdict = "reject"
        elif any(m.startswith(a) for a in ACCEPT):
            verdict = "accept"
        else:
            verdict = "unclear: " + m
    print(json.dumps(verdict), flush=False)
sys.stdout.flush()
"#;

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Accept,
    Reject,
    Unclear(String),
}

/// SQLite's verdicts on all `texts`, from one python3 process; the first element is its version.
fn reference(texts: &[String]) -> Option<(String, Vec<Verdict>)> {
    let mut child = match Command::new("python3").args(["-c", REFERENCE]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return syncodec_e2e::sdists::skip_or_fail("SQLite (python3)", &format!("cannot run python3: {e}")),
    };
    let mut stdin = child.stdin.take().unwrap();
    let input: String = texts.iter().map(|t| serde_json::to_string(t).unwrap() + "\n").collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let version: String = serde_json::from_str(&lines.next().expect("reference prints its version").unwrap()).unwrap();
    let verdicts: Vec<Verdict> = lines
        .map(|l| match serde_json::from_str::<String>(&l.unwrap()).unwrap().as_str() {
            "accept" => Verdict::Accept,
            "reject" => Verdict::Reject,
            other => Verdict::Unclear(other.to_string()),
        })
        .collect();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success(), "the python3 reference failed");
    assert_eq!(verdicts.len(), texts.len(), "the reference answered {} of {} texts", verdicts.len(), texts.len());
    Some((version, verdicts))
}

/// Statement kinds the grammar is not judged on (see the module comment).
fn out_of_scope(words: &[String]) -> bool {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let after_create = if matches!(w(1), "temp" | "temporary") { w(2) } else { w(1) };
    w(0) == "alter" || (w(0) == "create" && matches!(after_create, "trigger" | "virtual"))
}

#[test]
fn sqlite_corpus_parses_and_mutants_agree_with_sqlite() {
    let Some(dir) = corpus_dir() else { return };
    let compilation = syncodec::compile_path(&workspace_root().join("grammars/sql.ebnf"), &Default::default()).unwrap();
    let compiled = compilation.ok().expect("sql.ebnf compiles");
    let artifact = Artifact::from_bytes(&syncodec::emit::encode(compiled).unwrap()).unwrap();
    let grammar = artifact.grammar();
    let lexer = Lexer::new(grammar);
    let parses = |text: &str| syncodec_runtime::parser::parse(grammar, text.as_bytes()).is_ok();

    // Corpus statements, deduplicated, with the file they come from.
    let mut files = Vec::new();
    sql_files(&dir, &mut files);
    files.sort();
    let mut candidates: BTreeMap<String, String> = BTreeMap::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else { continue }; // sqlparse's non-UTF-8 encoding tests
        let source = path.strip_prefix(&dir).unwrap().display().to_string();
        for s in statements(path, &text) {
            candidates.entry(s).or_insert_with(|| source.clone());
        }
    }
    let candidates: Vec<(String, String)> = candidates.into_iter().collect();
    assert!(files.len() >= 30 && candidates.len() >= 5000, "corpus incomplete: {} files, {} statements", files.len(), candidates.len());

    // Mutants of every candidate that is in scope (the reference decides later which are positives).
    let mut texts: Vec<String> = candidates.iter().map(|(s, _)| s.clone()).collect();
    let mut mutant_of: Vec<(usize, String)> = Vec::new(); // (candidate index, mutation)
    for (i, (s, _)) in candidates.iter().enumerate() {
        let Ok(lexemes) = lexer.tokenize(s.as_bytes()) else { continue };
        let words: Vec<String> = lexemes.iter().take(3).map(|l| s[l.start..l.end].to_ascii_lowercase()).collect();
        if lexemes.len() < 2 || out_of_scope(&words) {
            continue;
        }
        let tokens: Vec<(usize, usize)> = lexemes.iter().map(|l| (l.start, l.end)).collect();
        let mut rng = Rng::new(i as u64);
        for _ in 0..MUTANTS_PER_STATEMENT {
            let m = mutant(s.as_bytes(), &tokens, &mut rng);
            let (kind, text) = (m.kind, String::from_utf8_lossy(&m.text).into_owned());
            mutant_of.push((i, kind.to_string()));
            texts.push(text);
        }
    }

    let Some((version, verdicts)) = reference(&texts) else { return };
    eprintln!("reference: {version}; {} files, {} statements, {} mutants", files.len(), candidates.len(), mutant_of.len());

    // Positives.
    let (mut positives, mut out_of_scope_accepted, mut unclear) = (0, 0, 0);
    let mut is_positive = vec![false; candidates.len()];
    let mut failures = Vec::new();
    for (i, (s, source)) in candidates.iter().enumerate() {
        match &verdicts[i] {
            Verdict::Accept => {}
            Verdict::Unclear(_) => {
                unclear += 1;
                continue;
            }
            Verdict::Reject => continue,
        }
        let words: Vec<String> = lexer.tokenize(s.as_bytes()).map(|ls| ls.iter().take(3).map(|l| s[l.start..l.end].to_ascii_lowercase()).collect()).unwrap_or_default();
        if out_of_scope(&words) {
            out_of_scope_accepted += 1;
            continue;
        }
        positives += 1;
        is_positive[i] = true;
        if let Err(e) = syncodec_runtime::parser::parse(grammar, s.as_bytes()) {
            failures.push(format!("{source}: {}:{}: {}\n    {}", e.line(), e.column(), e.message(), s.replace('\n', "\n    ")));
        }
    }
    eprintln!(
        "positives: {}/{positives} parse ({out_of_scope_accepted} accepted statements out of scope, {unclear} unclear verdicts left out)",
        positives - failures.len()
    );

    // Mutants of positives.
    let (mut ref_rejected, mut we_reject, mut ref_accepted, mut we_accept, mut mutants_unclear) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut over_accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut under_accepted = Vec::new();
    for (k, (i, kind)) in mutant_of.iter().enumerate() {
        if !is_positive[*i] {
            continue;
        }
        let text = &texts[candidates.len() + k];
        let ours = parses(text);
        match &verdicts[candidates.len() + k] {
            Verdict::Reject => {
                ref_rejected += 1;
                if ours {
                    over_accepted.entry(kind.clone()).or_default().push(text.clone());
                } else {
                    we_reject += 1;
                }
            }
            Verdict::Accept => {
                ref_accepted += 1;
                if ours {
                    we_accept += 1;
                } else {
                    let e = syncodec_runtime::parser::parse(grammar, text.as_bytes()).unwrap_err();
                    let mut from = e.offset().saturating_sub(60).min(text.len());
                    while !text.is_char_boundary(from) {
                        from -= 1;
                    }
                    let mut to = (e.offset() + 20).min(text.len());
                    while !text.is_char_boundary(to) {
                        to += 1;
                    }
                    under_accepted.push(format!("{} at ...{}...", e.message().chars().take(60).collect::<String>(), &text[from..to]));
                }
            }
            Verdict::Unclear(_) => mutants_unclear += 1,
        }
    }
    let reject_rate = we_reject as f64 / ref_rejected.max(1) as f64;
    let accept_rate = we_accept as f64 / ref_accepted.max(1) as f64;
    eprintln!(
        "mutants SQLite rejects: {we_reject}/{ref_rejected} rejected ({:.1}%); mutants SQLite accepts: {we_accept}/{ref_accepted} accepted ({:.1}%); {mutants_unclear} unclear",
        100.0 * reject_rate,
        100.0 * accept_rate
    );
    for (kind, texts) in &over_accepted {
        eprintln!("over-accepted {kind} mutants ({}):", texts.len());
        for t in texts.iter().take(25) {
            eprintln!("    {}", t.replace('\n', " "));
        }
    }
    eprintln!("mutants SQLite accepts that we reject ({}):", under_accepted.len());
    for t in under_accepted.iter().take(25) {
        eprintln!("    {}", t.replace('\n', " "));
    }

    assert!(positives >= 2000, "too few positives: {positives}");
    assert!(failures.is_empty(), "{} of {positives} SQLite-accepted statements rejected:\n{}", failures.len(), failures.join("\n"));
    assert!(ref_rejected >= 3000, "too few rejected mutants: {ref_rejected}");
    assert!(reject_rate >= MUTANT_REJECT_FLOOR, "only {we_reject}/{ref_rejected} SQLite-rejected mutants rejected");
    assert!(accept_rate >= MUTANT_ACCEPT_FLOOR, "only {we_accept}/{ref_accepted} SQLite-accepted mutants accepted");
}
