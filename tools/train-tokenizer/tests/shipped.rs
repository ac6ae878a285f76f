//! Checks `tokenizers/syncodec-bpe.json` with syncodec's own loader, and the trainer's
//! determinism on a small corpus.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use syncodec::vocab::{self, TokenId, VocabKind, VocabOptions};
use train_tokenizer::{corpus_files, train, Corpus, SPECIAL_TOKENS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> PathBuf {
    repo().join("tokenizers/syncodec-bpe.json")
}

#[test]
fn shipped_tokenizer_loads_as_byte_level_bpe() {
    let v = vocab::load(&shipped(), &VocabOptions::default()).expect("syncodec loads the shipped tokenizer");
    assert_eq!(v.kind, VocabKind::ByteLevel);
    assert_eq!(v.model, "BPE");
    assert_eq!(v.n_tokens(), 8192);
    assert_eq!(v.width, 8192);
    // `<|endoftext|>` (id 0) is found as EOS without --eos-token; `<|pad|>` is special, not EOS.
    assert_eq!(v.eos, vec![TokenId::from_raw(0)]);
    let special: Vec<usize> = (0..v.n_tokens()).filter(|&i| v.special[i]).collect();
    assert_eq!(special, (0..SPECIAL_TOKENS.len()).collect::<Vec<_>>());
    assert!(v.first_overrides.is_empty(), "byte-level decoding has no first-token rule");

    let mut seen = HashSet::new();
    for id in 0..v.n_tokens() {
        let b = v.token_bytes(TokenId::from_raw(id as u32));
        if v.special[id] {
            assert!(b.is_empty(), "special token {id} has bytes");
        } else {
            assert!(!b.is_empty(), "token {id} has no bytes");
            assert!(seen.insert(b.to_vec()), "token {id} duplicates the bytes {b:?}");
        }
    }
    // Every single byte is a token, so every byte string can be produced.
    for byte in 0..=255u8 {
        assert!(seen.contains(&vec![byte]), "no token for byte {byte:#04x}");
    }
}

#[test]
fn python_grammar_round_trips() {
    let path = repo().join("grammars/python.ebnf");
    let text = std::fs::read_to_string(&path).unwrap();
    let tokenizer = vocab::load_tokenizer(&shipped()).unwrap();
    let v = vocab::from_tokenizer(&tokenizer, "syncodec-bpe.json", &VocabOptions::default()).unwrap();
    let encoding = tokenizer.encode(text.as_str(), false).unwrap();
    let ids = encoding.get_ids();
    // The `tokenizers` crate's own decode, and syncodec's per-token bytes, both give the file back.
    assert_eq!(tokenizer.decode(ids, false).unwrap(), text);
    let ids: Vec<TokenId> = ids.iter().map(|&i| TokenId::from_raw(i)).collect();
    assert_eq!(v.decode(&ids), text.as_bytes());
    assert!(ids.iter().all(|&id| v.is_text(id)));
    eprintln!("grammars/python.ebnf: {} bytes, {} tokens, {:.2} bytes/token", text.len(), ids.len(), text.len() as f64 / ids.len() as f64);
}

#[test]
fn training_is_deterministic() {
    let root = repo();
    let files: Vec<String> = corpus_files(&root).unwrap().into_iter().filter(|f| f.starts_with("grammars/") || f == "README.md").collect();
    assert!(files.contains(&"grammars/python.ebnf".to_string()));
    assert!(files.windows(2).all(|w| w[0] < w[1]), "corpus files are sorted");
    let corpus = Corpus::read(&root, files.clone()).unwrap();
    let a = train(&corpus, 600).unwrap().to_string(false).unwrap();
    // The same files in reverse order of reading still train the same tokenizer once sorted,
    // and a second run in the same process (other hash seeds) gives the same bytes.
    let mut reversed = Corpus::read(&root, files.into_iter().rev().collect()).unwrap();
    reversed.files.sort();
    let b = train(&reversed, 600).unwrap().to_string(false).unwrap();
    assert_eq!(a, b);
    assert_eq!(train(&corpus, 600).unwrap().get_vocab_size(true), 600);
}
