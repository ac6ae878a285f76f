//! Stage 5: the vocabulary of an LLM tokenizer as byte strings.
//!
//! [`load`] reads a HuggingFace `tokenizer.json` with the `tokenizers` crate and derives, for every
//! token id, the exact bytes the token contributes to the decoded text — by interpreting the
//! tokenizer's own decoder on bytes ([`decoder`]), so partial UTF-8 tokens (GPT-2 byte-level
//! pieces, SentencePiece `<0xNN>` byte fallback) keep their raw bytes.
//!
//! Rules (details and figures for the real tokenizers in `docs/vocabulary.md`):
//! - **Special tokens** (added tokens with `special: true`, ids with no token at all, and every
//!   EOS id) have no bytes and are never allowed by a grammar mask. Non-special added tokens
//!   (CodeGen's whitespace runs, Qwen's `<|fim_prefix|>`) are ordinary text.
//! - **EOS** ids are allowed exactly when the program is complete. Default: the special tokens
//!   named in [`KNOWN_EOS`] plus special tokens that the post-processor appends after the text;
//!   [`VocabOptions::eos_tokens`] replaces the default by token strings.
//! - **First token**: a SentencePiece decoder removes the dummy-prefix space of the first token
//!   of the text (`Strip` after `Fuse`, or `Metaspace`). [`Vocabulary::bytes`] is the
//!   middle-of-text form; [`Vocabulary::first_bytes`] the form at the start of the text.
//! - **Width** of the logits: `--vocab-size`, default the number of token ids; ids past the
//!   tokenizer's are padding, never allowed.
//! - **Hash**: BLAKE3 over a canonical encoding ([`Vocabulary::hash`]), stored in the artifact.

mod decoder;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde_json::Value;
pub use syncodec_artifacts::ids::TokenId;
/// The `tokenizers` type, re-exported so that callers (tests, `inspect`) can encode text without
/// depending on the crate themselves.
pub use tokenizers::Tokenizer;

/// Special tokens that are end-of-sequence tokens by default (when the file has them as special
/// added tokens).
pub const KNOWN_EOS: &[&str] = &[
    "</s>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<eos>",
    "<|EOT|>",
    "<end_of_turn>",
    "<|end▁of▁sentence|>",
];

/// Options of [`load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VocabOptions {
    /// `--eos-token`: token strings (as in the tokenizer's vocabulary or added tokens) that replace
    /// the default EOS set when non-empty.
    pub eos_tokens: Vec<String>,
    /// `--vocab-size`: the logits width, at least the number of token ids.
    pub vocab_size: Option<usize>,
    /// `--allow-large-vocab-size`: accept a width above [`PLAUSIBLE_PADDING`] × the token ids or
    /// above [`PLAUSIBLE_WIDTH`] (each mask row costs `width / 8` bytes, per sequence and cached).
    pub allow_large_vocab_size: bool,
}

/// A logits width more than this many times the tokenizer's token ids is taken for a typo.
pub const PLAUSIBLE_PADDING: usize = 4;
/// A logits width above 2²⁴ (16.7M tokens, 2 MiB per mask row) is taken for a typo.
pub const PLAUSIBLE_WIDTH: usize = 1 << 24;

/// How token strings map to text (for `inspect` and the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum VocabKind {
    /// GPT-2 style: each char of a token stands for one byte.
    ByteLevel,
    /// `▁` stands for a space; no byte fallback.
    SentencePiece,
    /// `▁` stands for a space and `<0xNN>` tokens for raw bytes.
    SentencePieceByteFallback,
    /// Token strings are the text (possibly with `Replace`/`Strip` steps).
    Plain,
}

impl VocabKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VocabKind::ByteLevel => "byte-level",
            VocabKind::SentencePiece => "sentencepiece",
            VocabKind::SentencePieceByteFallback => "sentencepiece+byte-fallback",
            VocabKind::Plain => "plain",
        }
    }
}

/// The vocabulary as the mask store and the runtime need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    /// Per token id (`0..n_tokens`): the exact bytes it adds to the decoded text in the middle of
    /// a text (not necessarily valid UTF-8). Empty for special tokens.
    pub bytes: Vec<Vec<u8>>,
    /// Per token id: never allowed by a grammar mask (special/control tokens, unused ids, EOS).
    pub special: Vec<bool>,
    /// End-of-sequence ids, sorted: allowed exactly when the program is complete.
    pub eos: Vec<TokenId>,
    /// Logits width (`>= n_tokens`); ids `n_tokens..width` are padding and never allowed.
    pub width: usize,
    /// BLAKE3 over the canonical encoding written by [`Vocabulary::hash_of`].
    pub hash: [u8; 32],
    pub kind: VocabKind,
    /// Whether the decoder removes the SentencePiece dummy-prefix space from the first token of
    /// the text (then [`Vocabulary::first_bytes`] differs from `bytes` for tokens starting with it).
    pub leading_space_stripped_first: bool,
    /// The tokens whose bytes differ when they are the first token of the text, sorted by id,
    /// with their first-token bytes.
    pub first_overrides: Vec<(TokenId, Vec<u8>)>,
    /// The model type (`BPE`, `Unigram`, `WordLevel`, `WordPiece`).
    pub model: &'static str,
}

impl Vocabulary {
    /// Number of token ids the tokenizer has (`bytes.len()`).
    pub fn n_tokens(&self) -> usize {
        self.bytes.len()
    }

    /// Number of ids below `n_tokens` that are never allowed as text (specials, holes, EOS).
    pub fn n_special(&self) -> usize {
        self.special.iter().filter(|s| **s).count()
    }

    /// The middle-of-text bytes of `id` (empty for special, padding and out-of-range ids).
    pub fn token_bytes(&self, id: TokenId) -> &[u8] {
        self.bytes.get(id.as_usize()).map_or(&[], Vec::as_slice)
    }

    /// The bytes of `id` when it is the first token of the text.
    pub fn first_bytes(&self, id: TokenId) -> &[u8] {
        match self.first_overrides.binary_search_by_key(&id, |(t, _)| *t) {
            Ok(i) => &self.first_overrides[i].1,
            Err(_) => self.token_bytes(id),
        }
    }

    /// Whether a grammar mask may ever allow `id` as text.
    pub fn is_text(&self, id: TokenId) -> bool {
        self.special.get(id.as_usize()).is_some_and(|s| !s)
    }

    pub fn is_eos(&self, id: TokenId) -> bool {
        self.eos.binary_search(&id).is_ok()
    }

    /// The text bytes of a generated sequence `ids` decoded on its own (first-token rule on
    /// `ids[0]`); special tokens add nothing.
    pub fn decode(&self, ids: &[TokenId]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            out.extend_from_slice(if i == 0 { self.first_bytes(*id) } else { self.token_bytes(*id) });
        }
        out
    }

    /// Hex of [`Vocabulary::hash`].
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The vocabulary hash. Canonical encoding, all integers little-endian:
    /// `"syncodec-vocabulary-v1\0"`, width (u64), n_tokens (u64), per id: special (u8),
    /// byte length (u64), bytes; number of EOS ids (u64), each id (u32); number of first-token
    /// overrides (u64), each: id (u32), byte length (u64), bytes.
    pub fn hash_of(bytes: &[Vec<u8>], special: &[bool], eos: &[TokenId], width: usize, first_overrides: &[(TokenId, Vec<u8>)]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"syncodec-vocabulary-v1\0");
        h.update(&(width as u64).to_le_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        for (b, s) in bytes.iter().zip(special) {
            h.update(&[u8::from(*s)]);
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        }
        h.update(&(eos.len() as u64).to_le_bytes());
        for id in eos {
            h.update(&id.raw().to_le_bytes());
        }
        h.update(&(first_overrides.len() as u64).to_le_bytes());
        for (id, b) in first_overrides {
            h.update(&id.raw().to_le_bytes());
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        }
        *h.finalize().as_bytes()
    }
}

/// Why a vocabulary could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    #[error("could not read tokenizer {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a tokenizer.json that the `tokenizers` library can load: {message}")]
    NotATokenizer { path: String, message: String },
    #[error("unsupported tokenizer {path}: {found}")]
    Unsupported { path: String, found: String },
    #[error("--vocab-size {requested} is smaller than the vocabulary of {path}, which has {n_tokens} token ids")]
    VocabSizeTooSmall { path: String, requested: usize, n_tokens: usize },
    #[error("--vocab-size {requested} is implausible for {path}, which has {n_tokens} token ids (more than {PLAUSIBLE_PADDING}x its ids or over 2^24; every mask row would take {} KiB): pass the model's logits width (config.json's vocab_size), or add --allow-large-vocab-size if it really is that wide", requested.div_ceil(8 * 1024))]
    ImplausibleVocabSize { path: String, requested: usize, n_tokens: usize },
    #[error("--eos-token {token:?} is neither an added token nor a vocabulary entry of {path}")]
    UnknownEosToken { path: String, token: String },
    #[error("no end-of-sequence token found in {path} (looked for the special tokens {known}); name one with --eos-token")]
    NoEos { path: String, known: String },
}

/// Reads `path` with the `tokenizers` crate.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer, VocabError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| VocabError::Unreadable { path: name.clone(), source })?;
    tokenizer_from_bytes(&bytes, &name)
}

/// Parses tokenizer.json bytes; `name` is used in errors.
pub fn tokenizer_from_bytes(bytes: &[u8], name: &str) -> Result<Tokenizer, VocabError> {
    // The crate is a third-party parser: a panic on odd input becomes an error, never an abort.
    match std::panic::catch_unwind(|| Tokenizer::from_bytes(bytes)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(VocabError::NotATokenizer { path: name.to_string(), message: e.to_string() }),
        Err(_) => Err(VocabError::NotATokenizer { path: name.to_string(), message: "the tokenizers library panicked while reading it".into() }),
    }
}

/// The ids `tokenizer` encodes `text` to, without special tokens: the ids of
/// `tokenizer.encode_fast(text, false)` (added tokens, normalizer, pre-tokenizer, model), without
/// building its `Encoding`, whose per-token strings, offsets and masks cost about 100 bytes per
/// token more (a 2 MB file of 1.5M tokens peaked at 213 MB of heap). A `truncation` or `padding`
/// section of the tokenizer.json is not applied (the whole text is encoded), nor is the
/// post-processor, which adds or changes no ids without special tokens.
pub fn encode_ids(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, String> {
    use tokenizers::{Model, OffsetReferential, OffsetType, PreTokenizer};
    let mut pretokenized = tokenizer.get_added_vocabulary().extract_and_normalize(tokenizer.get_normalizer(), text);
    if let Some(pre) = tokenizer.get_pre_tokenizer() {
        pre.pre_tokenize(&mut pretokenized).map_err(|e| e.to_string())?;
    }
    let model = tokenizer.get_model();
    pretokenized.tokenize(|normalized| model.tokenize(normalized.get())).map_err(|e| e.to_string())?;
    let splits = pretokenized.get_splits(OffsetReferential::Original, OffsetType::None);
    Ok(splits.into_iter().flat_map(|(_, _, tokens)| tokens.iter().flatten().map(|token| token.id)).collect())
}

/// Loads the vocabulary of the tokenizer.json at `path`.
pub fn load(path: &Path, options: &VocabOptions) -> Result<Vocabulary, VocabError> {
    let tokenizer = load_tokenizer(path)?;
    from_tokenizer(&tokenizer, &path.display().to_string(), options)
}

/// Builds the vocabulary of an already loaded tokenizer; `name` is used in errors.
pub fn from_tokenizer(tokenizer: &Tokenizer, name: &str, options: &VocabOptions) -> Result<Vocabulary, VocabError> {
    let unsupported = |found: String| VocabError::Unsupported { path: name.to_string(), found };
    let model = match tokenizer.get_model() {
        tokenizers::ModelWrapper::BPE(_) => "BPE",
        tokenizers::ModelWrapper::Unigram(_) => "Unigram",
        tokenizers::ModelWrapper::WordLevel(_) => "WordLevel",
        tokenizers::ModelWrapper::WordPiece(_) => "WordPiece",
    };
    let decoder_json = match tokenizer.get_decoder() {
        Some(d) => Some(serde_json::to_value(d).map_err(|e| unsupported(format!("decoder that cannot be serialized: {e}")))?),
        None => None,
    };
    let chain = decoder::Chain::from_json(decoder_json.as_ref()).map_err(unsupported)?;

    // Token strings by id: the model's vocabulary, then the added tokens (which take precedence in
    // `Tokenizer::decode`, and so here).
    let model_vocab = tokenizer.get_vocab(false);
    let added = tokenizer.get_added_tokens_decoder();
    let max_id = model_vocab.values().chain(added.keys()).copied().max();
    let n_tokens = max_id.map_or(0, |m| m as usize + 1);
    if n_tokens >= TokenId::LIMIT {
        return Err(unsupported(format!("token id {} (ids must be below {})", n_tokens - 1, TokenId::LIMIT)));
    }
    if n_tokens == 0 {
        return Err(unsupported("an empty vocabulary".into()));
    }
    // Holes are allowed (they become never-allowed ids), but not so many that a hostile id makes
    // us allocate gigabytes.
    let n_entries = model_vocab.len() + added.len();
    if n_tokens > n_entries.saturating_mul(16).saturating_add(1 << 16) {
        return Err(unsupported(format!("token id {} with only {n_entries} tokens (ids this sparse are not a real vocabulary)", n_tokens - 1)));
    }
    let mut strings: Vec<Option<&str>> = vec![None; n_tokens];
    for (s, id) in &model_vocab {
        strings[*id as usize] = Some(s.as_str());
    }
    let mut special = vec![false; n_tokens];
    for (id, token) in &added {
        strings[*id as usize] = Some(token.content.as_str());
        special[*id as usize] = token.special;
    }
    for (s, flag) in strings.iter().zip(special.iter_mut()) {
        if s.is_none() {
            *flag = true;
        }
    }

    // EOS.
    let lookup = |s: &str| -> Option<u32> { added.iter().find(|(_, t)| t.content == s).map(|(id, _)| *id).or_else(|| model_vocab.get(s).copied()) };
    let mut eos: Vec<u32> = Vec::new();
    if options.eos_tokens.is_empty() {
        let mut specials: Vec<(&u32, &str)> = added.iter().filter(|(_, t)| t.special).map(|(id, t)| (id, t.content.as_str())).collect();
        specials.sort();
        eos.extend(specials.iter().filter(|(_, c)| KNOWN_EOS.contains(c)).map(|(id, _)| **id));
        if let Some(pp) = tokenizer.get_post_processor().and_then(|p| serde_json::to_value(p).ok()) {
            for s in appended_special_tokens(&pp) {
                if let Some(id) = lookup(&s).filter(|id| special.get(*id as usize) == Some(&true)) {
                    eos.push(id);
                }
            }
        }
        if eos.is_empty() {
            return Err(VocabError::NoEos { path: name.to_string(), known: KNOWN_EOS.join(" ") });
        }
    } else {
        for s in &options.eos_tokens {
            eos.push(lookup(s).ok_or_else(|| VocabError::UnknownEosToken { path: name.to_string(), token: s.clone() })?);
        }
    }
    eos.sort_unstable();
    eos.dedup();
    for id in &eos {
        special[*id as usize] = true;
    }
    let eos: Vec<TokenId> = eos.into_iter().map(TokenId::from_raw).collect();

    let width = options.vocab_size.unwrap_or(n_tokens);
    if width < n_tokens {
        return Err(VocabError::VocabSizeTooSmall { path: name.to_string(), requested: width, n_tokens });
    }
    if !options.allow_large_vocab_size && (width > n_tokens.saturating_mul(PLAUSIBLE_PADDING).max(64) || width > PLAUSIBLE_WIDTH) {
        return Err(VocabError::ImplausibleVocabSize { path: name.to_string(), requested: width, n_tokens });
    }
    if width >= TokenId::LIMIT {
        return Err(unsupported(format!("--vocab-size {width} (must be below {})", TokenId::LIMIT)));
    }

    // Bytes.
    let mut bytes = Vec::with_capacity(n_tokens);
    let mut first_overrides = Vec::new();
    for (id, (s, sp)) in strings.iter().zip(&special).enumerate() {
        match s {
            Some(s) if !sp => {
                let mid = chain.decode(s, false);
                let first = chain.decode(s, true);
                if first != mid {
                    first_overrides.push((TokenId::from_raw(id as u32), first));
                }
                bytes.push(mid);
            }
            _ => bytes.push(Vec::new()),
        }
    }

    let shape = chain.shape();
    let kind = if shape.byte_level {
        VocabKind::ByteLevel
    } else if shape.metaspace && shape.byte_fallback {
        VocabKind::SentencePieceByteFallback
    } else if shape.metaspace {
        VocabKind::SentencePiece
    } else {
        VocabKind::Plain
    };
    let leading_space_stripped_first = chain.strips_first();
    let hash = Vocabulary::hash_of(&bytes, &special, &eos, width, &first_overrides);
    Ok(Vocabulary { bytes, special, eos, width, hash, kind, leading_space_stripped_first, first_overrides, model })
}

/// The special tokens a post-processor's single-sequence template puts after the text
/// (`TemplateProcessing`, possibly inside a `Sequence`).
fn appended_special_tokens(pp: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match pp.get("type").and_then(Value::as_str) {
        Some("Sequence") => {
            for p in pp.get("processors").and_then(Value::as_array).into_iter().flatten() {
                out.extend(appended_special_tokens(p));
            }
        }
        Some("TemplateProcessing") => {
            let single = pp.get("single").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            let after = single.iter().rposition(|piece| piece.get("Sequence").is_some()).map_or(single.len(), |i| i + 1);
            for piece in &single[after..] {
                if let Some(id) = piece.get("SpecialToken").and_then(|s| s.get("id")).and_then(Value::as_str) {
                    // The template names a key of `special_tokens`, which lists the actual tokens.
                    match pp.get("special_tokens").and_then(|m| m.get(id)).and_then(|t| t.get("tokens")).and_then(Value::as_array) {
                        Some(tokens) => out.extend(tokens.iter().filter_map(Value::as_str).map(str::to_string)),
                        None => out.push(id.to_string()),
                    }
                }
            }
        }
        // RobertaProcessing / BertProcessing append `sep`: [token, id].
        Some("RobertaProcessing" | "BertProcessing") => {
            if let Some(sep) = pp.get("sep").and_then(|s| s.get(0)).and_then(Value::as_str) {
                out.push(sep.to_string());
            }
        }
        _ => {}
    }
    out
}
