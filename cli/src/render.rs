//! Rendering of [`Diagnostic`]s: rustc-style text with annotate-snippets, or JSON values.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use syncodec::diagnostics::{Diagnostic, Severity, SourceMap, Span};

/// Renders one diagnostic as text (ends with a newline).
pub fn render_text(sources: &SourceMap, diagnostic: &Diagnostic) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut group = Group::with_title(level.primary_title(diagnostic.message.as_str()));
    // One snippet per file; the primary span first, then labels in their own files.
    let mut spans: Vec<(Span, &str, bool)> = Vec::new();
    if let Some(span) = diagnostic.span {
        spans.push((span, "", true));
    }
    spans.extend(diagnostic.labels.iter().map(|(s, text)| (*s, text.as_str(), false)));
    let mut files: Vec<u32> = spans.iter().map(|(s, _, _)| s.file.0).collect();
    files.dedup();
    let mut seen = Vec::new();
    for file in files {
        if seen.contains(&file) {
            continue;
        }
        seen.push(file);
        let Some(src) = sources.get(syncodec::diagnostics::FileId(file)) else { continue };
        let in_file: Vec<(std::ops::Range<usize>, &str, bool)> =
            spans.iter().filter(|(s, _, _)| s.file.0 == file).map(|(s, text, primary)| (clamp(&src.text, *s), *text, *primary)).collect();
        // Only the lines the spans touch go to the renderer, which reads all of its source:
        // rendering stays linear in the size of the file however many diagnostics it has.
        let start = in_file.iter().map(|(r, _, _)| r.start).min().unwrap_or(0);
        let end = in_file.iter().map(|(r, _, _)| r.end).max().unwrap_or(0);
        let (lines, first_line) = src.lines_around(start..end);
        let Some(excerpt) = src.text.get(lines.clone()) else { continue };
        let mut snippet = Snippet::source(excerpt).line_start(first_line).path(src.name.as_str());
        for (range, text, primary) in in_file {
            let kind = if primary { AnnotationKind::Primary } else { AnnotationKind::Context };
            let range = range.start.saturating_sub(lines.start)..range.end.saturating_sub(lines.start);
            snippet = snippet.annotation(kind.span(range).label(text));
        }
        group = group.element(snippet);
    }
    for note in &diagnostic.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let report: &[Group<'_>] = &[group];
    let mut out = Renderer::plain().render(report);
    out.push('\n');
    out
}

/// A byte range inside `text` on char boundaries (spans from other stages are trusted but
/// never allowed to make rendering panic).
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start as usize);
    let end = fix(span.end as usize).max(start);
    start..end
}

/// The JSON form of a diagnostic: severity, message, `file:line:col`, line, column, notes, help.
pub fn to_json(sources: &SourceMap, diagnostic: &Diagnostic) -> serde_json::Value {
    let (location, line, column) = match diagnostic.span {
        Some(span) => {
            let lc = sources.line_col(span.file, span.start);
            (Some(sources.location(span)), Some(lc.line), Some(lc.column))
        }
        None => (None, None, None),
    };
    serde_json::json!({
        "severity": diagnostic.severity.to_string(),
        "message": diagnostic.message,
        "location": location,
        "line": line,
        "column": column,
        "labels": diagnostic.labels.iter().map(|(s, t)| serde_json::json!({"location": sources.location(*s), "text": t})).collect::<Vec<_>>(),
        "notes": diagnostic.notes,
        "help": diagnostic.help,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_caret_note_and_help() {
        let mut map = SourceMap::new();
        let f = map.add("calc.ebnf", "start: expr\nexpr: expr \"-\" expr | NUMBER\n");
        let d = Diagnostic::error("shift/reduce conflict on \"-\" in LR state 7", Span::new(f, 18, 31))
            .with_note("example: NUMBER \"-\" NUMBER • \"-\" NUMBER")
            .with_help("make it left-recursive");
        let text = render_text(&map, &d);
        assert!(text.starts_with("error: shift/reduce conflict"), "{text}");
        assert!(text.contains("calc.ebnf:2:7"), "{text}");
        assert!(text.contains("^^^^^^^^^^^^^"), "{text}");
        assert!(text.contains("note: example: NUMBER"), "{text}");
        assert!(text.contains("help: make it left-recursive"), "{text}");
    }

    #[test]
    fn only_the_annotated_lines_are_rendered_with_their_true_numbers() {
        let mut map = SourceMap::new();
        let text: String = (1..=300).map(|i| format!("r{i}: \"x\"\r\n")).collect();
        let f = map.add("g.ebnf", text.as_str());
        let line_start = |n: usize| text.match_indices('\n').nth(n - 2).map_or(0, |(i, _)| i + 1);
        let d = Diagnostic::error("duplicate", Span::new(f, line_start(250), line_start(250) + 4))
            .with_label(Span::new(f, line_start(7), line_start(7) + 2), "first defined here");
        let text = render_text(&map, &d);
        assert!(text.contains("--> g.ebnf:250:1"), "{text}");
        assert!(text.contains("250 | r250: \"x\"\n"), "{text}");
        assert!(text.contains("  7 | r7: \"x\"\n"), "{text}");
        assert!(text.contains("first defined here") && !text.contains('\u{240d}'), "{text}");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let mut map = SourceMap::new();
        let f = map.add("g.ebnf", "é");
        let d = Diagnostic::error("x", Span::new(f, 1, 99));
        assert!(render_text(&map, &d).contains("g.ebnf"));
        assert_eq!(to_json(&map, &d)["line"], 1);
    }
}
