//! Python-style indentation: derives INDENT/DEDENT lexemes from the newline terminal's text.
//!
//! Active when `grammar.indentation` is `Some` (`%declare _INDENT _DEDENT` plus a newline
//! terminal). [`Indenter`] sits between the lexer and the parser and sees every non-ignored
//! lexeme in order:
//!
//! - **Brackets.** Lexemes of an open-bracket terminal increase the bracket depth, close-bracket
//!   terminals decrease it (never below 0). A newline lexeme at depth > 0 is dropped.
//! - **Newlines.** At depth 0 the newline lexeme is passed on unchanged, and the width of the next
//!   line's indentation is computed from its text after the last `\n` (the whole text if it has
//!   none): a space counts 1, a tab advances to the next multiple of `tab_len` (as CPython does),
//!   `\f` resets to 0, and the first other byte ends the indentation.
//! - **Indentation is applied before the next non-newline lexeme**, not at the newline itself:
//!   if the pending width is greater than the top of the indentation stack it is pushed and one
//!   INDENT is emitted; if smaller, levels are popped with one DEDENT each, and it is an error
//!   ("unindent does not match any outer indentation level") when it does not land exactly on a
//!   level. This is the same as deciding at the newline whenever a line follows, and it makes a
//!   file whose last line holds only whitespace behave as CPython does (no INDENT is opened at
//!   the end of the input). A later newline lexeme replaces the pending width.
//! - **First line.** Before the first lexeme of the input, the text preceding it (after its last
//!   `\n`) counts as pending indentation, so an indented first line yields INDENT (which the
//!   parser then rejects, like CPython's "unexpected indent").
//! - **End of input** ([`Indenter::finish`]): when at least one lexeme was emitted and the last
//!   one other than INDENT/DEDENT is not a newline (the file does not end with a newline), a
//!   synthetic newline is emitted first; then one DEDENT per level above 0. The caller then ends
//!   the parse.
//!
//! Synthetic lexemes are zero-width at the point they arise: INDENT/DEDENT at the start of the
//! lexeme they precede, the final newline and DEDENTs at the end of the text.
//!
//! **Invariant:** no panics for any text or settings (a `tab_len` of 0 is treated as 1); on an
//! error the indenter's state is unchanged.

use std::sync::Arc;

use syncodec_artifacts::ids::{ArchivedId, TerminalId};
use syncodec_artifacts::schema::ArchivedIndentation;

use crate::lexer::Lexeme;
use crate::stack::SharedStack;

/// An inconsistent dedent at byte `offset` (the start of the line's first lexeme).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unindent does not match any outer indentation level")]
pub struct IndentError {
    pub offset: usize,
    /// The width of the offending line's indentation.
    pub width: u32,
}

/// The indentation state machine; see the module docs for the rules. Cloning costs O(1): the
/// bracket sets and the levels are shared (sessions clone the layout state as often as the
/// parser).
#[derive(Debug, Clone)]
pub struct Indenter {
    newline: TerminalId,
    indent: TerminalId,
    dedent: TerminalId,
    open: Arc<[TerminalId]>,
    close: Arc<[TerminalId]>,
    tab_len: u32,
    /// Indentation levels, strictly increasing from the bottom, which is always 0.
    stack: SharedStack<u32>,
    bracket_depth: usize,
    /// Width to apply before the next non-newline lexeme.
    pending: Option<u32>,
    /// Whether any lexeme was seen yet (the first-line rule applies before the first one).
    started: bool,
    emitted_any: bool,
    last_was_newline: bool,
}

impl Indenter {
    pub fn new(settings: &ArchivedIndentation) -> Indenter {
        let mut stack = SharedStack::new();
        stack.push(0);
        Indenter {
            newline: settings.newline.to_id(),
            indent: settings.indent.to_id(),
            dedent: settings.dedent.to_id(),
            open: settings.open_brackets.iter().map(|t| t.to_id()).collect(),
            close: settings.close_brackets.iter().map(|t| t.to_id()).collect(),
            tab_len: settings.tab_len.to_native().max(1),
            stack,
            bracket_depth: 0,
            pending: None,
            started: false,
            emitted_any: false,
            last_was_newline: false,
        }
    }

    /// The newline terminal.
    pub fn newline(&self) -> TerminalId {
        self.newline
    }

    /// A copy of the current indentation levels, outermost (0) first. O(levels);
    /// [`Indenter::n_levels`] is O(1).
    pub fn levels(&self) -> Vec<u32> {
        let mut levels: Vec<u32> = self.stack.iter().copied().collect();
        levels.reverse();
        levels
    }

    /// Number of indentation levels (1 at the start: level 0).
    pub fn n_levels(&self) -> usize {
        self.stack.len()
    }

    /// Current bracket nesting depth.
    pub fn bracket_depth(&self) -> usize {
        self.bracket_depth
    }

    /// Width of an indentation string, CPython style (see the module docs).
    pub fn width(&self, indentation: &[u8]) -> u32 {
        let mut col: u32 = 0;
        for &b in indentation {
            match b {
                b' ' => col = col.saturating_add(1),
                b'\t' => col = (col / self.tab_len).saturating_add(1).saturating_mul(self.tab_len),
                b'\x0c' => col = 0,
                _ => break,
            }
        }
        col
    }

    /// Width of the line that follows the newline text `text`.
    pub fn width_after_newline(&self, text: &[u8]) -> u32 {
        let line = match text.iter().rposition(|&b| b == b'\n') {
            Some(i) => &text[i + 1..],
            None => text,
        };
        self.width(line)
    }

    /// Processes one lexeme (never an ignored one) and appends what the parser must see to
    /// `out`. `text` is the whole input the lexeme positions refer to.
    pub fn push(&mut self, lexeme: Lexeme, text: &[u8], out: &mut Vec<Lexeme>) -> Result<(), IndentError> {
        if lexeme.terminal == self.newline {
            self.started = true;
            if self.bracket_depth > 0 {
                return Ok(());
            }
            let own = text.get(lexeme.start..lexeme.end).unwrap_or(&[]);
            self.pending = Some(self.width_after_newline(own));
            self.emit(lexeme, out);
            return Ok(());
        }
        self.prepare(text, lexeme.start, out)?;
        if self.open.contains(&lexeme.terminal) {
            self.bracket_depth = self.bracket_depth.saturating_add(1);
        } else if self.close.contains(&lexeme.terminal) {
            self.bracket_depth = self.bracket_depth.saturating_sub(1);
        }
        self.emit(lexeme, out);
        Ok(())
    }

    /// What [`Indenter::push`] does before a non-newline lexeme starting at byte `at`: the
    /// first-line rule, then the pending indentation (INDENT/DEDENT into `out`). On error nothing
    /// changes. Masking uses it to see the parser state the next lexeme will meet.
    pub fn prepare(&mut self, text: &[u8], at: usize, out: &mut Vec<Lexeme>) -> Result<(), IndentError> {
        let pending = if self.started {
            self.pending
        } else {
            let width = self.width_after_newline(text.get(..at).unwrap_or(&[]));
            (width > 0).then_some(width)
        };
        if let Some(width) = pending {
            self.apply(width, at, out)?;
        }
        self.started = true;
        self.pending = None;
        Ok(())
    }

    /// Whether the next lexeme is the first of the input.
    pub fn started(&self) -> bool {
        self.started
    }

    fn emit(&mut self, lexeme: Lexeme, out: &mut Vec<Lexeme>) {
        if lexeme.terminal != self.indent && lexeme.terminal != self.dedent {
            self.last_was_newline = lexeme.terminal == self.newline;
        }
        self.emitted_any = true;
        out.push(lexeme);
    }

    /// Moves to indentation `width` at byte `at`; on error nothing changes.
    fn apply(&mut self, width: u32, at: usize, out: &mut Vec<Lexeme>) -> Result<(), IndentError> {
        let top = self.stack.peek().copied().unwrap_or(0);
        if width > top {
            self.stack.push(width);
            self.emit(Lexeme { terminal: self.indent, start: at, end: at }, out);
        } else if width < top {
            // The levels above `width`, from the top; the next one down must be `width` itself.
            let above = self.stack.iter().take_while(|&&level| level > width).count();
            if self.stack.iter().nth(above) != Some(&width) {
                return Err(IndentError { offset: at, width });
            }
            for _ in 0..above {
                self.emit(Lexeme { terminal: self.dedent, start: at, end: at }, out);
                self.stack.pop();
            }
        }
        Ok(())
    }

    /// Ends the input at byte `end`: a synthetic newline if the text does not end with one, then
    /// a DEDENT for every open level. Pending indentation of a trailing blank line is dropped.
    pub fn finish(&mut self, end: usize, out: &mut Vec<Lexeme>) {
        self.pending = None;
        if self.emitted_any && !self.last_was_newline {
            self.emit(Lexeme { terminal: self.newline, start: end, end }, out);
        }
        while self.stack.len() > 1 {
            self.emit(Lexeme { terminal: self.dedent, start: end, end }, out);
            self.stack.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::Lexer;
    use crate::testing::{self, TERMINALS};

    /// Lexes and indents `text`; renders each lexeme as its terminal name, with `@start` for
    /// synthetic (zero-width) ones.
    fn indent(text: &str) -> Result<Vec<String>, IndentError> {
        let artifact = testing::blocks();
        let grammar = artifact.grammar();
        let lexer = Lexer::new(grammar);
        let mut indenter = Indenter::new(grammar.indentation.as_ref().unwrap());
        let mut out = Vec::new();
        for lexeme in lexer.lexemes(text.as_bytes(), 0) {
            indenter.push(lexeme.unwrap(), text.as_bytes(), &mut out)?;
        }
        indenter.finish(text.len(), &mut out);
        Ok(out
            .iter()
            .map(|l| {
                let name = TERMINALS[l.terminal.as_usize()];
                if l.start == l.end { format!("{name}@{}", l.start) } else { name.to_string() }
            })
            .collect())
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn indent_and_dedent_to_several_levels() {
        let text = "if a:\n  if b:\n      x\n  y\nz\n";
        assert_eq!(indent(text).unwrap(), words("IF NAME COLON _NL _INDENT@8 IF NAME COLON _NL _INDENT@20 NAME _NL _DEDENT@24 NAME _NL _DEDENT@26 NAME _NL"));
        let text = "if a:\n  if b:\n    x\ny\n";
        assert_eq!(indent(text).unwrap(), words("IF NAME COLON _NL _INDENT@8 IF NAME COLON _NL _INDENT@18 NAME _NL _DEDENT@20 _DEDENT@20 NAME _NL"));
    }

    #[test]
    fn inconsistent_dedent_is_an_error_at_the_line() {
        assert_eq!(indent("if a:\n    x\n  y\n"), Err(IndentError { offset: 14, width: 2 }));
    }

    #[test]
    fn brackets_suspend_newlines() {
        assert_eq!(indent("x = (1,\n  2\n)\ny\n").unwrap(), words("NAME EQUAL LPAR NUMBER COMMA NUMBER RPAR _NL NAME _NL"));
        // Unbalanced close brackets never take the depth below 0.
        assert_eq!(indent(")\nx\n").unwrap(), words("RPAR _NL NAME _NL"));
    }

    #[test]
    fn end_of_input_without_trailing_newline() {
        assert_eq!(indent("if a:\n  x").unwrap(), words("IF NAME COLON _NL _INDENT@8 NAME _NL@9 _DEDENT@9"));
        assert_eq!(indent("x").unwrap(), words("NAME _NL@1"));
        assert_eq!(indent("").unwrap(), Vec::<String>::new());
        assert_eq!(indent("\n").unwrap(), words("_NL"));
    }

    #[test]
    fn trailing_whitespace_line_opens_no_block() {
        assert_eq!(indent("x\n    ").unwrap(), words("NAME _NL"));
        assert_eq!(indent("if a:\n  x\n  ").unwrap(), words("IF NAME COLON _NL _INDENT@8 NAME _NL _DEDENT@12"));
    }

    #[test]
    fn crlf_and_blank_lines() {
        let text = "if a:\r\n\r\n  x\r\ny\r\n";
        assert_eq!(indent(text).unwrap(), words("IF NAME COLON _NL _INDENT@11 NAME _NL _DEDENT@14 NAME _NL"));
    }

    #[test]
    fn tabs_advance_to_the_next_tab_stop() {
        // A tab is width 8, as are eight spaces and "  \t" (2 then to the next stop).
        assert_eq!(indent("if a:\n\tx\n        y\n  \tz\n").unwrap(), words("IF NAME COLON _NL _INDENT@7 NAME _NL NAME _NL NAME _NL _DEDENT@24"));
        assert_eq!(indent("if a:\n\tx\n    y\n"), Err(IndentError { offset: 13, width: 4 }));
    }

    #[test]
    fn indented_first_line_yields_indent() {
        assert_eq!(indent("  x\n").unwrap(), words("_INDENT@2 NAME _NL _DEDENT@4"));
    }

    #[test]
    fn width_rules() {
        let artifact = testing::blocks();
        let indenter = Indenter::new(artifact.grammar().indentation.as_ref().unwrap());
        assert_eq!(indenter.width(b"   "), 3);
        assert_eq!(indenter.width(b"\t"), 8);
        assert_eq!(indenter.width(b" \t "), 9);
        assert_eq!(indenter.width(b"  \x0c "), 1);
        assert_eq!(indenter.width(b"  # x"), 2);
        assert_eq!(indenter.levels(), [0]);
        assert_eq!(indenter.n_levels(), 1);
        assert_eq!(indenter.bracket_depth(), 0);
    }
}
