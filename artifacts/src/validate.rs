//! Semantic validation of an archived payload, run after rkyv's structural check.
//!
//! Order: terminals and their DFAs, lexer, productions, LR tables, indentation, semicolon insertion. Each check
//! guarantees that every id stored in a table is below the length of the table it indexes, so
//! the runtime may index with `get()` and treat a miss as corruption without further checks.

use crate::error::OpenError;
use crate::ids::ArchivedId;
use crate::schema::{ArchivedCompiledGrammar, ArchivedDfa, ArchivedPayload, ArchivedTerminalKind, Action, NONE, RULE_BIT};

fn corrupt(what: String) -> OpenError {
    OpenError::Corrupt(what)
}

pub(crate) fn payload(payload: &ArchivedPayload) -> Result<(), OpenError> {
    grammar(&payload.grammar)
}

pub(crate) fn dfa(dfa: &ArchivedDfa, what: &str) -> Result<(), OpenError> {
    let n_states = dfa.n_states.to_native();
    let n_classes = dfa.n_classes.to_native();
    if n_states == 0 || n_classes == 0 || n_classes > 256 {
        return Err(corrupt(format!("{what}: {n_states} states, {n_classes} byte classes")));
    }
    if dfa.classes.len() != 256 || dfa.classes.iter().any(|&c| u32::from(c) >= n_classes) {
        return Err(corrupt(format!("{what}: malformed byte class table")));
    }
    let expected = (n_states as u64) * (n_classes as u64);
    if dfa.trans.len() as u64 != expected || dfa.flags.len() as u64 != n_states as u64 {
        return Err(corrupt(format!("{what}: transition table has {} entries, expected {expected}", dfa.trans.len())));
    }
    if dfa.start.to_native() >= n_states || dfa.trans.iter().any(|t| t.to_native() >= n_states) {
        return Err(corrupt(format!("{what}: state id out of range")));
    }
    Ok(())
}

fn grammar(g: &ArchivedCompiledGrammar) -> Result<(), OpenError> {
    let n_terminals = g.terminals.len() as u64;
    let n_rules = g.rule_names.len() as u64;
    for (i, t) in g.terminals.iter().enumerate() {
        match (&t.dfa, t.kind) {
            (rkyv::option::ArchivedOption::Some(d), ArchivedTerminalKind::Literal | ArchivedTerminalKind::Pattern) => dfa(d, &format!("terminal {i}"))?,
            (rkyv::option::ArchivedOption::None, ArchivedTerminalKind::Declared) => {}
            _ => return Err(corrupt(format!("terminal {i}: DFA presence does not match its kind"))),
        }
    }
    let lexer = &g.lexer;
    dfa(&lexer.dfa, "lexer")?;
    if lexer.accept.len() as u64 != lexer.dfa.n_states.to_native() as u64 || lexer.accept.iter().any(|a| a.to_native() != NONE && a.to_native() as u64 >= n_terminals) {
        return Err(corrupt("lexer: accept table malformed".into()));
    }
    for (i, p) in g.productions.iter().enumerate() {
        let lhs_ok = (p.lhs.raw() as u64) < n_rules;
        let rhs_ok = p.rhs.iter().all(|s| {
            let s = s.to_native();
            if s & RULE_BIT != 0 { ((s & !RULE_BIT) as u64) < n_rules } else { (s as u64) < n_terminals }
        });
        if !lhs_ok || !rhs_ok {
            return Err(corrupt(format!("production {i}: symbol out of range")));
        }
    }
    for id in g.ignore.iter() {
        if id.raw() as u64 >= n_terminals {
            return Err(corrupt("ignore list: terminal out of range".into()));
        }
    }
    let lr = &g.lr;
    let n_states = lr.n_states.to_native() as u64;
    let n_columns = lr.n_columns.to_native() as u64;
    if n_states == 0 || n_columns != n_terminals + 1 || lr.start_state.to_native() as u64 >= n_states {
        return Err(corrupt("LR table: header malformed".into()));
    }
    if lr.action.len() as u64 != n_states * n_columns || lr.goto.len() as u64 != n_states * n_rules {
        return Err(corrupt("LR table: size mismatch".into()));
    }
    let n_productions = g.productions.len() as u64;
    for a in lr.action.iter() {
        let ok = match Action::decode(a.to_native()) {
            Action::Error | Action::Accept => true,
            Action::Shift(s) => (s as u64) < n_states,
            Action::Reduce(p) => (p as u64) < n_productions,
        };
        if !ok {
            return Err(corrupt("LR table: action target out of range".into()));
        }
    }
    if lr.goto.iter().any(|s| s.to_native() != NONE && s.to_native() as u64 >= n_states) {
        return Err(corrupt("LR table: goto target out of range".into()));
    }
    if let rkyv::option::ArchivedOption::Some(ind) = &g.indentation {
        let ids = [ind.newline.raw(), ind.indent.raw(), ind.dedent.raw()];
        let all = ids.iter().copied().chain(ind.open_brackets.iter().map(|t| t.raw())).chain(ind.close_brackets.iter().map(|t| t.raw()));
        if all.into_iter().any(|t| t as u64 >= n_terminals) || ind.tab_len.to_native() == 0 {
            return Err(corrupt("indentation settings out of range".into()));
        }
    }
    if let rkyv::option::ArchivedOption::Some(semi) = &g.auto_semicolon {
        let ids = [semi.newline.raw(), semi.semicolon.raw()];
        if ids.into_iter().chain(semi.triggers.iter().map(|t| t.raw())).any(|t| t as u64 >= n_terminals) {
            return Err(corrupt("semicolon insertion settings out of range".into()));
        }
    }
    Ok(())
}
