//! EBNF rule bodies to plain BNF productions, shaped for LR parsing the way Lark shapes them.
//!
//! A sequence is expanded into the product of its parts' alternatives: `a (b | c) d` gives two
//! productions and `x?` / `[x]` give one with and one without `x`, as long as one sequence
//! yields at most [`MAX_ALTERNATIVES`]; a part that would pass the bound is moved into a fresh
//! rule (`__rule_group_N`) instead. `x+` becomes a fresh left-recursive rule
//! `__rule_plus_N: x | __rule_plus_N x`, and `x*` is `[x+]`. `x ~ n..m` is expanded in place when
//! small, else into `x` repeated `n` times and a chain of optional tails (`__rule_repeat_N`).
//!
//! **Invariants:** fresh rules are shared when their lowered content is identical (so `x*` used
//! twice makes one `__..._plus_N` rule); a rule never lists the same production twice and has
//! no `R -> R` production; every generated rule has `generated: true` and a name beginning
//! with `__`. Literals, regexes and ranges in rules become terminals through
//! [`super::extract_literals::Terms`].

use std::collections::HashMap;

use super::extract_literals::Terms;
use super::ir::{IrRule, Prod, Sym};
use super::symbols::{EntryKind, SymbolTable};
use super::terminals::{literal_pattern, range_pattern, regex_pattern};
use crate::diagnostics::{Diagnostic, Span};
use crate::grammar::ast::*;

/// Most alternatives one sequence is expanded into before parts move into fresh rules.
pub const MAX_ALTERNATIVES: usize = 64;
/// Largest count accepted in `~ n..m`.
pub const MAX_REPEAT: u32 = 1000;

/// Longest production `~` expands to in place (nested repetitions go through fresh rules).
const MAX_SEQUENCE: usize = 10_000;

type Alts = Vec<Vec<Sym>>;

pub(crate) struct Expander<'a> {
    pub table: &'a SymbolTable,
    pub terms: &'a mut Terms,
    /// Named terminal entry -> terminal index.
    pub term_of_entry: &'a HashMap<usize, usize>,
    pub diagnostics: &'a mut Vec<Diagnostic>,
    pub rules: Vec<IrRule>,
    pub rule_of_entry: HashMap<usize, usize>,
    fresh_cache: HashMap<(&'static str, Alts), usize>,
    counter: usize,
}

impl<'a> Expander<'a> {
    pub fn new(
        table: &'a SymbolTable,
        terms: &'a mut Terms,
        term_of_entry: &'a HashMap<usize, usize>,
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Expander<'a> {
        Expander { table, terms, term_of_entry, diagnostics, rules: Vec::new(), rule_of_entry: HashMap::new(), fresh_cache: HashMap::new(), counter: 0 }
    }

    /// Lowers every rule of the table (templates only through their instances).
    pub fn run(&mut self) {
        let rule_entries: Vec<usize> =
            self.table.entries.iter().enumerate().filter(|(_, e)| e.kind == EntryKind::Rule).map(|(i, _)| i).collect();
        for &idx in &rule_entries {
            let Some(e) = self.table.entries.get(idx) else { continue };
            self.rule_of_entry.insert(idx, self.rules.len());
            let priority = e.def.priority.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
            self.rules.push(IrRule {
                name: e.def.name.name.clone(),
                span: e.def.name.span,
                generated: e.generated,
                priority,
                entry: Some(idx),
                prods: Vec::new(),
            });
        }
        for idx in rule_entries {
            let (Some(e), Some(&r)) = (self.table.entries.get(idx), self.rule_of_entry.get(&idx)) else { continue };
            let ctx = context_name(&e.def.name.name);
            let body = &e.def.body;
            if body.alternatives.len() > 1 && body.alternatives.first().is_some_and(|a| a.items.is_empty()) {
                self.diagnostics.push(
                    Diagnostic::warning(format!("rule `{}` starts with `|`, so its first alternative is empty", e.def.name.name), e.def.name.span)
                        .with_note("Lark reads `rule: | a` as `rule: <nothing> | a`; syncodec does the same")
                        .with_help("remove the leading `|` unless the rule should also match nothing"),
                );
            }
            let mut prods = Vec::new();
            for alt in &body.alternatives {
                for rhs in self.sequence(&alt.items, &ctx) {
                    prods.push(Prod { rhs, span: alt.span });
                }
            }
            if let Some(rule) = self.rules.get_mut(r) {
                rule.prods = clean(r, prods);
            }
        }
    }

    fn sequence(&mut self, items: &[Expr], ctx: &str) -> Alts {
        let mut acc: Alts = vec![Vec::new()];
        for expr in items {
            let mut opts = self.expr(expr, ctx);
            if opts.len() > 1 && acc.len() * opts.len() > MAX_ALTERNATIVES {
                opts = vec![vec![Sym::Rule(self.fresh("group", ctx, opts, expr.span))]];
            }
            // One option (the usual case) extends every prefix in place, and distinct prefixes
            // stay distinct: cloning and rehashing the prefixes at every item would make a long
            // sequence quadratic. Several options happen at most MAX_ALTERNATIVES times per
            // sequence, since each one adds at least one prefix and `acc` never shrinks.
            if let [only] = opts.as_slice() {
                for prefix in &mut acc {
                    prefix.extend_from_slice(only);
                }
                continue;
            }
            let mut next = Vec::with_capacity(acc.len() * opts.len());
            for prefix in &acc {
                for opt in &opts {
                    let mut seq = prefix.clone();
                    seq.extend_from_slice(opt);
                    next.push(seq);
                }
            }
            acc = dedup(next);
        }
        acc
    }

    fn expansions(&mut self, e: &Expansions, ctx: &str) -> Alts {
        let mut out = Vec::new();
        for alt in &e.alternatives {
            out.extend(self.sequence(&alt.items, ctx));
        }
        dedup(out)
    }

    fn expr(&mut self, e: &Expr, ctx: &str) -> Alts {
        let base = self.atom(&e.atom, ctx);
        match e.op {
            None => base,
            Some(Op::Optional) => {
                let mut alts = base;
                alts.push(Vec::new());
                dedup(alts)
            }
            Some(Op::Plus) => vec![vec![Sym::Rule(self.plus(base, ctx, e.span))]],
            Some(Op::Star) => vec![Vec::new(), vec![Sym::Rule(self.plus(base, ctx, e.span))]],
            Some(Op::Repeat { min, max }) => self.repeat(base, min, max, ctx, e.span),
        }
    }

    fn atom(&mut self, a: &Atom, ctx: &str) -> Alts {
        match a {
            Atom::Group(e) => self.expansions(e, ctx),
            Atom::Maybe(e) => {
                let mut alts = self.expansions(e, ctx);
                alts.push(Vec::new());
                dedup(alts)
            }
            Atom::Name(id) => match self.symbol(id) {
                Some(sym) => vec![vec![sym]],
                None => vec![Vec::new()],
            },
            Atom::Literal(l) => vec![vec![Sym::Term(self.terms.anonymous(literal_pattern(l), l.span))]],
            Atom::Regex(r) => vec![vec![Sym::Term(self.terms.anonymous(regex_pattern(r), r.span))]],
            Atom::Range { from, to, span } => match range_pattern(from, to, *span, self.diagnostics) {
                Some(p) => vec![vec![Sym::Term(self.terms.anonymous(p, *span))]],
                None => vec![Vec::new()],
            },
            // Left only where template expansion reported an error.
            Atom::Template { .. } => vec![Vec::new()],
        }
    }

    fn symbol(&mut self, id: &Ident) -> Option<Sym> {
        let (idx, entry) = self.table.resolve(id, self.diagnostics)?;
        match entry.kind {
            EntryKind::Rule => self.rule_of_entry.get(&idx).map(|&r| Sym::Rule(r)),
            EntryKind::Terminal => self.term_of_entry.get(&idx).map(|&t| Sym::Term(t)),
            EntryKind::Template => {
                self.diagnostics.push(
                    Diagnostic::error(format!("template `{}` is used without arguments", id.name), id.span)
                        .with_help(format!("pass arguments: `{}{{...}}`", id.name)),
                );
                None
            }
        }
    }

    /// `__ctx_plus_N: x | __ctx_plus_N x` for every alternative `x` of `base`.
    fn plus(&mut self, base: Alts, ctx: &str, span: Span) -> usize {
        let key = ("plus", base.clone());
        if let Some(&r) = self.fresh_cache.get(&key) {
            return r;
        }
        let r = self.new_rule("plus", ctx, span);
        let mut prods: Vec<Prod> = base.iter().map(|x| Prod { rhs: x.clone(), span }).collect();
        for x in &base {
            let mut rhs = vec![Sym::Rule(r)];
            rhs.extend_from_slice(x);
            prods.push(Prod { rhs, span });
        }
        if let Some(rule) = self.rules.get_mut(r) {
            rule.prods = clean(r, prods);
        }
        self.fresh_cache.insert(key, r);
        r
    }

    /// A fresh rule whose productions are `alts` (shared when `alts` repeat).
    fn fresh(&mut self, kind: &'static str, ctx: &str, alts: Alts, span: Span) -> usize {
        let key = (kind, alts);
        if let Some(&r) = self.fresh_cache.get(&key) {
            return r;
        }
        let r = self.new_rule(kind, ctx, span);
        let prods = key.1.iter().map(|rhs| Prod { rhs: rhs.clone(), span }).collect();
        if let Some(rule) = self.rules.get_mut(r) {
            rule.prods = clean(r, prods);
        }
        self.fresh_cache.insert(key, r);
        r
    }

    fn new_rule(&mut self, kind: &str, ctx: &str, span: Span) -> usize {
        let name = format!("__{ctx}_{kind}_{}", self.counter);
        self.counter += 1;
        self.rules.push(IrRule { name, span, generated: true, priority: 0, entry: None, prods: Vec::new() });
        self.rules.len() - 1
    }

    fn repeat(&mut self, base: Alts, min: u32, max: u32, ctx: &str, span: Span) -> Alts {
        if max > MAX_REPEAT {
            self.diagnostics.push(
                Diagnostic::error(format!("repetition count {max} is larger than {MAX_REPEAT}"), span)
                    .with_help("use `+` or `*` with a check outside the grammar, or restructure the rule"),
            );
            return vec![Vec::new()];
        }
        if max == 0 {
            return vec![Vec::new()];
        }
        // Small enough to expand completely in place?
        let mut total: usize = 0;
        for k in min..=max {
            total = total.saturating_add(base.len().saturating_pow(k));
        }
        let longest = base.iter().map(Vec::len).max().unwrap_or(0);
        if total <= MAX_ALTERNATIVES && longest.saturating_mul(max as usize) <= MAX_SEQUENCE {
            let mut out = Vec::new();
            for k in min..=max {
                let mut acc: Alts = vec![Vec::new()];
                for _ in 0..k {
                    acc = acc.iter().flat_map(|p| base.iter().map(move |x| [p.clone(), x.clone()].concat())).collect();
                }
                out.extend(acc);
            }
            return dedup(out);
        }
        let unit: Vec<Sym> = match base.as_slice() {
            [one] if one.len().saturating_mul(max as usize) <= MAX_SEQUENCE => one.clone(),
            _ => vec![Sym::Rule(self.fresh("group", ctx, base, span))],
        };
        if (max - min + 1) as usize <= MAX_ALTERNATIVES {
            return dedup((min..=max).map(|k| unit.repeat(k as usize)).collect());
        }
        // unit^min, then a chain of optional tails: T1: | unit, Tk: | unit T(k-1).
        let mut tail: Option<usize> = None;
        for _ in 0..(max - min) {
            let mut with = unit.clone();
            if let Some(t) = tail {
                with.push(Sym::Rule(t));
            }
            tail = Some(self.fresh("repeat", ctx, vec![Vec::new(), with], span));
        }
        let mut seq = unit.repeat(min as usize);
        if let Some(t) = tail {
            seq.push(Sym::Rule(t));
        }
        vec![seq]
    }
}

/// `expr` for `expr`, `_sep` for the template instance `_sep{x, y}`.
fn context_name(rule: &str) -> String {
    let base = rule.split('{').next().unwrap_or(rule);
    base.trim_start_matches('_').to_owned()
}

fn dedup(alts: Alts) -> Alts {
    let mut seen = std::collections::HashSet::new();
    alts.into_iter().filter(|a| seen.insert(a.clone())).collect()
}

/// Drops repeated productions and `R -> R`, keeping the first occurrence's order.
fn clean(rule: usize, prods: Vec<Prod>) -> Vec<Prod> {
    let mut seen = std::collections::HashSet::new();
    prods.into_iter().filter(|p| p.rhs != [Sym::Rule(rule)] && seen.insert(p.rhs.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceMap;
    use crate::grammar::{imports, parse};
    use crate::lower::ir::Term;

    struct Lowered {
        rules: Vec<IrRule>,
        terms: Vec<Term>,
        diags: Vec<Diagnostic>,
    }

    fn lower(text: &str) -> Lowered {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse::parse_text(file, text);
        assert!(d.is_empty(), "{d:#?}");
        let (merged, mut d) = imports::resolve(&mut map, g.expect("parses"));
        let table = SymbolTable::build(&merged, &mut d);
        let mut terms = Terms::new(table.entries.iter().map(|e| e.def.name.name.clone()));
        let mut term_of_entry = HashMap::new();
        for (i, e) in table.entries.iter().enumerate() {
            if e.kind == EntryKind::Terminal {
                let t = Term {
                    name: e.def.name.name.clone(),
                    display: e.def.name.name.clone(),
                    pattern: None,
                    priority: 0,
                    kind: crate::lower::bnf::TerminalKind::Pattern,
                    span: e.def.name.span,
                    entry: Some(i),
                };
                term_of_entry.insert(i, terms.add_named(t));
            }
        }
        let mut x = Expander::new(&table, &mut terms, &term_of_entry, &mut d);
        x.run();
        let rules = x.rules;
        Lowered { rules, terms: terms.list, diags: d }
    }

    /// `name: a b | c` lines, terminals by name.
    fn show(l: &Lowered) -> Vec<String> {
        l.rules
            .iter()
            .map(|r| {
                let alts: Vec<String> = r
                    .prods
                    .iter()
                    .map(|p| {
                        p.rhs
                            .iter()
                            .map(|s| match s {
                                Sym::Rule(i) => l.rules[*i].name.clone(),
                                Sym::Term(i) => l.terms[*i].name.clone(),
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                format!("{}: {}", r.name, alts.join(" | "))
            })
            .collect()
    }

    #[test]
    fn groups_and_optionals_are_distributed() {
        let l = lower("start: \"a\" (\"b\" | \"c\") [\"d\"] \"e\"?\n");
        assert!(l.diags.is_empty(), "{:#?}", l.diags);
        assert_eq!(show(&l), ["start: A B D E | A B D | A B E | A B | A C D E | A C D | A C E | A C"]);
    }

    #[test]
    fn star_and_plus_share_one_left_recursive_rule() {
        let l = lower("start: x* \",\" x+ \";\" x+\nx: \"x\"\n");
        assert_eq!(
            show(&l),
            ["start: COMMA __start_plus_0 SEMICOLON __start_plus_0 | __start_plus_0 COMMA __start_plus_0 SEMICOLON __start_plus_0", "x: X", "__start_plus_0: x | __start_plus_0 x"]
        );
        assert!(l.rules[2].generated && !l.rules[0].generated);
    }

    #[test]
    fn plus_of_a_group_keeps_each_alternative() {
        let l = lower("start: (\"a\" | \"b\" \"c\")+\n");
        assert_eq!(show(&l)[1], "__start_plus_0: A | B C | __start_plus_0 A | __start_plus_0 B C");
    }

    #[test]
    fn many_optionals_move_into_fresh_rules() {
        let l = lower("start: \"a\"? \"b\"? \"c\"? \"d\"? \"e\"? \"f\"? \"g\"? \"h\"?\n");
        assert!(l.rules[0].prods.len() <= MAX_ALTERNATIVES, "{}", l.rules[0].prods.len());
        assert!(l.rules.iter().any(|r| r.name.starts_with("__start_group_") && r.generated));
    }

    #[test]
    fn repetition_counts() {
        let l = lower("start: \"a\" ~ 3 \";\" \"b\" ~ 1..2\n");
        assert_eq!(show(&l), ["start: A A A SEMICOLON B | A A A SEMICOLON B B"]);
        let l = lower("start: \"a\" ~ 0..200\n");
        assert_eq!(l.rules[0].prods.len(), 1);
        assert!(show(&l)[0].starts_with("start: __start_repeat_"), "{:?}", show(&l));
        assert_eq!(l.rules.len(), 201);
        let l = lower("start: ((\"a\" \"b\") ~ 1000) ~ 1000\n");
        assert!(l.rules.iter().all(|r| r.prods.iter().all(|p| p.rhs.len() <= MAX_SEQUENCE)), "nested counts do not multiply out");
        let l = lower("start: \"a\" ~ 5000\n");
        assert_eq!(l.diags[0].message, "repetition count 5000 is larger than 1000");
    }

    #[test]
    fn literals_regexes_ranges_become_shared_terminals() {
        let l = lower("start: \"(\" /[0-9]+/ \"(\" /[0-9]+/ \"a\"..\"z\" LPAR \"if\"i\nLPAR: \"(\"\n");
        let names: Vec<&str> = l.terms.iter().map(|t| t.name.as_str()).collect();
        // The helper registers named terminals without patterns, so `"("` cannot reuse LPAR here
        // (reuse is covered in lower::tests) and the name LPAR is taken.
        assert_eq!(names, ["LPAR", "__ANON_0", "__ANON_1", "__ANON_2", "IF"]);
    }

    #[test]
    fn empty_alternatives_and_self_loops() {
        let l = lower("start: a\na: | \"x\" | \"x\"\nb: b | \"y\"\n");
        assert_eq!(show(&l), ["start: a", "a:  | X", "b: Y"]);
        assert_eq!(l.diags.len(), 1);
        assert_eq!(l.diags[0].message, "rule `a` starts with `|`, so its first alternative is empty");
        assert!(!l.diags[0].is_error());
    }

    #[test]
    fn undefined_and_template_without_arguments() {
        let l = lower("start: missing t\nt{x}: x\n");
        let msgs: Vec<&str> = l.diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(msgs, ["undefined rule `missing`", "template `t` is used without arguments"]);
    }
}
