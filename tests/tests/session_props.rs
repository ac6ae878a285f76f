//! Mask invariants of the runtime `Session` against its exact oracle, on small random
//! vocabularies where trying every token at every position is cheap.
//!
//! For each text (random JSON sentences from the grammar, real Python and Go snippets), a
//! random vocabulary is made of all single bytes plus random substrings of the text, special
//! tokens and an EOS; the text is cut into random tokens of that vocabulary and teacher-forced.
//! At every position:
//! - the true next token is in the mask (soundness), and so is every token the exact oracle
//!   (`is_token_valid`) accepts: no false rejections at all;
//! - special tokens are never in the mask; EOS is in it exactly when the text is complete;
//! - `describe_mask` (stored-mask ids plus edits) rebuilds exactly the same row;
//! - `rollback` restores the exact earlier mask;
//! - the mask is exact: every token in it is accepted (no false allowances either).
//!
//! Random walks (`*_random_walks_accept_every_sampled_token`) sample uniformly among the
//! tokens of the mask (EOS included when set), with random rollbacks, for at least 10,000 steps
//! per grammar: every sampled token must be accepted, and a rolled-back mask must equal the one
//! before.

use syncodec::vocab::{VocabKind, Vocabulary};
use syncodec_artifacts::bits;
use syncodec_e2e::generate::{Generator, Rng};
use syncodec_e2e::workspace_root;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::masks::{MaskStore, Vocab};
use syncodec_runtime::session::{MaskDescription, Session};

fn vocabulary(text: &[u8], rng: &mut Rng, extra: usize) -> Vocabulary {
    // Specials first: 0 = EOS, 1 = another control token.
    let mut bytes: Vec<Vec<u8>> = vec![b"<eos>".to_vec(), b"<pad>".to_vec()];
    bytes.extend((0..=255u8).map(|b| vec![b]));
    let mut seen: std::collections::HashSet<Vec<u8>> = bytes.iter().cloned().collect();
    for _ in 0..extra * 4 {
        if bytes.len() >= 258 + extra || text.len() < 2 {
            break;
        }
        let len = 2 + rng.below(6);
        let start = rng.below(text.len().saturating_sub(1));
        let piece = text[start..(start + len).min(text.len())].to_vec();
        if piece.len() >= 2 && seen.insert(piece.clone()) {
            bytes.push(piece);
        }
    }
    let mut special = vec![false; bytes.len()];
    special[0] = true;
    special[1] = true;
    let eos = vec![syncodec::vocab::TokenId::must(0)];
    let width = bytes.len() + 5; // padded logits
    let hash = Vocabulary::hash_of(&bytes, &special, &eos, width, &[]);
    Vocabulary { bytes, special, eos, width, hash, kind: VocabKind::ByteLevel, leading_space_stripped_first: false, first_overrides: Vec::new(), model: "test" }
}

/// Cuts `text` into random tokens of `vocab` (single bytes always exist).
fn tokenize(text: &[u8], vocab: &Vocabulary, rng: &mut Rng) -> Vec<u32> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let fits: Vec<u32> = (2..vocab.bytes.len() as u32).filter(|&id| text[at..].starts_with(&vocab.bytes[id as usize])).collect();
        let longest = fits.iter().copied().max_by_key(|&id| vocab.bytes[id as usize].len()).unwrap_or(0);
        let id = if rng.below(2) == 0 { longest } else { fits[rng.below(fits.len())] };
        out.push(id);
        at += vocab.bytes[id as usize].len();
    }
    out
}

fn bit(row: &[u32], id: u32) -> bool {
    bits::row::get(row, id as usize)
}

fn rebuild(artifact: &Artifact, d: &MaskDescription, words: usize) -> Vec<u32> {
    let payload = artifact.payload();
    let vocab = Vocab::new(payload.vocab.as_ref().unwrap());
    let store = MaskStore::new(payload.masks.as_ref().unwrap(), &vocab);
    let mut row = vec![0u32; words];
    d.build_row(&store, &mut row).unwrap();
    row
}

/// Teacher-forces `text`; returns (positions, false-allowed tokens) for the report.
fn check_text(compiled: &syncodec::Compiled, text: &[u8], seed: u64) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let vocab = vocabulary(text, &mut rng, 120);
    let bytes = syncodec::build_artifact(compiled, &vocab, "test", &|_, _| {}).expect("the artifact builds").bytes;
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let tokens = tokenize(text, &vocab, &mut rng);
    let mut session = Session::new(&artifact).unwrap();
    let words = session.bitmask_words();
    let n = vocab.bytes.len() as u32;
    let mut rows: Vec<Vec<u32>> = Vec::new();
    // Exact masks: asserted 0 below, reported for the summary lines.
    let false_allowed = 0;
    let context = |s: &Session<'_>| String::from_utf8_lossy(s.text()).into_owned();
    for (pos, &id) in tokens.iter().enumerate() {
        let mut row = vec![0u32; words];
        session.fill_bitmask(&mut row).unwrap();
        assert!(bit(&row, id), "seed {seed}: true token {:?} not in the mask after {:?}", String::from_utf8_lossy(&vocab.bytes[id as usize]), context(&session));
        for t in 0..n {
            let valid = session.is_token_valid(t);
            if valid {
                assert!(bit(&row, t), "seed {seed}: valid token {:?} rejected after {:?}", String::from_utf8_lossy(&vocab.bytes[t as usize]), context(&session));
            } else {
                assert!(!bit(&row, t), "seed {seed}: token {:?} allowed after {:?} but refused", String::from_utf8_lossy(&vocab.bytes[t as usize]), context(&session));
            }
        }
        assert!(!bit(&row, 1), "special token in the mask");
        assert_eq!(bit(&row, 0), session.is_complete(), "EOS bit differs from is_complete after {:?}", context(&session));
        for t in n..(words as u32 * 32) {
            assert!(!bit(&row, t), "padding id {t} allowed");
        }
        let d = session.describe_mask().unwrap();
        assert_eq!(rebuild(&artifact, &d, words), row, "describe_mask differs at position {pos}");
        rows.push(row);
        session.accept_token(id).unwrap_or_else(|e| panic!("seed {seed}: accept {:?} failed: {e}", String::from_utf8_lossy(&vocab.bytes[id as usize])));
        // Now and then, roll back a few tokens and check the mask, then replay them.
        if pos > 3 && rng.below(8) == 0 {
            let back = 1 + rng.below(3);
            session.rollback(back).unwrap();
            let mut again = vec![0u32; words];
            session.fill_bitmask(&mut again).unwrap();
            assert_eq!(again, rows[pos + 1 - back], "rollback({back}) at {pos} does not restore the mask");
            for &t in &tokens[pos + 1 - back..=pos] {
                session.accept_token(t).unwrap();
            }
        }
    }
    assert!(session.is_complete(), "seed {seed}: complete text not complete: {:?}", context(&session));
    session.accept_token(0).unwrap();
    assert!(session.accept_token(2).is_err(), "a token after EOS must be refused");
    (tokens.len(), false_allowed)
}

fn compile(name: &str) -> syncodec::Compilation {
    syncodec::compile_path(&workspace_root().join(format!("grammars/{name}.ebnf")), &Default::default()).unwrap()
}

#[test]
fn json_random_sentences_have_sound_exact_masks() {
    let compilation = compile("json");
    let compiled = compilation.ok().expect("json.ebnf compiles");
    let artifact = Artifact::from_bytes(&syncodec::emit::encode(compiled).unwrap()).unwrap();
    let generator = Generator::new(compiled);
    let (mut positions, mut false_allowed, mut texts) = (0, 0, 0);
    for seed in 0..80u64 {
        let mut rng = Rng::new(seed);
        let terminals = generator.terminals(&mut rng, 9);
        let (text, _) = generator.text(&terminals, &mut rng);
        if syncodec_runtime::parser::parse(artifact.grammar(), &text).is_err() || text.is_empty() {
            continue;
        }
        let (p, f) = check_text(compiled, &text, seed);
        positions += p;
        false_allowed += f;
        texts += 1;
    }
    assert!(texts >= 20, "too few texts generated: {texts}");
    println!("json: {texts} texts, {positions} positions, {false_allowed} false-allowed tokens");
}

const PYTHON: &[&str] = &[
    "import os\n\n\ndef f(a, b=1, *c, **d):\n    \"\"\"Doc.\"\"\"\n    if a:\n        return b  # c\n    elif not a:\n        pass\n    else:\n        x = [i for i in c if i]\n    return 1e5 + 0x1F\n\nclass C(B):\n    def g(self):\n        return self.x\n",
    "try:\n    x = {'a': 1, \"b\": (2, 3)}\nexcept (A, B) as e:\n    raise\nfinally:\n    y = lambda q: q ** 2\nwith open(p) as f, g() as h:\n\tz = f.read()\nwhile True:\n    break\n",
    "@decorator\nasync def main():\n    await x\n    async for i in y:\n        print(i, end='')\n    match v:\n        case [1, 2]:\n            pass\n        case _:\n            pass\nx = (1 +\n     2)\nif x: y = 1\n",
];

#[test]
fn python_snippets_have_sound_exact_masks() {
    let compilation = compile("python");
    let compiled = compilation.ok().expect("python.ebnf compiles");
    let (mut positions, mut false_allowed) = (0, 0);
    for (i, text) in PYTHON.iter().enumerate() {
        for seed in 0..4u64 {
            let (p, f) = check_text(compiled, text.as_bytes(), seed * 100 + i as u64);
            positions += p;
            false_allowed += f;
        }
    }
    println!("python: {positions} positions, {false_allowed} false-allowed tokens");
}

const GO: &str = "package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\ntype T[K comparable, V any] struct {\n\tm map[K]V\n}\n\nfunc (t *T[K, V]) Get(k K) (V, bool) {\n\tv, ok := t.m[k]\n\treturn v, ok\n}\n\nfunc main() {\n\tx := []int{1, 2, 3}\n\tfor i := range x {\n\t\tfmt.Println(i, 'a', `raw`)\n\t}\n\tif s := strings.TrimSpace(\" a \"); s != \"\" {\n\t\tx = append(x, 0x10)\n\t}\n}\n";

#[test]
fn go_snippet_has_sound_exact_masks() {
    let compilation = compile("go");
    let compiled = compilation.ok().expect("go.ebnf compiles");
    let (mut positions, mut false_allowed) = (0, 0);
    for seed in 0..6u64 {
        let (p, f) = check_text(compiled, GO.as_bytes(), seed);
        positions += p;
        false_allowed += f;
    }
    println!("go: {positions} positions, {false_allowed} false-allowed tokens");
}

/// Random walks over the mask: from the empty text, sample a token uniformly among the allowed
/// ones, accept it (it must be accepted), now and then roll back a few tokens (the mask must be
/// the one seen before); a walk ends at EOS, at an empty mask (a dead end: counted, not
/// failed here) or after `max_len` tokens. Returns (steps, dead ends).
fn random_walks(compiled: &syncodec::Compiled, corpus: &[u8], seed: u64, steps: usize, max_len: usize) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let vocab = vocabulary(corpus, &mut rng, 150);
    let bytes = syncodec::build_artifact(compiled, &vocab, "test", &|_, _| {}).expect("the artifact builds").bytes;
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let cache = std::sync::Arc::new(syncodec_runtime::session::MaskCache::default());
    let (mut done, mut dead_ends) = (0, 0);
    while done < steps {
        let mut session = Session::with_cache(&artifact, Default::default(), cache.clone()).unwrap();
        let words = session.bitmask_words();
        let mut rows: Vec<Vec<u32>> = Vec::new();
        loop {
            let mut row = vec![0u32; words];
            session.fill_bitmask(&mut row).unwrap();
            let allowed: Vec<u32> = bits::row::iter_ones(&row).map(|t| t as u32).collect();
            if allowed.is_empty() {
                dead_ends += 1;
                break;
            }
            let id = allowed[rng.below(allowed.len())];
            let text = String::from_utf8_lossy(session.text()).into_owned();
            session.accept_token(id).unwrap_or_else(|e| panic!("seed {seed}: sampled token {:?} refused after {text:?}: {e}", String::from_utf8_lossy(&vocab.bytes[id as usize])));
            rows.push(row);
            done += 1;
            if id == 0 || rows.len() >= max_len {
                break;
            }
            if rows.len() > 3 && rng.below(10) == 0 {
                let back = 1 + rng.below(3);
                session.rollback(back).unwrap();
                rows.truncate(rows.len() - back + 1);
                let mut again = vec![0u32; words];
                session.fill_bitmask(&mut again).unwrap();
                let before = rows.pop().unwrap_or_default();
                assert_eq!(again, before, "seed {seed}: rollback({back}) does not restore the mask after {:?}", String::from_utf8_lossy(session.text()));
            }
        }
    }
    (done, dead_ends)
}

fn walk_grammar(name: &str, corpus: &[&str], min_steps: usize) {
    let compilation = compile(name);
    let compiled = compilation.ok().unwrap_or_else(|| panic!("{name}.ebnf compiles"));
    let per = min_steps.div_ceil(corpus.len());
    let (mut steps, mut dead_ends) = (0, 0);
    for (i, text) in corpus.iter().enumerate() {
        let (s, d) = random_walks(compiled, text.as_bytes(), 7 + i as u64, per, 60);
        steps += s;
        dead_ends += d;
    }
    assert!(steps >= min_steps);
    println!("{name}: {steps} random-walk steps, every sampled token accepted; {dead_ends} walks reached an empty mask");
}

const JSON_WALK: &[&str] = &["{\"a\": [1, 2.5e-3, true, null], \"b\": {\"c\": \"d\\u00e9\"}}", "[[], {}, -0, \"x y\", false]"];

#[test]
fn json_random_walks_accept_every_sampled_token() {
    walk_grammar("json", JSON_WALK, 10_000);
}

#[test]
fn python_random_walks_accept_every_sampled_token() {
    walk_grammar("python", PYTHON, 10_000);
}

#[test]
fn go_random_walks_accept_every_sampled_token() {
    walk_grammar("go", &[GO], 10_000);
}

#[test]
fn sql_random_walks_accept_every_sampled_token() {
    walk_grammar("sql", &["SELECT a, b AS c FROM t JOIN u ON t.x = u.y WHERE a > 1 AND b LIKE 'x%' GROUP BY a ORDER BY 2 DESC LIMIT 10;", "INSERT INTO t (a, b) VALUES (1, 'two'), (3, NULL); UPDATE t SET a = a + 1 WHERE b IS NOT NULL;"], 10_000);
}

/// Tab indentation is masked like space indentation (issue 12): after a block's first line
/// indented with a tab, a second line indented with two tabs must be refused, and so must every
/// token that would start it.
#[test]
fn tab_indentation_is_masked() {
    let compilation = compile("python");
    let compiled = compilation.ok().expect("python.ebnf compiles");
    for prefix in ["if a:\n\tx = 1\n\t\t", "if a:\n    x = 1\n        "] {
        let mut rng = Rng::new(3);
        let vocab = vocabulary(b"if a:\n\tx = 1\n\ty = 2\n    z = 3\n\t\tpass\n", &mut rng, 60);
        let bytes = syncodec::build_artifact(compiled, &vocab, "test", &|_, _| {}).expect("the artifact builds").bytes;
        let artifact = Artifact::from_bytes(&bytes).unwrap();
        let mut session = Session::new(&artifact).unwrap();
        session.feed_text(prefix.as_bytes()).unwrap();
        let mut row = vec![0u32; session.bitmask_words()];
        session.fill_bitmask(&mut row).unwrap();
        let y = vocab.bytes.iter().position(|b| b == b"y").unwrap() as u32;
        assert!(!bit(&row, y), "`y` allowed after {prefix:?}");
        for t in bits::row::iter_ones(&row) {
            assert!(session.is_token_valid(t as u32), "{:?} allowed after {prefix:?} but refused", String::from_utf8_lossy(&vocab.bytes[t]));
        }
    }
}

/// Dead ends (issue 12): a keyword followed by the first byte of a multi-byte character was
/// accepted although every completed character makes the keyword a longer NAME, which the
/// parser does not take there; no byte could follow. The session must refuse that byte.
#[test]
fn keyword_then_partial_character_is_refused() {
    for (name, prefix, keyword) in [("python", "x = [y ", "for"), ("go", "", "package")] {
        let compilation = compile(name);
        let compiled = compilation.ok().unwrap_or_else(|| panic!("{name}.ebnf compiles"));
        let mut rng = Rng::new(5);
        let vocab = vocabulary(format!("{prefix}{keyword} z").as_bytes(), &mut rng, 20);
        let bytes = syncodec::build_artifact(compiled, &vocab, "test", &|_, _| {}).expect("the artifact builds").bytes;
        let artifact = Artifact::from_bytes(&bytes).unwrap();
        let mut session = Session::new(&artifact).unwrap();
        session.feed_text(format!("{prefix}{keyword}").as_bytes()).unwrap();
        let lead = vocab.bytes.iter().position(|b| b == &[0xeb]).unwrap() as u32;
        assert!(!session.is_token_valid(lead), "{name}: {keyword:?} then 0xEB accepted: a dead end");
        let mut row = vec![0u32; session.bitmask_words()];
        session.fill_bitmask(&mut row).unwrap();
        assert!(!bit(&row, lead), "{name}: 0xEB in the mask after {keyword:?}");
        assert!(session.accept_token(lead).is_err());
        // The keyword itself is fine: a space and a name may follow.
        let space = vocab.bytes.iter().position(|b| b == b" ").unwrap() as u32;
        assert!(session.is_token_valid(space), "{name}: a space after {keyword:?} refused");
    }
}
