//! Python-style indentation: `%declare _INDENT _DEDENT` plus a newline terminal.
//!
//! **Invariant:** indentation is on exactly when both `_INDENT` and `_DEDENT` are `%declare`d;
//! the newline terminal is `_NEWLINE` when defined, else `_NL`; neither is an error. Bracket
//! terminals are those whose whole pattern is the literal `(`, `[` or `{` (open) and `)`, `]`
//! or `}` (close), wherever they come from.

use std::collections::HashMap;

use super::bnf::{Bnf, Pattern};
use super::symbols::{EntryKind, SymbolTable};
use crate::diagnostics::{Diagnostic, Span};
use syncodec_artifacts::ids::TerminalId;

/// Indentation terminals, as lowering's terminal indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndentTerms {
    pub newline: usize,
    pub indent: usize,
    pub dedent: usize,
}

/// Finds the indentation terminals; `None` when indentation is off or misdeclared (reported).
pub(crate) fn find(
    table: &SymbolTable,
    declare_spans: &HashMap<String, Span>,
    term_of_entry: &HashMap<usize, usize>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<IndentTerms> {
    let declared = |name: &str| table.get(name).filter(|(_, e)| e.kind == EntryKind::Terminal && e.declared).map(|(i, _)| i);
    let (indent, dedent) = (declared("_INDENT")?, declared("_DEDENT")?);
    let defined = |name: &str| table.get(name).filter(|(_, e)| e.kind == EntryKind::Terminal && !e.declared).map(|(i, _)| i);
    let Some(newline) = defined("_NEWLINE").or_else(|| defined("_NL")) else {
        let span = declare_spans
            .get("_INDENT")
            .copied()
            .or_else(|| table.get("_INDENT").map(|(_, e)| e.def.name.span))
            .unwrap_or_default();
        diagnostics.push(
            Diagnostic::error("`_INDENT` and `_DEDENT` are declared but there is no `_NEWLINE` or `_NL` terminal", span)
                .with_note("the indentation of a line is read from the text a newline terminal matches after its last line break")
                .with_help("define one, e.g. `_NEWLINE: ( /\\r?\\n[\\t ]*/ | COMMENT )+`"),
        );
        return None;
    };
    Some(IndentTerms {
        newline: *term_of_entry.get(&newline)?,
        indent: *term_of_entry.get(&indent)?,
        dedent: *term_of_entry.get(&dedent)?,
    })
}

/// Open and close bracket terminals of a grammar.
pub(crate) fn brackets(bnf: &Bnf) -> (Vec<TerminalId>, Vec<TerminalId>) {
    let mut open = Vec::new();
    let mut close = Vec::new();
    for (id, t) in bnf.terminals.iter() {
        if let Some(Pattern::Literal { value, .. }) = &t.pattern {
            match value.as_str() {
                "(" | "[" | "{" => open.push(id),
                ")" | "]" | "}" => close.push(id),
                _ => {}
            }
        }
    }
    (open, close)
}
