//! Any bytes given as an artifact: opening must fail cleanly or succeed, and a successfully
//! opened artifact must parse any text without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(artifact) = syncodec_runtime::artifact::Artifact::from_bytes(data) {
        let _ = artifact.verify_integrity();
        let _ = syncodec_runtime::parser::parse(artifact.grammar(), b"[1, {\"a\": null}]\n  x = (1,\n 2)\n");
    }
});
