//! Test support: small compiled grammars built by hand, without the compiler.
//!
//! Terminal DFAs are written as explicit transition lists; the combined lexer DFA is their
//! product (maximal munch, priority then literal-before-pattern then declaration order); the LR
//! tables come from a textbook canonical LR(1) construction (Knuth 1965) over the augmented
//! grammar, emitting `Accept` on the End column of `goto(start_state, start rule)` as the artifact
//! contract says. Everything here may panic: it is test code on fixed inputs.

use std::collections::{BTreeMap, BTreeSet};

use syncodec_artifacts::ids::{RuleId, TerminalId};
use syncodec_artifacts::schema::*;

use crate::artifact::Artifact;

/// Terminal names, indexed by raw [`TerminalId`].
pub const TERMINALS: [&str; 14] =
    ["NAME", "NUMBER", "EQUAL", "LPAR", "RPAR", "COMMA", "COLON", "DOT", "ELLIPSIS", "IF", "WS", "_NL", "_INDENT", "_DEDENT"];

pub fn t(name: &str) -> TerminalId {
    TerminalId::must(TERMINALS.iter().position(|&n| n == name).unwrap_or_else(|| panic!("no terminal {name}")))
}

/// Builds a DFA from a dense byte table (state 0 must be the dead state).
fn finish_dfa(table: &[[u32; 256]], start: u32, accepting: &[bool]) -> Dfa {
    let n_states = table.len();
    let mut columns: Vec<Vec<u32>> = Vec::new();
    let mut classes = vec![0u8; 256];
    for b in 0..256 {
        let column: Vec<u32> = table.iter().map(|row| row[b]).collect();
        let class = match columns.iter().position(|c| *c == column) {
            Some(c) => c,
            None => {
                columns.push(column);
                columns.len() - 1
            }
        };
        classes[b] = u8::try_from(class).unwrap();
    }
    let n_classes = columns.len();
    let mut trans = vec![0u32; n_states * n_classes];
    for (c, column) in columns.iter().enumerate() {
        for s in 0..n_states {
            trans[s * n_classes + c] = column[s];
        }
    }
    let mut live: Vec<bool> = accepting.to_vec();
    loop {
        let mut changed = false;
        for s in 0..n_states {
            if !live[s] && table[s].iter().any(|&to| live[to as usize]) {
                live[s] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let flags = (0..n_states).map(|s| (if accepting[s] { DFA_ACCEPTING } else { 0 }) | (if live[s] { DFA_LIVE } else { 0 })).collect();
    Dfa { start, n_states: n_states as u32, n_classes: n_classes as u32, classes, trans, flags }
}

/// A DFA with states `0..n_states` (0 dead, 1 start) from `(from, bytes, to)` edges.
fn dfa(n_states: usize, edges: &[(u32, &[u8], u32)], accepting: &[u32]) -> Dfa {
    let mut table = vec![[0u32; 256]; n_states];
    for &(from, bytes, to) in edges {
        for &b in bytes {
            table[from as usize][b as usize] = to;
        }
    }
    let acc: Vec<bool> = (0..n_states as u32).map(|s| accepting.contains(&s)).collect();
    finish_dfa(&table, 1, &acc)
}

fn literal(text: &[u8]) -> Dfa {
    let edges: Vec<(u32, &[u8], u32)> = text.iter().enumerate().map(|(i, b)| (i as u32 + 1, std::slice::from_ref(b), i as u32 + 2)).collect();
    dfa(text.len() + 2, &edges, &[text.len() as u32 + 1])
}

fn plus(bytes: &[u8]) -> Dfa {
    dfa(3, &[(1, bytes, 2), (2, bytes, 2)], &[2])
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

pub fn terminals() -> Vec<Terminal> {
    let pattern = |name: &str, dfa: Dfa| Terminal { name: name.into(), display: name.into(), priority: 0, kind: TerminalKind::Pattern, dfa: Some(dfa), rank: 0 };
    let lit = |name: &str, text: &str| Terminal { name: name.into(), display: format!("\"{text}\""), priority: 0, kind: TerminalKind::Literal, dfa: Some(literal(text.as_bytes())), rank: 0 };
    let declared = |name: &str| Terminal { name: name.into(), display: name.into(), priority: 0, kind: TerminalKind::Declared, dfa: None, rank: u32::MAX };
    // _NL: (\r?\n[ \t]*)+ ; states 1 start, 2 after \r, 3 accepting.
    let newline = dfa(4, &[(1, b"\r", 2), (1, b"\n", 3), (2, b"\n", 3), (3, b" \t", 3), (3, b"\r", 2), (3, b"\n", 3)], &[3]);
    let mut all = vec![
        pattern("NAME", plus(LOWER)),
        pattern("NUMBER", plus(DIGITS)),
        lit("EQUAL", "="),
        lit("LPAR", "("),
        lit("RPAR", ")"),
        lit("COMMA", ","),
        lit("COLON", ":"),
        lit("DOT", "."),
        lit("ELLIPSIS", "..."),
        lit("IF", "if"),
        pattern("WS", plus(b" \t")),
        pattern("_NL", newline),
        declared("_INDENT"),
        declared("_DEDENT"),
    ];
    // The lexer's tie-break order (see `lexer` below): priority, literal before pattern, id.
    let mut order: Vec<usize> = (0..all.len()).filter(|&i| all[i].dfa.is_some()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(all[i].priority), all[i].kind != TerminalKind::Literal, i));
    for (rank, &i) in order.iter().enumerate() {
        all[i].rank = rank as u32;
    }
    all
}

fn step(dfa: &Dfa, state: u32, byte: u8) -> u32 {
    dfa.trans[state as usize * dfa.n_classes as usize + dfa.classes[byte as usize] as usize]
}

/// The product of all terminal DFAs, accepting with the usual tie-break.
fn lexer(terms: &[Terminal]) -> LexerDfa {
    let start: Vec<u32> = terms.iter().map(|t| t.dfa.as_ref().map_or(0, |d| d.start)).collect();
    let dead = vec![0u32; terms.len()];
    let mut ids: BTreeMap<Vec<u32>, u32> = BTreeMap::new();
    let mut tuples = vec![dead.clone(), start.clone()];
    ids.insert(dead, 0);
    ids.insert(start, 1);
    let mut table: Vec<[u32; 256]> = Vec::new();
    let mut next = 0;
    while next < tuples.len() {
        let tuple = tuples[next].clone();
        let mut row = [0u32; 256];
        for b in 0..=255u8 {
            let to: Vec<u32> = terms.iter().zip(&tuple).map(|(t, &s)| t.dfa.as_ref().map_or(0, |d| step(d, s, b))).collect();
            let id = match ids.get(&to) {
                Some(&id) => id,
                None => {
                    let id = tuples.len() as u32;
                    ids.insert(to.clone(), id);
                    tuples.push(to);
                    id
                }
            };
            row[b as usize] = id;
        }
        table.push(row);
        next += 1;
    }
    let accept: Vec<u32> = tuples
        .iter()
        .map(|tuple| {
            terms
                .iter()
                .enumerate()
                .filter(|(i, t)| t.dfa.as_ref().is_some_and(|d| d.flags[tuple[*i] as usize] & DFA_ACCEPTING != 0))
                .max_by_key(|(i, t)| (t.priority, t.kind == TerminalKind::Literal, std::cmp::Reverse(*i)))
                .map_or(NONE, |(i, _)| i as u32)
        })
        .collect();
    let accepting: Vec<bool> = accept.iter().map(|&a| a != NONE).collect();
    LexerDfa { dfa: finish_dfa(&table, 1, &accepting), accept }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Sym {
    T(usize),
    R(usize),
}

/// Canonical LR(1) tables for `rules` (the first rule is the start rule; terminals are named as
/// in [`TERMINALS`]). Panics on a conflict.
fn lr(rules: &[(&str, &[&str])]) -> (Vec<String>, Vec<Production>, LrTable) {
    let n_terminals = TERMINALS.len();
    let end = n_terminals;
    let mut rule_names: Vec<String> = Vec::new();
    for (lhs, _) in rules {
        if !rule_names.iter().any(|r| r == lhs) {
            rule_names.push(lhs.to_string());
        }
    }
    let n_rules = rule_names.len();
    let sym = |name: &str| match TERMINALS.iter().position(|&n| n == name) {
        Some(t) => Sym::T(t),
        None => Sym::R(rule_names.iter().position(|r| r == name).unwrap_or_else(|| panic!("undefined symbol {name}"))),
    };
    // Productions, plus the augmented `S' -> start` at the end (rule id n_rules).
    let mut prods: Vec<(usize, Vec<Sym>)> = rules.iter().map(|(lhs, rhs)| (rule_names.iter().position(|r| r == lhs).unwrap(), rhs.iter().map(|s| sym(s)).collect())).collect();
    let aug = prods.len();
    prods.push((n_rules, vec![Sym::R(0)]));

    let mut nullable = vec![false; n_rules + 1];
    let mut first: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n_rules + 1];
    loop {
        let mut changed = false;
        for (lhs, rhs) in &prods {
            let mut all_nullable = true;
            for s in rhs {
                let (f, n) = match *s {
                    Sym::T(t) => (BTreeSet::from([t]), false),
                    Sym::R(r) => (first[r].clone(), nullable[r]),
                };
                let before = first[*lhs].len();
                first[*lhs].extend(f);
                changed |= first[*lhs].len() != before;
                if !n {
                    all_nullable = false;
                    break;
                }
            }
            if all_nullable && !nullable[*lhs] {
                nullable[*lhs] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let first_of = |seq: &[Sym], la: usize| -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for s in seq {
            match *s {
                Sym::T(t) => {
                    out.insert(t);
                    return out;
                }
                Sym::R(r) => {
                    out.extend(first[r].iter().copied());
                    if !nullable[r] {
                        return out;
                    }
                }
            }
        }
        out.insert(la);
        out
    };
    type Item = (usize, usize, usize);
    let closure = |kernel: BTreeSet<Item>| -> BTreeSet<Item> {
        let mut items = kernel.clone();
        let mut work: Vec<Item> = kernel.into_iter().collect();
        while let Some((p, dot, la)) = work.pop() {
            if let Some(&Sym::R(r)) = prods[p].1.get(dot) {
                for la2 in first_of(&prods[p].1[dot + 1..], la) {
                    for (q, (lhs, _)) in prods.iter().enumerate() {
                        if *lhs == r && items.insert((q, 0, la2)) {
                            work.push((q, 0, la2));
                        }
                    }
                }
            }
        }
        items
    };
    let mut states: Vec<BTreeSet<Item>> = vec![closure(BTreeSet::from([(aug, 0, end)]))];
    let mut index: BTreeMap<BTreeSet<Item>, usize> = BTreeMap::from([(states[0].clone(), 0)]);
    let mut edges: Vec<BTreeMap<Sym, usize>> = Vec::new();
    let mut s = 0;
    while s < states.len() {
        let mut kernels: BTreeMap<Sym, BTreeSet<Item>> = BTreeMap::new();
        for &(p, dot, la) in &states[s] {
            if let Some(&x) = prods[p].1.get(dot) {
                kernels.entry(x).or_default().insert((p, dot + 1, la));
            }
        }
        let mut out = BTreeMap::new();
        for (x, kernel) in kernels {
            let items = closure(kernel);
            let target = match index.get(&items) {
                Some(&t) => t,
                None => {
                    states.push(items.clone());
                    index.insert(items, states.len() - 1);
                    states.len() - 1
                }
            };
            out.insert(x, target);
        }
        edges.push(out);
        s += 1;
    }
    let n_states = states.len();
    let n_columns = n_terminals + 1;
    let mut action = vec![0u32; n_states * n_columns];
    let mut goto = vec![NONE; n_states * n_rules];
    let set = |action: &mut Vec<u32>, s: usize, col: usize, a: Action| {
        let cell = &mut action[s * n_columns + col];
        assert!(*cell == 0 || *cell == a.encode(), "LR(1) conflict in state {s} on column {col}");
        *cell = a.encode();
    };
    for (s, out) in edges.iter().enumerate() {
        for (&x, &target) in out {
            match x {
                Sym::T(t) => set(&mut action, s, t, Action::Shift(target as u32)),
                Sym::R(r) if r < n_rules => goto[s * n_rules + r] = target as u32,
                Sym::R(_) => {}
            }
        }
        for &(p, dot, la) in &states[s] {
            if dot == prods[p].1.len() {
                set(&mut action, s, la, if p == aug { Action::Accept } else { Action::Reduce(p as u32) });
            }
        }
    }
    let productions = prods[..aug]
        .iter()
        .map(|(lhs, rhs)| Production {
            lhs: RuleId::must(*lhs),
            rhs: rhs.iter().map(|s| match *s { Sym::T(t) => t as u32, Sym::R(r) => RULE_BIT | r as u32 }).collect(),
        })
        .collect();
    let table = LrTable { n_states: n_states as u32, n_columns: n_columns as u32, start_state: 0, action, goto, mode: "lr1".into() };
    (rule_names, productions, table)
}

pub fn grammar(name: &str, rules: &[(&str, &[&str])], indentation: bool) -> CompiledGrammar {
    let terminals = terminals();
    let lexer = lexer(&terminals);
    let (rule_names, productions, lr) = lr(rules);
    let indentation = indentation.then(|| Indentation {
        newline: t("_NL"),
        indent: t("_INDENT"),
        dedent: t("_DEDENT"),
        open_brackets: vec![t("LPAR")],
        close_brackets: vec![t("RPAR")],
        tab_len: 8,
    });
    CompiledGrammar {
        name: name.into(),
        start_rule: rule_names[0].clone(),
        file_extensions: vec![],
        terminals,
        rule_names,
        productions,
        ignore: vec![t("WS")],
        lexer,
        lr,
        indentation,
        auto_semicolon: None,
        contextual_lexer: false,
    }
}

pub fn encode(grammar: CompiledGrammar) -> Vec<u8> {
    syncodec_artifacts::encode(&Payload { grammar, vocab: None, masks: None }, 0, [0; 32], [0; 32], "test").unwrap()
}

/// Shared by both test grammars.
const VALUES: &[(&str, &[&str])] = &[
    ("value", &["NUMBER"]),
    ("value", &["NAME"]),
    ("value", &["ELLIPSIS"]),
    ("value", &["LPAR", "args", "RPAR"]),
    ("args", &["value"]),
    ("args", &["args", "COMMA", "value"]),
];

/// `start: stmt+ ; stmt: target "=" value _NL ; target: NAME | "(" NAME ")"`, no indentation.
pub fn assign_bytes() -> Vec<u8> {
    encode(assign_grammar())
}

pub fn assign_grammar() -> CompiledGrammar {
    let mut rules: Vec<(&str, &[&str])> = vec![
        ("start", &["stmts"]),
        ("stmts", &["stmt"]),
        ("stmts", &["stmts", "stmt"]),
        ("stmt", &["target", "EQUAL", "value", "_NL"]),
        ("target", &["NAME"]),
        ("target", &["LPAR", "NAME", "RPAR"]),
    ];
    rules.extend_from_slice(VALUES);
    grammar("assign", &rules, false)
}

/// Python-like blocks: `stmt: simple _NL | "if" NAME ":" _NL _INDENT stmts _DEDENT`.
pub fn blocks_bytes() -> Vec<u8> {
    encode(blocks_grammar())
}

pub fn blocks_grammar() -> CompiledGrammar {
    let mut rules: Vec<(&str, &[&str])> = vec![
        ("start", &["stmts"]),
        ("stmts", &["stmt"]),
        ("stmts", &["stmts", "stmt"]),
        ("stmt", &["simple", "_NL"]),
        ("stmt", &["IF", "NAME", "COLON", "_NL", "_INDENT", "stmts", "_DEDENT"]),
        ("simple", &["NAME", "EQUAL", "value"]),
        ("simple", &["NAME"]),
    ];
    rules.extend_from_slice(VALUES);
    grammar("blocks", &rules, true)
}

pub fn assign() -> Artifact {
    Artifact::from_bytes(&assign_bytes()).unwrap()
}

pub fn blocks() -> Artifact {
    Artifact::from_bytes(&blocks_bytes()).unwrap()
}

/// The mask store's global numbering of `grammar`'s DFA states: terminal t's state q is
/// `state_base[t] + q` (`NONE` for a terminal without a DFA), and the total count.
pub fn state_base(grammar: &CompiledGrammar) -> (Vec<u32>, u32) {
    let mut state_base = Vec::new();
    let mut n_states = 0u32;
    for terminal in &grammar.terminals {
        match &terminal.dfa {
            Some(d) => {
                state_base.push(n_states);
                n_states += d.n_states;
            }
            None => state_base.push(NONE),
        }
    }
    (state_base, n_states)
}

/// `grammar` with a vocabulary of `tokens` (ids in order) followed by one EOS id, and a mask store
/// whose masks are all empty: enough for a session's `accept_token` and `rollback`, whose checks
/// are exact and never read the store (its masks are not meaningful).
pub fn with_tokens(grammar: CompiledGrammar, tokens: &[&str]) -> Artifact {
    let (state_base, n_states) = state_base(&grammar);
    let mut token_offsets = vec![0u32];
    let mut token_bytes = Vec::new();
    for token in tokens.iter().chain(std::iter::once(&"<eos>")) {
        token_bytes.extend_from_slice(token.as_bytes());
        token_offsets.push(token_bytes.len() as u32);
    }
    let eos = tokens.len() as u32;
    let vocab = Vocabulary {
        width: eos + 1,
        n_tokens: eos + 1,
        token_offsets,
        token_bytes,
        special: vec![eos],
        eos: vec![eos],
        first_ids: vec![],
        first_offsets: vec![0],
        first_bytes: vec![],
        kind: "plain".into(),
        source: "test".into(),
    };
    let masks = MaskStore {
        state_base,
        live: vec![NONE; n_states as usize],
        split_start: vec![0; n_states as usize + 1],
        split_follower: vec![],
        split_mask: vec![],
        after_ignore: vec![NONE; grammar.ignore.len() * grammar.terminals.len()],
        mask_kind: vec![],
        mask_offset: vec![0],
        mask_data: vec![],
    };
    let bytes = syncodec_artifacts::encode(&Payload { grammar, vocab: Some(vocab), masks: Some(masks) }, syncodec_artifacts::header::FLAG_HAS_VOCAB, [0; 32], [0; 32], "test").unwrap();
    Artifact::from_bytes(&bytes).unwrap()
}
