//! `config`: where this project's experiments are stored, and why.

use clap::Args;
use keepsake_core::ConfigSource;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct ConfigArgs {}

pub fn cmd_config(g: &Global, _args: ConfigArgs) -> CliResult {
    let project = open_project(g)?;
    let source = match &project.config.source {
        ConfigSource::File(p) => p.display().to_string(),
        ConfigSource::GitDefault => {
            "default (no keepsake.yaml; kept inside the git directory, never committed)".into()
        }
        ConfigSource::Explicit => "--repository".into(),
    };
    let rows = vec![
        ("project".to_string(), project.dir().display().to_string()),
        ("repository".to_string(), project.store_url().to_string()),
        ("source".to_string(), source),
        (
            "compression".to_string(),
            project.config.compression.name().to_string(),
        ),
        (
            "git".to_string(),
            project
                .git_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "(none: storage only)".into()),
        ),
    ];
    Ok(ui::out(&ui::fields(&rows))?)
}
