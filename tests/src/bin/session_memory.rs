//! A long session for measuring memory (issue 12): accepts the token whose bytes are TEXT, N
//! times, filling the mask every K tokens, then prints what it did. Run it under
//! `/usr/bin/time -v` for the peak RSS:
//!
//! ```text
//! cargo run --release -p syncodec-e2e --bin session_memory -- ARTIFACT TEXT N [K]
//! ```
//!
//! e.g. `session_memory json.syncode '[' 1000000 1`: a million nested arrays, a mask per token.

use std::process::ExitCode;

use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::Session;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session_memory: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [artifact, text, n, rest @ ..] = args.as_slice() else {
        return Err("usage: session_memory ARTIFACT TEXT N [MASK_EVERY]".into());
    };
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let every: usize = match rest.first() {
        Some(k) => k.parse().map_err(|e| format!("MASK_EVERY: {e}"))?,
        None => 0,
    };
    let artifact = Artifact::open(std::path::Path::new(artifact)).map_err(|e| e.to_string())?;
    let mut session = Session::new(&artifact).map_err(|e| e.to_string())?;
    let vocab = session.vocab();
    let id = (0..vocab.n_tokens() as u32).find(|&id| vocab.bytes(id) == Some(text.as_bytes())).ok_or(format!("no token has the bytes {text:?}"))?;
    let mut row = vec![0u32; session.bitmask_words()];
    let started = std::time::Instant::now();
    for i in 0..n {
        if every > 0 && i % every == 0 {
            session.fill_bitmask(&mut row).map_err(|e| e.to_string())?;
        }
        session.accept_token(id).map_err(|e| format!("token {i}: {e}"))?;
    }
    let accepted = started.elapsed();
    let back = n / 2;
    let started = std::time::Instant::now();
    session.rollback(back).map_err(|e| e.to_string())?;
    println!("accepted {n} x {text:?} in {:.2?}; rolled back {back} in {:.2?}; {} bytes of text", accepted, started.elapsed(), session.text().len());
    Ok(())
}
