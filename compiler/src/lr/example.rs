//! Shortest terminal sentences per rule, for conflict examples.
//!
//! The length of a shortest sentence of each rule is a least fixpoint (a rule's cost is the
//! minimum over its productions of the sum of its symbols' costs, a terminal costing 1),
//! computed by iterating until stable; each rule remembers the production that first achieved
//! its final cost (lowest production id on ties). Because a rule's choice is only replaced by
//! a strictly cheaper one, the chosen productions never form a cycle, so expansion terminates;
//! it is capped anyway so that a malformed [`Bnf`] cannot make it run away.

use crate::lower::{Bnf, Symbol};
use syncodec_artifacts::ids::ProductionId;

/// Expansion stops after this many output symbols.
const MAX_EXPANSION: usize = 200;

/// A shortest sentence for every productive rule.
#[derive(Debug, Clone)]
pub struct MinSentences {
    /// Per rule: length of a shortest sentence (`None`: unproductive).
    cost: Vec<Option<usize>>,
    /// Per rule: the production used to build it.
    choice: Vec<Option<ProductionId>>,
}

impl MinSentences {
    pub fn compute(bnf: &Bnf) -> MinSentences {
        let n_rules = bnf.rules.len();
        let mut cost: Vec<Option<usize>> = vec![None; n_rules];
        let mut choice = vec![None; n_rules];
        let mut changed = true;
        while changed {
            changed = false;
            for (id, production) in bnf.productions.iter() {
                let mut total = Some(0usize);
                for symbol in &production.rhs {
                    let c = match *symbol {
                        Symbol::Terminal(_) => Some(1),
                        Symbol::Rule(r) => cost.get(r.as_usize()).copied().flatten(),
                    };
                    total = total.zip(c).map(|(a, b)| a.saturating_add(b));
                }
                let lhs = production.lhs.as_usize();
                if let (Some(total), Some(current)) = (total, cost.get(lhs)) {
                    let better = match current {
                        None => true,
                        Some(c) => total < *c,
                    };
                    if better {
                        cost[lhs] = Some(total);
                        choice[lhs] = Some(id);
                        changed = true;
                    }
                }
            }
        }
        MinSentences { cost, choice }
    }

    /// Length of a shortest sentence of a rule (`None`: the rule derives no sentence).
    pub fn min_len(&self, rule: syncodec_artifacts::ids::RuleId) -> Option<usize> {
        self.cost.get(rule.as_usize()).copied().flatten()
    }

    /// Replaces every rule in `symbols` by a shortest sentence. Rules that derive nothing are
    /// kept as they are; the output is cut after a fixed number of symbols.
    pub fn expand(&self, bnf: &Bnf, symbols: &[Symbol]) -> Vec<Symbol> {
        let mut out = Vec::new();
        let mut stack: Vec<Symbol> = symbols.iter().rev().copied().collect();
        while let Some(symbol) = stack.pop() {
            if out.len() >= MAX_EXPANSION {
                break;
            }
            match symbol {
                Symbol::Terminal(_) => out.push(symbol),
                Symbol::Rule(r) => match self.choice.get(r.as_usize()).copied().flatten().and_then(|p| bnf.productions.get(p)) {
                    Some(production) if stack.len() < 100_000 => stack.extend(production.rhs.iter().rev().copied()),
                    _ => out.push(symbol),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::items::tests::{bnf, tokens};
    use super::*;

    #[test]
    fn shortest_sentences_prefer_fewer_terminals() {
        let g = bnf(&[
            ("s", &["e", ";"]),
            ("e", &["e", "+", "t"]),
            ("e", &["t"]),
            ("t", &["(", "e", ")"]),
            ("t", &["N"]),
            ("u", &[]),
            ("s", &["u", "u", "M", "M", "M"]),
        ]);
        let m = MinSentences::compute(&g);
        let terminals: Vec<Symbol> = tokens(&g, "N ;").into_iter().map(Symbol::Terminal).collect();
        assert_eq!(m.expand(&g, &[Symbol::Rule(g.start)]), terminals);
        assert_eq!(m.min_len(syncodec_artifacts::ids::RuleId::must(3)), Some(0));
    }

    #[test]
    fn unproductive_rules_are_kept_as_rules() {
        let g = bnf(&[("s", &["X"]), ("loop", &["loop", "X"])]);
        let m = MinSentences::compute(&g);
        let r = Symbol::Rule(syncodec_artifacts::ids::RuleId::must(1));
        assert_eq!(m.expand(&g, &[r]), vec![r]);
    }
}
