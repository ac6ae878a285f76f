//! The symbol table: one entry per name of the merged grammar, with `%override`/`%extend`
//! applied, and name lookup with "did you mean" help for undefined names.
//!
//! **Invariants:** names are unique in [`SymbolTable::entries`] (a second definition is a
//! "duplicate definition" error and is dropped); entry order is definition order (imports at
//! the place of their `%import`), which later passes keep for determinism.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::diagnostics::{Diagnostic, Span};
use crate::grammar::ast::{is_terminal_name, Definition, Ident};
use crate::grammar::imports::{Merged, Origin, COMMON_SOURCE};
use crate::grammar::suggest::Suggester;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Rule,
    Terminal,
    /// A rule template (`name{a, b}: ...`); only its instances become rules.
    Template,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub def: Definition,
    pub kind: EntryKind,
    /// `%declare`d terminal (no body).
    pub declared: bool,
    pub origin: Origin,
    /// Made by template instantiation.
    pub generated: bool,
}

impl Entry {
    /// Where to point a message about this entry as a whole: the definition, or the import.
    pub fn site(&self) -> Span {
        match self.origin {
            Origin::Local => self.def.name.span,
            Origin::Imported(s) | Origin::Dependency(s) => s,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SymbolTable {
    pub entries: Vec<Entry>,
    pub by_name: HashMap<String, usize>,
    /// "Did you mean" searches of every undefined name share one budget (looked up through
    /// `&self`, hence the cell).
    suggester: RefCell<Suggester>,
}

impl SymbolTable {
    pub fn build(merged: &Merged, diagnostics: &mut Vec<Diagnostic>) -> SymbolTable {
        let mut table = SymbolTable::default();
        for m in &merged.defs {
            let kind = if is_terminal_name(&m.def.name.name) {
                if !m.def.params.is_empty() {
                    diagnostics.push(
                        Diagnostic::error(format!("terminal `{}` cannot be a template", m.def.name.name), m.def.name.span)
                            .with_help("only rules take parameters; make it a rule (lowercase name)"),
                    );
                    continue;
                }
                EntryKind::Terminal
            } else if m.def.params.is_empty() {
                EntryKind::Rule
            } else {
                EntryKind::Template
            };
            let entry = Entry { def: m.def.clone(), kind, declared: m.declared, origin: m.origin, generated: false };
            table.insert(entry, diagnostics);
        }
        for (def, extend) in &merged.overrides {
            let Some(&idx) = table.by_name.get(&def.name.name) else {
                let what = if *extend { "%extend" } else { "%override" };
                diagnostics.push(
                    Diagnostic::error(format!("cannot {} `{}`: it is not defined", &what[1..], def.name.name), def.name.span)
                        .with_help(format!("define it without `{what}`, or import it first")),
                );
                continue;
            };
            let Some(entry) = table.entries.get_mut(idx) else { continue };
            if *extend {
                entry.def.body.alternatives.extend(def.body.alternatives.iter().cloned());
            } else {
                entry.def = def.clone();
                entry.declared = false;
                entry.origin = Origin::Local;
            }
        }
        table
    }

    /// Adds an entry; a name already present is a duplicate-definition error.
    pub fn insert(&mut self, entry: Entry, diagnostics: &mut Vec<Diagnostic>) -> Option<usize> {
        let name = entry.def.name.name.clone();
        if let Some(&first) = self.by_name.get(&name) {
            let first_site = self.entries.get(first).map_or(entry.site(), Entry::site);
            let what = if is_terminal_name(&name) { "terminal" } else { "rule" };
            diagnostics.push(
                Diagnostic::error(format!("duplicate definition of {what} `{name}`"), entry.site())
                    .with_label(first_site, "first defined here")
                    .with_help("rename one of them, or use `%override` to replace the first definition"),
            );
            return None;
        }
        self.entries.push(entry);
        let idx = self.entries.len() - 1;
        self.by_name.insert(name, idx);
        Some(idx)
    }

    pub fn get(&self, name: &str) -> Option<(usize, &Entry)> {
        let &idx = self.by_name.get(name)?;
        Some((idx, self.entries.get(idx)?))
    }

    /// Looks a reference up; an undefined name is reported with a suggestion.
    pub fn resolve(&self, id: &Ident, diagnostics: &mut Vec<Diagnostic>) -> Option<(usize, &Entry)> {
        if let Some(found) = self.get(&id.name) {
            return Some(found);
        }
        diagnostics.push(self.undefined(id));
        None
    }

    fn undefined(&self, id: &Ident) -> Diagnostic {
        let terminal = is_terminal_name(&id.name);
        let what = if terminal { "terminal" } else { "rule" };
        let diag = Diagnostic::error(format!("undefined {what} `{}`", id.name), id.span);
        let mut suggester = self.suggester.try_borrow_mut().ok();
        let mut closest = |same_kind_only: bool| {
            let names = self
                .entries
                .iter()
                .filter(|e| !e.generated && (!same_kind_only || is_terminal_name(&e.def.name.name) == terminal))
                .map(|e| e.def.name.name.as_str());
            suggester.as_mut().and_then(|s| s.closest(&id.name, names))
        };
        if let Some(close) = closest(true) {
            return diag.with_help(format!("did you mean `{close}`?"));
        }
        if terminal && common_terminals().any(|t| t == id.name) {
            return diag.with_help(format!("add `%import common.{}`", id.name));
        }
        if let Some(close) = closest(false) {
            return diag.with_help(format!("did you mean `{close}`?"));
        }
        if terminal {
            diag.with_help(format!("define it, e.g. `{}: \"...\"`, or import it", id.name))
        } else {
            diag.with_help(format!("define it, e.g. `{}: ...`", id.name))
        }
    }
}

/// Names of the public terminals of the built-in `common` library.
pub(crate) fn common_terminals() -> impl Iterator<Item = &'static str> {
    COMMON_SOURCE.lines().filter_map(|line| {
        let (name, _) = line.split_once(':')?;
        let name = name.trim_end();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        (valid && !name.starts_with('_') && !line.starts_with(' ')).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceMap;
    use crate::grammar::{imports, parse};

    fn table(text: &str) -> (SourceMap, SymbolTable, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse::parse_text(file, text);
        assert!(d.is_empty(), "{d:#?}");
        let (merged, mut d) = imports::resolve(&mut map, g.expect("parses"));
        let t = SymbolTable::build(&merged, &mut d);
        (map, t, d)
    }

    #[test]
    fn duplicates_are_reported_with_the_first_site() {
        let (map, t, d) = table("a: \"x\"\nB: \"b\"\na: \"y\"\nWS: \" \"\n%import common.WS\n");
        assert_eq!(t.entries.len(), 2 + 1);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].message, "duplicate definition of rule `a`");
        assert_eq!(map.location(d[0].span.expect("located")), "g.lark:3:1");
        assert_eq!(map.location(d[0].labels[0].0), "g.lark:1:1");
        assert_eq!(d[0].labels[0].1, "first defined here");
        assert_eq!(d[1].message, "duplicate definition of terminal `WS`");
        assert_eq!(map.location(d[1].span.expect("located")), "g.lark:5:1");
        assert!(d[1].help.is_some());
    }

    #[test]
    fn override_and_extend() {
        let (_, t, d) = table("a: \"x\"\n%override a: \"y\"\n%extend a: \"z\"\n%extend nope: \"q\"\n");
        let (_, a) = t.get("a").expect("a");
        assert_eq!(a.def.body.alternatives.len(), 2);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "cannot extend `nope`: it is not defined");
    }

    #[test]
    fn undefined_names_get_suggestions() {
        let (map, t, _) = table("expr: \"x\"\nNUMBER: /[0-9]+/\n");
        let mut d = Vec::new();
        let span = crate::diagnostics::Span::new(crate::diagnostics::FileId(0), 0, 4);
        for name in ["exprr", "NUMBR", "WS_INLINE", "zzzzzz"] {
            assert!(t.resolve(&Ident { name: name.into(), span }, &mut d).is_none());
        }
        assert_eq!(d[0].message, "undefined rule `exprr`");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `expr`?"));
        assert_eq!(d[1].help.as_deref(), Some("did you mean `NUMBER`?"));
        assert_eq!(d[2].help.as_deref(), Some("add `%import common.WS_INLINE`"));
        assert_eq!(d[3].help.as_deref(), Some("define it, e.g. `zzzzzz: ...`"));
        assert_eq!(map.location(d[0].span.expect("located")), "g.lark:1:1");
    }

    #[test]
    fn a_swap_of_neighbouring_letters_is_suggested() {
        let (_, t, _) = table("item: \"x\"\nITEM: \"y\"\n");
        let mut d = Vec::new();
        let span = crate::diagnostics::Span::new(crate::diagnostics::FileId(0), 0, 4);
        for name in ["itme", "ITME"] {
            assert!(t.resolve(&Ident { name: name.into(), span }, &mut d).is_none());
        }
        assert_eq!(d[0].help.as_deref(), Some("did you mean `item`?"), "a rule for a rule");
        assert_eq!(d[1].help.as_deref(), Some("did you mean `ITEM`?"), "a terminal for a terminal");
    }

    #[test]
    fn suggestions_for_many_undefined_names_stop_at_the_budget() {
        // Each search reads every definition, so with thousands of undefined names the
        // searches share one budget: the first names get a suggestion, the last do not.
        let n = 5_000;
        let text: String = (0..n).map(|i| format!("y{i}: \"a\"\n")).collect();
        let (_, t, _) = table(&text);
        let mut d = Vec::new();
        let span = crate::diagnostics::Span::new(crate::diagnostics::FileId(0), 0, 1);
        for i in 0..n {
            assert!(t.resolve(&Ident { name: format!("x{i}"), span }, &mut d).is_none());
        }
        assert_eq!(d.len(), n);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `y0`?"));
        assert_eq!(d[n - 1].help.as_deref(), Some(format!("define it, e.g. `x{}: ...`", n - 1).as_str()));
    }

    #[test]
    fn templates_and_terminal_templates() {
        let (_, t, d) = table("sep{x}: x (\",\" x)*\n");
        assert_eq!(t.get("sep").map(|(_, e)| e.kind), Some(EntryKind::Template));
        assert!(d.is_empty());
        let (_, _, d) = table("SEP{x}: x\n");
        assert_eq!(d[0].message, "terminal `SEP` cannot be a template");
    }

    #[test]
    fn common_terminal_names_are_listed() {
        let names: Vec<&str> = common_terminals().collect();
        assert!(names.contains(&"ESCAPED_STRING") && names.contains(&"WS") && names.contains(&"C_COMMENT"));
        assert!(!names.contains(&"_EXP"));
    }
}
