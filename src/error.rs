//! The one place that turns errors into messages, causes, hints and exit codes (see `exit`).

use keepsake_core::Error;

/// The exit codes, all of them.
pub mod exit {
    pub const OK: i32 = 0;
    /// The command failed: bad input, a missing experiment, a store that refused.
    pub const FAILED: i32 = 1;
    // 2 is bad usage, clap's own (`clap::Error::exit_code`).
    /// The output pipe closed (`| head`).
    pub const BROKEN_PIPE: i32 = 3;
    /// A bug in git-keepsake (EX_SOFTWARE of sysexits.h).
    pub const INTERNAL: i32 = 70;
}

#[derive(Debug)]
pub enum CliError {
    Core(Error),
    /// A command-level failure with its own message and optional hint.
    User {
        message: String,
        hint: Option<String>,
    },
    /// Output pipe closed (e.g. `| head`): not worth a message.
    BrokenPipe,
}

pub type CliResult<T = ()> = Result<T, CliError>;

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Core(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::User {
                message: format!("Output failed: {e}"),
                hint: None,
            }
        }
    }
}

impl CliError {
    pub fn user(message: impl Into<String>, hint: Option<&str>) -> CliError {
        CliError::User {
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// Prints the error to stderr and returns the exit code.
    pub fn report(self) -> i32 {
        let code = self.exit_code();
        let (message, causes, hint) = match self {
            CliError::Core(e) => match keepsake_words(&e) {
                // Keepsake's message alone, as scripts that read its first line expect.
                Some(words) => (words, Vec::new(), None),
                None => (e.to_string(), causes(&e), cli_hint(&e).or_else(|| e.hint())),
            },
            CliError::User { message, hint } => (message, Vec::new(), hint),
            CliError::BrokenPipe => return code,
        };
        crate::ui::error(&message, &causes, hint.as_deref());
        code
    }

    fn exit_code(&self) -> i32 {
        match self {
            CliError::Core(Error::Internal { .. }) => exit::INTERNAL,
            CliError::Core(_) | CliError::User { .. } => exit::FAILED,
            CliError::BrokenPipe => exit::BROKEN_PIPE,
        }
    }
}

/// The causes under `e`, each as one line, leaving out those whose text a line above already
/// shows (most errors quote their cause's message).
fn causes(e: &Error) -> Vec<String> {
    // Compared as printed, whitespace runs as one (the core folds a store's text that way).
    let words = |s: &str| {
        crate::ui::one_line(s)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut shown = vec![words(&e.to_string())];
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        let line = words(&text);
        if !line.is_empty() && !shown.iter().any(|s| s.contains(&line)) {
            shown.push(line);
            causes.push(text);
        }
        next = cause.source();
    }
    causes
}

/// Keepsake 0.4.2's own words for the errors scripts look for, under the `keepsake` command.
fn keepsake_words(e: &Error) -> Option<String> {
    if crate::ui::dialect() != crate::ui::Dialect::Keepsake {
        return None;
    }
    match e {
        Error::NotFound { prefix } => Some(format!("Checkpoint/experiment not found: {prefix}")),
        Error::Ambiguous { prefix, candidates } => Some(format!(
            "Prefix is ambiguous: {prefix} ({} matching checkpoints/experiments)",
            candidates.len()
        )),
        _ => None,
    }
}

/// The hints that name this command line's own flags, where the core's words are neutral.
fn cli_hint(e: &Error) -> Option<String> {
    match e {
        Error::NotFound { .. } => Some("Run `git keepsake ls` to see the experiments".into()),
        Error::WouldOverwrite { .. } => {
            Some("Commit or move those files, or pass `-f` to overwrite them".into())
        }
        Error::StoreOnlyMissing { .. } => Some(
            "Those files were left out of git (gitignored, or over git_max_file_size); restore the tarball to the store, or pass `--path` to check out only files git has".into(),
        ),
        Error::UnpublishedCommits { remote, .. } => Some(format!(
            "Push them first (`git push {remote} <branch>`), or pass `--include-commits` to publish them with the experiments"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_kind() {
        assert_eq!(CliError::Core(Error::internal("x")).exit_code(), 70);
        let invalid = Error::invalid("step", -1, "steps are zero or positive");
        assert_eq!(CliError::Core(invalid).exit_code(), 1);
        assert_eq!(CliError::user("bad", None).exit_code(), 1);
        assert_eq!(CliError::BrokenPipe.exit_code(), 3);
    }

    #[test]
    fn causes_leave_out_what_the_message_already_quotes() {
        let io = std::io::Error::other("disk on fire");
        let git = Error::Git {
            what: "HEAD".into(),
            message: "reading failed".into(),
            source: Some(Box::new(io)),
        };
        assert_eq!(causes(&git), ["disk on fire"]);
        // A store's text folded onto one line by the core is still the same text.
        let folded = Error::Git {
            what: "HEAD".into(),
            message: "a b - c".into(),
            source: Some(Box::new(std::io::Error::other("a  b\n - c"))),
        };
        assert!(causes(&folded).is_empty());
        // Io's message quotes its source: nothing more to say.
        let quoted = Error::Io {
            path: "/x".into(),
            source: std::io::Error::other("disk on fire"),
        };
        assert!(causes(&quoted).is_empty());
    }

    #[test]
    fn the_cli_names_its_flags_where_the_core_is_neutral() {
        let e = Error::WouldOverwrite {
            paths: vec!["a".into()],
        };
        assert!(cli_hint(&e).unwrap().contains("`-f`"));
        assert!(!e.hint().unwrap().contains("-f"));
    }
}
