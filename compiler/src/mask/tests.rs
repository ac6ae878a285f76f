//! Unit tests of the trie, the representation, the followers, and a property test: on random
//! small grammars and random vocabularies, every stored mask equals a brute-force evaluation of
//! the definition, for every state, follower and token.

use std::collections::BTreeSet;

use proptest::prelude::*;
use syncodec_artifacts::bits::IdSet;
use syncodec_artifacts::ids::{DfaStateId, RuleId, TerminalId, TokenId};
use syncodec_artifacts::schema::{MaskStore, MASK_DENSE, MASK_SPARSE, NONE, SPLIT_AFTER_IGNORE};

use super::*;
use crate::lower::Symbol;
use crate::vocab::{VocabKind, Vocabulary};

fn compile(text: &str) -> Compiled {
    let compilation = crate::compile_str("test.lark", text, &crate::CompileOptions::default());
    assert!(compilation.is_ok(), "{:?}", compilation.diagnostics);
    compilation.compiled.expect("compiled")
}

/// A vocabulary of `strings` (ids in order); `specials` are special tokens (empty bytes).
fn vocabulary(strings: &[&[u8]], specials: &[usize], width: usize) -> Vocabulary {
    let special: Vec<bool> = (0..strings.len()).map(|i| specials.contains(&i) || strings[i].is_empty()).collect();
    let bytes: Vec<Vec<u8>> = strings.iter().zip(&special).map(|(s, sp)| if *sp { Vec::new() } else { s.to_vec() }).collect();
    let eos: Vec<TokenId> = specials.iter().map(|&i| TokenId::must(i)).collect();
    let hash = Vocabulary::hash_of(&bytes, &special, &eos, width, &[]);
    Vocabulary { bytes, special, eos, width, hash, kind: VocabKind::Plain, leading_space_stripped_first: false, first_overrides: Vec::new(), model: "BPE" }
}

fn no_progress(_: usize, _: usize) {}

/// The token ids of stored mask `id`.
fn decode(store: &MaskStore, id: u32) -> BTreeSet<u32> {
    let id = id as usize;
    let data = &store.mask_data[store.mask_offset[id] as usize..store.mask_offset[id + 1] as usize];
    match store.mask_kind[id] {
        MASK_DENSE => (0..data.len() * 32).filter(|&t| data[t >> 5] & (1 << (t & 31)) != 0).map(|t| t as u32).collect(),
        MASK_SPARSE => data.iter().copied().collect(),
        k => panic!("unknown mask kind {k}"),
    }
}

fn terminal(compiled: &Compiled, name: &str) -> usize {
    compiled.bnf.terminals.iter().find(|(_, d)| d.name == name || d.display == name).map(|(id, _)| id.as_usize()).unwrap_or_else(|| panic!("no terminal {name}"))
}

// ---- brute force ---------------------------------------------------------------------------

/// The states after each prefix `bytes[..j]` (`j = 0..=len`) from `state`; `None` from the first
/// prefix whose state is dead (not live) on.
fn trace(dfa: &TerminalDfa, state: DfaStateId, bytes: &[u8]) -> Vec<Option<DfaStateId>> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    let mut s = (state != DfaStateId::DEAD && dfa.live[state]).then_some(state);
    out.push(s);
    for &b in bytes {
        s = s
            .map(|s| dfa.trans[s.as_usize() * dfa.n_classes as usize + dfa.classes[b as usize] as usize])
            .filter(|&s| s != DfaStateId::DEAD && dfa.live[s]);
        out.push(s);
    }
    out
}

/// `rest` from `f`'s start stays live to its end, or passes an accepting state of `f`.
fn partial_match(f: &TerminalDfa, rest: &[u8]) -> bool {
    let states = trace(f, f.start, rest);
    states[rest.len()].is_some() || states.iter().flatten().any(|&s| f.accepting[s])
}

/// `live(q)` and `split(q, f)` for each `f` in `followers`, straight from the definition.
fn brute_state(dfa: &TerminalDfa, q: DfaStateId, followers: &[(usize, &TerminalDfa)], vocab: &Vocabulary) -> (BTreeSet<u32>, Vec<BTreeSet<u32>>) {
    let mut live = BTreeSet::new();
    let mut split = vec![BTreeSet::new(); followers.len()];
    for (t, b) in vocab.bytes.iter().enumerate() {
        if vocab.special[t] || b.is_empty() {
            continue;
        }
        let states = trace(dfa, q, b);
        if states[b.len()].is_some() {
            live.insert(t as u32);
        }
        // Maximal munch: only the last accepting offset can end the lexeme, none when the
        // token ends accepting.
        let accepting: Vec<usize> = (0..=b.len()).filter(|&i| states[i].is_some_and(|s| dfa.accepting[s])).collect();
        if let Some(&i) = accepting.last().filter(|&&i| i < b.len()) {
            for (slot, (_, f)) in split.iter_mut().zip(followers) {
                if partial_match(f, &b[i..]) {
                    slot.insert(t as u32);
                }
            }
        }
    }
    (live, split)
}

/// Checks every state, follower and token of `built` against the definition, and the store's
/// own invariants (representation by size, no duplicate masks).
fn check_against_definition(compiled: &Compiled, vocab: &Vocabulary, built: &MaskBuild) -> Result<(), TestCaseError> {
    check_sample(compiled, vocab, built, 1)
}

/// [`check_against_definition`] on every `every`-th state (global numbering) only.
fn check_sample(compiled: &Compiled, vocab: &Vocabulary, built: &MaskBuild, every: usize) -> Result<(), TestCaseError> {
    let store = &built.store;
    let followers = follow::followers(compiled);
    let dense_words = vocab.bytes.len().div_ceil(32);
    let mut seen = BTreeSet::new();
    for id in 0..store.mask_kind.len() as u32 {
        let set = decode(store, id);
        // Only a refined `%ignore` split entry can be empty (it still says "refine here").
        prop_assert_eq!(store.mask_kind[id as usize] == MASK_DENSE, dense_words <= set.len(), "mask {} has the wrong representation", id);
        prop_assert!(seen.insert(set), "mask {} is stored twice", id);
    }
    let mut n_split = 0;
    for (t, dfa) in compiled.lexical.terminals.iter() {
        let t = t.as_usize();
        let Some(dfa) = dfa else {
            prop_assert_eq!(store.state_base[t], NONE);
            continue;
        };
        for q in dfa.live.ids() {
            let g = store.state_base[t] as usize + q.as_usize();
            let stored_live = if store.live[g] == NONE { BTreeSet::new() } else { decode(store, store.live[g]) };
            let entries: Vec<(u32, u32)> = (store.split_start[g]..store.split_start[g + 1]).map(|e| (store.split_follower[e as usize], store.split_mask[e as usize])).collect();
            n_split += entries.len();
            if q == DfaStateId::DEAD || !dfa.live[q] {
                prop_assert!(stored_live.is_empty() && entries.is_empty());
                continue;
            }
            if !g.is_multiple_of(every) {
                continue;
            }
            let fs: Vec<(usize, &TerminalDfa)> = followers[t].iter().map(|f| (f.as_usize(), compiled.lexical.terminals[f].as_ref().expect("followers have DFAs"))).collect();
            let (live, split) = brute_state(dfa, q, &fs, vocab);
            prop_assert_eq!(&stored_live, &live, "live, terminal {} state {}", t, q);
            prop_assert!(entries.windows(2).all(|w| w[0].0 & !SPLIT_AFTER_IGNORE < w[1].0 & !SPLIT_AFTER_IGNORE), "followers not increasing");
            let expected: Vec<(u32, BTreeSet<u32>)> = fs
                .iter()
                .zip(split)
                .filter(|(_, set)| !set.is_empty())
                .map(|((f, fdfa), set)| match refined(compiled, dfa, q, *f, fdfa) {
                    Some(starts) => (*f as u32 | SPLIT_AFTER_IGNORE, set.into_iter().filter(|&t| !vocab.bytes[t as usize].first().is_some_and(|&b| starts[b as usize])).collect()),
                    None => (*f as u32, set),
                })
                .collect();
            let got: Vec<(u32, BTreeSet<u32>)> = entries.iter().map(|&(f, m)| (f, decode(store, m))).collect();
            prop_assert_eq!(got, expected, "split, terminal {} state {}", t, q);
        }
    }
    prop_assert_eq!(n_split, built.stats.n_split_entries);
    // after_ignore[g][f], from the definition.
    let n_terminals = compiled.bnf.terminals.len();
    prop_assert_eq!(store.after_ignore.len(), compiled.bnf.ignore.len() * n_terminals);
    for (j, g) in compiled.bnf.ignore.iter().enumerate() {
        let Some(gdfa) = compiled.lexical.terminals.as_slice()[g.as_usize()].as_ref() else { continue };
        for (f, fdfa) in compiled.lexical.terminals.iter() {
            let stored = match store.after_ignore[j * n_terminals + f.as_usize()] {
                NONE => BTreeSet::new(),
                id => decode(store, id),
            };
            let Some(fdfa) = fdfa else {
                prop_assert!(stored.is_empty());
                continue;
            };
            let mut expected = BTreeSet::new();
            for (t, b) in vocab.bytes.iter().enumerate() {
                if vocab.special[t] || b.is_empty() {
                    continue;
                }
                let states = trace(gdfa, gdfa.start, b);
                let accepting: Vec<usize> = (1..=b.len()).filter(|&i| states[i].is_some_and(|s| gdfa.accepting[s])).collect();
                if accepting.last().is_some_and(|&i| i < b.len() && partial_match(fdfa, &b[i..])) {
                    expected.insert(t as u32);
                }
            }
            prop_assert_eq!(stored, expected, "after_ignore, ignored {} follower {}", g.as_usize(), f.as_usize());
        }
    }
    Ok(())
}

/// The bytes that can start `%ignore` terminal `f`, when split entries of state `q` for `f` are
/// refined: `f` is ignored, `q` accepts, and no such byte continues `q`.
fn refined(compiled: &Compiled, dfa: &TerminalDfa, q: DfaStateId, f: usize, fdfa: &TerminalDfa) -> Option<[bool; 256]> {
    if !compiled.bnf.ignore.iter().any(|g| g.as_usize() == f) || !dfa.accepting[q] {
        return None;
    }
    let mut starts = [false; 256];
    for b in 0..=255u8 {
        starts[b as usize] = trace(fdfa, fdfa.start, &[b])[1].is_some();
    }
    let continues = (0..=255u8).any(|b| starts[b as usize] && trace(dfa, q, &[b])[1].is_some());
    (!continues).then_some(starts)
}

// ---- unit tests ------------------------------------------------------------------------------

#[test]
fn trie_is_preorder_with_subtree_ranges() {
    let vocab = vocabulary(&[b"ab", b"a", b"b", b"abc", b"", b"ab", b"ba"], &[], 7);
    let tokens = tokens::Tokens::new(&vocab).unwrap();
    let strings: Vec<&[u8]> = (0..tokens.n_strings()).map(|k| tokens.string(k)).collect();
    assert_eq!(strings, vec![&b"a"[..], b"ab", b"abc", b"b", b"ba"]);
    assert_eq!(tokens.ids_of(1), &[0, 5]);
    // Nodes: root, a, ab, abc, b, ba.
    let shape: Vec<(u8, u32, u32, u32)> = tokens.nodes.iter().map(|n| (n.byte, n.depth, n.end, n.string)).collect();
    assert_eq!(shape, vec![(0, 0, 6, tokens::NO_STRING), (b'a', 1, 4, 0), (b'b', 2, 4, 1), (b'c', 3, 4, 2), (b'b', 1, 6, 3), (b'a', 2, 6, 4)]);
    let ranges: Vec<(u32, u32)> = tokens.nodes.iter().map(|n| (n.tok_lo, n.tok_hi)).collect();
    assert_eq!(ranges, vec![(0, 5), (0, 3), (1, 3), (2, 3), (3, 5), (4, 5)]);
    assert_eq!(tokens.max_len, 3);
}

#[test]
fn representation_is_dense_exactly_when_not_larger() {
    // 64 tokens: 2 dense words.
    let mut bits = vec![0u32; 2];
    bits[1] = 0b100;
    let sparse = store::encode(bits.clone());
    assert_eq!((sparse.kind, sparse.data.clone()), (MASK_SPARSE, vec![34]));
    bits[0] = 1;
    let dense = store::encode(bits.clone());
    assert_eq!((dense.kind, dense.data.clone()), (MASK_DENSE, bits.clone()));
    let mut interner = store::Interner::new();
    let a = interner.intern(sparse).unwrap();
    let b = interner.intern(dense).unwrap();
    let again = interner.intern(store::encode(bits)).unwrap();
    assert_eq!((a, b, again, interner.n_masks()), (0, 1, 1, 2));
    assert_eq!(interner.offset, vec![0, 1, 3]);
}

#[test]
fn json_masks_on_a_small_vocabulary() {
    let compiled = compile(include_str!("../../../grammars/json.ebnf"));
    let strings: &[&[u8]] = &[b"\"", b"\"a", b"a\"", b"a\",", b"1", b"12", b"1,", b"true", b"tr", b" ", b"\",\"", b"<eos>", b"", b"\"\n"];
    let vocab = vocabulary(strings, &[11], 16);
    let built = build(&compiled, &vocab, &no_progress).unwrap();
    check_against_definition(&compiled, &vocab, &built).unwrap();

    let store = &built.store;
    let string = terminal(&compiled, "STRING");
    let dfa = compiled.lexical.terminals.as_slice()[string].as_ref().unwrap();
    // Inside a string (after `"`): `a`-like text stays live, a closing quote splits.
    let inside = dfa.next(dfa.start, b'"');
    let g = store.state_base[string] as usize + inside.as_usize();
    assert_eq!(decode(store, store.live[g]), BTreeSet::from([0, 2, 4, 5, 6, 7, 8, 9]));
    let comma = terminal(&compiled, "\",\"") as u32;
    let colon = terminal(&compiled, "\":\"") as u32;
    let followers: Vec<u32> = (store.split_start[g]..store.split_start[g + 1]).map(|e| store.split_follower[e as usize]).collect();
    // `a",` and `","` continue with a comma; no token continues with a colon (empty: not stored).
    assert!(followers.contains(&comma) && !followers.contains(&colon), "{followers:?}");
    let e = (store.split_start[g]..store.split_start[g + 1]).find(|&e| store.split_follower[e as usize] == comma).unwrap();
    assert_eq!(decode(store, store.split_mask[e as usize]), BTreeSet::from([3, 10]));
    // Special and empty tokens are in no mask.
    for id in 0..store.mask_kind.len() as u32 {
        let set = decode(store, id);
        assert!(!set.contains(&11) && !set.contains(&12) && set.iter().all(|&t| t < 14));
    }
    assert_eq!(built.stats.n_strings, 12);
    assert_eq!(built.stats.n_split_entries, store.split_follower.len());
}

#[test]
fn followers_cover_ignored_layout_and_declared_terminals() {
    let compiled = compile("start: \"a\" SEMI \"b\" | \"c\"\n%declare SEMI\nWS: / +/\n%ignore WS\n");
    let followers = follow::followers(&compiled);
    let names = |set: &IdSet<TerminalId>| -> Vec<String> { set.iter().map(|f| compiled.bnf.terminals[f].display.clone()).collect() };
    let a = terminal(&compiled, "\"a\"");
    assert_eq!(names(&followers[a]), vec!["\"b\"".to_string(), "WS".to_string()]);
    let ws = terminal(&compiled, "WS");
    assert_eq!(followers[ws].iter().count(), 4, "{:?}", names(&followers[ws]));
    assert!(followers[terminal(&compiled, "SEMI")].iter().all(|f| compiled.lexical.terminals[f].is_some()));

    let python_like = "start: stmt+\nstmt: NAME _NEWLINE | \"if\" NAME \":\" _NEWLINE _INDENT stmt+ _DEDENT\nNAME: /[a-z]+/\n_NEWLINE: /\\n[ ]*/\n%ignore / +/\n%declare _INDENT _DEDENT\n";
    let compiled = compile(python_like);
    let followers = follow::followers(&compiled);
    let newline = terminal(&compiled, "_NEWLINE");
    let colon = terminal(&compiled, "\":\"");
    let name = terminal(&compiled, "NAME");
    let id = TerminalId::must;
    assert!(followers[name].contains(id(newline)) && followers[name].contains(id(colon)));
    // The newline may come anywhere (inside brackets), and anything may follow it.
    assert!(followers[terminal(&compiled, "\"if\"")].contains(id(newline)));
    assert_eq!(followers[newline].iter().count(), compiled.lexical.terminals.values().filter(|d| d.is_some()).count());
}

#[test]
fn output_is_deterministic_across_thread_counts() {
    let compiled = compile(include_str!("../../../grammars/json.ebnf"));
    let strings: Vec<Vec<u8>> = (0..300u32).map(|i| format!("{}{}", ["\"", "1", " ", "tr", ",", "e"][i as usize % 6], i).into_bytes()).collect();
    let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
    let vocab = vocabulary(&refs, &[], 300);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| build(&compiled, &vocab, &no_progress).unwrap());
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(|| build(&compiled, &vocab, &no_progress).unwrap());
    assert_eq!(one.store, four.store);
    assert_eq!(one.stats, four.stats);
    assert!(one.stats.n_dense > 0, "{:?}", one.stats);
    check_against_definition(&compiled, &vocab, &one).unwrap();
}

#[test]
fn an_empty_vocabulary_gives_an_empty_store() {
    let compiled = compile("start: \"a\"+\n");
    let vocab = vocabulary(&[b"", b"x"], &[1], 2);
    let built = build(&compiled, &vocab, &no_progress).unwrap();
    assert!(built.store.mask_kind.is_empty() && built.store.live.iter().all(|&l| l == NONE));
    assert_eq!(built.store.split_start.len(), built.store.live.len() + 1);
}

// ---- property test ---------------------------------------------------------------------------

/// Terminal patterns over the alphabet `a b c` and space; none matches the empty string.
const PATTERNS: &[&str] = &[
    "\"a\"", "\"ab\"", "\"abc\"", "\"b\"", "\"ca\"", "/a+/", "/[ab]+/", "/(ab)*c/", "/b?c/", "/a|bc/", "/c[ab]*c/", "/a[^c]*b/", "/ +/", "/[abc]/", "/(a|b)c?a/",
];

/// A random grammar: `n_t` terminals with random patterns, random rules over them, a start
/// rule that uses every terminal and rule, and optionally one `%ignore` terminal.
fn grammar_strategy() -> impl Strategy<Value = String> {
    (1usize..=4, 0usize..=3, any::<bool>()).prop_flat_map(|(n_t, n_r, ignore)| {
        let patterns = proptest::collection::vec(0..PATTERNS.len(), n_t);
        let symbol = 0..n_t + n_r;
        let alternative = proptest::collection::vec(symbol, 1..=3);
        let rules = proptest::collection::vec(proptest::collection::vec(alternative, 0..=2), n_r);
        (Just(n_t), Just(n_r), Just(ignore), patterns, rules).prop_map(|(n_t, n_r, ignore, patterns, rules)| {
            let name = |s: usize| if s < n_t { format!("T{s}") } else { format!("r{}", s - n_t) };
            let mut text = String::new();
            let all: Vec<String> = (0..n_t + n_r).map(name).collect();
            text.push_str(&format!("start: ({})+\n", all.join(" | ")));
            for (r, alternatives) in rules.iter().enumerate() {
                // The first alternative is a terminal, so every rule is productive.
                let mut alts = vec![name(r % n_t)];
                alts.extend(alternatives.iter().map(|a| a.iter().map(|&s| name(s)).collect::<Vec<_>>().join(" ")));
                text.push_str(&format!("r{r}: {}\n", alts.join(" | ")));
            }
            for (t, p) in patterns.iter().enumerate() {
                text.push_str(&format!("T{t}: {}\n", PATTERNS[*p]));
            }
            if ignore {
                text.push_str("WS: /[ ]+/\n%ignore WS\n");
            }
            text
        })
    })
}

/// Random tokens over a small alphabet (with a byte no terminal uses), some special or empty.
fn vocab_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>, usize)> {
    let token = proptest::collection::vec(proptest::sample::select(b"abc z".to_vec()), 0..=5);
    (proptest::collection::vec(token, 1..=40), proptest::collection::vec(0usize..40, 0..=3), 0usize..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stored_masks_equal_the_definition(text in grammar_strategy(), (strings, specials, extra) in vocab_strategy()) {
        let compilation = crate::compile_str("random.lark", &text, &crate::CompileOptions::default());
        // LR conflicts leave usable tables (one action per cell); other errors end the case.
        let Some(compiled) = compilation.compiled else { return Ok(()) };
        let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
        let specials: Vec<usize> = specials.into_iter().filter(|&s| s < strings.len()).collect();
        let vocab = vocabulary(&refs, &specials, strings.len() + extra);
        let built = build(&compiled, &vocab, &no_progress).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_against_definition(&compiled, &vocab, &built)?;
    }

    /// Follow(τ) is sound: in random sentences of conflict-free grammars, each terminal is
    /// followed by a member of its Follow set.
    #[test]
    fn followers_contain_every_next_terminal_of_random_sentences(text in grammar_strategy(), seed in any::<u64>()) {
        let compilation = crate::compile_str("random.lark", &text, &crate::CompileOptions::default());
        let Some(compiled) = compilation.ok() else { return Ok(()) };
        let followers = follow::followers(compiled);
        let min = crate::lr::MinSentences::compute(&compiled.bnf);
        let mut rng = seed | 1;
        for _ in 0..8 {
            let sentence = random_sentence(compiled, &min, &mut rng);
            prop_assert!(crate::lr::recognizes(&compiled.lr, &compiled.bnf, &sentence));
            for pair in sentence.windows(2) {
                prop_assert!(followers[pair[0].as_usize()].contains(pair[1]), "{:?} then {:?} in {}", pair[0], pair[1], text);
            }
        }
    }
}

fn next_random(state: &mut u64, n: usize) -> usize {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
}

/// Random productions up to depth 6, shortest sentences below.
fn random_sentence(compiled: &Compiled, min: &crate::lr::MinSentences, rng: &mut u64) -> Vec<TerminalId> {
    fn go(c: &Compiled, min: &crate::lr::MinSentences, rng: &mut u64, rule: RuleId, depth: usize, out: &mut Vec<TerminalId>) {
        let b = &c.bnf;
        if depth > 6 || out.len() > 30 {
            out.extend(min.expand(b, &[Symbol::Rule(rule)]).into_iter().filter_map(|s| if let Symbol::Terminal(t) = s { Some(t) } else { None }));
            return;
        }
        let prods = &b.rules[rule].productions;
        let p = prods[next_random(rng, prods.len())];
        for &s in &b.productions[p].rhs {
            match s {
                Symbol::Terminal(t) => out.push(t),
                Symbol::Rule(r) => go(c, min, rng, r, depth + 1, out),
            }
        }
    }
    let mut out = Vec::new();
    go(compiled, min, rng, compiled.bnf.start, 0, &mut out);
    out
}


// ---- a real tokenizer ------------------------------------------------------------------------

/// `../shared/tokenizers/NAME` next to the workspace. Outside CI a missing file means "skip"
/// (returns `None` after printing why); under `CI=true` it is a test failure.
fn shared_tokenizer(name: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tokenizers").join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but {} is missing: real-data tests must not be skipped in CI", path.display());
    }
    eprintln!("skipping: {} not found", path.display());
    None
}

#[test]
fn json_with_llama3_matches_the_definition_and_opens_packed_and_unpacked() {
    use syncodec_runtime::artifact::Artifact;
    let Some(path) = shared_tokenizer("llama3.json") else { return };
    let compiled = compile(include_str!("../../../grammars/json.ebnf"));
    let vocab = crate::vocab::load(&path, &crate::vocab::VocabOptions::default()).unwrap();
    let built = build(&compiled, &vocab, &no_progress).unwrap();
    check_against_definition(&compiled, &vocab, &built).unwrap();
    assert!(built.stats.n_masks > 0 && built.stats.n_split_entries > 0, "{:?}", built.stats);

    let bytes = crate::emit::encode_with_masks(&compiled, &vocab, "llama3.json", built.store.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("json.syncode");
    crate::emit::write_atomic(&file, &bytes).unwrap();
    let packed = dir.path().join("json.syncode.zst");
    let packed_len = crate::emit::write_packed(&packed, &bytes, 3).unwrap();
    assert!(packed_len < bytes.len(), "{packed_len} of {}", bytes.len());

    let plain = Artifact::open(&file).unwrap();
    let unpacked = Artifact::open(&packed).unwrap();
    for artifact in [&plain, &unpacked] {
        artifact.verify_integrity().unwrap();
        artifact.check_vocabulary(&vocab.hash).unwrap();
        assert_eq!(artifact.len(), bytes.len());
        let archived = artifact.payload();
        let v = archived.vocab.as_ref().unwrap();
        assert_eq!((v.n_tokens.to_native(), v.width.to_native()), (128_256, 128_256));
        assert_eq!(v.source.as_str(), "llama3.json");
        let m = archived.masks.as_ref().unwrap();
        assert_eq!(m.mask_data.len(), built.store.mask_data.len());
        assert_eq!(m.split_follower.len(), built.stats.n_split_entries);
    }
    // Same header (and so the same payload checksum, verified above) for both files.
    assert_eq!(plain.header(), unpacked.header());
    assert!(plain.check_vocabulary(&[0; 32]).is_err());
}

#[test]
fn python_with_gpt2_matches_the_definition_on_sampled_states() {
    let Some(path) = shared_tokenizer("gpt2.json") else { return };
    let compiled = compile(include_str!("../../../grammars/python.ebnf"));
    let vocab = crate::vocab::load(&path, &crate::vocab::VocabOptions::default()).unwrap();
    let built = build(&compiled, &vocab, &no_progress).unwrap();
    // Every 41st state: FSTRING's nested fields, STRING bodies, operators, names, the newline.
    check_sample(&compiled, &vocab, &built, 41).unwrap();
}

