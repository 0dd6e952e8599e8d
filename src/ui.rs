//! The only place that prints. Data goes to stdout; progress, warnings and errors to stderr.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use keepsake_core::text::{escape_controls, escape_except, escape_json, redact};

// Records hold untrusted text: nothing printed here reaches the terminal with control
// characters or bidi overrides in it (see keepsake_core::text).

/// Text for people: every line as it is, anything else a terminal would act on escaped.
pub fn out(text: &str) -> std::io::Result<()> {
    write_stdout(&escape_except(text, &['\n', '\t']))
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
    if !quiet() {
        eprint_line(&escape_controls(message));
    }
}

pub fn warn(message: &str) {
    eprint_line(&format!("warning: {}", escape_controls(message)));
}

pub fn error(message: &str, causes: &[String], hint: Option<&str>) {
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
        let mut widths = vec![0usize; cols];
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
