//! The `git keepsake` command line, as a library: the `git-keepsake` binary and the Python
//! package's `git-keepsake` entry point both call `run`.

mod commands;
mod error;
mod ui;
mod web;

use std::ffi::OsString;

use clap::Parser;

/// Runs the command line with `args` (the first is the program name) and returns the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // A shell asking for completions (see `completions`) gets them, and nothing else runs.
    if let Some(code) = commands::completions::complete(&args) {
        return code;
    }
    let cli = match commands::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match commands::run(cli) {
        Ok(()) => error::exit::OK,
        Err(e) => e.report(),
    }
}
