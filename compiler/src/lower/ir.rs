//! The working form of lowering: rules and terminals by plain index, before the reachable part
//! is numbered with typed ids into a [`super::Bnf`].
//!
//! **Invariant:** every [`Sym`] indexes into the [`Ir`] it belongs to.

use super::bnf::{Pattern, TerminalKind};
use crate::diagnostics::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Sym {
    Term(usize),
    Rule(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Term {
    pub name: String,
    pub display: String,
    pub pattern: Option<Pattern>,
    pub priority: i32,
    pub kind: TerminalKind,
    pub span: Span,
    /// Symbol-table entry of a named terminal; `None` for anonymous ones.
    pub entry: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Prod {
    pub rhs: Vec<Sym>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct IrRule {
    pub name: String,
    pub span: Span,
    pub generated: bool,
    /// Lark rule priority (`name.2:`); 0 when not given and for lowering's rules.
    pub priority: i32,
    /// Symbol-table entry of a source rule (or template instance); `None` for lowering's rules.
    pub entry: Option<usize>,
    pub prods: Vec<Prod>,
}

#[derive(Debug, Default)]
pub(crate) struct Ir {
    pub terms: Vec<Term>,
    pub rules: Vec<IrRule>,
    /// `%ignore`d terminals, in statement order, without repeats.
    pub ignore: Vec<usize>,
}
