//! ACTION/GOTO tables from an automaton, conflict detection, and table accessors.
//!
//! **Encoding.** `action[state * (n_terminals + 1) + column]`, column `t` for terminal `t` and
//! column `n_terminals` for the end of input; `goto[state * n_rules + rule]`.
//!
//! * Shift on terminal `t` to the successor on `t`; GOTO on rule `r` to the successor on `r`.
//! * Reduce by production `p` exactly on the lookaheads of the completed item `p •`: there are
//!   **no default reductions**, so in lr1 mode a cell is non-error iff its terminal may legally
//!   come next (immediate error detection).
//! * **Accept** replaces the reduction of the internal augmented production `S' -> start •`.
//!   That item occurs in exactly one state, the successor of the start state on the start rule
//!   (`goto(start_state, start)`), and only with the end-of-input lookahead, so that state has
//!   `Accept` in its End column. The runtime's rule is: on End, an `Accept` action means the
//!   input is complete; `Accept` never appears in a terminal column.
//!
//! **Conflicts** are recorded, never resolved by precedence. The cell keeps one action so the
//! table stays well formed: a shift beats a reduce (as yacc does), `Accept` beats a reduce, and
//! among reduces the lowest production id wins. One resolution is Lark's and not a conflict:
//! when one of a cell's reduces belongs to a rule of strictly higher priority (`rule.2:`) than
//! all the others, it takes the cell (against a shift it is still a shift/reduce conflict). A cell's conflict lists every reduce item
//! and, for shift/reduce, every item of the state with the lookahead after its dot.

use super::canonical::Automaton;
use super::cores::{resolve, Lr0};
use super::items::{bits, Grammar};
use super::{Action, Column, Conflict, ConflictKind, LrError, LrMode, LrTables};
use crate::lower::Symbol;
use syncodec_artifacts::ids::{IdOverflow, LrStateId, RuleId, TerminalId};

/// `priority[p]`: the rule priority of production `p` (a missing entry counts as 0).
pub(crate) fn build_tables(g: &Grammar, lr0: &Lr0, a: &Automaton, mode: LrMode, priority: &[i32]) -> Result<LrTables, LrError> {
    let n_states = a.n_states();
    let limit = Action::MAX_OPERAND as usize + 1;
    if n_states > limit {
        return Err(LrError::Overflow(IdOverflow { kind: "LrStateId", value: n_states, limit }));
    }
    let n_terminals = g.n_terminals as usize;
    let n_rules = g.n_rules as usize;
    let n_columns = n_terminals + 1;
    let end = g.end_column();
    let mut action = vec![Action::Error; n_states * n_columns];
    let mut goto = vec![None; n_states * n_rules];
    let mut conflicts = Vec::new();
    let mut derived = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();

    for state in 0..n_states {
        let core = &lr0.cores[a.core[state] as usize];
        let kernel_la = a.kernel_lookaheads(lr0, state);
        core.derive(a.words, kernel_la, &mut derived);
        let row = &mut action[state * n_columns..(state + 1) * n_columns];
        for (transition, &target) in core.transitions.iter().zip(a.successors(state)) {
            if g.is_terminal(transition.symbol) {
                row[transition.symbol as usize] = Action::Shift(target);
            } else {
                goto[state * n_rules + g.rule_of(transition.symbol) as usize] = Some(LrStateId::from_raw(target));
            }
        }
        // The augmented production first, so that Accept is kept over a conflicting reduce.
        let ordered = core.reduces.iter().filter(|r| r.production == g.augmented()).chain(core.reduces.iter().filter(|r| r.production != g.augmented()));
        pending.clear();
        for reduce in ordered {
            let lookahead = resolve(reduce.source, a.words, kernel_la, &derived);
            let new = if reduce.production == g.augmented() { Action::Accept } else { Action::Reduce(reduce.production) };
            for column in bits(lookahead) {
                if new == Action::Accept && column != end {
                    continue;
                }
                let cell = &mut row[column as usize];
                if *cell == Action::Error {
                    *cell = new;
                    continue;
                }
                let index = match pending.iter().position(|p| p.column == column) {
                    Some(index) => index,
                    None => {
                        let mut p = Pending { column, shift: false, reduces: Vec::new() };
                        match *cell {
                            Action::Shift(_) => p.shift = true,
                            Action::Reduce(q) => p.reduces.push(q),
                            Action::Accept | Action::Error => {}
                        }
                        pending.push(p);
                        pending.len() - 1
                    }
                };
                if let Action::Reduce(p) = new {
                    pending[index].reduces.push(p);
                }
            }
        }
        pending.sort_unstable_by_key(|p| p.column);
        // Lark's rule: among the reduces of one cell, a production whose rule has a strictly
        // higher priority than every other wins. A shift still beats it (shift/reduce conflict).
        pending.retain_mut(|p| {
            let cell = &mut row[p.column as usize];
            if p.reduces.len() < 2 || *cell == Action::Accept {
                return true;
            }
            let prio = |prod: u32| priority.get(prod as usize).copied().unwrap_or(0);
            let best = p.reduces.iter().copied().max_by_key(|&q| prio(q)).unwrap_or(p.reduces[0]);
            if p.reduces.iter().any(|&q| q != best && prio(q) >= prio(best)) {
                return true; // no unique winner: still a reduce/reduce conflict
            }
            p.reduces = vec![best];
            if p.shift {
                return true;
            }
            *cell = Action::Reduce(best);
            false
        });
        for p in &pending {
            let mut items: Vec<super::Item> = p.reduces.iter().map(|&prod| g.public_item(g.first_item(prod) + g.rhs(prod).len() as u32)).collect();
            if p.shift {
                items.extend(core.closure_items(g).filter(|&i| g.next_symbol(i) == Some(p.column)).map(|i| g.public_item(i)));
            }
            conflicts.push(Conflict {
                state: LrStateId::from_raw(state as u32),
                lookahead: if p.column == end { Column::End } else { Column::Terminal(TerminalId::from_raw(p.column)) },
                kind: if p.shift { ConflictKind::ShiftReduce } else { ConflictKind::ReduceReduce },
                items,
                example: path_to(g, a, state),
            });
        }
    }
    Ok(LrTables {
        mode,
        n_states,
        n_terminals,
        n_rules,
        start_state: LrStateId::from_raw(0),
        action,
        goto,
        conflicts,
    })
}

/// A conflicting cell found while filling one row.
struct Pending {
    column: u32,
    shift: bool,
    /// Reduce productions in the order they claimed the cell (the first one is kept).
    reduces: Vec<u32>,
}

/// The symbols along the BFS tree from the start state to `state`: a shortest path.
fn path_to(g: &Grammar, a: &Automaton, state: usize) -> Vec<Symbol> {
    let mut symbols = Vec::new();
    let mut current = state;
    while let Some((parent, symbol)) = a.parent[current] {
        symbols.push(g.public_symbol(symbol));
        current = parent as usize;
    }
    symbols.reverse();
    symbols
}

/// Counts for reports and snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrSummary {
    pub mode: LrMode,
    pub n_states: usize,
    pub n_shift_reduce: usize,
    pub n_reduce_reduce: usize,
}

impl std::fmt::Display for LrSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} states ({}), {} shift/reduce and {} reduce/reduce conflicts",
            self.n_states,
            self.mode.as_str(),
            self.n_shift_reduce,
            self.n_reduce_reduce
        )
    }
}

impl LrTables {
    /// Number of ACTION columns: `n_terminals + 1` (the last one is the end of input).
    pub fn n_columns(&self) -> usize {
        self.n_terminals + 1
    }

    /// The ACTION column index of `column`.
    pub fn column_index(&self, column: Column) -> usize {
        match column {
            Column::Terminal(t) => t.as_usize(),
            Column::End => self.n_terminals,
        }
    }

    /// The column at an index (`n_terminals` is the end of input).
    pub fn column_at(&self, index: usize) -> Column {
        if index >= self.n_terminals {
            Column::End
        } else {
            Column::Terminal(TerminalId::from_raw(index as u32))
        }
    }

    /// The ACTION row of a state (`n_columns()` entries); empty for an unknown state.
    pub fn row(&self, state: LrStateId) -> &[Action] {
        let n = self.n_columns();
        self.action.get(state.as_usize() * n..(state.as_usize() + 1) * n).unwrap_or(&[])
    }

    /// The action in a cell; `Error` for a state or terminal out of range.
    pub fn action(&self, state: LrStateId, column: Column) -> Action {
        match column {
            Column::Terminal(t) if t.as_usize() >= self.n_terminals => Action::Error,
            _ => self.row(state).get(self.column_index(column)).copied().unwrap_or(Action::Error),
        }
    }

    /// The GOTO entry; `None` when absent or out of range.
    pub fn goto(&self, state: LrStateId, rule: RuleId) -> Option<LrStateId> {
        if rule.as_usize() >= self.n_rules {
            return None;
        }
        self.goto.get(state.as_usize() * self.n_rules + rule.as_usize()).copied().flatten()
    }

    /// The columns with a non-error action in `state`, in column order. In lr1 mode this is
    /// exactly the set of terminals (and end of input) that may legally come next.
    pub fn expected(&self, state: LrStateId) -> Vec<Column> {
        self.row(state)
            .iter()
            .enumerate()
            .filter(|(_, a)| **a != Action::Error)
            .map(|(i, _)| self.column_at(i))
            .collect()
    }

    pub fn n_conflicts(&self) -> usize {
        self.conflicts.len()
    }

    pub fn summary(&self) -> LrSummary {
        let n_shift_reduce = self.conflicts.iter().filter(|c| c.kind == ConflictKind::ShiftReduce).count();
        LrSummary { mode: self.mode, n_states: self.n_states, n_shift_reduce, n_reduce_reduce: self.conflicts.len() - n_shift_reduce }
    }
}
