//! The syntax tree of one grammar file, as written (before imports, templates and lowering).
//!
//! **Invariants:** every node carries the [`Span`] of its source text in its own file; string
//! literals are already unescaped ([`Literal::value`]) and regex sources have `\/` turned into
//! `/` (nothing else is changed). Names are kept as written; whether a name is a rule or a
//! terminal follows Lark's convention and is answered by [`is_terminal_name`].

use crate::diagnostics::{FileId, Span};

/// One parsed grammar file.
#[derive(Debug, Clone, PartialEq)]
pub struct Grammar {
    pub file: FileId,
    pub items: Vec<Item>,
}

/// A top-level item, in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Definition(Definition),
    /// `%ignore expansions`.
    Ignore { body: Expansions, span: Span },
    Import(Import),
    /// `%declare A B`.
    Declare { names: Vec<Ident>, span: Span },
    /// `%auto_semicolon NEWLINE -> SEMI after T ...` (syncodec extension).
    AutoSemicolon(AutoSemicolon),
    /// `%override name: ...`.
    Override(Definition),
    /// `%extend name: ...`.
    Extend(Definition),
}

/// A name with its place in the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A rule (`name: ...`), terminal (`NAME: ...`) or template (`name{a, b}: ...`) definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: Ident,
    /// Tree-shaping prefix as written (`?`, `!`, `!?`, `?!`) or empty. No effect on the language.
    pub modifiers: String,
    /// Template parameters (`name{a, b}`); empty for ordinary definitions.
    pub params: Vec<Ident>,
    /// `name.2`: the priority as written, if any.
    pub priority: Option<i64>,
    pub body: Expansions,
    /// The whole definition.
    pub span: Span,
}

impl Definition {
    pub fn is_terminal(&self) -> bool {
        is_terminal_name(&self.name.name)
    }
}

/// Alternatives separated by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansions {
    pub alternatives: Vec<Alternative>,
    pub span: Span,
}

/// One alternative: a sequence with an optional `-> alias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub items: Vec<Expr>,
    pub alias: Option<Ident>,
    pub span: Span,
}

/// An atom with an optional postfix operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub atom: Atom,
    pub op: Option<Op>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `?`
    Optional,
    /// `*`
    Star,
    /// `+`
    Plus,
    /// `~ min` (`max == min`) or `~ min..max`.
    Repeat { min: u32, max: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// `( ... )`
    Group(Expansions),
    /// `[ ... ]`
    Maybe(Expansions),
    /// A rule or terminal reference.
    Name(Ident),
    Literal(Literal),
    Regex(Regex),
    /// `"a".."z"`.
    Range { from: Literal, to: Literal, span: Span },
    /// `name{arg, ...}`: a template instantiation.
    Template { name: Ident, args: Vec<Expansions>, span: Span },
}

/// A `"..."` string literal, escapes decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub value: String,
    /// `"..."i`
    pub case_insensitive: bool,
    pub span: Span,
}

/// A `/.../flags` regex; `source` is the text between the slashes with `\/` turned into `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regex {
    pub source: String,
    /// Flag letters as written, each one of `imsxul` (checked by the parser).
    pub flags: String,
    pub span: Span,
}

/// `%import path.NAME [-> ALIAS]` or `%import path (A, B)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Starts with `.`: the module is a file next to the importing file.
    pub relative: bool,
    /// Module path components (`common`, or `sub`, `file` for `.sub.file`).
    pub module: Vec<Ident>,
    /// Imported names with their optional alias.
    pub names: Vec<(Ident, Option<Ident>)>,
    pub span: Span,
}

impl Import {
    /// The module path as written, e.g. `common` or `.sub.file`.
    pub fn module_path(&self) -> String {
        let parts: Vec<&str> = self.module.iter().map(|m| m.name.as_str()).collect();
        format!("{}{}", if self.relative { "." } else { "" }, parts.join("."))
    }
}

/// A terminal named by a directive: its name or a literal it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermRef {
    Name(Ident),
    Literal(Literal),
}

impl TermRef {
    pub fn span(&self) -> Span {
        match self {
            TermRef::Name(id) => id.span,
            TermRef::Literal(l) => l.span,
        }
    }

    /// As written in a grammar: the name, or the quoted literal.
    pub fn text(&self) -> String {
        match self {
            TermRef::Name(id) => id.name.clone(),
            TermRef::Literal(l) => crate::grammar::escape::quote(&l.value, l.case_insensitive),
        }
    }
}

/// `%auto_semicolon NEWLINE -> SEMI after T1 T2 ...`: newline lexemes are dropped, except after
/// a trigger terminal, where they become `SEMI` (as Go's automatic semicolon insertion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSemicolon {
    pub newline: TermRef,
    pub semicolon: TermRef,
    pub triggers: Vec<TermRef>,
    pub span: Span,
}

/// Lark's convention: a name whose first letter is uppercase is a terminal, otherwise a rule.
pub fn is_terminal_name(name: &str) -> bool {
    name.chars().find(|c| c.is_ascii_alphabetic()).is_some_and(|c| c.is_ascii_uppercase())
}

/// Visits every [`Expansions`] nested in `body` (including `body`), depth first.
pub fn walk_exprs_mut(body: &mut Expansions, f: &mut dyn FnMut(&mut Expr)) {
    for alt in &mut body.alternatives {
        for expr in &mut alt.items {
            f(expr);
            match &mut expr.atom {
                Atom::Group(inner) | Atom::Maybe(inner) => walk_exprs_mut(inner, f),
                Atom::Template { args, .. } => {
                    for arg in args {
                        walk_exprs_mut(arg, f);
                    }
                }
                Atom::Name(_) | Atom::Literal(_) | Atom::Regex(_) | Atom::Range { .. } => {}
            }
        }
    }
}

/// Calls `f` on every name referenced in `body` (names and template names).
pub fn for_each_name_mut(body: &mut Expansions, f: &mut dyn FnMut(&mut Ident)) {
    walk_exprs_mut(body, &mut |expr| match &mut expr.atom {
        Atom::Name(id) => f(id),
        Atom::Template { name, .. } => f(name),
        _ => {}
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_names_follow_lark_case_convention() {
        assert!(is_terminal_name("NAME"));
        assert!(is_terminal_name("_NEWLINE"));
        assert!(is_terminal_name("__ANON_0"));
        assert!(!is_terminal_name("expr"));
        assert!(!is_terminal_name("_stmt"));
        assert!(!is_terminal_name("___"));
    }

    #[test]
    fn name_walk_reaches_nested_names() {
        let span = Span::default();
        let name = |n: &str| Expr { atom: Atom::Name(Ident { name: n.into(), span }), op: None, span };
        let inner = Expansions { alternatives: vec![Alternative { items: vec![name("b")], alias: None, span }], span };
        let mut body = Expansions {
            alternatives: vec![Alternative {
                items: vec![name("a"), Expr { atom: Atom::Maybe(inner), op: Some(Op::Star), span }],
                alias: None,
                span,
            }],
            span,
        };
        let mut seen = Vec::new();
        for_each_name_mut(&mut body, &mut |id| seen.push(id.name.clone()));
        assert_eq!(seen, ["a", "b"]);
    }
}
