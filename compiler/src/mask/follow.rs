//! Follow(τ): the terminals whose lexeme may start right after a lexeme of τ, from the LR tables.
//!
//! For every LR state with `Shift(s')` on τ, every terminal with a non-error ACTION in `s'`
//! (immediate error detection makes that exactly the legal next terminals in lr1 mode; in lalr
//! mode it over-approximates); plus every `%ignore` terminal; plus the layout newlines (the
//! indentation newline, which may come anywhere inside brackets, and the `%auto_semicolon`
//! newline, which the runtime drops or turns into a semicolon). A declared terminal among the
//! followers (no DFA: `_INDENT`, `_DEDENT`, a declared semicolon) is replaced, transitively, by
//! the terminals acceptable after shifting it. An `%ignore` terminal and a layout newline can be
//! followed by anything. Only terminals with a DFA are returned.
//!
//! **Invariant:** over-approximation only. A missing follower makes the runtime's mask unsound;
//! an extra one only costs artifact size.

use syncodec_artifacts::ids::TerminalId;

use crate::lr::Action;
use crate::Compiled;

use super::termset::TermSet;

/// Follow(τ) for every terminal τ (indexed by raw terminal id), as sets of terminals with a DFA.
pub(crate) fn followers(compiled: &Compiled) -> Vec<TermSet> {
    let n_terminals = compiled.bnf.terminals.len();
    let has_dfa: Vec<bool> = compiled.lexical.terminals.values().map(Option::is_some).collect();
    let lr = &compiled.lr;
    let n_columns = lr.n_terminals + 1;

    // Non-error terminal columns of each LR state, then `direct[τ]` as the union over the
    // targets of every shift on τ.
    let acceptable: Vec<TermSet> = (0..lr.n_states)
        .map(|state| {
            let row = lr.action.get(state * n_columns..(state + 1) * n_columns).unwrap_or(&[]);
            let mut set = TermSet::empty(n_terminals);
            for (t, action) in row.iter().enumerate().take(n_terminals) {
                if *action != Action::Error {
                    set.insert(t);
                }
            }
            set
        })
        .collect();
    let mut direct: Vec<TermSet> = vec![TermSet::empty(n_terminals); n_terminals];
    for state in 0..lr.n_states {
        let row = lr.action.get(state * n_columns..(state + 1) * n_columns).unwrap_or(&[]);
        for (t, action) in row.iter().enumerate().take(n_terminals) {
            if let Action::Shift(target) = *action {
                if let Some(next) = acceptable.get(target as usize) {
                    direct[t].union_with(next);
                }
            }
        }
    }

    let bnf = &compiled.bnf;
    let mut layout: Vec<TerminalId> = Vec::new();
    if let Some(ind) = &bnf.indentation {
        layout.push(ind.newline);
    }
    if let Some(semi) = &bnf.auto_semicolon {
        layout.push(semi.newline);
    }
    let mut always = TermSet::empty(n_terminals);
    for t in bnf.ignore.iter().chain(&layout) {
        always.insert(t.as_usize());
    }
    let mut with_dfa = TermSet::empty(n_terminals);
    for (t, has) in has_dfa.iter().enumerate() {
        if *has {
            with_dfa.insert(t);
        }
    }

    (0..n_terminals)
        .map(|t| {
            let anything = bnf.ignore.iter().chain(&layout).any(|x| x.as_usize() == t);
            if anything {
                return with_dfa.clone();
            }
            let mut set = direct[t].clone();
            set.union_with(&always);
            // Declared terminals stand for what may follow them, transitively.
            let mut expanded = TermSet::empty(n_terminals);
            let mut work: Vec<usize> = set.iter().filter(|&f| !has_dfa[f]).collect();
            while let Some(declared) = work.pop() {
                if !expanded.insert(declared) {
                    continue;
                }
                for f in direct[declared].iter() {
                    if set.insert(f) && !has_dfa[f] {
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
