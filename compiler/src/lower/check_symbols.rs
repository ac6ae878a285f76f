//! Whole-grammar symbol checks on the lowered rules: unproductive rules (errors) and rules or
//! terminals unreachable from the start rule (warnings).
//!
//! Productivity is the classic fixpoint, computed with a worklist: a rule is productive once
//! one of its productions has only terminals and productive rules. Reachability is a
//! depth-first search (petgraph) over the graph rule -> symbols of its productions, terminal ->
//! terminals its definition refers to, from the start rule and the `%ignore`d terminals. A
//! terminal only used inside another reachable terminal, or only by `%ignore`, is therefore
//! reachable. Both are linear in the size of the grammar.
//!
//! **Invariant:** only symbols the user wrote (or imported by name) are reported; rules made by
//! lowering and definitions pulled in as import dependencies never are.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;

use super::ir::{Ir, Sym};
use super::symbols::SymbolTable;
use crate::diagnostics::Diagnostic;
use crate::grammar::imports::Origin;

/// Rules with no finite derivation, by index.
///
/// Linear in the size of the grammar: each production counts its rule symbols not yet known to
/// be productive, and a rule that becomes productive decrements the counts of the productions
/// that use it (a fixpoint that rescans every rule until nothing changes is quadratic on a
/// chain of rules).
pub(crate) fn unproductive(ir: &Ir) -> Vec<usize> {
    let mut productive = vec![false; ir.rules.len()];
    // Per production: its rule, and how many of its rule symbols are not known productive.
    let mut lhs_of: Vec<usize> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    // Per rule: the productions it occurs in, once per occurrence.
    let mut used_in: Vec<Vec<usize>> = vec![Vec::new(); ir.rules.len()];
    let mut queue: Vec<usize> = Vec::new();
    for (r, rule) in ir.rules.iter().enumerate() {
        for p in &rule.prods {
            let prod = lhs_of.len();
            let mut n_pending = 0;
            for s in &p.rhs {
                if let Sym::Rule(q) = s {
                    // A symbol outside the rules (never made by lowering) stays pending forever.
                    if let Some(users) = used_in.get_mut(*q) {
                        users.push(prod);
                    }
                    n_pending += 1;
                }
            }
            lhs_of.push(r);
            pending.push(n_pending);
            if n_pending == 0 {
                queue.push(r);
            }
        }
    }
    while let Some(r) = queue.pop() {
        match productive.get_mut(r) {
            Some(slot) if !*slot => *slot = true,
            _ => continue,
        }
        for prod in used_in.get_mut(r).map(std::mem::take).unwrap_or_default() {
            let Some(n_pending) = pending.get_mut(prod) else { continue };
            *n_pending = n_pending.saturating_sub(1);
            if *n_pending == 0 {
                queue.extend(lhs_of.get(prod).copied());
            }
        }
    }
    productive.iter().enumerate().filter(|(_, p)| !**p).map(|(r, _)| r).collect()
}

/// Reports unproductive rules; returns true when there was one.
pub(crate) fn report_unproductive(ir: &Ir, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let bad = unproductive(ir);
    let mut reported = false;
    for &r in &bad {
        let Some(rule) = ir.rules.get(r) else { continue };
        if rule.entry.is_none() {
            continue;
        }
        reported = true;
        diagnostics.push(
            Diagnostic::error(format!("rule `{}` is unproductive: no finite input can match it", rule.name), rule.span).with_help(format!(
                "every alternative of `{}` needs `{}` itself or another unproductive rule; add an alternative that ends the recursion",
                rule.name, rule.name
            )),
        );
    }
    if !reported {
        // Only generated rules are unproductive (cannot happen for well-formed input): name one.
        if let Some(rule) = bad.first().and_then(|&r| ir.rules.get(r)) {
            diagnostics.push(
                Diagnostic::error(format!("rule `{}` is unproductive: no finite input can match it", rule.name), rule.span)
                    .with_help("make the repeated part able to end"),
            );
            reported = true;
        }
    }
    reported
}

/// What is reachable from the start rule and the ignored terminals.
pub(crate) struct Reachable {
    pub rules: Vec<bool>,
    /// Terminals reached through rules, `%ignore` or other terminals.
    pub terms: Vec<bool>,
    /// Terminals that occur as grammar symbols (in a reachable production, or ignored).
    pub terms_as_symbols: Vec<bool>,
}

/// `term_refs`: `(user, used)` pairs of terminal indices from terminal definitions.
pub(crate) fn reachable(ir: &Ir, start: usize, term_refs: &[(usize, usize)]) -> Reachable {
    let n_rules = ir.rules.len();
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..n_rules + ir.terms.len()).map(|_| graph.add_node(())).collect();
    let node = |s: Sym| match s {
        Sym::Rule(r) => nodes.get(r).copied(),
        Sym::Term(t) => nodes.get(n_rules + t).copied(),
    };
    // `add_edge`, not `update_edge`: the latter scans the node's edge list on every insert,
    // quadratic for a rule with many alternatives; a repeated edge costs the search nothing.
    for (r, rule) in ir.rules.iter().enumerate() {
        for p in &rule.prods {
            for &s in &p.rhs {
                if let (Some(a), Some(b)) = (node(Sym::Rule(r)), node(s)) {
                    graph.add_edge(a, b, ());
                }
            }
        }
    }
    for &(a, b) in term_refs {
        if let (Some(a), Some(b)) = (node(Sym::Term(a)), node(Sym::Term(b))) {
            graph.add_edge(a, b, ());
        }
    }
    let mut seen = vec![false; nodes.len()];
    let roots = std::iter::once(Sym::Rule(start)).chain(ir.ignore.iter().map(|&t| Sym::Term(t)));
    // One search moved from root to root keeps what it found (a fresh search per ignored
    // terminal would clear a set of every node each time).
    let mut dfs = Dfs::empty(&graph);
    for root in roots {
        let Some(root) = node(root) else { continue };
        dfs.move_to(root);
        while let Some(n) = dfs.next(&graph) {
            if let Some(slot) = seen.get_mut(n.index()) {
                *slot = true;
            }
        }
    }
    let rules: Vec<bool> = seen.iter().take(n_rules).copied().collect();
    let terms: Vec<bool> = seen.iter().skip(n_rules).copied().collect();
    let mut terms_as_symbols = vec![false; ir.terms.len()];
    for (r, rule) in ir.rules.iter().enumerate() {
        if !rules.get(r).copied().unwrap_or(false) {
            continue;
        }
        for p in &rule.prods {
            for s in &p.rhs {
                if let Sym::Term(t) = s {
                    if let Some(slot) = terms_as_symbols.get_mut(*t) {
                        *slot = true;
                    }
                }
            }
        }
    }
    for &t in &ir.ignore {
        if let Some(slot) = terms_as_symbols.get_mut(t) {
            *slot = true;
        }
    }
    Reachable { rules, terms, terms_as_symbols }
}

/// Warnings for user-written rules and terminals that nothing reachable uses.
pub(crate) fn report_unreachable(ir: &Ir, table: &SymbolTable, reach: &Reachable, start_name: &str, diagnostics: &mut Vec<Diagnostic>) {
    for (r, rule) in ir.rules.iter().enumerate() {
        if reach.rules.get(r).copied().unwrap_or(true) {
            continue;
        }
        let Some(entry) = rule.entry.and_then(|e| table.entries.get(e)) else { continue };
        if entry.generated || matches!(entry.origin, Origin::Dependency(_)) {
            continue;
        }
        diagnostics.push(
            Diagnostic::warning(format!("rule `{}` is unreachable from `{start_name}`", rule.name), entry.site())
                .with_help(format!("use it in a rule reachable from `{start_name}`, or remove it")),
        );
    }
    for (t, term) in ir.terms.iter().enumerate() {
        if reach.terms.get(t).copied().unwrap_or(true) {
            continue;
        }
        let Some(entry) = term.entry.and_then(|e| table.entries.get(e)) else { continue };
        if matches!(entry.origin, Origin::Dependency(_)) || matches!(term.name.as_str(), "_INDENT" | "_DEDENT") {
            continue;
        }
        let (message, help) = match entry.origin {
            Origin::Imported(_) => (
                format!("terminal `{}` is imported but never used", term.name),
                format!("use it in a rule or write `%ignore {}`, or remove the import", term.name),
            ),
            _ => (
                format!("terminal `{}` is unreachable from `{start_name}`", term.name),
                format!("use it in a rule reachable from `{start_name}` or in `%ignore`, or remove it"),
            ),
        };
        diagnostics.push(Diagnostic::warning(message, entry.site()).with_help(help));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Span;
    use crate::lower::bnf::TerminalKind;
    use crate::lower::ir::{IrRule, Prod, Term};

    fn rule(name: &str, prods: Vec<Vec<Sym>>) -> IrRule {
        IrRule {
            name: name.into(),
            span: Span::default(),
            generated: false,
            priority: 0,
            entry: Some(0),
            prods: prods.into_iter().map(|rhs| Prod { rhs, span: Span::default() }).collect(),
        }
    }

    fn term(name: &str) -> Term {
        Term { name: name.into(), display: name.into(), pattern: None, priority: 0, kind: TerminalKind::Pattern, span: Span::default(), entry: None }
    }

    #[test]
    fn productivity_fixpoint() {
        // 0: s -> a | b ; 1: a -> a T ; 2: b -> c ; 3: c -> T b | T
        let ir = Ir {
            terms: vec![term("T")],
            rules: vec![
                rule("s", vec![vec![Sym::Rule(1)], vec![Sym::Rule(2)]]),
                rule("a", vec![vec![Sym::Rule(1), Sym::Term(0)]]),
                rule("b", vec![vec![Sym::Rule(3)]]),
                rule("c", vec![vec![Sym::Term(0), Sym::Rule(2)], vec![Sym::Term(0)]]),
            ],
            ignore: vec![],
        };
        assert_eq!(unproductive(&ir), [1]);
    }

    #[test]
    fn productivity_through_repeated_symbols_and_a_chain_defined_callee_last() {
        // 0: s -> a a ; 1: a -> b ; 2: b -> T ; 3: u -> u a (unproductive)
        let ir = Ir {
            terms: vec![term("T")],
            rules: vec![
                rule("s", vec![vec![Sym::Rule(1), Sym::Rule(1)]]),
                rule("a", vec![vec![Sym::Rule(2)]]),
                rule("b", vec![vec![Sym::Term(0)]]),
                rule("u", vec![vec![Sym::Rule(3), Sym::Rule(1)]]),
            ],
            ignore: vec![],
        };
        assert_eq!(unproductive(&ir), [3]);
        // r0 -> r1 T, ..., r(n-1) -> T: the worst order for a rescanning fixpoint.
        let n = 10_000;
        let mut rules: Vec<IrRule> = (0..n - 1).map(|i| rule("r", vec![vec![Sym::Rule(i + 1), Sym::Term(0)]])).collect();
        rules.push(rule("last", vec![vec![Sym::Term(0)]]));
        let chain = Ir { terms: vec![term("T")], rules, ignore: vec![] };
        assert!(unproductive(&chain).is_empty());
    }

    #[test]
    fn reachability_through_rules_ignores_and_terminal_refs() {
        // terms: 0 A (used), 1 WS (ignored), 2 DIGIT (inside 3), 3 NUM (used), 4 LOST
        let ir = Ir {
            terms: vec![term("A"), term("WS"), term("DIGIT"), term("NUM"), term("LOST")],
            rules: vec![rule("s", vec![vec![Sym::Term(0), Sym::Term(3)]]), rule("dead", vec![vec![Sym::Term(4)]])],
            ignore: vec![1],
        };
        let reach = reachable(&ir, 0, &[(3, 2)]);
        assert_eq!(reach.rules, [true, false]);
        assert_eq!(reach.terms, [true, true, true, true, false]);
        assert_eq!(reach.terms_as_symbols, [true, true, false, true, false]);
    }
}
