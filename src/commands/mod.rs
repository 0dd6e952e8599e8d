//! One file per command, each with its clap arguments and one `cmd_*` function.

mod apply;
mod branch;
pub(crate) mod checkout;
mod config;
pub(crate) mod diff;
mod gc;
mod hook;
mod import;
mod init;
mod install;
pub(crate) mod ls;
mod markdown;
mod pull;
mod push;
mod report;
pub(crate) mod rm;
pub(crate) mod show;
mod ui;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use keepsake_core::{OpenOptions, Project};

use crate::error::CliResult;
pub use crate::ui::Dialect;

#[derive(Parser)]
#[command(
    name = "git-keepsake",
    bin_name = "git keepsake",
    version,
    about = "Version control for machine learning, built into git"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Use this repository URL instead of the one in keepsake.yaml
    #[arg(short = 'R', long, global = true)]
    pub repository: Option<String>,
    /// Use this project directory instead of searching upwards for keepsake.yaml
    #[arg(short = 'D', long = "project-directory", global = true)]
    pub project_directory: Option<PathBuf>,
    /// Whose words the output uses: `git keepsake`'s, or Keepsake 0.4.2's (`keepsake`).
    #[arg(skip)]
    pub dialect: Dialect,
}

#[derive(Subcommand)]
pub enum Command {
    /// List experiments
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// List running experiments
    #[command(visible_alias = "processes")]
    Ps(ls::LsArgs),
    /// Show an experiment or a checkpoint
    Show(show::ShowArgs),
    /// Compare two experiments or checkpoints
    Diff(diff::DiffArgs),
    /// Restore an experiment's code, or a checkpoint's code and files
    Checkout(checkout::CheckoutArgs),
    /// Delete experiments or checkpoints
    #[command(visible_alias = "delete")]
    Rm(rm::RmArgs),
    /// Turn experiments of a Keepsake store into git refs
    Import(import::ImportArgs),
    /// Show where experiments are stored
    Config(config::ConfigArgs),
    /// Set up git-keepsake in this repository (store and hooks)
    Init(init::InitArgs),
    /// Share experiments through a git remote (data first, then refs)
    Push(push::PushArgs),
    /// Fetch experiments from a git remote
    Pull(pull::PullArgs),
    /// Install the git hooks
    Install(install::InstallArgs),
    /// Remove the git hooks, restoring your own
    Uninstall(install::InstallArgs),
    /// Promote a checkpoint to a branch with its code and a pointer to its weights
    Branch(branch::BranchArgs),
    /// Bring an experiment's code and params into the working tree, without committing
    Apply(apply::ApplyArgs),
    /// Delete stored data that no experiment ref or promoted branch references
    Gc(gc::GcArgs),
    /// Serve a local, read-only web dashboard of the experiments
    Ui(ui::UiArgs),
    /// Write a self-contained HTML report of experiments
    Report(report::ReportArgs),
    /// Run a git hook (called by the installed hooks)
    #[command(hide = true)]
    Hook(hook::HookArgs),
}

pub fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    match cli.command {
        Command::Ls(args) => ls::cmd_ls(g, args, false),
        Command::Ps(args) => ls::cmd_ls(g, args, true),
        Command::Show(args) => show::cmd_show(g, args),
        Command::Diff(args) => diff::cmd_diff(g, args),
        Command::Checkout(args) => checkout::cmd_checkout(g, args),
        Command::Rm(args) => rm::cmd_rm(g, args),
        Command::Import(args) => import::cmd_import(g, args),
        Command::Config(args) => config::cmd_config(g, args),
        Command::Init(args) => init::cmd_init(g, args),
        Command::Push(args) => push::cmd_push(g, args),
        Command::Pull(args) => pull::cmd_pull(g, args),
        Command::Install(args) => install::cmd_install(g, args),
        Command::Uninstall(args) => install::cmd_uninstall(g, args),
        Command::Hook(args) => hook::cmd_hook(g, args),
        Command::Branch(args) => branch::cmd_branch(g, args),
        Command::Apply(args) => apply::cmd_apply(g, args),
        Command::Gc(args) => gc::cmd_gc(g, args),
        Command::Ui(args) => ui::cmd_ui(g, args),
        Command::Report(args) => report::cmd_report(g, args),
    }
}

pub fn open_project(g: &Global) -> CliResult<Project> {
    let cwd = std::env::current_dir()?;
    let project = Project::open(&OpenOptions {
        cwd,
        repository: g.repository.clone(),
        directory: g.project_directory.clone(),
    })?;
    // Keepsake's users see what Keepsake showed: the store's experiments too, imported or not.
    let project = if g.dialect == Dialect::Keepsake {
        project.see_store_only()
    } else {
        project
    };
    for w in &project.config.warnings {
        crate::ui::warn(w);
    }
    Ok(project)
}

/// Keepsake's `Do you want to continue? (y/N)` (`keepsake checkout` and `keepsake rm`): Ok on
/// yes; a refusal and a closed stdin are errors (exit 1) in Keepsake's words.
pub fn keepsake_continue() -> CliResult {
    match crate::ui::ask_to_continue() {
        crate::ui::Answer::Yes => Ok(()),
        crate::ui::Answer::No => Err(crate::error::CliError::user("Aborting.", None)),
        crate::ui::Answer::Closed => Err(crate::error::CliError::user(
            "stdin is closed. If you're running in a script, you need to pass the '-f' option.",
            None,
        )),
    }
}
