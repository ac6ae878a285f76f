//! [`Pattern`] → regex-syntax [`Hir`], including the Python `re` → regex-syntax translation of
//! `/regex/` terminals and the checks that make a terminal a plain regular language.
//!
//! Literals become literal HIR (case-insensitive ones a class per character, closed under simple
//! case folding); ranges become Unicode classes; `Concat`/`Alt`/`Repeat` map to the HIR
//! combinators. A regex is first rewritten from Python syntax by [`translate_python`] (which keeps
//! an offset map back to the original text), then parsed to an AST and translated to HIR with
//! the flags `i`/`m`/`s`/`x`, Unicode and UTF-8 on.
//!
//! Look-around groups (`(?=X)`, `(?!X)`, `(?<=X)`, `(?<!X)`) are cut out before regex-syntax sees
//! the regex: each becomes a *marker byte* `0xF8 + k` in the terminal's HIR (a byte that never
//! occurs in UTF-8 text) and a [`LookAround`] entry `k` holding `X`'s own HIR; `lookaround.rs`
//! turns the marked language back into a plain one. **Invariant:** the returned HIR has an empty
//! look set, and matches only valid UTF-8 apart from the marker bytes `0xF8..0xF8 + looks.len()`.

use regex_syntax::ast::{self, Ast};
use regex_syntax::hir::{self, Class, ClassUnicode, ClassUnicodeRange, Hir, Repetition};

use super::{ErrorKind, LexicalError, TermCtx};
use crate::diagnostics::Span;
use crate::lower::{Pattern, RegexFlags};

/// The most look-around groups one terminal may contain (one marker byte each, `0xF8..=0xFF`).
pub(crate) const MAX_LOOKAROUNDS: usize = 8;

/// The first marker byte; look-around `k` of a terminal is the byte `MARKER_BASE + k`.
pub(crate) const MARKER_BASE: u8 = 0xF8;

/// One look-around group of a terminal, in the order of its marker byte.
#[derive(Debug, Clone)]
pub(crate) struct LookAround {
    /// `(?=` / `(?!`: a condition on the text after the marker; otherwise on the text before it.
    pub ahead: bool,
    /// `(?!` / `(?<!`.
    pub negated: bool,
    /// The group's own regex, a plain language (no markers).
    pub hir: Hir,
}

/// Translates a terminal's pattern to HIR; the terminal's look-around groups are appended to
/// `looks` (see the module doc).
pub(crate) fn pattern_to_hir(
    pattern: &Pattern,
    ctx: &TermCtx<'_>,
    looks: &mut Vec<LookAround>,
) -> Result<Hir, LexicalError> {
    Ok(match pattern {
        Pattern::Literal { value, case_insensitive: false } => Hir::literal(value.as_bytes()),
        Pattern::Literal { value, case_insensitive: true } => {
            let mut parts = Vec::with_capacity(value.chars().count());
            for c in value.chars() {
                let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
                class.try_case_fold_simple().map_err(|e| internal(ctx, e))?;
                parts.push(Hir::class(Class::Unicode(class)));
            }
            Hir::concat(parts)
        }
        Pattern::Range { from, to } => {
            if from > to {
                let what = format!("{from:?}..{to:?}");
                return Err(LexicalError::new(ErrorKind::EmptyRange(what), ctx.name, Some(ctx.span))
                    .with_help("write the smaller character first"));
            }
            Hir::class(Class::Unicode(ClassUnicode::new([ClassUnicodeRange::new(*from, *to)])))
        }
        Pattern::Concat(parts) => {
            Hir::concat(parts.iter().map(|p| pattern_to_hir(p, ctx, looks)).collect::<Result<_, _>>()?)
        }
        Pattern::Alt(parts) => {
            Hir::alternation(parts.iter().map(|p| pattern_to_hir(p, ctx, looks)).collect::<Result<_, _>>()?)
        }
        Pattern::Repeat { inner, min, max } => {
            if let Some(max) = max {
                if max < min {
                    let what = format!("{min}..{max}");
                    return Err(LexicalError::new(ErrorKind::EmptyRange(what), ctx.name, Some(ctx.span))
                        .with_help("write the smaller repetition count first"));
                }
            }
            let sub = pattern_to_hir(inner, ctx, looks)?;
            Hir::repetition(Repetition { min: *min, max: *max, greedy: true, sub: Box::new(sub) })
        }
        Pattern::Regex { source, flags, span } => regex_to_hir(source, *flags, *span, ctx, looks)?,
    })
}

fn internal(ctx: &TermCtx<'_>, e: impl std::fmt::Display) -> LexicalError {
    LexicalError::new(ErrorKind::Internal(e.to_string()), ctx.name, Some(ctx.span))
}

/// Where a regex's text starts in the grammar file: after the opening `/` when the span covers
/// the delimiters (best effort: the front end may have decoded escapes such as `\/`).
fn regex_base(source: &str, span: Span) -> usize {
    let len = span.end.saturating_sub(span.start) as usize;
    span.start as usize + usize::from(len >= source.len() + 2)
}

/// Maps an offset range of the *original* regex text to a grammar span, clamped to `span`.
fn grammar_span(source: &str, span: Span, start: usize, end: usize) -> Span {
    let base = regex_base(source, span);
    let clamp = |x: usize| (base + x).clamp(span.start as usize, (span.end as usize).max(span.start as usize));
    let (s, e) = (clamp(start), clamp(end.max(start)));
    Span::new(span.file, s, e)
}

fn regex_to_hir(
    source: &str,
    flags: RegexFlags,
    span: Span,
    ctx: &TermCtx<'_>,
    looks: &mut Vec<LookAround>,
) -> Result<Hir, LexicalError> {
    let located = |kind: ErrorKind, start: usize, end: usize| {
        let mut e = LexicalError::new(kind, ctx.name, Some(grammar_span(source, span, start, end)));
        e.0.definition = Some(ctx.span);
        e
    };
    let verbose = flags.ignore_whitespace || leading_flags_contain(source, 'x');
    let (hir, found) = regex_part_to_hir(source, 0..source.len(), flags, verbose, &located)?;
    if found.is_empty() {
        return Ok(hir);
    }
    // A look-around group is compiled on its own; Python applies the regex's global flag group
    // (`(?i)` at the start) inside it too.
    let inner_flags = RegexFlags {
        case_insensitive: flags.case_insensitive || leading_flags_contain(source, 'i'),
        multi_line: flags.multi_line || leading_flags_contain(source, 'm'),
        dot_matches_new_line: flags.dot_matches_new_line || leading_flags_contain(source, 's'),
        ignore_whitespace: verbose,
        unicode: flags.unicode,
    };
    let mut markers = Vec::with_capacity(found.len());
    for look in &found {
        if looks.len() >= MAX_LOOKAROUNDS {
            let what = format!("more than {MAX_LOOKAROUNDS} look-around groups in one terminal are not supported");
            return Err(located(ErrorKind::LookAround(what), look.whole.start, look.whole.end)
                .with_help("split the terminal into several terminals, or express some conditions in the grammar rules"));
        }
        let (inner, nested) = regex_part_to_hir(source, look.inner.clone(), inner_flags, verbose, &located)?;
        if let Some(n) = nested.first() {
            let what = "look-around inside a look-around group is not supported".to_string();
            return Err(located(ErrorKind::LookAround(what), n.whole.start, n.whole.end)
                .with_help("write the inner condition into the outer group's regex"));
        }
        markers.push(MARKER_BASE + looks.len() as u8);
        looks.push(LookAround { ahead: look.ahead, negated: look.negated, hir: inner });
    }
    Ok(replace_placeholders(&hir, &markers))
}

/// `source[part]` → HIR, with its look-around groups still as placeholder captures (listed in
/// the result, with offsets into `source`). `located` takes offsets into `source`.
fn regex_part_to_hir(
    source: &str,
    part: std::ops::Range<usize>,
    flags: RegexFlags,
    verbose: bool,
    located: &dyn Fn(ErrorKind, usize, usize) -> LexicalError,
) -> Result<(Hir, Vec<LookSrc>), LexicalError> {
    let base = part.start;
    let text = &source[part];
    let tr = translate_python(text, verbose).map_err(|(start, end, kind)| {
        located(kind, base + start, base + end).with_help(
            "a terminal is a regular language; match the repeated text explicitly or move the \
             constraint into the grammar rules",
        )
    })?;
    let orig = |start: usize, end: usize| {
        let (s, e) = tr.orig_range(start, end);
        (base + s, base + e)
    };
    let ast = ast::parse::ParserBuilder::new()
        .ignore_whitespace(flags.ignore_whitespace)
        .octal(false)
        .build()
        .parse(&tr.text)
        .map_err(|e| {
            let (start, end) = orig(e.span().start.offset, e.span().end.offset);
            match e.kind() {
                ast::ErrorKind::UnsupportedBackreference => located(ErrorKind::Backreference, start, end)
                    .with_help("a terminal is a regular language; backreferences cannot be compiled to a DFA"),
                kind => located(ErrorKind::InvalidRegex(kind.to_string()), start, end),
            }
        })?;
    let hir = hir::translate::TranslatorBuilder::new()
        .unicode(true)
        .utf8(true)
        .case_insensitive(flags.case_insensitive)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_matches_new_line)
        .build()
        .translate(&tr.text, &ast)
        .map_err(|e| {
            let (start, end) = orig(e.span().start.offset, e.span().end.offset);
            located(ErrorKind::InvalidRegex(e.kind().to_string()), start, end)
        })?;
    if !hir.properties().look_set().is_empty() {
        let (start, end) = first_assertion(&ast).map_or((base, base + text.len()), |(s, e)| orig(s, e));
        let written = source.get(start..end).unwrap_or("^").to_string();
        return Err(located(ErrorKind::Assertion(written), start, end).with_help(
            "a terminal always matches a whole lexeme, so anchors and word boundaries have no \
             meaning there; remove the assertion",
        ));
    }
    let looks = tr
        .looks
        .into_iter()
        .map(|l| LookSrc { inner: base + l.inner.start..base + l.inner.end, whole: base + l.whole.start..base + l.whole.end, ..l })
        .collect();
    Ok((hir, looks))
}

/// The name of the empty capture group that stands for look-around `k` of one regex.
fn placeholder_name(k: usize) -> String {
    format!("syncodec_look_{k}")
}

/// `hir` with placeholder group `k` replaced by the one-byte literal `markers[k]`.
fn replace_placeholders(hir: &Hir, markers: &[u8]) -> Hir {
    use regex_syntax::hir::{Capture, HirKind};
    match hir.kind() {
        HirKind::Capture(cap) => {
            if let Some(k) = cap.name.as_deref().and_then(|n| n.strip_prefix("syncodec_look_")) {
                if let Some(&m) = k.parse::<usize>().ok().and_then(|k| markers.get(k)) {
                    return Hir::literal([m]);
                }
            }
            Hir::capture(Capture {
                index: cap.index,
                name: cap.name.clone(),
                sub: Box::new(replace_placeholders(&cap.sub, markers)),
            })
        }
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(|h| replace_placeholders(h, markers)).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|h| replace_placeholders(h, markers)).collect())
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(replace_placeholders(&rep.sub, markers)),
        }),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// Span (in the translated text) of the first assertion in the AST.
fn first_assertion(ast: &Ast) -> Option<(usize, usize)> {
    struct Find(Option<(usize, usize)>);
    impl ast::Visitor for Find {
        type Output = Option<(usize, usize)>;
        type Err = ();
        fn finish(self) -> Result<Self::Output, ()> {
            Ok(self.0)
        }
        fn visit_pre(&mut self, ast: &Ast) -> Result<(), ()> {
            if let (None, Ast::Assertion(a)) = (self.0, ast) {
                self.0 = Some((a.span.start.offset, a.span.end.offset));
            }
            Ok(())
        }
    }
    ast::visit(ast, Find(None)).ok().flatten()
}

/// Whether the regex starts with a global inline flag group such as `(?x)` containing `flag`.
fn leading_flags_contain(source: &str, flag: char) -> bool {
    let Some(rest) = source.strip_prefix("(?") else { return false };
    let group: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    rest[group.len()..].starts_with(')') && group.contains(flag)
}

/// A look-around group found by [`translate_python`]; offsets into the original text.
#[derive(Debug, Clone)]
pub(crate) struct LookSrc {
    pub ahead: bool,
    pub negated: bool,
    /// The group's regex, between `(?=` (etc.) and the closing `)`.
    pub inner: std::ops::Range<usize>,
    /// The whole group, parentheses included.
    pub whole: std::ops::Range<usize>,
}

/// A regex rewritten from Python `re` syntax to regex-syntax syntax.
#[derive(Debug)]
pub(crate) struct Translated {
    pub text: String,
    /// Look-around groups, in order; group `k` is the empty capture `(?P<syncodec_look_k>)` in
    /// `text`.
    pub looks: Vec<LookSrc>,
    /// `map[i]`: offset in the original text of the byte at `text[i]`; one extra entry for the end.
    map: Vec<usize>,
}

impl Translated {
    fn push(&mut self, s: &str, orig: usize) {
        self.text.push_str(s);
        self.map.resize(self.map.len() + s.len(), orig);
    }

    /// Pushes `s` standing for the original text `orig_start..orig_end`: its last byte maps to
    /// the last original byte, so a mapped-back range covers all of the original text.
    fn push_for(&mut self, s: &str, orig_start: usize, orig_end: usize) {
        self.push(s, orig_start);
        if let (Some(last), true) = (self.map.last_mut(), orig_end > orig_start) {
            *last = orig_end - 1;
        }
    }

    fn push_char(&mut self, c: char, orig: usize) {
        let mut buf = [0u8; 4];
        self.push(c.encode_utf8(&mut buf), orig);
    }

    /// Maps a byte range of `text` back to the original text.
    pub fn orig_range(&self, start: usize, end: usize) -> (usize, usize) {
        let last = self.map.last().copied().unwrap_or(0);
        let at = |i: usize| self.map.get(i).copied().unwrap_or(last);
        let s = at(start);
        let e = if end > start { at(end - 1) + 1 } else { s };
        (s, e.max(s).min(last.max(s)))
    }
}

/// Rewrites the Python-only parts of a regex so that regex-syntax reads it as Python would:
///
/// - `\Z` → `\z` (end of text; then rejected like every assertion, with the right message);
/// - `\<`, `\>` → `<`, `>` (literals in Python, word boundaries in regex-syntax);
/// - octal escapes `\0`, `\012`, `\177` → `\x{..}`; other `\1`..`\99` are backreferences: error;
/// - `(?P=name)` backreference: error; `(?#...)` comments are dropped;
/// - a look-around group `(?=X)`, `(?!X)`, `(?<=X)`, `(?<!X)` becomes the empty named group
///   `(?P<syncodec_look_k>)`, and `X`'s location is listed in [`Translated::looks`];
/// - a `{` that does not start a valid quantifier is a literal (`\{`); `{,n}` → `{0,n}`;
/// - in a class: `[` is literal (`\[`, so `[:alpha:]` and nesting are not special), a leading
///   `]` is literal, `\b` is backspace, `&` and `~` are escaped (no set operations), and in
///   verbose mode whitespace and `#` are literal as in Python.
///
/// Returns `(start, end, kind)` in the original text for the errors.
pub(crate) fn translate_python(src: &str, verbose: bool) -> Result<Translated, (usize, usize, ErrorKind)> {
    let cs: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Translated {
        text: String::with_capacity(src.len() + 8),
        looks: Vec::new(),
        map: Vec::with_capacity(src.len() + 9),
    };
    let at = |i: usize| cs.get(i).map(|&(_, c)| c);
    let off = |i: usize| cs.get(i).map_or(src.len(), |&(o, _)| o);
    let is_oct = |c: Option<char>| matches!(c, Some('0'..='7'));
    let mut in_class = false;
    let mut i = 0;
    while i < cs.len() {
        let (o, c) = cs[i];
        if c == '\\' {
            let Some(e) = at(i + 1) else {
                out.push("\\", o); // regex-syntax reports the dangling escape
                i += 1;
                continue;
            };
            match e {
                'Z' if !in_class => out.push_for("\\z", o, off(i + 2)),
                '<' | '>' => out.push_char(e, o),
                'b' if in_class => out.push_for("\\x08", o, off(i + 2)),
                '0'..='9' => {
                    // Python: `\0` + up to two octal digits, or three octal digits, are octal;
                    // inside a class any 1-3 octal digits are octal; otherwise a group reference.
                    let n_oct = (1..=3).take_while(|&k| is_oct(at(i + k))).count();
                    let octal_len = if e == '0' || in_class {
                        n_oct
                    } else if n_oct == 3 {
                        3
                    } else {
                        0
                    };
                    if octal_len == 0 {
                        if in_class {
                            out.push("\\", o); // `[\8]`: let regex-syntax reject it
                            i += 1;
                            continue;
                        }
                        let n_dig = (1..=2).take_while(|&k| matches!(at(i + k), Some('0'..='9'))).count();
                        return Err((o, off(i + 1 + n_dig), ErrorKind::Backreference));
                    }
                    let digits: String = (1..=octal_len).filter_map(|k| at(i + k)).collect();
                    let value = u32::from_str_radix(&digits, 8).unwrap_or(0);
                    out.push_for(&format!("\\x{{{value:X}}}"), o, off(i + 1 + octal_len));
                    i += 1 + octal_len;
                    continue;
                }
                _ => {
                    out.push("\\", o);
                    out.push_char(e, off(i + 1));
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push("]", o);
                }
                '[' => out.push("\\[", o),
                '&' => out.push("\\&", o),
                '~' => out.push("\\~", o),
                '#' if verbose => out.push("\\#", o),
                ' ' if verbose => out.push("\\x20", o),
                '\t' if verbose => out.push("\\t", o),
                '\n' if verbose => out.push("\\n", o),
                '\r' if verbose => out.push("\\r", o),
                '\x0b' if verbose => out.push("\\v", o),
                '\x0c' if verbose => out.push("\\f", o),
                _ => out.push_char(c, o),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push("[", o);
                i += 1;
                if at(i) == Some('^') {
                    out.push("^", off(i));
                    i += 1;
                }
                if at(i) == Some(']') {
                    out.push("\\]", off(i));
                    i += 1;
                }
                continue;
            }
            '{' => {
                match quantifier(&src[o..]) {
                    Some((len, lo, hi)) => {
                        let text = match hi {
                            None => format!("{{{lo}}}"),
                            Some(None) => format!("{{{lo},}}"),
                            Some(Some(hi)) => format!("{{{lo},{hi}}}"),
                        };
                        out.push_for(&text, o, o + len);
                        i += len; // quantifiers are ASCII: one char per byte
                    }
                    None => {
                        out.push("\\{", o);
                        i += 1;
                    }
                }
                continue;
            }
            '(' if lookaround_opening(&src[o..]).is_some() => {
                let (ahead, negated, open_len) = lookaround_opening(&src[o..]).unwrap_or_default();
                let Some(close) = group_end(src, o, verbose) else {
                    let what = "look-around group is never closed".to_string();
                    return Err((o, src.len(), ErrorKind::InvalidRegex(what)));
                };
                let k = out.looks.len();
                out.looks.push(LookSrc { ahead, negated, inner: o + open_len..close, whole: o..close + 1 });
                out.push_for(&format!("(?P<{}>)", placeholder_name(k)), o, close + 1);
                while i < cs.len() && off(i) <= close {
                    i += 1;
                }
                continue;
            }
            '(' if src[o..].starts_with("(?P=") => {
                let end = src[o..].find(')').map_or(src.len(), |k| o + k + 1);
                return Err((o, end, ErrorKind::Backreference));
            }
            '(' if src[o..].starts_with("(?#") => {
                let end = src[o..].find(')').map_or(src.len(), |k| o + k + 1);
                while i < cs.len() && off(i) < end {
                    i += 1;
                }
                continue;
            }
            '#' if verbose => {
                while let Some(ch) = at(i) {
                    if ch == '\n' {
                        break;
                    }
                    out.push_char(ch, off(i));
                    i += 1;
                }
                continue;
            }
            _ => out.push_char(c, o),
        }
        i += 1;
    }
    out.map.push(src.len());
    Ok(out)
}

/// `(ahead, negated, length of the opening)` when `s` starts with a look-around group.
fn lookaround_opening(s: &str) -> Option<(bool, bool, usize)> {
    [("(?=", true, false), ("(?!", true, true), ("(?<=", false, false), ("(?<!", false, true)]
        .into_iter()
        .find(|(open, _, _)| s.starts_with(open))
        .map(|(open, ahead, negated)| (ahead, negated, open.len()))
}

/// Offset of the `)` that closes the group opened at `src[open]`, skipping escapes, classes
/// (with Python's rule that a `]` right after `[` or `[^` is literal) and, in verbose mode,
/// `#` comments.
fn group_end(src: &str, open: usize, verbose: bool) -> Option<usize> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => {
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < b.len() && b[i] != b']' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' if verbose => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A Python quantifier at the start of `s` (`{m}`, `{m,}`, `{,n}`, `{m,n}`, `{,}`): its length
/// and the regex-syntax form `(lo, None | Some(None) | Some(Some(hi)))`. `None` when `{` is a
/// literal (Python's rule: anything else, including `{}`, is literal text).
fn quantifier(s: &str) -> Option<(usize, String, Option<Option<String>>)> {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let lo_len = digits(1);
    let lo = &s[1..1 + lo_len];
    let mut k = 1 + lo_len;
    let hi = if b.get(k) == Some(&b',') {
        let hi_len = digits(k + 1);
        let hi = &s[k + 1..k + 1 + hi_len];
        k += 1 + hi_len;
        Some((!hi.is_empty()).then(|| hi.to_string()))
    } else {
        if lo.is_empty() {
            return None;
        }
        None
    };
    if b.get(k) != Some(&b'}') {
        return None;
    }
    let lo = if lo.is_empty() { "0".to_string() } else { lo.to_string() };
    Some((k + 1, lo, hi))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::diagnostics::FileId;

    fn tr(s: &str) -> String {
        translate_python(s, false).unwrap().text
    }

    #[test]
    fn python_translation() {
        assert_eq!(tr(r"a\Z"), r"a\z");
        assert_eq!(tr(r"\<a\>"), "<a>");
        assert_eq!(tr(r"\0\012\101"), r"\x{0}\x{A}\x{41}");
        assert_eq!(tr(r"[\b\1]"), r"[\x08\x{1}]");
        assert_eq!(tr(r"a{2}b{,3}c{1,}d{}e{x}f{,}"), r"a{2}b{0,3}c{1,}d\{}e\{x}f{0,}");
        assert_eq!(tr(r"[][]"), r"[\]\[]");
        assert_eq!(tr(r"[^]a]"), r"[^\]a]");
        assert_eq!(tr(r"[[a&&~]"), r"[\[a\&\&\~]");
        // No POSIX classes in Python: the first `]` closes the class.
        assert_eq!(tr(r"[[:alpha:]]"), r"[\[:alpha:]]");
        assert_eq!(tr(r"a(?#comment)b"), "ab");
        assert_eq!(tr(r"\/\-\#"), r"\/\-\#");
        assert_eq!(translate_python("[ #] # c\n", true).unwrap().text, "[\\x20\\#] # c\n");
        assert!(matches!(translate_python(r"(a)\1", false), Err((3, 5, ErrorKind::Backreference))));
        assert!(matches!(translate_python(r"(?P<x>a)(?P=x)", false), Err((8, 14, ErrorKind::Backreference))));
    }

    #[test]
    fn offset_map_points_into_the_original() {
        let t = translate_python(r"\0{,2}\q", false).unwrap();
        assert_eq!(t.text, r"\x{0}{0,2}\q");
        let q = t.text.find("\\q").unwrap();
        assert_eq!(t.orig_range(q, q + 2), (6, 8));
        assert_eq!(t.orig_range(0, 5), (0, 2));
    }

    #[test]
    fn look_around_error_is_located_in_the_grammar() {
        // The regex text starts at 101 (after the `/` at 100); the nested group at 103..108.
        let e = term(re("a(?=b(?!c))b")).unwrap_err();
        assert!(e.is_unsupported_regex());
        assert_eq!(e.to_string(), "terminal T: look-around inside a look-around group is not supported");
        let d = e.to_diagnostic();
        assert_eq!(d.span, Some(Span::new(FileId(0), 106, 111)));
        assert!(d.help.is_some());
        assert_eq!(d.labels, vec![(Span::new(FileId(0), 0, 5), "in terminal T".to_string())]);
        // An error inside a group is located in the group.
        let d = term(re("ab(?=c{2,1})")).unwrap_err().to_diagnostic();
        let span = d.span.unwrap();
        assert!(span.start >= 106 && span.end <= 112, "{span:?}");
        // The group is cut out of the regex; the rest translates as usual.
        let t = translate_python(r"a(?<![)])\Z", false).unwrap();
        assert_eq!(t.text, r"a(?P<syncodec_look_0>)\z");
        assert_eq!((t.looks[0].inner.clone(), t.looks[0].whole.clone()), (5..8, 1..9));
        assert!(!t.looks[0].ahead && t.looks[0].negated);
    }

    #[test]
    fn assertions_and_backreferences_are_rejected() {
        for (s, what) in [("^a", "^"), ("a$", "$"), (r"a\b", r"\b"), (r"\Aa", r"\A"), (r"a\Z", r"\Z")] {
            let e = term(re(s)).unwrap_err();
            assert_eq!(e.to_string(), format!("terminal T: assertion `{what}` is not supported in terminals"), "{s}");
            let span = e.span().unwrap();
            assert_eq!((span.end - span.start) as usize, what.len(), "{s}");
        }
        let e = term(re(r"(a)\1")).unwrap_err();
        assert_eq!(e.to_string(), "terminal T: backreferences are not supported in terminals");
        assert_eq!(e.span().unwrap().start, 104);
    }

    #[test]
    fn invalid_regex_is_located() {
        let e = term(re(r"ab\qc")).unwrap_err();
        assert!(e.to_string().starts_with("terminal T: invalid regex: "), "{e}");
        assert_eq!(e.span().unwrap().start, 103);
        let e = term(re(r"a\p{NoSuchClass}")).unwrap_err();
        assert!(e.to_string().contains("invalid regex"), "{e}");
        assert_eq!(e.span().unwrap().start, 104, "at the class name");
        let e = term(re("(ab")).unwrap_err();
        assert!(e.to_string().contains("invalid regex"), "{e}");
    }

    #[test]
    fn bad_ranges_are_errors() {
        let e = term(Pattern::Range { from: 'z', to: 'a' }).unwrap_err();
        assert_eq!(e.to_string(), "terminal T: empty range 'z'..'a'");
        let e = term(Pattern::Repeat { inner: Box::new(lit("a")), min: 3, max: Some(2) }).unwrap_err();
        assert_eq!(e.to_string(), "terminal T: empty range 3..2");
    }

    #[test]
    fn leading_inline_x_flag_is_detected() {
        assert!(leading_flags_contain("(?ix)a b", 'x'));
        assert!(!leading_flags_contain("(?i)a", 'x'));
        assert!(!leading_flags_contain("(?x:a)", 'x'));
    }
}
