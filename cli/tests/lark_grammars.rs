//! Grammars written for Lark and for SynCode, used as their authors wrote them: every grammar that
//! SynCode 0.4.16 ships (`syncode/parsers/grammars/*.lark`, 10 files) and Lark 1.2.2's own
//! `python.lark` must `check` and `build` with a real tokenizer without any flag (a `.lark` file
//! is read in Lark mode), and `check` must say so. The sdists are fetched by pinned name from PyPI
//! into `target/lark-grammars/` (see `syncodec_e2e::sdists`); nothing third-party is committed.

mod common;
use common::{syncodec, text, workspace};

const SDISTS: [&str; 2] = ["syncode==0.4.16", "lark==1.2.2"];
const SYNCODE_GRAMMARS: [&str; 10] = ["c", "calc", "go", "invariants", "java", "json", "prover9", "python", "sql", "tiny"];

/// The real Llama-3 tokenizer under `../shared`, or the project's own outside CI.
fn tokenizer() -> String {
    let shared = workspace().parent().map(|p| p.join("shared/tokenizers/llama3.json")).filter(|p| p.is_file());
    match shared {
        Some(p) => p.display().to_string(),
        None if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true but ../shared/tokenizers/llama3.json is missing"),
        None => workspace().join("tokenizers/syncodec-bpe.json").display().to_string(),
    }
}

#[test]
fn syncode_and_lark_grammars_check_and_build_without_flags() {
    let Some(dir) = syncodec_e2e::sdists::extracted("lark-grammars", &SDISTS, "SynCode's and Lark's grammars") else { return };
    let mut grammars: Vec<(String, Vec<&str>)> =
        SYNCODE_GRAMMARS.iter().map(|g| (dir.join(format!("syncode-0.4.16/syncode/parsers/grammars/{g}.lark")).display().to_string(), vec![])).collect();
    // Lark's python.lark has no `start` rule: Lark itself is told `start="file_input"`.
    grammars.push((dir.join("lark-1.2.2/lark/grammars/python.lark").display().to_string(), vec!["--start", "file_input"]));
    let tokenizer = tokenizer();
    let out_dir = tempfile::tempdir().unwrap();
    for (grammar, extra) in &grammars {
        assert!(std::path::Path::new(grammar).is_file(), "{grammar} not in the sdist");
        let mut args = vec!["check", grammar.as_str()];
        args.extend(extra);
        let check = syncodec(&args);
        let all = text(&check.stdout) + &text(&check.stderr);
        assert_eq!(check.status.code(), Some(0), "check {grammar}:\n{all}");
        assert!(text(&check.stdout).contains("mode: lark"), "{all}");
        let output = out_dir.path().join("out.syncode").display().to_string();
        let mut args = vec!["build", grammar.as_str(), "--tokenizer", tokenizer.as_str(), "-o", output.as_str()];
        args.extend(extra);
        let build = syncodec(&args);
        let all = text(&build.stdout) + &text(&build.stderr);
        assert_eq!(build.status.code(), Some(0), "build {grammar}:\n{all}");
        assert!(all.contains("masks: ") && all.contains("artifact size: "), "{all}");
        println!("{grammar}: {}", text(&build.stdout).lines().find(|l| l.starts_with("build time")).unwrap_or_default());
    }
}
