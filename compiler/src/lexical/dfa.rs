//! One terminal's HIR → regex-automata dense DFA → plain automaton → minimized [`TerminalDfa`].
//!
//! regex-automata's DFAs report matches one byte late: a state "is a match state" when the bytes
//! read *before the last transition* matched, and a search sees the final match only after the
//! end-of-input transition. A mask store needs the plain-automaton meaning instead, so this file
//! defines, for every state `s` reachable from the anchored start,
//! `accepting[s] := is_match_state(next_eoi_state(s))` — "the bytes read to reach `s` are in the
//! language" — and keeps the byte transitions as they are. With [`MatchKind::All`] determinization
//! never prunes states after a match, so this automaton recognizes exactly the language of the
//! HIR. A terminal that contains a lazy repetition (`*?`, `+?`, `??`, `{n,m}?`) is determinized
//! with [`MatchKind::LeftmostFirst`] instead: the DFA then drops every continuation with lower
//! preference than a match already found, which is how a backtracking engine (Python's `re`, so
//! Lark) ends such a lexeme — `/\/\*(.|\n)*?\*\//` stops at the first `*/`. In that mode
//! alternatives inside the terminal are also tried in order, as in Python. Liveness (`live[s]` iff an accepting state is reachable from `s`) is then computed by
//! [`minimize`] on the minimal automaton, where every non-live state has become state 0.
//!
//! Size limits: regex-automata's NFA, determinization and DFA size limits are derived from the
//! state limit (generous multiples of it, as a guard against runaway memory), and hitting any of
//! them is reported as the state-limit error; the limit proper is checked on the minimized DFA.

use regex_automata::dfa::{dense, Automaton as _, StartKind};
use regex_automata::nfa::thompson::{self, WhichCaptures, NFA};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::Hir;
use std::collections::HashMap;

use super::hir::LookAround;
use super::lookaround::{self, Look};
use super::minimize::{minimize, Automaton};
use super::{ErrorKind, LexicalError, TermCtx, TerminalDfa};
use syncodec_artifacts::ids::DfaStateId;

/// Bytes of heap regex-automata may use per allowed DFA state for the NFA and for the
/// determinizer's working memory: a generous budget (a Unicode class compiles to hundreds of NFA
/// states whose DFA is small).
const BYTES_PER_STATE: usize = 8 * 1028;

/// How many unminimized DFA states the determinizer may create per allowed (minimized) state.
/// The budget is handed to regex-automata in bytes of *this* DFA's states (its stride, the byte
/// classes rounded up to a power of two, × 4 bytes), so it is checked while the DFA grows: a
/// terminal such as `/a{1,1000000}/` or `/(a|b)*a(a|b){25}/` stops after a bounded number of
/// states instead of building millions before minimization. 16: Python's FSTRING terminal needs
/// more than 8 (its unminimized DFA is over 80,000 states for about 1,500 minimized ones).
const UNMINIMIZED_STATES_PER_STATE: usize = 16;

/// Builds the minimized DFA of one terminal whose look-around groups (if any) are `looks` (see
/// `lookaround.rs`).
pub(crate) fn terminal_dfa(
    hir: &Hir,
    looks: &[LookAround],
    ctx: &TermCtx<'_>,
    limit: usize,
) -> Result<TerminalDfa, LexicalError> {
    let limit_error = || LexicalError::new(ErrorKind::LimitExceeded { limit }, ctx.name, Some(ctx.span));
    let lazy = has_lazy_repetition(hir);
    let plain = if looks.is_empty() {
        let match_kind = if lazy { MatchKind::LeftmostFirst } else { MatchKind::All };
        hir_automaton(hir, match_kind, ctx, limit)?
    } else {
        let marked = thompson_nfa(hir, ctx, limit)?;
        let inner = looks
            .iter()
            .map(|l| hir_automaton(&l.hir, MatchKind::All, ctx, limit))
            .collect::<Result<Vec<_>, _>>()?;
        let resolved: Vec<Look<'_>> = looks
            .iter()
            .zip(&inner)
            .map(|(l, dfa)| Look { ahead: l.ahead, negated: l.negated, dfa })
            .collect();
        let max_states = limit.saturating_mul(SLACK_STATES_PER_STATE).max(1 << 12);
        lookaround::resolve(&marked, &resolved, lazy, max_states).ok_or_else(limit_error)?
    };
    let (dfa, _) = minimize(&plain);
    if dfa.n_states() > limit {
        return Err(limit_error());
    }
    Ok(dfa)
}

/// How many states the look-around subset construction may create per allowed DFA state,
/// before minimization (a guard against runaway memory, reported as the state-limit error).
const SLACK_STATES_PER_STATE: usize = 16;

/// `hir` → regex-automata Thompson NFA (no captures), within the size limit.
fn thompson_nfa(hir: &Hir, ctx: &TermCtx<'_>, limit: usize) -> Result<NFA, LexicalError> {
    let bytes = limit.saturating_mul(BYTES_PER_STATE).max(1 << 20);
    thompson::Compiler::new()
        .configure(thompson::Config::new().which_captures(WhichCaptures::None).nfa_size_limit(Some(bytes)))
        .build_from_hir(hir)
        .map_err(|e| match e.size_limit() {
            Some(_) => LexicalError::new(ErrorKind::LimitExceeded { limit }, ctx.name, Some(ctx.span)),
            None => LexicalError::new(ErrorKind::Internal(e.to_string()), ctx.name, Some(ctx.span)),
        })
}

/// `hir` → regex-automata dense DFA (`match_kind`) → plain automaton, not minimized.
fn hir_automaton(hir: &Hir, match_kind: MatchKind, ctx: &TermCtx<'_>, limit: usize) -> Result<Automaton<DfaStateId>, LexicalError> {
    let limit_error = || LexicalError::new(ErrorKind::LimitExceeded { limit }, ctx.name, Some(ctx.span));
    let bytes = limit.saturating_mul(BYTES_PER_STATE).max(1 << 20);
    let nfa = thompson_nfa(hir, ctx, limit)?;
    let stride = nfa.byte_classes().alphabet_len().next_power_of_two();
    let dfa_bytes = limit.saturating_mul(UNMINIMIZED_STATES_PER_STATE).saturating_mul(stride * std::mem::size_of::<u32>()).max(1 << 16);
    let dense = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .match_kind(match_kind)
                .minimize(false)
                .accelerate(false)
                .specialize_start_states(false)
                .byte_classes(true)
                .dfa_size_limit(Some(dfa_bytes))
                .determinize_size_limit(Some(bytes)),
        )
        .build_from_nfa(&nfa)
        .map_err(|e| {
            if e.is_size_limit_exceeded() {
                limit_error()
            } else {
                LexicalError::new(ErrorKind::Internal(e.to_string()), ctx.name, Some(ctx.span))
            }
        })?;
    plain_automaton(&dense).map_err(|e| LexicalError::new(ErrorKind::Internal(e), ctx.name, Some(ctx.span)))
}

/// True when `hir` contains a non-greedy repetition anywhere.
pub(crate) fn has_lazy_repetition(hir: &Hir) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Repetition(rep) => !rep.greedy || has_lazy_repetition(&rep.sub),
        HirKind::Capture(cap) => has_lazy_repetition(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(has_lazy_repetition),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => false,
    }
}

/// The states reachable from the anchored start, as a complete automaton over regex-automata's
/// byte classes, labelled 1 when accepting in the plain sense (see the module doc). Dead (and,
/// never produced here, quit) states become [`DfaStateId::DEAD`].
pub(crate) fn plain_automaton(dense: &dense::DFA<Vec<u32>>) -> Result<Automaton<DfaStateId>, String> {
    let bc = dense.byte_classes();
    let mut classes = [0u8; 256];
    let mut reps: Vec<u8> = Vec::new(); // a byte per class
    for b in 0..=255u8 {
        let c = bc.get(b);
        classes[b as usize] = c;
        if c as usize == reps.len() {
            reps.push(b);
        } else if c as usize > reps.len() {
            return Err("byte classes are not numbered in byte order".to_string());
        }
    }
    let k = reps.len();
    let start = dense.start_state(&start::Config::new().anchored(Anchored::Yes)).map_err(|e| e.to_string())?;
    let is_dead = |s: StateID| dense.is_dead_state(s) || dense.is_quit_state(s);

    let mut ids: HashMap<StateID, DfaStateId> = HashMap::new();
    let mut order: Vec<StateID> = Vec::new(); // raw state of plain state i + 1
    let mut trans: Vec<DfaStateId> = vec![DfaStateId::DEAD; k]; // the dead state loops
    let mut labels: Vec<u32> = vec![0];
    let plain_start = if is_dead(start) {
        DfaStateId::DEAD
    } else {
        ids.insert(start, DfaStateId::from_raw(1));
        order.push(start);
        DfaStateId::from_raw(1)
    };
    let mut head = 0;
    while head < order.len() {
        let s = order[head];
        head += 1;
        labels.push(u32::from(dense.is_match_state(dense.next_eoi_state(s))));
        for &b in &reps {
            let t = dense.next_state(s, b);
            let id = if is_dead(t) {
                DfaStateId::DEAD
            } else {
                *ids.entry(t).or_insert_with(|| {
                    order.push(t);
                    DfaStateId::from_raw(order.len() as u32)
                })
            };
            trans.push(id);
        }
    }
    Ok(Automaton { start: plain_start, n_classes: k, classes, trans, labels })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::lower::{Pattern, RegexFlags};
    use proptest::prelude::*;

    fn dfa(p: Pattern) -> TerminalDfa {
        term(p).unwrap()
    }

    #[test]
    fn lazy_terminals_stop_where_a_backtracking_engine_stops() {
        // C comment written with a lazy loop, as Lark grammars do.
        let d = dfa(re(r"/\*(.|\n)*?\*/"));
        check_invariants(&d);
        assert!(d.matches(b"/* a */"));
        assert!(d.matches(b"/* a\n * b */"));
        assert!(!d.matches(b"/* a */ b */"), "the lexeme ends at the first `*/`");
        assert!(!d.is_live_prefix(b"/* a */ "), "nothing may follow the first `*/`");
        // Lazy string body, then greedy parts after it, and lazy inside a concatenation.
        let d = dfa(re(r#""(.)*?""#));
        assert!(d.matches(br#""ab""#) && !d.matches(br#""a"b""#));
        // Without a lazy repetition the terminal is a plain language (longest match).
        let d = dfa(re("a|ab"));
        assert!(d.matches(b"ab") && d.matches(b"a"));
    }

    /// Every terminal DFA this stage returns satisfies the module invariants.
    pub(crate) fn check_invariants(d: &TerminalDfa) {
        let k = d.n_classes as usize;
        assert_eq!(d.trans.len(), d.n_states() * k);
        assert!(d.trans[..k].iter().all(|&t| t == DfaStateId::DEAD), "the dead state loops");
        assert!(!d.accepting[DfaStateId::DEAD] && !d.live[DfaStateId::DEAD]);
        assert!(d.live.as_slice()[1..].iter().all(|&l| l), "every non-dead state is live");
        assert!(d.accepting.values().zip(d.live.values()).all(|(&a, &l)| !a || l));
        assert!(d.trans.iter().all(|&t| t.as_usize() < d.n_states()));
        assert!(d.classes.iter().all(|&c| (c as u32) < d.n_classes));
        // classes are numbered by their smallest byte
        let mut max = 0;
        for &c in d.classes.iter() {
            assert!(c <= max + 1 || (max == 0 && c == 0));
            max = max.max(c);
        }
    }

    #[test]
    fn literal() {
        let d = dfa(lit("if"));
        check_invariants(&d);
        assert_eq!(d.n_states(), 4); // dead, start, "i", "if"
        assert!(d.matches(b"if"));
        assert!(!d.matches(b"i") && !d.matches(b"iff") && !d.matches(b"IF"));
        assert!(d.is_live_prefix(b"i") && !d.is_live_prefix(b"x"));
        // classes: 'i', 'f', everything else
        assert_eq!(d.n_classes, 3);
    }

    #[test]
    fn case_insensitive_literal() {
        let d = dfa(lit_i("select"));
        check_invariants(&d);
        for s in ["select", "SELECT", "SeLeCt"] {
            assert!(d.matches(s.as_bytes()), "{s}");
        }
        assert!(!d.matches(b"selec"));
        // 6 letters + start + dead, and one more: 's' folds to U+017F LONG S, two bytes in UTF-8.
        assert_eq!(d.n_states(), 9);
        // Simple case folding: 'k' also matches KELVIN SIGN.
        let d = dfa(lit_i("k"));
        assert!(d.matches("\u{212A}".as_bytes()) && d.matches(b"K"));
    }

    #[test]
    fn ranges_repeats_and_alternation() {
        let digit = Pattern::Range { from: '0', to: '9' };
        let d = dfa(Pattern::Repeat { inner: Box::new(digit.clone()), min: 2, max: Some(4) });
        check_invariants(&d);
        assert!(!d.matches(b"1") && d.matches(b"12") && d.matches(b"1234") && !d.matches(b"12345"));
        assert_eq!(d.n_states(), 6);
        let d = dfa(Pattern::Repeat { inner: Box::new(digit.clone()), min: 1, max: None });
        assert_eq!(d.n_states(), 3);
        let d = dfa(Pattern::Alt(vec![lit("ab"), Pattern::Concat(vec![lit("a"), digit])]));
        check_invariants(&d);
        assert!(d.matches(b"ab") && d.matches(b"a7") && !d.matches(b"a"));
        assert_eq!(d.n_states(), 4); // dead, start, "a", done
        let d = dfa(Pattern::Range { from: 'α', to: 'ω' });
        assert!(d.matches("λ".as_bytes()) && !d.matches(b"l"));
    }

    #[test]
    fn regex_flags() {
        let f = |i, m, s, x| RegexFlags {
            case_insensitive: i,
            multi_line: m,
            dot_matches_new_line: s,
            ignore_whitespace: x,
            unicode: false,
        };
        let d = dfa(re_flags("abc", f(true, false, false, false)));
        assert!(d.matches(b"aBc"));
        let d = dfa(re_flags("a.b", f(false, false, true, false)));
        assert!(d.matches(b"a\nb"));
        let d = dfa(re("a.b"));
        assert!(!d.matches(b"a\nb") && d.matches(b"a-b"));
        let d = dfa(re_flags("a b # comment\n c", f(false, false, false, true)));
        assert!(d.matches(b"abc"));
        let d = dfa(re_flags("[ ]x", f(false, false, false, true)));
        assert!(d.matches(b" x"), "whitespace in a class is literal in Python's verbose mode");
        let d = dfa(re_flags("a.", f(false, true, false, false)));
        assert!(d.matches(b"ab"));
    }

    #[test]
    fn python_name_and_string_regexes() {
        // Python's NAME from the Lark python grammar.
        let d = dfa(re(r"[^\W\d]\w*"));
        check_invariants(&d);
        for s in ["x", "_private", "héllo", "日本語", "a1"] {
            assert!(d.matches(s.as_bytes()), "{s}");
        }
        for s in ["1a", "", "a-b", "a b"] {
            assert!(!d.matches(s.as_bytes()), "{s}");
        }
        assert!(!d.is_live_prefix(b"\xff"), "invalid UTF-8 is never live");
        assert!(d.is_live_prefix(b"\xe6"), "a partial UTF-8 sequence of a letter is live");
        // A Python-style string regex (prefix, either quote, escapes), without look-around.
        let d = dfa(re(r#"(?i:[rub]|br|rb|f|fr|rf)?("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"#));
        check_invariants(&d);
        for s in [r#""""#, r#""a\"b""#, r"'it\'s'", r#"rb"x""#, r#"F"{x}""#] {
            assert!(d.matches(s.as_bytes()), "{s}");
        }
        for s in [r#""a"b""#, r#""abc"#, "'a\nb'", r#""\""#] {
            assert!(!d.matches(s.as_bytes()), "{s}");
        }
        assert!(d.is_live_prefix(br#""abc\"#));
        // Lark's own python STRING, with look-around, is the same language (lookaround.rs).
        let lark = term(re(r#"([ubf]?r?|r[ubf])("(?!"").*?(?<!\\)(\\\\)*?"|'(?!'').*?(?<!\\)(\\\\)*?')"#)).unwrap();
        for s in [r#""""#, r#""a\"b""#, r"'it\'s'", r#"rb"x""#, r#""a"b""#, r#""abc"#, "'a\nb'", r#""\""#] {
            let plain = s.starts_with('F') || d.matches(s.as_bytes());
            assert_eq!(lark.matches(s.as_bytes()), plain, "{s}");
        }
    }

    #[test]
    fn accepting_is_not_delayed() {
        // With search semantics, "a" would only be reported after one more byte (or EOI).
        let d = dfa(re("a|abc"));
        let s1 = d.walk(d.start, b"a");
        assert!(d.accepting[s1] && d.live[s1]);
        let s2 = d.walk(d.start, b"ab");
        assert!(!d.accepting[s2] && d.live[s2]);
        assert!(d.accepting[d.walk(d.start, b"abc")]);
        assert_eq!(d.walk(d.start, b"abcd"), DfaStateId::DEAD);
        assert_eq!(d.walk(d.start, b"b"), DfaStateId::DEAD);
        assert_eq!(d.n_states(), 5);
    }

    #[test]
    fn minimal_state_counts() {
        // Known minimal DFAs (+1 for the dead state).
        let count = |p: Pattern| dfa(p).n_states();
        assert_eq!(count(re("(a|b)*abb")), 5);
        assert_eq!(count(re("[0-9]+")), 3);
        assert_eq!(count(re("[0-9]+(\\.[0-9]+)?")), 5);
        assert_eq!(count(re("(ab|ab)(c|c)")), 4 + 1);
        assert_eq!(count(re("a{3}|a{5}")), 7);
        // One scalar value of valid UTF-8: start, the E0/ED/F0/F4 lead bytes with their
        // restricted second byte (4), one state per remaining continuation count (3), done.
        assert_eq!(count(re("(?s:.)")), 1 + 1 + 4 + 3 + 1);
    }

    #[test]
    fn output_is_deterministic() {
        let a = dfa(re(r"[^\W\d]\w*"));
        let b = dfa(re(r"[^\W\d]\w*"));
        assert_eq!(a, b);
        // The same language written differently gives the identical table.
        assert_eq!(dfa(re("[a-c]+")), dfa(re("(a|b|c)(a|b|c)*")));
    }

    // ---- property tests against the regex crate -------------------------------------------

    /// Patterns in the common intersection of Python `re` and the `regex` crate, in the style
    /// of Lark's common library, each with an alphabet that exercises it.
    const CASES: &[(&str, &str)] = &[
        (r"[0-9]+", "019a"),
        (r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", "09.eE+-x"),
        (r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|[1-9][0-9]*|0", "0x1fF8oO"),
        (r#""(?:[^"\\]|\\.)*""#, "\"\\ab\n"),
        (r"'''(?:[^'\\]|\\.|'[^']|''[^'])*'''", "'\\a"),
        (r"#[^\n]*", "# a\n"),
        (r"/\*(?:[^*]|\*+[^*/])*\*+/", "/* a"),
        (r"(?:\r?\n[\t ]*)+", "\r\n\t a"),
        (r"[^\W\d]\w*", "a_1 é9-"),
        (r"[A-Za-z_][A-Za-z0-9_]*", "aZ_09 -"),
        (r"(?i:select|from)", "selctFROM"),
        (r"a{2,3}(?:b|cd){0,2}", "abcd"),
        (r"[\u0370-\u03ff]+x?", "αωx\u{0400}"),
        (r"(?s:.)+z", "az\n\u{e9}"),
        (r"\d+|\s+", "1 \t٣a"),
    ];

    fn arb_case_and_string() -> impl Strategy<Value = (usize, Vec<u8>)> {
        (0..CASES.len()).prop_flat_map(|i| {
            let alphabet: Vec<char> = CASES[i].1.chars().collect();
            let from_alphabet = proptest::collection::vec(proptest::sample::select(alphabet), 0..12)
                .prop_map(|cs| cs.into_iter().collect::<String>().into_bytes());
            let raw = proptest::collection::vec(any::<u8>(), 0..8);
            (Just(i), prop_oneof![4 => from_alphabet, 1 => raw])
        })
    }

    fn reference(i: usize) -> regex::bytes::Regex {
        regex::bytes::Regex::new(&format!("^(?:{})$", CASES[i].0)).unwrap()
    }

    proptest! {
        #[test]
        fn terminal_dfa_agrees_with_regex_crate((i, text) in arb_case_and_string()) {
            let d = dfa(re(CASES[i].0));
            check_invariants(&d);
            prop_assert_eq!(d.matches(&text), reference(i).is_match(&text), "{} on {:?}", CASES[i].0, text);
        }

        #[test]
        fn live_iff_some_extension_is_accepted((i, text) in arb_case_and_string()) {
            let d = dfa(re(CASES[i].0));
            let s = d.walk(d.start, &text);
            let ext = d.shortest_extension(s);
            prop_assert_eq!(d.live[s], ext.is_some());
            let re = reference(i);
            if let Some(ext) = ext {
                // The extension found in the DFA is accepted by the reference too.
                let mut full = text.clone();
                full.extend_from_slice(&ext);
                prop_assert!(re.is_match(&full), "{} on {:?}", CASES[i].0, full);
            } else {
                // Not live: no extension of up to 3 characters of the alphabet is accepted.
                let alphabet: Vec<String> = CASES[i].1.chars().map(String::from).collect();
                let mut exts: Vec<Vec<u8>> = vec![Vec::new()];
                for _ in 0..4 {
                    let mut longer = Vec::new();
                    for e in &exts {
                        let mut full = text.clone();
                        full.extend_from_slice(e);
                        prop_assert!(!re.is_match(&full), "{} on {:?}", CASES[i].0, full);
                        for a in &alphabet {
                            let mut n = e.clone();
                            n.extend_from_slice(a.as_bytes());
                            longer.push(n);
                        }
                    }
                    exts = longer;
                }
            }
        }
    }
}
