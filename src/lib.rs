//! The `git keepsake` command line, as a library: the `git-keepsake` binary and the Python
//! package's `git-keepsake` entry point both call `run`.

mod commands;
mod error;
mod keepsake_cli;
mod pager;
mod term;
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
    ui::set_dialect(ui::Dialect::GitKeepsake);
    let cli = match commands::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let paging = !cli.global.no_pager && cli.command.pages();
    let dir = match &cli.global.project_directory {
        Some(d) => d.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| ".".into()),
    };
    term::configure(cli.global.color, dir);
    if paging && term::stdout_is_terminal() {
        term::decide_now();
        pager::start(term::settings());
    }
    let result = commands::run(cli);
    // The pager first, so an error comes after the output the person has read.
    let paged = pager::active();
    pager::finish();
    let code = match result {
        Ok(()) => error::exit::OK,
        // The person quit the pager before the end (`q` in less): what they wanted.
        Err(error::CliError::BrokenPipe) if paged => error::exit::OK,
        Err(e) => e.report(),
    };
    if let Some(w) = term::take_warning() {
        ui::warn(&w);
    }
    code
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
