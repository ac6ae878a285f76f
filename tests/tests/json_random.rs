//! Differential test at the text level: random JSON texts generated from grammars/json.ebnf must
//! parse, and single-token mutations of them (delete, duplicate, swap with the next, replace with
//! a lexeme of another terminal) must get the same verdict from our parser as from serde_json,
//! the reference (texts where serde_json stops at a number out of f64 range are left out). Samples whose text has a `\uD8xx`-style escape are left out of the comparison:
//! RFC 8259's grammar allows lone surrogates, serde_json rejects them.

use syncodec_e2e::generate::{Generator, Rng};
use syncodec_e2e::workspace_root;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::lexer::Lexer;

fn has_surrogate_escape(text: &[u8]) -> bool {
    text.windows(3).any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
}

/// serde_json's verdict on syntax, or `None` when it stopped at a number outside f64's range:
/// that is valid JSON syntax (RFC 8259 section 6 leaves the range to implementations;
/// JSONTestSuite's `i_number_huge_exp`) and serde_json does not look past it.
fn reference_accepts(text: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(_) => Some(false),
    }
}

#[test]
fn random_json_sentences_parse_and_mutants_agree_with_serde_json() {
    let compilation = syncodec::compile_path(&workspace_root().join("grammars/json.ebnf"), &Default::default()).unwrap();
    let compiled = compilation.ok().expect("json.ebnf compiles");
    let artifact = Artifact::from_bytes(&syncodec::emit::encode(compiled).unwrap()).unwrap();
    let grammar = artifact.grammar();
    let lexer = Lexer::new(grammar);
    let generator = Generator::new(compiled);
    let n_terminals = compiled.bnf.terminals.len();
    let (mut sentences, mut mutants, mut mutants_rejected, mut skipped) = (0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for seed in 0..400u64 {
        let mut rng = Rng::new(seed);
        let terminals = generator.terminals(&mut rng, 6);
        let (text, lexemes) = generator.text(&terminals, &mut rng);
        let relexed: Option<Vec<_>> = lexer.tokenize(&text).ok().map(|ls| ls.iter().map(|l| l.terminal).filter(|t| !lexer.is_ignored(*t)).collect());
        if relexed.as_deref() != Some(&terminals[..]) || has_surrogate_escape(&text) {
            skipped += 1;
            continue;
        }
        sentences += 1;
        if let Err(e) = syncodec_runtime::parser::parse(grammar, &text) {
            disagreements.push(format!("seed {seed}: generated sentence rejected: {e}\n{}", String::from_utf8_lossy(&text)));
            continue;
        }
        for _ in 0..8 {
            let mut mutated = lexemes.clone();
            let at = rng.below(mutated.len());
            match rng.below(4) {
                0 => {
                    mutated.remove(at);
                }
                1 => mutated.insert(at, mutated[at].clone()),
                2 if at + 1 < mutated.len() => mutated.swap(at, at + 1),
                _ => {
                    let t = syncodec_artifacts::ids::TerminalId::must(rng.below(n_terminals));
                    if lexer.is_ignored(t) {
                        continue;
                    }
                    mutated[at] = generator.lexeme(t, &mut rng);
                }
            }
            let text = generator.join(&mutated);
            if has_surrogate_escape(&text) {
                continue;
            }
            let Some(reference) = reference_accepts(&text) else { continue };
            mutants += 1;
            let ours = syncodec_runtime::parser::parse(grammar, &text).is_ok();
            if !ours {
                mutants_rejected += 1;
            }
            if ours != reference {
                disagreements.push(format!("seed {seed}: ours={ours} serde_json={reference}: {}", String::from_utf8_lossy(&text)));
            }
        }
    }
    eprintln!("{sentences} sentences ({skipped} skipped), {mutants} mutants ({mutants_rejected} rejected)");
    assert!(sentences >= 300, "too many samples skipped: {skipped}");
    assert!(mutants_rejected > mutants / 4, "mutations should mostly break JSON: {mutants_rejected}/{mutants}");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}
