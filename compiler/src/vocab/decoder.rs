//! The tokenizer's decoder, interpreted per token and on raw bytes.
//!
//! `tokenizers` decodes a list of token strings with a chain of decoders and returns a `String`
//! (lossy: a token that is part of a UTF-8 sequence becomes U+FFFD). The mask store needs the
//! exact bytes, so this module re-implements the decoder chain on bytes, from the crate's own
//! serialization of the decoder it loaded (`serde_json::to_value(tokenizer.get_decoder())`, so the
//! legacy file formats the crate accepts are normalised by the crate first).
//!
//! Each step below mirrors `decode_chain` of the same type in `tokenizers` 0.22:
//! - `ByteLevel`: every char of the token through the GPT-2 unicode→byte map; a token with a char
//!   outside the map is kept as its UTF-8 (that is how CodeGen's added whitespace runs decode).
//!   It also joins the tokens (like `Fuse`).
//! - `ByteFallback`: a token spelled exactly `<0xNN>` is the raw byte NN.
//! - `Replace` (string pattern): substring replacement (`▁` → ` ` in SentencePiece files).
//! - `Metaspace`: the replacement char becomes a space; in the first token of the text it is
//!   dropped instead, unless `prepend_scheme` is `never`.
//! - `Fuse`: joins the tokens. Steps after it see the whole text, so only `Strip` without `stop`
//!   is allowed there, and it acts on the start of the text, i.e. the first token.
//! - `Strip { content, start, stop }` before `Fuse`: per token.
//!
//! Not supported, because a token's text would depend on its neighbours: `WordPiece` (`##`
//! continuation and inserted spaces), `BPEDecoder` (suffix → space except on the last token),
//! `CTC` (de-duplication), a regex `Replace`, and no decoder at all (tokens joined by spaces).

use serde_json::Value;

/// One step of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    ByteLevel,
    ByteFallback,
    Replace { pattern: Vec<u8>, content: Vec<u8> },
    Metaspace { replacement: Vec<u8>, strip_first: bool },
    /// Strips up to `start` leading and `stop` trailing `content` chars of each token.
    Strip { content: Vec<u8>, start: usize, stop: usize },
    /// After `Fuse`: strips up to `start` leading `content` chars of the text (its first token).
    StripTextStart { content: Vec<u8>, start: usize },
}

/// The decoder as a per-token program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    pub steps: Vec<Step>,
}

/// The shapes that were seen, for the `VocabKind` classification.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape {
    pub byte_level: bool,
    pub metaspace: bool,
    pub byte_fallback: bool,
}

impl Chain {
    /// Reads the serialized decoder. `Err` names what was found.
    pub fn from_json(decoder: Option<&Value>) -> Result<Chain, String> {
        let Some(decoder) = decoder else {
            return Err("no decoder (tokens would be joined with spaces)".into());
        };
        let mut chain = Chain::default();
        let mut fused = false;
        chain.push(decoder, &mut fused)?;
        Ok(chain)
    }

    fn push(&mut self, d: &Value, fused: &mut bool) -> Result<(), String> {
        let ty = d.get("type").and_then(Value::as_str).unwrap_or("<no type>");
        let after_fuse = |what: &str| Err(format!("decoder `{what}` after `Fuse` (it would act on the whole text, not per token)"));
        match ty {
            "Sequence" => {
                let Some(list) = d.get("decoders").and_then(Value::as_array) else {
                    return Err("decoder `Sequence` without a `decoders` list".into());
                };
                for inner in list {
                    self.push(inner, fused)?;
                }
            }
            "Fuse" => *fused = true,
            "ByteLevel" if *fused => return after_fuse(ty),
            "ByteLevel" => {
                // The crate's ByteLevel decoder returns the tokens joined into one string.
                self.steps.push(Step::ByteLevel);
                *fused = true;
            }
            "ByteFallback" if *fused => return after_fuse(ty),
            "ByteFallback" => self.steps.push(Step::ByteFallback),
            "Replace" => {
                let pattern = d.get("pattern").and_then(|p| p.get("String")).and_then(Value::as_str);
                let content = d.get("content").and_then(Value::as_str);
                let (Some(pattern), Some(content)) = (pattern, content) else {
                    return Err(format!("decoder `Replace` with pattern {} (only a string pattern is supported)", d.get("pattern").map_or("<none>".to_string(), |p| p.to_string())));
                };
                if pattern.is_empty() {
                    return Err("decoder `Replace` with an empty pattern".into());
                }
                // Replacing a single char is the same on the fused text as per token; a longer pattern
                // could match across a token boundary.
                if *fused && pattern.chars().count() != 1 {
                    return after_fuse("Replace");
                }
                self.steps.push(Step::Replace { pattern: pattern.as_bytes().to_vec(), content: content.as_bytes().to_vec() });
            }
            "Metaspace" if *fused => return after_fuse(ty),
            "Metaspace" => {
                let replacement = d.get("replacement").and_then(Value::as_str).filter(|r| r.chars().count() == 1).ok_or("decoder `Metaspace` without a one-char `replacement`")?;
                // Older files have `add_prefix_space: bool`; the crate serializes `prepend_scheme`.
                let strip_first = match d.get("prepend_scheme").and_then(Value::as_str) {
                    Some("never") => false,
                    Some(_) => true,
                    None => d.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(true),
                };
                self.steps.push(Step::Metaspace { replacement: replacement.as_bytes().to_vec(), strip_first });
            }
            "Strip" => {
                let content = d.get("content").and_then(Value::as_str).filter(|c| c.chars().count() == 1).ok_or("decoder `Strip` without a one-char `content`")?;
                let start = d.get("start").and_then(Value::as_u64).unwrap_or(0) as usize;
                let stop = d.get("stop").and_then(Value::as_u64).unwrap_or(0) as usize;
                if *fused {
                    if stop > 0 {
                        return Err("decoder `Strip` with `stop > 0` after `Fuse` (it strips the end of the text)".into());
                    }
                    if start > 0 {
                        self.steps.push(Step::StripTextStart { content: content.as_bytes().to_vec(), start });
                    }
                } else {
                    self.steps.push(Step::Strip { content: content.as_bytes().to_vec(), start, stop });
                }
            }
            other => {
                return Err(format!(
                    "decoder `{other}` (supported: ByteLevel, ByteFallback, Metaspace, Replace with a string pattern, Strip, Fuse, Sequence)"
                ))
            }
        }
        Ok(())
    }

    /// Whether the first token of a text decodes differently (the dummy-prefix rule).
    pub fn strips_first(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::StripTextStart { .. } | Step::Metaspace { strip_first: true, .. }))
    }

    pub fn shape(&self) -> Shape {
        let mut s = Shape::default();
        for step in &self.steps {
            match step {
                Step::ByteLevel => s.byte_level = true,
                Step::ByteFallback => s.byte_fallback = true,
                Step::Metaspace { .. } => s.metaspace = true,
                Step::Replace { pattern, .. } if pattern == "▁".as_bytes() => s.metaspace = true,
                _ => {}
            }
        }
        s
    }

    /// The bytes `token` decodes to; `first` when it is the first token of the text.
    pub fn decode(&self, token: &str, first: bool) -> Vec<u8> {
        let mut bytes = token.as_bytes().to_vec();
        for step in &self.steps {
            bytes = match step {
                Step::ByteLevel => byte_level(bytes),
                Step::ByteFallback => byte_fallback(&bytes).map_or(bytes, |b| vec![b]),
                Step::Replace { pattern, content } => replace(&bytes, pattern, content),
                Step::Metaspace { replacement, strip_first } => replace(&bytes, replacement, if first && *strip_first { b"" } else { b" " }),
                Step::Strip { content, start, stop } => strip(bytes, content, *start, *stop),
                Step::StripTextStart { content, start } if first => strip(bytes, content, *start, 0),
                Step::StripTextStart { .. } => bytes,
            };
        }
        bytes
    }
}

/// GPT-2's byte→unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100 upwards in byte order.
pub(crate) fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            b as char
        } else {
            let c = char::from_u32(next).unwrap_or('\0');
            next += 1;
            c
        };
    }
    table
}

fn byte_level(bytes: Vec<u8>) -> Vec<u8> {
    thread_local! {
        static INVERSE: std::collections::HashMap<char, u8> =
            bytes_to_unicode().iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
    }
    // Not UTF-8 (an earlier step produced raw bytes): the crate would have seen U+FFFD chars,
    // which are outside the map, and kept the token as it is.
    let Ok(text) = std::str::from_utf8(&bytes) else { return bytes };
    INVERSE.with(|inv| text.chars().map(|c| inv.get(&c).copied()).collect::<Option<Vec<u8>>>()).unwrap_or(bytes)
}

/// `<0xNN>` → NN.
pub(crate) fn byte_fallback(bytes: &[u8]) -> Option<u8> {
    if bytes.len() == 6 && bytes.starts_with(b"<0x") && bytes[5] == b'>' {
        let hex = std::str::from_utf8(&bytes[3..5]).ok()?;
        u8::from_str_radix(hex, 16).ok()
    } else {
        None
    }
}

fn replace(bytes: &[u8], pattern: &[u8], content: &[u8]) -> Vec<u8> {
    if pattern.is_empty() || bytes.len() < pattern.len() {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(pattern) {
            out.extend_from_slice(content);
            i += pattern.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn strip(mut bytes: Vec<u8>, content: &[u8], start: usize, stop: usize) -> Vec<u8> {
    let mut from = 0;
    for _ in 0..start {
        if bytes[from..].starts_with(content) {
            from += content.len();
        } else {
            break;
        }
    }
    let mut to = bytes.len();
    for _ in 0..stop {
        if to >= from + content.len() && bytes[..to].ends_with(content) {
            to -= content.len();
        } else {
            break;
        }
    }
    bytes.truncate(to);
    bytes.drain(..from);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_byte_map() {
        let t = bytes_to_unicode();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'\t' as usize], 'ĉ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0xAD], 'Ń');
        let mut seen: Vec<char> = t.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 256);
    }

    #[test]
    fn steps() {
        assert_eq!(byte_level("Ġworld".as_bytes().to_vec()), b" world");
        assert_eq!(byte_level("   ".as_bytes().to_vec()), b"   ");
        assert_eq!(byte_level("Ã©".as_bytes().to_vec()), "é".as_bytes());
        assert_eq!(byte_level("Ã".as_bytes().to_vec()), vec![0xC3]);
        assert_eq!(byte_fallback(b"<0x0A>"), Some(10));
        assert_eq!(byte_fallback(b"<0xZZ>"), None);
        assert_eq!(byte_fallback(b"<0x0A"), None);
        assert_eq!(replace("▁a▁".as_bytes(), "▁".as_bytes(), b" "), b" a ");
        assert_eq!(strip(b"  a ".to_vec(), b" ", 1, 1), b" a");
        assert_eq!(strip(b" ".to_vec(), b" ", 1, 1), b"");
    }
}
