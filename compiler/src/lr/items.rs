//! The augmented grammar in flat, index-based form, and the encoding of LR(0) items.
//!
//! Everything downstream in `lr/` works on this [`Grammar`] rather than on [`Bnf`]: symbols are
//! dense `u32` codes (terminal `t` is `t`, rule `r` is `n_terminals + r`), right-hand sides live
//! in one flat vector, and an LR(0) item `(production, dot)` is one `u32`
//! (`item_base[production] + dot`), so that item sets are plain sorted `Vec<u32>`s.
//!
//! The augmented production `S' -> start` gets the index `n_productions` (one past the last
//! production of the [`Bnf`]); its left-hand side is the pseudo-rule `n_rules`. It is never added
//! to the [`Bnf`] and never appears in the output tables: reducing it is the Accept action.
//!
//! Also here: the lookahead bitsets. A lookahead set is `words` `u64`s over the ACTION columns
//! (`0..n_terminals` for terminals, `n_terminals` for the end of input).

use super::LrError;
use crate::lower::{Bnf, Symbol};
use syncodec_artifacts::ids::{IdOverflow, ProductionId, RuleId, TerminalId};

/// The augmented grammar (see the module docs for the encoding).
#[derive(Debug, Clone)]
pub(crate) struct Grammar {
    pub(crate) n_terminals: u32,
    pub(crate) n_rules: u32,
    /// Productions of the [`Bnf`]; the augmented production is number `n_productions`.
    pub(crate) n_productions: u32,
    /// Words per lookahead bitset (`n_terminals + 1` bits).
    pub(crate) words: usize,
    pub(crate) start_rule: u32,
    /// Per production (augmented one included): left-hand side rule (`n_rules` for `S'`).
    lhs: Vec<u32>,
    /// Flat right-hand sides; production `p` is `rhs[rhs_start[p]..rhs_start[p + 1]]`.
    rhs: Vec<u32>,
    rhs_start: Vec<u32>,
    /// Per rule: its productions in id order.
    rule_productions: Vec<Vec<u32>>,
    /// Per production: the item id of `(p, 0)`; one sentinel entry at the end.
    item_base: Vec<u32>,
    /// Per item: its production.
    item_production: Vec<u32>,
}

impl Grammar {
    /// Flattens and augments `bnf`, checking that every id is in range and every count fits in
    /// the `u32` encodings used by the tables.
    pub(crate) fn from_bnf(bnf: &Bnf) -> Result<Grammar, LrError> {
        let overflow = |kind: &'static str, value: usize, limit: usize| LrError::Overflow(IdOverflow { kind, value, limit });
        // Leave plenty of head room: symbol codes add terminals and rules, item ids add lengths.
        let max = (super::Action::MAX_OPERAND as usize) / 4;
        let n_terminals = bnf.terminals.len();
        let n_rules = bnf.rules.len();
        let n_productions = bnf.productions.len();
        if n_terminals > max {
            return Err(overflow("TerminalId", n_terminals, max));
        }
        if n_rules > max {
            return Err(overflow("RuleId", n_rules, max));
        }
        if n_productions > max {
            return Err(overflow("ProductionId", n_productions, max));
        }
        let start_rule = bnf.start.as_usize();
        if start_rule >= n_rules {
            return Err(overflow("RuleId", start_rule, n_rules));
        }
        let mut lhs = Vec::with_capacity(n_productions + 1);
        let mut rhs = Vec::new();
        let mut rhs_start = Vec::with_capacity(n_productions + 2);
        let mut rule_productions = vec![Vec::new(); n_rules];
        for (index, production) in bnf.productions.values().enumerate() {
            let rule = production.lhs.as_usize();
            if rule >= n_rules {
                return Err(overflow("RuleId", rule, n_rules));
            }
            lhs.push(rule as u32);
            rule_productions[rule].push(index as u32);
            rhs_start.push(rhs.len() as u32);
            for &symbol in &production.rhs {
                let code = match symbol {
                    Symbol::Terminal(t) if t.as_usize() < n_terminals => t.as_usize(),
                    Symbol::Terminal(t) => return Err(overflow("TerminalId", t.as_usize(), n_terminals)),
                    Symbol::Rule(r) if r.as_usize() < n_rules => n_terminals + r.as_usize(),
                    Symbol::Rule(r) => return Err(overflow("RuleId", r.as_usize(), n_rules)),
                };
                rhs.push(code as u32);
            }
            if rhs.len() > max {
                return Err(overflow("ProductionId", rhs.len(), max));
            }
        }
        // The augmented production `S' -> start`.
        lhs.push(n_rules as u32);
        rhs_start.push(rhs.len() as u32);
        rhs.push((n_terminals + start_rule) as u32);
        rhs_start.push(rhs.len() as u32);

        let mut item_base = Vec::with_capacity(n_productions + 2);
        let mut item_production = Vec::with_capacity(rhs.len() + n_productions + 1);
        for p in 0..=n_productions {
            item_base.push(item_production.len() as u32);
            let len = (rhs_start[p + 1] - rhs_start[p]) as usize;
            item_production.resize(item_production.len() + len + 1, p as u32);
        }
        item_base.push(item_production.len() as u32);

        Ok(Grammar {
            n_terminals: n_terminals as u32,
            n_rules: n_rules as u32,
            n_productions: n_productions as u32,
            words: (n_terminals + 1).div_ceil(64),
            start_rule: start_rule as u32,
            lhs,
            rhs,
            rhs_start,
            rule_productions,
            item_base,
            item_production,
        })
    }

    /// The augmented production `S' -> start`.
    pub(crate) fn augmented(&self) -> u32 {
        self.n_productions
    }

    /// The ACTION column of the end of input.
    pub(crate) fn end_column(&self) -> u32 {
        self.n_terminals
    }

    pub(crate) fn n_items(&self) -> usize {
        self.item_production.len()
    }

    pub(crate) fn is_terminal(&self, symbol: u32) -> bool {
        symbol < self.n_terminals
    }

    /// The rule of a rule symbol code (`symbol >= n_terminals`).
    pub(crate) fn rule_of(&self, symbol: u32) -> u32 {
        symbol - self.n_terminals
    }

    #[cfg(test)]
    pub(crate) fn rule_symbol(&self, rule: u32) -> u32 {
        self.n_terminals + rule
    }

    pub(crate) fn lhs(&self, production: u32) -> u32 {
        self.lhs[production as usize]
    }

    pub(crate) fn rhs(&self, production: u32) -> &[u32] {
        let p = production as usize;
        &self.rhs[self.rhs_start[p] as usize..self.rhs_start[p + 1] as usize]
    }

    pub(crate) fn productions_of(&self, rule: u32) -> &[u32] {
        self.rule_productions.get(rule as usize).map_or(&[], Vec::as_slice)
    }

    /// The item `(production, 0)`.
    pub(crate) fn first_item(&self, production: u32) -> u32 {
        self.item_base[production as usize]
    }

    pub(crate) fn item_production(&self, item: u32) -> u32 {
        self.item_production[item as usize]
    }

    pub(crate) fn item_dot(&self, item: u32) -> u32 {
        item - self.item_base[self.item_production(item) as usize]
    }

    /// The symbol after the dot, or `None` for a completed item.
    pub(crate) fn next_symbol(&self, item: u32) -> Option<u32> {
        let p = self.item_production(item);
        self.rhs(p).get(self.item_dot(item) as usize).copied()
    }

    /// The public form of an item of a real (not augmented) production.
    pub(crate) fn public_item(&self, item: u32) -> super::Item {
        super::Item { production: ProductionId::from_raw(self.item_production(item)), dot: self.item_dot(item) }
    }

    /// The public form of a symbol code.
    pub(crate) fn public_symbol(&self, symbol: u32) -> Symbol {
        if self.is_terminal(symbol) {
            Symbol::Terminal(TerminalId::from_raw(symbol))
        } else {
            Symbol::Rule(RuleId::from_raw(self.rule_of(symbol)))
        }
    }
}

/// `target |= source`; returns whether `target` changed.
pub(crate) fn or_into(target: &mut [u64], source: &[u64]) -> bool {
    let mut changed = false;
    for (t, &s) in target.iter_mut().zip(source) {
        let new = *t | s;
        changed |= new != *t;
        *t = new;
    }
    changed
}

pub(crate) fn set_bit(bits: &mut [u64], index: u32) {
    bits[(index / 64) as usize] |= 1 << (index % 64);
}

#[cfg(test)]
pub(crate) fn has_bit(bits: &[u64], index: u32) -> bool {
    bits.get((index / 64) as usize).is_some_and(|w| w & (1 << (index % 64)) != 0)
}

/// The set bits of a bitset, in increasing order.
pub(crate) fn bits(bits: &[u64]) -> impl Iterator<Item = u32> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let bit = rest.trailing_zeros();
            rest &= rest - 1;
            Some(w as u32 * 64 + bit)
        })
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diagnostics::Span;
    use crate::lower::{Production, RuleDef, TerminalDef, TerminalKind};
    use syncodec_artifacts::ids::IdVec;

    /// Builds a [`Bnf`] from `(lhs, rhs)` pairs: names starting with an uppercase letter are
    /// terminals, the others rules; the first lhs is the start rule. Terminals are numbered in
    /// order of first appearance, rules likewise (lhs names first).
    pub(crate) fn bnf(productions: &[(&str, &[&str])]) -> Bnf {
        let mut rule_names: Vec<&str> = Vec::new();
        for (lhs, _) in productions {
            if !rule_names.contains(lhs) {
                rule_names.push(lhs);
            }
        }
        let mut terminal_names: Vec<&str> = Vec::new();
        for (_, rhs) in productions {
            for name in rhs.iter() {
                let is_terminal = name.chars().next().is_some_and(|c| c.is_ascii_uppercase() || !c.is_alphabetic());
                if is_terminal && !terminal_names.contains(name) {
                    terminal_names.push(name);
                } else if !is_terminal && !rule_names.contains(name) {
                    rule_names.push(name);
                }
            }
        }
        let mut terminals = IdVec::new();
        for name in &terminal_names {
            let display = if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') { name.to_string() } else { format!("\"{name}\"") };
            terminals
                .push(TerminalDef { name: name.to_string(), display, pattern: None, priority: 0, kind: TerminalKind::Declared, span: Span::default() })
                .unwrap();
        }
        let mut rules: IdVec<RuleId, RuleDef> = IdVec::new();
        for name in &rule_names {
            rules.push(RuleDef { name: name.to_string(), span: Span::default(), productions: Vec::new(), generated: false, priority: 0 }).unwrap();
        }
        let mut prods = IdVec::new();
        for (index, (lhs, rhs)) in productions.iter().enumerate() {
            let lhs = RuleId::must(rule_names.iter().position(|n| n == lhs).unwrap());
            let rhs = rhs
                .iter()
                .map(|name| match terminal_names.iter().position(|n| n == name) {
                    Some(t) => Symbol::Terminal(TerminalId::must(t)),
                    None => Symbol::Rule(RuleId::must(rule_names.iter().position(|n| n == name).unwrap())),
                })
                .collect();
            // Give every production a distinct span so diagnostics can be checked for location.
            let span = Span::new(Default::default(), index * 10, index * 10 + 5);
            let id = prods.push(Production { lhs, rhs, span }).unwrap();
            rules[lhs].productions.push(id);
        }
        Bnf {
            name: "test".into(),
            terminals,
            rules,
            productions: prods,
            start: RuleId::must(0),
            ignore: Vec::new(),
            indentation: None,
            auto_semicolon: None,
        }
    }

    /// Looks up a terminal by name in a test grammar.
    pub(crate) fn terminal(bnf: &Bnf, name: &str) -> TerminalId {
        bnf.terminals.iter().find(|(_, t)| t.name == name).map(|(id, _)| id).unwrap()
    }

    /// Tokenizes a space-separated terminal list.
    pub(crate) fn tokens(bnf: &Bnf, text: &str) -> Vec<TerminalId> {
        text.split_whitespace().map(|name| terminal(bnf, name)).collect()
    }

    #[test]
    fn items_encode_production_and_dot() {
        let g = Grammar::from_bnf(&bnf(&[("s", &["a", "X"]), ("a", &[]), ("a", &["Y", "a"])])).unwrap();
        assert_eq!(g.n_productions, 3);
        assert_eq!(g.n_items(), 3 + 1 + 3 + 2);
        let item = g.first_item(2) + 1;
        assert_eq!((g.item_production(item), g.item_dot(item)), (2, 1));
        assert_eq!(g.next_symbol(item), Some(g.rule_symbol(1)));
        assert_eq!(g.next_symbol(g.first_item(1)), None);
        assert_eq!(g.rhs(g.augmented()), &[g.rule_symbol(0)]);
        assert_eq!(g.lhs(g.augmented()), g.n_rules);
    }

    #[test]
    fn bitset_helpers() {
        let mut a = vec![0u64; 2];
        set_bit(&mut a, 3);
        set_bit(&mut a, 70);
        assert!(has_bit(&a, 70) && !has_bit(&a, 4) && !has_bit(&a, 1000));
        assert_eq!(bits(&a).collect::<Vec<_>>(), vec![3, 70]);
        let mut b = vec![0u64; 2];
        assert!(or_into(&mut b, &a));
        assert!(!or_into(&mut b, &a));
    }
}
