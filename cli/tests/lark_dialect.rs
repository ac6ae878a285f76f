//! Lark dialect support end to end, through the real binary, on a grammar written the way Lark
//! grammars are (`tests/lark/mini_python.lark`): look-around terminals, `_NL` with an ignored
//! COMMENT inside, indentation, rule priorities, and `--prefer-shift`. (The check against Lark
//! itself, with third-party grammars that are not committed, is in docs/grammars.md.)

use std::path::PathBuf;

const GRAMMAR: &str = "cli/tests/lark/mini_python.lark";

mod common;
use common::{syncodec, text};

#[test]
fn lark_files_get_lark_defaults_and_strict_mode_makes_conflicts_errors() {
    let strict = syncodec(&["check", GRAMMAR, "--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    let err = text(&strict.stderr) + &text(&strict.stdout);
    assert!(err.contains("error: shift/reduce conflict on \"+\""), "{err}");
    assert!(!err.contains("reduce/reduce"), "rule priority 2 settles var/constant: {err}");
    assert!(err.contains("mode: strict"), "{err}");
    for lr in ["lr1", "lalr"] {
        // A `.lark` file without flags, and the explicit flag: Lark's behaviour.
        for extra in [&[][..], &["--prefer-shift"][..]] {
            let mut args = vec!["check", GRAMMAR, "--lr", lr];
            args.extend(extra);
            let lenient = syncodec(&args);
            let all = text(&lenient.stderr) + &text(&lenient.stdout);
            assert_eq!(lenient.status.code(), Some(0), "{all}");
            assert!(all.contains("warning: shift/reduce conflict on \"+\"") && all.contains("(resolved as shift: --prefer-shift)"), "{all}");
            assert!(all.contains("indentation: yes"), "{all}");
            assert!(all.contains("mode: lark") && all.contains("lexer: contextual"), "{all}");
        }
    }
    // The same grammar under another extension is strict unless `--lark`.
    let dir = std::env::temp_dir().join(format!("syncodec-lark-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ebnf = dir.join("mini_python.ebnf");
    std::fs::copy(common::workspace().join(GRAMMAR), &ebnf).unwrap();
    let ebnf = ebnf.display().to_string();
    assert_eq!(syncodec(&["check", &ebnf]).status.code(), Some(1));
    let out = syncodec(&["check", &ebnf, "--lark"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("mode: lark"));
    let json = syncodec(&["check", &ebnf, "--format", "json"]);
    assert!(text(&json.stdout).contains("\"mode\":\"strict\""), "{}", text(&json.stdout));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parses_what_the_lark_terminals_mean() {
    let accept: &[(&str, &str)] = &[
        ("assign", "x = 1\n"),
        ("comments", "def f(a, b):\n    # a comment line\n    return a + b  # trailing comment\n\n# last\n"),
        ("branches", "if x:\n    pass\nelif y:\n    s = 'it\\'s'\nelse:\n    s = \"\"\n"),
        ("empty and escaped strings", "s = ''; t = 'a\\\\'; u = \"\\\\\\\"\" + r'x'\n"),
        ("two strings with an empty one first", "f('', 'a')\n"),
        ("long strings", "d = '''doc\n  it's \"here\"\n'''\ne = \"\"\"x\\\"\"\"\"\n"),
        ("numbers", "n = 0_0 + 1_000 + 0 + 7\n"),
        ("soft keyword as a name", "match = 1\n"),
        ("line continuation", "x = a + \\\n    b\n"),
        ("no final newline", "x = 1"),
    ];
    let reject: &[(&str, &str)] = &[
        ("leading zero (DEC_NUMBER's look-ahead)", "n = 01\n"),
        ("unterminated string", "s = 'abc\n"),
        ("an empty string does not swallow the next quote", "s = '' '\n"),
        ("escaped closing quote", "s = 'abc\\'\n"),
        ("missing indentation", "if x:\npass\n"),
        ("bad parameter list", "def f(:\n    pass\n"),
    ];
    let sources: Vec<&str> = accept.iter().chain(reject).map(|(_, src)| *src).collect();
    let (dir, paths) = write_cases("dialect", &sources, "py");
    let mut args = vec!["parse", GRAMMAR, "--prefer-shift", "--lr", "lalr"];
    args.extend(paths.iter().map(String::as_str));
    let out = syncodec(&args);
    let stdout = text(&out.stdout);
    let failed = |path: &str| stdout.lines().any(|l| l.starts_with("FAIL ") && l.contains(path));
    for (i, (what, _)) in accept.iter().enumerate() {
        assert!(!failed(&paths[i]), "should parse: {what}\n{stdout}");
    }
    for (j, (what, _)) in reject.iter().enumerate() {
        assert!(failed(&paths[accept.len() + j]), "should fail: {what}\n{stdout}");
    }
    assert!(stdout.ends_with(&format!("parsed {}/{} files\n", accept.len(), paths.len())), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_grammar_that_needs_a_contextual_lexer_gets_a_warning() {
    // Keys need a non-empty string, values allow an empty one: with Lark's contextual lexer a
    // value `"a"` is a STR, here it is always a KEY (declared first, same length and width).
    let grammar = "start: \"{\" KEY \":\" STR \"}\"\nKEY: /\"[^\"]+\"/\nSTR: /\"[^\"]*\"/\n%ignore \" \"\n";
    let c = syncodec::compile_str("ctx.lark", grammar, &syncodec::CompileOptions::default());
    assert!(c.is_ok());
    let warning = c.diagnostics.iter().find(|d| d.message.contains("loses every lexeme")).expect("a shadowing warning");
    assert!(warning.message.starts_with("terminal STR loses every lexeme it shares with KEY (e.g. \"\\\"\\0\\\"\")"), "{}", warning.message);
    assert!(warning.help.as_deref().is_some_and(|h| h.contains("disjoint")));
    // A priority only moves the problem to KEY; disjoint languages silence it.
    let prio = grammar.replace("STR: ", "STR.2: ");
    let c = syncodec::compile_str("ctx.lark", &prio, &syncodec::CompileOptions::default());
    assert!(c.diagnostics.iter().any(|d| d.message.starts_with("terminal KEY loses every lexeme it shares with STR")));
    let fixed = grammar.replace("STR \"}\"", "(KEY | EMPTY) \"}\"").replace("STR: /\"[^\"]*\"/", "EMPTY: /\"\"/");
    let c = syncodec::compile_str("ctx.lark", &fixed, &syncodec::CompileOptions::default());
    assert!(c.is_ok() && !c.diagnostics.iter().any(|d| d.message.contains("loses every lexeme")), "{fixed}");
}

/// Writes `cases` into a fresh directory; returns their paths.
fn write_cases(tag: &str, cases: &[&str], ext: &str) -> (PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("syncodec-lark-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = cases
        .iter()
        .enumerate()
        .map(|(i, src)| {
            let path = dir.join(format!("case{i:02}.{ext}"));
            std::fs::write(&path, src).unwrap();
            path.display().to_string()
        })
        .collect();
    (dir, paths)
}

#[test]
fn the_contextual_lexer_picks_what_the_parser_takes() {
    // JSON whose keys are a terminal of their own, with the same language as string values.
    let grammar = "tests/grammars/json_keys.lark";
    let (dir, paths) = write_cases("ctx-json", &["{\"a\": \"b\", \"c\": [1, \"x\", {\"\": \"\"}]}", "{\"a\" \"b\"}"], "json");
    let parse = |extra: &[&str]| {
        let mut args = vec!["parse", grammar];
        args.extend(extra);
        args.extend(paths.iter().map(String::as_str));
        text(&syncodec(&args).stdout)
    };
    let basic = parse(&["--lexer", "basic"]);
    assert!(basic.contains(&format!("FAIL {}:1:7: unexpected KEY", paths[0])), "{basic}");
    // A `.lark` file gets the contextual lexer by default.
    assert_eq!(parse(&[]), parse(&["--lexer", "contextual"]));
    let contextual = parse(&["--lexer", "contextual"]);
    assert!(!contextual.contains(&format!("FAIL {}", paths[0])) && contextual.contains(&format!("FAIL {}", paths[1])), "{contextual}");
    assert!(contextual.ends_with("parsed 1/2 files\n"), "{contextual}");
    let check = syncodec(&["check", grammar, "--lexer", "contextual"]);
    let all = text(&check.stdout) + &text(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{all}");
    assert!(all.contains("lexer: contextual\n") && !all.contains("loses every lexeme"), "{all}");
    std::fs::remove_dir_all(&dir).ok();

    // A keyword the parser cannot take is lexed as the name it also is (Lark's `_` wildcard).
    let lark = std::env::temp_dir().join(format!("syncodec-lark-wild-{}.lark", std::process::id()));
    std::fs::write(&lark, "start: stmt+\nstmt: NAME \"=\" NAME \";\" | \"case\" \"_\" \";\"\nNAME: /[a-z_]+/\n%ignore \" \"\n").unwrap();
    let (dir, paths) = write_cases("ctx-wild", &["_ = x; case _;", "case x;"], "txt");
    let lark_path = lark.display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["parse", lark_path.as_str()];
        args.extend(extra);
        args.extend(paths.iter().map(String::as_str));
        text(&syncodec(&args).stdout)
    };
    assert!(run(&["--strict"]).ends_with("parsed 0/2 files\n"), "{}", run(&["--strict"]));
    let contextual = run(&["--lexer", "contextual"]);
    assert!(contextual.ends_with("parsed 1/2 files\n") && contextual.contains(&format!("FAIL {}", paths[1])), "{contextual}");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&lark).ok();
}
