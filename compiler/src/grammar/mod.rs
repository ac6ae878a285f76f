//! Stage 1: the Lark-compatible EBNF front end: grammar text to [`ast::Grammar`] (pest,
//! `lark.pest`), and `%import` resolution against the built-in `common` library
//! (`common.lark`) and grammar files next to the importing one ([`imports`]).
//!
//! **Invariants:** nothing here panics on any input text; every problem is a located
//! [`Diagnostic`]. A file with a syntax error yields no AST, but all of its syntax errors are
//! reported (see [`parse`]). The AST keeps names as written; the meaning of names (rule or
//! terminal, defined or not) is checked by `lower/`.

pub mod ast;
pub mod escape;
pub mod imports;
pub mod parse;
pub mod suggest;

use crate::diagnostics::{Diagnostic, FileId, SourceMap};

/// Parses one grammar file of `sources` (pest parse and AST building only; no imports).
///
/// Returns the AST iff there is no error; the diagnostics hold every syntax error found.
/// Never panics, for any text: this is the entry point of the grammar-parser fuzz target.
pub fn parse(sources: &SourceMap, file: FileId) -> (Option<ast::Grammar>, Vec<Diagnostic>) {
    match sources.get(file) {
        Some(src) => parse::parse_text(file, &src.text),
        None => (None, vec![Diagnostic::unlocated(format!("no source file with id {}", file.0))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_from_the_source_map() {
        let mut map = SourceMap::new();
        let good = map.add("a.lark", "start: \"x\"\n");
        let bad = map.add("b.lark", "start \"x\"\n");
        assert!(parse(&map, good).0.is_some());
        let (ast, diags) = parse(&map, bad);
        assert!(ast.is_none());
        assert_eq!(map.location(diags[0].span.expect("located")), "b.lark:1:7");
        assert!(parse(&map, FileId(99)).0.is_none());
    }
}
