//! `syncodec diff OLD NEW [--tokenizer TOK.json] [--corpus PATH...] [--ext EXT] [--examples N]
//! [--format text|json]`: what a grammar change does to the language, the tables, the verdicts on
//! a corpus and the token masks.
//!
//! OLD and NEW are grammar files or built artifacts (either kind on either side); `path@REV` reads
//! the file as it is at git revision `REV` (`git show REV:./path`, run in the current directory;
//! `%import`s of such a grammar resolve in the working tree). The compile options (`--lr`,
//! `--start`, `--strict`, ...) apply to both sides.
//!
//! Sections, in this order, each printed only when something in it differs:
//! - `language:` rules and terminals added, removed or redefined, ignored terminals, layout
//!   declarations (start rule, lexer, indentation, semicolon insertion). A rule is compared by
//!   its alternatives with lowering's generated rules written out; a terminal by its language
//!   (its DFA) and priority, with the pattern texts and a shortest string only one side accepts.
//!   Spelling alone (layout, comments, rule order) is no difference (`syncodec::diff`).
//! - `tables:` LR states and mode; conflicts introduced or resolved, with the example input that
//!   `check` prints (grammar files only: an artifact does not record its conflicts).
//! - `corpus:` (with `--corpus`) the files one side accepts and the other rejects, each at the
//!   first position where they disagree: where the rejecting side's parse goes wrong (the other
//!   side accepts the whole file, so every shorter prefix is viable for it).
//! - `masks:` (with `--tokenizer` and `--corpus`) both sides teacher-forced over the corpus files
//!   at least one side accepts: at each token position (and after the last token) the two masks
//!   are compared; the positions where they differ, how many tokens each side alone allows, a few
//!   examples (`--examples`, default 5) with the text before the position; a closing `total:`
//!   line. A file stops where a side refuses its next token (that side rejects the file: see
//!   `corpus:`). Grammar files are built with the tokenizer (`syncodec::build_artifact`); an
//!   artifact must have been built with it.
//!
//! The last text line is `no difference`, or `differences: ` and the sections that differ.
//!
//! `--format json`: one object, every key always present:
//! `{"differs", "old", "new", "language": {"rules_added": [{"name", "alternatives"}],
//! "rules_removed": [same], "rules_redefined": [{"name", "removed", "added"}], "terminals_added":
//! [{"name", "pattern"}], "terminals_removed": [same], "terminals_redefined": [{"name",
//! "old_pattern", "new_pattern", "old_priority", "new_priority", "witness": {"text",
//! "accepted_by": "old"|"new"} | null}], "ignored_added", "ignored_removed", "layout": [{"what",
//! "old", "new"}]}, "tables": {"old_mode", "new_mode", "old_states", "new_states",
//! "conflicts_compared", "conflicts_introduced": [{"kind", "lookahead", "items", "example",
//! "state"}], "conflicts_resolved": [same]}, "corpus": null | {"files", "both_accept",
//! "both_reject", "only_old_accepts", "only_new_accepts", "changed": [{"path", "accepted_by",
//! "location", "offset", "error"}]}, "masks": null | {"files", "positions", "differing",
//! "tokens_added", "tokens_removed", "skipped": [{"path", "reason"}], "examples": [{"location",
//! "offset", "context", "n_added", "n_removed", "added": [{"id", "text"}], "removed": [same]}]}}`.
//! Pattern (`null` for an artifact or a `%declare`d terminal), witness and token texts are escaped
//! as `mask` escapes them; `pattern` is the grammar text.
//!
//! Exit status: 0 when nothing differs, 1 when something does, 2 on error (a side that does not
//! compile past its LR tables, an unreadable file, a tokenizer the artifact was not built with).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{json, Value};

use syncodec::diff::{self, ConflictInfo, GrammarDiff, Language, RuleForm, TerminalForm};
use syncodec::vocab::{Tokenizer, VocabOptions, Vocabulary};
use syncodec_artifacts::bits::row;
use syncodec_oracles::forcing::{self, escape, Prepared};
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::parser::ParseError;
use syncodec_runtime::session::MaskCache;

use crate::args::{DiffArgs, FormatArg};
use crate::{render, CliError, ExitStatus};

/// Tokens listed per mask example and side.
const TOKENS_SHOWN: usize = 8;
/// Bytes of text shown before a mask example's position.
const CONTEXT_BYTES: usize = 40;

pub fn run(args: &DiffArgs) -> Result<ExitStatus, CliError> {
    let masks_wanted = args.tokenizer.is_some() && !args.corpus.is_empty();
    if args.tokenizer.is_some() && args.corpus.is_empty() {
        eprintln!("syncodec: --tokenizer without --corpus: masks are compared over corpus files only; give --corpus to compare them");
    }
    let vocab = match (&args.tokenizer, masks_wanted) {
        (Some(path), true) => Some((syncodec::vocab::load(path, &VocabOptions::default())?, path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())),
        _ => None,
    };
    let old = Side::load(&args.old, args, vocab.as_ref())?;
    let new = Side::load(&args.new, args, vocab.as_ref())?;
    let grammar_diff = diff::diff(&old.language, &new.language);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::Usage(format!("could not start worker threads: {e}")))?;
    let files = if args.corpus.is_empty() { Vec::new() } else { syncodec_oracles::files::collect_files(&new.artifact, &args.corpus, &args.extensions)? };
    let verdicts = if args.corpus.is_empty() { None } else { Some(pool.install(|| corpus_verdicts(&old, &new, &files))?) };
    let masks = match (&args.tokenizer, &verdicts) {
        (Some(path), Some(verdicts)) if masks_wanted => {
            let tokenizer = forcing::load_matching_tokenizer(&old.artifact, path, &[])?;
            forcing::load_matching_tokenizer(&new.artifact, path, &[])?;
            Some(pool.install(|| compare_masks(&old, &new, &tokenizer, verdicts, args.examples))?)
        }
        _ => None,
    };

    let mut sections = Vec::new();
    if !grammar_diff.language_is_empty() {
        sections.push("language");
    }
    if !grammar_diff.tables.is_empty() {
        sections.push("tables");
    }
    if verdicts.as_ref().is_some_and(|v| v.changed().next().is_some()) {
        sections.push("corpus");
    }
    if masks.as_ref().is_some_and(|m| m.differing > 0) {
        sections.push("masks");
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => {
            let mut text = String::new();
            write_language(&mut text, &grammar_diff);
            write_tables(&mut text, &grammar_diff);
            if let Some(v) = &verdicts {
                write_corpus(&mut text, v);
            }
            if let Some(m) = &masks {
                write_masks(&mut text, m);
            }
            if sections.is_empty() {
                text.push_str("no difference\n");
            } else {
                text.push_str(&format!("differences: {}\n", sections.join(", ")));
            }
            stdout.write_all(text.as_bytes())?;
        }
        FormatArg::Json => {
            let value = json!({
                "differs": !sections.is_empty(),
                "old": old.label,
                "new": new.label,
                "language": language_json(&grammar_diff),
                "tables": tables_json(&grammar_diff),
                "corpus": verdicts.as_ref().map(corpus_json),
                "masks": masks.as_ref().map(masks_json),
            });
            writeln!(stdout, "{value}")?;
        }
    }
    Ok(if sections.is_empty() { ExitStatus::Success } else { ExitStatus::Failure })
}

/// One side of the diff: what it says about its language, and an artifact to run (with a mask
/// store when masks are compared).
struct Side {
    label: String,
    language: Language,
    artifact: Artifact,
}

impl Side {
    fn load(spec: &str, args: &DiffArgs, vocab: Option<&(Vocabulary, String)>) -> Result<Side, CliError> {
        let (path, bytes) = read_spec(spec)?;
        let open_error = |source| CliError::Open { path: spec.to_string(), source };
        if super::is_artifact_bytes(&bytes) {
            let artifact = Artifact::from_bytes(&bytes).map_err(open_error)?;
            let grammar = rkyv::deserialize::<syncodec_artifacts::schema::CompiledGrammar, rkyv::rancor::Error>(artifact.grammar())
                .map_err(|e| CliError::Usage(format!("could not read the grammar of artifact {spec}: {e}")))?;
            if vocab.is_some() && artifact.payload().masks.is_none() {
                return Err(CliError::Usage(format!("artifact {spec} has no mask store: build it with `syncodec build GRAMMAR --tokenizer TOKENIZER`, or give the grammar file")));
            }
            return Ok(Side { label: spec.to_string(), language: Language::of_artifact(grammar), artifact });
        }
        let text = String::from_utf8(bytes).map_err(|_| CliError::Usage(format!("{spec} is neither an artifact nor a UTF-8 grammar file")))?;
        let mut sources = syncodec::diagnostics::SourceMap::new();
        let main = sources.add(path.display().to_string(), text);
        let compilation = syncodec::compile(sources, main, &args.compile.options(&path));
        // Conflicts are part of what is compared; any other error stops the diff.
        let Some(compiled) = &compilation.compiled else {
            let mut stderr = std::io::stderr().lock();
            for d in compilation.diagnostics.iter().filter(|d| d.is_error()) {
                let _ = stderr.write_all(render::render_text(&compilation.sources, d).as_bytes());
            }
            return Err(CliError::Usage(format!("grammar {spec} does not compile: {}", super::diagnostic_counts(&compilation))));
        };
        let bytes = match vocab {
            Some((vocab, source)) => syncodec::build_artifact(compiled, vocab, source, &|_, _| {})?.bytes,
            None => syncodec::emit::encode(compiled)?,
        };
        let artifact = Artifact::from_bytes(&bytes).map_err(open_error)?;
        Ok(Side { label: spec.to_string(), language: Language::of_compiled(compiled), artifact })
    }
}

/// Reads `spec`: a file, or `path@REV` (the file at a git revision) when no file has that name.
/// Returns the path (for the grammar's name, dialect and `%import`s) and the bytes.
fn read_spec(spec: &str) -> Result<(PathBuf, Vec<u8>), CliError> {
    let direct = Path::new(spec);
    if !direct.exists() {
        if let Some((path, rev)) = spec.rsplit_once('@').filter(|(p, r)| !p.is_empty() && !r.is_empty()) {
            let output = std::process::Command::new("git")
                .arg("show")
                .arg(format!("{rev}:./{path}"))
                .output()
                .map_err(|e| CliError::Usage(format!("could not run git to read {spec}: {e}")))?;
            if !output.status.success() {
                return Err(CliError::Usage(format!("could not read {spec}: `git show {rev}:./{path}` failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
            }
            return Ok((PathBuf::from(path), output.stdout));
        }
    }
    let bytes = std::fs::read(direct).map_err(|e| CliError::Usage(format!("could not read {spec}: {e}")))?;
    Ok((direct.to_path_buf(), bytes))
}

/// Both sides' parse of every corpus file, in path order.
struct Verdicts {
    files: Vec<(PathBuf, Result<(), ParseError>, Result<(), ParseError>)>,
}

impl Verdicts {
    /// The files one side accepts and the other rejects: (path, accepted by new, the rejection).
    fn changed(&self) -> impl Iterator<Item = (&Path, bool, &ParseError)> {
        self.files.iter().filter_map(|(path, old, new)| match (old, new) {
            (Ok(()), Err(e)) => Some((path.as_path(), false, e)),
            (Err(e), Ok(())) => Some((path.as_path(), true, e)),
            _ => None,
        })
    }

    fn count(&self, old_ok: bool, new_ok: bool) -> usize {
        self.files.iter().filter(|(_, o, n)| o.is_ok() == old_ok && n.is_ok() == new_ok).count()
    }
}

fn corpus_verdicts(old: &Side, new: &Side, files: &[PathBuf]) -> Result<Verdicts, CliError> {
    let parsed: Vec<Result<_, CliError>> = files
        .par_iter()
        .map(|path| {
            let text = std::fs::read(path).map_err(|e| CliError::Usage(format!("could not read corpus file {}: {e}", path.display())))?;
            let old_verdict = syncodec_runtime::parser::parse(old.artifact.grammar(), &text);
            let new_verdict = syncodec_runtime::parser::parse(new.artifact.grammar(), &text);
            Ok((path.clone(), old_verdict, new_verdict))
        })
        .collect();
    Ok(Verdicts { files: parsed.into_iter().collect::<Result<_, _>>()? })
}

/// The outcome of teacher-forcing both sides over the corpus.
#[derive(Default)]
struct MaskComparison {
    files: usize,
    positions: usize,
    differing: usize,
    tokens_added: usize,
    tokens_removed: usize,
    skipped: Vec<(PathBuf, String)>,
    examples: Vec<MaskExample>,
}

struct MaskExample {
    location: String,
    offset: usize,
    context: String,
    n_added: usize,
    n_removed: usize,
    added: Vec<(u32, String)>,
    removed: Vec<(u32, String)>,
}

fn compare_masks(old: &Side, new: &Side, tokenizer: &Tokenizer, verdicts: &Verdicts, n_examples: usize) -> Result<MaskComparison, CliError> {
    let old_cache = Arc::new(MaskCache::default());
    let new_cache = Arc::new(MaskCache::default());
    let per_file: Vec<Result<MaskComparison, CliError>> = verdicts
        .files
        .par_iter()
        .map(|(path, old_verdict, new_verdict)| {
            // The side that accepts the file checks that its tokens decode back to it.
            let judge = match (old_verdict.is_ok(), new_verdict.is_ok()) {
                (true, _) => &old.artifact,
                (false, true) => &new.artifact,
                (false, false) => return Ok(MaskComparison::default()),
            };
            let forced = match forcing::prepare(judge, tokenizer, path) {
                Prepared::Ready(forced) => forced,
                Prepared::Skip(reason) | Prepared::Fail(reason) => return Ok(MaskComparison { skipped: vec![(path.clone(), reason)], ..MaskComparison::default() }),
            };
            Ok(compare_file(old, new, &old_cache, &new_cache, &forced, n_examples)?)
        })
        .collect();
    let mut total = MaskComparison::default();
    for file in per_file {
        let file = file?;
        total.files += usize::from(file.positions > 0);
        total.positions += file.positions;
        total.differing += file.differing;
        total.tokens_added += file.tokens_added;
        total.tokens_removed += file.tokens_removed;
        total.skipped.extend(file.skipped);
        total.examples.extend(file.examples);
    }
    total.examples.truncate(n_examples);
    Ok(total)
}

/// Feeds one file's tokens to a session of each side, comparing the masks before each token
/// and after the last; stops where a side refuses a token or cannot compute its mask.
fn compare_file(old: &Side, new: &Side, old_cache: &Arc<MaskCache>, new_cache: &Arc<MaskCache>, forced: &forcing::Forced, n_examples: usize) -> Result<MaskComparison, CliError> {
    let mut out = MaskComparison::default();
    let mut old_session = forcing::start_session(&old.artifact, old_cache)?;
    let mut new_session = forcing::start_session(&new.artifact, new_cache)?;
    let mut old_row = vec![0u32; old_session.bitmask_words()];
    let mut new_row = vec![0u32; new_session.bitmask_words()];
    if old_row.len() != new_row.len() {
        return Err(CliError::Usage("the two artifacts have vocabularies of different widths".into()));
    }
    let vocab = new_session.vocab();
    for i in 0..=forced.ids.len() {
        if old_session.fill_bitmask(&mut old_row).is_err() || new_session.fill_bitmask(&mut new_row).is_err() {
            break;
        }
        out.positions += 1;
        if old_row != new_row {
            let mut added = Vec::new();
            let mut removed = Vec::new();
            for (w, (&o, &n)) in old_row.iter().zip(&new_row).enumerate() {
                if o == n {
                    continue;
                }
                for bit in 0..32 {
                    let id = (w * 32 + bit) as u32;
                    match (o >> bit & 1, n >> bit & 1) {
                        (0, 1) => added.push(id),
                        (1, 0) => removed.push(id),
                        _ => {}
                    }
                }
            }
            out.differing += 1;
            out.tokens_added += added.len();
            out.tokens_removed += removed.len();
            if out.examples.len() < n_examples {
                let offset = forced.starts.get(i).copied().unwrap_or(forced.text.len());
                let from = offset.saturating_sub(CONTEXT_BYTES);
                let token_text = |&id: &u32| {
                    let bytes = if i == 0 { vocab.first_bytes(id) } else { vocab.bytes(id) };
                    let text = if vocab.is_eos(id) { "<eos>".to_string() } else { escape(bytes.unwrap_or(&[])) };
                    (id, text)
                };
                out.examples.push(MaskExample {
                    location: forced.location(offset),
                    offset,
                    context: escape(&forced.text[from..offset]),
                    n_added: added.len(),
                    n_removed: removed.len(),
                    added: added.iter().take(TOKENS_SHOWN).map(token_text).collect(),
                    removed: removed.iter().take(TOKENS_SHOWN).map(token_text).collect(),
                });
            }
        }
        let Some(&id) = forced.ids.get(i) else { break };
        let old_ok = row::get(&old_row, id as usize) && old_session.accept_token(id).is_ok();
        let new_ok = row::get(&new_row, id as usize) && new_session.accept_token(id).is_ok();
        if !old_ok || !new_ok {
            break;
        }
    }
    Ok(out)
}

fn write_language(text: &mut String, d: &GrammarDiff) {
    if d.language_is_empty() {
        return;
    }
    text.push_str("language:\n");
    for r in &d.rules_added {
        text.push_str(&format!("  rule added: {}: {}\n", r.name, r.alternatives.join(" | ")));
    }
    for r in &d.rules_removed {
        text.push_str(&format!("  rule removed: {}: {}\n", r.name, r.alternatives.join(" | ")));
    }
    for r in &d.rules_redefined {
        text.push_str(&format!("  rule redefined: {}\n", r.name));
        for a in &r.removed {
            text.push_str(&format!("    - {}: {a}\n", r.name));
        }
        for a in &r.added {
            text.push_str(&format!("    + {}: {a}\n", r.name));
        }
    }
    let pattern = |p: &Option<String>| p.as_deref().map_or(String::new(), |p| format!(" {p}"));
    for t in &d.terminals_added {
        text.push_str(&format!("  terminal added: {}{}\n", t.name, pattern(&t.pattern)));
    }
    for t in &d.terminals_removed {
        text.push_str(&format!("  terminal removed: {}{}\n", t.name, pattern(&t.pattern)));
    }
    for t in &d.terminals_redefined {
        text.push_str(&format!("  terminal redefined: {}\n", t.name));
        if t.old_pattern != t.new_pattern {
            text.push_str(&format!("    old:{}\n    new:{}\n", pattern(&t.old_pattern), pattern(&t.new_pattern)));
        }
        if t.old_priority != t.new_priority {
            text.push_str(&format!("    priority: {} -> {}\n", t.old_priority, t.new_priority));
        }
        if let Some(w) = &t.difference {
            let side = if w.accepted_by_new { "new" } else { "old" };
            text.push_str(&format!("    only the {side} accepts \"{}\"\n", escape(&w.bytes)));
        }
    }
    for name in &d.ignored_added {
        text.push_str(&format!("  ignored added: {name}\n"));
    }
    for name in &d.ignored_removed {
        text.push_str(&format!("  ignored removed: {name}\n"));
    }
    for l in &d.layout {
        text.push_str(&format!("  {}: {} -> {}\n", l.what, l.old, l.new));
    }
}

fn write_tables(text: &mut String, d: &GrammarDiff) {
    let t = &d.tables;
    if t.is_empty() {
        return;
    }
    text.push_str("tables:\n");
    if t.old_mode != t.new_mode || t.old_states != t.new_states {
        text.push_str(&format!("  lr states: {} ({}) -> {} ({})\n", t.old_states, t.old_mode, t.new_states, t.new_mode));
    }
    let conflict = |text: &mut String, what: &str, c: &ConflictInfo| {
        text.push_str(&format!("  conflict {what}: {} on {} (LR state {})\n", c.kind, c.lookahead, c.state));
        for item in &c.items {
            text.push_str(&format!("    {item}\n"));
        }
        text.push_str(&format!("    example: {}\n", c.example));
    };
    for c in &t.conflicts_introduced {
        conflict(text, "introduced", c);
    }
    for c in &t.conflicts_resolved {
        conflict(text, "resolved", c);
    }
}

fn write_corpus(text: &mut String, v: &Verdicts) {
    let changed: Vec<_> = v.changed().collect();
    if changed.is_empty() {
        return;
    }
    text.push_str(&format!("corpus: {} of {} files change verdict\n", changed.len(), v.files.len()));
    for (path, by_new, error) in changed {
        let (accepts, rejects) = if by_new { ("new", "old") } else { ("old", "new") };
        text.push_str(&format!("  only the {accepts} accepts {}: the {rejects} rejects it at {}:{error}\n", path.display(), path.display()));
    }
}

fn write_masks(text: &mut String, m: &MaskComparison) {
    if m.differing == 0 {
        return;
    }
    text.push_str("masks:\n");
    let list = |tokens: &[(u32, String)], n: usize| {
        let mut s: Vec<String> = tokens.iter().map(|(id, t)| format!("{id} \"{t}\"")).collect();
        if n > tokens.len() {
            s.push(format!("and {} more", n - tokens.len()));
        }
        s.join(", ")
    };
    for e in &m.examples {
        text.push_str(&format!("  {} after \"{}\": +{} -{}\n", e.location, e.context, e.n_added, e.n_removed));
        if e.n_added > 0 {
            text.push_str(&format!("    added: {}\n", list(&e.added, e.n_added)));
        }
        if e.n_removed > 0 {
            text.push_str(&format!("    removed: {}\n", list(&e.removed, e.n_removed)));
        }
    }
    text.push_str(&format!(
        "  total: {} of {} positions in {} files differ; {} tokens added, {} removed\n",
        m.differing, m.positions, m.files, m.tokens_added, m.tokens_removed
    ));
}

fn rules_json(rules: &[RuleForm]) -> Value {
    rules.iter().map(|r| json!({"name": r.name, "alternatives": r.alternatives})).collect()
}

fn terminals_json(terminals: &[TerminalForm]) -> Value {
    terminals.iter().map(|t| json!({"name": t.name, "pattern": t.pattern})).collect()
}

fn conflicts_json(conflicts: &[ConflictInfo]) -> Value {
    conflicts.iter().map(|c| json!({"kind": c.kind, "lookahead": c.lookahead, "items": c.items, "example": c.example, "state": c.state})).collect()
}

fn language_json(d: &GrammarDiff) -> Value {
    json!({
        "rules_added": rules_json(&d.rules_added),
        "rules_removed": rules_json(&d.rules_removed),
        "rules_redefined": d.rules_redefined.iter().map(|r| json!({"name": r.name, "removed": r.removed, "added": r.added})).collect::<Vec<_>>(),
        "terminals_added": terminals_json(&d.terminals_added),
        "terminals_removed": terminals_json(&d.terminals_removed),
        "terminals_redefined": d.terminals_redefined.iter().map(|t| json!({
            "name": t.name,
            "old_pattern": t.old_pattern,
            "new_pattern": t.new_pattern,
            "old_priority": t.old_priority,
            "new_priority": t.new_priority,
            "witness": t.difference.as_ref().map(|w| json!({"text": escape(&w.bytes), "accepted_by": if w.accepted_by_new { "new" } else { "old" }})),
        })).collect::<Vec<_>>(),
        "ignored_added": d.ignored_added,
        "ignored_removed": d.ignored_removed,
        "layout": d.layout.iter().map(|l| json!({"what": l.what, "old": l.old, "new": l.new})).collect::<Vec<_>>(),
    })
}

fn tables_json(d: &GrammarDiff) -> Value {
    let t = &d.tables;
    json!({
        "old_mode": t.old_mode,
        "new_mode": t.new_mode,
        "old_states": t.old_states,
        "new_states": t.new_states,
        "conflicts_compared": t.conflicts_compared,
        "conflicts_introduced": conflicts_json(&t.conflicts_introduced),
        "conflicts_resolved": conflicts_json(&t.conflicts_resolved),
    })
}

fn corpus_json(v: &Verdicts) -> Value {
    let changed: Vec<Value> = v
        .changed()
        .map(|(path, by_new, e)| {
            json!({
                "path": path.display().to_string(),
                "accepted_by": if by_new { "new" } else { "old" },
                "location": format!("{}:{}:{}", path.display(), e.line(), e.column()),
                "offset": e.offset(),
                "error": e.message(),
            })
        })
        .collect();
    json!({
        "files": v.files.len(),
        "both_accept": v.count(true, true),
        "both_reject": v.count(false, false),
        "only_old_accepts": v.count(true, false),
        "only_new_accepts": v.count(false, true),
        "changed": changed,
    })
}

fn masks_json(m: &MaskComparison) -> Value {
    let tokens = |list: &[(u32, String)]| list.iter().map(|(id, t)| json!({"id": id, "text": t})).collect::<Vec<_>>();
    json!({
        "files": m.files,
        "positions": m.positions,
        "differing": m.differing,
        "tokens_added": m.tokens_added,
        "tokens_removed": m.tokens_removed,
        "skipped": m.skipped.iter().map(|(p, r)| json!({"path": p.display().to_string(), "reason": r})).collect::<Vec<_>>(),
        "examples": m.examples.iter().map(|e| json!({
            "location": e.location,
            "offset": e.offset,
            "context": e.context,
            "n_added": e.n_added,
            "n_removed": e.n_removed,
            "added": tokens(&e.added),
            "removed": tokens(&e.removed),
        })).collect::<Vec<_>>(),
    })
}
