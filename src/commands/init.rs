//! `init`: make the store ready (and write keepsake.yaml when a repository URL is given).

use clap::Args;
use keepsake_core::experiments;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct InitArgs {
    /// Write keepsake.yaml with this repository URL (default: a store inside the git directory)
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
        std::fs::write(&path, format!("repository: \"{url}\"\n"))
            .map_err(|e| CliError::user(format!("Cannot write `{}`: {e}", path.display()), None))?;
        ui::progress(&format!("Wrote {}", path.display()));
    }
    let project = open_project(g)?;
    experiments::create::check_repository_spec(&project)?;
    ui::progress(&format!(
        "Experiments will be stored in {}",
        project.store_url()
    ));
    Ok(())
}
