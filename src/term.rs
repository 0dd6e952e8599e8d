//! The terminal, decided once per run: whether each stream is coloured (`--color`, git's
//! `color.keepsake` / `color.ui`, `NO_COLOR`), the styles (the one place that has any), and the
//! width a table is fitted to. Nothing prints here; `ui` paints with `paint`.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};
use keepsake_core::env::EnvVars;

/// `--color=WHEN` and git's colour settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Auto,
    Always,
    Never,
}

impl When {
    /// Git's colour-bool words: `always`, `never`, `auto`, and a boolean (`true` means auto,
    /// as in git since 1.8.4).
    pub fn parse(s: &str) -> Option<When> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => Some(When::Always),
            "never" => Some(When::Never),
            "auto" => Some(When::Auto),
            "true" | "yes" | "on" | "1" => Some(When::Auto),
            "false" | "no" | "off" | "0" | "" => Some(When::Never),
            _ => None,
        }
    }
}

/// clap's parser for `--color`.
pub fn parse_when(s: &str) -> Result<When, String> {
    When::parse(s).ok_or_else(|| {
        format!("`{s}` is not one of auto, always, never (or true, false, as git takes)")
    })
}

/// What a piece of text is, which decides its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Header,
    /// `keepsake show`'s title line, bold and underlined as Keepsake 0.4.2's.
    Title,
    Error,
    Warning,
    Hint,
    Id,
    Running,
    /// A unified diff's lines, coloured as git colours them.
    DiffAdded,
    DiffRemoved,
    DiffHunk,
}

fn style(kind: Kind) -> Style {
    // Modest, like git: bold headings, red errors, yellow warnings, hints and IDs.
    match kind {
        Kind::Header => Style::new().bold(),
        Kind::Title => Style::new().bold().underline(),
        Kind::Error => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        Kind::Warning => Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        Kind::Hint => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Kind::Id => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Kind::Running => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Kind::DiffAdded => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Kind::DiffRemoved => Style::new().fg_color(Some(AnsiColor::Red.into())),
        Kind::DiffHunk => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Default)]
struct State {
    stdout: bool,
    stderr: bool,
    width: Option<usize>,
    /// A colour setting git would refuse, for one warning.
    warning: Option<String>,
}

/// What the run was given: `--color` and the directory whose git config counts.
struct Inputs {
    flag: Option<When>,
    dir: std::path::PathBuf,
}

static INPUTS: OnceLock<Inputs> = OnceLock::new();
static SETTINGS: OnceLock<GitSettings> = OnceLock::new();
// Decided on first use, so a run that styles nothing (`ls -q`, `--json`) never runs git.
static STATE: OnceLock<State> = OnceLock::new();
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What `init` reads from git's config (`git config`, as the core runs it).
#[derive(Debug, Default, Clone)]
pub struct GitSettings {
    /// `color.keepsake`, else `color.ui`.
    pub color: Option<String>,
    pub pager_keepsake: Option<String>,
    pub core_pager: Option<String>,
}

impl GitSettings {
    /// The settings of the repository at `dir` (and the user's and system's); none outside git
    /// or when git cannot run.
    pub fn read(dir: &std::path::Path) -> GitSettings {
        let pairs = keepsake_core::git_config::config_matching(
            dir,
            r"^(color\.(ui|keepsake)|pager\.keepsake|core\.pager)$",
        );
        // The last value of a key wins, as in git.
        let last = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        GitSettings {
            color: last("color.keepsake").or_else(|| last("color.ui")),
            pager_keepsake: last("pager.keepsake"),
            core_pager: last("core.pager"),
        }
    }
}

/// Whether a stream is coloured: the flag, else git's setting, else auto (a terminal, unless
/// `NO_COLOR` is set or TERM is dumb). `always` wins over `NO_COLOR`, as in git.
pub fn decide(flag: Option<When>, config: Option<When>, terminal: bool) -> bool {
    match flag.or(config).unwrap_or(When::Auto) {
        When::Always => true,
        When::Never => false,
        When::Auto => {
            let no_color = std::env::var_os(EnvVars::NO_COLOR).is_some_and(|v| !v.is_empty());
            let dumb = std::env::var(EnvVars::TERM).is_ok_and(|t| t == "dumb");
            terminal && !no_color && !dumb
        }
    }
}

/// Whether stdout goes to a person: a terminal, or the pager git started for us (it sets
/// `GIT_PAGER_IN_USE`).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
        || std::env::var(EnvVars::GIT_PAGER_IN_USE).is_ok_and(|v| v == "true" || v == "1")
}

/// Sets what this run decides colour by (`--color`, and `dir`'s git config); nothing is
/// decided before (parts tested alone see no colour).
pub fn configure(flag: Option<When>, dir: std::path::PathBuf) {
    let _ = INPUTS.set(Inputs { flag, dir });
}

/// Git's colour and pager settings for this run, read once (one `git config` run).
pub fn settings() -> &'static GitSettings {
    SETTINGS.get_or_init(|| match INPUTS.get() {
        Some(i) => GitSettings::read(&i.dir),
        None => GitSettings::default(),
    })
}

/// Decides colour and width now: before the pager takes stdout, which is then a pipe.
pub fn decide_now() {
    let _ = state();
}

/// The warning about a colour setting git would refuse, once, if colour was decided.
pub fn take_warning() -> Option<String> {
    let w = STATE.get()?.warning.clone()?;
    (!WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)).then_some(w)
}

fn state() -> Option<&'static State> {
    let inputs = INPUTS.get()?;
    Some(STATE.get_or_init(|| {
        let flag = inputs.flag;
        let mut warning = None;
        // The flag decides alone: no need to ask git.
        let setting = if flag.is_none() {
            settings().color.as_deref()
        } else {
            None
        };
        let config = setting.and_then(|v| {
            let when = When::parse(v);
            if when.is_none() {
                warning = Some(format!(
                    "ignoring the colour setting `{v}` in git config (color.keepsake or color.ui): want auto, always, never, true or false"
                ));
            }
            when
        });
        let out_terminal = stdout_is_terminal();
        State {
            stdout: decide(flag, config, out_terminal),
            stderr: decide(flag, config, std::io::stderr().is_terminal()),
            width: if out_terminal { terminal_width() } else { None },
            warning,
        }
    }))
}

/// The width of the terminal stdout shows on: `COLUMNS` when it is a positive number, else
/// the terminal's own size.
fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var(EnvVars::COLUMNS)
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    // SAFETY: TIOCGWINSZ only writes the winsize it is given.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Whether `stream` is coloured this run (never before `init`, so tests of parts see none).
pub fn colored(stream: Stream) -> bool {
    state().is_some_and(|s| match stream {
        Stream::Stdout => s.stdout,
        Stream::Stderr => s.stderr,
    })
}

/// The width tables on stdout are fitted to: only when stdout is a terminal.
pub fn width() -> Option<usize> {
    state().and_then(|s| s.width)
}

/// `text` in `kind`'s style when `stream` is coloured; as it is otherwise. `text` must be
/// escaped already: what is painted is printed as it is.
pub fn paint(stream: Stream, kind: Kind, text: &str) -> String {
    if !colored(stream) || text.is_empty() {
        return text.to_string();
    }
    paint_always(kind, text)
}

pub fn paint_always(kind: Kind, text: &str) -> String {
    if kind == Kind::Title {
        // Keepsake 0.4.2's own bytes: bold and underline in one sequence (anstyle writes two).
        return format!("\x1b[1;4m{text}\x1b[0m");
    }
    let s = style(kind);
    format!("{}{text}{}", s.render(), s.render_reset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_colour_words() {
        assert_eq!(When::parse("Always"), Some(When::Always));
        assert_eq!(When::parse("true"), Some(When::Auto));
        assert_eq!(When::parse("false"), Some(When::Never));
        assert_eq!(When::parse("off"), Some(When::Never));
        assert_eq!(When::parse("sometimes"), None);
        assert!(parse_when("sometimes").unwrap_err().contains("`sometimes`"));
    }

    #[test]
    fn the_flag_wins_over_config_and_always_over_no_color() {
        assert!(decide(Some(When::Always), Some(When::Never), false));
        assert!(!decide(Some(When::Never), Some(When::Always), true));
        assert!(decide(None, Some(When::Always), false));
        assert!(!decide(None, Some(When::Never), true));
        assert!(!decide(None, None, false));
    }

    #[test]
    fn painting_keeps_the_text() {
        let p = paint_always(Kind::Header, "ID");
        assert!(p.starts_with("\x1b[") && p.contains("ID") && p.ends_with("\x1b[0m"));
    }
}
