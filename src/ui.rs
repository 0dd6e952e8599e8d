//! The only place that prints. Data goes to stdout; progress, warnings and errors to stderr.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use keepsake_core::text::{escape_controls, escape_except, escape_json, redact};

// Records hold untrusted text: nothing printed here reaches the terminal with control
// characters or bidi overrides in it (see keepsake_core::text).

/// Text for people: every line as it is, anything else a terminal would act on escaped.
pub fn out(text: &str) -> std::io::Result<()> {
    let escaped = escape_except(text, &['\n', '\t']);
    if KEEPSAKE_COLOR.load(std::sync::atomic::Ordering::Relaxed) {
        // Only `bold`'s own markers become escape codes, after everything else was escaped.
        return write_stdout(
            &escaped
                .replace(BOLD_ON, "\x1b[1m")
                .replace(TITLE_ON, "\x1b[1;4m")
                .replace(BOLD_OFF, "\x1b[0m"),
        );
    }
    write_stdout(&escaped)
}

/// JSON: the same values, with what a terminal would act on inside its strings `\u`-escaped.
pub fn out_json(json: &str) -> std::io::Result<()> {
    write_stdout(&escape_json(json))
}

fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// One line of progress: a newline inside (from a record) is escaped, so no line can be forged.
pub fn progress(message: &str) {
    if dialect() == Dialect::Keepsake {
        return progress_block(&[message]);
    }
    eprintln!("{}", escape_controls(message));
}

pub fn warn(message: &str) {
    if dialect() == Dialect::Keepsake {
        return progress_block(&[message]);
    }
    eprintln!("warning: {}", escape_controls(message));
}

pub fn error(message: &str, causes: &[String], hint: Option<&str>) {
    if dialect() == Dialect::Keepsake {
        let hint = hint.map(|h| h.replace('\n', " "));
        let lines: Vec<String> = std::iter::once(one_line(message))
            .chain(causes.iter().map(|c| one_line(c)))
            .chain(hint)
            .collect();
        return progress_block(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    }
    eprintln!("error: {}", one_line(message));
    for cause in causes {
        eprintln!("  caused by: {}", one_line(cause));
    }
    if let Some(h) = hint {
        eprintln!("hint: {}", escape_controls(&h.replace('\n', " ")));
    }
}

/// An error's text as one line, credentials redacted: newlines inside would break scripts that
/// read the first line, and a cause (a store's answer, say) may quote anything.
pub fn one_line(message: &str) -> String {
    escape_controls(&redact(message).replace('\n', " ")).into_owned()
}

/// Asks a yes/no question on the terminal; false (refuse) when stdin is not a terminal.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// A table whose cells may span several lines; columns are padded by two spaces, like Go's
/// tabwriter in Keepsake's output.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<Vec<String>>>,
    /// The narrowest a column is (Keepsake's `diff` uses 26).
    pub min_width: usize,
}

impl Table {
    /// A row; each line of each cell is escaped here, so widths count what is shown.
    pub fn row(&mut self, cells: Vec<Vec<String>>) {
        let cells = cells
            .into_iter()
            .map(|cell| {
                cell.into_iter()
                    .map(|line| escape_controls(&line).into_owned())
                    .collect()
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![self.min_width; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                for line in cell {
                    widths[i] = widths[i].max(line.chars().count());
                }
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let height = row.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for l in 0..height {
                let mut line = String::new();
                for (i, cell) in row.iter().enumerate() {
                    let text = cell.get(l).map(String::as_str).unwrap_or("");
                    line.push_str(text);
                    if i + 1 < row.len() {
                        line.push_str(&" ".repeat(widths[i] - text.chars().count() + 2));
                    }
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        out
    }
}

/// "N minutes ago", as Keepsake shows it; a date once it is three days old.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_milliseconds() as f64 / 1000.0;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    if secs < 1.5 {
        "about a second ago".into()
    } else if secs < 60.0 {
        plural(secs.round() as i64, "second")
    } else if secs < 90.0 {
        "about a minute ago".into()
    } else if secs < 3600.0 {
        plural((secs / 60.0).round() as i64, "minute")
    } else if secs < 5400.0 {
        "about an hour ago".into()
    } else if secs < 86400.0 {
        plural((secs / 3600.0).round() as i64, "hour")
    } else if secs < 73.0 * 3600.0 {
        let days = (secs / 86400.0).round() as i64;
        if days == 1 {
            "one day ago".into()
        } else {
            plural(days, "day")
        }
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

/// RFC 1123 in UTC, as `show` and `diff` print times.
pub fn long_time(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S UTC").to_string()
}

/// `key:` padded to a common width, then the value.
pub fn fields(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0)
        + 2;
    rows.iter()
        .map(|(k, v)| {
            let (k, v) = (escape_controls(k), escape_controls(v));
            let key = format!("{k}:");
            format!("{key:<width$}{v}").trim_end().to_string() + "\n"
        })
        .collect()
}

/// Which command line is speaking: `git keepsake`'s own words, or Keepsake 0.4.2's (the
/// `keepsake` command). Set once per run by the front end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    #[default]
    GitKeepsake,
    Keepsake,
}

static KEEPSAKE_DIALECT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static KEEPSAKE_COLOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_dialect(d: Dialect) {
    use std::sync::atomic::Ordering::Relaxed;
    KEEPSAKE_DIALECT.store(d == Dialect::Keepsake, Relaxed);
}

pub fn dialect() -> Dialect {
    if KEEPSAKE_DIALECT.load(std::sync::atomic::Ordering::Relaxed) {
        Dialect::Keepsake
    } else {
        Dialect::GitKeepsake
    }
}

/// `keepsake --color`: bold headings, only on a terminal and without NO_COLOR (Keepsake 0.4.2
/// wrote escape codes into pipes too).
pub fn set_color(wanted: bool) {
    let on = wanted
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    KEEPSAKE_COLOR.store(on, std::sync::atomic::Ordering::Relaxed);
}

// Private-use characters standing for the escape codes until `out` has escaped the text. One in
// a record would only turn bold on or off: nothing else a terminal acts on gets through.
const BOLD_ON: char = '\u{E000}';
const BOLD_OFF: char = '\u{E001}';
const TITLE_ON: char = '\u{E002}';

/// `text` in bold when `keepsake --color` is on (see `set_color`); `out` turns it into the
/// escape codes.
pub fn bold(text: &str) -> String {
    if KEEPSAKE_COLOR.load(std::sync::atomic::Ordering::Relaxed) {
        format!("{BOLD_ON}{text}{BOLD_OFF}")
    } else {
        text.to_string()
    }
}

/// `text` bold and underlined, as Keepsake's `show` titles (see `bold`).
pub fn title(text: &str) -> String {
    if KEEPSAKE_COLOR.load(std::sync::atomic::Ordering::Relaxed) {
        format!("{TITLE_ON}{text}{BOLD_OFF}")
    } else {
        text.to_string()
    }
}

/// Keepsake's log lines on stderr: the first after `═══╡ `, the rest after `   │ `.
pub fn progress_block(lines: &[&str]) {
    let mut err = std::io::stderr().lock();
    for (i, line) in lines.iter().enumerate() {
        let prefix = if i == 0 { "═══╡ " } else { "   │ " };
        let _ = writeln!(err, "{prefix}{}", escape_controls(line));
    }
}

/// An empty line on stderr, where Keepsake's logs leave one.
pub fn blank_line() {
    eprintln!();
}

/// The answer to Keepsake's `Do you want to continue? (y/N)`.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Standard input ended before an answer.
    Closed,
}

/// Keepsake 0.4.2's prompt, for `keepsake checkout` and `keepsake rm`: the question on stdout
/// after an empty line; `y`/`yes` continue, `n`/`no`/nothing refuse, anything else asks again.
/// It reads whatever stdin is (a pipe answers it too), as Keepsake did.
pub fn ask_to_continue() -> Answer {
    let mut stdin = std::io::stdin().lock();
    let mut first = true;
    loop {
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "{}Do you want to continue? (y/N) ",
            if first { "\n" } else { "" }
        );
        let _ = out.flush();
        first = false;
        let mut answer = String::new();
        match std::io::BufRead::read_line(&mut stdin, &mut answer) {
            Ok(0) | Err(_) => return Answer::Closed,
            Ok(_) => {}
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Answer::Yes,
            "" | "n" | "no" => return Answer::No,
            _ => progress("Please enter 'y' or 'n'"),
        }
    }
}
