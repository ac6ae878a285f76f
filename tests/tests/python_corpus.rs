//! grammars/python.ebnf against the CPython standard library of the machine's `python3`, with
//! `ast.parse` as the reference: every file the reference accepts must parse.
//!
//! - CI sample (default): every 4th `.py`/`.pyi` file of the sorted list under the stdlib
//!   directory, `site-packages/` left out (so the sample depends only on the Python version), plus
//!   a fixed list of tricky files.
//! - Full sweep: `SYNCODEC_FULL_CORPUS=1` takes every file under the stdlib directory,
//!   `site-packages/` included.
//!
//! The reference runs once, as one `python3` process that reads the paths on stdin and prints one
//! verdict per line. Files that are not UTF-8 (PEP 263 coding cookies such as `koi8-r`) are
//! decoded by that process as the tokenizer would, written to a temporary directory as UTF-8, and
//! that text is parsed: the grammar describes decoded source text.
//!
//! Negatives by mutation (`python_mutants_are_rejected_like_ast_parse`): single-token mutants of
//! 60 sample files, judged by `ast.parse` and the grammar; figures and over-accepted classes in
//! docs/grammars-python.md.
//!
//! Without `python3`: under `CI=true` the tests fail, otherwise they are skipped with a message.
//! Hand-written snippets (Python 3.12 syntax the 3.11 stdlib lacks, soft keywords, layout) are a
//! third test that needs no Python.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use syncodec_e2e::generate::Rng;
use syncodec_e2e::mutate::{mutant, Kind, Mutant, Tally};
use syncodec_e2e::workspace_root;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::lexer::Lexer;

/// Files with constructs worth checking on every run (relative to the stdlib directory; absent
/// ones are skipped).
const TRICKY: &[&str] = &[
    "test/test_grammar.py",
    "test/test_patma.py",
    "test/test_fstring.py",
    "test/test_string_literals.py",
    "test/test_tokenize.py",
    "test/test_unicode_identifiers.py",
    "test/test_named_expressions.py",
    "test/test_positional_only_arg.py",
    "test/test_keywordonlyarg.py",
    "test/test_coroutines.py",
    "test/test_asyncgen.py",
    "test/test_with.py",
    "test/test_except_star.py",
    "test/test_pep646_syntax.py",
    "test/test_unparse.py",
    "test/test_syntax.py",
    "test/test_exceptions.py",
    "test/test_source_encoding.py",
    "test/encoded_modules/module_koi8_r.py",
    "test/encoded_modules/module_iso_8859_1.py",
    "test/test_utf8source.py",
    "test/tokenizedata/badsyntax_pep3120.py",
    "lib2to3/tests/data/crlf.py",
    "lib2to3/tests/data/bom.py",
    "lib2to3/tests/data/py2_test_grammar.py",
    "lib2to3/tests/data/py3_test_grammar.py",
    "typing.py",
    "dataclasses.py",
    "re/_parser.py",
    "ast.py",
];

/// The reference: reads paths on stdin, prints `ok`, `rej` or `ok <utf-8 copy>` per path.
const REFERENCE: &str = r#"
import ast, os, sys, tokenize, warnings
warnings.simplefilter("ignore")
out_dir = sys.argv[1]
for i, p in enumerate(sys.stdin.read().splitlines()):
    data = open(p, "rb").read()
    try:
        ast.parse(data, p)
    except (SyntaxError, ValueError, UnicodeError, MemoryError, RecursionError):
        print("rej", flush=False)
        continue
    try:
        data.decode("utf-8")
        print("ok")
    except UnicodeDecodeError:
        with open(p, "rb") as f:
            encoding, _ = tokenize.detect_encoding(f.readline)
        copy = os.path.join(out_dir, "%d.py" % i)
        with open(copy, "w", encoding="utf-8", newline="") as f:
            f.write(data.decode(encoding))
        print("ok", copy)
sys.stdout.flush()
"#;

fn python() -> Option<String> {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but python3 is missing: the Python corpus test must not be skipped in CI");
        }
        eprintln!("skipping: python3 not found (needed for the stdlib corpus and the ast.parse reference)");
        return None;
    }
    Some("python3".to_string())
}

fn python_artifact() -> Vec<u8> {
    let compilation = syncodec::compile_path(&workspace_root().join("grammars/python.ebnf"), &Default::default()).unwrap();
    let messages: Vec<String> = compilation.diagnostics.iter().map(|d| d.message.clone()).collect();
    let compiled = compilation.ok().unwrap_or_else(|| panic!("python.ebnf does not compile: {messages:?}"));
    syncodec::emit::encode(compiled).unwrap()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(&path, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "py" || e == "pyi") {
            out.push(path);
        }
    }
}

/// The stdlib directory of `python3` and the files to check: the CI sample (every 4th file outside
/// `site-packages/` plus [`TRICKY`]) or, with `SYNCODEC_FULL_CORPUS=1`, every file.
fn corpus_files(python: &str) -> (PathBuf, Vec<PathBuf>) {
    let stdlib = Command::new(python)
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        .output()
        .expect("python3 runs");
    let stdlib = PathBuf::from(String::from_utf8(stdlib.stdout).unwrap().trim());
    assert!(stdlib.is_dir(), "stdlib directory {} not found", stdlib.display());
    let mut all = Vec::new();
    walk(&stdlib, &mut all);
    all.sort();
    let files: Vec<PathBuf> = if full() {
        all
    } else {
        let site = stdlib.join("site-packages");
        let mut sample: Vec<PathBuf> = all.into_iter().filter(|p| !p.starts_with(&site)).step_by(4).collect();
        for t in TRICKY {
            let p = stdlib.join(t);
            if p.is_file() && !sample.contains(&p) {
                sample.push(p);
            }
        }
        sample
    };
    (stdlib, files)
}

fn full() -> bool {
    std::env::var("SYNCODEC_FULL_CORPUS").as_deref() == Ok("1")
}

#[test]
fn python_grammar_parses_every_stdlib_file_ast_parse_accepts() {
    let Some(python) = python() else { return };
    let full = full();
    let (stdlib, files) = corpus_files(&python);
    assert!(files.len() > 100, "corpus too small: {} files under {}", files.len(), stdlib.display());

    // One reference process for the whole list.
    let copies = std::env::temp_dir().join(format!("syncodec-python-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&copies).unwrap();
    let mut child = Command::new(&python)
        .args(["-c", REFERENCE])
        .arg(&copies)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let list: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the ast.parse reference failed");
    let verdicts: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(verdicts.len(), files.len(), "one reference verdict per file");

    let bytes = python_artifact();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let (mut accepted, mut rejected_by_reference, mut recoded, mut over_accepted) = (0, 0, 0, Vec::new());
    let mut failures = Vec::new();
    for (path, verdict) in files.iter().zip(&verdicts) {
        let mut parts = verdict.splitn(2, ' ');
        let reference_ok = parts.next() == Some("ok");
        let source = match parts.next() {
            Some(copy) => {
                recoded += 1;
                PathBuf::from(copy)
            }
            None => path.clone(),
        };
        let text = std::fs::read(&source).unwrap();
        let ours = syncodec_runtime::parser::parse(artifact.grammar(), &text);
        if reference_ok {
            accepted += 1;
            if let Err(e) = ours {
                failures.push(format!("{}: {e}", path.display()));
            }
        } else {
            rejected_by_reference += 1;
            if ours.is_ok() {
                over_accepted.push(path.display().to_string());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&copies);
    eprintln!(
        "python corpus ({}): {} files, {accepted} accepted by ast.parse ({recoded} decoded from a non-UTF-8 coding), \
         {rejected_by_reference} rejected; parsed {}/{accepted}; accepted although ast.parse rejects: {over_accepted:?}",
        if full { "full" } else { "sample" },
        files.len(),
        accepted - failures.len(),
    );
    assert!(failures.is_empty(), "{} files that ast.parse accepts fail to parse:\n{}", failures.len(), failures.join("\n"));
}

/// Python 3.12 syntax and layout corner cases that the 3.11 stdlib does not exercise; no Python
/// needed. Each snippet must parse (`ok`) or be rejected (`bad`).
#[test]
fn python_grammar_snippets() {
    let ok: &[&str] = &[
        // Soft keywords as names, and as keywords.
        "match = 1\nmatch.group(1)\nmatch(x)\nmatch[0] = 3\nmatch -x\nmatch * y\nmatch: int = 3\n",
        "type(x)\ntype = 5\ncase = 2\nprint(match, case, type)\nx.type = x.match\n",
        "match x:\n    case [a, *rest] if a:\n        pass\n    case Point(x=0) | {\"k\": 1, **kw}:\n        pass\n    case (1 | -2 | 3+4j) as z:\n        pass\n    case _:\n        pass\n",
        "match (x):\n    case 1: pass\nmatch -x:\n    case 1: pass\nmatch [a, b]:\n    case [1, 2]: pass\nmatch *a, b:\n    case (a, b,): pass\n",
        "match match:\n    case case: pass\nmatch type:\n    case str(): pass\n",
        // PEP 695.
        "type Point[T: int, *Ts, **P] = tuple[T, *Ts]\ntype X = int\n",
        "def f[T](a, b=1, /, c=2, *args: *Ts, d, e=3, **kw) -> T:\n    return *a, b\nclass C[T: (int, str)](B, metaclass=M): pass\n",
        // PEP 701 f-strings: the f-string's own quote inside a replacement field.
        "f\"{d[\"key\"]}\"\nf'{x + f'{y}'}'\nf\"{', '.join(f\"{k}={v!r}\" for k, v in items)}\"\nrf\"\\d{x:>{w}}\"\n",
        "f'''{x[\"a\"]} {y}\n'''\n",
        // Strings, numbers.
        "s = rb'\\x00' Rb\"a\" BR'''x''' u\"x\" r'\\'' '''a'b''c\\''''\n",
        "x = 1_000 + 0x_ff + 0o17 + 0b1_0 + 1.5e-3j + .5 + 1. + 1_0.0_1e1_0 + 0_0 + 09.5\n",
        // Statements.
        "with (open(a) as b, open(c) as d,):\n    pass\nwith (a, b):\n    pass\nwith (a) as b, c:\n    pass\n",
        "try:\n    pass\nexcept* ValueError as e:\n    pass\n",
        "async def g():\n    await x\n    async with a as b: pass\n    async for x in y: pass\n    return [i async for i in y]\n",
        "def f():\n    global g\n    nonlocal h\n    x = yield\n    y = yield from z\n",
        "from . import x\nfrom ... import y\nfrom ....a.b import (c as d, e,)\nimport a.b as c, d\n",
        "if (n := len(a)) > 10: pass\nx = [y := f(x), y**2]\nprint(*a, **k, sep='')\na[1:2, ::3, *b]\n",
        "lambda a, /, b=1, *c, d, **e: (yield)\nx = not a in b and c is not d or e not in f\n",
        // Layout: CRLF, no final newline, tabs, comments and blank lines, continuation, BOM.
        "if x:\r\n    # c\r\n\r\n    y = 1\r\nelse:\r\n\tz = 2",
        "x = (1 +\n  # comment\n     2)\ny = 1 + \\\n    2\n  # dedented comment\nif a:\n        b\n# c\n\n        c\n",
        "\u{feff}x = 1\n",
        "",
        "# only a comment",
        "\n\n   \n",
    ];
    let bad: &[&str] = &[
        "if x\n    pass\n",
        "x = (1\n",
        "  x = 1\n",
        "if x:\npass\n",
        "x = 'abc\n",
        "x = 1 +\n",
        "match x:\n    y = 1\n",
        "x = 07\n",
        "x = 1__0\n",
        "if x:\n    a\n  b\n",
        "class\n",
        "import\n",
        "def f(:\n  pass\n",
    ];
    let bytes = python_artifact();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let mut wrong = Vec::new();
    for text in ok {
        if let Err(e) = syncodec_runtime::parser::parse(artifact.grammar(), text.as_bytes()) {
            wrong.push(format!("rejected {text:?}: {e}"));
        }
    }
    for text in bad {
        if syncodec_runtime::parser::parse(artifact.grammar(), text.as_bytes()).is_ok() {
            wrong.push(format!("accepted {text:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Files of the CI sample that get mutants (evenly spaced over the sample), mutants per file, and
/// the largest file mutated (every mutant is a whole file for both parsers).
const MUTATED_FILES: usize = 60;
const MUTANTS_PER_FILE: usize = 40;
const MUTATED_MAX_BYTES: u64 = 24_000;
/// The required share of `ast.parse`-rejected mutants that the grammar rejects
/// (docs/grammars-python.md, "Negatives by mutation").
const MIN_MUTANT_REJECTION: f64 = 0.95;

/// The mutation reference: reads one hex-encoded source per line, prints `ok` or `rej <error>`.
const MUTANT_REFERENCE: &str = r#"
import ast, sys, warnings
warnings.simplefilter("ignore")
for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    try:
        compile(data, "<mutant>", "exec", ast.PyCF_ONLY_AST)
        print("ok")
    except SyntaxError as e:
        print("rej", type(e).__name__ + ":", " ".join(str(e.msg).split()))
    except (ValueError, UnicodeError, MemoryError, RecursionError) as e:
        print("rej", type(e).__name__ + ":", " ".join(str(e).split()))
sys.stdout.flush()
"#;

/// `ast.parse` verdicts on `texts` from one python3 process: `Ok(())` or `Err(message)`.
fn ast_parse_verdicts(python: &str, texts: &[Vec<u8>]) -> Vec<Result<(), String>> {
    let mut child = Command::new(python)
        .args(["-c", MUTANT_REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut input = String::with_capacity(texts.iter().map(|t| 2 * t.len() + 1).sum());
    for t in texts {
        for b in t {
            input.push_str(&format!("{b:02x}"));
        }
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the ast.parse reference failed");
    let verdicts: Vec<Result<(), String>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| if l == "ok" { Ok(()) } else { Err(l.strip_prefix("rej ").unwrap_or(l).to_string()) })
        .collect();
    assert_eq!(verdicts.len(), texts.len(), "one reference verdict per text");
    verdicts
}

/// Negatives by mutation: single-token mutants (`syncodec_e2e::mutate`) of a sample of stdlib
/// files, judged by `ast.parse` and by the grammar. Reference-accepted originals must parse; of the
/// reference-rejected mutants at least [`MIN_MUTANT_REJECTION`] must be rejected; reference-accepted
/// mutants must parse.
#[test]
fn python_mutants_are_rejected_like_ast_parse() {
    let Some(python) = python() else { return };
    let started = std::time::Instant::now();
    let (stdlib, corpus) = corpus_files(&python);
    // UTF-8 files of reasonable size (the grammar describes decoded text), evenly spaced.
    let candidates: Vec<(PathBuf, Vec<u8>)> = corpus
        .iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MUTATED_MAX_BYTES))
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            std::str::from_utf8(&bytes).is_ok().then(|| (p.clone(), bytes))
        })
        .collect();
    let (count, per_file) = if full() { (candidates.len(), 2) } else { (MUTATED_FILES.min(candidates.len()), MUTANTS_PER_FILE) };
    let files: Vec<&(PathBuf, Vec<u8>)> = (0..count).map(|i| &candidates[i * candidates.len() / count]).collect();

    let bytes = python_artifact();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let grammar = artifact.grammar();
    let lexer = Lexer::new(grammar);

    // Originals first, then their mutants.
    let mut texts: Vec<Vec<u8>> = files.iter().map(|(_, b)| b.clone()).collect();
    let mut mutants: Vec<(usize, Mutant)> = Vec::new(); // (file index, mutant)
    let mut rng = Rng::new(0x0005_EED0_F9E7);
    for (f, (_, text)) in files.iter().enumerate() {
        // A file that does not lex gets no mutants; if the reference accepts it, the check of the
        // originals below reports it.
        let Ok(lexemes) = lexer.tokenize(text) else { continue };
        let tokens: Vec<(usize, usize)> = lexemes.iter().map(|l| (l.start, l.end)).collect();
        if tokens.len() < 2 {
            continue;
        }
        for _ in 0..per_file {
            let m = mutant(text, &tokens, &mut rng);
            texts.push(m.text.clone());
            mutants.push((f, m));
        }
    }
    let verdicts = ast_parse_verdicts(&python, &texts);
    let reference_time = started.elapsed();

    let name = |f: usize| files[f].0.strip_prefix(&stdlib).unwrap_or(&files[f].0).display().to_string();
    let mut failures = Vec::new();
    let mut positive = vec![false; files.len()];
    for (f, (_, text)) in files.iter().enumerate() {
        if verdicts[f].is_err() {
            continue;
        }
        positive[f] = true;
        if let Err(e) = syncodec_runtime::parser::parse(grammar, text) {
            failures.push(format!("{}: {e}", name(f)));
        }
    }

    let mut tally = Tally::default();
    let mut by_kind: BTreeMap<Kind, Tally> = BTreeMap::new();
    // Over-accepted mutants, grouped by the reference's error message.
    let mut over_accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut false_rejects = Vec::new();
    for (k, (f, m)) in mutants.iter().enumerate() {
        if !positive[*f] {
            continue;
        }
        let ours = syncodec_runtime::parser::parse(grammar, &m.text);
        let reference = &verdicts[files.len() + k];
        tally.add(reference.is_ok(), ours.is_ok());
        by_kind.entry(m.kind).or_default().add(reference.is_ok(), ours.is_ok());
        match (reference, ours) {
            (Err(why), Ok(())) => {
                let line = m.text[..m.offset.min(m.text.len())].iter().filter(|&&b| b == b'\n').count() + 1;
                over_accepted.entry(why.clone()).or_default().push(format!("{}:{line}: {}", name(*f), m.describe()));
            }
            (Ok(()), Err(e)) => false_rejects.push(format!("{}: {}: {e}", name(*f), m.describe())),
            _ => {}
        }
    }

    eprintln!(
        "python mutants: {} files (of {} UTF-8 files ≤ {MUTATED_MAX_BYTES} bytes in the sample), {} reference-accepted; {} mutants of those; {tally}; reference {:.1?}, total {:.1?}",
        files.len(),
        candidates.len(),
        positive.iter().filter(|&&p| p).count(),
        tally.reference_rejects + tally.reference_accepts,
        reference_time,
        started.elapsed()
    );
    for (kind, t) in &by_kind {
        eprintln!("  {kind}: {t}");
    }
    for (why, list) in &over_accepted {
        eprintln!("over-accepted ({}), ast.parse says {why:?}:", list.len());
        for item in list.iter().take(10) {
            eprintln!("    {item}");
        }
    }
    for item in &false_rejects {
        eprintln!("rejected although ast.parse accepts: {item}");
    }

    assert!(failures.is_empty(), "{} files that ast.parse accepts fail to parse:\n{}", failures.len(), failures.join("\n"));
    assert!(tally.reference_rejects >= 200 || full(), "too few reference-rejected mutants: {}", tally.reference_rejects);
    assert!(false_rejects.is_empty(), "{} mutants that ast.parse accepts fail to parse:\n{}", false_rejects.len(), false_rejects.join("\n"));
    assert!(
        tally.reject_rate() >= MIN_MUTANT_REJECTION,
        "only {:.1}% of the mutants ast.parse rejects are rejected (see docs/grammars-python.md)",
        100.0 * tally.reject_rate()
    );
}
