//! Stage 7: compiler types -> artifact schema ([`syncodec_artifacts::schema`]), and the atomic
//! write of the artifact file (and of its zstd-packed copy).
//!
//! A grammar-only artifact ([`encode`]) has no vocabulary and no mask store; one built with a
//! tokenizer ([`encode_with_masks`]) carries both, sets [`FLAG_HAS_VOCAB`] and records the
//! vocabulary hash in the header.
//!
//! **Invariant:** the output depends only on the compiled grammar and the vocabulary (no
//! hash-map iteration order, no timestamps), so the same inputs give a byte-identical artifact.

use std::io::Write;
use std::path::{Path, PathBuf};

use syncodec_artifacts::header::FLAG_HAS_VOCAB;
use syncodec_artifacts::schema::{self, CompiledGrammar, Payload, NONE, RULE_BIT};

use crate::lexical::{Dfa, DfaState};
use crate::lower::Symbol;
use crate::vocab::Vocabulary;
use crate::Compiled;

/// Errors of writing an artifact.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Encode(#[from] syncodec_artifacts::EncodeError),
    #[error("could not write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("refusing to write the artifact to {path}: it is {kind}, and only a regular file is ever replaced; give -o a file path (a new file, an existing artifact, or a symbolic link to one)")]
    NotRegular { path: String, kind: &'static str },
    #[error(transparent)]
    Pack(#[from] syncodec_artifacts::pack::PackError),
    #[error("the vocabulary is too large for the artifact: {value} {what} do not fit its 32-bit tables")]
    VocabularyTooLarge { what: &'static str, value: usize },
}

/// Converts one DFA (a terminal's or the lexer's) to its archived form: the typed states become
/// the raw `u32`s of the artifact's tables, the dead state staying 0.
pub fn dfa_to_schema<S: DfaState>(dfa: &Dfa<S>) -> schema::Dfa {
    schema::Dfa {
        start: dfa.start.raw(),
        n_states: dfa.n_states() as u32,
        n_classes: dfa.n_classes,
        classes: dfa.classes.to_vec(),
        trans: dfa.trans.iter().map(|s| s.raw()).collect(),
        flags: dfa
            .accepting
            .values()
            .zip(dfa.live.values())
            .map(|(&acc, &live)| (if acc { schema::DFA_ACCEPTING } else { 0 }) | (if live { schema::DFA_LIVE } else { 0 }))
            .collect(),
    }
}

/// The archived grammar for `compiled`.
pub fn compiled_grammar(compiled: &Compiled) -> CompiledGrammar {
    let bnf = &compiled.bnf;
    let terminals = bnf
        .terminals
        .iter()
        .map(|(id, def)| schema::Terminal {
            name: def.name.clone(),
            display: def.display.clone(),
            priority: def.priority,
            kind: def.kind,
            dfa: compiled.lexical.terminals.get(id).and_then(|d| d.as_ref()).map(dfa_to_schema),
            rank: compiled.lexical.rank.get(id.as_usize()).copied().unwrap_or(u32::MAX),
        })
        .collect();
    let productions = bnf
        .productions
        .values()
        .map(|p| schema::Production {
            lhs: p.lhs,
            rhs: p
                .rhs
                .iter()
                .map(|s| match s {
                    Symbol::Terminal(t) => t.raw(),
                    Symbol::Rule(r) => RULE_BIT | r.raw(),
                })
                .collect(),
        })
        .collect();
    let lr = &compiled.lr;
    CompiledGrammar {
        name: bnf.name.clone(),
        start_rule: bnf.rules.get(bnf.start).map(|r| r.name.clone()).unwrap_or_default(),
        file_extensions: compiled.file_extensions.clone(),
        terminals,
        rule_names: bnf.rules.values().map(|r| r.name.clone()).collect(),
        productions,
        ignore: bnf.ignore.clone(),
        lexer: schema::LexerDfa {
            dfa: dfa_to_schema(&compiled.lexical.lexer.dfa),
            accept: compiled.lexical.lexer.accept.values().map(|a| a.map_or(NONE, |t| t.raw())).collect(),
        },
        lr: schema::LrTable {
            n_states: lr.n_states as u32,
            n_columns: (lr.n_terminals + 1) as u32,
            start_state: lr.start_state.raw(),
            action: lr.action.iter().map(|a| a.encode()).collect(),
            goto: lr.goto.iter().map(|g| g.map_or(NONE, |s| s.raw())).collect(),
            mode: lr.mode.as_str().to_string(),
        },
        indentation: bnf.indentation.as_ref().map(|ind| schema::Indentation {
            newline: ind.newline,
            indent: ind.indent,
            dedent: ind.dedent,
            open_brackets: ind.open_brackets.clone(),
            close_brackets: ind.close_brackets.clone(),
            tab_len: 8,
        }),
        auto_semicolon: bnf.auto_semicolon.as_ref().map(|semi| schema::AutoSemicolon {
            newline: semi.newline,
            semicolon: semi.semicolon,
            triggers: semi.triggers.clone(),
        }),
        contextual_lexer: compiled.contextual_lexer,
    }
}

/// The artifact bytes (header + payload) for a grammar-only artifact.
pub fn encode(compiled: &Compiled) -> Result<Vec<u8>, EmitError> {
    let payload = Payload { grammar: compiled_grammar(compiled), vocab: None, masks: None };
    Ok(syncodec_artifacts::encode(&payload, 0, compiled.grammar_hash, [0; 32], env!("CARGO_PKG_VERSION"))?)
}

/// The archived vocabulary: flat token bytes, sorted special and EOS ids, first-position bytes.
/// `source` names the tokenizer file (informational; the model type when empty).
pub fn vocabulary(vocab: &Vocabulary, source: &str) -> Result<schema::Vocabulary, EmitError> {
    let too_large = |what: &'static str, value: usize| EmitError::VocabularyTooLarge { what, value };
    let offsets = |strings: &mut dyn Iterator<Item = &[u8]>, bytes: &mut Vec<u8>| -> Result<Vec<u32>, EmitError> {
        let mut offsets = vec![0u32];
        for s in strings {
            bytes.extend_from_slice(s);
            offsets.push(u32::try_from(bytes.len()).map_err(|_| too_large("bytes of token text", bytes.len()))?);
        }
        Ok(offsets)
    };
    let mut token_bytes = Vec::new();
    let token_offsets = offsets(&mut vocab.bytes.iter().map(Vec::as_slice), &mut token_bytes)?;
    let mut first: Vec<&(syncodec_artifacts::ids::TokenId, Vec<u8>)> = vocab.first_overrides.iter().collect();
    first.sort_by_key(|(id, _)| *id);
    let mut first_bytes = Vec::new();
    let first_offsets = offsets(&mut first.iter().map(|(_, b)| b.as_slice()), &mut first_bytes)?;
    let mut eos: Vec<u32> = vocab.eos.iter().map(|t| t.raw()).collect();
    eos.sort_unstable();
    eos.dedup();
    let n_tokens = u32::try_from(vocab.bytes.len()).map_err(|_| too_large("token ids", vocab.bytes.len()))?;
    Ok(schema::Vocabulary {
        width: u32::try_from(vocab.width).map_err(|_| too_large("logits (width)", vocab.width))?,
        n_tokens,
        token_offsets,
        token_bytes,
        special: vocab.special.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i as u32).collect(),
        eos,
        first_ids: first.iter().map(|(id, _)| id.raw()).collect(),
        first_offsets,
        first_bytes,
        kind: vocab.kind.as_str().to_string(),
        source: if source.is_empty() { vocab.model.to_string() } else { source.to_string() },
    })
}

/// The artifact bytes for a grammar with its vocabulary (read from the tokenizer file named
/// `source`) and mask store ([`crate::mask::build`]).
pub fn encode_with_masks(compiled: &Compiled, vocab: &Vocabulary, source: &str, masks: schema::MaskStore) -> Result<Vec<u8>, EmitError> {
    let payload = Payload { grammar: compiled_grammar(compiled), vocab: Some(vocabulary(vocab, source)?), masks: Some(masks) };
    Ok(syncodec_artifacts::encode(&payload, FLAG_HAS_VOCAB, compiled.grammar_hash, vocab.hash, env!("CARGO_PKG_VERSION"))?)
}

/// Writes the zstd-packed copy of artifact `bytes` to `path` atomically; returns its size.
pub fn write_packed(path: &Path, bytes: &[u8], level: i32) -> Result<usize, EmitError> {
    let packed = syncodec_artifacts::pack::pack(bytes, level)?;
    write_atomic(path, &packed)?;
    Ok(packed.len())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over `path`. A crash leaves either the old file or the new one (and a
/// temporary file that the next write to the same directory removes, see [`remove_stale_temps`]).
///
/// Only regular files are replaced: a symbolic link is written through (its target is replaced,
/// the link stays), and a device node, FIFO, socket or directory at `path` (or at the link's
/// target) is refused with [`EmitError::NotRegular`] before anything is written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmitError> {
    let target = output_target(path)?;
    let io_err = |source| EmitError::Io { path: target.display().to_string(), source };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_stale_temps(&dir, &name);
    let mut builder = tempfile::Builder::new();
    let prefix = temp_prefix(&name, std::process::id());
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    // A temporary file is private (0600) by default; the artifact gets the permissions of any
    // new file (0666 less the umask), as other tools' outputs do.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(&target).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Suffix of the temporary files of [`write_atomic`]: `.{output name}.{pid}.{random}.syncode-tmp`.
const TEMP_SUFFIX: &str = ".syncode-tmp";

fn temp_prefix(name: &str, pid: u32) -> String {
    format!(".{name}.{pid}.")
}

/// The path [`write_atomic`] replaces for `path`: `path` itself when it is a regular file or does
/// not exist, the final target of a symbolic link (which must itself be a regular file or not
/// exist yet). Anything else is refused. Call it before a long build to fail early.
pub fn output_target(path: &Path) -> Result<PathBuf, EmitError> {
    let mut target = path.to_path_buf();
    // Follow a chain of links by hand (bounded: a loop is an error, as the OS would say).
    for _ in 0..40 {
        let meta = match std::fs::symlink_metadata(&target) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(source) => return Err(EmitError::Io { path: target.display().to_string(), source }),
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(target);
        }
        if kind.is_symlink() {
            let link = std::fs::read_link(&target).map_err(|source| EmitError::Io { path: target.display().to_string(), source })?;
            target = match target.parent() {
                Some(dir) if link.is_relative() => dir.join(link),
                _ => link,
            };
            continue;
        }
        return Err(EmitError::NotRegular { path: path.display().to_string(), kind: file_kind(&kind) });
    }
    Err(EmitError::NotRegular { path: path.display().to_string(), kind: "a chain of more than 40 symbolic links" })
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Removes temporary files that [`write_atomic`] left in `dir` for output `name` when its process
/// died (killed mid-write): those whose process id no longer runs (Linux, from `/proc`), or, where
/// that cannot be told, that are more than a day old. Best effort: errors are ignored.
pub fn remove_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let start = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let Some(rest) = file_name.strip_prefix(&start).and_then(|r| r.strip_suffix(TEMP_SUFFIX)) else { continue };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && process_is_gone(pid, &entry) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_is_gone(pid: u32, entry: &std::fs::DirEntry) -> bool {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        return !Path::new(&format!("/proc/{pid}")).exists();
    }
    let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    age.is_some_and(|a| a > std::time::Duration::from_secs(24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_replaced_and_links_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        // A new file, then the same path again (replaced).
        let file = dir.path().join("a.syncode");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        // A directory is refused.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(matches!(write_atomic(&sub, b"x"), Err(EmitError::NotRegular { kind: "a directory", .. })));
        #[cfg(unix)]
        {
            // A character device is refused before anything is written.
            assert!(matches!(output_target(Path::new("/dev/null")), Err(EmitError::NotRegular { kind: "a character device", .. })));
            // A symbolic link: the target is replaced, the link stays a link.
            let link = dir.path().join("current.syncode");
            std::os::unix::fs::symlink("a.syncode", &link).unwrap();
            write_atomic(&link, b"three").unwrap();
            assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
            assert_eq!(std::fs::read(&file).unwrap(), b"three");
            // A dangling link creates its target.
            let dangling = dir.path().join("next.syncode");
            std::os::unix::fs::symlink("new.syncode", &dangling).unwrap();
            write_atomic(&dangling, b"four").unwrap();
            assert_eq!(std::fs::read(dir.path().join("new.syncode")).unwrap(), b"four");
            // A link to a device is refused, the device untouched.
            let to_dev = dir.path().join("dev.syncode");
            std::os::unix::fs::symlink("/dev/null", &to_dev).unwrap();
            assert!(matches!(write_atomic(&to_dev, b"x"), Err(EmitError::NotRegular { .. })));
            assert!(std::fs::symlink_metadata(&to_dev).unwrap().file_type().is_symlink());
            // A FIFO is refused (and never opened, so this does not block).
            let fifo = dir.path().join("pipe.syncode");
            if std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
                let e = write_atomic(&fifo, b"x").unwrap_err();
                assert!(e.to_string().contains("FIFO"), "{e}");
            }
        }
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(TEMP_SUFFIX)).collect();
        assert!(left.is_empty());
    }

    #[test]
    fn temporary_files_of_dead_builds_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        // A process id that does not run: past the largest pid Linux hands out.
        let dead = dir.path().join(format!("{}abc123{TEMP_SUFFIX}", temp_prefix("a.syncode", 4_194_304 + 7)));
        std::fs::write(&dead, b"partial").unwrap();
        // Another output's temporary file and an unrelated file stay.
        let other = dir.path().join(format!("{}abc123{TEMP_SUFFIX}", temp_prefix("b.syncode", 4_194_304 + 7)));
        std::fs::write(&other, b"partial").unwrap();
        let unrelated = dir.path().join(".a.syncode.notes");
        std::fs::write(&unrelated, b"keep").unwrap();
        write_atomic(&dir.path().join("a.syncode"), b"done").unwrap();
        if cfg!(target_os = "linux") {
            assert!(!dead.exists(), "the dead build's temporary file is still there");
        }
        assert!(other.exists() && unrelated.exists());
    }
}
