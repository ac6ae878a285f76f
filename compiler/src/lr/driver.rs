//! A plain LR driver over the tables, as a test and debugging aid (the runtime has its own).
//!
//! It parses a sequence of terminals (no lexer, no `%ignore` handling) with the ACTION/GOTO
//! tables and the production lengths of the [`Bnf`]. It never panics: malformed tables make it
//! return `false` (or stop at an error state).

use super::{Action, Column, LrTables};
use crate::lower::Bnf;
use syncodec_artifacts::ids::{LrStateId, ProductionId, TerminalId};

/// Whether `input` is a sentence of the grammar according to `tables`.
pub fn recognizes(tables: &LrTables, bnf: &Bnf, input: &[TerminalId]) -> bool {
    matches!(run(tables, bnf, input), Outcome::Accepted)
}

/// How a parse ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// An error action on the lookahead at this input position (`input.len()` for end of input).
    Rejected { position: usize },
    /// The tables or the grammar are inconsistent (a missing GOTO, a bad production id, or a
    /// runaway chain of reductions).
    Malformed,
}

/// Parses `input` and reports where it stopped.
pub fn run(tables: &LrTables, bnf: &Bnf, input: &[TerminalId]) -> Outcome {
    let mut stack = vec![tables.start_state];
    match feed(tables, bnf, &mut stack, input) {
        Err(outcome) => outcome,
        Ok(()) => match reduce_until_shift(tables, bnf, &mut stack, Column::End) {
            Ok(Action::Accept) => Outcome::Accepted,
            Ok(_) => Outcome::Rejected { position: input.len() },
            Err(outcome) => outcome,
        },
    }
}

/// Shifts every terminal of `input` onto `stack` (performing reductions as needed).
pub fn feed(tables: &LrTables, bnf: &Bnf, stack: &mut Vec<LrStateId>, input: &[TerminalId]) -> Result<(), Outcome> {
    for (position, &terminal) in input.iter().enumerate() {
        match reduce_until_shift(tables, bnf, stack, Column::Terminal(terminal))? {
            Action::Shift(target) => stack.push(LrStateId::from_raw(target)),
            _ => return Err(Outcome::Rejected { position }),
        }
    }
    Ok(())
}

/// Performs the reductions the lookahead calls for and returns the first non-reduce action
/// (`Shift`, `Accept` or `Error`), leaving the stack ready for it.
pub fn reduce_until_shift(tables: &LrTables, bnf: &Bnf, stack: &mut Vec<LrStateId>, lookahead: Column) -> Result<Action, Outcome> {
    // Each reduction either shrinks the stack or (for an empty production) is followed by
    // another state; a conflict-free table cannot loop, but bound it for malformed input.
    let mut budget = 64 * (stack.len() + tables.n_states + 16);
    loop {
        let state = *stack.last().ok_or(Outcome::Malformed)?;
        match tables.action(state, lookahead) {
            Action::Reduce(p) => {
                budget = budget.checked_sub(1).ok_or(Outcome::Malformed)?;
                let production = bnf.productions.get(ProductionId::from_raw(p)).ok_or(Outcome::Malformed)?;
                let keep = stack.len().checked_sub(production.rhs.len()).filter(|&k| k >= 1).ok_or(Outcome::Malformed)?;
                stack.truncate(keep);
                let top = *stack.last().ok_or(Outcome::Malformed)?;
                let target = tables.goto(top, production.lhs).ok_or(Outcome::Malformed)?;
                stack.push(target);
            }
            other => return Ok(other),
        }
    }
}
