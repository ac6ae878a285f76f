//! Terminals of the lowered grammar: the named ones, and anonymous ones made from literals,
//! regexes and ranges written directly in rules or `%ignore`.
//!
//! **Invariants:** identical anonymous patterns share one terminal; an anonymous literal or
//! regex equal to the whole pattern of a named terminal (`LPAR: "("`) is that terminal, as in
//! Lark. Anonymous literals get Lark-style names: the uppercased word for identifier-like
//! literals (`"if"` -> `IF`), a punctuation name (`"("` -> `LPAR`), otherwise `__ANON_n`; a
//! name already in use also falls back to `__ANON_n`. Their `display` is the quoted literal.
//! Other `%ignore` patterns are named `__IGNORE_n`.

use std::collections::{HashMap, HashSet};

use super::bnf::{Pattern, TerminalKind};
use super::ir::Term;
use crate::diagnostics::Span;
use crate::grammar::escape::quote;

/// Pattern identity without spans (regex spans differ between identical uses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Literal(String, bool),
    Regex(String, [bool; 5]),
    Other(String),
}

fn key(p: &Pattern) -> Key {
    match p {
        Pattern::Literal { value, case_insensitive } => Key::Literal(value.clone(), *case_insensitive),
        Pattern::Regex { source, flags, .. } => Key::Regex(
            source.clone(),
            [flags.case_insensitive, flags.multi_line, flags.dot_matches_new_line, flags.ignore_whitespace, flags.unicode],
        ),
        other => Key::Other(format!("{:?}", strip_spans(other))),
    }
}

fn strip_spans(p: &Pattern) -> Pattern {
    match p {
        Pattern::Regex { source, flags, .. } => Pattern::Regex { source: source.clone(), flags: *flags, span: Span::default() },
        Pattern::Concat(v) => Pattern::Concat(v.iter().map(strip_spans).collect()),
        Pattern::Alt(v) => Pattern::Alt(v.iter().map(strip_spans).collect()),
        Pattern::Repeat { inner, min, max } => Pattern::Repeat { inner: Box::new(strip_spans(inner)), min: *min, max: *max },
        other => other.clone(),
    }
}

/// Lark's name for a one-character (or `\r\n`) literal.
fn punctuation_name(value: &str) -> Option<&'static str> {
    Some(match value {
        "." => "DOT",
        "," => "COMMA",
        ":" => "COLON",
        ";" => "SEMICOLON",
        "+" => "PLUS",
        "-" => "MINUS",
        "*" => "STAR",
        "/" => "SLASH",
        "\\" => "BACKSLASH",
        "|" => "VBAR",
        "?" => "QMARK",
        "!" => "BANG",
        "@" => "AT",
        "#" => "HASH",
        "$" => "DOLLAR",
        "%" => "PERCENT",
        "^" => "CIRCUMFLEX",
        "&" => "AMPERSAND",
        "_" => "UNDERSCORE",
        "<" => "LESSTHAN",
        ">" => "MORETHAN",
        "=" => "EQUAL",
        "\"" => "DBLQUOTE",
        "'" => "QUOTE",
        "`" => "BACKQUOTE",
        "~" => "TILDE",
        "(" => "LPAR",
        ")" => "RPAR",
        "{" => "LBRACE",
        "}" => "RBRACE",
        "[" => "LSQB",
        "]" => "RSQB",
        "\n" => "NEWLINE",
        "\r\n" => "CRLF",
        "\t" => "TAB",
        " " => "SPACE",
        _ => return None,
    })
}

/// The terminal list being built, with the interning tables.
#[derive(Debug, Default)]
pub(crate) struct Terms {
    pub list: Vec<Term>,
    named_by_pattern: HashMap<Key, usize>,
    anonymous: HashMap<Key, usize>,
    taken: HashSet<String>,
    anon_count: usize,
    ignore_count: usize,
}

impl Terms {
    /// Every name of the grammar, so that generated names avoid them.
    pub fn new(names: impl IntoIterator<Item = String>) -> Terms {
        Terms { taken: names.into_iter().collect(), ..Terms::default() }
    }

    /// Registers a named terminal and returns its index.
    pub fn add_named(&mut self, term: Term) -> usize {
        let idx = self.list.len();
        if let Some(p) = &term.pattern {
            if matches!(p, Pattern::Literal { .. } | Pattern::Regex { .. }) {
                self.named_by_pattern.entry(key(p)).or_insert(idx);
            }
        }
        self.taken.insert(term.name.clone());
        self.list.push(term);
        idx
    }

    /// The terminal for a pattern written in a rule (first use at `span`).
    pub fn anonymous(&mut self, pattern: Pattern, span: Span) -> usize {
        let k = key(&pattern);
        if let Some(&idx) = self.named_by_pattern.get(&k).or_else(|| self.anonymous.get(&k)) {
            return idx;
        }
        let (name, display, kind) = match &pattern {
            Pattern::Literal { value, case_insensitive } => {
                let word = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && value.chars().all(|c| c.is_ascii_alphanumeric());
                let candidate = if word { Some(value.to_ascii_uppercase()) } else { punctuation_name(value).map(str::to_owned) };
                let name = match candidate {
                    Some(n) if !self.taken.contains(&n) => n,
                    _ => self.next_anon(),
                };
                (name, quote(value, *case_insensitive), TerminalKind::Literal)
            }
            _ => {
                let name = self.next_anon();
                (name.clone(), name, TerminalKind::Pattern)
            }
        };
        self.push_anonymous(k, Term { name, display, pattern: Some(pattern), priority: 0, kind, span, entry: None })
    }

    /// The terminal for a `%ignore` pattern that is not a single name.
    pub fn ignore_pattern(&mut self, pattern: Pattern, span: Span) -> usize {
        if matches!(pattern, Pattern::Literal { .. } | Pattern::Regex { .. }) {
            return self.anonymous(pattern, span);
        }
        let k = key(&pattern);
        if let Some(&idx) = self.anonymous.get(&k) {
            return idx;
        }
        let name = loop {
            let n = format!("__IGNORE_{}", self.ignore_count);
            self.ignore_count += 1;
            if !self.taken.contains(&n) {
                break n;
            }
        };
        self.push_anonymous(k, Term { name: name.clone(), display: name, pattern: Some(pattern), priority: 0, kind: TerminalKind::Pattern, span, entry: None })
    }

    fn push_anonymous(&mut self, k: Key, term: Term) -> usize {
        let idx = self.list.len();
        self.taken.insert(term.name.clone());
        self.anonymous.insert(k, idx);
        self.list.push(term);
        idx
    }

    fn next_anon(&mut self) -> String {
        loop {
            let n = format!("__ANON_{}", self.anon_count);
            self.anon_count += 1;
            if !self.taken.contains(&n) {
                return n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::bnf::RegexFlags;

    fn lit(v: &str, ci: bool) -> Pattern {
        Pattern::Literal { value: v.into(), case_insensitive: ci }
    }

    fn named(name: &str, p: Pattern) -> Term {
        Term { name: name.into(), display: name.into(), pattern: Some(p), priority: 0, kind: TerminalKind::Literal, span: Span::default(), entry: Some(0) }
    }

    #[test]
    fn lark_style_names_and_sharing() {
        let mut t = Terms::new(["start".to_owned()]);
        let s = Span::default();
        let a = t.anonymous(lit("if", false), s);
        let b = t.anonymous(lit("(", false), s);
        let c = t.anonymous(lit("if", false), s);
        let d = t.anonymous(lit("if", true), s);
        let e = t.anonymous(lit("+=", false), s);
        let f = t.anonymous(lit("\r\n", false), s);
        assert_eq!(a, c, "identical literals share a terminal");
        let names: Vec<&str> = t.list.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["IF", "LPAR", "__ANON_0", "__ANON_1", "CRLF"]);
        assert_eq!(t.list[d].display, "\"if\"i");
        assert_eq!(t.list[b].display, "\"(\"");
        assert_eq!(t.list[e].kind, TerminalKind::Literal);
        assert_eq!(t.list[f].display, "\"\\r\\n\"");
    }

    #[test]
    fn named_terminals_are_reused_and_names_avoided() {
        let mut t = Terms::new(["IF".to_owned()]);
        let lpar = t.add_named(named("MY_LPAR", lit("(", false)));
        let s = Span::default();
        assert_eq!(t.anonymous(lit("(", false), s), lpar);
        let iff = t.anonymous(lit("if", false), s);
        assert_eq!(t.list[iff].name, "__ANON_0", "IF is taken by another definition");
    }

    #[test]
    fn regexes_share_regardless_of_span_and_ignore_names() {
        let mut t = Terms::new([]);
        let flags = RegexFlags::default();
        let r1 = t.anonymous(Pattern::Regex { source: "[0-9]+".into(), flags, span: Span::new(crate::diagnostics::FileId(0), 1, 2) }, Span::default());
        let r2 = t.anonymous(Pattern::Regex { source: "[0-9]+".into(), flags, span: Span::new(crate::diagnostics::FileId(0), 5, 6) }, Span::default());
        assert_eq!(r1, r2);
        assert_eq!(t.list[r1].kind, TerminalKind::Pattern);
        let i = t.ignore_pattern(Pattern::Alt(vec![lit(" ", false), lit("\t", false)]), Span::default());
        assert_eq!(t.list[i].name, "__IGNORE_0");
        let sp = t.ignore_pattern(lit(" ", false), Span::default());
        assert_eq!(t.list[sp].name, "SPACE");
    }
}
