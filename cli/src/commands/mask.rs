//! `syncodec mask ARTIFACT --tokenizer TOK.json (--text S | --prefix-file F) [--show N]
//! [--eos-token T]...`: the token mask after a code prefix.
//!
//! The tokenizer must be the one the artifact was built for (same vocabulary hash). The prefix
//! is fed as text (not as tokens); a prefix that no program of the grammar starts with is an error
//! naming its first bad position. With an empty prefix the mask is the one for the first token of
//! a sequence.
//!
//! Output (stdout), a contract:
//! - `prefix: N bytes, complete: yes|no` (`complete`: the prefix is a whole program);
//! - `allowed A of N tokens (P%)`, `N` the number of token ids of the vocabulary;
//! - `sample of S allowed tokens:` then `S` lines `  ID "text"` (text escaped), `S` = min(A,
//!   `--show`), evenly spread over the allowed ids;
//! - last line: `eos allowed: yes (ID "name", ...)` or `eos allowed: no`.
//!
//! `--format json`: one object `{"prefix_bytes", "complete", "allowed", "tokens", "sample":
//! [{"id", "text"}], "eos_allowed": [{"id", "name"}]}` (texts escaped as above).

use std::io::Write;
use std::sync::Arc;

use syncodec_runtime::session::MaskCache;

use syncodec_artifacts::bits::row;
use syncodec_oracles::forcing::{self, escape};
use serde_json::json;

use crate::args::{FormatArg, MaskArgs};
use crate::{CliError, ExitStatus};

pub fn run(args: &MaskArgs) -> Result<ExitStatus, CliError> {
    let artifact = forcing::open_with_masks(&args.artifact)?;
    let tokenizer = forcing::load_matching_tokenizer(&artifact, &args.tokenizer, &args.eos_tokens)?;
    let prefix: Vec<u8> = match (&args.text, &args.prefix_file) {
        (Some(t), None) => t.as_bytes().to_vec(),
        (None, Some(f)) => std::fs::read(f).map_err(|e| CliError::Usage(format!("could not read prefix file {}: {e}", f.display())))?,
        _ => return Err(CliError::Usage("give exactly one of --text and --prefix-file".into())),
    };
    let mut session = forcing::start_session(&artifact, &Arc::new(MaskCache::default()))?;
    if let Err(e) = session.feed_text(&prefix) {
        let detail = match e {
            syncodec_runtime::session::SessionError::TextRejected { offset } => {
                let (line, col) = forcing::line_col(&prefix, offset);
                let byte = prefix.get(offset).map_or(String::new(), |b| format!(" (byte {:?})", escape(&[*b])));
                format!("the prefix is not the start of any {} program: it goes wrong at line {line}, column {col}, byte offset {offset}{byte}", artifact.grammar().name.as_str())
            }
            other => format!("could not feed the prefix: {other}"),
        };
        return Err(CliError::Usage(detail));
    }
    let mut row = vec![0u32; session.bitmask_words()];
    session.fill_bitmask(&mut row).map_err(|e| CliError::Usage(format!("could not compute the mask: {e}")))?;
    let vocab = session.vocab();
    let n = vocab.n_tokens();
    let allowed: Vec<u32> = (0..n as u32).filter(|&id| row::get(&row, id as usize) && !vocab.is_eos(id)).collect();
    let total = row::count(&row);
    let show = args.show.min(allowed.len());
    // Evenly spread: the k-th of `show` equal slices of the allowed ids.
    let sample: Vec<(u32, String)> = (0..show)
        .map(|k| {
            let id = allowed[k * allowed.len() / show];
            let bytes = if prefix.is_empty() { vocab.first_bytes(id) } else { vocab.bytes(id) };
            (id, escape(bytes.unwrap_or(&[])))
        })
        .collect();
    let eos: Vec<(u32, String)> = vocab.eos().filter(|&id| row::get(&row, id as usize)).map(|id| (id, escape(tokenizer.id_to_token(id).unwrap_or_default().as_bytes()))).collect();
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => {
            writeln!(stdout, "prefix: {} bytes, complete: {}", prefix.len(), if session.is_complete() { "yes" } else { "no" })?;
            writeln!(stdout, "allowed {total} of {n} tokens ({:.2}%)", total as f64 * 100.0 / n.max(1) as f64)?;
            writeln!(stdout, "sample of {show} allowed tokens:")?;
            for (id, text) in &sample {
                writeln!(stdout, "  {id} \"{text}\"")?;
            }
            if eos.is_empty() {
                writeln!(stdout, "eos allowed: no")?;
            } else {
                let list: Vec<String> = eos.iter().map(|(id, name)| format!("{id} \"{name}\"")).collect();
                writeln!(stdout, "eos allowed: yes ({})", list.join(", "))?;
            }
        }
        FormatArg::Json => {
            let value = json!({
                "prefix_bytes": prefix.len(),
                "complete": session.is_complete(),
                "allowed": total,
                "tokens": n,
                "sample": sample.iter().map(|(id, text)| json!({"id": id, "text": text})).collect::<Vec<_>>(),
                "eos_allowed": eos.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            });
            writeln!(stdout, "{value}")?;
        }
    }
    Ok(ExitStatus::Success)
}
