//! Helpers of the token-mask tests: the real tokenizers, and artifacts with a mask store built
//! once per (grammar, tokenizer) per test process (the build is the expensive part, so tests
//! of one binary share them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use syncodec::vocab::{Tokenizer, VocabOptions};
use syncodec_runtime::artifact::Artifact;

use crate::{shared_data, workspace_root};

/// Every `*.json` tokenizer under `../shared/tokenizers` (sorted), plus the project's own
/// `tokenizers/syncodec-bpe.json` when present. Empty (after printing why) when the shared
/// directory is missing outside CI.
pub fn tokenizers() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = shared_data("tokenizers") {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            out.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")));
        }
    }
    out.sort();
    let own = workspace_root().join("tokenizers/syncodec-bpe.json");
    if own.is_file() {
        out.push(own);
    }
    out
}

/// Short name of a tokenizer file, for messages (`llama3`).
pub fn tokenizer_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned())
}

type Slot<T> = Arc<OnceLock<Arc<T>>>;
type Cache<K, T> = OnceLock<Mutex<HashMap<K, Slot<T>>>>;

fn slot<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, Slot<T>>>, key: K) -> Slot<T> {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(map.entry(key).or_default())
}

/// The artifact of `grammars/{grammar}.ebnf` with the mask store for `tokenizer`, built on
/// first use in this process (prints the build time).
pub fn artifact(grammar: &str, tokenizer: &Path) -> Arc<Artifact> {
    static CACHE: Cache<(String, PathBuf), Artifact> = OnceLock::new();
    let slot = slot(CACHE.get_or_init(Default::default), (grammar.to_string(), tokenizer.to_path_buf()));
    Arc::clone(slot.get_or_init(|| {
        let started = Instant::now();
        let bytes = build_bytes(grammar, tokenizer);
        let artifact = Artifact::from_bytes(&bytes).unwrap_or_else(|e| panic!("artifact of {grammar} x {} does not open: {e}", tokenizer.display()));
        println!("built {grammar} x {}: {} bytes in {:.1?}", tokenizer_name(tokenizer), bytes.len(), started.elapsed());
        Arc::new(artifact)
    }))
}

/// The bytes of the artifact of `grammars/{grammar}.ebnf` built with `tokenizer`. A name
/// `contextual:NAME` is the test grammar `tests/grammars/NAME.lark` built with the contextual
/// lexer.
pub fn build_bytes(grammar: &str, tokenizer: &Path) -> Vec<u8> {
    let mut options = syncodec::CompileOptions::default();
    let path = match grammar.strip_prefix("contextual:") {
        Some(name) => {
            options.contextual_lexer = true;
            workspace_root().join(format!("tests/grammars/{name}.lark"))
        }
        None => workspace_root().join(format!("grammars/{grammar}.ebnf")),
    };
    match syncodec::build_files(&path, tokenizer, &options, &VocabOptions::default()) {
        Ok((_, built)) => built.bytes,
        Err(e) => panic!("building {grammar} x {}: {e}", tokenizer.display()),
    }
}

/// The `tokenizers` tokenizer of `path`, loaded once per process.
pub fn tokenizer(path: &Path) -> Arc<Tokenizer> {
    static CACHE: Cache<PathBuf, Tokenizer> = OnceLock::new();
    let slot = slot(CACHE.get_or_init(Default::default), path.to_path_buf());
    Arc::clone(slot.get_or_init(|| Arc::new(syncodec::vocab::load_tokenizer(path).unwrap_or_else(|e| panic!("{e}")))))
}
