//! Stage 2: lowering the EBNF AST to plain BNF ([`Bnf`]) with symbol checks.

pub mod bnf;
pub use bnf::*;

use crate::diagnostics::{Diagnostic, FileId, SourceMap};

/// Options of the front end and lowering.
#[derive(Debug, Clone, Default)]
pub struct LowerOptions {
    /// Start rule; `start` when `None`.
    pub start: Option<String>,
}

/// Result of parsing and lowering a grammar file.
#[derive(Debug)]
pub struct LowerOutput {
    /// `Some` iff `diagnostics` holds no error.
    pub bnf: Option<Bnf>,
    /// Every error and warning found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses `main` (already in `sources`; `%import`ed library files are added to `sources`) and
/// lowers it to BNF, collecting every diagnostic instead of stopping at the first.
pub fn lower_file(sources: &mut SourceMap, main: FileId, options: &LowerOptions) -> LowerOutput {
    let _ = (sources, main, options);
    LowerOutput { bnf: None, diagnostics: vec![Diagnostic::unlocated("front end not implemented yet")] }
}
