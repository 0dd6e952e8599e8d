//! `git-keepsake`: version control for machine learning, built into git. A thin layer over
//! `keepsake-core`: parse the command line, call the core, print.

mod commands;
mod error;
mod ui;

use clap::Parser;

fn main() {
    let cli = commands::Cli::parse();
    let code = match commands::run(cli) {
        Ok(()) => 0,
        Err(e) => e.report(),
    };
    std::process::exit(code);
}
