//! grammars/go.ebnf against the Go 1.19 standard library sources (Debian `golang-1.19-src`,
//! `testdata/` directories skipped), with `gofmt -e` (Debian `golang-1.19-go`) as the reference:
//!
//! - every file the reference accepts must parse (a deterministic sample: every Nth file of the
//!   sorted list, at most ~300 files; the whole tree with `SYNCODEC_FULL_CORPUS=1`);
//! - mutants (one lexical token deleted, duplicated or swapped with the next one) of a sample of
//!   those files: every mutant the reference accepts must parse, and at least
//!   [`MIN_MUTANT_REJECTION`] of the mutants the reference rejects must be rejected.
//!
//! Without the packages the tests are skipped with a message; under `CI=true` they fail.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use syncodec_artifacts::ids::ArchivedId;
use syncodec_e2e::generate::Rng;
use syncodec_e2e::mutate::mutant;
use syncodec_e2e::workspace_root;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::lexer::Lexer;

/// Files in the CI sample, at most.
const SAMPLE_FILES: usize = 300;
/// Files of the sample that get mutants, and mutants per file.
const MUTATED_FILES: usize = 60;
const MUTANTS_PER_FILE: usize = 8;
/// The required share of reference-rejected mutants that the grammar rejects.
const MIN_MUTANT_REJECTION: f64 = 0.95;

struct Reference {
    files: Vec<PathBuf>,
    gofmt: PathBuf,
}

fn full() -> bool {
    std::env::var("SYNCODEC_FULL_CORPUS").as_deref() == Ok("1")
}

/// The Go sources and gofmt, or why they are missing.
fn find_reference() -> Result<Reference, String> {
    let mut files: Vec<PathBuf> = match Command::new("dpkg").args(["-L", "golang-1.19-src"]).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(".go") && l.contains("/go-1.19/src/") && !l.contains("/testdata/"))
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect(),
        _ => Vec::new(),
    };
    if files.is_empty() {
        let root = Path::new("/usr/lib/go-1.19/src");
        if root.is_dir() {
            walk(root, &mut files);
        }
    }
    if files.is_empty() {
        return Err("the Go 1.19 sources are not installed (apt-get install golang-1.19-src)".into());
    }
    files.sort();
    let gofmt = [PathBuf::from("/usr/lib/go-1.19/bin/gofmt"), PathBuf::from("gofmt")]
        .into_iter()
        .find(|g| Command::new(g).args(["-l", "/dev/null"]).output().is_ok())
        .ok_or("gofmt is not installed (apt-get install golang-1.19-go)")?;
    Ok(Reference { files, gofmt })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "testdata") {
                walk(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "go") {
            out.push(path);
        }
    }
}

fn reference() -> Option<Reference> {
    match find_reference() {
        Ok(r) => Some(r),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {why}: the Go corpus test must not be skipped in CI")
        }
        Err(why) => {
            eprintln!("skipping: {why}");
            None
        }
    }
}

fn go_artifact() -> Artifact {
    let compilation = syncodec::compile_path(&workspace_root().join("grammars/go.ebnf"), &Default::default()).unwrap();
    let messages: Vec<String> = compilation.diagnostics.iter().map(|d| d.message.clone()).collect();
    let compiled = compilation.ok().unwrap_or_else(|| panic!("go.ebnf does not compile: {messages:?}"));
    Artifact::from_bytes(&syncodec::emit::encode(compiled).unwrap()).unwrap()
}

/// The files among `files` that `gofmt -e -l` reports errors for (batched invocations).
fn gofmt_rejects(gofmt: &Path, files: &[PathBuf]) -> HashSet<PathBuf> {
    let mut rejected = HashSet::new();
    for chunk in files.chunks(500) {
        let out = Command::new(gofmt).arg("-e").arg("-l").args(chunk).output().expect("gofmt runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for file in chunk {
            let prefix = format!("{}:", file.display());
            if stderr.lines().any(|l| l.starts_with(&prefix)) {
                rejected.insert(file.clone());
            }
        }
    }
    rejected
}

/// Every Nth file of the sorted list, at most `max` files (all of them with `SYNCODEC_FULL_CORPUS=1`).
fn sample(files: &[PathBuf], max: usize) -> Vec<PathBuf> {
    if full() {
        return files.to_vec();
    }
    let step = files.len().div_ceil(max).max(1);
    files.iter().step_by(step).cloned().collect()
}

#[test]
fn go_corpus_sample_parses_like_gofmt() {
    let Some(reference) = reference() else { return };
    let artifact = go_artifact();
    let files = sample(&reference.files, SAMPLE_FILES);
    let rejected = gofmt_rejects(&reference.gofmt, &files);
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut parsed = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        match (syncodec_runtime::parser::parse(artifact.grammar(), &bytes), rejected.contains(path)) {
            (Ok(()), _) => parsed += 1,
            (Err(e), false) => failures.push(format!("{}:{e}", path.display())),
            (Err(_), true) => {}
        }
    }
    eprintln!(
        "go corpus: parsed {parsed}/{} files ({} rejected by gofmt) in {:.2?}",
        files.len(),
        rejected.len(),
        started.elapsed()
    );
    assert!(files.len() >= 100 || full(), "corpus incomplete: {} files", files.len());
    assert!(failures.is_empty(), "{} files gofmt accepts do not parse:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn go_mutants_are_rejected_like_gofmt() {
    let Some(reference) = reference() else { return };
    let artifact = go_artifact();
    let grammar = artifact.grammar();
    let newline = grammar.auto_semicolon.as_ref().map(|s| s.newline.raw()).expect("go.ebnf has %auto_semicolon");
    let lexer = Lexer::new(grammar);
    let corpus = sample(&reference.files, SAMPLE_FILES);
    let files = if full() { corpus } else { sample(&corpus, MUTATED_FILES) };
    let per_file = if full() { 2 } else { MUTANTS_PER_FILE };
    let dir = std::env::temp_dir().join(format!("syncodec-go-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng::new(0x5EED_0F_C0DE);
    let mut mutants: Vec<(PathBuf, String, String)> = Vec::new();
    for path in &files {
        let text = std::fs::read(path).unwrap();
        let Ok(lexemes) = lexer.tokenize(&text) else { continue };
        let tokens: Vec<(usize, usize)> = lexemes.iter().filter(|l| l.terminal.raw() != newline).map(|l| (l.start, l.end)).collect();
        if tokens.len() < 2 {
            continue;
        }
        for _ in 0..per_file {
            let m = mutant(&text, &tokens, &mut rng);
            let file = dir.join(format!("m{:05}.go", mutants.len()));
            std::fs::write(&file, &m.text).unwrap();
            mutants.push((file, path.display().to_string(), m.describe()));
        }
    }
    let paths: Vec<PathBuf> = mutants.iter().map(|m| m.0.clone()).collect();
    let rejected = gofmt_rejects(&reference.gofmt, &paths);
    let (mut ref_ok, mut ours_ok_of_ref_ok, mut ref_bad, mut ours_bad_of_ref_bad) = (0, 0, 0, 0);
    let (mut false_rejects, mut false_accepts) = (Vec::new(), Vec::new());
    for (file, origin, what) in &mutants {
        let bytes = std::fs::read(file).unwrap();
        let ours = syncodec_runtime::parser::parse(grammar, &bytes);
        if rejected.contains(file) {
            ref_bad += 1;
            if ours.is_err() {
                ours_bad_of_ref_bad += 1;
            } else {
                false_accepts.push(format!("{origin}: {what}"));
            }
        } else {
            ref_ok += 1;
            match ours {
                Ok(()) => ours_ok_of_ref_ok += 1,
                Err(e) => false_rejects.push(format!("{origin}: {what}: {e}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rate = ours_bad_of_ref_bad as f64 / ref_bad.max(1) as f64;
    eprintln!(
        "go mutants: {} mutants of {} files; reference accepts {ref_ok}, we accept {ours_ok_of_ref_ok} of them; reference rejects {ref_bad}, we reject {ours_bad_of_ref_bad} of them ({:.1}%)",
        mutants.len(),
        files.len(),
        rate * 100.0
    );
    for f in &false_accepts {
        eprintln!("accepted but gofmt rejects: {f}");
    }
    assert!(ref_bad > 0, "no mutant was rejected by gofmt: is the reference working?");
    assert!(false_rejects.is_empty(), "{} mutants gofmt accepts do not parse:\n{}", false_rejects.len(), false_rejects.join("\n"));
    assert!(rate >= MIN_MUTANT_REJECTION, "only {:.1}% of the mutants gofmt rejects are rejected", rate * 100.0);
}
