//! Trains `tokenizers/syncodec-bpe.json`: a GPT-2 style byte-level BPE tokenizer learned from
//! syncodec's own grammars, docs and Rust sources, so that the project can demonstrate and test
//! `syncodec build --tokenizer` without any third-party model file.
//!
//! ```sh
//! cargo run --release --manifest-path tools/train-tokenizer/Cargo.toml -- --out tokenizers/syncodec-bpe.json
//! ```
//!
//! The output depends only on the corpus files (their sorted relative paths and contents) and the
//! flags; see `docs/tokenizer.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use train_tokenizer::{corpus_files, train, Corpus, DEFAULT_VOCAB_SIZE};

const USAGE: &str = "\
usage: train-tokenizer --out PATH [--vocab-size N] [--root DIR] [--list]

Trains a byte-level BPE tokenizer on syncodec's own text files and writes it as a
HuggingFace tokenizer.json.

  --out PATH        where to write the tokenizer.json (required unless --list)
  --vocab-size N    total vocabulary size, special tokens included (default 8192)
  --root DIR        the syncodec checkout to read the corpus from (default: the one this
                    tool lives in)
  --list            print the corpus files (relative to --root) and exit";

struct Args {
    out: Option<PathBuf>,
    vocab_size: usize,
    root: PathBuf,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { out: None, vocab_size: DEFAULT_VOCAB_SIZE, root: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."), list: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" | "-o" => args.out = Some(PathBuf::from(value("--out")?)),
            "--vocab-size" => {
                let v = value("--vocab-size")?;
                args.vocab_size = v.parse().map_err(|_| format!("--vocab-size {v:?} is not a number"))?;
            }
            "--root" => args.root = PathBuf::from(value("--root")?),
            "--list" => args.list = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if args.out.is_none() && !args.list {
        return Err("--out is required".into());
    }
    Ok(args)
}

fn run(args: &Args) -> Result<(), String> {
    let root = args.root.canonicalize().map_err(|e| format!("{}: {e}", args.root.display()))?;
    let files = corpus_files(&root).map_err(|e| format!("listing the corpus under {}: {e}", root.display()))?;
    if args.list {
        for f in &files {
            println!("{f}");
        }
        return Ok(());
    }
    let corpus = Corpus::read(&root, files)?;
    eprintln!("training on {} files, {} bytes (corpus digest {})", corpus.files.len(), corpus.bytes(), corpus.digest_hex());
    let tokenizer = train(&corpus, args.vocab_size)?;
    let json = tokenizer.to_string(true).map_err(|e| format!("serializing the tokenizer: {e}"))?;
    let out = args.out.as_ref().expect("checked in parse_args");
    std::fs::write(out, json.as_bytes()).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("files: {}", corpus.files.len());
    println!("bytes: {}", corpus.bytes());
    println!("corpus digest (BLAKE3): {}", corpus.digest_hex());
    println!("vocabulary size: {} (with special tokens)", tokenizer.get_vocab_size(true));
    println!("wrote {} ({} bytes)", out.display(), json.len());
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
