//! Decoding of `"..."` literal escapes and of `\/` inside `/regex/`.
//!
//! String literals follow Python's escapes as Lark applies them: `\n \t \r \f \\ \" \'`,
//! `\xNN`, `\uNNNN`, `\UNNNNNNNN` are decoded; any other `\c` is kept as the two characters
//! `\` and `c` (so `"\d"` is a backslash followed by `d`, as in Lark). Regex sources are kept
//! verbatim except that `\/` becomes `/`: the lexical stage translates Python `re` syntax.

/// An escape that could not be decoded: byte offset of the `\` in the body, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscapeError {
    pub offset: usize,
    pub message: String,
}

/// Decodes the text between the quotes of a string literal.
pub fn decode_string(body: &str) -> Result<String, EscapeError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err(EscapeError { offset: at, message: "string literal ends with a lone `\\`".into() });
        };
        let digits = match e {
            'n' => {
                out.push('\n');
                continue;
            }
            't' => {
                out.push('\t');
                continue;
            }
            'r' => {
                out.push('\r');
                continue;
            }
            'f' => {
                out.push('\x0c');
                continue;
            }
            '\\' | '"' | '\'' => {
                out.push(e);
                continue;
            }
            'x' => 2,
            'u' => 4,
            'U' => 8,
            other => {
                out.push('\\');
                out.push(other);
                continue;
            }
        };
        let mut hex = String::new();
        for _ in 0..digits {
            match chars.peek() {
                Some(&(_, h)) if h.is_ascii_hexdigit() => {
                    hex.push(h);
                    chars.next();
                }
                _ => break,
            }
        }
        if hex.len() != digits {
            return Err(EscapeError {
                offset: at,
                message: format!("escape `\\{e}` needs exactly {digits} hex digits"),
            });
        }
        let value = u32::from_str_radix(&hex, 16).unwrap_or(u32::MAX);
        match char::from_u32(value) {
            Some(ch) => out.push(ch),
            None => {
                return Err(EscapeError {
                    offset: at,
                    message: format!("escape `\\{e}{hex}` is not a Unicode scalar value"),
                })
            }
        }
    }
    Ok(out)
}

/// The regex source between the slashes with `\/` turned into `/` (other escapes kept).
pub fn unescape_regex(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A literal as Lark prints it: `"if"`, with `\n`, `\t`, `\r`, `\\`, `\"` and `\xNN` escapes.
pub fn quote(value: &str, case_insensitive: bool) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    if case_insensitive {
        out.push('i');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_escapes_are_decoded() {
        assert_eq!(decode_string(r#"a\nb\tc\rd\\e\"f\'g"#).unwrap(), "a\nb\tc\rd\\e\"f'g");
        assert_eq!(decode_string(r"\x41\u00e9\U0001F600").unwrap(), "Aé😀");
        assert_eq!(decode_string(r"\f").unwrap(), "\x0c");
    }

    #[test]
    fn unknown_escapes_keep_the_backslash() {
        assert_eq!(decode_string(r"\d\.").unwrap(), "\\d\\.");
    }

    #[test]
    fn bad_escapes_are_errors_with_offsets() {
        let err = decode_string(r"ab\x4").unwrap_err();
        assert_eq!(err.offset, 2);
        assert!(err.message.contains("exactly 2 hex digits"), "{}", err.message);
        let err = decode_string(r"\uD800").unwrap_err();
        assert!(err.message.contains("not a Unicode scalar value"), "{}", err.message);
        assert!(decode_string("x\\").is_err());
    }

    #[test]
    fn regex_slash_escape_only() {
        assert_eq!(unescape_regex(r"a\/b\d\\"), r"a/b\d\\");
    }

    #[test]
    fn quote_escapes_specials() {
        assert_eq!(quote("if", false), "\"if\"");
        assert_eq!(quote("if", true), "\"if\"i");
        assert_eq!(quote("\n\"\\\x01", false), r#""\n\"\\\x01""#);
    }
}
