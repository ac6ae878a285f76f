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
use std::path::Path;

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
/// synced, then renamed over `path`. A crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmitError> {
    let io_err = |source| EmitError::Io { path: path.display().to_string(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".syncode-").suffix(".tmp");
    // A temporary file is private (0600) by default; the artifact gets the permissions of any
    // new file (0666 less the umask), as other tools' outputs do.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}
