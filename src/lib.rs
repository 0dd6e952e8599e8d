//! The `git keepsake` command line, as a library: the `git-keepsake` binary and the Python
//! package's `git-keepsake` entry point both call `run`.

mod commands;
mod error;
mod keepsake_cli;
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
    ui::set_dialect(ui::Dialect::GitKeepsake);
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

/// Runs the `keepsake` command (Keepsake 0.4.2's command line) with `args` (the first is the
/// program name) and returns the exit code: the `keepsake` binary and the Python package's
/// `keepsake` entry point both call it.
pub fn run_keepsake<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    keepsake_cli::run(args)
}
