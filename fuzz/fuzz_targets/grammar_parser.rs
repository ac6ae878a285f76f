//! Any text given as a grammar: the whole compiler pipeline must return diagnostics or tables,
//! never panic or hang. Limits are small so that pathological inputs stay fast.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut options = syncodec::CompileOptions::default();
    options.lexical.dfa_state_limit = 500;
    options.lr.state_limit = 2_000;
    let compilation = syncodec::compile_str("fuzz.lark", text, &options);
    for d in &compilation.diagnostics {
        let _ = syncodec_cli::render::render_text(&compilation.sources, d);
    }
});
