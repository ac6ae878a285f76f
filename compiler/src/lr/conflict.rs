//! Rendering [`Conflict`]s as [`Diagnostic`]s (data, not text: the CLI lays them out).
//!
//! One diagnostic per conflict, located at the first reduce production:
//!
//! ```text
//! error: shift/reduce conflict on "-" in LR state 7
//!   label (reduce production): reduce  expr: expr "-" expr •
//!   label (shift production):  shift   expr: expr • "-" expr
//!   = note: reduce  expr: expr "-" expr •
//!   = note: shift  expr: expr • "-" expr
//!   = note: lookahead: "-"
//!   = note: example: NUMBER "-" NUMBER • "-" NUMBER
//!   = help: ...
//! ```
//!
//! The example is the conflict's shortest symbol path to the state with every rule replaced by
//! a shortest sentence ([`MinSentences`]), then `•`, the lookahead, and (for shift/reduce) the
//! rest of the first shift item, also expanded.

use super::example::MinSentences;
use super::{Column, Conflict, ConflictKind, Item, LrMode, LrTables};
use crate::diagnostics::{Diagnostic, Severity};
use crate::lower::{Bnf, Symbol};

pub(crate) fn diagnostics(bnf: &Bnf, tables: &LrTables, prefer_shift: bool) -> Vec<Diagnostic> {
    if tables.conflicts.is_empty() {
        return Vec::new();
    }
    let min = MinSentences::compute(bnf);
    tables
        .conflicts
        .iter()
        .map(|c| {
            let d = diagnostic(bnf, tables.mode, &min, c);
            if prefer_shift && c.kind == ConflictKind::ShiftReduce {
                // The table already keeps the shift (see `table.rs`): only the severity changes.
                let message = format!("{} (resolved as shift: --prefer-shift)", d.message);
                Diagnostic { severity: Severity::Warning, message, ..d }
            } else {
                d
            }
        })
        .collect()
}

/// `expr: expr "-" expr •`. Unknown ids print as `?`.
pub fn format_item(bnf: &Bnf, item: Item) -> String {
    let Some(production) = bnf.productions.get(item.production) else { return "?".to_string() };
    let mut text = format!("{}:", bnf.symbol_name(Symbol::Rule(production.lhs)));
    for (i, &symbol) in production.rhs.iter().enumerate() {
        if i == item.dot as usize {
            text.push_str(" •");
        }
        text.push(' ');
        text.push_str(bnf.symbol_name(symbol));
    }
    if item.dot as usize >= production.rhs.len() {
        text.push_str(" •");
    }
    text
}

/// `"-"`, or `end of input`.
pub fn format_column(bnf: &Bnf, column: Column) -> String {
    match column {
        Column::Terminal(t) => bnf.symbol_name(Symbol::Terminal(t)).to_string(),
        Column::End => "end of input".to_string(),
    }
}

fn is_reduce(bnf: &Bnf, item: Item) -> bool {
    bnf.productions.get(item.production).is_some_and(|p| item.dot as usize >= p.rhs.len())
}

fn names(bnf: &Bnf, symbols: &[Symbol]) -> Vec<String> {
    symbols.iter().map(|&s| bnf.symbol_name(s).to_string()).collect()
}

/// The example input of a conflict (see the module docs).
pub fn example_text(bnf: &Bnf, min: &MinSentences, conflict: &Conflict) -> String {
    let mut words = names(bnf, &min.expand(bnf, &conflict.example));
    words.push("•".to_string());
    words.push(format_column(bnf, conflict.lookahead));
    if conflict.kind == ConflictKind::ShiftReduce {
        let shift = conflict.items.iter().find(|&&i| !is_reduce(bnf, i));
        if let Some(production) = shift.and_then(|i| bnf.productions.get(i.production).map(|p| (p, i.dot as usize))) {
            let (production, dot) = production;
            let rest = production.rhs.get(dot + 1..).unwrap_or(&[]);
            words.extend(names(bnf, &min.expand(bnf, rest)));
        }
    }
    words.join(" ")
}

fn diagnostic(bnf: &Bnf, mode: LrMode, min: &MinSentences, conflict: &Conflict) -> Diagnostic {
    let kind = match conflict.kind {
        ConflictKind::ShiftReduce => "shift/reduce",
        ConflictKind::ReduceReduce => "reduce/reduce",
    };
    let lookahead = format_column(bnf, conflict.lookahead);
    let message = format!("{kind} conflict on {lookahead} in LR state {}", conflict.state);
    let reduces: Vec<Item> = conflict.items.iter().copied().filter(|&i| is_reduce(bnf, i)).collect();
    let shifts: Vec<Item> = conflict.items.iter().copied().filter(|&i| !is_reduce(bnf, i)).collect();
    let span_of = |item: &Item| bnf.productions.get(item.production).map(|p| p.span);
    let mut d = match reduces.first().and_then(span_of) {
        Some(span) => Diagnostic::error(message, span),
        None => Diagnostic::unlocated(message),
    };
    for item in &reduces {
        if let Some(span) = span_of(item) {
            d = d.with_label(span, format!("reduce  {}", format_item(bnf, *item)));
        }
    }
    for item in &shifts {
        if let Some(span) = span_of(item) {
            d = d.with_label(span, format!("shift  {}", format_item(bnf, *item)));
        }
    }
    for item in &reduces {
        d = d.with_note(format!("reduce  {}", format_item(bnf, *item)));
    }
    if conflict.kind == ConflictKind::ReduceReduce && reduces.len() < 2 {
        d = d.with_note("accept  the input so far is a complete start rule");
    }
    for item in &shifts {
        d = d.with_note(format!("shift  {}", format_item(bnf, *item)));
    }
    d = d.with_note(format!("lookahead: {lookahead}"));
    d = d.with_note(format!("example: {}", example_text(bnf, min, conflict)));
    d.with_help(help(bnf, mode, conflict, &reduces, &shifts, &lookahead))
}

fn help(bnf: &Bnf, mode: LrMode, conflict: &Conflict, reduces: &[Item], shifts: &[Item], lookahead: &str) -> String {
    let lhs_name = |item: &Item| bnf.productions.get(item.production).map_or("?", |p| bnf.symbol_name(Symbol::Rule(p.lhs)));
    match conflict.kind {
        ConflictKind::ShiftReduce => {
            // A binary (or n-ary) operator whose operands are the rule itself: `e: e op e`.
            let binary = reduces.iter().find_map(|item| {
                let p = bnf.productions.get(item.production)?;
                let own = Symbol::Rule(p.lhs);
                (p.rhs.len() >= 2 && p.rhs.first() == Some(&own) && p.rhs.last() == Some(&own)).then_some(item)
            });
            let shift_continues_same_rule = shifts.iter().any(|s| reduces.iter().any(|r| lhs_name(s) == lhs_name(r)));
            match binary {
                Some(item) if shift_continues_same_rule => {
                    let rule = lhs_name(item);
                    format!(
                        "`{rule}` can group `{rule} {lookahead} {rule}` chains both ways: make it left-recursive with a separate precedence level, e.g. `{rule}: {rule} {lookahead} atom` with a new rule `atom` for the operands"
                    )
                }
                _ => format!(
                    "after this input the parser cannot tell with one token of lookahead whether `{}` is complete before {lookahead} or continues with it; if the grammar is ambiguous here (e.g. an optional trailing part such as a dangling `else`), make the trailing part belong to the innermost construct by splitting the rule, otherwise restructure so the decision comes later",
                    reduces.first().map_or("?", lhs_name)
                ),
            }
        }
        ConflictKind::ReduceReduce if reduces.len() < 2 => format!(
            "a complete input can also be reduced to `{}`: the start rule derives itself, remove that cycle",
            reduces.first().map_or("?", lhs_name)
        ),
        ConflictKind::ReduceReduce => {
            let mut rules: Vec<&str> = reduces.iter().map(lhs_name).collect();
            rules.dedup();
            let who = if rules.len() == 1 {
                format!("two productions of `{}`", rules[0])
            } else {
                rules.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" and ")
            };
            let mut text = format!("{who} derive the same text in the same context (before {lookahead}): merge them into one rule, or make the contexts they are used in differ");
            if mode == LrMode::Lalr {
                text.push_str("; in lalr mode this may also come from merging states with the same core, which lr1 mode does not do");
            }
            text
        }
    }
}
