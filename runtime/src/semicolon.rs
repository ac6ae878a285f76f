//! Automatic semicolon insertion: turns newline lexemes into semicolons after trigger terminals.
//!
//! Active when `grammar.auto_semicolon` is `Some` (the grammar's
//! `%auto_semicolon NEWLINE -> SEMICOLON after TRIGGER ...` statement). [`SemicolonInserter`]
//! sits between the lexer and the parser, where [`crate::indent::Indenter`] sits for
//! indentation grammars, and sees every non-ignored lexeme in order:
//!
//! - **Newlines.** A lexeme of the newline terminal is dropped, except when the last lexeme
//!   passed on is a trigger terminal: then a zero-width semicolon lexeme at the start of the
//!   newline is passed on instead. (Whatever the newline terminal matches counts as a line
//!   break: Go's grammar makes line comments and block comments spanning lines newline lexemes.)
//! - **Other lexemes** are passed on unchanged (an explicit semicolon included).
//! - **End of input** ([`SemicolonInserter::finish`]): when the last lexeme passed on is a trigger,
//!   a zero-width semicolon at the end of the text is passed on.
//!
//! This is Go's rule ("a semicolon is inserted after a line's final token if that token is an
//! identifier, a literal, one of the keywords `break` ... or one of `)`, `]`, `}`"); which
//! terminals trigger is entirely the grammar's choice.
//!
//! **Invariant:** no panics; the state is one terminal id, so cloning is free.

use std::sync::Arc;

use syncodec_artifacts::ids::{ArchivedId, TerminalId};
use syncodec_artifacts::schema::ArchivedAutoSemicolon;

use crate::lexer::Lexeme;

/// The semicolon-insertion state machine; see the module docs for the rules.
#[derive(Debug, Clone)]
pub struct SemicolonInserter {
    newline: TerminalId,
    semicolon: TerminalId,
    /// Shared between clones (sessions clone the layout state as often as the parser).
    triggers: Arc<[TerminalId]>,
    /// The last lexeme's terminal passed on, if any.
    last: Option<TerminalId>,
}

impl SemicolonInserter {
    pub fn new(settings: &ArchivedAutoSemicolon) -> SemicolonInserter {
        SemicolonInserter {
            newline: settings.newline.to_id(),
            semicolon: settings.semicolon.to_id(),
            triggers: settings.triggers.iter().map(|t| t.to_id()).collect(),
            last: None,
        }
    }

    /// The newline terminal (never handed to the parser).
    pub fn newline(&self) -> TerminalId {
        self.newline
    }

    /// The terminal inserted for a newline after a trigger.
    pub fn semicolon(&self) -> TerminalId {
        self.semicolon
    }

    /// Whether `terminal` makes a following newline a semicolon.
    pub fn is_trigger(&self, terminal: TerminalId) -> bool {
        self.triggers.contains(&terminal)
    }

    /// Whether a newline (or the end of input) now would insert a semicolon.
    pub fn semicolon_pending(&self) -> bool {
        self.last.is_some_and(|t| self.is_trigger(t))
    }

    /// Processes one lexeme (never an ignored one) and appends what the parser must see to `out`.
    pub fn push(&mut self, lexeme: Lexeme, out: &mut Vec<Lexeme>) {
        if lexeme.terminal == self.newline {
            if self.semicolon_pending() {
                self.emit(Lexeme { terminal: self.semicolon, start: lexeme.start, end: lexeme.start }, out);
            }
            return;
        }
        self.emit(lexeme, out);
    }

    fn emit(&mut self, lexeme: Lexeme, out: &mut Vec<Lexeme>) {
        self.last = Some(lexeme.terminal);
        out.push(lexeme);
    }

    /// Ends the input at byte `end`: a semicolon if the last lexeme is a trigger.
    pub fn finish(&mut self, end: usize, out: &mut Vec<Lexeme>) {
        if self.semicolon_pending() {
            self.emit(Lexeme { terminal: self.semicolon, start: end, end }, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Artifact;
    use crate::lexer::Lexer;
    use crate::testing::{self, t, TERMINALS};
    use syncodec_artifacts::schema::AutoSemicolon;

    /// `start: items [","] ; items: item ("," item)* ; item: NAME | "(" NAME ")" | NUMBER "="`,
    /// with `%auto_semicolon _NL -> "," after NAME ")"`.
    fn artifact() -> Artifact {
        let rules: Vec<(&str, &[&str])> = vec![
            ("start", &["items"]),
            ("start", &["items", "COMMA"]),
            ("items", &["item"]),
            ("items", &["items", "COMMA", "item"]),
            ("item", &["NAME"]),
            ("item", &["LPAR", "NAME", "RPAR"]),
            ("item", &["NUMBER", "EQUAL"]),
        ];
        let mut grammar = testing::grammar("semi", &rules, false);
        grammar.auto_semicolon = Some(AutoSemicolon { newline: t("_NL"), semicolon: t("COMMA"), triggers: vec![t("NAME"), t("RPAR")] });
        Artifact::from_bytes(&testing::encode(grammar)).unwrap()
    }

    /// Lexes `text` and inserts semicolons; synthetic lexemes render as `NAME@offset`.
    fn insert(text: &str) -> Vec<String> {
        let artifact = artifact();
        let grammar = artifact.grammar();
        let mut inserter = SemicolonInserter::new(grammar.auto_semicolon.as_ref().unwrap());
        let mut out = Vec::new();
        for lexeme in Lexer::new(grammar).lexemes(text.as_bytes(), 0) {
            inserter.push(lexeme.unwrap(), &mut out);
        }
        inserter.finish(text.len(), &mut out);
        out.iter()
            .map(|l| {
                let name = TERMINALS[l.terminal.as_usize()];
                if l.start == l.end { format!("{name}@{}", l.start) } else { name.to_string() }
            })
            .collect()
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn newline_after_a_trigger_becomes_the_semicolon() {
        assert_eq!(insert("a\nb\n"), words("NAME COMMA@1 NAME COMMA@3"));
        assert_eq!(insert("(a)\n\n\nb"), words("LPAR NAME RPAR COMMA@3 NAME COMMA@7"));
    }

    #[test]
    fn other_newlines_are_dropped() {
        assert_eq!(insert("1 =\n\n"), words("NUMBER EQUAL"));
        assert_eq!(insert("(\na\n)"), words("LPAR NAME COMMA@3 RPAR COMMA@5"));
        assert_eq!(insert("\n\n"), Vec::<String>::new());
        assert_eq!(insert(""), Vec::<String>::new());
        // An explicit semicolon is not a trigger: the newline after it is dropped.
        assert_eq!(insert("a,\nb"), words("NAME COMMA NAME COMMA@4"));
    }

    #[test]
    fn parse_uses_the_inserter() {
        let artifact = artifact();
        let parse = |text: &str| crate::parser::parse(artifact.grammar(), text.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(parse("a\n(b)\n1 =,\nc"), Ok(()));
        assert_eq!(parse("a, b,\nc\n"), Ok(()));
        assert_eq!(parse("a b"), Err("1:3: unexpected NAME \"b\", expected one of: \",\", end of input".into()));
        assert_eq!(parse("(a\n)"), Err("1:3: unexpected \",\", expected one of: \")\"".into()));
        let inserter = SemicolonInserter::new(artifact.grammar().auto_semicolon.as_ref().unwrap());
        assert_eq!((inserter.newline(), inserter.semicolon()), (t("_NL"), t("COMMA")));
        assert!(inserter.is_trigger(t("RPAR")) && !inserter.is_trigger(t("LPAR")) && !inserter.semicolon_pending());
    }
}
