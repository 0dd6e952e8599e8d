//! One file per command, each with its clap arguments and one `cmd_*` function.

mod apply;
mod branch;
pub(crate) mod checkout;
pub(crate) mod completions;
mod config;
pub(crate) mod diff;
mod gc;
mod help;
mod hook;
mod import;
mod init;
mod install;
pub(crate) mod ls;
mod man;
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
    about = "Version control for machine learning, built into git",
    long_about = help::TOP_LONG,
    after_help = help::TOP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    // One heading of their own, so each command's help shows its own options apart.
    /// Use this repository URL instead of the one in keepsake.yaml
    #[arg(
        short = 'R',
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub repository: Option<String>,
    /// Use this project directory instead of searching upwards for keepsake.yaml
    #[arg(
        short = 'D',
        long = "project-directory",
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub project_directory: Option<PathBuf>,
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always or never
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        require_equals = true,
        num_args = 0..=1,
        default_missing_value = "always",
        value_parser = crate::term::parse_when,
        help_heading = "Global options"
    )]
    pub color: Option<crate::term::When>,
    /// Do not pipe long output into a pager
    #[arg(long = "no-pager", global = true, help_heading = "Global options")]
    pub no_pager: bool,
    /// Whose words the output uses: `git keepsake`'s, or Keepsake 0.4.2's (`keepsake`).
    #[arg(skip)]
    pub dialect: Dialect,
}

#[derive(Subcommand)]
pub enum Command {
    /// List experiments
    #[command(visible_alias = "list", long_about = help::LS_LONG, after_help = help::LS)]
    Ls(ls::LsArgs),
    /// List running experiments
    #[command(visible_alias = "processes", long_about = help::PS_LONG, after_help = help::PS)]
    Ps(ls::LsArgs),
    /// Show an experiment or a checkpoint
    #[command(long_about = help::SHOW_LONG, after_help = help::SHOW)]
    Show(show::ShowArgs),
    /// Compare two experiments or checkpoints
    #[command(long_about = help::DIFF_LONG, after_help = help::DIFF)]
    Diff(diff::DiffArgs),
    /// Restore an experiment's code, or a checkpoint's code and files
    #[command(long_about = help::CHECKOUT_LONG, after_help = help::CHECKOUT)]
    Checkout(checkout::CheckoutArgs),
    /// Delete experiments or checkpoints
    #[command(visible_alias = "delete", long_about = help::RM_LONG, after_help = help::RM)]
    Rm(rm::RmArgs),
    /// Turn experiments of a Keepsake store into git refs
    #[command(long_about = help::IMPORT_LONG, after_help = help::IMPORT)]
    Import(import::ImportArgs),
    /// Show where experiments are stored
    #[command(long_about = help::CONFIG_LONG, after_help = help::CONFIG)]
    Config(config::ConfigArgs),
    /// Set up git-keepsake in this repository (store and hooks)
    #[command(long_about = help::INIT_LONG, after_help = help::INIT)]
    Init(init::InitArgs),
    /// Share experiments through a git remote (data first, then refs)
    #[command(long_about = help::PUSH_LONG, after_help = help::PUSH)]
    Push(push::PushArgs),
    /// Fetch experiments from a git remote
    #[command(long_about = help::PULL_LONG, after_help = help::PULL)]
    Pull(pull::PullArgs),
    /// Install the git hooks
    #[command(long_about = help::INSTALL_LONG, after_help = help::INSTALL)]
    Install(install::InstallArgs),
    /// Remove the git hooks, restoring your own
    #[command(after_help = help::UNINSTALL)]
    Uninstall(install::InstallArgs),
    /// Promote a checkpoint to a branch with its code and a pointer to its weights
    #[command(long_about = help::BRANCH_LONG, after_help = help::BRANCH)]
    Branch(branch::BranchArgs),
    /// Bring an experiment's code and params into the working tree, without committing
    #[command(long_about = help::APPLY_LONG, after_help = help::APPLY)]
    Apply(apply::ApplyArgs),
    /// Delete stored data that no experiment ref or promoted branch references
    #[command(long_about = help::GC_LONG, after_help = help::GC)]
    Gc(gc::GcArgs),
    /// Serve a local, read-only web dashboard of the experiments
    #[command(long_about = help::UI_LONG, after_help = help::UI)]
    Ui(ui::UiArgs),
    /// Write a self-contained HTML report of experiments
    #[command(long_about = help::REPORT_LONG, after_help = help::REPORT)]
    Report(report::ReportArgs),
    /// Print a shell's completion script (bash, zsh, fish)
    #[command(long_about = help::COMPLETIONS_LONG, after_help = help::COMPLETIONS)]
    Completions(completions::CompletionsArgs),
    /// Write the man pages and the bash completion file the Python package installs
    #[command(hide = true)]
    GenerateShare(man::GenerateShareArgs),
    /// Run a git hook (called by the installed hooks)
    #[command(hide = true)]
    Hook(hook::HookArgs),
}

impl Command {
    /// Whether its output can be long enough for the pager, as `git log` is.
    pub fn pages(&self) -> bool {
        matches!(
            self,
            Command::Ls(_) | Command::Ps(_) | Command::Show(_) | Command::Diff(_)
        )
    }
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
        Command::Completions(args) => completions::cmd_completions(args),
        Command::GenerateShare(args) => man::cmd_generate_share(args),
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
