//! Text to [`ast::Grammar`] with pest (`lark.pest`), plus syntax diagnostics.
//!
//! **Invariant:** never panics, whatever the text: nesting deeper than [`MAX_NESTING`] is
//! rejected before pest runs (pest and the AST builder recurse once per level), numbers that do
//! not fit are diagnostics, and nothing indexes with values taken from the text.
//!
//! Syntax errors are collected, not just the first: after an error, the definition or statement
//! that holds it is blanked out (same length, newlines kept, so offsets stay true) and the file
//! is parsed again, up to [`MAX_SYNTAX_ERRORS`] times. A file with any syntax error gives no AST.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::escape::{decode_string, unescape_regex};
use crate::diagnostics::{Diagnostic, FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "grammar/lark.pest"]
struct LarkParser;

/// Deepest nesting of `(`, `[` and `{` accepted.
pub const MAX_NESTING: usize = 64;
/// At most this many syntax errors are reported per file.
pub const MAX_SYNTAX_ERRORS: usize = 16;

/// Parses one grammar text. `Some` iff there was no syntax error (warnings may exist).
pub fn parse_text(file: FileId, text: &str) -> (Option<Grammar>, Vec<Diagnostic>) {
    if let Some(at) = too_deep(text) {
        let diag = Diagnostic::error(format!("brackets nested deeper than {MAX_NESTING} levels"), Span::new(file, at, at + 1))
            .with_help("move the inner part into a rule or terminal of its own");
        return (None, vec![diag]);
    }
    let mut diagnostics = Vec::new();
    let mut work = text.to_owned();
    for _ in 0..MAX_SYNTAX_ERRORS {
        match LarkParser::parse(Rule::grammar, &work) {
            Ok(mut pairs) => {
                if !diagnostics.is_empty() {
                    return (None, diagnostics);
                }
                let Some(root) = pairs.next() else { return (None, diagnostics) };
                let mut builder = Builder { file, diagnostics: Vec::new() };
                let grammar = builder.grammar(root);
                let failed = crate::diagnostics::has_errors(&builder.diagnostics);
                return (if failed { None } else { Some(grammar) }, builder.diagnostics);
            }
            Err(error) => {
                let pos = match error.location {
                    pest::error::InputLocation::Pos(p) => p,
                    pest::error::InputLocation::Span((s, _)) => s,
                };
                diagnostics.push(syntax_error(file, text, pos, &error.variant));
                if !blank_item_at(&mut work, pos) {
                    return (None, diagnostics);
                }
            }
        }
    }
    (None, diagnostics)
}

/// First offset where bracket nesting exceeds [`MAX_NESTING`] (strings, regexes and comments skipped).
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' | b'/' if !(b == b'/' && bytes.get(i + 1) == Some(&b'/')) => {
                // Resume at the closing delimiter, or at the end of the line (which resets the depth).
                i = literal_end(bytes, i).0;
                continue;
            }
            b'/' | b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => depth = 0,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where the string or regex opened by the delimiter at `open` ends: just past its closing
/// delimiter (`true`), or at the end of its line or text (`false`). Backslash escapes are
/// skipped, as `lark.pest` reads them.
fn literal_end(bytes: &[u8], open: usize) -> (usize, bool) {
    let delimiter = bytes.get(open).copied();
    let mut i = open + 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'\\' if bytes.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
            b'\n' => return (i, false),
            _ if Some(c) == delimiter => return (i + 1, true),
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

/// The opening quote of the string literal that is not closed on the line of `pos`, when
/// pest's error at `pos` comes from it.
///
/// Quotes pair up from the start of the line, so after a missing closing quote each later quote
/// pairs with the wrong partner, and pest fails either at the quote left open at the end of the
/// line or right after a wrongly closed string, at a token far from the mistake (`"[ item (","`
/// fails at the `,`). Either way the line ends inside a string. The quote reported is that of
/// the first string up to the failing one whose body mixes spaces with other text (`"[ item (`),
/// the likeliest to have swallowed grammar text, else that of the failing string itself.
fn unclosed_string(text: &str, pos: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let pos = pos.min(bytes.len());
    let line_start = bytes.get(..pos)?.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut first_mixed: Option<usize> = None;
    // The opening quote of a string that pest's error directly follows.
    let mut ends_at_error: Option<usize> = None;
    let mut i = line_start;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' | b'#' => return None,
            b'/' if bytes.get(i + 1) == Some(&b'/') => return None,
            b'"' | b'/' => {
                let (end, closed) = literal_end(bytes, i);
                if b == b'"' {
                    let body = text.get(i + 1..if closed { end - 1 } else { end }).unwrap_or("");
                    if first_mixed.is_none() && body.contains(char::is_whitespace) && !body.trim().is_empty() {
                        first_mixed = Some(i);
                    }
                    if !closed {
                        let failing = if i <= pos { Some(i) } else { ends_at_error };
                        return failing.map(|q| first_mixed.filter(|&m| m <= q).unwrap_or(q));
                    }
                    if end == pos && ends_at_error.is_none() {
                        ends_at_error = Some(i);
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    None
}

/// Blanks the item (definition or statement, with its `|` continuation lines) holding byte
/// `pos`. Returns false when nothing could be blanked (no progress possible).
fn blank_item_at(text: &mut String, pos: usize) -> bool {
    let starts_item = |line: &str| {
        let t = line.trim_start();
        !(t.is_empty() || t.starts_with('|') || t.starts_with("//") || t.starts_with('#'))
    };
    // Line starts.
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    lines.push((start, text.len()));
    let pos = pos.min(text.len());
    let Some(here) = lines.iter().rposition(|&(s, _)| s <= pos) else { return false };
    let text_of = |(s, e): (usize, usize)| text.get(s..e).unwrap_or("");
    let mut first = here;
    while first > 0 && !starts_item(text_of(lines[first])) {
        first -= 1;
    }
    let mut last = here;
    while last + 1 < lines.len() && !starts_item(text_of(lines[last + 1])) {
        last += 1;
    }
    let (from, to) = (lines[first].0, lines[last].1);
    let Some(region) = text.get(from..to) else { return false };
    if region.chars().all(|c| c == ' ' || c == '\n') {
        return false;
    }
    // Same byte length: a multi-byte character becomes as many spaces as it has bytes.
    let replacement: String =
        region.chars().map(|c| if c == '\n' { "\n".to_owned() } else { " ".repeat(c.len_utf8()) }).collect();
    text.replace_range(from..to, &replacement);
    true
}

fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::name | Rule::def_head => "a name",
        Rule::colon => "`:`",
        Rule::expansions | Rule::alias | Rule::expansion | Rule::expr | Rule::group | Rule::maybe => "an expression",
        Rule::string | Rule::range => "a string",
        Rule::regex => "a regex",
        Rule::template_use => "a template use",
        Rule::op | Rule::op_char | Rule::repeat => "an operator (`?`, `*`, `+`, `~`)",
        Rule::close_paren => "`)`",
        Rule::close_bracket => "`]`",
        Rule::int | Rule::signed_int => "a number",
        Rule::priority => "a priority (`.N`)",
        Rule::template_params => "template parameters",
        Rule::definition => "a definition",
        Rule::ignore | Rule::import | Rule::declare | Rule::auto_semicolon | Rule::override_def | Rule::extend_def | Rule::unknown_directive => {
            "a `%` statement"
        }
        Rule::import_path => "a module path",
        Rule::name_list => "`(` with names",
        Rule::nl => "the end of the line",
        Rule::EOI => "the end of the line",
        Rule::modifiers => "a name",
        Rule::after_kw => "`after`",
        Rule::auto_kw => "`%auto_semicolon`",
        _ => return None,
    })
}

fn syntax_error(file: FileId, text: &str, pos: usize, variant: &pest::error::ErrorVariant<Rule>) -> Diagnostic {
    let rest = text.get(pos..).unwrap_or("");
    let found = match rest.chars().next() {
        None => "end of file".to_owned(),
        Some('\n') | Some('\r') => "end of line".to_owned(),
        Some(c) => format!("`{c}`"),
    };
    let end = pos + rest.chars().next().map_or(0, char::len_utf8);
    let span = Span::new(file, pos, end);
    let line_rest = rest.split('\n').next().unwrap_or("");
    if let Some(quote) = unclosed_string(text, pos) {
        let body = text.get(quote + 1..).unwrap_or("").split('\n').next().unwrap_or("");
        let word = body.split(char::is_whitespace).next().unwrap_or("");
        let help = if !word.is_empty() && word.len() < body.trim_end().len() {
            format!("close the string with `\"` on the same line, e.g. `\"{word}\"` if the string was meant to end there")
        } else {
            "close the string with `\"` on the same line".to_owned()
        };
        return Diagnostic::error("unterminated string literal", Span::new(file, quote, quote + 1)).with_help(help);
    }
    if rest.starts_with('/') && !rest.starts_with("//") && !line_rest.get(1..).unwrap_or("").contains('/') {
        return Diagnostic::error("unterminated regex", span).with_help("close the regex with `/` on the same line (write `\\/` for a slash inside it)");
    }
    let mut expected: Vec<&str> = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    match variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            for &r in positives {
                rules.push(r);
                if let Some(d) = describe(r) {
                    if !expected.contains(&d) {
                        expected.push(d);
                    }
                }
            }
        }
        pest::error::ErrorVariant::CustomError { message } => {
            return Diagnostic::error(message.clone(), span).with_help("see docs/grammar-language.md for the syntax");
        }
    }
    if rules.contains(&Rule::colon) {
        expected = vec!["`:`"];
    }
    let list = match expected.as_slice() {
        [] => "something else".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    };
    let message = format!("syntax error: expected {list}, found {found}");
    let help = if rules.contains(&Rule::colon) {
        "a definition is written `name: ...` (rules lowercase, TERMINALS uppercase); it ends at the end of its line unless the next line starts with `|`"
    } else if rules.contains(&Rule::close_paren) || rules.contains(&Rule::close_bracket) {
        "check that every `(` and `[` is closed on the same definition"
    } else if rest.starts_with('%') {
        "statements are `%import`, `%ignore`, `%declare`, `%override` and `%extend`"
    } else {
        "a definition or statement ends at the end of its line; continue it on the next line with `|`, or see docs/grammar-language.md"
    };
    Diagnostic::error(message, span).with_help(help)
}

/// Builds the AST from pest pairs, reporting the errors pest cannot see (escapes, flags, numbers).
struct Builder {
    file: FileId,
    diagnostics: Vec<Diagnostic>,
}

fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::nl && p.as_rule() != Rule::EOI)
}

impl Builder {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::new(self.file, pair.as_span().start(), pair.as_span().end())
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_owned(), span: self.span(pair) }
    }

    fn error(&mut self, message: impl Into<String>, span: Span, help: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(message, span).with_help(help));
    }

    fn grammar(&mut self, root: Pair<'_, Rule>) -> Grammar {
        let mut items = Vec::new();
        for pair in children(root) {
            if let Some(item) = self.item(pair) {
                items.push(item);
            }
        }
        Grammar { file: self.file, items }
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::definition => Some(Item::Definition(self.definition(pair))),
            Rule::override_def | Rule::extend_def => {
                let is_override = pair.as_rule() == Rule::override_def;
                let def = children(pair).next().map(|d| self.definition(d))?;
                Some(if is_override { Item::Override(def) } else { Item::Extend(def) })
            }
            Rule::ignore => {
                let body = children(pair).next().map(|e| self.expansions(e))?;
                Some(Item::Ignore { body, span })
            }
            Rule::declare => Some(Item::Declare { names: children(pair).map(|n| self.ident(&n)).collect(), span }),
            Rule::import => self.import(pair),
            Rule::auto_semicolon => {
                let mut refs = Vec::new();
                for child in children(pair) {
                    match child.as_rule() {
                        Rule::name => refs.push(Some(TermRef::Name(self.ident(&child)))),
                        Rule::string => refs.push(self.literal(child).map(TermRef::Literal)),
                        _ => {}
                    }
                }
                let refs: Option<Vec<TermRef>> = refs.into_iter().collect();
                let mut refs = refs?.into_iter();
                let (newline, semicolon) = (refs.next()?, refs.next()?);
                Some(Item::AutoSemicolon(AutoSemicolon { newline, semicolon, triggers: refs.collect(), span }))
            }
            Rule::unknown_directive => {
                let word: String = pair.as_str().chars().take_while(|c| !c.is_whitespace()).collect();
                let word_span = Span::new(self.file, span.start as usize, span.start as usize + word.len());
                if word == "%auto_semicolon" {
                    self.error(
                        "malformed `%auto_semicolon` statement",
                        span,
                        "write `%auto_semicolon NEWLINE -> SEMICOLON after TRIGGER ...` with terminal names or literals, e.g. `%auto_semicolon _NL -> \";\" after NAME \")\"`",
                    );
                    return None;
                }
                let known = ["%import", "%ignore", "%declare", "%override", "%extend", "%auto_semicolon"];
                let help = match crate::grammar::suggest::closest(&word, known) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "the directives are `%import`, `%ignore`, `%declare`, `%override`, `%extend` and `%auto_semicolon`".to_owned(),
                };
                self.error(format!("unknown directive `{word}`"), word_span, help);
                None
            }
            _ => None,
        }
    }

    fn definition(&mut self, pair: Pair<'_, Rule>) -> Definition {
        let span = self.span(&pair);
        let mut def = Definition {
            name: Ident { name: String::new(), span },
            modifiers: String::new(),
            params: Vec::new(),
            priority: None,
            body: Expansions { alternatives: Vec::new(), span },
            span,
        };
        for child in children(pair) {
            match child.as_rule() {
                Rule::def_head => {
                    for part in child.into_inner() {
                        match part.as_rule() {
                            Rule::modifiers => def.modifiers = part.as_str().to_owned(),
                            _ => def.name = self.ident(&part),
                        }
                    }
                }
                Rule::template_params => def.params = children(child).map(|n| self.ident(&n)).collect(),
                Rule::priority => {
                    let span = self.span(&child);
                    let text = child.as_str().trim_start_matches('.').trim();
                    match text.parse::<i64>() {
                        Ok(p) if i32::try_from(p).is_ok() => def.priority = Some(p),
                        _ => self.error("priority out of range", span, "use a priority between -2147483648 and 2147483647"),
                    }
                }
                Rule::expansions => def.body = self.expansions(child),
                _ => {}
            }
        }
        if !def.modifiers.is_empty() && is_terminal_name(&def.name.name) {
            let m = def.modifiers.clone();
            self.error(
                format!("terminal `{}` cannot have the `{m}` prefix", def.name.name),
                def.name.span,
                "the `?` and `!` prefixes only apply to rules",
            );
        }
        def
    }

    fn import(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&pair);
        let mut relative = false;
        let mut path: Vec<Ident> = Vec::new();
        let mut list: Option<Vec<Ident>> = None;
        let mut alias: Option<Ident> = None;
        for child in children(pair) {
            match child.as_rule() {
                Rule::import_path => {
                    for part in child.into_inner() {
                        match part.as_rule() {
                            Rule::relative => relative = true,
                            _ => path.push(self.ident(&part)),
                        }
                    }
                }
                Rule::name_list => list = Some(children(child).map(|n| self.ident(&n)).collect()),
                Rule::name => alias = Some(self.ident(&child)),
                _ => {}
            }
        }
        let (module, names) = match list {
            Some(names) => (path, names.into_iter().map(|n| (n, None)).collect()),
            None => {
                if path.len() < 2 {
                    let p = path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
                    self.error(
                        format!("`%import {}{p}` names no definition", if relative { "." } else { "" }),
                        span,
                        format!("write `%import {p}.NAME` or `%import {p} (NAME, other)`"),
                    );
                    return None;
                }
                let name = path.pop()?;
                (path, vec![(name, alias)])
            }
        };
        Some(Item::Import(Import { relative, module, names, span }))
    }

    fn expansions(&mut self, pair: Pair<'_, Rule>) -> Expansions {
        let span = self.span(&pair);
        let alternatives = children(pair).filter(|p| p.as_rule() == Rule::alias).map(|a| self.alternative(a)).collect();
        Expansions { alternatives, span }
    }

    fn alternative(&mut self, pair: Pair<'_, Rule>) -> Alternative {
        let span = self.span(&pair);
        let mut alt = Alternative { items: Vec::new(), alias: None, span };
        for child in children(pair) {
            match child.as_rule() {
                Rule::expansion => alt.items = children(child).filter_map(|e| self.expr(e)).collect(),
                Rule::name => alt.alias = Some(self.ident(&child)),
                _ => {}
            }
        }
        // Tight span over the expressions (an empty alternative keeps an empty span at its start).
        if let (Some(first), Some(last)) = (alt.items.first(), alt.items.last()) {
            alt.span = Span { file: self.file, start: first.span.start, end: last.span.end };
        } else {
            alt.span.end = alt.span.start;
        }
        alt
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let mut inner = children(pair);
        let atom_pair = inner.next()?;
        let mut span = self.span(&atom_pair);
        let atom = self.atom(atom_pair)?;
        let op = match inner.next() {
            Some(op_pair) => {
                span.end = self.span(&op_pair).end;
                self.op(op_pair)
            }
            None => None,
        };
        // Tight span: pest's pair would include trailing blanks skipped before a missing operator.
        Some(Expr { atom, op, span })
    }

    fn op(&mut self, pair: Pair<'_, Rule>) -> Option<Op> {
        let child = children(pair).next()?;
        match child.as_rule() {
            Rule::op_char => match child.as_str() {
                "?" => Some(Op::Optional),
                "*" => Some(Op::Star),
                _ => Some(Op::Plus),
            },
            Rule::repeat => {
                let span = self.span(&child);
                let nums: Vec<Option<u32>> = children(child).map(|n| n.as_str().parse::<u32>().ok()).collect();
                match nums.as_slice() {
                    [Some(n)] => Some(Op::Repeat { min: *n, max: *n }),
                    [Some(n), Some(m)] if n <= m => Some(Op::Repeat { min: *n, max: *m }),
                    [Some(n), Some(m)] => {
                        self.error(format!("repetition range `~ {n}..{m}` is empty"), span, format!("write `~ {m}..{n}`"));
                        None
                    }
                    _ => {
                        self.error("repetition count too large", span, "use a count below 4294967296");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    fn atom(&mut self, pair: Pair<'_, Rule>) -> Option<Atom> {
        let span = self.span(&pair);
        Some(match pair.as_rule() {
            Rule::group | Rule::maybe => {
                let is_group = pair.as_rule() == Rule::group;
                let body = children(pair).find(|p| p.as_rule() == Rule::expansions).map(|e| self.expansions(e))?;
                if is_group {
                    Atom::Group(body)
                } else {
                    Atom::Maybe(body)
                }
            }
            Rule::name => Atom::Name(self.ident(&pair)),
            Rule::string => Atom::Literal(self.literal(pair)?),
            Rule::regex => Atom::Regex(self.regex(pair)?),
            Rule::range => {
                let mut ends = children(pair);
                let from = ends.next().and_then(|p| self.literal(p))?;
                let to = ends.next().and_then(|p| self.literal(p))?;
                Atom::Range { from, to, span }
            }
            Rule::template_use => {
                let mut parts = children(pair);
                let name = self.ident(&parts.next()?);
                let args = parts.filter(|p| p.as_rule() == Rule::expansions).map(|p| self.expansions(p)).collect();
                Atom::Template { name, args, span }
            }
            _ => return None,
        })
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Option<Literal> {
        let span = self.span(&pair);
        let mut value = None;
        let mut case_insensitive = false;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::string_body => {
                    let body_start = part.as_span().start();
                    match decode_string(part.as_str()) {
                        Ok(v) => value = Some(v),
                        Err(e) => {
                            let at = body_start + e.offset;
                            self.error(
                                format!("invalid escape in string literal: {}", e.message),
                                Span::new(self.file, at, at + 2),
                                "write `\\\\` for a backslash; `\\xNN`, `\\uNNNN` and `\\UNNNNNNNN` take hex digits",
                            );
                        }
                    }
                }
                Rule::string_flag => case_insensitive = true,
                _ => {}
            }
        }
        Some(Literal { value: value?, case_insensitive, span })
    }

    fn regex(&mut self, pair: Pair<'_, Rule>) -> Option<Regex> {
        let span = self.span(&pair);
        let mut source = String::new();
        let mut flags = String::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::regex_body => source = unescape_regex(part.as_str()),
                Rule::regex_flags => {
                    let start = part.as_span().start();
                    for (i, c) in part.as_str().char_indices() {
                        if "imsxul".contains(c) {
                            if !flags.contains(c) {
                                flags.push(c);
                            }
                        } else {
                            self.error(
                                format!("unknown regex flag `{c}`"),
                                Span::new(self.file, start + i, start + i + 1),
                                "the flags are `i`, `m`, `s`, `x`, `u` and `l`; put a space between a regex and a following name",
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        Some(Regex { source, flags, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceMap;

    fn parse(text: &str) -> (SourceMap, Option<Grammar>, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("g.lark", text);
        let (g, d) = parse_text(file, text);
        (map, g, d)
    }

    fn ok(text: &str) -> Grammar {
        let (_, g, d) = parse(text);
        assert!(d.is_empty(), "{d:#?}");
        g.expect("no diagnostics means an AST")
    }

    fn defs(g: &Grammar) -> Vec<&Definition> {
        g.items.iter().filter_map(|i| if let Item::Definition(d) = i { Some(d) } else { None }).collect()
    }

    fn first_error(text: &str) -> (String, String, Option<String>) {
        let (map, g, d) = parse(text);
        assert!(g.is_none());
        let e = d.into_iter().find(Diagnostic::is_error).expect("an error");
        let at = map.location(e.span.expect("syntax errors are located"));
        (e.message, at, e.help)
    }

    #[test]
    fn rules_terminals_modifiers_priorities() {
        let g = ok("start: a B\n?a: \"x\"\n!b: \"y\"\n!?c: d\n?!d: e\n_e.2: \"z\"\nB.-1: /b/\n_NL: \"\\n\"\n");
        let d = defs(&g);
        assert_eq!(d.iter().map(|d| d.name.name.as_str()).collect::<Vec<_>>(), ["start", "a", "b", "c", "d", "_e", "B", "_NL"]);
        assert_eq!(d.iter().map(|d| d.modifiers.as_str()).collect::<Vec<_>>(), ["", "?", "!", "!?", "?!", "", "", ""]);
        assert_eq!(d[5].priority, Some(2));
        assert_eq!(d[6].priority, Some(-1));
        assert!(d[6].is_terminal() && !d[5].is_terminal());
    }

    #[test]
    fn alternatives_continue_on_lines_starting_with_bar() {
        let g = ok("a: b\n  | c // comment\n\n  // a comment line\n  | d\nb: \"b\"\n");
        let d = defs(&g);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].body.alternatives.len(), 3);
    }

    #[test]
    fn crlf_and_missing_final_newline_and_hash_comments() {
        let g = ok("a: b\r\n | c\r\n# note\r\nb: \"b\"\r\nc: \"c\"");
        assert_eq!(defs(&g).len(), 3);
        assert_eq!(defs(&g)[0].body.alternatives.len(), 2);
    }

    #[test]
    fn leading_bar_is_an_empty_first_alternative_as_in_lark() {
        let g = ok("a: | b\nc:\n  | d\n");
        let d = defs(&g);
        assert_eq!(d[0].body.alternatives.len(), 2);
        assert!(d[0].body.alternatives[0].items.is_empty());
        assert_eq!(d[1].body.alternatives.len(), 2);
    }

    #[test]
    fn operators_groups_maybe_repeat_alias() {
        let g = ok("a: (b | c)* [d] e? f+ g ~ 3 h ~ 2..5 -> named\n");
        let alt = &defs(&g)[0].body.alternatives[0];
        let ops: Vec<Option<Op>> = alt.items.iter().map(|e| e.op).collect();
        assert_eq!(
            ops,
            [Some(Op::Star), None, Some(Op::Optional), Some(Op::Plus), Some(Op::Repeat { min: 3, max: 3 }), Some(Op::Repeat { min: 2, max: 5 })]
        );
        assert!(matches!(alt.items[0].atom, Atom::Group(_)));
        assert!(matches!(alt.items[1].atom, Atom::Maybe(_)));
        assert_eq!(alt.alias.as_ref().map(|a| a.name.as_str()), Some("named"));
    }

    #[test]
    fn literals_regexes_ranges() {
        let g = ok(r#"A: "if"i "\x41\n" /a\/b\d/imsxul "a".."z"
"#);
        let items = &defs(&g)[0].body.alternatives[0].items;
        assert_eq!(items[0].atom, Atom::Literal(Literal { value: "if".into(), case_insensitive: true, span: items[0].span }));
        let Atom::Literal(l) = &items[1].atom else { panic!("literal expected") };
        assert_eq!(l.value, "A\n");
        let Atom::Regex(r) = &items[2].atom else { panic!("regex expected") };
        assert_eq!((r.source.as_str(), r.flags.as_str()), (r"a/b\d", "imsxul"));
        let Atom::Range { from, to, .. } = &items[3].atom else { panic!("range expected") };
        assert_eq!((from.value.as_str(), to.value.as_str()), ("a", "z"));
    }

    #[test]
    fn statements() {
        let g = ok("%import common.WS\n%import common.NUMBER -> NUM\n%import common (INT, WORD)\n%import .lib.util (x)\n%import .other.Y\n%ignore WS\n%ignore /[ ]+/\n%declare _INDENT _DEDENT\n%override a: b\n%extend a: c\n");
        let imports: Vec<&Import> = g.items.iter().filter_map(|i| if let Item::Import(x) = i { Some(x) } else { None }).collect();
        assert_eq!(imports.len(), 5);
        assert_eq!(imports[0].module_path(), "common");
        assert_eq!(imports[0].names[0].0.name, "WS");
        assert_eq!(imports[1].names[0].1.as_ref().map(|a| a.name.as_str()), Some("NUM"));
        assert_eq!(imports[2].names.len(), 2);
        assert_eq!(imports[3].module_path(), ".lib.util");
        assert_eq!(imports[4].module_path(), ".other");
        assert_eq!(imports[4].names[0].0.name, "Y");
        assert!(g.items.iter().any(|i| matches!(i, Item::Declare { names, .. } if names.len() == 2)));
        assert_eq!(g.items.iter().filter(|i| matches!(i, Item::Ignore { .. })).count(), 2);
        assert!(g.items.iter().any(|i| matches!(i, Item::Override(_))));
        assert!(g.items.iter().any(|i| matches!(i, Item::Extend(_))));
    }

    #[test]
    fn templates() {
        let g = ok("_sep{x, sep}: x (sep x)*\nlist: _sep{item, \",\"}\n");
        let d = defs(&g);
        assert_eq!(d[0].params.len(), 2);
        assert!(matches!(&d[1].body.alternatives[0].items[0].atom, Atom::Template { args, .. } if args.len() == 2));
    }

    #[test]
    fn missing_colon_is_located_with_help() {
        let (msg, at, help) = first_error("a: b\nc d\n");
        assert!(msg.starts_with("syntax error: expected"), "{msg}");
        assert_eq!(msg, "syntax error: expected `:`, found `d`");
        assert_eq!(at, "g.lark:2:3");
        assert!(help.is_some_and(|h| h.contains("starts with `|`")));
    }

    #[test]
    fn unclosed_group_mentions_paren() {
        let (msg, at, _) = first_error("a: (b | c\n");
        assert!(msg.contains("`)`"), "{msg}");
        assert_eq!(at, "g.lark:1:10");
    }

    #[test]
    fn unterminated_string_and_regex() {
        let (msg, at, help) = first_error("a: \"abc\n");
        assert_eq!(msg, "unterminated string literal");
        assert_eq!(at, "g.lark:1:4");
        assert!(help.is_some());
        let (msg, at, _) = first_error("A: /abc\n");
        assert_eq!(msg, "unterminated regex");
        assert_eq!(at, "g.lark:1:4");
    }

    #[test]
    fn unclosed_string_is_reported_at_its_opening_quote() {
        // The quote after `(` closes `"[ item (`, so pest fails at the `,`.
        let (msg, at, help) = first_error("start: \"[ item (\",\" item)* \"]\"\nitem: \"x\"\n");
        assert_eq!((msg.as_str(), at.as_str()), ("unterminated string literal", "g.lark:1:8"));
        assert_eq!(help.as_deref(), Some("close the string with `\"` on the same line, e.g. `\"[\"` if the string was meant to end there"));
        for (text, want) in [
            ("start: \"[\" item | \"[ item\nitem: \"x\"\n", "g.lark:1:19"),
            ("start: \"[\" item | \"[ item, \"x\"\nitem: \"x\"\n", "g.lark:1:19"),
            ("list: \"[\" item\n    | \"[ item (\",\" item)* \"]\"\nitem: \"x\"\n", "g.lark:2:7"),
            ("start: \" \" \"a\n", "g.lark:1:12"),
        ] {
            let (msg, at, _) = first_error(text);
            assert_eq!((msg.as_str(), at.as_str()), ("unterminated string literal", want), "{text:?}");
        }
        // A string with a space that is closed is not blamed for an unrelated error.
        let (msg, at, _) = first_error("start: \"a b\" ) \"c\n");
        assert!(msg.starts_with("syntax error"), "{msg}");
        assert_eq!(at, "g.lark:1:14");
    }

    #[test]
    fn several_syntax_errors_are_all_reported() {
        let (map, g, d) = parse("a: (b\nc: d\ne f\ng: h\n");
        assert!(g.is_none());
        let at: Vec<String> = d.iter().filter_map(|d| d.span).map(|s| map.location(s)).collect();
        assert_eq!(at, ["g.lark:1:6", "g.lark:3:3"]);
    }

    #[test]
    fn semantic_token_errors() {
        let (_, g, d) = parse("A: \"\\x4\" /a/q\nb: c ~ 5..2\n%frobnicate x\n%import common\n");
        assert!(g.is_none());
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("exactly 2 hex digits")), "{msgs:?}");
        assert!(msgs.contains(&"unknown regex flag `q`"), "{msgs:?}");
        assert!(msgs.contains(&"repetition range `~ 5..2` is empty"), "{msgs:?}");
        assert!(msgs.contains(&"unknown directive `%frobnicate`"), "{msgs:?}");
        let (_, _, d) = parse("%ignor A\n");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `%ignore`?"));
        assert!(msgs.contains(&"`%import common` names no definition"), "{msgs:?}");
        assert!(d.iter().all(|d| d.help.is_some()));
    }

    #[test]
    fn terminal_with_rule_prefix_is_an_error() {
        let (_, _, d) = parse("?A: \"a\"\n");
        assert_eq!(d[0].message, "terminal `A` cannot have the `?` prefix");
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let text = format!("a: {}b{}\n", "(".repeat(10_000), ")".repeat(10_000));
        let (msg, at, _) = first_error(&text);
        assert!(msg.contains("nested deeper"), "{msg}");
        assert_eq!(at, format!("g.lark:1:{}", 4 + MAX_NESTING));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for text in ["", "\n\n", "a", ":", "|", "a: |", "\"", "/", "a: \"\\", "%", "%import", "%import .", "a{: b", "a: b{", "A: \"a\"..", "a.x: b", "é: b", "a: ~", "a: b ~ 99999999999", "a: /x/é"] {
            let _ = parse(text);
        }
        assert!(ok("").items.is_empty());
        assert!(ok("// only a comment").items.is_empty());
    }
}
