//! `syncodec inspect ARTIFACT [--format text|json]`: what an artifact holds.
//!
//! Opens the artifact (validating it), verifies its payload checksum, and prints the header
//! (format version, compiler version, flags, grammar and vocabulary hashes), sizes and counts.
//! Sizes are the bytes of the archived tables: *grammar tables* are the terminal and lexer DFAs,
//! the lexer's accept table, the LR action/goto tables and the productions; *vocabulary* the token
//! bytes, offsets, first-position overrides and the special/EOS id lists; *mask store* every table
//! of the store, of which *mask data* is the stored masks themselves.
//!
//! JSON output is one object with these keys (stable; `vocabulary` and `mask_store` are `null`
//! for an artifact built without a tokenizer): `path`, `file_bytes`, `payload_bytes`,
//! `format_version`, `compiler_version`, `flags`, `checksum_ok`, `grammar_hash`, `vocab_hash`,
//! `sections` {`grammar_tables`, `vocabulary`, `mask_store`, `mask_data`}, `grammar` {`name`,
//! `start_rule`, `file_extensions`, `terminals`, `dfa_states`, `lexer_states`, `lr_states`,
//! `lr_mode`, `productions`, `layout`}, `vocabulary` {`kind`, `source`, `tokens`, `width`,
//! `special`, `eos`, `first_overrides`}, `mask_store` {`masks`, `dense`, `sparse`,
//! `live_entries`, `split_entries`, `state_entries` (DFA states of the store's tables, dead ones included)}.
//!
//! Exit 0 when the checksum matches, 1 when it does not (the rest is still printed).

use std::io::Write;

use serde_json::{json, Value};
use syncodec_artifacts::header::{hex, FLAG_HAS_VOCAB};
use syncodec_artifacts::schema::{ArchivedDfa, MASK_DENSE, MASK_SPARSE, NONE};
use syncodec_runtime::artifact::Artifact;

use crate::args::{FormatArg, InspectArgs};
use crate::{CliError, ExitStatus};

pub fn run(args: &InspectArgs) -> Result<ExitStatus, CliError> {
    // Unverified, then verified: a corrupted file is still described, with its checksum
    // reported as a mismatch (exit 1), rather than refused at open.
    let artifact = Artifact::open_unverified(&args.artifact).map_err(|source| CliError::Open { path: args.artifact.display().to_string(), source })?;
    let checksum_ok = artifact.verify_integrity().is_ok();
    let value = describe(&artifact, &args.artifact.display().to_string(), checksum_ok);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Json => writeln!(stdout, "{value}")?,
        FormatArg::Text => stdout.write_all(to_text(&value).as_bytes())?,
    }
    if !checksum_ok {
        eprintln!("syncodec: the payload checksum does not match: the file is corrupted; rebuild or re-copy it");
    }
    Ok(if checksum_ok { ExitStatus::Success } else { ExitStatus::Failure })
}

fn dfa_bytes(d: &ArchivedDfa) -> usize {
    d.classes.len() + d.trans.len() * 4 + d.flags.len()
}

/// The JSON description of an artifact (see the module docs for the keys).
pub fn describe(artifact: &Artifact, path: &str, checksum_ok: bool) -> Value {
    let header = artifact.header();
    let payload = artifact.payload();
    let g = &payload.grammar;
    let terminal_dfas = g.terminals.iter().filter_map(|t| t.dfa.as_ref());
    let dfa_states: usize = terminal_dfas.clone().map(|d| d.n_states.to_native() as usize).sum();
    let grammar_tables = terminal_dfas.map(dfa_bytes).sum::<usize>()
        + dfa_bytes(&g.lexer.dfa)
        + g.lexer.accept.len() * 4
        + g.lr.action.len() * 4
        + g.lr.goto.len() * 4
        + g.productions.iter().map(|p| p.rhs.len() * 4 + 4).sum::<usize>();
    let layout = if g.indentation.is_some() {
        "indentation"
    } else if g.auto_semicolon.is_some() {
        "auto-semicolon"
    } else {
        "none"
    };
    let vocabulary = payload.vocab.as_ref().map(|v| {
        let bytes = v.token_bytes.len() + v.token_offsets.len() * 4 + v.first_bytes.len() + (v.first_offsets.len() + v.first_ids.len() + v.special.len() + v.eos.len()) * 4;
        let value = json!({
            "kind": v.kind.as_str(),
            "source": v.source.as_str(),
            "tokens": v.n_tokens.to_native(),
            "width": v.width.to_native(),
            "special": v.special.len(),
            "eos": v.eos.iter().map(|e| e.to_native()).collect::<Vec<u32>>(),
            "first_overrides": v.first_ids.len(),
        });
        (bytes, value)
    });
    let masks = payload.masks.as_ref().map(|m| {
        let data = m.mask_data.len() * 4;
        let bytes = data + (m.mask_offset.len() + m.state_base.len() + m.live.len() + m.split_start.len() + m.split_follower.len() + m.split_mask.len()) * 4 + m.mask_kind.len();
        let value = json!({
            "masks": m.mask_kind.len(),
            "dense": m.mask_kind.iter().filter(|k| **k == MASK_DENSE).count(),
            "sparse": m.mask_kind.iter().filter(|k| **k == MASK_SPARSE).count(),
            "live_entries": m.live.iter().filter(|l| l.to_native() != NONE).count(),
            "split_entries": m.split_follower.len(),
            "state_entries": m.live.len(),
        });
        (bytes, data, value)
    });
    json!({
        "path": path,
        "file_bytes": artifact.len(),
        "payload_bytes": header.payload_len,
        "format_version": header.format_version,
        "compiler_version": header.compiler_version,
        "flags": header.flags,
        "checksum_ok": checksum_ok,
        "grammar_hash": hex(&header.grammar_hash),
        "vocab_hash": if header.flags & FLAG_HAS_VOCAB != 0 || payload.vocab.is_some() { Value::from(hex(&header.vocab_hash)) } else { Value::Null },
        "sections": {
            "grammar_tables": grammar_tables,
            "vocabulary": vocabulary.as_ref().map_or(0, |v| v.0),
            "mask_store": masks.as_ref().map_or(0, |m| m.0),
            "mask_data": masks.as_ref().map_or(0, |m| m.1),
        },
        "grammar": {
            "name": g.name.as_str(),
            "start_rule": g.start_rule.as_str(),
            "file_extensions": g.file_extensions.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            "terminals": g.terminals.len(),
            "dfa_states": dfa_states,
            "lexer_states": g.lexer.dfa.n_states.to_native(),
            "lr_states": g.lr.n_states.to_native(),
            "lr_mode": g.lr.mode.as_str(),
            "productions": g.productions.len(),
            "layout": layout,
        },
        "vocabulary": vocabulary.map_or(Value::Null, |v| v.1),
        "mask_store": masks.map_or(Value::Null, |m| m.2),
    })
}

/// The text form: one `key: value` line per field.
fn to_text(v: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let mut line = |k: &str, val: String| out.push_str(&format!("{k}: {val}\n"));
    line("artifact", format!("{} ({} bytes, payload {} bytes)", s(&v["path"]), v["file_bytes"], v["payload_bytes"]));
    line("format version", s(&v["format_version"]));
    line("compiler version", s(&v["compiler_version"]));
    let flags = v["flags"].as_u64().unwrap_or(0);
    line("flags", format!("{flags:#x}{}", if flags & u64::from(FLAG_HAS_VOCAB) != 0 { " (has vocabulary and mask store)" } else { "" }));
    line("checksum", if v["checksum_ok"] == Value::Bool(true) { "ok".into() } else { "MISMATCH (corrupted)".into() });
    line("grammar hash", s(&v["grammar_hash"]));
    line("vocabulary hash", s(&v["vocab_hash"]));
    let sec = &v["sections"];
    line(
        "sections",
        format!("grammar tables {} bytes, vocabulary {} bytes, mask store {} bytes (mask data {} bytes)", sec["grammar_tables"], sec["vocabulary"], sec["mask_store"], sec["mask_data"]),
    );
    let g = &v["grammar"];
    let extensions: Vec<String> = g["file_extensions"].as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default();
    line("grammar", format!("{} (start rule {}, file extensions {})", s(&g["name"]), s(&g["start_rule"]), extensions.join(" ")));
    line("terminals", s(&g["terminals"]));
    line("dfa states", format!("{} (lexer {})", g["dfa_states"], g["lexer_states"]));
    line("lr states", format!("{} ({})", g["lr_states"], s(&g["lr_mode"])));
    line("productions", s(&g["productions"]));
    line("layout", s(&g["layout"]));
    match &v["vocabulary"] {
        Value::Null => line("vocabulary", "none (built without --tokenizer)".into()),
        voc => {
            line("vocabulary", format!("{} from {}", s(&voc["kind"]), s(&voc["source"])));
            line("tokens", format!("{} (width {}, {} special, {} first-position overrides)", voc["tokens"], voc["width"], voc["special"], voc["first_overrides"]));
            line("eos ids", voc["eos"].as_array().map(|a| a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")).unwrap_or_default());
        }
    }
    match &v["mask_store"] {
        Value::Null => line("mask store", "none".into()),
        m => line(
            "mask store",
            format!("{} masks ({} dense, {} sparse), {} live entries and {} split entries over {} DFA state entries", m["masks"], m["dense"], m["sparse"], m["live_entries"], m["split_entries"], m["state_entries"]),
        ),
    }
    out
}
