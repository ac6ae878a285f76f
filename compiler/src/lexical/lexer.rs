//! The combined lexer DFA: the product of all terminal DFAs (the classical product / subset
//! construction of lexer generators, e.g. Aho, Lam, Sethi & Ullman, *Compilers*, §3.8), labelled
//! per state with the winning terminal, then minimized with the initial partition by label.
//!
//! A product state is the sorted list of `(terminal index, terminal DFA state)` pairs whose
//! component is still live; components that die are dropped, so the dead product state
//! ([`LexStateId::DEAD`]) is the empty list and a state's size is the number of terminals still
//! possible. The label of a
//! state is the best terminal, by [`Rank`], among the components in an accepting state — see the
//! tie-break rule in the module doc of `lexical`. Maximal munch is applied by the walker
//! ([`LexerDfa::longest_match`]), which remembers the last labelled state it passed.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::minimize::{minimize, Automaton};
use super::{ErrorKind, LexerDfa, LexicalError, Shadowing, TerminalDfa};
use crate::lower::{Bnf, Pattern, TerminalKind};
use syncodec_artifacts::ids::{DfaStateId, IdVec, LexStateId, TerminalId};

/// How a terminal ranks when several match the same lexeme: smaller wins. Lark's order: higher
/// priority, literal before pattern, then (patterns) longer maximum width (`usize::MAX` when
/// unbounded), then longer regex text as Lark writes it ([`lark_regex_len`]), then lower id.
type Rank = (Reverse<i32>, u8, Reverse<usize>, Reverse<usize>, TerminalId);

/// A terminal that takes part in lexing (its id is the last component of its rank).
pub(crate) struct Member<'a> {
    pub name: &'a str,
    pub rank: Rank,
    pub dfa: &'a TerminalDfa,
}

/// Every terminal with a DFA, in id order, with its rank (see [`Rank`]).
pub(crate) fn members<'a>(bnf: &'a Bnf, dfas: &'a IdVec<TerminalId, Option<TerminalDfa>>) -> Vec<Member<'a>> {
    bnf.terminals
        .iter()
        .filter_map(|(term, def)| {
            let dfa = dfas.get(term)?.as_ref()?;
            let (kind, width, text) = match (def.kind, &def.pattern) {
                (TerminalKind::Literal, _) | (_, None) => (0, 0, 0),
                (TerminalKind::Pattern | TerminalKind::Declared, Some(p)) => {
                    (1, dfa.max_len().unwrap_or(usize::MAX), lark_regex_len(p))
                }
            };
            let rank = (Reverse(def.priority), kind, Reverse(width), Reverse(text), term);
            Some(Member { name: &def.name, rank, dfa })
        })
        .collect()
}

/// Per terminal id, the position of its rank among `members` (0 = wins over all); `u32::MAX` for
/// terminals without a DFA.
pub(crate) fn rank_positions(members: &[Member<'_>], n_terminals: usize) -> Vec<u32> {
    let mut sorted: Vec<&Member<'_>> = members.iter().collect();
    sorted.sort_by_key(|m| m.rank);
    let mut out = vec![u32::MAX; n_terminals];
    for (position, m) in sorted.iter().enumerate() {
        if let Some(slot) = out.get_mut(m.rank.4.as_usize()) {
            *slot = position as u32;
        }
    }
    out
}

/// The length of the regex Lark builds for a terminal from its definition (Lark's
/// `TerminalTreeToPattern`): literals are `re.escape`d, an alternation is `(?:a|b)`, a repetition
/// `(?:x)*`, a range `[a-z]`, and a regex with flags is wrapped in `(?flags:...)`. Lark breaks
/// ties between patterns by it, so a terminal built from another (`_NL: (NEWLINE | COMMENT)+`)
/// outranks its parts.
pub(crate) fn lark_regex_len(pattern: &Pattern) -> usize {
    match pattern {
        Pattern::Literal { value, case_insensitive } => {
            let escaped: usize =
                value.chars().map(|c| if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) { 2 } else { 1 }).sum();
            escaped + if *case_insensitive { 5 } else { 0 } // `(?i:` and `)`
        }
        Pattern::Regex { source, flags, .. } => {
            let n_flags = [flags.case_insensitive, flags.multi_line, flags.dot_matches_new_line, flags.ignore_whitespace]
                .iter()
                .filter(|&&f| f)
                .count();
            source.chars().count() + if n_flags > 0 { 4 + n_flags } else { 0 }
        }
        Pattern::Range { .. } => 5,
        Pattern::Concat(parts) => parts.iter().map(lark_regex_len).sum(),
        Pattern::Alt(parts) if parts.len() == 1 => lark_regex_len(&parts[0]),
        Pattern::Alt(parts) => 4 + parts.iter().map(lark_regex_len).sum::<usize>() + parts.len().saturating_sub(1),
        Pattern::Repeat { inner, min, max } => {
            let op = match (min, max) {
                (0, None) | (1, None) | (0, Some(1)) => 1,
                (m, None) => format!("{{{m},}}").len(),
                (m, Some(n)) if m == n => format!("{{{m}}}").len(),
                (m, Some(n)) => format!("{{{m},{n}}}").len(),
            };
            4 + lark_regex_len(inner) + op
        }
    }
}

/// Builds and minimizes the lexer; the state limit applies to the minimized DFA, and the
/// unminimized product is abandoned beyond four times the limit.
pub(crate) fn build_lexer(members: &[Member<'_>], limit: usize) -> Result<(LexerDfa, Vec<Shadowing>), LexicalError> {
    let limit_error = || {
        let mut sizes: Vec<(usize, &str)> = members.iter().map(|m| (m.dfa.n_states(), m.name)).collect();
        sizes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let largest: Vec<String> = sizes.iter().take(5).map(|(n, name)| format!("{name} ({n})")).collect();
        LexicalError::lexer(ErrorKind::LimitExceeded { limit })
            .with_note(format!("largest terminal DFAs (states): {}", largest.join(", ")))
            .with_help("raise --dfa-state-limit, or simplify the terminals whose combination explodes")
    };

    // Byte classes of the product: the common refinement of every member's classes.
    let mut classes = [0u8; 256];
    let mut n_classes = 1usize;
    for m in members {
        let mut ids: HashMap<(u8, u8), u8> = HashMap::new();
        let mut next = [0u8; 256];
        for b in 0..256 {
            let key = (classes[b], m.dfa.classes[b]);
            let fresh = ids.len() as u8; // at most 256 distinct keys: one per byte
            next[b] = *ids.entry(key).or_insert(fresh);
        }
        classes = next;
        n_classes = ids.len();
    }
    let mut reps = vec![0u8; n_classes];
    for b in (0..=255u8).rev() {
        reps[classes[b as usize] as usize] = b;
    }

    // (member index, its state), sorted by member; the states of product state i are `states[i]`.
    type Product = Vec<(u32, DfaStateId)>;
    let guard = limit.saturating_mul(4);
    let mut ids: HashMap<Product, LexStateId> = HashMap::new();
    let mut states: Vec<Product> = vec![Vec::new()]; // the dead state
    let mut parent: Vec<(LexStateId, u8)> = vec![(LexStateId::DEAD, 0)]; // how BFS first reached each state
    let mut shadowed: Vec<Shadowing> = Vec::new();
    ids.insert(Vec::new(), LexStateId::DEAD);
    let start: Product = members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.dfa.live[m.dfa.start])
        .map(|(i, m)| (i as u32, m.dfa.start))
        .collect();
    let start_id = if start.is_empty() {
        LexStateId::DEAD
    } else {
        ids.insert(start.clone(), LexStateId::from_raw(1));
        states.push(start);
        parent.push((LexStateId::DEAD, 0));
        LexStateId::from_raw(1)
    };
    let mut trans: Vec<LexStateId> = vec![LexStateId::DEAD; n_classes];
    let mut labels: Vec<u32> = vec![0];
    let mut head = 1;
    while head < states.len() {
        let state = std::mem::take(&mut states[head]);
        head += 1;
        let best = state
            .iter()
            .filter(|&&(i, s)| members[i as usize].dfa.accepting[s])
            .map(|&(i, _)| members[i as usize].rank)
            .min();
        if let Some(best) = best.filter(|b| b.1 == 1) {
            for &(i, s) in &state {
                let m = &members[i as usize];
                let (winner, loser) = (best.4, m.rank.4);
                if m.rank.1 == 1 && loser != winner && m.dfa.accepting[s] && !shadowed.iter().any(|x| x.winner == winner && x.loser == loser) {
                    let mut example = Vec::new();
                    let mut at = head - 1;
                    while at > start_id.as_usize() {
                        let (p, b) = parent[at];
                        example.push(b);
                        at = p.as_usize();
                    }
                    example.reverse();
                    shadowed.push(Shadowing { winner, loser, example });
                }
            }
        }
        labels.push(best.map_or(0, |rank| rank.4.raw() + 1));
        for &b in &reps {
            let next: Product = state
                .iter()
                .map(|&(i, s)| (i, members[i as usize].dfa.next(s, b)))
                .filter(|&(_, t)| t != DfaStateId::DEAD)
                .collect();
            let id = match ids.get(&next) {
                Some(&id) => id,
                None => {
                    if states.len() > guard {
                        return Err(limit_error());
                    }
                    let id = LexStateId::from_raw(states.len() as u32);
                    ids.insert(next.clone(), id);
                    states.push(next);
                    parent.push((LexStateId::from_raw((head - 1) as u32), b));
                    id
                }
            };
            trans.push(id);
        }
    }
    let product = Automaton { start: start_id, n_classes, classes, trans, labels };
    let (dfa, labels) = minimize(&product);
    if dfa.n_states() > limit {
        return Err(limit_error());
    }
    let accept = IdVec::from_vec(labels.iter().map(|&l| l.checked_sub(1).map(TerminalId::from_raw)).collect());
    Ok((LexerDfa { dfa, accept }, shadowed))
}

impl LexerDfa {
    /// The longest lexeme starting at `at` and the terminal it is assigned to, as
    /// `(terminal, end)`; `None` when no terminal matches a non-empty prefix of `text[at..]`.
    pub fn longest_match(&self, text: &[u8], at: usize) -> Option<(TerminalId, usize)> {
        let mut s = self.dfa.start;
        let mut best = None;
        for (i, &b) in text.get(at..)?.iter().enumerate() {
            s = self.dfa.next(s, b);
            if s == LexStateId::DEAD {
                break;
            }
            if let Some(Some(term)) = self.accept.get(s) {
                best = Some((*term, at + i + 1));
            }
        }
        best
    }

    /// Splits `text` into lexemes by repeated longest match; stops at the first byte where no
    /// terminal matches and returns the lexemes so far with that position.
    pub fn tokenize(&self, text: &[u8]) -> (Vec<(TerminalId, std::ops::Range<usize>)>, usize) {
        let mut at = 0;
        let mut out = Vec::new();
        while at < text.len() {
            match self.longest_match(text, at) {
                Some((term, end)) => {
                    out.push((term, at..end));
                    at = end;
                }
                None => break,
            }
        }
        (out, at)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{build, LexicalOptions};
    use super::*;
    use crate::lower::{Pattern, TerminalKind::*};
    use proptest::prelude::*;

    fn t(i: usize) -> TerminalId {
        TerminalId::must(i)
    }

    fn lexer(terms: Vec<(&str, Pattern, i32, TerminalKind)>) -> LexerDfa {
        let g = bnf(terms.into_iter().map(|(n, p, pr, k)| (n, Some(p), pr, k)).collect());
        build(&g, &LexicalOptions::default()).unwrap().lexer
    }

    #[test]
    fn keyword_beats_name_on_equal_length() {
        // NAME is declared first, but a literal wins a tie of equal priority.
        let lx = lexer(vec![("NAME", re("[a-z_][a-z0-9_]*"), 0, Pattern), ("IF", lit("if"), 0, Literal)]);
        assert_eq!(lx.longest_match(b"if x", 0), Some((t(1), 2)));
        assert_eq!(lx.longest_match(b"iffy", 0), Some((t(0), 4)), "longest match first");
        assert_eq!(lx.longest_match(b"i", 0), Some((t(0), 1)));
        assert_eq!(lx.longest_match(b"if", 1), Some((t(0), 2)));
        assert_eq!(lx.longest_match(b"1", 0), None);
        assert_eq!(lx.longest_match(b"", 0), None);
        assert_eq!(lx.longest_match(b"ab", 5), None);
    }

    #[test]
    fn priority_beats_literal() {
        let lx = lexer(vec![("IF", lit("if"), 0, Literal), ("NAME", re("[a-z]+"), 1, Pattern)]);
        assert_eq!(lx.longest_match(b"if", 0), Some((t(1), 2)));
    }

    #[test]
    fn longest_match_wins_over_priority() {
        let lx = lexer(vec![("A", lit("a"), 5, Literal), ("AB", re("ab"), 0, Pattern)]);
        assert_eq!(lx.longest_match(b"ab", 0), Some((t(1), 2)));
        assert_eq!(lx.longest_match(b"ac", 0), Some((t(0), 1)));
    }

    #[test]
    fn declaration_order_is_the_last_key() {
        let lx = lexer(vec![("X", re("[a-z]+"), 0, Pattern), ("Y", re("[a-c]+"), 0, Pattern)]);
        assert_eq!(lx.longest_match(b"abc", 0), Some((t(0), 3)));
        let lx = lexer(vec![("Y", re("[a-c]+"), 0, Pattern), ("X", re("[a-z]+"), 0, Pattern)]);
        assert_eq!(lx.longest_match(b"abc", 0), Some((t(0), 3)));
        assert_eq!(lx.longest_match(b"abz", 0), Some((t(1), 3)));
        // Negative priorities rank below the default 0.
        let lx = lexer(vec![("X", re("[a-z]+"), -1, Pattern), ("Y", re("[a-c]+"), 0, Pattern)]);
        assert_eq!(lx.longest_match(b"abc", 0), Some((t(1), 3)));
    }

    #[test]
    fn lexer_is_minimal_and_shadowed_terminals_vanish() {
        // "ab" as a pattern is shadowed by the literal on every lexeme: its states merge away.
        let lx = lexer(vec![("AB", lit("ab"), 0, Literal), ("AB2", re("ab"), 0, Pattern)]);
        assert_eq!(lx.dfa.n_states(), 4);
        assert!(lx.accept.values().all(|a| *a != Some(t(1))));
        assert_eq!(lx.accept[LexStateId::DEAD], None);
        assert!(!lx.dfa.live[LexStateId::DEAD] && !lx.dfa.accepting[LexStateId::DEAD]);
        for (s, a) in lx.accept.iter() {
            assert_eq!(a.is_some(), lx.dfa.accepting[s]);
        }
    }

    #[test]
    fn tokenize_a_small_language() {
        let lx = lexer(vec![
            ("NUMBER", re(r"[0-9]+(\.[0-9]+)?"), 0, Pattern),
            ("NAME", re(r"[^\W\d]\w*"), 0, Pattern),
            ("WS", re(r"[ \t]+"), 0, Pattern),
            ("DEF", lit("def"), 0, Literal),
            ("LPAR", lit("("), 0, Literal),
            ("RPAR", lit(")"), 0, Literal),
            ("POW", lit("**"), 0, Literal),
            ("STAR", lit("*"), 0, Literal),
        ]);
        let (toks, end) = lx.tokenize("def défini(x)**2.5*3 ?".as_bytes());
        let kinds: Vec<u32> = toks.iter().map(|(term, _)| term.raw()).collect();
        assert_eq!(kinds, vec![3, 2, 1, 4, 1, 5, 6, 0, 7, 0, 2]);
        assert_eq!(end, "def défini(x)**2.5*3 ".len());
    }

    #[test]
    fn no_terminals_gives_an_empty_lexer() {
        let g = bnf(vec![("_INDENT", None, 0, Declared)]);
        let lx = build(&g, &LexicalOptions::default()).unwrap().lexer;
        assert_eq!((lx.dfa.n_states(), lx.dfa.start), (1, LexStateId::DEAD));
        assert_eq!(lx.longest_match(b"x", 0), None);
    }

    // ---- property test: the lexer agrees with a brute force over the terminal DFAs ----------

    const TERMS: &[(&str, &str, i32, bool)] = &[
        ("IF", "if", 0, true),
        ("IN", "in", 0, true),
        ("NAME", "[a-z]+", 0, false),
        ("INT", "[0-9]+", 0, false),
        ("FLOAT", r"[0-9]+\.[0-9]*", 0, false),
        ("DOT", ".", 0, true),
        ("RANGE", "..", 0, true),
        ("HEX", "0x[0-9a-f]+", 2, false),
        ("WS", " +", 0, false),
    ];

    proptest! {
        #[test]
        fn lexer_agrees_with_brute_force(text in proptest::collection::vec(proptest::sample::select(b"ifnx0a9. z".to_vec()), 0..14), at in 0usize..4) {
            let members: Vec<(&str, Pattern, i32, TerminalKind)> = TERMS
                .iter()
                .map(|&(n, p, pr, is_lit)| if is_lit { (n, lit(p), pr, Literal) } else { (n, re(p), pr, Pattern) })
                .collect();
            let g = bnf(members.into_iter().map(|(n, p, pr, k)| (n, Some(p), pr, k)).collect());
            let lex = build(&g, &LexicalOptions::default()).unwrap();
            // Brute force: longest end, then the best rank among terminals matching exactly it.
            let expected = (at..=text.len()).rev().filter(|&end| end > at).find_map(|end| {
                lex.terminals
                    .iter()
                    .filter(|(_, d)| d.as_ref().unwrap().matches(&text[at..end]))
                    .map(|(term, _)| {
                        let def = &g.terminals[term];
                        (Reverse(def.priority), u8::from(def.kind != Literal), term)
                    })
                    .min()
                    .map(|rank| (rank.2, end))
            });
            let expected = if at > text.len() { None } else { expected };
            prop_assert_eq!(lex.lexer.longest_match(&text, at), expected);
        }
    }
}
