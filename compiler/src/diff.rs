//! What changed between two grammars, as data: the language surface (rules, terminals, ignored
//! terminals, layout declarations) and the LR tables (state counts, conflicts). `syncodec diff`
//! renders it and adds what needs the runtime (corpus verdicts, masks).
//!
//! Both sides are [`Language`]s: the artifact schema's [`CompiledGrammar`] (so a grammar file and
//! a built artifact compare alike) plus, for grammar files only, each terminal's pattern text and
//! the LR conflicts, which an artifact does not record.
//!
//! **Invariant:** a change of spelling alone is no difference. Rules are compared by their
//! alternatives with the rules that lowering generated (groups, repetitions; names beginning with
//! `__`) written out in place ([`Language::rule_alternatives`]), so their numbering does not
//! matter. Terminals are compared by language (their minimized DFAs, [`shortest_difference`]) and
//! priority, never by pattern text. Conflicts are compared by kind, lookahead and items, not by
//! LR state number.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use syncodec_artifacts::schema::{self, CompiledGrammar, DFA_ACCEPTING, DFA_LIVE, RULE_BIT};

use crate::lower::{Pattern, RegexFlags};
use crate::lr::{self, ConflictKind, MinSentences};
use crate::Compiled;

/// One side of a diff.
#[derive(Debug, Clone)]
pub struct Language {
    pub grammar: CompiledGrammar,
    /// Each terminal's pattern as text ([`pattern_text`]), by terminal name; `None` for an artifact.
    pub patterns: Option<BTreeMap<String, String>>,
    /// The LR conflicts; `None` for an artifact (it does not record them).
    pub conflicts: Option<Vec<ConflictInfo>>,
}

/// An LR conflict, named so that it can be matched across two grammars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictInfo {
    /// `shift/reduce` or `reduce/reduce`.
    pub kind: &'static str,
    pub lookahead: String,
    /// The items involved, as `check` prints them (`expr: expr "-" expr •`), sorted.
    pub items: Vec<String>,
    /// The example input `check` prints.
    pub example: String,
    pub state: usize,
    /// The items with generated rules written out (as in [`Language::rule_alternatives`]), sorted:
    /// what identifies the conflict across two grammars, with the kind and lookahead.
    key_items: Vec<String>,
}

impl ConflictInfo {
    fn key(&self) -> (&'static str, &str, &[String]) {
        (self.kind, self.lookahead.as_str(), self.key_items.as_slice())
    }
}

impl Language {
    /// A compiled grammar file (its conflicts included, also when they are errors).
    pub fn of_compiled(compiled: &Compiled) -> Language {
        let bnf = &compiled.bnf;
        let patterns = bnf.terminals.values().filter_map(|t| t.pattern.as_ref().map(|p| (t.name.clone(), pattern_text(p)))).collect();
        let mut language = Language { grammar: crate::emit::compiled_grammar(compiled), patterns: Some(patterns), conflicts: None };
        let by_rule = language.productions_by_rule();
        let conflicts = if compiled.lr.conflicts.is_empty() {
            Vec::new()
        } else {
            let min = MinSentences::compute(bnf);
            compiled
                .lr
                .conflicts
                .iter()
                .map(|c| {
                    let mut items: Vec<String> = c.items.iter().map(|&i| lr::format_item(bnf, i)).collect();
                    items.sort();
                    let mut key_items: Vec<String> = c.items.iter().map(|i| language.item_form(&by_rule, i.production.as_usize(), i.dot as usize)).collect();
                    key_items.sort();
                    ConflictInfo {
                        kind: match c.kind {
                            ConflictKind::ShiftReduce => "shift/reduce",
                            ConflictKind::ReduceReduce => "reduce/reduce",
                        },
                        lookahead: lr::format_column(bnf, c.lookahead),
                        items,
                        example: lr::example_text(bnf, &min, c),
                        state: c.state.as_usize(),
                        key_items,
                    }
                })
                .collect()
        };
        language.conflicts = Some(conflicts);
        language
    }

    /// A built artifact's grammar (no pattern texts, no conflicts).
    pub fn of_artifact(grammar: CompiledGrammar) -> Language {
        Language { grammar, patterns: None, conflicts: None }
    }

    fn terminal_name(&self, raw: u32) -> String {
        self.grammar.terminals.get(raw as usize).map_or_else(|| "?".to_string(), |t| t.name.clone())
    }

    /// How a terminal is written inside a rule's alternatives: its name, or for an anonymous
    /// regex terminal (`__ANON_n`, numbered by position) its pattern when known.
    fn terminal_word(&self, raw: u32) -> String {
        let name = self.terminal_name(raw);
        if name.starts_with("__ANON") {
            if let Some(p) = self.patterns.as_ref().and_then(|p| p.get(&name)) {
                return p.clone();
            }
        }
        name
    }

    /// Every rule written in the source (not generated by lowering), with its alternatives as
    /// sorted texts in which generated rules are written out as `(alt | alt)` (a reference back to
    /// an enclosing generated rule is `^k`, `k` levels up).
    pub fn rule_alternatives(&self) -> BTreeMap<String, BTreeSet<String>> {
        let g = &self.grammar;
        let by_rule = self.productions_by_rule();
        let mut out = BTreeMap::new();
        for (r, name) in g.rule_names.iter().enumerate() {
            if is_generated(name) {
                continue;
            }
            let alternatives = by_rule[r].iter().map(|&p| self.production_form(&by_rule, p, &mut Vec::new())).collect();
            out.insert(name.clone(), alternatives);
        }
        out
    }

    /// The productions of each rule, by rule index.
    fn productions_by_rule(&self) -> Vec<Vec<usize>> {
        let mut by_rule: Vec<Vec<usize>> = vec![Vec::new(); self.grammar.rule_names.len()];
        for (i, p) in self.grammar.productions.iter().enumerate() {
            if let Some(list) = by_rule.get_mut(p.lhs.as_usize()) {
                list.push(i);
            }
        }
        by_rule
    }

    fn production_form(&self, by_rule: &[Vec<usize>], production: usize, stack: &mut Vec<usize>) -> String {
        let Some(p) = self.grammar.productions.get(production) else { return "?".to_string() };
        let words: Vec<String> = p.rhs.iter().map(|&s| self.symbol_form(by_rule, s, stack)).collect();
        if words.is_empty() {
            "ε".to_string()
        } else {
            words.join(" ")
        }
    }

    /// A grammar symbol (schema encoding) with generated rules written out.
    fn symbol_form(&self, by_rule: &[Vec<usize>], symbol: u32, stack: &mut Vec<usize>) -> String {
        if symbol & RULE_BIT == 0 {
            return self.terminal_word(symbol);
        }
        let r = (symbol & !RULE_BIT) as usize;
        let name = self.grammar.rule_names.get(r).map_or("?", |n| n.as_str());
        if !is_generated(name) {
            return name.to_string();
        }
        if let Some(depth) = stack.iter().rev().position(|&q| q == r) {
            return format!("^{depth}");
        }
        stack.push(r);
        let alternatives: BTreeSet<String> = by_rule.get(r).into_iter().flatten().map(|&q| self.production_form(by_rule, q, stack)).collect();
        stack.pop();
        format!("({})", alternatives.into_iter().collect::<Vec<_>>().join(" | "))
    }

    /// An LR item `lhs: rhs • rhs` with generated rules written out.
    fn item_form(&self, by_rule: &[Vec<usize>], production: usize, dot: usize) -> String {
        let Some(p) = self.grammar.productions.get(production) else { return "?".to_string() };
        let mut words = vec![self.symbol_form(by_rule, RULE_BIT | p.lhs.raw(), &mut Vec::new()) + ":"];
        for (i, &s) in p.rhs.iter().enumerate() {
            if i == dot {
                words.push("•".to_string());
            }
            words.push(self.symbol_form(by_rule, s, &mut Vec::new()));
        }
        if dot >= p.rhs.len() {
            words.push("•".to_string());
        }
        words.join(" ")
    }

    /// The layout declarations and lexer settings, one line each, keyed by what they declare.
    fn layout(&self) -> BTreeMap<&'static str, String> {
        let g = &self.grammar;
        let names = |ids: &[syncodec_artifacts::ids::TerminalId]| ids.iter().map(|t| self.terminal_name(t.raw())).collect::<Vec<_>>().join(" ");
        let mut out = BTreeMap::new();
        out.insert("start rule", g.start_rule.clone());
        out.insert("lexer", if g.contextual_lexer { "contextual" } else { "basic" }.to_string());
        out.insert(
            "indentation",
            g.indentation.as_ref().map_or_else(
                || "none".to_string(),
                |i| {
                    format!(
                        "newline {}, indent {}, dedent {}, brackets {} / {}",
                        self.terminal_name(i.newline.raw()),
                        self.terminal_name(i.indent.raw()),
                        self.terminal_name(i.dedent.raw()),
                        names(&i.open_brackets),
                        names(&i.close_brackets)
                    )
                },
            ),
        );
        out.insert(
            "semicolon insertion",
            g.auto_semicolon.as_ref().map_or_else(
                || "none".to_string(),
                |s| format!("{} -> {} after {}", self.terminal_name(s.newline.raw()), self.terminal_name(s.semicolon.raw()), names(&s.triggers)),
            ),
        );
        out
    }
}

fn is_generated(rule_name: &str) -> bool {
    rule_name.starts_with("__")
}

/// Everything that differs between two grammars' language surface and tables.
#[derive(Debug, Clone, Default)]
pub struct GrammarDiff {
    pub rules_added: Vec<RuleForm>,
    pub rules_removed: Vec<RuleForm>,
    pub rules_redefined: Vec<RuleChange>,
    pub terminals_added: Vec<TerminalForm>,
    pub terminals_removed: Vec<TerminalForm>,
    pub terminals_redefined: Vec<TerminalChange>,
    pub ignored_added: Vec<String>,
    pub ignored_removed: Vec<String>,
    pub layout: Vec<LayoutChange>,
    pub tables: TablesDiff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleForm {
    pub name: String,
    pub alternatives: Vec<String>,
}

/// A rule in both grammars whose alternatives differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    pub name: String,
    /// Alternatives only the old grammar has.
    pub removed: Vec<String>,
    /// Alternatives only the new grammar has.
    pub added: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalForm {
    pub name: String,
    /// The pattern text, when the side is a grammar file and the terminal is not `%declare`d.
    pub pattern: Option<String>,
}

/// A terminal in both grammars whose language or priority differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalChange {
    pub name: String,
    pub old_pattern: Option<String>,
    pub new_pattern: Option<String>,
    pub old_priority: i32,
    pub new_priority: i32,
    /// A shortest string in one language and not the other; `None` when the languages are equal.
    pub difference: Option<Witness>,
}

/// A shortest string accepted by exactly one of two terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub bytes: Vec<u8>,
    /// True when the new terminal accepts it (and the old one does not).
    pub accepted_by_new: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutChange {
    pub what: &'static str,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TablesDiff {
    pub old_mode: String,
    pub new_mode: String,
    pub old_states: usize,
    pub new_states: usize,
    /// False when a side is an artifact: conflicts are then unknown and not compared.
    pub conflicts_compared: bool,
    pub conflicts_introduced: Vec<ConflictInfo>,
    pub conflicts_resolved: Vec<ConflictInfo>,
}

impl TablesDiff {
    pub fn is_empty(&self) -> bool {
        self.old_mode == self.new_mode && self.old_states == self.new_states && self.conflicts_introduced.is_empty() && self.conflicts_resolved.is_empty()
    }
}

impl GrammarDiff {
    /// True when the language surface is the same.
    pub fn language_is_empty(&self) -> bool {
        self.rules_added.is_empty()
            && self.rules_removed.is_empty()
            && self.rules_redefined.is_empty()
            && self.terminals_added.is_empty()
            && self.terminals_removed.is_empty()
            && self.terminals_redefined.is_empty()
            && self.ignored_added.is_empty()
            && self.ignored_removed.is_empty()
            && self.layout.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.language_is_empty() && self.tables.is_empty()
    }
}

/// Compares two grammars (see the module docs for what counts as a change).
pub fn diff(old: &Language, new: &Language) -> GrammarDiff {
    let mut out = GrammarDiff::default();

    let (old_rules, new_rules) = (old.rule_alternatives(), new.rule_alternatives());
    for (name, alternatives) in &old_rules {
        match new_rules.get(name) {
            None => out.rules_removed.push(RuleForm { name: name.clone(), alternatives: alternatives.iter().cloned().collect() }),
            Some(other) if other != alternatives => out.rules_redefined.push(RuleChange {
                name: name.clone(),
                removed: alternatives.difference(other).cloned().collect(),
                added: other.difference(alternatives).cloned().collect(),
            }),
            Some(_) => {}
        }
    }
    for (name, alternatives) in &new_rules {
        if !old_rules.contains_key(name) {
            out.rules_added.push(RuleForm { name: name.clone(), alternatives: alternatives.iter().cloned().collect() });
        }
    }

    let pattern = |side: &Language, name: &str| side.patterns.as_ref().and_then(|p| p.get(name).cloned());
    let old_terminals: BTreeMap<&str, &schema::Terminal> = old.grammar.terminals.iter().map(|t| (t.name.as_str(), t)).collect();
    let new_terminals: BTreeMap<&str, &schema::Terminal> = new.grammar.terminals.iter().map(|t| (t.name.as_str(), t)).collect();
    let empty = empty_dfa();
    for (&name, o) in &old_terminals {
        let Some(n) = new_terminals.get(name) else {
            out.terminals_removed.push(TerminalForm { name: name.to_string(), pattern: pattern(old, name) });
            continue;
        };
        let difference = shortest_difference(o.dfa.as_ref().unwrap_or(&empty), n.dfa.as_ref().unwrap_or(&empty));
        if difference.is_some() || o.priority != n.priority {
            out.terminals_redefined.push(TerminalChange {
                name: name.to_string(),
                old_pattern: pattern(old, name),
                new_pattern: pattern(new, name),
                old_priority: o.priority,
                new_priority: n.priority,
                difference,
            });
        }
    }
    for &name in new_terminals.keys() {
        if !old_terminals.contains_key(name) {
            out.terminals_added.push(TerminalForm { name: name.to_string(), pattern: pattern(new, name) });
        }
    }

    let ignored = |side: &Language| side.grammar.ignore.iter().map(|t| side.terminal_name(t.raw())).collect::<BTreeSet<_>>();
    let (old_ignored, new_ignored) = (ignored(old), ignored(new));
    out.ignored_added = new_ignored.difference(&old_ignored).cloned().collect();
    out.ignored_removed = old_ignored.difference(&new_ignored).cloned().collect();

    let new_layout = new.layout();
    for (what, old_value) in old.layout() {
        let new_value = new_layout.get(what).cloned().unwrap_or_default();
        if old_value != new_value {
            out.layout.push(LayoutChange { what, old: old_value, new: new_value });
        }
    }

    let tables = &mut out.tables;
    tables.old_mode = old.grammar.lr.mode.clone();
    tables.new_mode = new.grammar.lr.mode.clone();
    tables.old_states = old.grammar.lr.n_states as usize;
    tables.new_states = new.grammar.lr.n_states as usize;
    if let (Some(old_conflicts), Some(new_conflicts)) = (&old.conflicts, &new.conflicts) {
        tables.conflicts_compared = true;
        tables.conflicts_introduced = unmatched(new_conflicts, old_conflicts);
        tables.conflicts_resolved = unmatched(old_conflicts, new_conflicts);
    }
    out
}

/// The conflicts of `these` left over after pairing each with one of `others` of the same key
/// (a multiset difference: LR(1) may split one conflict over several states).
fn unmatched(these: &[ConflictInfo], others: &[ConflictInfo]) -> Vec<ConflictInfo> {
    let mut available: BTreeMap<_, usize> = BTreeMap::new();
    for c in others {
        *available.entry(c.key()).or_default() += 1;
    }
    these
        .iter()
        .filter(|c| match available.get_mut(&c.key()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

fn empty_dfa() -> schema::Dfa {
    schema::Dfa { start: 0, n_states: 1, n_classes: 1, classes: vec![0; 256], trans: vec![0], flags: vec![0] }
}

/// A shortest string accepted by exactly one of `old` and `new` (breadth-first over the product
/// of the two DFAs, smallest byte first, so the answer is also the least such string of its
/// length), or `None` when the languages are equal. Transitions out of range lead to the dead state.
pub fn shortest_difference(old: &schema::Dfa, new: &schema::Dfa) -> Option<Witness> {
    let next = |dfa: &schema::Dfa, state: u32, byte: u8| -> u32 {
        let class = dfa.classes.get(byte as usize).copied().unwrap_or(0) as usize;
        dfa.trans.get(state as usize * dfa.n_classes as usize + class).copied().unwrap_or(0)
    };
    let flag = |dfa: &schema::Dfa, state: u32, bit: u8| dfa.flags.get(state as usize).is_some_and(|f| f & bit != 0);
    // The bytes that can lead somewhere different: the first byte of each pair of classes.
    let mut seen_classes = BTreeSet::new();
    let bytes: Vec<u8> = (0..=255u8)
        .filter(|&b| seen_classes.insert((old.classes.get(b as usize).copied(), new.classes.get(b as usize).copied())))
        .collect();
    let start = (old.start, new.start);
    let mut parent: HashMap<(u32, u32), Option<((u32, u32), u8)>> = HashMap::from([(start, None)]);
    let mut queue = VecDeque::from([start]);
    while let Some(pair) = queue.pop_front() {
        let (a, b) = pair;
        let (accepts_old, accepts_new) = (flag(old, a, DFA_ACCEPTING), flag(new, b, DFA_ACCEPTING));
        if accepts_old != accepts_new {
            let mut path = Vec::new();
            let mut at = pair;
            while let Some(Some((prev, byte))) = parent.get(&at) {
                path.push(*byte);
                at = *prev;
            }
            path.reverse();
            return Some(Witness { bytes: path, accepted_by_new: accepts_new });
        }
        // From a pair where neither side is live, both stay rejecting.
        if !flag(old, a, DFA_LIVE) && !flag(new, b, DFA_LIVE) {
            continue;
        }
        for &byte in &bytes {
            let to = (next(old, a, byte), next(new, b, byte));
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(to) {
                e.insert(Some((pair, byte)));
                queue.push_back(to);
            }
        }
    }
    None
}

/// A pattern as grammar text: `"if"`, `"if"i`, `/[0-9]+/i`, `"a".."z"`, `a b`, `(a | b)`,
/// `x*`, `x+`, `x?`, `x~2..5`.
pub fn pattern_text(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Literal { value, case_insensitive } => format!("{value:?}{}", if *case_insensitive { "i" } else { "" }),
        Pattern::Regex { source, flags, .. } => format!("/{source}/{}", flag_letters(*flags)),
        Pattern::Range { from, to } => format!("{:?}..{:?}", from.to_string(), to.to_string()),
        Pattern::Concat(parts) => parts.iter().map(|p| grouped(p, false)).collect::<Vec<_>>().join(" "),
        Pattern::Alt(parts) => parts.iter().map(|p| grouped(p, true)).collect::<Vec<_>>().join(" | "),
        Pattern::Repeat { inner, min, max } => {
            let inner = grouped(inner, false);
            let inner = if inner.contains(' ') && !inner.starts_with('(') { format!("({inner})") } else { inner };
            match (min, max) {
                (0, None) => format!("{inner}*"),
                (1, None) => format!("{inner}+"),
                (0, Some(1)) => format!("{inner}?"),
                (a, Some(b)) if a == b => format!("{inner}~{a}"),
                (a, Some(b)) => format!("{inner}~{a}..{b}"),
                (a, None) => format!("{inner}~{a}.."),
            }
        }
    }
}

/// `pattern_text` in parentheses where it would otherwise bind differently.
fn grouped(pattern: &Pattern, in_alternation: bool) -> String {
    let text = pattern_text(pattern);
    match pattern {
        Pattern::Alt(_) => format!("({text})"),
        Pattern::Concat(_) if !in_alternation => format!("({text})"),
        _ => text,
    }
}

fn flag_letters(flags: RegexFlags) -> String {
    [(flags.case_insensitive, 'i'), (flags.multi_line, 'm'), (flags.dot_matches_new_line, 's'), (flags.ignore_whitespace, 'x'), (flags.unicode, 'u')]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile_str, CompileOptions};

    fn language(text: &str) -> Language {
        let compilation = compile_str("g.ebnf", text, &CompileOptions::default());
        Language::of_compiled(compilation.compiled.as_ref().expect("compiles"))
    }

    const CALC: &str = "start: expr\nexpr: expr \"+\" term | term\nterm: NUMBER | \"(\" expr \")\"\nNUMBER: /[0-9]+/\n%ignore \" \"\n";

    #[test]
    fn reformatting_is_no_difference() {
        let reformatted = "// the same grammar\nstart  :  expr\nexpr : expr \"+\" term\n     | term\nterm : NUMBER\n     | \"(\" expr \")\"\nNUMBER : /[0-9]+/\n%ignore \" \"\n";
        let d = diff(&language(CALC), &language(reformatted));
        assert!(d.is_empty(), "{d:#?}");
    }

    #[test]
    fn widened_terminal_has_a_shortest_witness() {
        let wider = CALC.replace("/[0-9]+/", "/[0-9]+(\\.[0-9]+)?/");
        let d = diff(&language(CALC), &language(&wider));
        assert_eq!(d.terminals_redefined.len(), 1, "{d:#?}");
        let change = &d.terminals_redefined[0];
        assert_eq!(change.name, "NUMBER");
        assert_eq!(change.old_pattern.as_deref(), Some("/[0-9]+/"));
        assert_eq!(change.difference, Some(Witness { bytes: b"0.0".to_vec(), accepted_by_new: true }));
        assert!(d.rules_redefined.is_empty() && d.rules_added.is_empty());
    }

    #[test]
    fn renumbered_generated_rules_are_no_difference() {
        // Lowering numbers generated rules in source order: reordering the rules renumbers them.
        let a = "start: x y\nx: (A | B)* C?\ny: (C A)+\nA: \"a\"\nB: \"b\"\nC: \"c\"\n";
        let b = "start: x y\ny: (C A)+\nx: (A | B)* C?\nA: \"a\"\nB: \"b\"\nC: \"c\"\n";
        let d = diff(&language(a), &language(b));
        assert!(d.is_empty(), "{d:#?}");
        let changed = diff(&language(a), &language(&a.replace("(C A)+", "(A C)+")));
        assert_eq!(changed.rules_redefined.len(), 1, "{changed:#?}");
        assert_eq!(changed.rules_redefined[0].name, "y");
        assert_eq!(changed.rules_redefined[0].added, ["(A C | ^0 A C)"]);
    }

    #[test]
    fn removed_rule_and_introduced_conflict() {
        let ambiguous = "start: expr\nexpr: expr \"+\" expr | NUMBER\nNUMBER: /[0-9]+/\n%ignore \" \"\n";
        let d = diff(&language(CALC), &language(ambiguous));
        assert_eq!(d.rules_removed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["term"]);
        assert_eq!(d.tables.conflicts_introduced.len(), 1, "{d:#?}");
        assert_eq!(d.tables.conflicts_introduced[0].kind, "shift/reduce");
        assert!(d.tables.conflicts_introduced[0].example.contains('•'));
        let back = diff(&language(ambiguous), &language(CALC));
        assert_eq!(back.tables.conflicts_resolved.len(), 1);
    }

    #[test]
    fn pattern_texts() {
        let p = Pattern::Repeat { inner: Box::new(Pattern::Alt(vec![Pattern::Literal { value: "a".into(), case_insensitive: false }, Pattern::Range { from: '0', to: '9' }])), min: 1, max: None };
        assert_eq!(pattern_text(&p), "(\"a\" | \"0\"..\"9\")+");
    }

    #[test]
    fn equal_and_empty_languages() {
        let e = empty_dfa();
        assert_eq!(shortest_difference(&e, &e), None);
    }
}
