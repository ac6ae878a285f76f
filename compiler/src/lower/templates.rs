//! Rule templates (`_sep{x, sep}: x (sep x)*`, used as `_sep{item, ","}`): macro expansion.
//!
//! Each distinct use (template name + printed arguments) becomes one generated rule named like
//! the use, e.g. `_sep{item, ","}`; the template's parameters are replaced by the arguments
//! (each wrapped in a group). Uses inside instances are expanded too, through a work list, so a
//! template may use other templates or itself with other arguments; more than
//! [`MAX_INSTANCES`] instances is an error (a template that keeps growing its arguments).
//!
//! **Invariant:** afterwards no rule body of the table holds an `Atom::Template`, except where an
//! error was reported.

use std::collections::HashMap;

use super::symbols::{Entry, EntryKind, SymbolTable};
use crate::diagnostics::Diagnostic;
use crate::grammar::ast::*;
use crate::grammar::escape::quote;
use crate::grammar::imports::Origin;

/// Most template instances one grammar may create.
pub const MAX_INSTANCES: usize = 1000;
/// Longest printed instance name (bounds arguments that double at each level).
const MAX_KEY_LEN: usize = 4096;

pub(crate) fn expand(table: &mut SymbolTable, diagnostics: &mut Vec<Diagnostic>) {
    let mut work: Vec<usize> =
        table.entries.iter().enumerate().filter(|(_, e)| e.kind == EntryKind::Rule).map(|(i, _)| i).collect();
    let mut instances: HashMap<String, String> = HashMap::new();
    let mut reported_limit = false;
    while let Some(idx) = work.pop() {
        let Some(entry) = table.entries.get_mut(idx) else { continue };
        let mut body = std::mem::replace(&mut entry.def.body, Expansions { alternatives: Vec::new(), span: entry.def.span });
        // Collect the uses first; the table is needed to instantiate them.
        let mut uses: Vec<(Ident, Vec<Expansions>, crate::diagnostics::Span)> = Vec::new();
        walk_exprs_mut(&mut body, &mut |expr| {
            if let Atom::Template { name, args, span } = &expr.atom {
                uses.push((name.clone(), args.clone(), *span));
            }
        });
        let mut replaced: HashMap<String, String> = HashMap::new();
        for (name, args, span) in uses {
            let key = use_key(&name.name, &args);
            if replaced.contains_key(&key) {
                continue;
            }
            if let Some(existing) = instances.get(&key) {
                replaced.insert(key, existing.clone());
                continue;
            }
            let template = match table.get(&name.name) {
                Some((_, e)) if e.kind == EntryKind::Template => e.def.clone(),
                Some(_) => {
                    diagnostics.push(
                        Diagnostic::error(format!("`{}` is not a template", name.name), name.span)
                            .with_help(format!("define it with parameters, e.g. `{}{{x}}: ...`, or drop the braces", name.name)),
                    );
                    continue;
                }
                None => {
                    table.resolve(&name, diagnostics);
                    continue;
                }
            };
            if template.params.len() != args.len() {
                diagnostics.push(
                    Diagnostic::error(
                        format!("template `{}` takes {} argument(s), not {}", name.name, template.params.len(), args.len()),
                        span,
                    )
                    .with_label(template.name.span, "defined here")
                    .with_help("pass one argument per parameter"),
                );
                continue;
            }
            if instances.len() >= MAX_INSTANCES || key.len() > MAX_KEY_LEN {
                if !reported_limit {
                    diagnostics.push(
                        Diagnostic::error(format!("more than {MAX_INSTANCES} template instances"), span)
                            .with_help("a template probably uses itself with ever larger arguments"),
                    );
                    reported_limit = true;
                }
                continue;
            }
            let mut inst_body = template.body.clone();
            substitute(&mut inst_body, &template.params, &args);
            let def = Definition {
                name: Ident { name: key.clone(), span },
                modifiers: template.modifiers.clone(),
                params: Vec::new(),
                priority: None,
                body: inst_body,
                span,
            };
            let entry = Entry { def, kind: EntryKind::Rule, declared: false, origin: Origin::Local, generated: true };
            if let Some(new_idx) = table.insert(entry, diagnostics) {
                work.push(new_idx);
            }
            instances.insert(key.clone(), key.clone());
            replaced.insert(key.clone(), key);
        }
        walk_exprs_mut(&mut body, &mut |expr| {
            if let Atom::Template { name, args, span } = &expr.atom {
                if let Some(inst) = replaced.get(&use_key(&name.name, args)) {
                    expr.atom = Atom::Name(Ident { name: inst.clone(), span: *span });
                }
            }
        });
        if let Some(entry) = table.entries.get_mut(idx) {
            entry.def.body = body;
        }
    }
}

/// Replaces each parameter name by its argument, as a group.
fn substitute(body: &mut Expansions, params: &[Ident], args: &[Expansions]) {
    walk_exprs_mut(body, &mut |expr| {
        if let Atom::Name(id) = &expr.atom {
            if let Some(pos) = params.iter().position(|p| p.name == id.name) {
                if let Some(arg) = args.get(pos) {
                    expr.atom = Atom::Group(arg.clone());
                }
            }
        }
    });
}

/// `name{a, "b"}`: the instance's name, also its identity.
fn use_key(name: &str, args: &[Expansions]) -> String {
    let printed: Vec<String> = args.iter().map(print_expansions).collect();
    format!("{name}{{{}}}", printed.join(", "))
}

fn print_expansions(e: &Expansions) -> String {
    let alts: Vec<String> = e
        .alternatives
        .iter()
        .map(|a| a.items.iter().map(print_expr).collect::<Vec<_>>().join(" "))
        .collect();
    alts.join(" | ")
}

fn print_expr(e: &Expr) -> String {
    let atom = match &e.atom {
        Atom::Group(inner) => format!("({})", print_expansions(inner)),
        Atom::Maybe(inner) => format!("[{}]", print_expansions(inner)),
        Atom::Name(id) => id.name.clone(),
        Atom::Literal(l) => quote(&l.value, l.case_insensitive),
        Atom::Regex(r) => format!("/{}/{}", r.source.replace('/', "\\/"), r.flags),
        Atom::Range { from, to, .. } => format!("{}..{}", quote(&from.value, false), quote(&to.value, false)),
        Atom::Template { name, args, .. } => use_key(&name.name, args),
    };
    let op = match e.op {
        None => String::new(),
        Some(Op::Optional) => "?".into(),
        Some(Op::Star) => "*".into(),
        Some(Op::Plus) => "+".into(),
        Some(Op::Repeat { min, max }) if min == max => format!(" ~ {min}"),
        Some(Op::Repeat { min, max }) => format!(" ~ {min}..{max}"),
    };
    atom + &op
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceMap;
    use crate::grammar::{imports, parse};

    fn expanded(text: &str) -> (SourceMap, SymbolTable, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse::parse_text(file, text);
        assert!(d.is_empty(), "{d:#?}");
        let (merged, mut d) = imports::resolve(&mut map, g.expect("parses"));
        let mut t = SymbolTable::build(&merged, &mut d);
        expand(&mut t, &mut d);
        (map, t, d)
    }

    #[test]
    fn uses_become_shared_instances() {
        let (_, t, d) = expanded("start: _sep{item, \",\"} _sep{item, \",\"} _sep{x, \";\"}\n_sep{e, s}: e (s e)*\nitem: \"i\"\nx: \"x\"\n");
        assert!(d.is_empty(), "{d:#?}");
        let (_, inst) = t.get("_sep{item, \",\"}").expect("instance");
        assert!(inst.generated);
        assert_eq!(print_expansions(&inst.def.body), "(item) ((\",\") (item))*");
        assert!(t.get("_sep{x, \";\"}").is_some());
        let (_, start) = t.get("start").expect("start");
        assert_eq!(print_expansions(&start.def.body), "_sep{item, \",\"} _sep{item, \",\"} _sep{x, \";\"}");
    }

    #[test]
    fn nested_templates_expand() {
        let (_, t, d) = expanded("start: twice{once{\"a\"}}\nonce{x}: x\ntwice{x}: x x\n");
        assert!(d.is_empty(), "{d:#?}");
        assert!(t.get("twice{once{\"a\"}}").is_some());
        assert!(t.get("once{\"a\"}").is_some());
    }

    #[test]
    fn template_errors() {
        let (map, _, d) = expanded("start: t{a, b} r{a} nope{a}\nt{x}: x\nr: \"r\"\na: \"a\"\nb: \"b\"\n");
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(msgs.contains(&"template `t` takes 1 argument(s), not 2"), "{msgs:?}");
        assert!(msgs.contains(&"`r` is not a template"), "{msgs:?}");
        assert!(msgs.contains(&"undefined rule `nope`"), "{msgs:?}");
        let arity = d.iter().find(|d| d.message.starts_with("template `t`")).expect("arity error");
        assert_eq!(map.location(arity.span.expect("located")), "g.lark:1:8");
    }

    #[test]
    fn runaway_templates_stop_at_the_limit() {
        let (_, _, d) = expanded("start: grow{\"a\"}\ngrow{x}: x | grow{(x x)}\n");
        assert!(d.iter().any(|d| d.message == format!("more than {MAX_INSTANCES} template instances")), "{d:#?}");
    }
}
