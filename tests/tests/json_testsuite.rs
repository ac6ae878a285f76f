//! JSONTestSuite (../shared/corpora/json-testsuite/test_parsing) against grammars/json.ebnf:
//! every `y_` file must parse, every `n_` file must be rejected. `i_` files are
//! implementation-defined; their verdicts are printed and pinned in docs/grammars.md.

use syncodec_e2e::{shared_data, workspace_root};
use syncodec_runtime::artifact::Artifact;

#[test]
fn json_grammar_accepts_every_y_and_rejects_every_n() {
    let Some(dir) = shared_data("corpora/json-testsuite/test_parsing") else { return };
    let compilation = syncodec::compile_path(&workspace_root().join("grammars/json.ebnf"), &Default::default()).unwrap();
    let compiled = compilation.ok().expect("json.ebnf compiles");
    let artifact = Artifact::from_bytes(&syncodec::emit::encode(compiled).unwrap()).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut y, mut n, mut i_accepted, mut i_rejected) = (0, 0, Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(path).unwrap();
        let verdict = syncodec_runtime::parser::parse(artifact.grammar(), &bytes);
        match name.as_bytes()[0] {
            b'y' => {
                y += 1;
                if let Err(e) = verdict {
                    wrong.push(format!("{name} rejected: {e}"));
                }
            }
            b'n' => {
                n += 1;
                if verdict.is_ok() {
                    wrong.push(format!("{name} accepted"));
                }
            }
            _ => {
                if verdict.is_ok() {
                    i_accepted.push(name)
                } else {
                    i_rejected.push(name)
                }
            }
        }
    }
    eprintln!("y_: {y}, n_: {n}; i_ accepted: {i_accepted:?}; i_ rejected: {i_rejected:?}");
    assert!(y > 90 && n > 180, "suite incomplete: {y} y_, {n} n_");
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
}
