//! `%import`: loading modules (the built-in `common` library and grammar files next to the
//! importing one) and merging what they provide into the main grammar's namespace.
//!
//! **Invariants:** the result names every definition by its final name in the main namespace and
//! every reference inside an imported body is renamed to match. An explicitly imported name
//! keeps its name (or its `-> alias`); what it refers to comes along under a mangled name
//! (`COMMON__DIGIT`, `_COMMON__EXP`, `other__rule`) that cannot clash with the main grammar's
//! names. Each module is read and parsed once; module files are added to the [`SourceMap`], and
//! `common` is added under the name `<common>` the first time it is imported. `%ignore` in a
//! module has no effect (as in Lark); `%override`/`%extend` in a module apply to its own
//! definitions. Import chains are followed at most [`MAX_IMPORT_DEPTH`] deep.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ast::*;
use super::parse::parse_text;
use super::suggest::Suggester;
use crate::diagnostics::{Diagnostic, FileId, SourceMap, Span};

/// Text of the built-in `common` library.
pub const COMMON_SOURCE: &str = include_str!("common.lark");
/// File name under which `common` appears in the [`SourceMap`].
pub const COMMON_FILE_NAME: &str = "<common>";
/// Longest chain of modules re-exporting an import.
pub const MAX_IMPORT_DEPTH: usize = 32;

/// Where a merged definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written in the main grammar.
    Local,
    /// Named by the `%import` statement at this span.
    Imported(Span),
    /// Brought along because an import at this span refers to it.
    Dependency(Span),
}

/// One definition of the merged namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedDef {
    /// `def.name.name` is the final name; references in `def.body` use final names.
    pub def: Definition,
    /// `%declare`d: no body.
    pub declared: bool,
    pub origin: Origin,
}

/// The main grammar with its imports resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub main: FileId,
    /// Definitions in source order; imported ones at the place of their `%import`.
    pub defs: Vec<MergedDef>,
    /// `%ignore` bodies of the main grammar with the statement span.
    pub ignores: Vec<(Expansions, Span)>,
    /// `%override` (`false`) and `%extend` (`true`) definitions of the main grammar, in order.
    pub overrides: Vec<(Definition, bool)>,
    /// Spans of the main grammar's `%declare` statements, by declared name.
    pub declare_spans: HashMap<String, Span>,
    /// `%auto_semicolon` statements of the main grammar (imported files' are ignored).
    pub auto_semicolons: Vec<AutoSemicolon>,
}

enum ItemKind {
    Extend,
    Other,
}

struct Module {
    prefix: String,
    defs: Vec<(Definition, bool)>,
    locals: HashMap<String, usize>,
    /// Alias in this module -> (module, name there).
    imports: HashMap<String, (usize, String)>,
    /// Parse failed or file missing: names looked up here are not reported again.
    failed: bool,
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    modules: Vec<Module>,
    by_key: HashMap<String, usize>,
    diagnostics: Vec<Diagnostic>,
    main_dir: Option<PathBuf>,
    /// Canonical definition -> its final name in the main namespace.
    final_names: HashMap<(usize, String), String>,
    taken: HashSet<String>,
    /// Definitions given a final name but not yet copied into the result.
    pending: Vec<((usize, String), String, Span)>,
    /// "Did you mean" searches for every unknown imported name share one budget.
    suggester: Suggester,
}

/// Resolves the `%import`s of `main` (a parsed grammar in `sources`). Never panics; unknown
/// modules and names become diagnostics.
pub fn resolve(sources: &mut SourceMap, main: Grammar) -> (Merged, Vec<Diagnostic>) {
    let main_dir = sources.get(main.file).and_then(|f| Path::new(&f.name).parent().map(Path::to_path_buf));
    let mut loader = Loader {
        sources,
        modules: Vec::new(),
        by_key: HashMap::new(),
        diagnostics: Vec::new(),
        main_dir: main_dir.clone(),
        final_names: HashMap::new(),
        taken: HashSet::new(),
        pending: Vec::new(),
        suggester: Suggester::default(),
    };
    let mut merged =
        Merged { main: main.file, defs: Vec::new(), ignores: Vec::new(), overrides: Vec::new(), declare_spans: HashMap::new(), auto_semicolons: Vec::new() };
    // Names of the main grammar are taken first, so mangled names avoid them.
    for item in &main.items {
        match item {
            Item::Definition(d) => {
                loader.taken.insert(d.name.name.clone());
            }
            Item::Declare { names, .. } => loader.taken.extend(names.iter().map(|n| n.name.clone())),
            Item::Import(imp) => loader.taken.extend(imp.names.iter().map(|(n, a)| a.as_ref().unwrap_or(n).name.clone())),
            _ => {}
        }
    }
    // Pass 1: every explicit import claims its final name before any dependency is mangled.
    let mut explicit: Vec<Vec<((usize, String), String)>> = Vec::new();
    for item in &main.items {
        let mut found = Vec::new();
        if let Item::Import(imp) = item {
            if let Some(m) = loader.load(imp, main_dir.as_deref(), 0) {
                for (name, alias) in &imp.names {
                    if let Some(canonical) = loader.lookup_checked(m, name, alias.as_ref(), imp) {
                        let target = alias.as_ref().unwrap_or(name).name.clone();
                        loader.final_names.entry(canonical.clone()).or_insert_with(|| target.clone());
                        found.push((canonical, target));
                    }
                }
            }
        }
        explicit.push(found);
    }
    // Pass 2: definitions in source order, imports expanded in place with their dependencies.
    let mut seen_imports: HashSet<((usize, String), String)> = HashSet::new();
    for (item, found) in main.items.into_iter().zip(explicit) {
        match item {
            Item::Definition(def) => merged.defs.push(MergedDef { def, declared: false, origin: Origin::Local }),
            Item::Declare { names, span } => {
                for name in names {
                    merged.declare_spans.insert(name.name.clone(), span);
                    merged.defs.push(MergedDef { def: declared_def(name), declared: true, origin: Origin::Local });
                }
            }
            Item::Ignore { body, span } => merged.ignores.push((body, span)),
            Item::AutoSemicolon(a) => merged.auto_semicolons.push(a),
            Item::Override(def) => merged.overrides.push((def, false)),
            Item::Extend(def) => merged.overrides.push((def, true)),
            Item::Import(imp) => {
                for (canonical, target) in found {
                    if !seen_imports.insert((canonical.clone(), target.clone())) {
                        continue;
                    }
                    if let Some(d) = loader.instantiate(&canonical, &target, Origin::Imported(imp.span)) {
                        merged.defs.push(d);
                    }
                    while let Some((dep, name, at)) = loader.pending.pop() {
                        if let Some(d) = loader.instantiate(&dep, &name, Origin::Dependency(at)) {
                            merged.defs.push(d);
                        }
                    }
                }
            }
        }
    }
    (merged, loader.diagnostics)
}

fn declared_def(name: Ident) -> Definition {
    let span = name.span;
    Definition {
        name,
        modifiers: String::new(),
        params: Vec::new(),
        priority: None,
        body: Expansions { alternatives: Vec::new(), span },
        span,
    }
}

/// `DIGIT` -> `COMMON__DIGIT`, `_EXP` -> `_COMMON__EXP`, `rule` -> `mod__rule`.
fn mangle(prefix: &str, name: &str) -> String {
    let stripped = name.trim_start_matches('_');
    let underscores = name.get(..name.len() - stripped.len()).unwrap_or("");
    if is_terminal_name(name) {
        format!("{underscores}{}__{stripped}", prefix.to_ascii_uppercase())
    } else {
        format!("{underscores}{}__{stripped}", prefix.to_ascii_lowercase())
    }
}

impl Loader<'_> {
    /// Loads the module an import names; `None` (with a diagnostic) when it cannot be found.
    fn load(&mut self, imp: &Import, importer_dir: Option<&Path>, depth: usize) -> Option<usize> {
        let path = imp.module_path();
        if !imp.relative && path == "common" {
            if let Some(&m) = self.by_key.get("<common>") {
                return Some(m);
            }
            let file = self.sources.add(COMMON_FILE_NAME, COMMON_SOURCE);
            return Some(self.add_module("<common>", "common", file, None, COMMON_SOURCE.to_owned(), depth));
        }
        let base = if imp.relative { importer_dir } else { self.main_dir.as_deref() };
        let mut rel = PathBuf::new();
        for part in &imp.module {
            rel.push(&part.name);
        }
        let base = base.map(Path::to_path_buf).unwrap_or_default();
        let candidates = [base.join(&rel).with_extension("lark"), base.join(&rel).with_extension("ebnf")];
        for candidate in &candidates {
            let key = std::fs::canonicalize(candidate).unwrap_or_else(|_| candidate.clone()).to_string_lossy().into_owned();
            if let Some(&m) = self.by_key.get(&key) {
                return Some(m);
            }
            let Ok(bytes) = std::fs::read(candidate) else { continue };
            let text = match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let error = crate::ReadError::not_utf8(candidate, e.as_bytes(), e.utf8_error());
                    let mut diag = Diagnostic::error(error.to_string(), imp.span);
                    diag.help = error.help();
                    self.diagnostics.push(diag);
                    return None;
                }
            };
            let file = self.sources.add(candidate.to_string_lossy().into_owned(), text.clone());
            let prefix: String = imp
                .module
                .last()
                .map_or("module", |m| m.name.as_str())
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let dir = candidate.parent().map(Path::to_path_buf);
            return Some(self.add_module(&key, &prefix, file, dir, text, depth));
        }
        let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        let help = if imp.relative {
            format!("put the file next to the importing grammar (tried {})", tried.join(", "))
        } else {
            format!(
                "the built-in module is `common`; for a file next to the grammar write `%import .{path}...` (tried {})",
                tried.join(", ")
            )
        };
        self.diagnostics.push(Diagnostic::error(format!("unknown module `{path}`"), imp.span).with_help(help));
        None
    }

    fn add_module(&mut self, key: &str, prefix: &str, file: FileId, dir: Option<PathBuf>, text: String, depth: usize) -> usize {
        let m = self.modules.len();
        self.modules.push(Module {
            prefix: prefix.to_owned(),
            defs: Vec::new(),
            locals: HashMap::new(),
            imports: HashMap::new(),
            failed: false,
        });
        self.by_key.insert(key.to_owned(), m);
        let (grammar, diags) = parse_text(file, &text);
        self.diagnostics.extend(diags);
        let Some(grammar) = grammar else {
            if let Some(module) = self.modules.get_mut(m) {
                module.failed = true;
            }
            return m;
        };
        let mut defs: Vec<(Definition, bool)> = Vec::new();
        let mut imports = HashMap::new();
        for item in grammar.items {
            let item_kind = if matches!(item, Item::Extend(_)) { ItemKind::Extend } else { ItemKind::Other };
            match item {
                Item::Definition(d) => defs.push((d, false)),
                Item::Declare { names, .. } => defs.extend(names.into_iter().map(|n| (declared_def(n), true))),
                Item::Override(d) | Item::Extend(d) => {
                    let extend = matches!(item_kind, ItemKind::Extend);
                    if let Some(slot) = defs.iter_mut().find(|(x, _)| x.name.name == d.name.name) {
                        if extend {
                            slot.0.body.alternatives.extend(d.body.alternatives);
                        } else {
                            slot.0 = d;
                        }
                    } else {
                        self.diagnostics.push(
                            Diagnostic::error(format!("cannot change `{}`: it is not defined in this module", d.name.name), d.name.span)
                                .with_help("define it without `%override`/`%extend`"),
                        );
                    }
                }
                Item::Import(imp) => {
                    if depth >= MAX_IMPORT_DEPTH {
                        self.diagnostics.push(
                            Diagnostic::error(format!("imports nested deeper than {MAX_IMPORT_DEPTH} modules"), imp.span)
                                .with_help("check for a cycle of modules importing each other"),
                        );
                        continue;
                    }
                    if let Some(target) = self.load(&imp, dir.as_deref(), depth + 1) {
                        for (name, alias) in &imp.names {
                            if self.lookup_checked(target, name, alias.as_ref(), &imp).is_some() {
                                imports.insert(alias.as_ref().unwrap_or(name).name.clone(), (target, name.name.clone()));
                            }
                        }
                    }
                }
                Item::Ignore { .. } | Item::AutoSemicolon(_) => {}
            }
        }
        let mut locals = HashMap::new();
        for (i, (d, _)) in defs.iter().enumerate() {
            locals.entry(d.name.name.clone()).or_insert(i);
        }
        if let Some(module) = self.modules.get_mut(m) {
            module.defs = defs;
            module.locals = locals;
            module.imports = imports;
        }
        m
    }

    /// The module and name where `name` is defined, following re-exports.
    fn lookup(&self, m: usize, name: &str) -> Option<(usize, String)> {
        let (mut m, mut name) = (m, name.to_owned());
        for _ in 0..=MAX_IMPORT_DEPTH {
            let module = self.modules.get(m)?;
            if module.locals.contains_key(&name) {
                return Some((m, name));
            }
            let (next_m, next_name) = module.imports.get(&name)?.clone();
            m = next_m;
            name = next_name;
        }
        None
    }

    /// [`Self::lookup`], reporting an unknown name or an alias of the wrong kind at the import.
    fn lookup_checked(&mut self, m: usize, name: &Ident, alias: Option<&Ident>, imp: &Import) -> Option<(usize, String)> {
        if let Some(alias) = alias {
            if is_terminal_name(&alias.name) != is_terminal_name(&name.name) {
                let (what, want) = if is_terminal_name(&name.name) { ("terminal", "an UPPERCASE") } else { ("rule", "a lowercase") };
                self.diagnostics.push(
                    Diagnostic::error(format!("cannot import {what} `{}` as `{}`", name.name, alias.name), alias.span)
                        .with_help(format!("use {want} alias")),
                );
                return None;
            }
        }
        let found = self.lookup(m, &name.name);
        if found.is_none() && !self.modules.get(m).is_some_and(|module| module.failed) {
            let module = imp.module_path();
            let candidates = self.modules.get(m).into_iter().flat_map(|module| module.locals.keys().chain(module.imports.keys()));
            let mut diag = Diagnostic::error(format!("module `{module}` has no definition `{}`", name.name), name.span);
            diag = match self.suggester.closest(&name.name, candidates.map(String::as_str)) {
                Some(close) => diag.with_help(format!("did you mean `{close}`?")),
                None if module == "common" => diag.with_help("see docs/grammar-language.md for the terminals of `common`"),
                None => diag.with_help(format!("check the definitions of `{module}`")),
            };
            self.diagnostics.push(diag);
        }
        found
    }

    /// Final name for a canonical definition; new dependencies are queued for copying.
    fn final_name(&mut self, canonical: &(usize, String), at: Span) -> String {
        if let Some(name) = self.final_names.get(canonical) {
            return name.clone();
        }
        let prefix = self.modules.get(canonical.0).map_or("module", |m| m.prefix.as_str());
        let base = mangle(prefix, &canonical.1);
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        self.final_names.insert(canonical.clone(), name.clone());
        self.pending.push((canonical.clone(), name.clone(), at));
        name
    }

    /// Copies a module's definition under `name`, renaming what it refers to.
    fn instantiate(&mut self, canonical: &(usize, String), name: &str, origin: Origin) -> Option<MergedDef> {
        let module = self.modules.get(canonical.0)?;
        let &idx = module.locals.get(&canonical.1)?;
        let (mut def, declared) = module.defs.get(idx)?.clone();
        let prefix = module.prefix.clone();
        let params: HashSet<String> = def.params.iter().map(|p| p.name.clone()).collect();
        let at = match origin {
            Origin::Imported(s) | Origin::Dependency(s) => s,
            Origin::Local => def.span,
        };
        let mut refs: Vec<String> = Vec::new();
        for_each_name_mut(&mut def.body, &mut |id| refs.push(id.name.clone()));
        let mut renames: HashMap<String, String> = HashMap::new();
        for r in refs {
            if params.contains(&r) || renames.contains_key(&r) {
                continue;
            }
            let new = match self.lookup(canonical.0, &r) {
                Some(c) => self.final_name(&c, at),
                None => mangle(&prefix, &r),
            };
            renames.insert(r, new);
        }
        for_each_name_mut(&mut def.body, &mut |id| {
            if let Some(new) = renames.get(&id.name) {
                id.name = new.clone();
            }
        });
        def.name.name = name.to_owned();
        Some(MergedDef { def, declared, origin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(text: &str) -> (SourceMap, Merged, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse_text(file, text);
        assert!(d.is_empty(), "{d:#?}");
        let (m, d) = resolve(&mut map, g.expect("parses"));
        (map, m, d)
    }

    fn names(m: &Merged) -> Vec<&str> {
        m.defs.iter().map(|d| d.def.name.name.as_str()).collect()
    }

    #[test]
    fn common_library_parses_cleanly() {
        let mut map = SourceMap::new();
        let file = map.add(COMMON_FILE_NAME, COMMON_SOURCE);
        let (g, d) = parse_text(file, COMMON_SOURCE);
        assert!(d.is_empty(), "{d:#?}");
        let g = g.expect("common parses");
        let defined: Vec<String> = g.items.iter().filter_map(|i| if let Item::Definition(d) = i { Some(d.name.name.clone()) } else { None }).collect();
        for want in [
            "WS", "WS_INLINE", "NEWLINE", "CR", "LF", "LCASE_LETTER", "UCASE_LETTER", "LETTER", "WORD", "CNAME", "DIGIT", "HEXDIGIT", "INT",
            "SIGNED_INT", "DECIMAL", "FLOAT", "SIGNED_FLOAT", "NUMBER", "SIGNED_NUMBER", "ESCAPED_STRING", "SH_COMMENT", "CPP_COMMENT",
            "C_COMMENT", "SQL_COMMENT", "_STRING_INNER", "_STRING_ESC_INNER", "_EXP",
        ] {
            assert!(defined.iter().any(|d| d == want), "common lacks {want}");
        }
    }

    #[test]
    fn import_brings_dependencies_under_mangled_names() {
        let (map, m, d) = merge("start: NUMBER\n%import common.NUMBER\n");
        assert!(d.is_empty(), "{d:#?}");
        let n = names(&m);
        assert_eq!(n[0], "start");
        assert_eq!(n[1], "NUMBER");
        for dep in ["COMMON__FLOAT", "COMMON__INT", "COMMON__DIGIT", "_COMMON__EXP", "COMMON__DECIMAL", "COMMON__SIGNED_INT"] {
            assert!(n.contains(&dep), "{dep} missing from {n:?}");
        }
        assert!(matches!(m.defs[1].origin, Origin::Imported(_)));
        assert!(matches!(m.defs[2].origin, Origin::Dependency(_)));
        assert!(map.files().iter().any(|f| f.name == "<common>"));
    }

    #[test]
    fn alias_and_list_forms_share_dependencies() {
        let (_, m, d) = merge("start: N INT\n%import common.NUMBER -> N\n%import common (INT, WS)\n%ignore WS\n");
        assert!(d.is_empty(), "{d:#?}");
        let n = names(&m);
        assert!(n.contains(&"N") && n.contains(&"INT") && n.contains(&"WS"));
        assert!(!n.contains(&"COMMON__INT"), "INT is imported by name, so NUMBER's dependency reuses it: {n:?}");
        let float = m.defs.iter().find(|d| d.def.name.name == "COMMON__FLOAT").expect("FLOAT dependency");
        let mut refs = Vec::new();
        let mut body = float.def.body.clone();
        for_each_name_mut(&mut body, &mut |id| refs.push(id.name.clone()));
        assert!(refs.contains(&"INT".to_owned()), "{refs:?}");
    }

    #[test]
    fn unknown_module_and_name() {
        let (map, _, d) = merge("start: X\n%import nosuch.X\n%import common.NUMBR\n%import common.WS -> ws\n");
        let msgs: Vec<(&str, String)> = d.iter().map(|d| (d.message.as_str(), map.location(d.span.expect("located")))).collect();
        assert_eq!(msgs[0].0, "unknown module `nosuch`");
        assert_eq!(msgs[0].1, "g.lark:2:1");
        assert_eq!(msgs[1].0, "module `common` has no definition `NUMBR`");
        assert_eq!(msgs[1].1, "g.lark:3:16");
        assert_eq!(d[1].help.as_deref(), Some("did you mean `NUMBER`?"));
        assert_eq!(msgs[2].0, "cannot import terminal `WS` as `ws`");
    }

    #[test]
    fn relative_file_imports() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("lib.lark"), "expr: atom (\"+\" atom)*\natom: NUMBER\n%import common.NUMBER\n").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub").join("more.ebnf"), "ID: /[a-z]+/\n").expect("write");
        let main_path = dir.path().join("main.lark");
        let text = "start: expr ID\n%import .lib (expr)\n%import .sub.more.ID\n";
        let mut map = SourceMap::new();
        let file = map.add(main_path.to_string_lossy(), text);
        let (g, d) = parse_text(file, text);
        assert!(d.is_empty());
        let (m, d) = resolve(&mut map, g.expect("parses"));
        assert!(d.is_empty(), "{d:#?}");
        let n = names(&m);
        assert!(n.contains(&"expr") && n.contains(&"lib__atom") && n.contains(&"ID"), "{n:?}");
        assert!(n.contains(&"COMMON__NUMBER"), "a module's own imports are followed to their definition: {n:?}");
        let missing = "start: x\n%import .absent (x)\n";
        let file = map.add(main_path.to_string_lossy(), missing);
        let (g, _) = parse_text(file, missing);
        let (_, d) = resolve(&mut map, g.expect("parses"));
        assert_eq!(d[0].message, "unknown module `.absent`");
        assert!(d[0].help.as_deref().is_some_and(|h| h.contains("absent.lark")));
    }

    #[test]
    fn a_module_that_is_not_utf8_is_located() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lib = dir.path().join("latin1.lark");
        std::fs::write(&lib, b"x: \"a\"\ny: \"caf\xe9\"\n").expect("write");
        let text = "start: x\n%import .latin1 (x)\n";
        let mut map = SourceMap::new();
        let file = map.add(dir.path().join("main.lark").to_string_lossy(), text);
        let (g, _) = parse_text(file, text);
        let (_, d) = resolve(&mut map, g.expect("parses"));
        let want = format!("invalid UTF-8 at {}:2:8 (byte offset 14)", lib.display());
        assert!(d[0].message.contains(&want), "{:#?}", d[0]);
        assert_eq!(map.location(d[0].span.expect("located at the import")), format!("{}:2:1", dir.path().join("main.lark").display()));
        assert!(d[0].help.as_deref().is_some_and(|h| h.contains("save the file as UTF-8")));
    }

    #[test]
    fn declares_ignores_overrides_are_collected() {
        let (_, m, d) = merge("start: A\n%declare A _B\n%ignore \" \"\n%override start: A A\n%extend start: _B\n");
        assert!(d.is_empty());
        assert_eq!(m.defs.iter().filter(|d| d.declared).count(), 2);
        assert_eq!(m.ignores.len(), 1);
        assert_eq!(m.overrides.iter().map(|(_, e)| *e).collect::<Vec<_>>(), [false, true]);
        assert!(m.declare_spans.contains_key("_B"));
    }

    #[test]
    fn mangling_keeps_kind_and_leading_underscores() {
        assert_eq!(mangle("common", "DIGIT"), "COMMON__DIGIT");
        assert_eq!(mangle("common", "_EXP"), "_COMMON__EXP");
        assert_eq!(mangle("lib", "atom"), "lib__atom");
        assert_eq!(mangle("lib", "_item"), "_lib__item");
        assert!(is_terminal_name(&mangle("x", "_EXP")));
    }
}
