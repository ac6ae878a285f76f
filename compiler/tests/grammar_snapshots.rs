//! Snapshot of `syncodec check`'s summary for every shipped grammar in both LR modes, so that a
//! grammar change shows up as a reviewable diff (`cargo insta review`). Snapshots live in
//! `grammars/snapshots/`.

use std::path::Path;

use syncodec::lr::LrMode;
use syncodec::{compile_path, CompileOptions, Summary};

#[test]
fn every_shipped_grammar_compiles_and_matches_its_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut grammars: Vec<_> = std::fs::read_dir(root.join("grammars"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ebnf" || e == "lark"))
        .collect();
    grammars.sort();
    assert!(!grammars.is_empty());
    for path in &grammars {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        for mode in [LrMode::Lr1, LrMode::Lalr] {
            let mut options = CompileOptions::default();
            options.lr.mode = mode;
            let compilation = compile_path(path, &options).unwrap();
            let messages: Vec<String> = compilation.diagnostics.iter().map(|d| d.message.clone()).collect();
            let compiled = compilation.ok().unwrap_or_else(|| panic!("{} ({}) fails: {messages:?}", path.display(), mode.as_str()));
            let mut text = Summary::of(compiled).to_text();
            for m in &messages {
                text.push_str(&format!("diagnostic: {m}\n"));
            }
            insta::with_settings!({snapshot_path => root.join("grammars/snapshots"), prepend_module_to_snapshot => false, omit_expression => true}, {
                insta::assert_snapshot!(format!("{stem}-{}", mode.as_str()), text);
            });
        }
    }
}
