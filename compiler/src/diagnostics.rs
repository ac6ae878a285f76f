//! Source files, spans and diagnostics shared by every compiler stage.
//!
//! Stages return data, never strings: a [`Diagnostic`] has a severity, a primary [`Span`]
//! (byte range in a [`SourceMap`] file), labels, notes and a help line. Line and column are
//! computed on demand from the source text. The compiler never renders them: the CLI crate does
//! (with snippets), and [`crate::Compilation::error_lines`] gives one plain line per error.

use std::fmt;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end as u32 }
    }
}

/// One source text (a grammar file, or the built-in `common` library).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given by the user, or `<common>` for the built-in library.
    pub name: String,
    pub text: String,
    /// Byte offset where each line starts, and whether the line is ASCII (its columns are then
    /// byte differences), so that locating a diagnostic does not rescan the text.
    lines: Vec<(u32, bool)>,
}

impl SourceFile {
    fn new(name: String, text: String) -> SourceFile {
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            lines.push((start as u32, line.is_ascii()));
            start += line.len();
        }
        if text.is_empty() || text.ends_with('\n') {
            lines.push((start as u32, true));
        }
        SourceFile { name, text, lines }
    }

    /// Byte range of the lines that hold `range` (clamped to the text), with their line
    /// ends, and the 1-based number of the first one.
    pub fn lines_around(&self, range: std::ops::Range<usize>) -> (std::ops::Range<usize>, usize) {
        let line_of = |offset: usize| self.lines.partition_point(|&(start, _)| start as usize <= offset).saturating_sub(1);
        let (first, last) = (line_of(range.start.min(self.text.len())), line_of(range.end.min(self.text.len())));
        let start = self.lines.get(first).map_or(0, |&(s, _)| s as usize);
        let end = self.lines.get(last + 1).map_or(self.text.len(), |&(s, _)| s as usize);
        (start..end.max(start), first + 1)
    }
}

/// All source texts of one compilation.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push(SourceFile::new(name.into(), text.into()));
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, file: FileId) -> Option<&SourceFile> {
        self.files.get(file.0 as usize)
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Line and column of a byte offset (clamped to the text; never panics). Logarithmic in the
    /// number of lines, plus the length of the line when it is not ASCII.
    pub fn line_col(&self, file: FileId, offset: u32) -> LineCol {
        let Some(src) = self.get(file) else { return LineCol { line: 1, column: 1 } };
        let mut offset = (offset as usize).min(src.text.len());
        while !src.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = src.lines.partition_point(|&(start, _)| start as usize <= offset).max(1);
        let (line_start, ascii) = src.lines.get(line - 1).map_or((0, false), |&(s, a)| (s as usize, a));
        let column = if ascii { offset - line_start } else { src.text.get(line_start..offset).map_or(0, |t| t.chars().count()) };
        LineCol { line, column: column + 1 }
    }

    /// `file:line:col` of a span's start.
    pub fn location(&self, span: Span) -> String {
        let lc = self.line_col(span.file, span.start);
        let name = self.get(span.file).map_or("<unknown>", |f| f.name.as_str());
        format!("{name}:{}:{}", lc.line, lc.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A located message about a grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// One line, lowercase start, no trailing period: `undefined rule `expr``.
    pub message: String,
    /// Where the problem is; `None` only for problems with no place in the source.
    pub span: Option<Span>,
    /// Secondary places with their own short text.
    pub labels: Vec<(Span, String)>,
    /// Extra facts (`= note: ...`), e.g. an LR item set or an example input.
    pub notes: Vec<String>,
    /// How to fix it (`= help: ...`).
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), span: Some(span), labels: Vec::new(), notes: Vec::new(), help: None }
    }

    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message, span) }
    }

    /// An error that has no place in the source.
    pub fn unlocated(message: impl Into<String>) -> Diagnostic {
        Diagnostic { span: None, ..Diagnostic::error(message, Span::default()) }
    }

    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push((span, text.into()));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_clamps() {
        let mut map = SourceMap::new();
        let f = map.add("g.ebnf", "ab\ncé d\n");
        assert_eq!(map.line_col(f, 0), LineCol { line: 1, column: 1 });
        assert_eq!(map.line_col(f, 3), LineCol { line: 2, column: 1 });
        assert_eq!(map.line_col(f, 6), LineCol { line: 2, column: 3 });
        assert_eq!(map.line_col(f, 5), LineCol { line: 2, column: 2 }, "inside a multibyte char");
        assert_eq!(map.line_col(f, 999).line, 3);
        assert_eq!(map.location(Span::new(f, 3, 4)), "g.ebnf:2:1");
    }

    #[test]
    fn lines_around_a_range_keep_their_line_ends() {
        let mut map = SourceMap::new();
        let f = map.add("g.ebnf", "a\r\nbc\nd");
        let src = map.get(f).expect("added");
        assert_eq!(src.lines_around(3..4), (3..6, 2));
        assert_eq!(src.lines_around(0..4), (0..6, 1));
        assert_eq!(src.lines_around(5..6), (3..7, 2), "a span over a newline reaches the next line");
        assert_eq!(src.lines_around(99..99), (6..7, 3));
        let empty = map.add("e.ebnf", "");
        assert_eq!(map.get(empty).expect("added").lines_around(0..0), (0..0, 1));
        assert_eq!(map.line_col(empty, 5), LineCol { line: 1, column: 1 });
    }
}
