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

use std::io::Write;
use std::sync::Arc;

use syncodec_runtime::session::MaskCache;

use syncodec_artifacts::bits::row;
use syncodec_oracles::forcing::{self, escape};
use crate::args::MaskArgs;
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
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "prefix: {} bytes, complete: {}", prefix.len(), if session.is_complete() { "yes" } else { "no" })?;
    let total = row::count(&row);
    writeln!(stdout, "allowed {total} of {n} tokens ({:.2}%)", total as f64 * 100.0 / n.max(1) as f64)?;
    let show = args.show.min(allowed.len());
    writeln!(stdout, "sample of {show} allowed tokens:")?;
    for k in 0..show {
        // Evenly spread: the k-th of `show` equal slices of the allowed ids.
        let id = allowed[k * allowed.len() / show];
        let bytes = if prefix.is_empty() { vocab.first_bytes(id) } else { vocab.bytes(id) };
        writeln!(stdout, "  {id} \"{}\"", escape(bytes.unwrap_or(&[])))?;
    }
    let eos: Vec<String> =
        vocab.eos().filter(|&id| row::get(&row, id as usize)).map(|id| format!("{id} \"{}\"", escape(tokenizer.id_to_token(id).unwrap_or_default().as_bytes()))).collect();
    if eos.is_empty() {
        writeln!(stdout, "eos allowed: no")?;
    } else {
        writeln!(stdout, "eos allowed: yes ({})", eos.join(", "))?;
    }
    Ok(ExitStatus::Success)
}
