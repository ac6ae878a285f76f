//! Automatic semicolon insertion (syncodec extension):
//! `%auto_semicolon NEWLINE -> SEMICOLON after TRIGGER ...`.
//!
//! Each terminal is named by its name or by a literal it matches (`"break"`, `")"`). The runtime
//! drops every lexeme of the newline terminal, except that one following a trigger terminal
//! becomes the semicolon terminal; the end of input after a trigger does the same.
//!
//! **Invariants:** at most one statement; the newline terminal has a pattern, is not
//! `%ignore`d and differs from the semicolon terminal; every name and literal resolves to a
//! terminal (errors are located at the reference); the directive cannot be combined with
//! indentation. The newline and semicolon terminals are kept in the compiled grammar even when
//! no rule uses them (they reach the parser only through the runtime).

use super::bnf::{Pattern, TerminalKind};
use super::ir::Ir;
use super::symbols::{EntryKind, SymbolTable};
use crate::diagnostics::Diagnostic;
use crate::grammar::ast::{AutoSemicolon, TermRef};
use std::collections::HashMap;

/// Semicolon-insertion terminals, as lowering's terminal indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SemicolonTerms {
    pub newline: usize,
    pub semicolon: usize,
    pub triggers: Vec<usize>,
}

const SYNTAX: &str = "write `%auto_semicolon NEWLINE -> SEMICOLON after TRIGGER ...` with terminal names or literals";

/// Resolves the grammar's `%auto_semicolon` statement; `None` when there is none or it is wrong
/// (reported).
pub(crate) fn find(
    statements: &[AutoSemicolon],
    table: &SymbolTable,
    ir: &Ir,
    term_of_entry: &HashMap<usize, usize>,
    indentation_on: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SemicolonTerms> {
    let (first, rest) = statements.split_first()?;
    for extra in rest {
        diagnostics.push(
            Diagnostic::error("a grammar may have only one `%auto_semicolon` statement", extra.span)
                .with_help("list every trigger terminal in one statement"),
        );
    }
    let mut ok = rest.is_empty();
    if indentation_on {
        diagnostics.push(
            Diagnostic::error("`%auto_semicolon` cannot be combined with indentation (`%declare _INDENT _DEDENT`)", first.span)
                .with_help("use one of the two newline treatments"),
        );
        ok = false;
    }
    let mut resolve = |r: &TermRef, role: &str, diagnostics: &mut Vec<Diagnostic>| -> Option<usize> {
        let found = resolve_ref(r, role, table, ir, term_of_entry, diagnostics);
        if found.is_none() {
            ok = false;
        }
        found
    };
    let newline = resolve(&first.newline, "newline", diagnostics);
    let semicolon = resolve(&first.semicolon, "semicolon", diagnostics);
    let mut triggers = Vec::new();
    for r in &first.triggers {
        if let Some(t) = resolve(r, "trigger", diagnostics) {
            if !triggers.contains(&t) {
                triggers.push(t);
            }
        }
    }
    let (newline, semicolon) = (newline?, semicolon?);
    let nl = ir.terms.get(newline)?;
    if nl.kind == TerminalKind::Declared {
        diagnostics.push(
            Diagnostic::error(format!("the newline terminal `{}` of `%auto_semicolon` has no pattern", nl.name), first.newline.span())
                .with_help("the newline terminal must be lexed: define it, e.g. `_NL: /\\n/`"),
        );
        ok = false;
    }
    if ir.ignore.contains(&newline) {
        diagnostics.push(
            Diagnostic::error(format!("the newline terminal `{}` of `%auto_semicolon` is `%ignore`d", nl.name), first.newline.span())
                .with_help("remove the `%ignore`: the runtime drops newline lexemes that do not become semicolons"),
        );
        ok = false;
    }
    if newline == semicolon {
        diagnostics.push(
            Diagnostic::error("the newline and semicolon terminals of `%auto_semicolon` are the same", first.semicolon.span())
                .with_help(SYNTAX),
        );
        ok = false;
    }
    if triggers.contains(&newline) {
        diagnostics.push(
            Diagnostic::error("the newline terminal cannot be a trigger of `%auto_semicolon`", first.newline.span()).with_help(SYNTAX),
        );
        ok = false;
    }
    ok.then_some(SemicolonTerms { newline, semicolon, triggers })
}

fn resolve_ref(
    r: &TermRef,
    role: &str,
    table: &SymbolTable,
    ir: &Ir,
    term_of_entry: &HashMap<usize, usize>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<usize> {
    match r {
        TermRef::Name(id) => {
            let (idx, entry) = table.resolve(id, diagnostics)?;
            if entry.kind != EntryKind::Terminal {
                diagnostics.push(
                    Diagnostic::error(format!("`%auto_semicolon` takes terminals, but the {role} `{}` is a rule", id.name), id.span)
                        .with_help("name a terminal (UPPERCASE name) or write a literal such as `\";\"`"),
                );
                return None;
            }
            // A terminal whose definition failed is already reported.
            term_of_entry.get(&idx).copied()
        }
        TermRef::Literal(lit) => {
            let found = ir.terms.iter().position(|t| {
                matches!(&t.pattern, Some(Pattern::Literal { value, case_insensitive }) if *value == lit.value && *case_insensitive == lit.case_insensitive)
            });
            if found.is_none() {
                diagnostics.push(
                    Diagnostic::error(format!("the {role} {} of `%auto_semicolon` is not a terminal of the grammar", r.text()), lit.span)
                        .with_help("use the literal in a rule, or name a terminal defined with it"),
                );
            }
            found
        }
    }
}
