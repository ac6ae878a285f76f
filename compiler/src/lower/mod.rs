//! Stage 2: lowering the EBNF AST to plain BNF ([`Bnf`]) with symbol checks.
//!
//! [`lower_file`] runs the passes in order, one file each: front end (`grammar::parse`,
//! `grammar::imports`) -> [`symbols`] (names, duplicates, `%override`) -> [`templates`] ->
//! [`terminals`] (patterns, references inlined) -> [`extract_literals`] (anonymous terminals) and
//! [`expand_ebnf`] (productions) -> [`check_symbols`] (unproductive, unreachable) -> [`indent`]
//! -> numbering into typed ids.
//!
//! **Invariants:** every pass runs even after errors in an earlier one (except after syntax
//! errors), so one run reports everything; `bnf` is `Some` iff no diagnostic is an error. The
//! [`Bnf`] holds only the rules reachable from the start rule and the terminals that occur in
//! them or in `%ignore` (plus the indentation terminals): a terminal used only inside another
//! terminal is inlined and not listed, and an unused one cannot disturb lexing. Terminal ids
//! are ordered literals first, then other patterns, then declared terminals (source order
//! within each group), so "priority, then declaration order" lets a keyword beat an
//! identifier regex of the same length, as Lark's lexer does. Ids are assigned
//! deterministically (no hash-map order leaks).

pub mod bnf;
mod check_symbols;
mod expand_ebnf;
mod extract_literals;
mod indent;
mod ir;
mod semicolon;
mod symbols;
mod templates;
mod terminals;

pub use bnf::*;
pub use expand_ebnf::{MAX_ALTERNATIVES, MAX_REPEAT};

use std::collections::{HashMap, HashSet};

use crate::diagnostics::{has_errors, Diagnostic, FileId, SourceMap, Span};
use crate::grammar::ast::{Atom, Expansions};
use crate::grammar::{escape::quote, imports};
use ir::{Ir, Sym, Term};
use symbols::{EntryKind, SymbolTable};
use syncodec_artifacts::ids::{IdVec, ProductionId, RuleId, TerminalId};

/// Options of the front end and lowering.
#[derive(Debug, Clone, Default)]
pub struct LowerOptions {
    /// Start rule; `start` when `None`.
    pub start: Option<String>,
}

/// Result of parsing and lowering a grammar file.
#[derive(Debug)]
pub struct LowerOutput {
    /// `Some` iff `diagnostics` holds no error.
    pub bnf: Option<Bnf>,
    /// Every error and warning found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses `main` (already in `sources`; `%import`ed library files are added to `sources`) and
/// lowers it to BNF, collecting every diagnostic instead of stopping at the first.
pub fn lower_file(sources: &mut SourceMap, main: FileId, options: &LowerOptions) -> LowerOutput {
    let mut diags = Vec::new();
    let (ast, d) = crate::grammar::parse(sources, main);
    diags.extend(d);
    let bnf = match ast {
        Some(ast) => lower_ast(sources, main, ast, options, &mut diags),
        None => None,
    };
    diags.sort_by_key(|d| d.span.map_or((u32::MAX, u32::MAX), |s| (s.file.0, s.start)));
    let bnf = if has_errors(&diags) { None } else { bnf };
    LowerOutput { bnf, diagnostics: diags }
}

fn lower_ast(
    sources: &mut SourceMap,
    main: FileId,
    ast: crate::grammar::ast::Grammar,
    options: &LowerOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Bnf> {
    let (merged, d) = imports::resolve(sources, ast);
    diags.extend(d);
    let mut table = SymbolTable::build(&merged, diags);
    templates::expand(&mut table, diags);
    let patterns = terminals::build(&table, diags);

    // Named terminals, in definition order.
    let mut terms = extract_literals::Terms::new(table.entries.iter().map(|e| e.def.name.name.clone()));
    let mut term_of_entry: HashMap<usize, usize> = HashMap::new();
    for (i, e) in table.entries.iter().enumerate() {
        if e.kind != EntryKind::Terminal {
            continue;
        }
        let pattern = if e.declared {
            None
        } else {
            match patterns.patterns.get(&i) {
                Some(p) => Some(p.clone()),
                None => continue, // failed, already reported
            }
        };
        let (kind, display) = match &pattern {
            None => (TerminalKind::Declared, e.def.name.name.clone()),
            Some(Pattern::Literal { value, case_insensitive }) => (TerminalKind::Literal, quote(value, *case_insensitive)),
            Some(_) => (TerminalKind::Pattern, e.def.name.name.clone()),
        };
        let priority = e.def.priority.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let term = Term { name: e.def.name.name.clone(), display, pattern, priority, kind, span: e.def.name.span, entry: Some(i) };
        term_of_entry.insert(i, terms.add_named(term));
    }

    // %ignore.
    let mut ignore: Vec<usize> = Vec::new();
    let mut ignored: HashSet<usize> = HashSet::new();
    for (body, span) in &merged.ignores {
        if let Some(t) = ignored_terminal(body, *span, &table, &patterns, &mut terms, &term_of_entry, diags) {
            if ignored.insert(t) {
                ignore.push(t);
            }
        }
    }

    // Rules.
    let mut expander = expand_ebnf::Expander::new(&table, &mut terms, &term_of_entry, diags);
    expander.run();
    let rules = std::mem::take(&mut expander.rules);
    let rule_of_entry = std::mem::take(&mut expander.rule_of_entry);
    let ir = Ir { terms: terms.list, rules, ignore };

    // Start rule.
    let start_name = options.start.clone().unwrap_or_else(|| "start".to_owned());
    let file_start = Span::new(main, 0, 0);
    let start = match table.get(&start_name) {
        Some((idx, e)) if e.kind == EntryKind::Rule => rule_of_entry.get(&idx).copied(),
        Some((_, e)) => {
            diags.push(
                Diagnostic::error(format!("start symbol `{start_name}` is not a rule"), e.def.name.span)
                    .with_help("the start symbol must be a rule (lowercase name)"),
            );
            None
        }
        None => {
            diags.push(
                Diagnostic::error(format!("no start rule `{start_name}`"), file_start)
                    .with_help(format!("define `{start_name}: ...`, or choose another start rule")),
            );
            None
        }
    };

    check_symbols::report_unproductive(&ir, diags);
    let term_refs: Vec<(usize, usize)> =
        patterns.refs.iter().filter_map(|(a, b)| Some((*term_of_entry.get(a)?, *term_of_entry.get(b)?))).collect();
    let start = start?;
    let mut reach = check_symbols::reachable(&ir, start, &term_refs);
    let indentation = indent::find(&table, &merged.declare_spans, &term_of_entry, diags);
    let semicolon = semicolon::find(&merged.auto_semicolons, &table, &ir, &term_of_entry, indentation.is_some(), diags);
    if let Some(semi) = &semicolon {
        // The runtime hands these to the parser: keep them (and warn about neither).
        for t in [semi.newline, semi.semicolon] {
            for v in [&mut reach.terms, &mut reach.terms_as_symbols] {
                if let Some(slot) = v.get_mut(t) {
                    *slot = true;
                }
            }
        }
    }
    check_symbols::report_unreachable(&ir, &table, &reach, &start_name, diags);
    if has_errors(diags) {
        return None;
    }
    let name = sources
        .get(main)
        .and_then(|f| std::path::Path::new(&f.name).file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "grammar".to_owned());
    match assemble(name, &ir, start, &reach, indentation, semicolon) {
        Ok(bnf) => Some(bnf),
        Err(e) => {
            diags.push(Diagnostic::error(format!("grammar too large: {e}"), file_start).with_help("split the grammar"));
            None
        }
    }
}

/// The terminal a `%ignore` statement names or defines.
fn ignored_terminal(
    body: &Expansions,
    span: Span,
    table: &SymbolTable,
    patterns: &terminals::TerminalPatterns,
    terms: &mut extract_literals::Terms,
    term_of_entry: &HashMap<usize, usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    if let [alt] = body.alternatives.as_slice() {
        if let [expr] = alt.items.as_slice() {
            if let (Atom::Name(id), None) = (&expr.atom, expr.op) {
                let (idx, entry) = table.resolve(id, diags)?;
                if entry.kind != EntryKind::Terminal {
                    diags.push(
                        Diagnostic::error(format!("`%ignore` takes terminals, but `{}` is a rule", id.name), id.span)
                            .with_help("ignore a terminal (UPPERCASE name), a string or a regex"),
                    );
                    return None;
                }
                return term_of_entry.get(&idx).copied();
            }
        }
    }
    let pattern = terminals::pattern_of(body, "%ignore", table, patterns, diags)?;
    Some(terms.ignore_pattern(pattern, span))
}

/// Numbers the reachable part of the grammar with typed ids.
fn assemble(
    name: String,
    ir: &Ir,
    start: usize,
    reach: &check_symbols::Reachable,
    indentation: Option<indent::IndentTerms>,
    semicolon: Option<semicolon::SemicolonTerms>,
) -> Result<Bnf, syncodec_artifacts::ids::IdOverflow> {
    let mut include_term = reach.terms_as_symbols.clone();
    if let Some(ind) = indentation {
        for t in [ind.newline, ind.indent, ind.dedent] {
            if let Some(slot) = include_term.get_mut(t) {
                *slot = true;
            }
        }
    }
    let mut terminals: IdVec<TerminalId, TerminalDef> = IdVec::new();
    let mut term_id: HashMap<usize, TerminalId> = HashMap::new();
    for kind in [TerminalKind::Literal, TerminalKind::Pattern, TerminalKind::Declared] {
        for (t, term) in ir.terms.iter().enumerate() {
            if term.kind != kind || !include_term.get(t).copied().unwrap_or(false) {
                continue;
            }
            let id = terminals.push(TerminalDef {
                name: term.name.clone(),
                display: term.display.clone(),
                pattern: term.pattern.clone(),
                priority: term.priority,
                kind: term.kind,
                span: term.span,
            })?;
            term_id.insert(t, id);
        }
    }
    let mut rule_id: HashMap<usize, RuleId> = HashMap::new();
    let mut rules: IdVec<RuleId, RuleDef> = IdVec::new();
    for (r, rule) in ir.rules.iter().enumerate() {
        if reach.rules.get(r).copied().unwrap_or(false) {
            let id = rules.push(RuleDef {
                name: rule.name.clone(),
                span: rule.span,
                productions: Vec::new(),
                generated: rule.generated,
                priority: rule.priority,
            })?;
            rule_id.insert(r, id);
        }
    }
    let mut productions: IdVec<ProductionId, Production> = IdVec::new();
    for (r, rule) in ir.rules.iter().enumerate() {
        let Some(&lhs) = rule_id.get(&r) else { continue };
        for p in &rule.prods {
            let rhs: Vec<Symbol> = p
                .rhs
                .iter()
                .filter_map(|s| match s {
                    Sym::Term(t) => term_id.get(t).map(|&id| Symbol::Terminal(id)),
                    Sym::Rule(q) => rule_id.get(q).map(|&id| Symbol::Rule(id)),
                })
                .collect();
            let pid = productions.push(Production { lhs, rhs, span: p.span })?;
            if let Some(def) = rules.get_mut(lhs) {
                def.productions.push(pid);
            }
        }
    }
    let start = rule_id.get(&start).copied().unwrap_or_else(|| RuleId::from_raw(0));
    let ignore = ir.ignore.iter().filter_map(|t| term_id.get(t).copied()).collect();
    let mut bnf = Bnf { name, terminals, rules, productions, start, ignore, indentation: None, auto_semicolon: None };
    if let Some(semi) = semicolon {
        if let (Some(&newline), Some(&semicolon)) = (term_id.get(&semi.newline), term_id.get(&semi.semicolon)) {
            let triggers = semi.triggers.iter().filter_map(|t| term_id.get(t).copied()).collect();
            bnf.auto_semicolon = Some(AutoSemicolonDecl { newline, semicolon, triggers });
        }
    }
    if let Some(ind) = indentation {
        if let (Some(&newline), Some(&indent), Some(&dedent)) = (term_id.get(&ind.newline), term_id.get(&ind.indent), term_id.get(&ind.dedent)) {
            let (open_brackets, close_brackets) = indent::brackets(&bnf);
            bnf.indentation = Some(IndentDecl { newline, indent, dedent, open_brackets, close_brackets });
        }
    }
    Ok(bnf)
}

impl Bnf {
    /// The terminal with this name, if the grammar has it.
    pub fn terminal_by_name(&self, name: &str) -> Option<TerminalId> {
        self.terminals.iter().find(|(_, t)| t.name == name).map(|(id, _)| id)
    }

    /// The rule with this name, if the grammar has it.
    pub fn rule_by_name(&self, name: &str) -> Option<RuleId> {
        self.rules.iter().find(|(_, r)| r.name == name).map(|(id, _)| id)
    }

    /// A production written like Lark's BNF: `expr: expr "+" term` (for tests and messages).
    pub fn production_text(&self, production: ProductionId) -> String {
        let Some(p) = self.productions.get(production) else { return "?".to_owned() };
        let lhs = self.rules.get(p.lhs).map_or("?", |r| r.name.as_str());
        let rhs: Vec<&str> = p.rhs.iter().map(|&s| self.symbol_name(s)).collect();
        format!("{lhs}: {}", rhs.join(" "))
    }

    /// All productions, one [`Self::production_text`] per line, in id order.
    pub fn to_text(&self) -> String {
        self.productions.ids().map(|p| self.production_text(p) + "\n").collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (SourceMap, LowerOutput) {
        run_with(text, &LowerOptions::default())
    }

    fn run_with(text: &str, options: &LowerOptions) -> (SourceMap, LowerOutput) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let out = lower_file(&mut map, file, options);
        (map, out)
    }

    fn ok(text: &str) -> Bnf {
        let (_, out) = run(text);
        let errors: Vec<&Diagnostic> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        out.bnf.expect("no errors means a grammar")
    }

    /// `(message, file:line:col)` of every diagnostic.
    fn diags(text: &str) -> Vec<(String, String)> {
        let (map, out) = run(text);
        out.diagnostics.iter().map(|d| (d.message.clone(), d.span.map_or("-".into(), |s| map.location(s)))).collect()
    }

    fn has(list: &[(String, String)], message: &str, at: &str) -> bool {
        list.iter().any(|(m, a)| m == message && a == at)
    }

    const JSON: &str = r#"?start: value
?value: object | array | string | SIGNED_NUMBER -> number | "true" -> true | "false" -> false | "null" -> null
array  : "[" [value ("," value)*] "]"
object : "{" [pair ("," pair)*] "}"
pair   : string ":" value
string : ESCAPED_STRING
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"#;

    #[test]
    fn json_grammar_lowers() {
        let (_, out) = run(JSON);
        assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
        let bnf = out.bnf.expect("json lowers");
        assert_eq!(bnf.name, "g");
        assert_eq!(bnf.rules[bnf.start].name, "start");
        let names: Vec<&str> = bnf.terminals.values().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["TRUE", "FALSE", "NULL", "LSQB", "COMMA", "RSQB", "LBRACE", "RBRACE", "COLON", "ESCAPED_STRING", "SIGNED_NUMBER", "WS"]);
        let displays: Vec<&str> = bnf.terminals.values().take(3).map(|t| t.display.as_str()).collect();
        assert_eq!(displays, ["\"true\"", "\"false\"", "\"null\""]);
        assert_eq!(bnf.ignore, [bnf.terminal_by_name("WS").expect("WS")]);
        let text = bnf.to_text();
        assert!(text.contains("array: \"[\" value \"]\"\n"), "{text}");
        assert!(text.contains("array: \"[\" value __array_plus_0 \"]\"\n"), "{text}");
        assert!(text.contains("array: \"[\" \"]\"\n"), "{text}");
        assert!(text.contains("__array_plus_0: \",\" value\n__array_plus_0: __array_plus_0 \",\" value\n"), "{text}");
        assert!(bnf.rules.values().filter(|r| r.generated).all(|r| r.name.starts_with("__")));
        assert!(bnf.rules.values().all(|r| !r.productions.is_empty()));
        assert!(bnf.indentation.is_none());
        // Terminals used only inside ESCAPED_STRING/SIGNED_NUMBER are inlined, not listed.
        assert!(bnf.terminal_by_name("COMMON__DIGIT").is_none());
        let signed = &bnf.terminals[bnf.terminal_by_name("SIGNED_NUMBER").expect("SIGNED_NUMBER")];
        assert_eq!(signed.kind, TerminalKind::Pattern);
        assert!(bnf.terminals.values().filter(|t| t.kind == TerminalKind::Literal).all(|t| t.display.starts_with('"')));
    }

    const PYTHON: &str = r#"// A fragment in the style of Lark's Python grammar.
file_input: (_NEWLINE | stmt)*

?stmt: simple_stmt | compound_stmt
?simple_stmt: small_stmt (";" small_stmt)* [";"] _NEWLINE
?small_stmt: (expr_stmt | pass_stmt | return_stmt)
expr_stmt: test ("=" test)*
pass_stmt: "pass"
return_stmt: "return" [testlist]

?compound_stmt: if_stmt | funcdef
if_stmt: "if" test ":" suite ("elif" test ":" suite)* ["else" ":" suite]
funcdef: "def" NAME "(" [parameters] ")" ["->" test] ":" suite
parameters: NAME ("," NAME)*
suite: simple_stmt | _NEWLINE _INDENT stmt+ _DEDENT

?test: or_test ["if" or_test "else" test]
?or_test: and_test ("or" and_test)*
?and_test: not_test ("and" not_test)*
?not_test: "not" not_test -> not
         | comparison
?comparison: arith_expr (_comp_op arith_expr)*
!_comp_op: "<"|">"|"=="|">="|"<="|"!="|"in"|"not" "in"|"is"|"is" "not"
?arith_expr: term (_add_op term)*
!_add_op: "+"|"-"
?term: factor (_mul_op factor)*
!_mul_op: "*"|"/"|"%"|"//"
?factor: _unary_op factor | power
!?_unary_op: "+"|"-"|"~"
?power: atom_expr ["**" factor]
?atom_expr: atom_expr "(" [arguments] ")" -> funccall
          | atom_expr "[" test "]" -> getitem
          | atom
?atom: "(" [test] ")" | "[" [testlist] "]" | "{" "}"
     | NAME -> var
     | number | string+
     | "None" -> const_none
     | "True" -> const_true
     | "False" -> const_false
testlist: test ("," test)* [","]
arguments: test ("," test)*
number: DEC_NUMBER | HEX_NUMBER
string: STRING

NAME: /[^\W\d]\w*/
COMMENT: /#[^\n]*/
_NEWLINE: ( /\r?\n[\t ]*/ | COMMENT )+
STRING: /([ubf]?r?|r[ubf])("(?!"").*?(?<!\\)(\\\\)*?"|'(?!'').*?(?<!\\)(\\\\)*?')/i
DEC_NUMBER.2: /0|[1-9]\d*/i
HEX_NUMBER.2: /0x[\da-f]*/i

%ignore /[\t \f]+/
%ignore /\\[\t \f]*\r?\n/
%ignore COMMENT
%declare _INDENT _DEDENT
"#;

    #[test]
    fn python_fragment_lowers_with_indentation() {
        let bnf = ok(&PYTHON.replace("file_input:", "start: file_input\nfile_input:"));
        let ind = bnf.indentation.as_ref().expect("indentation is on");
        assert_eq!(bnf.terminals[ind.newline].name, "_NEWLINE");
        assert_eq!(bnf.terminals[ind.indent].kind, TerminalKind::Declared);
        assert!(bnf.terminals[ind.dedent].pattern.is_none());
        let open: Vec<&str> = ind.open_brackets.iter().map(|&t| bnf.terminals[t].display.as_str()).collect();
        let close: Vec<&str> = ind.close_brackets.iter().map(|&t| bnf.terminals[t].display.as_str()).collect();
        assert_eq!((open.len(), close.len()), (3, 3), "{open:?} {close:?}");
        assert!(open.contains(&"\"(\"") && close.contains(&"\"}\""));
        assert_eq!(bnf.ignore.len(), 3);
        let dec = &bnf.terminals[bnf.terminal_by_name("DEC_NUMBER").expect("DEC_NUMBER")];
        assert_eq!(dec.priority, 2);
        assert_eq!(bnf.terminals[bnf.terminal_by_name("IF").expect("if")].display, "\"if\"");
        // Keywords come before the NAME regex in id order.
        assert!(bnf.terminal_by_name("IF") < bnf.terminal_by_name("NAME"));
        // `not` and `in` are shared between rules.
        assert_eq!(bnf.terminals.values().filter(|t| t.display == "\"not\"").count(), 1);
        let Some(Pattern::Repeat { min: 1, max: None, inner }) = &bnf.terminals[ind.newline].pattern else { panic!("_NEWLINE is a + repeat") };
        assert!(matches!(inner.as_ref(), Pattern::Alt(v) if v.len() == 2));
    }

    #[test]
    fn start_option_and_missing_start() {
        let bnf = ok_with("a: \"x\"\nb: a a\n", Some("b"));
        assert_eq!(bnf.rules[bnf.start].name, "b");
        assert!(bnf.rule_by_name("a").is_some());
        let d = diags("a: \"x\"\n");
        assert!(has(&d, "no start rule `start`", "g.lark:1:1"), "{d:?}");
        let (_, out) = run_with("A: \"x\"\nstart: A\n", &LowerOptions { start: Some("A".into()) });
        assert_eq!(out.diagnostics[0].message, "start symbol `A` is not a rule");
        assert!(out.bnf.is_none());
    }

    fn ok_with(text: &str, start: Option<&str>) -> Bnf {
        let (_, out) = run_with(text, &LowerOptions { start: start.map(str::to_owned) });
        assert!(!has_errors(&out.diagnostics), "{:#?}", out.diagnostics);
        out.bnf.expect("lowers")
    }

    #[test]
    fn all_errors_are_collected_in_source_order() {
        let d = diags("start: a b UNDEF\na: \"x\"\na: \"y\"\nb: b \"z\"\nT: b\n%import common.NOPE\n%ignore undefined_rule\n");
        let expected = [
            ("undefined terminal `UNDEF`", "g.lark:1:12"),
            ("duplicate definition of rule `a`", "g.lark:3:1"),
            ("rule `b` is unproductive: no finite input can match it", "g.lark:4:1"),
            ("terminal `T` refers to rule `b`", "g.lark:5:4"),
            ("module `common` has no definition `NOPE`", "g.lark:6:16"),
            ("undefined rule `undefined_rule`", "g.lark:7:9"),
        ];
        for (m, at) in expected {
            assert!(has(&d, m, at), "missing {m} at {at}: {d:#?}");
        }
        let order: Vec<&str> = d.iter().map(|(_, at)| at.as_str()).collect();
        let mut sorted = order.clone();
        sorted.sort_by_key(|at| {
            let parts: Vec<usize> = at.split(':').skip(1).filter_map(|n| n.parse().ok()).collect();
            (parts.first().copied(), parts.get(1).copied())
        });
        assert_eq!(order, sorted);
    }

    #[test]
    fn every_diagnostic_is_located_and_errors_have_help() {
        let (_, out) = run("start: a b UNDEF\na: \"x\"\na: \"y\"\nb: b \"z\"\nT: b\nunused: \"u\"\n%import common.NOPE\n");
        assert!(out.bnf.is_none());
        for d in &out.diagnostics {
            assert!(d.span.is_some(), "{d:?}");
            assert!(d.help.is_some(), "{d:?}");
        }
    }

    #[test]
    fn undefined_common_terminal_suggests_import() {
        let (_, out) = run("start: CNAME\n");
        assert_eq!(out.diagnostics[0].help.as_deref(), Some("add `%import common.CNAME`"));
    }

    #[test]
    fn unreachable_rules_and_terminals_warn_but_lower() {
        let (map, out) = run("start: \"a\" DIGITS\nDIGITS: DIGIT+\nDIGIT: /[0-9]/\nunused: \"u\"\nLOST: \"l\"\nWS: \" \"\n%ignore WS\n%import common.CNAME\n");
        let warnings: Vec<(String, String)> =
            out.diagnostics.iter().map(|d| (d.message.clone(), map.location(d.span.expect("located")))).collect();
        assert_eq!(
            warnings,
            [
                ("rule `unused` is unreachable from `start`".to_owned(), "g.lark:4:1".to_owned()),
                ("terminal `LOST` is unreachable from `start`".to_owned(), "g.lark:5:1".to_owned()),
                ("terminal `CNAME` is imported but never used".to_owned(), "g.lark:8:1".to_owned()),
            ]
        );
        assert!(out.diagnostics.iter().all(|d| !d.is_error()));
        let bnf = out.bnf.expect("warnings do not stop lowering");
        assert!(bnf.rule_by_name("unused").is_none(), "unreachable rules are left out");
        assert!(bnf.terminal_by_name("LOST").is_none() && bnf.terminal_by_name("DIGIT").is_none());
        assert!(bnf.terminal_by_name("WS").is_some());
    }

    #[test]
    fn named_literal_terminal_is_reused_by_anonymous_literal() {
        let bnf = ok("start: \"(\" LPAR_X \")\"\nLPAR_X: \"(\"\n");
        let names: Vec<&str> = bnf.terminals.values().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["LPAR_X", "RPAR"]);
        assert_eq!(bnf.to_text(), "start: \"(\" \"(\" \")\"\n");
    }

    #[test]
    fn inline_ignore_patterns_become_terminals() {
        let bnf = ok("start: \"a\"\n%ignore \" \"\n%ignore /\\t+/\n%ignore (\"x\" | \"y\")+\n");
        let names: Vec<&str> = bnf.ignore.iter().map(|&t| bnf.terminals[t].name.as_str()).collect();
        assert_eq!(names, ["SPACE", "__ANON_0", "__IGNORE_0"]);
        let d = diags("start: \"a\"\n%ignore start\n");
        assert!(has(&d, "`%ignore` takes terminals, but `start` is a rule", "g.lark:2:9"), "{d:?}");
    }

    #[test]
    fn indentation_needs_a_newline_terminal() {
        let d = diags("start: _INDENT \"x\" _DEDENT\n%declare _INDENT _DEDENT\n");
        assert!(has(&d, "`_INDENT` and `_DEDENT` are declared but there is no `_NEWLINE` or `_NL` terminal", "g.lark:2:1"), "{d:?}");
        let bnf = ok("start: _NL _INDENT \"x\" _DEDENT\n_NL: /\\n[ ]*/\n%declare _INDENT _DEDENT\n");
        let ind = bnf.indentation.expect("indentation");
        assert_eq!(bnf.terminals[ind.newline].name, "_NL");
        assert!(ind.open_brackets.is_empty());
    }

    const SEMI: &str = "start: (stmt \";\")*\nstmt: NAME | \"return\" | \"(\" NAME \")\"\nNAME: /[a-z]+/\n_NL: /\\n/\n%ignore \" \"\n";

    #[test]
    fn auto_semicolon_resolves_names_and_literals() {
        let bnf = ok(&format!("{SEMI}%auto_semicolon _NL -> \";\" after NAME \"return\" \")\" NAME\n"));
        let semi = bnf.auto_semicolon.as_ref().expect("semicolon insertion is on");
        assert_eq!(bnf.terminals[semi.newline].name, "_NL");
        assert_eq!(bnf.terminals[semi.semicolon].display, "\";\"");
        let triggers: Vec<&str> = semi.triggers.iter().map(|&t| bnf.terminals[t].name.as_str()).collect();
        assert_eq!(triggers, ["NAME", "RETURN", "RPAR"]);
        // The newline terminal is kept (and not reported as unreachable) although no rule uses it.
        let (_, out) = run(&format!("{SEMI}%auto_semicolon _NL -> \";\" after NAME\n"));
        assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
        assert!(ok(SEMI).auto_semicolon.is_none());
    }

    #[test]
    fn auto_semicolon_errors_are_located() {
        let d = diags(&format!("{SEMI}%auto_semicolon _NX -> \";\" after NAME \"break\" stmt\n"));
        assert!(has(&d, "undefined terminal `_NX`", "g.lark:6:17"), "{d:?}");
        assert!(has(&d, "the trigger \"break\" of `%auto_semicolon` is not a terminal of the grammar", "g.lark:6:39"), "{d:?}");
        assert!(has(&d, "`%auto_semicolon` takes terminals, but the trigger `stmt` is a rule", "g.lark:6:47"), "{d:?}");
        let d = diags(&format!("{SEMI}%ignore _NL\n%auto_semicolon _NL -> _NL after NAME\n"));
        assert!(has(&d, "the newline terminal `_NL` of `%auto_semicolon` is `%ignore`d", "g.lark:7:17"), "{d:?}");
        assert!(has(&d, "the newline and semicolon terminals of `%auto_semicolon` are the same", "g.lark:7:24"), "{d:?}");
        let d = diags(&format!("{SEMI}%auto_semicolon _NL -> \";\" after NAME\n%auto_semicolon _NL -> \";\" after NAME\n"));
        assert!(has(&d, "a grammar may have only one `%auto_semicolon` statement", "g.lark:7:1"), "{d:?}");
        let d = diags(&format!("{SEMI}%auto_semicolon _NL -> \";\"\n"));
        assert!(has(&d, "malformed `%auto_semicolon` statement", "g.lark:6:1"), "{d:?}");
        let d = diags(&format!("{SEMI}%declare _D\n%auto_semicolon _D -> \";\" after NAME\n"));
        assert!(has(&d, "the newline terminal `_D` of `%auto_semicolon` has no pattern", "g.lark:7:17"), "{d:?}");
    }

    #[test]
    fn crlf_file_without_final_newline() {
        let bnf = ok("start: a\r\n  | b\r\na: \"a\"\r\nb: \"b\"");
        assert_eq!(bnf.to_text(), "start: a\nstart: b\na: \"a\"\nb: \"b\"\n");
    }

    #[test]
    fn terminal_priorities_and_declared_terminals() {
        let bnf = ok("start: A B C\nA.2: \"a\"\nB.-1: /b+/\n%declare C\n");
        let p: Vec<(i32, TerminalKind)> = bnf.terminals.values().map(|t| (t.priority, t.kind)).collect();
        assert_eq!(p, [(2, TerminalKind::Literal), (-1, TerminalKind::Pattern), (0, TerminalKind::Declared)]);
    }

    #[test]
    fn templates_lower_end_to_end() {
        let bnf = ok("start: _sep{item, \",\"}\n_sep{x, sep}: x (sep x)*\nitem: \"i\"\n");
        let inst = bnf.rule_by_name("_sep{item, \",\"}").expect("instance");
        assert!(bnf.rules[inst].generated);
        assert!(bnf.to_text().contains("__sep_plus_0: \",\" item\n"), "{}", bnf.to_text());
    }

    #[test]
    fn rule_priorities_aliases_and_prefixes_are_accepted() {
        let bnf = ok("start.5: a -> x\n!?a: \"a\" | \"b\" -> y\n?!b: a\n");
        assert_eq!(bnf.rules.len(), 2);
    }

    #[test]
    fn syntax_errors_stop_before_lowering() {
        let (map, out) = run("start: (\"a\"\nb: c d e\n");
        assert!(out.bnf.is_none());
        let at: Vec<String> = out.diagnostics.iter().map(|d| map.location(d.span.expect("located"))).collect();
        assert_eq!(at, ["g.lark:1:12"]);
    }

    #[test]
    fn large_grammars_lower() {
        // Shapes that once made lowering quadratic: a rule with many alternatives (graph edges
        // were deduplicated by scanning), a long sequence (prefixes were cloned and rehashed per
        // item), a chain of rules defined callee-last (the productivity fixpoint rescanned).
        let n = 10_000;
        let alternatives: Vec<String> = (0..n).map(|i| format!("\"a{i}\"")).collect();
        let bnf = ok(&format!("start: {}\n", alternatives.join(" | ")));
        assert_eq!((bnf.productions.len(), bnf.terminals.len()), (n, n));
        let bnf = ok(&format!("start: {}\n", alternatives.join(" ")));
        assert_eq!(bnf.productions.values().map(|p| p.rhs.len()).collect::<Vec<_>>(), [n]);
        let chain: String = (0..n).map(|i| format!("r{i}: r{} \"x\"\n", i + 1)).collect();
        let bnf = ok(&format!("start: r0\n{chain}r{n}: \"z\"\n"));
        assert_eq!(bnf.rules.len(), n + 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Arbitrary grammar-like text never panics the front end or lowering.
        #[test]
        fn lowering_never_panics(text in "[a-cA-C_:|()\\[\\]{}?*+~.,0-9 \"/\\\\%\n-]{0,80}") {
            let (_, out) = run(&text);
            proptest::prop_assert_eq!(out.bnf.is_some(), !has_errors(&out.diagnostics));
        }

        /// The same with directive words mixed in.
        #[test]
        fn statements_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(vec!["start", ":", "a", "A", "\"x\"", "/y/i", "|", "\n", "(", ")", "[", "]", "*", "+", "?", "~ 2..3",
                "%import common.WS", "%import common (INT, NUMBER)", "%ignore", "%declare _INDENT _DEDENT", "_NEWLINE", "t{a}", "->", ".2", "\"a\"..\"c\""]),
            0..30,
        )) {
            let text = parts.join(" ");
            let (_, out) = run(&text);
            proptest::prop_assert_eq!(out.bnf.is_some(), !has_errors(&out.diagnostics));
        }
    }
}
