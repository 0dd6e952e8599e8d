//! Text from records is untrusted: a param, a user name or a ref name can hold escape sequences
//! that clear a terminal, retitle its window or write the clipboard (OSC 52). Everything shown
//! to a person passes through `escape_controls`, the way git quotes unusual paths; JSON output
//! keeps the exact strings (serde_json escapes control characters itself).

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls, DEL, and the bidirectional
/// overrides that reorder what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character (newlines and tabs included) written as `\xNN` / `\u{NNNN}`.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape_except(s, &[])
}

/// `escape_controls`, keeping the characters in `keep` (a multi-line text keeps its `\n`).
pub fn escape_except<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep.contains(&c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) || keep.contains(&c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// JSON text with every unsafe character inside its strings written as a `\uNNNN` escape: the
/// same JSON values, and nothing a terminal acts on (serializers leave C1 controls and bidi
/// overrides raw). Formatting newlines and indentation stay.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    let keep = ['\n', '\t', '\r'];
    if !json.chars().any(|c| is_unsafe(c) && !keep.contains(&c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_unsafe(c) && !keep.contains(&c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with the user and password of every URL in it (`scheme://user:secret@host`) replaced by
/// `***`: endpoints and remote URLs can carry credentials, and messages end up in logs.
pub fn redact(s: &str) -> Cow<'_, str> {
    if !s.contains("://") || !s.contains('@') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#` or whitespace; userinfo ends at its last `@`.
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => {
                out.push_str("***");
                rest = &tail[userinfo..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// An untrusted value for an error message: escaped, and cut to a readable length.
pub fn quoted(s: &str) -> String {
    // Long enough for any ref name of ours (`refs/keepsake/remotes/<remote>/<64 hex>`).
    const MAX: usize = 200;
    let escaped = escape_controls(s);
    match escaped.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &escaped[..at]),
        None => escaped.into_owned(),
    }
}

/// The first `n` characters of `s` (never splits a character).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// `1536` -> `1.5 KiB`: sizes in messages.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_keeps_the_rest() {
        assert_eq!(escape_controls("lr=0.1 é 学"), "lr=0.1 é 学");
        assert_eq!(escape_controls("\x1b[2J\x07"), "\\x1b[2J\\x07");
        assert_eq!(escape_controls("a\nb\tc"), "a\\x0ab\\x09c");
        assert_eq!(escape_except("a\nb\x1b", &['\n']), "a\nb\\x1b");
        assert_eq!(escape_controls("\u{9b}31m\u{202e}"), "\\x9b31m\\u{202e}");
        assert_eq!(quoted(&"é".repeat(300)).chars().count(), 201);
        assert_eq!(prefix_chars("éééé", 2), "éé");
        assert_eq!(
            redact(
                "error sending request for url (http://user:s3cr3t@127.0.0.1:9000/b?x=1): refused"
            ),
            "error sending request for url (http://***@127.0.0.1:9000/b?x=1): refused"
        );
        assert_eq!(
            redact("fatal: https://tok@github.com/a/b and s3://bucket/x"),
            "fatal: https://***@github.com/a/b and s3://bucket/x"
        );
        assert_eq!(
            redact("mail a@b.c, see http://host/x"),
            "mail a@b.c, see http://host/x"
        );
        let json = serde_json::to_string(&"a\u{9b}b\u{202e}").unwrap();
        let safe = escape_json(&json);
        assert_eq!(safe, "\"a\\u009bb\\u202e\"");
        assert_eq!(
            serde_json::from_str::<String>(&safe).unwrap(),
            "a\u{9b}b\u{202e}"
        );
    }
}
