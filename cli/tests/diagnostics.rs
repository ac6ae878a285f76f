//! Golden error tests: every grammar in `tests/errors/` must fail to compile with a located
//! diagnostic. Each file starts with `// expect-error: TEXT` (a substring of the message) and
//! `// expect-at: LINE:COL` (where the diagnostic points in that file). Rendering must not panic.

use std::path::Path;

use syncodec_cli::render;
use syncodec::diagnostics::Severity;
use syncodec::{compile_str, CompileOptions};

fn expectation<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("// {key}: ")))
        .unwrap_or_else(|| panic!("fixture lacks `// {key}:`"))
        .trim()
}

#[test]
fn every_error_fixture_fails_with_a_located_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures missing in {}", dir.display());
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want_message = expectation(&text, "expect-error");
        let want_at = format!("{name}:{}", expectation(&text, "expect-at"));
        let compilation = compile_str(&name, &text, &CompileOptions::default());
        let rendered: String = compilation.diagnostics.iter().map(|d| render::render_text(&compilation.sources, d)).collect();
        if compilation.is_ok() {
            failures.push(format!("{name}: compiled without error"));
            continue;
        }
        let found = compilation.diagnostics.iter().any(|d| {
            d.severity == Severity::Error && d.message.contains(want_message) && d.span.is_some_and(|s| compilation.sources.location(s) == want_at)
        });
        if !found {
            failures.push(format!("{name}: no error containing {want_message:?} at {want_at}; got:\n{rendered}"));
        }
        assert!(rendered.contains(&want_at), "{name}: rendered text lacks {want_at}:\n{rendered}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_error_diagnostic_of_the_fixtures_has_a_help_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let compilation = compile_str(&path.display().to_string(), &text, &CompileOptions::default());
        for d in compilation.diagnostics.iter().filter(|d| d.is_error()) {
            assert!(d.help.is_some(), "{}: `{}` has no help line", path.display(), d.message);
        }
    }
}
