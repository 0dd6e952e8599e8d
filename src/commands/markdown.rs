//! Markdown for pull-request comments (`ls --format markdown`, `diff --format markdown`).
//!
//! Records can come from someone else's remote: every cell is escaped so that a value can
//! neither end its cell, nor open a link, an image or an HTML tag in the rendered comment, nor
//! mention a person or team, link an issue, autolink a URL or start math.

/// The output format of a command that prints a table.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// A value as one table cell's text: one line, Markdown and HTML syntax escaped.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // `@name` and `#123` notify and link only as plain characters; as entities they
            // render the same and do neither.
            '@' => out.push_str("&#64;"),
            '#' => out.push_str("&#35;"),
            '$' => out.push_str("\\$"),
            // `[` and `]` escaped leave no link or image to open; the rest is emphasis and code.
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    // What GitHub would autolink, with an entity in the middle it renders the same but links not.
    out.replace("://", "&#58;//").replace("www.", "www&#46;")
}

/// A table; `header` and every row are already escaped cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// `text` as a fenced code block whose fence no backtick run inside can close.
pub fn code_block(lang: &str, text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    format!("{fence}{lang}\n{body}{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_cannot_break_out() {
        assert_eq!(
            cell("a|b\n<img src=x onerror=alert(1)>"),
            "a\\|b &lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(cell("[x](http://e)"), "\\[x\\](http&#58;//e)");
        // No mention, issue link, autolink or math from a record.
        assert_eq!(
            cell("cc @octocat see #1 https://evil.example $x$"),
            "cc &#64;octocat see &#35;1 https&#58;//evil.example \\$x\\$"
        );
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run() {
        assert_eq!(
            code_block("diff", "a ```` b"),
            "`````diff\na ```` b\n`````\n"
        );
        assert_eq!(code_block("", "x\n"), "```\nx\n```\n");
    }
}
