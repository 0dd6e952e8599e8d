//! `hook pre-push`: called by the installed pre-push hook with git's stdin lines.

use std::io::Read;

use clap::{Args, Subcommand};
use keepsake_core::sharing;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};

#[derive(Args)]
pub struct HookArgs {
    #[command(subcommand)]
    hook: Hook,
}

#[derive(Subcommand)]
enum Hook {
    /// Block a push of experiments whose data is not in the remote's store
    PrePush { remote: String, url: Option<String> },
}

pub fn cmd_hook(g: &Global, args: HookArgs) -> CliResult {
    let Hook::PrePush { remote, .. } = args.hook;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    // Pushes without keepsake refs cost nothing: no project, no store, no network.
    if !input.lines().any(|l| l.starts_with("refs/keepsake/")) {
        return Ok(());
    }
    let project = open_project(g)?;
    let missing = sharing::push::missing_for_push(&project, &remote, &input)?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(CliError::user(
        format!(
            "Push blocked: the store of `{remote}` lacks {} object(s) of the experiments being pushed: {}",
            missing.len(),
            missing.join(", ")
        ),
        Some(&format!("Use `git keepsake push {remote} <experiment>`, which uploads the data before the refs")),
    ))
}
