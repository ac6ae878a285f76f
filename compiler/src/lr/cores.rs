//! The LR(0) automaton ("cores") and, per core, how lookaheads flow through it.
//!
//! A *core* is an LR(0) item set, identified by its kernel (the items with the dot not at the
//! start, plus `S' -> • start` for the initial core). Canonical LR(1) states and LALR(1) states
//! are both "a core plus one lookahead set per kernel item", so everything that depends only on
//! the core is computed here once:
//!
//! * the closure: which rules' productions are added with the dot at the start. All
//!   productions of one rule added by the closure share one lookahead set, so the closure is a
//!   set of *rules*;
//! * how the lookahead set of each closure rule is derived from the kernel lookaheads: a
//!   constant *spontaneous* part (FIRST of what follows the rule inside the core) plus the union
//!   of the lookaheads of some kernel items (those whose tail after the rule is nullable, followed
//!   transitively through the closure). This is the "spontaneous / propagated" split of the
//!   Dragon book's efficient LALR construction (Aho, Sethi, Ullman, *Compilers*, 1986, §4.7),
//!   applied here to canonical LR(1) as well. Identical derivations are shared ([`Derived`]);
//! * the transitions (symbol → target core, in symbol-code order) and, for every kernel item of
//!   the target, where its lookahead comes from ([`LaSource`]);
//! * the reduce items and where their lookaheads come from.
//!
//! Cores are numbered in breadth-first order from the initial core, transitions taken in
//! symbol-code order (terminals by id, then rules by id), so the numbering is deterministic.

use super::first_follow::FirstSets;
use super::items::{bits, or_into, set_bit, Grammar};
use std::collections::HashMap;

/// Where a lookahead set comes from, relative to the kernel lookaheads of one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaSource {
    /// The lookahead set of kernel item number `i` of the state.
    Kernel(u32),
    /// Derived set number `d` of the core ([`Core::derived`]).
    Derived(u32),
}

/// A lookahead set computed from the kernel lookaheads: `spontaneous ∪ ⋃ kernel[k]`.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub(crate) spontaneous: Vec<u64>,
    /// Kernel item indices, increasing.
    pub(crate) kernels: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Transition {
    /// Symbol code (see [`super::items`]).
    pub(crate) symbol: u32,
    pub(crate) target: u32,
    /// Per kernel item of the target core (in its order): the source of its lookahead set.
    pub(crate) sources: Vec<LaSource>,
}

#[derive(Debug, Clone)]
pub(crate) struct Reduce {
    pub(crate) production: u32,
    pub(crate) source: LaSource,
}

#[derive(Debug, Clone)]
pub(crate) struct Core {
    /// Sorted item ids.
    pub(crate) kernel: Vec<u32>,
    /// Rules whose productions the closure adds with the dot at the start, sorted.
    pub(crate) closure_rules: Vec<u32>,
    pub(crate) derived: Vec<Derived>,
    /// In increasing symbol-code order.
    pub(crate) transitions: Vec<Transition>,
    /// In increasing production order (the augmented production, if present, is last).
    pub(crate) reduces: Vec<Reduce>,
}

impl Core {
    /// All items of the LR(0) closure: the kernel, then the added items by production.
    pub(crate) fn closure_items<'a>(&'a self, g: &'a Grammar) -> impl Iterator<Item = u32> + 'a {
        let added = self.closure_rules.iter().flat_map(move |&rule| g.productions_of(rule).iter().map(move |&p| g.first_item(p)));
        self.kernel.iter().copied().chain(added)
    }

    /// Computes a state's derived lookahead sets from its kernel lookaheads (`kernel_la`,
    /// `words` words per kernel item) into `out` (`words` words per derived set).
    pub(crate) fn derive(&self, words: usize, kernel_la: &[u64], out: &mut Vec<u64>) {
        out.clear();
        for derived in &self.derived {
            let start = out.len();
            out.extend_from_slice(&derived.spontaneous);
            for &k in &derived.kernels {
                let k = k as usize;
                or_into(&mut out[start..], &kernel_la[k * words..(k + 1) * words]);
            }
        }
    }
}

/// Resolves a [`LaSource`] against a state's kernel lookaheads and derived sets.
pub(crate) fn resolve<'a>(source: LaSource, words: usize, kernel_la: &'a [u64], derived: &'a [u64]) -> &'a [u64] {
    match source {
        LaSource::Kernel(i) => &kernel_la[i as usize * words..(i as usize + 1) * words],
        LaSource::Derived(d) => &derived[d as usize * words..(d as usize + 1) * words],
    }
}

/// The LR(0) automaton.
#[derive(Debug, Clone)]
pub(crate) struct Lr0 {
    pub(crate) cores: Vec<Core>,
    /// BFS tree: for each core but the initial one, `(predecessor, symbol)`.
    pub(crate) parent: Vec<Option<(u32, u32)>>,
}

/// The state limit was exceeded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitExceeded;

impl Lr0 {
    pub(crate) fn build(g: &Grammar, first: &FirstSets, state_limit: usize) -> Result<Lr0, LimitExceeded> {
        let mut kernels: Vec<Vec<u32>> = vec![vec![g.first_item(g.augmented())]];
        let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
        index.insert(kernels[0].clone(), 0);
        let mut parent = vec![None];
        let mut cores = Vec::new();
        let mut scratch = Scratch::new(g);
        while cores.len() < kernels.len() {
            let id = cores.len() as u32;
            let kernel = std::mem::take(&mut kernels[id as usize]);
            let (core, targets) = close(g, first, kernel, &mut scratch);
            let mut core = core;
            for (transition, target_kernel) in core.transitions.iter_mut().zip(targets) {
                let next = kernels.len() as u32;
                let target = *index.entry(target_kernel).or_insert_with_key(|key| {
                    kernels.push(key.clone());
                    parent.push(Some((id, transition.symbol)));
                    next
                });
                transition.target = target;
            }
            if kernels.len() > state_limit {
                return Err(LimitExceeded);
            }
            cores.push(core);
        }
        Ok(Lr0 { cores, parent })
    }
}

/// Reusable per-rule marks for [`close`].
struct Scratch {
    /// `stamp[rule] == generation` iff the rule is in the current closure; then `local[rule]` is
    /// its position in discovery order.
    stamp: Vec<u32>,
    local: Vec<u32>,
    generation: u32,
}

impl Scratch {
    fn new(g: &Grammar) -> Scratch {
        let n = g.n_rules as usize + 1;
        Scratch { stamp: vec![u32::MAX; n], local: vec![0; n], generation: 0 }
    }
}

/// Builds a core from its kernel; returns it with its transitions' target kernels (the
/// transitions' `target` fields are left 0 for the caller to fill in).
fn close(g: &Grammar, first: &FirstSets, kernel: Vec<u32>, scratch: &mut Scratch) -> (Core, Vec<Vec<u32>>) {
    scratch.generation = scratch.generation.wrapping_add(1);
    let generation = scratch.generation;
    let words = g.words;

    // 1. The closure rules, in discovery order.
    let mut rules: Vec<u32> = Vec::new();
    let add = |rule: u32, rules: &mut Vec<u32>, scratch: &mut Scratch| {
        if scratch.stamp[rule as usize] != generation {
            scratch.stamp[rule as usize] = generation;
            scratch.local[rule as usize] = rules.len() as u32;
            rules.push(rule);
        }
    };
    for &item in &kernel {
        if let Some(symbol) = g.next_symbol(item).filter(|&s| !g.is_terminal(s)) {
            add(g.rule_of(symbol), &mut rules, scratch);
        }
    }
    let mut i = 0;
    while i < rules.len() {
        for &p in g.productions_of(rules[i]) {
            if let Some(&symbol) = g.rhs(p).first().filter(|&&s| !g.is_terminal(s)) {
                add(g.rule_of(symbol), &mut rules, scratch);
            }
        }
        i += 1;
    }

    // 2. Direct contributions to each closure rule's lookahead set.
    let n_local = rules.len();
    let kernel_words = kernel.len().div_ceil(64).max(1);
    let mut spontaneous = vec![0u64; n_local * words];
    let mut from_kernel = vec![0u64; n_local * kernel_words];
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for (k, &item) in kernel.iter().enumerate() {
        if let Some(symbol) = g.next_symbol(item).filter(|&s| !g.is_terminal(s)) {
            let b = scratch.local[g.rule_of(symbol) as usize] as usize;
            or_into(&mut spontaneous[b * words..(b + 1) * words], first.suffix_first(item + 1));
            if first.suffix_nullable(item + 1) {
                set_bit(&mut from_kernel[b * kernel_words..(b + 1) * kernel_words], k as u32);
            }
        }
    }
    for (a, &rule) in rules.iter().enumerate() {
        for &p in g.productions_of(rule) {
            if let Some(&symbol) = g.rhs(p).first().filter(|&&s| !g.is_terminal(s)) {
                let item = g.first_item(p);
                let b = scratch.local[g.rule_of(symbol) as usize] as usize;
                or_into(&mut spontaneous[b * words..(b + 1) * words], first.suffix_first(item + 1));
                if first.suffix_nullable(item + 1) && a != b {
                    edges.push((a as u32, b as u32));
                }
            }
        }
    }

    // 3. Propagate along "A -> • B β with β nullable" edges to a fixpoint. Edges were found in
    //    discovery order, so one pass usually suffices.
    let mut tmp_s = vec![0u64; words];
    let mut tmp_k = vec![0u64; kernel_words];
    let mut changed = !edges.is_empty();
    while changed {
        changed = false;
        for &(a, b) in &edges {
            let (a, b) = (a as usize, b as usize);
            tmp_s.copy_from_slice(&spontaneous[a * words..(a + 1) * words]);
            tmp_k.copy_from_slice(&from_kernel[a * kernel_words..(a + 1) * kernel_words]);
            changed |= or_into(&mut spontaneous[b * words..(b + 1) * words], &tmp_s);
            changed |= or_into(&mut from_kernel[b * kernel_words..(b + 1) * kernel_words], &tmp_k);
        }
    }

    // 4. Share identical derivations.
    let mut derived: Vec<Derived> = Vec::new();
    let mut derived_index: HashMap<(&[u64], &[u64]), u32> = HashMap::new();
    let mut rule_derived = vec![0u32; n_local];
    for b in 0..n_local {
        let s = &spontaneous[b * words..(b + 1) * words];
        let k = &from_kernel[b * kernel_words..(b + 1) * kernel_words];
        rule_derived[b] = *derived_index.entry((s, k)).or_insert_with(|| {
            derived.push(Derived { spontaneous: s.to_vec(), kernels: bits(k).collect() });
            (derived.len() - 1) as u32
        });
    }

    // 5. Transitions and reduces.
    let mut moves: Vec<(u32, u32, LaSource)> = Vec::new();
    let mut reduces: Vec<Reduce> = Vec::new();
    for (k, &item) in kernel.iter().enumerate() {
        match g.next_symbol(item) {
            Some(symbol) => moves.push((symbol, item + 1, LaSource::Kernel(k as u32))),
            None => reduces.push(Reduce { production: g.item_production(item), source: LaSource::Kernel(k as u32) }),
        }
    }
    for (a, &rule) in rules.iter().enumerate() {
        let source = LaSource::Derived(rule_derived[a]);
        for &p in g.productions_of(rule) {
            let item = g.first_item(p);
            match g.next_symbol(item) {
                Some(symbol) => moves.push((symbol, item + 1, source)),
                None => reduces.push(Reduce { production: p, source }),
            }
        }
    }
    moves.sort_unstable_by_key(|&(symbol, item, _)| (symbol, item));
    reduces.sort_unstable_by_key(|r| r.production);
    let mut transitions = Vec::new();
    let mut targets = Vec::new();
    for group in moves.chunk_by(|x, y| x.0 == y.0) {
        transitions.push(Transition { symbol: group[0].0, target: 0, sources: group.iter().map(|m| m.2).collect() });
        targets.push(group.iter().map(|m| m.1).collect());
    }
    rules.sort_unstable();
    (Core { kernel, closure_rules: rules, derived, transitions, reduces }, targets)
}

#[cfg(test)]
mod tests {
    use super::super::items::tests::bnf;
    use super::*;

    fn lr0(productions: &[(&str, &[&str])]) -> (Grammar, Lr0) {
        let g = Grammar::from_bnf(&bnf(productions)).unwrap();
        let f = FirstSets::compute(&g);
        let a = Lr0::build(&g, &f, 1000).unwrap();
        (g, a)
    }

    #[test]
    fn classic_grammar_has_seven_lr0_cores() {
        // S -> C C ; C -> c C | d
        let (g, a) = lr0(&[("s", &["c", "c"]), ("c", &["X", "c"]), ("c", &["D"])]);
        assert_eq!(a.cores.len(), 7);
        let start = &a.cores[0];
        // Closure of S' -> • s adds s and c.
        assert_eq!(start.closure_rules, vec![0, 1]);
        assert_eq!(start.closure_items(&g).count(), 4);
        // Transitions in symbol order: X, D (terminals), then s, c.
        let symbols: Vec<u32> = start.transitions.iter().map(|t| t.symbol).collect();
        assert_eq!(symbols, vec![0, 1, g.rule_symbol(0), g.rule_symbol(1)]);
        // Lookahead of rule c in the start state: FIRST(c) = {X, D}, spontaneous only.
        let c_items: Vec<_> = start.transitions[0].sources.clone();
        let LaSource::Derived(d) = c_items[0] else { panic!("expected a derived source") };
        assert_eq!(bits(&start.derived[d as usize].spontaneous).collect::<Vec<_>>(), vec![0, 1]);
        assert!(start.derived[d as usize].kernels.is_empty());
        // The transition on s advances the kernel item; the one on c advances `s: • c c`,
        // whose rule s inherits the kernel item's lookahead (end of input).
        assert_eq!(start.transitions[2].sources, vec![LaSource::Kernel(0)]);
        let s_source = start.transitions[3].sources[0];
        let LaSource::Derived(d) = s_source else { panic!("expected a derived source") };
        assert_eq!(start.derived[d as usize].kernels, vec![0]);
    }

    #[test]
    fn nullable_tail_propagates_through_closure_chains() {
        // s -> a ; a -> b ; b -> X | <empty>: the end-of-input lookahead reaches b's items.
        let (g, a) = lr0(&[("s", &["a"]), ("a", &["b"]), ("b", &["X"]), ("b", &[])]);
        let start = &a.cores[0];
        let eps = start.reduces.iter().find(|r| r.production == 3).unwrap();
        let LaSource::Derived(d) = eps.source else { panic!("expected a derived source") };
        assert_eq!(start.derived[d as usize].kernels, vec![0]);
        assert!(start.derived[d as usize].spontaneous.iter().all(|&w| w == 0));
        assert_eq!(start.kernel, vec![g.first_item(g.augmented())]);
    }

    #[test]
    fn state_limit_is_reported() {
        let g = Grammar::from_bnf(&bnf(&[("s", &["c", "c"]), ("c", &["X", "c"]), ("c", &["D"])])).unwrap();
        let f = FirstSets::compute(&g);
        assert!(Lr0::build(&g, &f, 3).is_err());
    }
}
