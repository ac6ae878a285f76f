//! Stage 4: LR(1) / LALR(1) automaton and ACTION/GOTO tables.
//!
//! [`build`] turns a [`Bnf`] into [`LrTables`]; [`conflict_diagnostics`] renders the conflicts
//! it found. The pipeline, one file per step:
//!
//! | file | owns |
//! |------|------|
//! | `items.rs` | the augmented grammar in flat form (`S' -> start` added internally, never to the [`Bnf`]); LR(0) items as `u32`; lookahead bitsets |
//! | `first_follow.rs` | nullable rules, FIRST per rule and per item suffix (FOLLOW for tests) |
//! | `cores.rs` | the LR(0) automaton; per core its closure rules and how lookaheads flow (spontaneous + propagated from kernel items) |
//! | `canonical.rs` | canonical LR(1) states (Knuth 1965) as core + kernel lookaheads, interned by hash |
//! | `lalr.rs` | LALR(1) lookaheads by propagation to a fixpoint on the LR(0) automaton (DeRemer 1969; Aho–Sethi–Ullman §4.7) |
//! | `table.rs` | ACTION/GOTO, conflict detection, table accessors, [`LrSummary`] |
//! | `example.rs` | shortest sentences per rule ([`MinSentences`]) for examples |
//! | `conflict.rs` | conflicts as [`Diagnostic`]s |
//! | `driver.rs` | a plain LR parser over the tables, a test and debug aid ([`recognizes`]) |
//!
//! # Invariants
//!
//! * **No default reductions.** A reduce action appears only on the lookaheads of its item.
//! * **Immediate error detection in lr1 mode.** Canonical LR(1) states are not merged, so in
//!   every state the columns with a non-error action are exactly the terminals (and end of
//!   input) that may legally come next: no reduction is ever made on a terminal that is then
//!   rejected. LALR(1) tables never *shift* an erroneous terminal, but may reduce before
//!   detecting it. (Merging canonical states with equal cores where no conflict arises is
//!   allowed by the design but not done: it is not needed for the sizes seen so far.)
//! * **Accept** is on the End column of `goto(start_state, start)` and nowhere else: the
//!   runtime stops when the action on End is `Accept`. See `table.rs` for the full encoding.
//! * **Determinism.** States are numbered breadth-first from the start state, successors in
//!   symbol order (terminals by id, then rules by id); no hash-map iteration order leaks into
//!   the output, so the tables are byte-identical across runs.
//! * **Conflicts are data.** They are never resolved by precedence; each conflicting cell keeps
//!   one action (shift over reduce, accept over reduce, else the lowest production) and is
//!   listed in [`LrTables::conflicts`]. Conflicts are errors, except shift/reduce ones under
//!   [`LrOptions::prefer_shift`] (Lark's own default), which are warnings.

mod canonical;
mod conflict;
mod cores;
pub mod driver;
mod example;
mod first_follow;
mod items;
mod lalr;
mod table;
#[cfg(test)]
mod tests;

pub use conflict::{example_text, format_column, format_item};
pub use driver::recognizes;
pub use example::MinSentences;
pub use table::LrSummary;

use crate::diagnostics::Diagnostic;
use crate::lower::{Bnf, Symbol};
use syncodec_artifacts::ids::{LrStateId, ProductionId, TerminalId};
pub use syncodec_artifacts::schema::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LrMode {
    /// Canonical LR(1).
    #[default]
    Lr1,
    /// LALR(1): LR(0) cores with merged lookaheads.
    Lalr,
}

impl LrMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LrMode::Lr1 => "lr1",
            LrMode::Lalr => "lalr",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LrOptions {
    pub mode: LrMode,
    /// Largest automaton allowed (states).
    pub state_limit: usize,
    /// Shift/reduce conflicts are resolved as shift (the table always keeps the shift) and
    /// reported as warnings instead of errors: Lark's LALR parser does this unless `strict`.
    pub prefer_shift: bool,
}

impl Default for LrOptions {
    fn default() -> Self {
        LrOptions { mode: LrMode::Lr1, state_limit: 1_000_000, prefer_shift: false }
    }
}

/// An ACTION column: a terminal or the end of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Terminal(TerminalId),
    End,
}

/// An LR item `lhs -> rhs[..dot] • rhs[dot..]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Item {
    pub production: ProductionId,
    pub dot: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    ShiftReduce,
    ReduceReduce,
}

/// A conflict, as data; [`conflict_diagnostics`] renders it.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub state: LrStateId,
    pub lookahead: Column,
    pub kind: ConflictKind,
    /// The items of `state` involved (the reduce items, and the shift items for shift/reduce).
    pub items: Vec<Item>,
    /// A shortest sequence of symbols from the start that reaches `state`.
    pub example: Vec<Symbol>,
}

/// The LR tables. No default reductions.
#[derive(Debug, Clone)]
pub struct LrTables {
    pub mode: LrMode,
    pub n_states: usize,
    pub n_terminals: usize,
    pub n_rules: usize,
    pub start_state: LrStateId,
    /// `n_states * (n_terminals + 1)` row-major; the last column is the end of input.
    pub action: Vec<Action>,
    /// `n_states * n_rules` row-major.
    pub goto: Vec<Option<LrStateId>>,
    /// Empty for a conflict-free grammar.
    pub conflicts: Vec<Conflict>,
}

/// Why the tables could not be built at all (conflicts are not errors here: see [`LrTables::conflicts`]).
#[derive(Debug, thiserror::Error)]
pub enum LrError {
    #[error("the LR automaton exceeds {limit} states (mode {mode})")]
    StateLimit { limit: usize, mode: &'static str },
    #[error("{0}")]
    Overflow(#[from] syncodec_artifacts::ids::IdOverflow),
}

/// Builds the LR automaton of `options.mode` and its tables.
///
/// # Errors
/// [`LrError::StateLimit`] when the automaton (or its LR(0) core automaton) would exceed
/// `options.state_limit` states; [`LrError::Overflow`] when an id of the [`Bnf`] is out of
/// range or a count does not fit in the table encoding. Conflicts are not errors.
///
/// This routine never panics for a [`Bnf`] whose ids are in range, and reports ids out of range.
pub fn build(bnf: &Bnf, options: &LrOptions) -> Result<LrTables, LrError> {
    let limit_error = || LrError::StateLimit { limit: options.state_limit, mode: options.mode.as_str() };
    let grammar = items::Grammar::from_bnf(bnf)?;
    let first = first_follow::FirstSets::compute(&grammar);
    let lr0 = cores::Lr0::build(&grammar, &first, options.state_limit).map_err(|_| limit_error())?;
    let automaton = match options.mode {
        LrMode::Lr1 => canonical::build(&grammar, &lr0, options.state_limit).map_err(|_| limit_error())?,
        LrMode::Lalr => lalr::build(&grammar, &lr0),
    };
    let priority: Vec<i32> = bnf.productions.values().map(|p| bnf.rules.get(p.lhs).map_or(0, |r| r.priority)).collect();
    table::build_tables(&grammar, &lr0, &automaton, options.mode, &priority)
}

/// One located diagnostic per conflict: items, lookahead, example input, a hint. An error, except
/// a shift/reduce conflict under `prefer_shift` ([`LrOptions::prefer_shift`]): a warning.
pub fn conflict_diagnostics(bnf: &Bnf, tables: &LrTables, prefer_shift: bool) -> Vec<Diagnostic> {
    conflict::diagnostics(bnf, tables, prefer_shift)
}
