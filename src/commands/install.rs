//! `install` and `uninstall`: git-keepsake's git hooks.

use clap::Args;
use keepsake_core::sharing;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

/// The hooks git-keepsake installs, as shipped in hooks/.
pub const HOOKS: [(&str, &str); 1] = [("pre-push", include_str!("../../hooks/pre-push"))];

#[derive(Args)]
pub struct InstallArgs {}

pub fn cmd_install(g: &Global, _args: InstallArgs) -> CliResult {
    install_hooks(&open_project(g)?)
}

/// `install` on an open project (`init` runs it too).
pub fn install_hooks(project: &keepsake_core::Project) -> CliResult {
    let report = sharing::hooks::install(project, &HOOKS)?;
    for name in &report.chained {
        ui::progress(&format!(
            "Your existing {name} hook still runs first (kept as {name}.keepsake-chained)"
        ));
    }
    ui::progress(&format!(
        "Installed git-keepsake hooks in {}",
        report.dir.display()
    ));
    Ok(())
}

pub fn cmd_uninstall(g: &Global, _args: InstallArgs) -> CliResult {
    let project = open_project(g)?;
    let names: Vec<&str> = HOOKS.iter().map(|(n, _)| *n).collect();
    let dir = sharing::hooks::uninstall(&project, &names)?;
    ui::progress(&format!(
        "Removed git-keepsake hooks from {}",
        dir.display()
    ));
    Ok(())
}
