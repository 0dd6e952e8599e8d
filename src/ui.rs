//! The only place that prints. Data goes to stdout; progress, warnings and errors to stderr.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use keepsake_core::text::{escape_controls, escape_except, escape_json, redact};
use unicode_width::UnicodeWidthStr;

pub use crate::term::Kind;
use crate::term::{self, Stream};

// Records hold untrusted text: nothing printed here reaches the terminal with control
// characters or bidi overrides in it (see keepsake_core::text).

/// `text` (escaped already) in `kind`'s style when stdout is coloured.
pub fn paint(kind: Kind, text: &str) -> String {
    term::paint(Stream::Stdout, kind, text)
}

/// A unified diff (escaped already) coloured line by line as git colours one, when stdout is.
pub fn paint_diff(diff: &str) -> String {
    if !term::colored(Stream::Stdout) {
        return diff.to_string();
    }
    let mut out = String::with_capacity(diff.len() + diff.len() / 8);
    for line in diff.split_inclusive('\n') {
        let (text, end) = match line.strip_suffix('\n') {
            Some(t) => (t, "\n"),
            None => (line, ""),
        };
        let kind = if ["diff ", "index ", "--- ", "+++ "]
            .iter()
            .any(|p| text.starts_with(p))
        {
            Some(Kind::Header)
        } else if text.starts_with("@@") {
            Some(Kind::DiffHunk)
        } else if text.starts_with('+') {
            Some(Kind::DiffAdded)
        } else if text.starts_with('-') {
            Some(Kind::DiffRemoved)
        } else {
            None
        };
        match kind {
            Some(k) => out.push_str(&term::paint_always(k, text)),
            None => out.push_str(text),
        }
        out.push_str(end);
    }
    out
}

/// Text for people: every line as it is, anything else a terminal would act on escaped.
pub fn out(text: &str) -> std::io::Result<()> {
    write_stdout(&escape_except(text, &['\n', '\t']))
}

/// JSON: the same values, with what a terminal would act on inside its strings `\u`-escaped.
pub fn out_json(json: &str) -> std::io::Result<()> {
    write_stdout(&escape_json(json))
}

/// Text whose untrusted parts were escaped where it was made (a `Table`'s cells, `show`'s
/// lines), with this module's styles in it: printed as it is.
pub fn out_escaped(text: &str) -> std::io::Result<()> {
    write_stdout(text)
}

fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// One line of progress: a newline inside (from a record) is escaped, so no line can be forged.
pub fn progress(message: &str) {
    if quiet() {
        return;
    }
    if dialect() == Dialect::Keepsake {
        return progress_block(&[message]);
    }
    eprint_line(&escape_controls(message));
}

pub fn warn(message: &str) {
    if dialect() == Dialect::Keepsake {
        return progress_block(&[message]);
    }
    eprint_line(&format!(
        "{} {}",
        term::paint(Stream::Stderr, Kind::Warning, "warning:"),
        escape_controls(message)
    ));
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
    eprint_line(&format!(
        "{} {}",
        term::paint(Stream::Stderr, Kind::Error, "error:"),
        one_line(message)
    ));
    for cause in causes {
        eprint_line(&format!("  caused by: {}", one_line(cause)));
    }
    if let Some(h) = hint {
        eprint_line(&format!(
            "{} {}",
            term::paint(Stream::Stderr, Kind::Hint, "hint:"),
            escape_controls(&h.replace('\n', " "))
        ));
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
/// tabwriter in Keepsake's output. Widths are display columns (a CJK character or an emoji is
/// two). On a terminal, the columns marked `shrinkable` are shortened with `…` to fit its width.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<Vec<String>>>,
    /// The narrowest a column is (Keepsake's `diff` uses 26).
    pub min_width: usize,
    /// The style of a cell, by (row, column).
    paints: std::collections::HashMap<(usize, usize), Kind>,
    /// (column, narrowest width, order): lower orders are shortened first.
    shrinkable: Vec<(usize, usize, u8)>,
}

/// What `text` takes on a terminal.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` display columns, ending in `…` when cut.
pub fn truncate_to(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        // "e73631d…", not "e73631d …": the mark stays on what was cut.
        out.truncate(out.trim_end().len());
        out.push('…');
    }
    out
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

    /// The header row: as `row`, in bold on a terminal.
    pub fn header(&mut self, cells: Vec<Vec<String>>) {
        let n = cells.len();
        self.row(cells);
        for col in 0..n {
            self.paint(col, Kind::Header);
        }
    }

    /// Styles column `col` of the last row.
    pub fn paint(&mut self, col: usize, kind: Kind) {
        if let Some(row) = self.rows.len().checked_sub(1) {
            self.paints.insert((row, col), kind);
        }
    }

    /// Lets column `col` be shortened down to `min` display columns to fit a terminal, before
    /// columns of a higher `order`.
    pub fn shrinkable(&mut self, col: usize, min: usize, order: u8) {
        self.shrinkable.push((col, min.max(2), order));
    }

    /// The table for stdout: fitted to the terminal and styled when stdout is one.
    pub fn render(&self) -> String {
        // Keepsake 0.4.2 styled no table (only `show`'s title and headings).
        let styled = term::colored(Stream::Stdout) && dialect() != Dialect::Keepsake;
        self.render_with(term::width(), styled)
    }

    fn widths(&self) -> Vec<usize> {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![self.min_width; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                for line in cell {
                    widths[i] = widths[i].max(width(line));
                }
            }
        }
        widths
    }

    /// The widths fitted to `max` columns: the widest shrinkable column of the lowest order is
    /// narrowed a column at a time (so the widest share the cut), until the table fits or all
    /// are at their narrowest.
    fn fit(&self, widths: &mut [usize], max: usize) {
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        let mut orders: Vec<u8> = self.shrinkable.iter().map(|s| s.2).collect();
        orders.sort_unstable();
        orders.dedup();
        for order in orders {
            while total(widths) > max {
                let widest = self
                    .shrinkable
                    .iter()
                    .filter(|(c, min, o)| *o == order && *c < widths.len() && widths[*c] > *min)
                    .max_by_key(|(c, _, _)| widths[*c]);
                let Some(&(col, _, _)) = widest else { break };
                widths[col] -= 1;
            }
        }
    }

    fn render_with(&self, fit_to: Option<usize>, color: bool) -> String {
        let mut widths = self.widths();
        let fitted = match fit_to {
            Some(max) if !self.shrinkable.is_empty() => {
                self.fit(&mut widths, max);
                true
            }
            _ => false,
        };
        let paint_of = |r: usize, c: usize| self.paints.get(&(r, c)).copied();
        let mut out = String::new();
        for (r, row) in self.rows.iter().enumerate() {
            let height = row.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for l in 0..height {
                let mut line = String::new();
                for (i, cell) in row.iter().enumerate() {
                    let text = cell.get(l).map(String::as_str).unwrap_or("");
                    let text = if fitted {
                        truncate_to(text, widths[i])
                    } else {
                        text.to_string()
                    };
                    let shown = width(&text);
                    match paint_of(r, i) {
                        Some(kind) if color => line.push_str(&term::paint_always(kind, &text)),
                        _ => line.push_str(&text),
                    }
                    if i + 1 < row.len() {
                        // Padded by what is shown, never by the bytes of a style.
                        line.push_str(&" ".repeat(widths[i].saturating_sub(shown) + 2));
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
        .map(|(k, _)| width(&escape_controls(k)) + 1)
        .max()
        .unwrap_or(0)
        + 2;
    rows.iter()
        .map(|(k, v)| {
            let (k, v) = (escape_controls(k), escape_controls(v));
            let key = format!("{k}:");
            let pad = " ".repeat(width.saturating_sub(self::width(&key)));
            format!("{key}{pad}{v}").trim_end().to_string() + "\n"
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

/// Keepsake's log lines on stderr: the first after `═══╡ `, the rest after `   │ `.
pub fn progress_block(lines: &[&str]) {
    // Through eprint_line, as git keepsake's lines go: a warning during `keepsake checkout`'s
    // bar goes above it rather than through it.
    for (i, line) in lines.iter().enumerate() {
        let prefix = if i == 0 { "═══╡ " } else { "   │ " };
        eprint_line(&format!("{prefix}{}", escape_controls(line)));
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

// Progress bars: drawn on stderr only when it is a terminal, and never with `-q`; elsewhere
// (tests, scripts, logs) stderr carries the same plain lines as without them.

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The bar being drawn, if any: lines printed meanwhile go above it, not through it.
static ACTIVE: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// `-q`: no progress lines, bars or summaries from here on (warnings and errors still print).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints a line on stderr without tearing a bar being drawn.
fn eprint_line(line: &str) {
    let active = ACTIVE.lock().ok().and_then(|a| a.clone());
    match active {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// What long operations report to: bars on a terminal, nothing otherwise.
pub fn bars() -> keepsake_core::progress::Progress {
    if quiet() || !std::io::stderr().is_terminal() {
        return keepsake_core::progress::Progress::none();
    }
    keepsake_core::progress::Progress::new(std::sync::Arc::new(Bars::default()))
}

/// `bars`, for what is usually quick (`show` reading a file list): nothing is drawn, nor the
/// finished line, unless it is still going after a second.
pub fn bars_if_slow() -> keepsake_core::progress::Progress {
    if quiet() || !std::io::stderr().is_terminal() {
        return keepsake_core::progress::Progress::none();
    }
    keepsake_core::progress::Progress::new(std::sync::Arc::new(Bars {
        delay: std::time::Duration::from_secs(1),
        ..Bars::default()
    }))
}

#[derive(Default)]
struct Bars {
    bar: std::sync::Mutex<Option<Drawn>>,
    /// How long a phase runs hidden before it is drawn.
    delay: std::time::Duration,
}

struct Drawn {
    bar: indicatif::ProgressBar,
    unit: keepsake_core::progress::Unit,
    what: String,
    /// Whether the bar (rather than a spinner, while the total is unknown or 0) is drawn.
    sized: bool,
    /// Drawn yet (a delayed bar is hidden at first).
    shown: bool,
}

impl Drawn {
    fn show_when_due(&mut self, delay: std::time::Duration) {
        if !self.shown && self.bar.elapsed() >= delay {
            self.shown = true;
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

fn bar_style(unit: keepsake_core::progress::Unit, sized: bool) -> indicatif::ProgressStyle {
    use keepsake_core::progress::Unit;
    // The bar takes the width left, so a line never wraps (a wrapped line is redrawn badly).
    let template = match (unit, sized) {
        (Unit::Bytes, true) => {
            "{msg} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
        }
        (Unit::Bytes, false) => "{msg} {spinner} {bytes} {binary_bytes_per_sec}",
        (Unit::Items, true) => "{msg} [{wide_bar}] {human_pos}/{human_len} ETA {eta}",
        (Unit::Items, false) => "{msg} {spinner} {human_pos}",
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
        .tick_chars("-\\|/ ")
}

impl keepsake_core::progress::Observer for Bars {
    fn begin(&self, what: &str, unit: keepsake_core::progress::Unit, total: Option<u64>) {
        let sized = total.is_some_and(|n| n > 0);
        let target = match self.delay.is_zero() {
            true => indicatif::ProgressDrawTarget::stderr(),
            false => indicatif::ProgressDrawTarget::hidden(),
        };
        let bar = indicatif::ProgressBar::with_draw_target(total, target);
        bar.set_style(bar_style(unit, sized));
        let what = escape_controls(what).into_owned();
        bar.set_message(what.clone());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        if let Ok(mut a) = ACTIVE.lock() {
            *a = Some(bar.clone());
        }
        let drawn = Drawn {
            bar,
            unit,
            what,
            sized,
            shown: self.delay.is_zero(),
        };
        if let Ok(mut b) = self.bar.lock() {
            if let Some(old) = b.replace(drawn) {
                old.bar.finish_and_clear();
            }
        }
    }

    fn grow(&self, n: u64) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(d) = b.as_mut() {
                d.bar.inc_length(n);
                if !d.sized && d.bar.length().is_some_and(|l| l > 0) {
                    d.sized = true;
                    d.bar.set_style(bar_style(d.unit, true));
                }
                d.show_when_due(self.delay);
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(d) = b.as_mut() {
                d.bar.inc(n);
                d.show_when_due(self.delay);
            }
        }
    }

    fn end(&self) {
        let Some(d) = self.bar.lock().ok().and_then(|mut b| b.take()) else {
            return;
        };
        if let Ok(mut a) = ACTIVE.lock() {
            *a = None;
        }
        // Cleared, then one line of our own in its place: what was done, and how fast (a
        // finished indicatif line leaves the cursor on it, where stdout would then write).
        let elapsed = d.bar.elapsed().as_secs_f64();
        let done = d.bar.position();
        d.bar.finish_and_clear();
        if !d.shown {
            return;
        }
        let line = match d.unit {
            keepsake_core::progress::Unit::Bytes => format!(
                "{}: {} in {elapsed:.1}s ({}/s)",
                d.what,
                keepsake_core::text::human_size(done),
                keepsake_core::text::human_size((done as f64 / elapsed.max(0.001)) as u64)
            ),
            keepsake_core::progress::Unit::Items => {
                format!("{}: {done} in {elapsed:.1}s", d.what)
            }
        };
        eprintln!("{line}");
    }
}

/// `1 experiment`, `3 experiments`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Whether stdout is a terminal (a person reading, not a script).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&[&str]]) -> Table {
        let mut t = Table::default();
        for r in rows {
            t.row(r.iter().map(|c| vec![c.to_string()]).collect());
        }
        t
    }

    #[test]
    fn widths_are_display_columns() {
        let t = table(&[
            &["A", "B"],
            &["日本", "x"],
            &["🚀", "y"],
            &["a\u{1b}b", "z"],
        ]);
        // The escape shows as `\x1b`, four columns.
        assert_eq!(
            t.render_with(None, false),
            "A       B\n日本    x\n🚀      y\na\\x1bb  z\n"
        );
    }

    #[test]
    fn truncation_counts_wide_characters_and_never_splits_one() {
        assert_eq!(truncate_to("日本語", 6), "日本語");
        assert_eq!(truncate_to("日本語", 5), "日本…");
        assert_eq!(truncate_to("日本語", 4), "日…");
        assert_eq!(width(&truncate_to("🚀🚀🚀", 4)), 3);
        assert_eq!(truncate_to("ab cd", 4), "ab…");
    }

    #[test]
    fn fitting_shortens_shrinkable_columns_by_order_down_to_their_minimum() {
        let mut t = table(&[
            &["ID", "P", "M"],
            &["abcdefg", "p=0123456789", "m=0123456789"],
        ]);
        t.shrinkable(1, 4, 0);
        t.shrinkable(2, 4, 1);
        // 7 + 2 + 12 + 2 + 12 = 35: P goes first, to its minimum, then M.
        let lines = |w| t.render_with(Some(w), false);
        assert_eq!(lines(35), t.render_with(None, false));
        assert_eq!(
            lines(30).lines().nth(1).unwrap(),
            "abcdefg  p=0123…  m=0123456789"
        );
        assert_eq!(
            lines(25).lines().nth(1).unwrap(),
            "abcdefg  p=0…  m=0123456…"
        );
        // Never below the minimums, never the ID column.
        assert_eq!(lines(5).lines().nth(1).unwrap(), "abcdefg  p=0…  m=0…");
        // Piped (no width): as it is.
        assert!(!t.render_with(None, false).contains('…'));
    }

    #[test]
    fn styles_come_after_padding() {
        let mut t = Table::default();
        t.header(vec![vec!["ID".into()], vec!["STATUS".into()]]);
        t.row(vec![vec!["abcdefg".into()], vec!["running".into()]]);
        t.paint(1, Kind::Running);
        let colored = t.render_with(None, true);
        assert!(
            colored.starts_with("\x1b[1mID\x1b[0m       \x1b[1mSTATUS"),
            "{colored:?}"
        );
        assert!(
            colored.contains("abcdefg  \x1b[32mrunning\x1b[0m\n"),
            "{colored:?}"
        );
    }
}
