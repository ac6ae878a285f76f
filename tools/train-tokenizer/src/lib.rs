//! The corpus and the training recipe behind `tokenizers/syncodec-bpe.json`.

use std::collections::HashSet;
use std::path::Path;

use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, TokenizerImpl};

/// The default `--vocab-size`: all ids, special tokens included.
pub const DEFAULT_VOCAB_SIZE: usize = 8192;

/// Special tokens, in id order (ids 0 and 1). `<|endoftext|>` is one of the loader's known EOS
/// names, so `syncodec` finds the EOS id without `--eos-token`.
pub const SPECIAL_TOKENS: &[&str] = &["<|endoftext|>", "<|pad|>"];

/// The trained tokenizer type: BPE, no normalizer, byte-level pre-tokenizer, post-processor and
/// decoder.
pub type ByteLevelBpe = TokenizerImpl<BPE, NormalizerWrapper, ByteLevel, ByteLevel, ByteLevel>;

/// Which files of a syncodec checkout are the corpus: `(directory, extension, recursive)`.
const SOURCES: &[(&str, &str, bool)] = &[
    ("grammars", "ebnf", false),
    ("docs", "md", false),
    ("compiler/src", "rs", true),
    ("runtime/src", "rs", true),
    ("artifacts/src", "rs", true),
    ("tests/src", "rs", true),
];

/// The corpus files of the checkout at `root`: `README.md` plus [`SOURCES`], as `/`-separated
/// paths relative to `root`, sorted and without duplicates. Hidden files and directories are
/// skipped.
pub fn corpus_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut files = vec!["README.md".to_string()];
    for (dir, ext, recursive) in SOURCES {
        collect(root, dir, ext, *recursive, &mut files)?;
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect(root: &Path, rel: &str, ext: &str, recursive: bool, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{rel}/{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if recursive {
                collect(root, &path, ext, recursive, out)?;
            }
        } else if kind.is_file() && Path::new(&name).extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// The corpus in memory: one training sequence per file.
pub struct Corpus {
    /// `(relative path, contents)`, sorted by path.
    pub files: Vec<(String, String)>,
}

impl Corpus {
    /// Reads `files` (relative to `root`); every file must be UTF-8.
    pub fn read(root: &Path, files: Vec<String>) -> Result<Corpus, String> {
        let files = files
            .into_iter()
            .map(|f| std::fs::read_to_string(root.join(&f)).map(|text| (f.clone(), text)).map_err(|e| format!("{f}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Corpus { files })
    }

    /// Total size in bytes.
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|(_, t)| t.len()).sum()
    }

    /// BLAKE3 over every file's path and contents (each length-prefixed, little-endian u64), in
    /// order: identifies the exact input of a training run.
    pub fn digest_hex(&self) -> String {
        let mut h = blake3::Hasher::new();
        for (path, text) in &self.files {
            for part in [path.as_bytes(), text.as_bytes()] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        h.finalize().to_hex().to_string()
    }
}

/// A fresh, untrained byte-level BPE tokenizer (GPT-2 configuration: no prefix space, the GPT-2
/// split pattern, offsets trimmed).
pub fn empty_tokenizer() -> ByteLevelBpe {
    let byte_level = ByteLevel::new(false, true, true);
    let mut tokenizer = TokenizerImpl::new(BPE::default());
    tokenizer
        .with_pre_tokenizer(Some(byte_level))
        .with_post_processor(Some(byte_level))
        .with_decoder(Some(byte_level));
    tokenizer
}

/// Trains a byte-level BPE of `vocab_size` ids (special tokens included) on `corpus`.
///
/// Deterministic: the trainer picks the most frequent pair and breaks ties by the smaller pair of
/// token ids, and the initial ids (special tokens, then all 256 byte symbols sorted) do not depend
/// on the input order. Parallelism is turned off anyway, so that no reduction order can matter.
pub fn train(corpus: &Corpus, vocab_size: usize) -> Result<ByteLevelBpe, String> {
    if vocab_size < SPECIAL_TOKENS.len() + 256 {
        return Err(format!("--vocab-size {vocab_size} is below {} (the special tokens plus the 256 byte symbols)", SPECIAL_TOKENS.len() + 256));
    }
    tokenizers::utils::parallelism::set_parallelism(false);
    let mut trainer = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(0)
        .show_progress(false)
        .special_tokens(SPECIAL_TOKENS.iter().map(|s| AddedToken::from(*s, true)).collect())
        // Every byte gets a symbol even if the corpus lacks it, so any byte string is encodable.
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect::<HashSet<char>>())
        .build();
    let mut tokenizer = empty_tokenizer();
    tokenizer.train(&mut trainer, corpus.files.iter().map(|(_, text)| text.as_str())).map_err(|e| format!("training failed: {e}"))?;
    Ok(tokenizer)
}
