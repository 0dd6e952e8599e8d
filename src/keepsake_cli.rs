//! The `keepsake` command: Keepsake 0.4.2's command line (its commands, aliases, flags, words,
//! prompts and exit codes) in front of the same command functions as `git keepsake`, which
//! speak Keepsake's words when `Global::dialect` says so.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};

use crate::commands::{checkout, diff, ls, rm, show, Dialect, Global};
use crate::error::{exit, CliError, CliResult};
use crate::{term, ui};

#[derive(Parser)]
#[command(
    name = "keepsake",
    about = "Version control for machine learning (git-keepsake's drop-in for Keepsake 0.4.2)",
    disable_version_flag = true
)]
struct KeepsakeCli {
    /// Display color in output (`--color=false` to turn it off)
    #[arg(
        long,
        global = true,
        action = ArgAction::Set,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    color: bool,
    /// Project directory. Default: nearest parent directory with keepsake.yaml
    #[arg(short = 'D', long = "project-directory", global = true)]
    project_directory: Option<PathBuf>,
    /// Repository URL (e.g. 's3://my-keepsake-bucket'); default: the one in keepsake.yaml
    #[arg(short = 'R', long, global = true)]
    repository: Option<String>,
    /// Verbose output
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Print the version
    #[arg(long)]
    version: bool,
    #[command(subcommand)]
    command: Option<KeepsakeCommand>,
}

#[derive(Subcommand)]
enum KeepsakeCommand {
    /// List experiments in this project
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// List running experiments in this project
    #[command(visible_alias = "processes")]
    Ps(ls::LsArgs),
    /// View information about an experiment or checkpoint
    Show(show::ShowArgs),
    /// Compare two experiments or checkpoints
    Diff(diff::DiffArgs),
    /// Copy files from an experiment or checkpoint into your project
    Checkout(CheckoutArgs),
    /// Remove experiments or checkpoints
    #[command(visible_alias = "delete")]
    Rm(RmArgs),
    /// Enable or disable analytics (none are ever sent)
    Analytics {
        /// `on` or `off`
        value: String,
    },
    /// Submit feedback to the team
    Feedback,
}

#[derive(Args)]
struct CheckoutArgs {
    /// Experiment or checkpoint ID (any unique prefix)
    id: String,
    /// Output directory (default: the project directory)
    #[arg(short, long = "output-directory", value_name = "DIR")]
    output_directory: Option<PathBuf>,
    /// Overwrite existing files without asking
    #[arg(short, long)]
    force: bool,
    /// A file or directory to check out (relative to the project directory)
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
}

#[derive(Args)]
struct RmArgs {
    /// Experiment or checkpoint IDs (any unique prefixes)
    #[arg(required = true)]
    ids: Vec<String>,
    /// Delete without asking
    #[arg(short, long)]
    force: bool,
}

/// Runs `keepsake` with `args` (the first is the program name); returns the exit code. As with
/// Keepsake (cobra), bad usage exits 1, not 2.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    ui::set_dialect(Dialect::Keepsake);
    let cli = match KeepsakeCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.exit_code() == 0 => {
            let _ = e.print(); // --help
            return exit::OK;
        }
        Err(e) => {
            // Cobra's way: the message on a log line, then the usage; exit 1.
            let text = e.render().to_string();
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            ui::progress(first.trim_start_matches("error: "));
            eprint!("{rest}");
            return exit::FAILED;
        }
    };
    // Keepsake's `--color` (true unless `--color=false`): on a terminal, without NO_COLOR.
    let dir = match &cli.project_directory {
        Some(d) => d.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| ".".into()),
    };
    let when = if cli.color {
        term::When::Auto
    } else {
        term::When::Never
    };
    term::configure(Some(when), dir);
    match dispatch(cli) {
        Ok(()) => exit::OK,
        Err(e) => e.report(),
    }
}

fn dispatch(cli: KeepsakeCli) -> CliResult {
    if cli.version {
        return Ok(ui::out(&format!(
            "keepsake version {} (git-keepsake, compatible with Keepsake 0.4.2)\n",
            env!("CARGO_PKG_VERSION")
        ))?);
    }
    let g = Global {
        repository: cli.repository,
        project_directory: cli.project_directory,
        dialect: Dialect::Keepsake,
        color: None,
        no_pager: false,
    };
    let Some(command) = cli.command else {
        return Ok(ui::out(&format!(
            "{}\n",
            KeepsakeCli::command().render_help()
        ))?);
    };
    match command {
        KeepsakeCommand::Ls(args) => ls::cmd_ls(&g, args, false),
        KeepsakeCommand::Ps(args) => ls::cmd_ls(&g, args, true),
        KeepsakeCommand::Show(args) => show::cmd_show(&g, args),
        KeepsakeCommand::Diff(args) => diff::cmd_diff(&g, args),
        KeepsakeCommand::Checkout(a) => checkout::cmd_checkout(
            &g,
            checkout::CheckoutArgs {
                id: Some(a.id),
                output: a.output_directory,
                force: a.force,
                path: a.path,
                quiet: false,
            },
        ),
        KeepsakeCommand::Rm(a) => rm::cmd_rm(
            &g,
            rm::RmArgs {
                ids: a.ids,
                yes: a.force,
            },
        ),
        KeepsakeCommand::Analytics { value } => match value.as_str() {
            "on" | "off" => {
                ui::progress(&format!(
                    "Analytics turned {value}. (This keepsake never sends analytics either way.)"
                ));
                Ok(())
            }
            _ => Err(CliError::user(
                "You need to pass either 'on' or 'off' as an argument.",
                None,
            )),
        },
        KeepsakeCommand::Feedback => Ok(ui::out(
            "This keepsake is git-keepsake's drop-in for Keepsake 0.4.2: report problems where you got git-keepsake.\n",
        )?),
    }
}
