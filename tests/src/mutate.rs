//! Single-token mutants of a text, for "negatives by mutation" corpus tests: delete one lexeme,
//! duplicate one, or swap one with the next. The caller gives the lexemes' byte ranges (usually
//! the non-ignored lexemes of `syncodec_runtime::lexer::Lexer::tokenize`) and a seeded [`Rng`],
//! so mutants are reproducible.
//!
//! Wherever two pieces of text that were not adjacent in the original are joined and both sides of
//! the joint are non-whitespace bytes, a single space is put between them, so a mutant is the
//! original token sequence with one token deleted, duplicated or moved (`b=2` minus `=` becomes
//! `b 2`, not the name `b2`). No space is put after whitespace, so the indentation of a line is
//! left alone (a space after a newline would change it).

use std::fmt;

use crate::generate::Rng;

/// The three mutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Delete,
    Duplicate,
    Swap,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Delete => "delete",
            Kind::Duplicate => "duplicate",
            Kind::Swap => "swap",
        })
    }
}

/// One mutant: what was done, to which lexeme(s), and the mutated text.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub kind: Kind,
    /// Index (into the token list) of the lexeme mutated; for a swap, the first of the two.
    pub token: usize,
    /// Byte offset of that lexeme in the original text.
    pub offset: usize,
    /// The lexeme's text (for a swap, both lexemes' texts).
    pub lexemes: Vec<String>,
    pub text: Vec<u8>,
}

impl Mutant {
    /// `delete "x" at 120`, `swap "a" and "(" at 7`.
    pub fn describe(&self) -> String {
        match self.lexemes.as_slice() {
            [a, b] => format!("{} {a:?} and {b:?} at {}", self.kind, self.offset),
            [a] => format!("{} {a:?} at {}", self.kind, self.offset),
            _ => format!("{} at {}", self.kind, self.offset),
        }
    }
}

/// Concatenates `pieces`, putting a space at each joint (after the first piece) where the bytes on
/// both sides are not whitespace. `joints[i]` says whether a space may go before `pieces[i + 1]`
/// (pieces that were adjacent in the original are joined as they were).
fn join(pieces: &[&[u8]], joints: &[bool]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum::<usize>() + pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 && joints[i - 1] {
            let before = out.last().copied();
            let after = piece.first().copied();
            if let (Some(b), Some(a)) = (before, after) {
                if !b.is_ascii_whitespace() && !a.is_ascii_whitespace() {
                    out.push(b' ');
                }
            }
        }
        out.extend_from_slice(piece);
    }
    out
}

/// One random mutant of `text` whose lexemes are `tokens` (byte ranges, in order, non-overlapping;
/// at least two of them). The mutation kind is uniform over the three, the lexeme uniform over
/// those the kind applies to.
pub fn mutant(text: &[u8], tokens: &[(usize, usize)], rng: &mut Rng) -> Mutant {
    assert!(tokens.len() >= 2, "mutation needs at least two lexemes");
    let lossy = |s: usize, e: usize| String::from_utf8_lossy(&text[s..e]).into_owned();
    let kind = match rng.below(3) {
        0 => Kind::Delete,
        1 => Kind::Duplicate,
        _ => Kind::Swap,
    };
    let i = rng.below(if kind == Kind::Swap { tokens.len() - 1 } else { tokens.len() });
    let (s, e) = tokens[i];
    let (lexemes, bytes) = match kind {
        Kind::Delete => (vec![lossy(s, e)], join(&[&text[..s], &text[e..]], &[true])),
        // The copy always gets a space before it (the lexemes touched in the original).
        Kind::Duplicate => {
            let mut out = text[..e].to_vec();
            out.push(b' ');
            out.extend_from_slice(&text[s..]);
            (vec![lossy(s, e)], out)
        }
        Kind::Swap => {
            let (s2, e2) = tokens[i + 1];
            let pieces: [&[u8]; 5] = [&text[..s], &text[s2..e2], &text[e..s2], &text[s..e], &text[e2..]];
            (vec![lossy(s, e), lossy(s2, e2)], join(&pieces, &[true; 4]))
        }
    };
    Mutant { kind, token: i, offset: s, lexemes, text: bytes }
}

/// Counts of a mutation run against a reference.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Mutants the reference rejects, and how many of those the grammar rejects.
    pub reference_rejects: usize,
    pub we_reject: usize,
    /// Mutants the reference accepts, and how many of those the grammar accepts.
    pub reference_accepts: usize,
    pub we_accept: usize,
}

impl Tally {
    pub fn add(&mut self, reference_ok: bool, ours_ok: bool) {
        if reference_ok {
            self.reference_accepts += 1;
            self.we_accept += usize::from(ours_ok);
        } else {
            self.reference_rejects += 1;
            self.we_reject += usize::from(!ours_ok);
        }
    }

    /// Share of the reference-rejected mutants that the grammar rejects (1 when there are none).
    pub fn reject_rate(&self) -> f64 {
        if self.reference_rejects == 0 {
            1.0
        } else {
            self.we_reject as f64 / self.reference_rejects as f64
        }
    }

    /// Reference-accepted mutants the grammar rejects (soundness failures).
    pub fn false_rejects(&self) -> usize {
        self.reference_accepts - self.we_accept
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reference rejects {}, we reject {} of them ({:.1}%); reference accepts {}, we reject {} of them",
            self.reference_rejects,
            self.we_reject,
            100.0 * self.reject_rate(),
            self.reference_accepts,
            self.false_rejects()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_keep_tokens_apart_and_indentation_alone() {
        let text = b"def f(a, b=2):\n    return a\n";
        // def f ( a , b = 2 ) : NEWLINE return a NEWLINE
        let tokens = [(0, 3), (4, 5), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12), (12, 13), (13, 14), (14, 19), (19, 25), (26, 27), (27, 28)];
        let mut seen = std::collections::HashSet::new();
        let mut rng = Rng::new(7);
        for _ in 0..400 {
            let m = mutant(text, &tokens, &mut rng);
            let t = String::from_utf8(m.text.clone()).unwrap();
            seen.insert(t.clone());
            assert!(!t.contains("b2"), "{} gave {t:?}", m.describe());
        }
        assert!(seen.contains("def f(a, b 2):\n    return a\n"));
        assert!(seen.contains("def f(a, b=2):\n    return return a\n"));
        assert!(seen.contains("def f(a, b=2):\n    a return\n"));
        assert!(seen.contains("def f(a, b=2): return a\n"));
    }
}
