//! Terminal definitions to [`Pattern`]s, with terminal references inlined.
//!
//! **Invariants:** a pattern never holds a reference: a terminal's references are built first
//! (petgraph's Tarjan SCCs give the order, dependencies first) and copied in. A reference cycle
//! (`A: B`, `B: A "x"`) is an error reported once per cycle, and so is a reference to a rule, a
//! template or a `%declare`d terminal. Patterns are normalized: nested concatenations and
//! alternations are flattened and adjacent literals with the same case flag are joined, so
//! `"a" "b"` is the literal `"ab"`. A pattern larger than [`MAX_PATTERN_NODES`] nodes after
//! inlining is an error (inlining can double a pattern per level).

use std::collections::{HashMap, HashSet};

use petgraph::graph::{DiGraph, NodeIndex};

use super::bnf::{Pattern, RegexFlags};
use super::symbols::{EntryKind, SymbolTable};
use crate::diagnostics::{Diagnostic, Span};
use crate::grammar::ast::*;

/// Largest pattern (in nodes) one terminal may have after inlining.
pub const MAX_PATTERN_NODES: usize = 100_000;

/// Built patterns of the named terminals, by symbol-table entry.
#[derive(Debug, Default)]
pub(crate) struct TerminalPatterns {
    pub patterns: HashMap<usize, Pattern>,
    /// `(user, used)`: terminal entry `user` refers to terminal entry `used`.
    pub refs: Vec<(usize, usize)>,
}

pub(crate) fn build(table: &SymbolTable, diagnostics: &mut Vec<Diagnostic>) -> TerminalPatterns {
    let terminals: Vec<usize> = table
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::Terminal && !e.declared)
        .map(|(i, _)| i)
        .collect();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let mut node_of: HashMap<usize, NodeIndex> = HashMap::new();
    for &t in &terminals {
        node_of.insert(t, graph.add_node(t));
    }
    let mut out = TerminalPatterns::default();
    for &t in &terminals {
        let Some(entry) = table.entries.get(t) else { continue };
        for used in referenced_terminals(&entry.def.body, table) {
            if let (Some(&a), Some(&b)) = (node_of.get(&t), node_of.get(&used)) {
                // `add_edge`: `update_edge` scans the edge list per insert, quadratic for a
                // terminal with many references; Tarjan does not mind a repeated edge.
                graph.add_edge(a, b, ());
                out.refs.push((t, used));
            }
        }
    }
    let mut failed: HashSet<usize> = HashSet::new();
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let members: Vec<usize> = scc.iter().filter_map(|n| graph.node_weight(*n).copied()).collect();
        let cyclic = members.len() > 1 || scc.first().is_some_and(|&n| graph.contains_edge(n, n));
        if cyclic {
            let mut sorted = members.clone();
            sorted.sort_unstable();
            let names: Vec<&str> = sorted.iter().filter_map(|&m| table.entries.get(m)).map(|e| e.def.name.name.as_str()).collect();
            if let Some(first) = sorted.first().and_then(|&m| table.entries.get(m)) {
                let mut diag = Diagnostic::error(
                    format!("terminal `{}` refers to itself{}", first.def.name.name, if names.len() > 1 { " through other terminals" } else { "" }),
                    first.def.name.span,
                )
                .with_note(format!("cycle: {} -> {}", names.join(" -> "), first.def.name.name))
                .with_help("terminals are regular: express the repetition with `*`, `+` or `~`, or make it a rule (lowercase name)");
                for &m in sorted.iter().skip(1) {
                    if let Some(e) = table.entries.get(m) {
                        diag = diag.with_label(e.def.name.span, "part of the cycle");
                    }
                }
                diagnostics.push(diag);
            }
            failed.extend(members);
            continue;
        }
        for t in members {
            let Some(entry) = table.entries.get(t) else { continue };
            let mut b = Builder { table, built: &out.patterns, failed: &failed, diagnostics, ok: true, owner: &entry.def.name.name };
            let pattern = b.expansions(&entry.def.body);
            let ok = b.ok;
            if ok && size(&pattern) > MAX_PATTERN_NODES {
                diagnostics.push(
                    Diagnostic::error(
                        format!("terminal `{}` is too large after inlining its references (more than {MAX_PATTERN_NODES} nodes)", entry.def.name.name),
                        entry.def.name.span,
                    )
                    .with_help("use a rule for the repeated structure, or simplify the terminal"),
                );
                failed.insert(t);
            } else if ok {
                out.patterns.insert(t, pattern);
            } else {
                failed.insert(t);
            }
        }
    }
    out
}

/// The pattern of an anonymous terminal expression (a `%ignore` body), references inlined.
pub(crate) fn pattern_of(
    body: &Expansions,
    owner: &str,
    table: &SymbolTable,
    built: &TerminalPatterns,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Pattern> {
    let failed = HashSet::new();
    let mut b = Builder { table, built: &built.patterns, failed: &failed, diagnostics, ok: true, owner };
    let p = b.expansions(body);
    b.ok.then_some(p)
}

/// A literal atom's pattern (also used for anonymous literals in rules).
pub(crate) fn literal_pattern(l: &Literal) -> Pattern {
    Pattern::Literal { value: l.value.clone(), case_insensitive: l.case_insensitive }
}

pub(crate) fn regex_pattern(r: &Regex) -> Pattern {
    Pattern::Regex { source: r.source.clone(), flags: regex_flags(&r.flags), span: r.span }
}

/// `"a".."z"`; `None` (with a diagnostic) unless both ends are single characters in order.
pub(crate) fn range_pattern(from: &Literal, to: &Literal, span: Span, diagnostics: &mut Vec<Diagnostic>) -> Option<Pattern> {
    let one = |l: &Literal| {
        let mut chars = l.value.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    };
    match (one(from), one(to)) {
        (Some(a), Some(b)) if a <= b => Some(Pattern::Range { from: a, to: b }),
        (Some(a), Some(b)) => {
            diagnostics.push(
                Diagnostic::error(format!("range {:?}..{:?} is empty", a, b), span).with_help(format!("write the smaller end first: {:?}..{:?}", b, a)),
            );
            None
        }
        _ => {
            diagnostics.push(
                Diagnostic::error("range ends must be single characters", span).with_help("write a range like `\"a\"..\"z\"`, or use a regex"),
            );
            None
        }
    }
}

pub(crate) fn regex_flags(flags: &str) -> RegexFlags {
    RegexFlags {
        case_insensitive: flags.contains('i'),
        multi_line: flags.contains('m'),
        dot_matches_new_line: flags.contains('s'),
        ignore_whitespace: flags.contains('x'),
        unicode: flags.contains('u'),
    }
}

/// Terminal entries named in a terminal body (rules and unknown names are left to the builder).
fn referenced_terminals(body: &Expansions, table: &SymbolTable) -> Vec<usize> {
    let mut body = body.clone();
    let mut out = Vec::new();
    for_each_name_mut(&mut body, &mut |id| {
        if let Some((idx, e)) = table.get(&id.name) {
            if e.kind == EntryKind::Terminal && !e.declared {
                out.push(idx);
            }
        }
    });
    out
}

/// Number of nodes of a pattern.
pub(crate) fn size(p: &Pattern) -> usize {
    match p {
        Pattern::Literal { .. } | Pattern::Regex { .. } | Pattern::Range { .. } => 1,
        Pattern::Concat(v) | Pattern::Alt(v) => 1 + v.iter().map(size).sum::<usize>(),
        Pattern::Repeat { inner, .. } => 1 + size(inner),
    }
}

struct Builder<'a, 'd> {
    table: &'a SymbolTable,
    built: &'a HashMap<usize, Pattern>,
    failed: &'a HashSet<usize>,
    diagnostics: &'d mut Vec<Diagnostic>,
    ok: bool,
    owner: &'a str,
}

impl Builder<'_, '_> {
    fn expansions(&mut self, e: &Expansions) -> Pattern {
        let alts: Vec<Pattern> = e.alternatives.iter().map(|a| self.alternative(a)).collect();
        alt(alts)
    }

    fn alternative(&mut self, a: &Alternative) -> Pattern {
        if let Some(alias) = &a.alias {
            self.diagnostics.push(
                Diagnostic::warning(format!("alias `-> {}` has no effect in terminal `{}`", alias.name, self.owner), alias.span)
                    .with_help("aliases name tree nodes of rules; remove it"),
            );
        }
        concat(a.items.iter().map(|e| self.expr(e)).collect())
    }

    fn expr(&mut self, e: &Expr) -> Pattern {
        let inner = self.atom(&e.atom);
        let (min, max) = match e.op {
            None => return inner,
            Some(Op::Optional) => (0, Some(1)),
            Some(Op::Star) => (0, None),
            Some(Op::Plus) => (1, None),
            Some(Op::Repeat { min, max }) => (min, Some(max)),
        };
        Pattern::Repeat { inner: Box::new(inner), min, max }
    }

    fn atom(&mut self, a: &Atom) -> Pattern {
        match a {
            Atom::Group(e) => self.expansions(e),
            Atom::Maybe(e) => Pattern::Repeat { inner: Box::new(self.expansions(e)), min: 0, max: Some(1) },
            Atom::Literal(l) => literal_pattern(l),
            Atom::Regex(r) => regex_pattern(r),
            Atom::Range { from, to, span } => match range_pattern(from, to, *span, self.diagnostics) {
                Some(p) => p,
                None => self.fail(),
            },
            Atom::Name(id) => self.reference(id),
            Atom::Template { name, span, .. } => {
                self.diagnostics.push(
                    Diagnostic::error(format!("terminal `{}` uses template `{}`", self.owner, name.name), *span)
                        .with_help("templates expand to rules; terminals can only use terminals, strings and regexes"),
                );
                self.fail()
            }
        }
    }

    fn reference(&mut self, id: &Ident) -> Pattern {
        let Some((idx, entry)) = self.table.resolve(id, self.diagnostics) else { return self.fail() };
        match entry.kind {
            EntryKind::Terminal if entry.declared => {
                self.diagnostics.push(
                    Diagnostic::error(format!("terminal `{}` refers to `{}`, which is only declared", self.owner, id.name), id.span)
                        .with_help("a `%declare`d terminal has no pattern to inline; define it instead"),
                );
                self.fail()
            }
            EntryKind::Terminal => match self.built.get(&idx) {
                Some(p) => p.clone(),
                None => {
                    // Failed (already reported) or part of a reported cycle.
                    let _ = self.failed;
                    self.fail()
                }
            },
            EntryKind::Rule | EntryKind::Template => {
                self.diagnostics.push(
                    Diagnostic::error(format!("terminal `{}` refers to rule `{}`", self.owner, id.name), id.span)
                        .with_help(format!("terminals can only use terminals, strings and regexes; make `{}` a rule (lowercase name)", self.owner)),
                );
                self.fail()
            }
        }
    }

    fn fail(&mut self) -> Pattern {
        self.ok = false;
        Pattern::Concat(Vec::new())
    }
}

/// Concatenation, flattened, with adjacent literals of the same case flag joined.
pub(crate) fn concat(items: Vec<Pattern>) -> Pattern {
    let mut out: Vec<Pattern> = Vec::new();
    let push = |p: Pattern, out: &mut Vec<Pattern>| {
        if let (Some(Pattern::Literal { value: prev, case_insensitive: pci }), Pattern::Literal { value, case_insensitive }) = (out.last_mut(), &p) {
            if pci == case_insensitive {
                prev.push_str(value);
                return;
            }
        }
        out.push(p);
    };
    for p in items {
        match p {
            Pattern::Concat(inner) => {
                for q in inner {
                    push(q, &mut out);
                }
            }
            other => push(other, &mut out),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Pattern::Concat(Vec::new()))
    } else {
        Pattern::Concat(out)
    }
}

/// Alternation, flattened; one alternative is returned as is.
pub(crate) fn alt(items: Vec<Pattern>) -> Pattern {
    let mut out = Vec::new();
    for p in items {
        match p {
            Pattern::Alt(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Pattern::Alt(Vec::new()))
    } else {
        Pattern::Alt(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceMap;
    use crate::grammar::{imports, parse};

    fn patterns(text: &str) -> (SourceMap, SymbolTable, TerminalPatterns, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse::parse_text(file, text);
        assert!(d.is_empty(), "{d:#?}");
        let (merged, mut d) = imports::resolve(&mut map, g.expect("parses"));
        let t = SymbolTable::build(&merged, &mut d);
        let p = build(&t, &mut d);
        (map, t, p, d)
    }

    fn pattern_of_name(t: &SymbolTable, p: &TerminalPatterns, name: &str) -> Pattern {
        let (idx, _) = t.get(name).expect("defined");
        p.patterns.get(&idx).cloned().expect("built")
    }

    fn lit(v: &str) -> Pattern {
        Pattern::Literal { value: v.into(), case_insensitive: false }
    }

    #[test]
    fn references_are_inlined_and_literals_joined() {
        let (_, t, p, d) = patterns("A: \"a\"\nAB: A \"b\"\nC: (AB | \"c\"i)+ \"x\"?\nR: \"0\"..\"9\" ~ 2..3\n");
        assert!(d.is_empty(), "{d:#?}");
        assert_eq!(pattern_of_name(&t, &p, "AB"), lit("ab"));
        assert_eq!(
            pattern_of_name(&t, &p, "C"),
            Pattern::Concat(vec![
                Pattern::Repeat {
                    inner: Box::new(Pattern::Alt(vec![lit("ab"), Pattern::Literal { value: "c".into(), case_insensitive: true }])),
                    min: 1,
                    max: None
                },
                Pattern::Repeat { inner: Box::new(lit("x")), min: 0, max: Some(1) },
            ])
        );
        assert_eq!(pattern_of_name(&t, &p, "R"), Pattern::Repeat { inner: Box::new(Pattern::Range { from: '0', to: '9' }), min: 2, max: Some(3) });
        assert!(p.refs.len() >= 2);
    }

    #[test]
    fn regex_flags_and_span_are_kept() {
        let (map, t, p, _) = patterns("A: /x+\\/y/imsxul\n");
        let Pattern::Regex { source, flags, span } = pattern_of_name(&t, &p, "A") else { panic!("regex expected") };
        assert_eq!(source, "x+/y");
        assert!(flags.case_insensitive && flags.multi_line && flags.dot_matches_new_line && flags.ignore_whitespace && flags.unicode);
        assert_eq!(map.location(span), "g.lark:1:4");
    }

    #[test]
    fn cycles_are_errors_once_per_cycle() {
        let (map, _, p, d) = patterns("A: B \"x\"\nB: A | \"y\"\nC: C\nD: A\n");
        let errs: Vec<&Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errs.len(), 2, "{d:#?}");
        assert_eq!(errs[0].message, "terminal `A` refers to itself through other terminals");
        assert_eq!(map.location(errs[0].span.expect("located")), "g.lark:1:1");
        assert_eq!(errs[0].notes, ["cycle: A -> B -> A"]);
        assert_eq!(errs[1].message, "terminal `C` refers to itself");
        assert!(p.patterns.is_empty(), "D depends on a cycle and is not built either");
    }

    #[test]
    fn references_to_rules_declared_and_bad_ranges() {
        let (map, _, _, d) = patterns("r: \"r\"\nA: r\n%declare X\nB: X\nC: \"ab\"..\"c\"\nD: \"z\"..\"a\"\nE: UNKNOWN\n");
        let msgs: Vec<(&str, String)> = d.iter().map(|d| (d.message.as_str(), map.location(d.span.expect("located")))).collect();
        assert!(msgs.contains(&("terminal `A` refers to rule `r`", "g.lark:2:4".into())), "{msgs:?}");
        assert!(msgs.contains(&("terminal `B` refers to `X`, which is only declared", "g.lark:4:4".into())), "{msgs:?}");
        assert!(msgs.contains(&("range ends must be single characters", "g.lark:5:4".into())), "{msgs:?}");
        assert!(msgs.contains(&("range 'z'..'a' is empty", "g.lark:6:4".into())), "{msgs:?}");
        assert!(msgs.contains(&("undefined terminal `UNKNOWN`", "g.lark:7:4".into())), "{msgs:?}");
    }

    #[test]
    fn exponential_inlining_is_bounded() {
        let mut text = String::from("T0: \"a\" | \"b\"\n");
        for i in 1..40 {
            text.push_str(&format!("T{i}: T{} T{} | \"c\"\n", i - 1, i - 1));
        }
        let (_, _, _, d) = patterns(&text);
        assert!(d.iter().any(|d| d.message.contains("too large after inlining")), "{d:#?}");
    }

    #[test]
    fn common_terminals_build() {
        let (_, t, p, d) = patterns("%import common (NUMBER, SIGNED_NUMBER, ESCAPED_STRING, CNAME, WS, NEWLINE, C_COMMENT, HEXDIGIT, WORD)\n");
        assert!(d.is_empty(), "{d:#?}");
        assert!(matches!(pattern_of_name(&t, &p, "NEWLINE"), Pattern::Repeat { min: 1, max: None, .. }));
        assert!(matches!(pattern_of_name(&t, &p, "ESCAPED_STRING"), Pattern::Concat(v) if v.len() == 3));
    }
}
