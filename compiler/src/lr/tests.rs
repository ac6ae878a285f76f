//! Tests of the whole stage: state counts, conflicts and their diagnostics, table properties,
//! and property tests against independent oracles (a naive set-of-items LR(1)/LALR(1)
//! construction, an Earley recognizer, random sentences and their mutations).

use super::driver::{feed, reduce_until_shift};
use super::items::tests::{bnf, tokens};
use super::*;
use crate::diagnostics::Span;
use crate::lower::{Production, RuleDef, TerminalDef, TerminalKind};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use syncodec_artifacts::ids::{IdVec, RuleId};

fn lr1(b: &Bnf) -> LrTables {
    build(b, &LrOptions::default()).unwrap()
}

fn lalr(b: &Bnf) -> LrTables {
    build(b, &LrOptions { mode: LrMode::Lalr, ..LrOptions::default() }).unwrap()
}

const CLASSIC: &[(&str, &[&str])] = &[("s", &["c", "c"]), ("c", &["X", "c"]), ("c", &["D"])];

const EXPR: &[(&str, &[&str])] = &[
    ("e", &["e", "+", "t"]),
    ("e", &["t"]),
    ("t", &["t", "*", "f"]),
    ("t", &["f"]),
    ("f", &["(", "e", ")"]),
    ("f", &["N"]),
];

const NOT_LALR: &[(&str, &[&str])] = &[
    ("s", &["A", "e", "C"]),
    ("s", &["A", "f", "D"]),
    ("s", &["B", "f", "C"]),
    ("s", &["B", "e", "D"]),
    ("e", &["E"]),
    ("f", &["E"]),
];

const AMBIGUOUS: &[(&str, &[&str])] = &[("expr", &["expr", "-", "expr"]), ("expr", &["NUMBER"])];

const EPSILON: &[(&str, &[&str])] = &[("s", &["a", "b"]), ("a", &[]), ("a", &["X"]), ("b", &[]), ("b", &["Y", "b"])];

const DANGLING_ELSE: &[(&str, &[&str])] = &[
    ("stmt", &["IF", "E", "stmt"]),
    ("stmt", &["IF", "E", "stmt", "ELSE", "stmt"]),
    ("stmt", &["S"]),
];

#[test]
fn classic_grammar_state_counts() {
    let b = bnf(CLASSIC);
    let t1 = lr1(&b);
    assert_eq!(t1.n_states, 10);
    assert!(t1.conflicts.is_empty());
    let t2 = lalr(&b);
    assert_eq!(t2.n_states, 7);
    assert!(t2.conflicts.is_empty());
    for t in [&t1, &t2] {
        assert_eq!(t.action.len(), t.n_states * 3);
        assert_eq!(t.goto.len(), t.n_states * 2);
        assert!(recognizes(t, &b, &tokens(&b, "X D D")));
        assert!(recognizes(t, &b, &tokens(&b, "D X X D")));
        assert!(!recognizes(t, &b, &tokens(&b, "D")));
        assert!(!recognizes(t, &b, &tokens(&b, "D D D")));
        assert!(!recognizes(t, &b, &[]));
    }
    assert_eq!(t1.summary().to_string(), "10 states (lr1), 0 shift/reduce and 0 reduce/reduce conflicts");
}

#[test]
fn accept_is_on_end_in_the_start_rule_successor_only() {
    for b in [bnf(CLASSIC), bnf(EXPR), bnf(EPSILON)] {
        for t in [lr1(&b), lalr(&b)] {
            let accept_state = t.goto(t.start_state, b.start).unwrap();
            assert_eq!(t.action(accept_state, Column::End), Action::Accept);
            let n_accept = t.action.iter().filter(|&&a| a == Action::Accept).count();
            assert_eq!(n_accept, 1);
        }
    }
}

#[test]
fn expression_grammar_is_lr1_and_lalr() {
    let b = bnf(EXPR);
    let (t1, t2) = (lr1(&b), lalr(&b));
    assert!(t1.conflicts.is_empty() && t2.conflicts.is_empty());
    // The textbook figures: 12 LR(0)/LALR states, 22 canonical LR(1) states.
    assert_eq!(t2.n_states, 12);
    assert_eq!(t1.n_states, 22);
    for t in [&t1, &t2] {
        assert!(recognizes(t, &b, &tokens(&b, "N + N * ( N + N )")));
        assert!(!recognizes(t, &b, &tokens(&b, "N + * N")));
        assert!(!recognizes(t, &b, &tokens(&b, "( N")));
    }
}

#[test]
fn lr1_but_not_lalr_grammar() {
    let b = bnf(NOT_LALR);
    let t1 = lr1(&b);
    assert!(t1.conflicts.is_empty());
    let t2 = lalr(&b);
    assert_eq!(t2.conflicts.len(), 2);
    let mut lookaheads = Vec::new();
    for c in &t2.conflicts {
        assert_eq!(c.kind, ConflictKind::ReduceReduce);
        assert_eq!(c.items.len(), 2);
        assert!(c.items.iter().all(|i| i.dot == 1));
        lookaheads.push(format_column(&b, c.lookahead));
    }
    assert_eq!(lookaheads, vec!["C", "D"]);
    for text in ["A E C", "A E D", "B E C", "B E D"] {
        assert!(recognizes(&t1, &b, &tokens(&b, text)), "{text}");
    }
    let d = conflict_diagnostics(&b, &t2, false);
    assert_eq!(d.len(), 2);
    assert!(d[0].message.starts_with("reduce/reduce conflict on C in LR state "));
    let help = d[0].help.as_deref().unwrap();
    assert!(help.contains("`e` and `f` derive the same text") && help.contains("lr1 mode"), "{help}");
    assert!(d[0].notes.contains(&"reduce  e: E •".to_string()));
    assert!(d[0].notes.iter().any(|n| n.starts_with("example: A E • C") || n.starts_with("example: B E • C")), "{:?}", d[0].notes);
}

#[test]
fn ambiguous_operator_gives_shift_reduce_with_example() {
    let b = bnf(AMBIGUOUS);
    for t in [lr1(&b), lalr(&b)] {
        assert_eq!(t.conflicts.len(), 1);
        let c = &t.conflicts[0];
        assert_eq!(c.kind, ConflictKind::ShiftReduce);
        assert_eq!(format_column(&b, c.lookahead), "\"-\"");
        let items: Vec<String> = c.items.iter().map(|&i| format_item(&b, i)).collect();
        assert_eq!(items, vec!["expr: expr \"-\" expr •", "expr: expr • \"-\" expr"]);
        // The cell keeps the shift.
        assert!(matches!(t.action(c.state, c.lookahead), Action::Shift(_)));
        let d = &conflict_diagnostics(&b, &t, false)[0];
        assert_eq!(d.message, format!("shift/reduce conflict on \"-\" in LR state {}", c.state));
        assert_eq!(d.span, Some(b.productions[ProductionId::must(0)].span));
        assert!(d.notes.contains(&"example: NUMBER \"-\" NUMBER • \"-\" NUMBER".to_string()), "{:?}", d.notes);
        assert!(d.notes.contains(&"lookahead: \"-\"".to_string()));
        assert!(d.help.as_deref().unwrap().contains("left-recursive"));
        assert_eq!(d.labels.len(), 2);
        assert_eq!(t.summary().n_shift_reduce, 1);
    }
}

#[test]
fn dangling_else_conflict() {
    let b = bnf(DANGLING_ELSE);
    let t = lr1(&b);
    assert_eq!(t.conflicts.len(), 1);
    let c = &t.conflicts[0];
    assert_eq!(c.kind, ConflictKind::ShiftReduce);
    let min = MinSentences::compute(&b);
    assert_eq!(example_text(&b, &min, c), "IF E IF E S • ELSE S");
    let d = &conflict_diagnostics(&b, &t, false)[0];
    assert!(d.help.as_deref().unwrap().contains("dangling"));
}

#[test]
fn epsilon_productions() {
    let b = bnf(EPSILON);
    for t in [lr1(&b), lalr(&b)] {
        assert!(t.conflicts.is_empty());
        for ok in ["", "X", "Y", "X Y Y", "Y Y"] {
            assert!(recognizes(&t, &b, &tokens(&b, ok)), "{ok:?}");
        }
        for bad in ["Y X", "X X"] {
            assert!(!recognizes(&t, &b, &tokens(&b, bad)), "{bad:?}");
        }
        // The start state accepts the empty input through reductions on End only.
        let row = t.expected(t.start_state);
        assert_eq!(row.len(), 3);
    }
}

#[test]
fn tables_are_deterministic() {
    let b = bnf(EXPR);
    let (x, y) = (lr1(&b), lr1(&b));
    assert_eq!(x.action, y.action);
    assert_eq!(x.goto, y.goto);
}

#[test]
fn state_limit_and_bad_ids_are_errors() {
    let b = bnf(EXPR);
    let err = build(&b, &LrOptions { mode: LrMode::Lr1, state_limit: 15, prefer_shift: false }).unwrap_err();
    assert!(matches!(err, LrError::StateLimit { limit: 15, mode: "lr1" }));
    assert!(build(&b, &LrOptions { mode: LrMode::Lalr, state_limit: 12, prefer_shift: false }).is_ok());
    assert!(build(&b, &LrOptions { mode: LrMode::Lalr, state_limit: 11, prefer_shift: false }).is_err());
    let mut broken = b.clone();
    broken.productions[ProductionId::must(1)].rhs.push(Symbol::Rule(RuleId::must(99)));
    assert!(matches!(build(&broken, &LrOptions::default()), Err(LrError::Overflow(_))));
}

/// For every state, takes the stack along a shortest path to it, and for every column with a
/// non-error action checks that the reductions lead to a shift or accept of that column.
fn check_immediate_error_detection(t: &LrTables, b: &Bnf) {
    let mut stacks: Vec<Option<Vec<LrStateId>>> = vec![None; t.n_states];
    stacks[0] = Some(vec![t.start_state]);
    let mut queue = VecDeque::from([0usize]);
    while let Some(s) = queue.pop_front() {
        let stack = stacks[s].clone().unwrap();
        let id = LrStateId::must(s);
        let mut targets: Vec<LrStateId> = t.row(id).iter().filter_map(|a| if let Action::Shift(x) = a { Some(LrStateId::from_raw(*x)) } else { None }).collect();
        targets.extend(b.rules.ids().filter_map(|r| t.goto(id, r)));
        for target in targets {
            if stacks[target.as_usize()].is_none() {
                let mut next = stack.clone();
                next.push(target);
                stacks[target.as_usize()] = Some(next);
                queue.push_back(target.as_usize());
            }
        }
    }
    for (s, stack) in stacks.iter().enumerate() {
        let stack = stack.as_ref().expect("every state is reachable");
        for column in t.expected(LrStateId::must(s)) {
            let mut st = stack.clone();
            let action = reduce_until_shift(t, b, &mut st, column).unwrap();
            assert!(matches!(action, Action::Shift(_) | Action::Accept), "state {s} column {column:?}");
        }
    }
}

#[test]
fn lr1_tables_detect_errors_immediately() {
    for g in [CLASSIC, EXPR, NOT_LALR, EPSILON] {
        let b = bnf(g);
        check_immediate_error_detection(&lr1(&b), &b);
    }
}

#[test]
fn lalr_reduces_on_erroneous_lookaheads_where_lr1_does_not() {
    // In the LALR table of the classic grammar, `c: D •` is merged and reduces on End even
    // after the first `c`; canonical LR(1) keeps them apart.
    let b = bnf(CLASSIC);
    let t = lalr(&b);
    let mut stack = vec![t.start_state];
    feed(&t, &b, &mut stack, &tokens(&b, "D")).unwrap();
    assert!(matches!(t.action(*stack.last().unwrap(), Column::End), Action::Reduce(_)));
    assert!(!recognizes(&t, &b, &tokens(&b, "D")));
}

// ---------------------------------------------------------------------------------------------
// Oracles for the property tests.

/// An LR(1) item set of the naive constructions: `(production, dot, lookahead column)`.
type ItemSet = BTreeSet<(usize, usize, usize)>;

/// Symbol codes as in the naive constructions: terminal `t` is `t`, rule `r` is `n_t + r`.
struct Plain {
    n_t: usize,
    n_r: usize,
    /// `(lhs, rhs)`; the last one is the augmented `S' -> start` with lhs `n_r`.
    prods: Vec<(usize, Vec<usize>)>,
    nullable: Vec<bool>,
    first: Vec<BTreeSet<usize>>,
}

impl Plain {
    fn new(b: &Bnf) -> Plain {
        let n_t = b.terminals.len();
        let n_r = b.rules.len();
        let code = |s: &Symbol| match *s {
            Symbol::Terminal(t) => t.as_usize(),
            Symbol::Rule(r) => n_t + r.as_usize(),
        };
        let mut prods: Vec<(usize, Vec<usize>)> = b.productions.values().map(|p| (p.lhs.as_usize(), p.rhs.iter().map(code).collect())).collect();
        prods.push((n_r, vec![n_t + b.start.as_usize()]));
        let mut nullable = vec![false; n_r + 1];
        let mut first = vec![BTreeSet::new(); n_r + 1];
        loop {
            let mut changed = false;
            for (lhs, rhs) in &prods {
                let mut all = true;
                for &s in rhs {
                    if s < n_t {
                        changed |= first[*lhs].insert(s);
                        all = false;
                        break;
                    }
                    let add: Vec<usize> = first[s - n_t].iter().copied().collect();
                    for a in add {
                        changed |= first[*lhs].insert(a);
                    }
                    if !nullable[s - n_t] {
                        all = false;
                        break;
                    }
                }
                if all && !nullable[*lhs] {
                    nullable[*lhs] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Plain { n_t, n_r, prods, nullable, first }
    }

    fn first_of(&self, seq: &[usize], la: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for &s in seq {
            if s < self.n_t {
                out.insert(s);
                return out;
            }
            out.extend(self.first[s - self.n_t].iter().copied());
            if !self.nullable[s - self.n_t] {
                return out;
            }
        }
        out.insert(la);
        out
    }

    fn closure(&self, kernel: BTreeSet<(usize, usize, usize)>) -> BTreeSet<(usize, usize, usize)> {
        let mut set = kernel;
        let mut work: Vec<_> = set.iter().copied().collect();
        while let Some((p, d, a)) = work.pop() {
            let rhs = &self.prods[p].1;
            if d < rhs.len() && rhs[d] >= self.n_t {
                let rule = rhs[d] - self.n_t;
                for la in self.first_of(&rhs[d + 1..], a) {
                    for (q, (lhs, _)) in self.prods.iter().enumerate() {
                        if *lhs == rule && set.insert((q, 0, la)) {
                            work.push((q, 0, la));
                        }
                    }
                }
            }
        }
        set
    }

    /// Canonical LR(1) by the textbook sets-of-items construction, BFS with symbols in code
    /// order. Returns the item sets and the transitions.
    fn canonical(&self) -> (Vec<ItemSet>, Vec<BTreeMap<usize, usize>>) {
        let aug = self.prods.len() - 1;
        let start = self.closure(BTreeSet::from([(aug, 0, self.n_t)]));
        let mut states = vec![start.clone()];
        let mut index = BTreeMap::from([(start, 0)]);
        let mut edges = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let mut out = BTreeMap::new();
            for x in 0..self.n_t + self.n_r {
                let kernel: BTreeSet<_> = states[i].iter().filter(|&&(p, d, _)| self.prods[p].1.get(d) == Some(&x)).map(|&(p, d, a)| (p, d + 1, a)).collect();
                if kernel.is_empty() {
                    continue;
                }
                let set = self.closure(kernel);
                let n = states.len();
                let id = *index.entry(set.clone()).or_insert_with(|| {
                    states.push(set);
                    n
                });
                out.insert(x, id);
            }
            edges.push(out);
            i += 1;
        }
        (states, edges)
    }

    /// ACTION rows from item sets (same conflict policy as `table.rs`).
    fn rows(&self, states: &[BTreeSet<(usize, usize, usize)>], edges: &[BTreeMap<usize, usize>]) -> Vec<Action> {
        let aug = self.prods.len() - 1;
        let mut rows = Vec::new();
        for (items, out) in states.iter().zip(edges) {
            for col in 0..=self.n_t {
                let action = if let Some(&target) = out.get(&col).filter(|_| col < self.n_t) {
                    Action::Shift(target as u32)
                } else if items.contains(&(aug, 1, col)) {
                    Action::Accept
                } else {
                    items
                        .iter()
                        .filter(|&&(p, d, a)| a == col && p != aug && d == self.prods[p].1.len())
                        .map(|&(p, _, _)| p)
                        .min()
                        .map_or(Action::Error, |p| Action::Reduce(p as u32))
                };
                rows.push(action);
            }
        }
        rows
    }

    fn gotos(&self, edges: &[BTreeMap<usize, usize>]) -> Vec<Option<LrStateId>> {
        let mut out = Vec::new();
        for e in edges {
            for r in 0..self.n_r {
                out.push(e.get(&(self.n_t + r)).map(|&s| LrStateId::must(s)));
            }
        }
        out
    }

    /// LALR(1) by merging canonical states with equal cores, numbered as the LR(0) automaton
    /// (BFS, symbols in code order).
    fn lalr(&self) -> (Vec<Action>, Vec<Option<LrStateId>>) {
        let (states, edges) = self.canonical();
        let core = |s: &BTreeSet<(usize, usize, usize)>| -> BTreeSet<(usize, usize)> { s.iter().map(|&(p, d, _)| (p, d)).collect() };
        // Number cores in BFS order over the merged automaton.
        let mut core_id: BTreeMap<BTreeSet<(usize, usize)>, usize> = BTreeMap::new();
        let mut representative = Vec::new();
        core_id.insert(core(&states[0]), 0);
        representative.push(0usize);
        let mut i = 0;
        while i < representative.len() {
            for &target in edges[representative[i]].values() {
                let c = core(&states[target]);
                if let std::collections::btree_map::Entry::Vacant(e) = core_id.entry(c) {
                    e.insert(representative.len());
                    representative.push(target);
                }
            }
            i += 1;
        }
        let n = representative.len();
        let mut merged = vec![BTreeSet::new(); n];
        let mut merged_edges = vec![BTreeMap::new(); n];
        for (s, items) in states.iter().enumerate() {
            let id = core_id[&core(items)];
            merged[id].extend(items.iter().copied());
            for (&x, &t) in &edges[s] {
                merged_edges[id].insert(x, core_id[&core(&states[t])]);
            }
        }
        (self.rows(&merged, &merged_edges), self.gotos(&merged_edges))
    }
}

/// Earley recognizer (with the Aycock–Horspool nullable fix) over terminal sequences. For
/// every prefix length `k` returns whether `input[..k]` is a sentence and which terminals may
/// come next after it (assuming every rule is productive; empty once the input went wrong).
fn earley(p: &Plain, input: &[usize]) -> Vec<(bool, BTreeSet<usize>)> {
    let aug = p.prods.len() - 1;
    let mut sets: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); input.len() + 1];
    let mut seen: Vec<HashSet<(usize, usize, usize)>> = vec![HashSet::new(); input.len() + 1];
    let add = |k: usize, item: (usize, usize, usize), sets: &mut Vec<Vec<_>>, seen: &mut Vec<HashSet<_>>| {
        if seen[k].insert(item) {
            sets[k].push(item);
        }
    };
    add(0, (aug, 0, 0), &mut sets, &mut seen);
    for k in 0..=input.len() {
        let mut i = 0;
        while i < sets[k].len() {
            let (q, d, origin) = sets[k][i];
            let rhs = &p.prods[q].1;
            if d == rhs.len() {
                let lhs = p.prods[q].0;
                let parents: Vec<_> = sets[origin].iter().copied().filter(|&(r, e, _)| p.prods[r].1.get(e) == Some(&(p.n_t + lhs))).collect();
                for (r, e, o) in parents {
                    add(k, (r, e + 1, o), &mut sets, &mut seen);
                }
            } else if rhs[d] >= p.n_t {
                let rule = rhs[d] - p.n_t;
                for (r, (lhs, _)) in p.prods.iter().enumerate() {
                    if *lhs == rule {
                        add(k, (r, 0, k), &mut sets, &mut seen);
                    }
                }
                if p.nullable[rule] {
                    add(k, (q, d + 1, origin), &mut sets, &mut seen);
                }
            } else if k < input.len() && rhs[d] == input[k] {
                add(k + 1, (q, d + 1, origin), &mut sets, &mut seen);
            }
            i += 1;
        }
    }
    sets.iter()
        .map(|set| {
            let accepted = set.contains(&(aug, 1, 0));
            let next = set.iter().filter_map(|&(q, d, _)| p.prods[q].1.get(d).copied().filter(|&s| s < p.n_t)).collect();
            (accepted, next)
        })
        .collect()
}

/// A random grammar: `n_t` terminals and per rule its productions as symbol codes (terminal
/// `< n_t`, else rule `code - n_t`). Unproductive and unreachable rules are pruned; `None`
/// when the start rule is unproductive.
fn make_bnf(n_t: usize, rules: &[Vec<Vec<usize>>]) -> Option<Bnf> {
    let n_r = rules.len();
    let mut productive = vec![false; n_r];
    loop {
        let mut changed = false;
        for (r, prods) in rules.iter().enumerate() {
            if !productive[r] && prods.iter().any(|rhs| rhs.iter().all(|&s| s < n_t || productive[s - n_t])) {
                productive[r] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    if !productive[0] {
        return None;
    }
    let keep = |rhs: &Vec<usize>| rhs.iter().all(|&s| s < n_t || productive[s - n_t]);
    let mut reachable = vec![false; n_r];
    reachable[0] = true;
    let mut work = vec![0];
    while let Some(r) = work.pop() {
        for rhs in rules[r].iter().filter(|rhs| keep(rhs)) {
            for &s in rhs {
                if s >= n_t && !reachable[s - n_t] {
                    reachable[s - n_t] = true;
                    work.push(s - n_t);
                }
            }
        }
    }
    let new_id: Vec<Option<usize>> = {
        let mut next = 0;
        reachable.iter().map(|&r| r.then(|| { next += 1; next - 1 })).collect()
    };
    let mut terminals = IdVec::new();
    for t in 0..n_t {
        let name = format!("T{t}");
        terminals.push(TerminalDef { name: name.clone(), display: name, pattern: None, priority: 0, kind: TerminalKind::Declared, span: Span::default() }).unwrap();
    }
    let mut rule_defs: IdVec<RuleId, RuleDef> = IdVec::new();
    let mut productions = IdVec::new();
    for (r, prods) in rules.iter().enumerate() {
        if new_id[r].is_none() {
            continue;
        }
        let id = rule_defs.push(RuleDef { name: format!("r{r}"), span: Span::default(), productions: Vec::new(), generated: false, priority: 0 }).unwrap();
        for rhs in prods.iter().filter(|rhs| keep(rhs)) {
            let rhs = rhs
                .iter()
                .map(|&s| if s < n_t { Symbol::Terminal(TerminalId::must(s)) } else { Symbol::Rule(RuleId::must(new_id[s - n_t].unwrap())) })
                .collect();
            let p = productions.push(Production { lhs: id, rhs, span: Span::default() }).unwrap();
            rule_defs[id].productions.push(p);
        }
    }
    Some(Bnf { name: "random".into(), terminals, rules: rule_defs, productions, start: RuleId::must(0), ignore: Vec::new(), indentation: None, auto_semicolon: None })
}

fn grammar_strategy() -> impl Strategy<Value = (usize, Vec<Vec<Vec<usize>>>)> {
    (1usize..=4, 1usize..=4).prop_flat_map(|(n_t, n_r)| {
        let production = prop::collection::vec(0..n_t + n_r, 0..=4);
        let rule = prop::collection::vec(production, 1..=3);
        (Just(n_t), prop::collection::vec(rule, n_r))
    })
}

/// Grammars more likely to be LR(1): most productions start with a terminal that differs
/// between the productions of one rule, optionally after the rule itself (left recursion).
fn structured_strategy() -> impl Strategy<Value = (usize, Vec<Vec<Vec<usize>>>)> {
    (3usize..=5, 1usize..=4).prop_flat_map(|(n_t, n_r)| {
        let production = (0u8..4, prop::collection::vec(0..n_t + n_r, 0..=2));
        let rule = prop::collection::vec(production, 1..=3);
        prop::collection::vec(rule, n_r).prop_map(move |rules| {
            let rules = rules
                .into_iter()
                .enumerate()
                .map(|(r, prods)| {
                    prods
                        .into_iter()
                        .enumerate()
                        .map(|(j, (shape, tail))| {
                            let lead = (r + j) % n_t;
                            let mut rhs = match shape {
                                0 => vec![],
                                1 => vec![n_t + r, lead],
                                _ => vec![lead],
                            };
                            // Keep every rule reachable: the first production of rule r uses r + 1.
                            if j == 0 && r + 1 < n_r {
                                rhs.push(n_t + r + 1);
                            }
                            rhs.extend(tail);
                            rhs
                        })
                        .collect()
                })
                .collect();
            (n_t, rules)
        })
    })
}

fn any_grammar() -> impl Strategy<Value = (usize, Vec<Vec<Vec<usize>>>)> {
    prop_oneof![grammar_strategy(), structured_strategy()]
}

/// xorshift64*, seeded by proptest.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

/// A random sentence: random productions up to depth 6, shortest sentences below.
fn sentence(b: &Bnf, min: &MinSentences, rng: &mut Rng) -> Vec<TerminalId> {
    fn go(b: &Bnf, min: &MinSentences, rng: &mut Rng, rule: RuleId, depth: usize, out: &mut Vec<TerminalId>) {
        if depth > 6 || out.len() > 40 {
            out.extend(min.expand(b, &[Symbol::Rule(rule)]).into_iter().filter_map(|s| if let Symbol::Terminal(t) = s { Some(t) } else { None }));
            return;
        }
        let prods = &b.rules[rule].productions;
        let p = prods[rng.below(prods.len())];
        for &s in &b.productions[p].rhs {
            match s {
                Symbol::Terminal(t) => out.push(t),
                Symbol::Rule(r) => go(b, min, rng, r, depth + 1, out),
            }
        }
    }
    let mut out = Vec::new();
    go(b, min, rng, b.start, 0, &mut out);
    out
}

fn mutate(input: &[TerminalId], n_t: usize, rng: &mut Rng) -> Vec<TerminalId> {
    let mut v = input.to_vec();
    let i = rng.below(v.len() + 1);
    match rng.below(4) {
        0 if i < v.len() => {
            v.remove(i);
        }
        1 if i < v.len() => v.insert(i, v[i]),
        2 if i + 1 < v.len() => v.swap(i, i + 1),
        _ => v.insert(i.min(v.len()), TerminalId::must(rng.below(n_t))),
    }
    if rng.below(2) == 0 && i < v.len() {
        v[i] = TerminalId::must(rng.below(n_t));
    }
    v
}

fn codes(input: &[TerminalId]) -> Vec<usize> {
    input.iter().map(|t| t.as_usize()).collect()
}

/// Columns after `prefix` for which the LR driver, after its reductions, shifts or accepts.
fn lr_next(t: &LrTables, b: &Bnf, prefix: &[TerminalId]) -> Option<BTreeSet<usize>> {
    let mut stack = vec![t.start_state];
    feed(t, b, &mut stack, prefix).ok()?;
    let mut out = BTreeSet::new();
    for c in 0..t.n_columns() {
        let mut st = stack.clone();
        if matches!(reduce_until_shift(t, b, &mut st, t.column_at(c)), Ok(Action::Shift(_) | Action::Accept)) {
            out.insert(c);
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The optimized constructions produce exactly the tables of the textbook constructions,
    /// state numbering included, conflicts or not.
    #[test]
    fn tables_equal_naive_constructions((n_t, rules) in any_grammar()) {
        let Some(b) = make_bnf(n_t, &rules) else { return Ok(()) };
        let p = Plain::new(&b);
        let (states, edges) = p.canonical();
        let t1 = lr1(&b);
        prop_assert_eq!(t1.n_states, states.len());
        prop_assert_eq!(&t1.action, &p.rows(&states, &edges));
        prop_assert_eq!(&t1.goto, &p.gotos(&edges));
        let (rows, gotos) = p.lalr();
        let t2 = lalr(&b);
        prop_assert_eq!(&t2.action, &rows);
        prop_assert_eq!(&t2.goto, &gotos);
        // LALR conflict-free implies LR(1) conflict-free.
        prop_assert!(!t2.conflicts.is_empty() || t1.conflicts.is_empty());
        for c in t1.conflicts.iter().chain(&t2.conflicts) {
            prop_assert!(!c.items.is_empty());
        }
        prop_assert_eq!(conflict_diagnostics(&b, &t1, false).len(), t1.conflicts.len());
    }

    /// Sentences are accepted; mutated sentences get the oracle's verdict; in lr1 mode the
    /// non-error columns after every prefix are exactly the legal next terminals.
    #[test]
    fn driver_agrees_with_earley((n_t, rules) in any_grammar(), seed in any::<u64>()) {
        let Some(b) = make_bnf(n_t, &rules) else { return Ok(()) };
        let p = Plain::new(&b);
        let min = MinSentences::compute(&b);
        let mut rng = Rng(seed | 1);
        let t1 = lr1(&b);
        let t2 = lalr(&b);
        let modes: Vec<&LrTables> = [&t1, &t2].into_iter().filter(|t| t.conflicts.is_empty()).collect();
        for _ in 0..8 {
            let s = sentence(&b, &min, &mut rng);
            let m = mutate(&s, n_t, &mut rng);
            let (on_s, on_m) = (earley(&p, &codes(&s)), earley(&p, &codes(&m)));
            prop_assert!(on_s[s.len()].0);
            for &t in &modes {
                prop_assert!(recognizes(t, &b, &s), "{:?} rejects {:?}", t.mode, s);
                prop_assert_eq!(recognizes(t, &b, &m), on_m[m.len()].0, "{:?} on {:?}", t.mode, m);
            }
            // Prefixes of the sentence (valid) and of the mutation (valid until the error).
            for (input, oracle) in [(&s, &on_s), (&m, &on_m)] {
                for k in 0..=input.len() {
                    if k > 0 && !oracle[k - 1].1.contains(&input[k - 1].as_usize()) {
                        break;
                    }
                    let (accepted, next) = &oracle[k];
                    let mut legal = next.clone();
                    if *accepted {
                        legal.insert(n_t);
                    }
                    for &t in &modes {
                        prop_assert_eq!(lr_next(t, &b, &input[..k]), Some(legal.clone()));
                    }
                    if t1.conflicts.is_empty() {
                        let mut stack = vec![t1.start_state];
                        feed(&t1, &b, &mut stack, &input[..k]).unwrap();
                        let row: BTreeSet<usize> = t1.expected(*stack.last().unwrap()).into_iter().map(|c| t1.column_index(c)).collect();
                        prop_assert_eq!(row, legal);
                    }
                }
            }
        }
        if t1.conflicts.is_empty() {
            check_immediate_error_detection(&t1, &b);
        }
    }
}

/// The hand-lowered Python-like grammar in `testdata/pythonish.bnf`, `copies` times over with
/// renamed rules (sharing the terminals), each copy entered through its own keyword.
fn pythonish(copies: usize) -> Bnf {
    let text = include_str!("testdata/pythonish.bnf");
    let mut owned: Vec<(String, Vec<String>)> = Vec::new();
    for copy in 0..copies {
        let rename = |name: &str| {
            let is_rule = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if is_rule && copies > 1 { format!("{name}_{copy}") } else { name.to_string() }
        };
        if copies > 1 {
            owned.push(("all".to_string(), vec![format!("COPY{copy}"), rename("file_input")]));
        }
        for line in text.lines().filter(|l| !l.starts_with('#') && l.contains("->")) {
            let (lhs, rhs) = line.split_once("->").unwrap();
            owned.push((rename(lhs.trim()), rhs.split_whitespace().map(rename).collect()));
        }
    }
    let rhs: Vec<Vec<&str>> = owned.iter().map(|(_, r)| r.iter().map(String::as_str).collect()).collect();
    let productions: Vec<(&str, &[&str])> = owned.iter().zip(&rhs).map(|((l, _), r)| (l.as_str(), r.as_slice())).collect();
    bnf(&productions)
}

#[test]
fn pythonish_grammar_builds_in_both_modes() {
    let b = pythonish(1);
    let started = std::time::Instant::now();
    let t1 = lr1(&b);
    let lr1_time = started.elapsed();
    let started = std::time::Instant::now();
    let t2 = lalr(&b);
    let lalr_time = started.elapsed();
    eprintln!(
        "pythonish: {} terminals, {} rules, {} productions; lr1 {} ({lr1_time:?}); lalr {} ({lalr_time:?})",
        b.terminals.len(),
        b.rules.len(),
        b.productions.len(),
        t1.summary(),
        t2.summary()
    );
    for d in conflict_diagnostics(&b, &t1, false) {
        eprintln!("{}: {:?} {:?}", d.message, d.notes, d.help);
    }
    assert!(t1.conflicts.is_empty());
    assert!(t2.conflicts.is_empty());
    assert!(t1.n_states > t2.n_states);
    let sentence = "DEF NAME ( NAME , NAME = NUMBER ) : NEWLINE INDENT RETURN NAME [ NUMBER : ] + NAME ( NAME FOR NAME IN NAME IF NAME ) NEWLINE DEDENT";
    for t in [&t1, &t2] {
        assert!(recognizes(t, &b, &tokens(&b, sentence)));
        assert!(!recognizes(t, &b, &tokens(&b, "DEF NAME ( ) : NEWLINE INDENT DEDENT")));
    }
    check_immediate_error_detection(&t1, &b);
}

/// Timing on a grammar three times the size (run with `--release --nocapture` to read it).
#[test]
fn pythonish_times_three_builds() {
    let b = pythonish(3);
    let started = std::time::Instant::now();
    let t1 = lr1(&b);
    let lr1_time = started.elapsed();
    let started = std::time::Instant::now();
    let t2 = lalr(&b);
    eprintln!(
        "pythonish x3: {} terminals, {} rules, {} productions; lr1 {} ({lr1_time:?}); lalr {} ({:?})",
        b.terminals.len(),
        b.rules.len(),
        b.productions.len(),
        t1.summary(),
        t2.summary(),
        started.elapsed()
    );
    assert!(t1.n_states >= 3 * (lr1(&pythonish(1)).n_states - 2));
    assert!(t1.conflicts.is_empty() && t2.conflicts.is_empty());
}
