//! Nullable rules and FIRST sets, per rule and per item suffix.
//!
//! Both are least fixpoints over the productions (iterate until nothing changes). FOLLOW sets
//! are not needed by the LR(1) construction (lookaheads are carried by the items); a FOLLOW
//! computation is provided for tests and diagnostics.
//!
//! Sets are bitsets over the ACTION columns (see [`super::items`]); FIRST never contains the
//! end-of-input column, FOLLOW may.

use super::items::{or_into, set_bit, Grammar};

#[derive(Debug, Clone)]
pub(crate) struct FirstSets {
    words: usize,
    /// Per rule (the augmented pseudo-rule included).
    #[cfg_attr(not(test), allow(dead_code))]
    nullable: Vec<bool>,
    /// Per rule, `words` words each.
    #[cfg_attr(not(test), allow(dead_code))]
    first: Vec<u64>,
    /// Per item `(p, dot)`: FIRST of `rhs(p)[dot..]`, `words` words each.
    suffix_first: Vec<u64>,
    /// Per item: whether `rhs(p)[dot..]` derives the empty string.
    suffix_nullable: Vec<bool>,
}

impl FirstSets {
    pub(crate) fn compute(g: &Grammar) -> FirstSets {
        let words = g.words;
        let n_rules = g.n_rules as usize + 1;
        let mut nullable = vec![false; n_rules];
        let mut first = vec![0u64; n_rules * words];
        let mut scratch = vec![0u64; words];
        let mut changed = true;
        while changed {
            changed = false;
            for p in 0..=g.n_productions {
                let lhs = g.lhs(p) as usize;
                scratch.fill(0);
                let mut all_nullable = true;
                for &symbol in g.rhs(p) {
                    if g.is_terminal(symbol) {
                        set_bit(&mut scratch, symbol);
                        all_nullable = false;
                        break;
                    }
                    let rule = g.rule_of(symbol) as usize;
                    or_into(&mut scratch, &first[rule * words..(rule + 1) * words]);
                    if !nullable[rule] {
                        all_nullable = false;
                        break;
                    }
                }
                changed |= or_into(&mut first[lhs * words..(lhs + 1) * words], &scratch);
                if all_nullable && !nullable[lhs] {
                    nullable[lhs] = true;
                    changed = true;
                }
            }
        }

        // Suffix sets, filled from the end of each production backwards.
        let n_items = g.n_items();
        let mut suffix_first = vec![0u64; n_items * words];
        let mut suffix_nullable = vec![false; n_items];
        for p in 0..=g.n_productions {
            let base = g.first_item(p) as usize;
            let rhs = g.rhs(p);
            suffix_nullable[base + rhs.len()] = true;
            for dot in (0..rhs.len()).rev() {
                let item = base + dot;
                let (head, tail) = suffix_first.split_at_mut((item + 1) * words);
                let here = &mut head[item * words..];
                let symbol = rhs[dot];
                if g.is_terminal(symbol) {
                    set_bit(here, symbol);
                } else {
                    let rule = g.rule_of(symbol) as usize;
                    or_into(here, &first[rule * words..(rule + 1) * words]);
                    if nullable[rule] {
                        or_into(here, &tail[..words]);
                        suffix_nullable[item] = suffix_nullable[item + 1];
                    }
                }
            }
        }
        FirstSets { words, nullable, first, suffix_first, suffix_nullable }
    }

    #[cfg(test)]
    pub(crate) fn nullable(&self, rule: u32) -> bool {
        self.nullable[rule as usize]
    }

    #[cfg(test)]
    pub(crate) fn first(&self, rule: u32) -> &[u64] {
        let r = rule as usize;
        &self.first[r * self.words..(r + 1) * self.words]
    }

    /// FIRST of the symbols from the item's dot to the end of its production.
    pub(crate) fn suffix_first(&self, item: u32) -> &[u64] {
        let i = item as usize;
        &self.suffix_first[i * self.words..(i + 1) * self.words]
    }

    pub(crate) fn suffix_nullable(&self, item: u32) -> bool {
        self.suffix_nullable[item as usize]
    }

    /// FOLLOW sets per rule (end of input follows the start rule). For tests and diagnostics.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn follow(&self, g: &Grammar) -> Vec<u64> {
        let words = self.words;
        let mut follow = vec![0u64; (g.n_rules as usize + 1) * words];
        let start = g.start_rule as usize;
        set_bit(&mut follow[start * words..(start + 1) * words], g.end_column());
        let mut changed = true;
        while changed {
            changed = false;
            for p in 0..g.n_productions {
                let lhs = g.lhs(p) as usize;
                let base = g.first_item(p);
                for (dot, &symbol) in g.rhs(p).iter().enumerate() {
                    if g.is_terminal(symbol) {
                        continue;
                    }
                    let rule = g.rule_of(symbol) as usize;
                    let after = base + dot as u32 + 1;
                    let mut set = self.suffix_first(after).to_vec();
                    if self.suffix_nullable(after) {
                        let lhs_follow = follow[lhs * words..(lhs + 1) * words].to_vec();
                        or_into(&mut set, &lhs_follow);
                    }
                    changed |= or_into(&mut follow[rule * words..(rule + 1) * words], &set);
                }
            }
        }
        follow
    }
}

#[cfg(test)]
mod tests {
    use super::super::items::bits;
    use super::super::items::tests::bnf;
    use super::*;

    #[test]
    fn nullable_and_first_of_an_expression_grammar_with_epsilon() {
        // s: a B ; a: C a | <empty> ; b-less rule d: a a
        let g = Grammar::from_bnf(&bnf(&[
            ("s", &["a", "B"]),
            ("a", &["C", "a"]),
            ("a", &[]),
            ("d", &["a", "a"]),
            ("s", &["d", "E"]),
        ]))
        .unwrap();
        let f = FirstSets::compute(&g);
        // Terminals: B=0, C=1, E=2. Rules: s=0, a=1, d=2.
        assert!(!f.nullable(0) && f.nullable(1) && f.nullable(2));
        assert_eq!(bits(f.first(0)).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(bits(f.first(1)).collect::<Vec<_>>(), vec![1]);
        assert_eq!(bits(f.first(2)).collect::<Vec<_>>(), vec![1]);
        // Suffix of `s: a • B` is {B}, not nullable; `d: a • a` suffix is {C}, nullable.
        let item = g.first_item(0) + 1;
        assert_eq!(bits(f.suffix_first(item)).collect::<Vec<_>>(), vec![0]);
        assert!(!f.suffix_nullable(item));
        let item = g.first_item(3) + 1;
        assert_eq!(bits(f.suffix_first(item)).collect::<Vec<_>>(), vec![1]);
        assert!(f.suffix_nullable(item));
        // FOLLOW(a) = {B, C, E}; FOLLOW(d) = {E}; FOLLOW(s) = {end}.
        let follow = f.follow(&g);
        let words = g.words;
        assert_eq!(bits(&follow[words..2 * words]).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(bits(&follow[2 * words..3 * words]).collect::<Vec<_>>(), vec![2]);
        assert_eq!(bits(&follow[..words]).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn left_recursion_reaches_a_fixpoint() {
        let g = Grammar::from_bnf(&bnf(&[("e", &["e", "+", "t"]), ("e", &["t"]), ("t", &["(", "e", ")"]), ("t", &["N"])])).unwrap();
        let f = FirstSets::compute(&g);
        // Terminals: + = 0, ( = 1, ) = 2, N = 3.
        assert_eq!(bits(f.first(0)).collect::<Vec<_>>(), vec![1, 3]);
        assert!(!f.nullable(0) && !f.nullable(1));
    }
}
