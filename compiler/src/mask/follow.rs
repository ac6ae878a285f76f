//! Follow(τ): the terminals whose lexeme may start right after a lexeme of τ, from the LR tables.
//!
//! For every LR state with `Shift(s')` on τ, every terminal with a non-error ACTION in `s'`
//! (immediate error detection makes that exactly the legal next terminals in lr1 mode; in lalr
//! mode it over-approximates); plus every `%ignore` terminal; plus the layout newlines (the
//! indentation newline, which may come anywhere inside brackets, and the `%auto_semicolon`
//! newline, which the runtime drops or turns into a semicolon). A declared terminal among the
//! followers (no DFA: `_INDENT`, `_DEDENT`, a declared semicolon) is replaced, transitively, by
//! the terminals acceptable after shifting it. An `%ignore` terminal and a layout newline can be
//! followed by anything: their Follow set is every terminal with a DFA (the store's
//! `after_ignore` table is read off the split entries of an ignored terminal's start state on
//! that basis). Only terminals with a DFA are returned.
//!
//! **Invariant:** over-approximation only. A missing follower makes the runtime's mask unsound;
//! an extra one only costs artifact size.

use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::TerminalId;

use crate::lr::Action;
use crate::Compiled;

/// Follow(τ) for every terminal τ (indexed by raw terminal id), as sets of terminals with a DFA.
pub(crate) fn followers(compiled: &Compiled) -> Vec<IdSet<TerminalId>> {
    let bnf = &compiled.bnf;
    let n_terminals = bnf.terminals.len();
    let has_dfa = |t: TerminalId| compiled.lexical.terminals.get(t).is_some_and(Option::is_some);
    let lr = &compiled.lr;
    let n_columns = lr.n_terminals + 1;
    // The terminal columns of an LR state's ACTION row (the end-of-input column left out).
    let row = |state: usize| lr.action.get(state * n_columns..(state + 1) * n_columns).unwrap_or(&[]);

    // Non-error terminal columns of each LR state, then `direct[τ]` as the union over the
    // targets of every shift on τ.
    let acceptable: Vec<IdSet<TerminalId>> = (0..lr.n_states)
        .map(|state| {
            let mut set = IdSet::empty(n_terminals);
            for (t, action) in bnf.terminals.ids().zip(row(state)) {
                if *action != Action::Error {
                    set.insert(t);
                }
            }
            set
        })
        .collect();
    let mut direct: Vec<IdSet<TerminalId>> = vec![IdSet::empty(n_terminals); n_terminals];
    for state in 0..lr.n_states {
        for (t, action) in bnf.terminals.ids().zip(row(state)) {
            if let Action::Shift(target) = *action {
                if let Some(next) = acceptable.get(target as usize) {
                    direct[t.as_usize()].union_with(next);
                }
            }
        }
    }

    let mut layout: Vec<TerminalId> = Vec::new();
    if let Some(ind) = &bnf.indentation {
        layout.push(ind.newline);
    }
    if let Some(semi) = &bnf.auto_semicolon {
        layout.push(semi.newline);
    }
    let mut always = IdSet::empty(n_terminals);
    for &t in bnf.ignore.iter().chain(&layout) {
        always.insert(t);
    }
    let mut with_dfa = IdSet::empty(n_terminals);
    for t in bnf.terminals.ids().filter(|&t| has_dfa(t)) {
        with_dfa.insert(t);
    }

    bnf.terminals
        .ids()
        .map(|t| {
            let anything = bnf.ignore.iter().chain(&layout).any(|&x| x == t);
            if anything {
                return with_dfa.clone();
            }
            let mut set = direct[t.as_usize()].clone();
            set.union_with(&always);
            // Declared terminals stand for what may follow them, transitively.
            let mut expanded = IdSet::empty(n_terminals);
            let mut work: Vec<TerminalId> = set.iter().filter(|&f| !has_dfa(f)).collect();
            while let Some(declared) = work.pop() {
                if !expanded.insert(declared) {
                    continue;
                }
                for f in direct[declared.as_usize()].iter() {
                    if set.insert(f) && !has_dfa(f) {
                        work.push(f);
                    }
                }
                // A declared terminal that is shifted may itself be followed by what the
                // grammar allows after it, and by ignored text.
                set.union_with(&always);
            }
            set.intersect_with(&with_dfa);
            set
        })
        .collect()
}
