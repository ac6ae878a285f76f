//! `syncodec check GRAMMAR [--lr lalr|lr1] [--format text|json]`.
//!
//! Text output (stdout): the [`Summary`](syncodec::Summary) lines, the `mode: strict|lark (...)`
//! line (how the file was read: `.lark` files get Lark's defaults unless `--strict`), then `ok` or
//! `failed: N error(s), M warning(s)`. Diagnostics go to stderr. JSON output (stdout): one object
//! `{"ok", "mode", "summary", "diagnostics", "time_ms"}`. Exit 0 iff the grammar compiles without errors.

use std::io::Write;

use crate::args::{CheckArgs, FormatArg};
use crate::{render, CliError, ExitStatus};
use syncodec::Summary;

pub fn run(args: &CheckArgs) -> Result<ExitStatus, CliError> {
    let compilation = match args.format {
        FormatArg::Text => super::compile_reporting(&args.grammar, &args.compile)?,
        FormatArg::Json => syncodec::compile_path(&args.grammar, &args.compile.options(&args.grammar))?,
    };
    let summary = compilation.compiled.as_ref().map(Summary::of);
    let ok = compilation.is_ok();
    let time_ms = compilation.timings.total().as_secs_f64() * 1e3;
    let dialect = args.compile.dialect(&args.grammar);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => {
            if let Some(summary) = &summary {
                stdout.write_all(summary.to_text().as_bytes())?;
            }
            writeln!(stdout, "{}", dialect.describe())?;
            if ok {
                writeln!(stdout, "ok")?;
            } else {
                writeln!(stdout, "failed: {}", super::diagnostic_counts(&compilation))?;
            }
            let t = compilation.timings;
            eprintln!(
                "compiled in {time_ms:.1} ms (front end {:.1} ms, lexical {:.1} ms, lr {:.1} ms)",
                t.lower.as_secs_f64() * 1e3,
                t.lexical.as_secs_f64() * 1e3,
                t.lr.as_secs_f64() * 1e3
            );
        }
        FormatArg::Json => {
            let value = serde_json::json!({
                "ok": ok,
                "mode": dialect.as_str(),
                "summary": summary,
                "diagnostics": compilation.diagnostics.iter().map(|d| render::to_json(&compilation.sources, d)).collect::<Vec<_>>(),
                "time_ms": time_ms,
            });
            writeln!(stdout, "{value}")?;
        }
    }
    Ok(if ok { ExitStatus::Success } else { ExitStatus::Failure })
}
