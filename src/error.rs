//! The one place that turns errors into messages, hints and exit codes: 1 for a failed command,
//! 2 for bad usage (clap's own), 3 for a closed output pipe.

use keepsake_core::Error;

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
        let (message, hint) = match self {
            CliError::Core(e) => (e.to_string(), e.hint()),
            CliError::User { message, hint } => (message, hint),
            CliError::BrokenPipe => return 3,
        };
        crate::ui::error(&message, hint.as_deref());
        1
    }
}
