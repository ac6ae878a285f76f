//! Stage 4: LR(1) / LALR(1) automaton and ACTION/GOTO tables.

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
}

impl Default for LrOptions {
    fn default() -> Self {
        LrOptions { mode: LrMode::Lr1, state_limit: 1_000_000 }
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

pub fn build(bnf: &Bnf, options: &LrOptions) -> Result<LrTables, LrError> {
    let _ = (bnf, options);
    Err(LrError::StateLimit { limit: 0, mode: "unimplemented" })
}

/// One located diagnostic per conflict: items, lookahead, example input, a hint.
pub fn conflict_diagnostics(bnf: &Bnf, tables: &LrTables) -> Vec<Diagnostic> {
    let _ = (bnf, tables);
    Vec::new()
}
