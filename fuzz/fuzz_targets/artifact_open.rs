//! Any bytes given as an artifact: opening must fail cleanly or succeed, and a successfully
//! opened artifact must parse any text and serve masks without panicking (a corrupt mask store
//! is an error, never a crash). Seed the corpus with real artifacts (see docs/artifact-format.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncodec_runtime::session::Session;

fuzz_target!(|data: &[u8]| {
    if let Ok(artifact) = syncodec_runtime::artifact::Artifact::from_bytes(data) {
        let _ = artifact.verify_integrity();
        let _ = syncodec_runtime::parser::parse(artifact.grammar(), b"[1, {\"a\": null}]\n  x = (1,\n 2)\n");
        if let Ok(mut session) = Session::new(&artifact) {
            let mut row = vec![0u32; session.bitmask_words()];
            // Token ids taken from the artifact's own bytes: valid ones, invalid ones, EOS.
            for (i, chunk) in data.chunks(7).take(12).enumerate() {
                let _ = session.fill_bitmask(&mut row);
                let _ = session.describe_mask();
                let id = u32::from_le_bytes([chunk[0], *chunk.get(1).unwrap_or(&0), 0, 0]) % (session.vocab_width() as u32 + 2);
                let _ = session.accept_token(id);
                if i % 5 == 4 {
                    let _ = session.rollback(2);
                }
            }
            let _ = session.is_complete();
        }
    }
});
