//! `init`: make the store ready (and write keepsake.yaml when a repository URL is given), install
//! the git hooks and `notes.rewriteRef` (as `install`), and keep a store inside the work tree
//! out of git by adding it to `.gitignore`.

use clap::Args;
use keepsake_core::experiments::{self, setup::StoreIgnore};
use keepsake_core::{OpenOptions, Project};

use super::{install, open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct InitArgs {
    /// Write keepsake.yaml with this repository URL (default: a store inside the git directory);
    /// a local store inside the work tree is added to .gitignore
    #[arg(long = "store", value_name = "URL")]
    store: Option<String>,
}

pub fn cmd_init(g: &Global, args: InitArgs) -> CliResult {
    if let Some(url) = &args.store {
        let cwd = std::env::current_dir()?;
        let path = cwd.join("keepsake.yaml");
        if path.exists() {
            return Err(CliError::user(
                format!("`{}` already exists", path.display()),
                Some("Edit its `repository:` line instead"),
            ));
        }
        keepsake_core::StorageUrl::parse(url, &cwd)?;
        // A store that cannot be kept out of git is refused before anything is written.
        let planned = Project::open(&OpenOptions {
            cwd: cwd.clone(),
            repository: Some(url.clone()),
            directory: None,
        })?;
        experiments::setup::ignore_store(&planned, false)?;
        std::fs::write(&path, format!("repository: \"{url}\"\n"))
            .map_err(|e| CliError::user(format!("Cannot write `{}`: {e}", path.display()), None))?;
        ui::progress(&format!("Wrote {}", path.display()));
    }
    let project = open_project(g)?;
    experiments::create::check_repository_spec(&project)?;
    if project.has_git() {
        match experiments::setup::ignore_store(&project, true)? {
            StoreIgnore::Added {
                gitignore, pattern, ..
            } => ui::progress(&format!(
                "Added {pattern} to {}, so git never commits the store",
                gitignore.display()
            )),
            StoreIgnore::AlreadyIgnored { .. } | StoreIgnore::NotInWorkTree => {}
        }
        install::install_hooks(&project)?;
    } else {
        ui::progress("Not a git repository: no hooks installed");
    }
    ui::progress(&format!(
        "Experiments will be stored in {}",
        project.store_url()
    ));
    Ok(())
}
