//! What `mask`, `verify` and `audit` share: opening an artifact that has a mask store, loading
//! the tokenizer it was built for (refusing any other), and *teacher forcing* a file: its text
//! encoded by the real tokenizer, checked to decode back to the same bytes, so that the token ids
//! can be fed to a [`Session`] one by one.
//!
//! Positions are reported as `line:col` of the file, both 1-based, the column counted in
//! characters (as `syncodec parse` does); token text is shown escaped ([`escape`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::masks::Vocab;
use syncodec_runtime::session::{MaskCache, Session, SessionOptions};

use syncodec::vocab::{Tokenizer, VocabOptions};

use crate::OracleError;

/// Opens `path` (the default open verifies the payload checksum: a flipped byte anywhere, the
/// mask store included, is an error), and requires a vocabulary and mask store.
pub fn open_with_masks(path: &Path) -> Result<Artifact, OracleError> {
    let open_error = |source| OracleError::Open { path: path.display().to_string(), source };
    let artifact = Artifact::open(path).map_err(open_error)?;
    let payload = artifact.payload();
    if payload.vocab.is_none() || payload.masks.is_none() {
        return Err(open_error(syncodec_artifacts::OpenError::NoVocabulary));
    }
    Ok(artifact)
}

/// The artifact's vocabulary (present after [`open_with_masks`]).
pub fn artifact_vocab(artifact: &Artifact) -> Result<Vocab<'_>, OracleError> {
    artifact
        .payload()
        .vocab
        .as_ref()
        .map(Vocab::new)
        .ok_or(OracleError::NoVocabulary)
}

/// Loads the tokenizer at `path` and checks that its vocabulary is the one the artifact's mask
/// store was computed for (same hash). The logits width and, unless `eos_tokens` names them, the
/// EOS tokens are taken from the artifact, since they are build options rather than properties of
/// the tokenizer.
pub fn load_matching_tokenizer(artifact: &Artifact, path: &Path, eos_tokens: &[String]) -> Result<Tokenizer, OracleError> {
    let vocab = artifact_vocab(artifact)?;
    let tokenizer = syncodec::vocab::load_tokenizer(path).map_err(|e| OracleError::Tokenizer(e.to_string()))?;
    let eos_tokens: Vec<String> = if eos_tokens.is_empty() {
        // The artifact's EOS ids, named as this tokenizer names them; when one is missing the
        // tokenizer is not the artifact's anyway, and the default EOS set shows that in the hash.
        vocab.eos().map(|id| tokenizer.id_to_token(id)).collect::<Option<Vec<String>>>().unwrap_or_default()
    } else {
        eos_tokens.to_vec()
    };
    let options = VocabOptions { eos_tokens, vocab_size: Some(vocab.width()), allow_large_vocab_size: true };
    let name = path.display().to_string();
    let found = match syncodec::vocab::from_tokenizer(&tokenizer, &name, &options) {
        Ok(v) => v.hash,
        Err(syncodec::vocab::VocabError::VocabSizeTooSmall { n_tokens, .. }) => {
            return Err(OracleError::Tokenizer(format!(
                "tokenizer {name} has {n_tokens} token ids but the artifact was built for a vocabulary of width {}: it was built for another tokenizer; \
                 pass the tokenizer.json it was built with, or rebuild it with `syncodec build GRAMMAR --tokenizer {name}`",
                vocab.width()
            )))
        }
        Err(e) => return Err(OracleError::Tokenizer(e.to_string())),
    };
    if let Err(e) = artifact.check_vocabulary(&found) {
        // `found` of the error is the artifact's hash, `expected` the caller's (this tokenizer's).
        let syncodec_artifacts::OpenError::VocabularyMismatch { found: expected, .. } = e else {
            return Err(OracleError::Tokenizer(e.to_string()));
        };
        return Err(OracleError::Tokenizer(format!(
            "tokenizer {name} does not match the artifact: the artifact's vocabulary hash is {} but this tokenizer's is {}; \
             pass the tokenizer.json the artifact was built with (and the same --eos-token options), or rebuild it with `syncodec build GRAMMAR --tokenizer {name}`",
            syncodec_artifacts::header::hex(&expected),
            syncodec_artifacts::header::hex(&found),
        )));
    }
    Ok(tokenizer)
}

/// A session at the start of a sequence (no prompt before the text).
pub fn start_session<'a>(artifact: &'a Artifact, cache: &Arc<MaskCache>) -> Result<Session<'a>, OracleError> {
    Session::with_cache(artifact, SessionOptions { sequence_start: true, ..SessionOptions::default() }, Arc::clone(cache)).map_err(OracleError::Session)
}

/// A file's text with the token ids the tokenizer gives it.
#[derive(Debug, Clone)]
pub struct Forced {
    pub path: PathBuf,
    pub text: Vec<u8>,
    pub ids: Vec<u32>,
    /// Byte offset in `text` where token `i` starts; one more entry, `text.len()`, at the end.
    pub starts: Vec<usize>,
    /// Byte offset where each line starts (line 1 at 0), so that [`Forced::location`] costs a
    /// binary search and one line, not a scan from the start of the file.
    line_starts: Vec<usize>,
}

impl Forced {
    /// `path:line:col` of byte `offset`.
    pub fn location(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = 1 + self.text[start..offset].iter().filter(|&&b| b & 0xC0 != 0x80).count();
        format!("{}:{line}:{col}", self.path.display())
    }

    /// The escaped text of token `i` (empty past the end).
    pub fn token_text(&self, i: usize) -> String {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => escape(&self.text[a..b]),
            _ => String::new(),
        }
    }
}

/// What became of a file handed to [`prepare`].
#[derive(Debug)]
pub enum Prepared {
    Ready(Forced),
    /// Not a teacher-forcing case, with the reason (`SKIP` lines).
    Skip(String),
    /// The file could not be read (`FAIL` lines; the command then fails).
    Fail(String),
}

/// Reads `path`, checks that the grammar accepts it, encodes it without special tokens and
/// checks that the ids decode (with the artifact's token bytes, as the session sees them) to
/// exactly the file's bytes.
pub fn prepare(artifact: &Artifact, tokenizer: &Tokenizer, path: &Path) -> Prepared {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => return Prepared::Fail(format!("could not read file: {e}")),
    };
    prepare_text(artifact, tokenizer, path, text)
}

/// [`prepare`] on text already read.
pub fn prepare_text(artifact: &Artifact, tokenizer: &Tokenizer, path: &Path, text: Vec<u8>) -> Prepared {
    if let Err(e) = syncodec_runtime::parser::parse(artifact.grammar(), &text) {
        return Prepared::Skip(format!("the grammar rejects the file at {e}"));
    }
    let Ok(string) = std::str::from_utf8(&text) else {
        return Prepared::Skip("not UTF-8 text (the tokenizer encodes strings)".into());
    };
    let Some(vocab) = artifact.payload().vocab.as_ref().map(Vocab::new) else {
        return Prepared::Fail("the artifact has no vocabulary".into());
    };
    // The ids only: `encode_fast`'s `Encoding` (strings, offsets, masks per token) would be the
    // peak of the whole run on a large file.
    let ids = match syncodec::vocab::encode_ids(tokenizer, string) {
        Ok(ids) => ids,
        Err(e) => return Prepared::Skip(format!("the tokenizer could not encode it: {e}")),
    };
    let mut starts = Vec::with_capacity(ids.len() + 1);
    let mut decoded: Vec<u8> = Vec::with_capacity(text.len());
    for (i, &id) in ids.iter().enumerate() {
        starts.push(decoded.len());
        if vocab.is_special(id) {
            let name = tokenizer.id_to_token(id).unwrap_or_default();
            return Prepared::Skip(format!("the tokenizer encodes text at {} as the special token {id} {:?}", location(path, &text, decoded.len()), name));
        }
        let bytes = if i == 0 { vocab.first_bytes(id) } else { vocab.bytes(id) };
        match bytes {
            Some(b) => decoded.extend_from_slice(b),
            None => return Prepared::Skip(format!("the tokenizer produced token id {id}, outside the artifact's vocabulary")),
        }
    }
    starts.push(decoded.len());
    if decoded != text {
        let at = decoded.iter().zip(&text).position(|(a, b)| a != b).unwrap_or(decoded.len().min(text.len()));
        return Prepared::Skip(format!(
            "the tokens do not decode to the file's bytes (the tokenizer's normalizer or pre-tokenizer changes the text): first difference at {}",
            location(path, &text, at)
        ));
    }
    let line_starts = std::iter::once(0).chain(text.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1)).collect();
    Prepared::Ready(Forced { path: path.to_path_buf(), text, ids, starts, line_starts })
}

fn location(path: &Path, text: &[u8], offset: usize) -> String {
    let (line, col) = line_col(text, offset);
    format!("{}:{line}:{col}", path.display())
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = 1 + before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count();
    (line, col)
}

/// Token bytes for display: printable UTF-8 as is, `\n`, `\t`, `\"`, `\\` and other control
/// characters escaped, bytes that are not UTF-8 as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Value at quantile `q` (0..=1, nearest rank) of sorted `values`; 0 when empty.
pub fn quantile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\ncé d".as_bytes();
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        // "é" is two bytes: the space after it is column 3.
        assert_eq!(line_col(text, 6), (2, 3));
        assert_eq!(line_col(text, 100), (2, 5));
    }

    #[test]
    fn forced_locations_agree_with_line_col() {
        let text = "ab\ncé d\n\nx".as_bytes().to_vec();
        let line_starts = vec![0, 3, 9, 10];
        let forced = Forced { path: PathBuf::from("f"), text: text.clone(), ids: vec![], starts: vec![0, text.len()], line_starts };
        for offset in 0..=text.len() + 2 {
            let (line, col) = line_col(&text, offset);
            assert_eq!(forced.location(offset), format!("f:{line}:{col}"), "offset {offset}");
        }
    }

    #[test]
    fn escape_shows_controls_and_bad_bytes() {
        assert_eq!(escape(b"a\"b\\\n\t\x01"), "a\\\"b\\\\\\n\\t\\u{1}");
        assert_eq!(escape(&[0x20, 0xE6, 0x97]), " \\xe6\\x97");
        assert_eq!(escape("日本".as_bytes()), "日本");
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f32> = (1..=100u8).map(f32::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[3.0], 0.0), 3.0);
    }
}
