//! The man pages (clap_mangen, from the same clap definitions as `--help`) and the bash
//! completion file, as the Python package installs them under `<prefix>/share`, where `man`
//! and bash-completion look for a virtual environment's commands. Committed under
//! crates/keepsake-py/wheel-data/data/share (maturin's wheel data), regenerated with
//! `git keepsake generate-share crates/keepsake-py/wheel-data/data/share`; a test fails when they
//! are stale.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

use super::completions::{script, Shell};
use super::Cli;
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct GenerateShareArgs {
    /// The `share` directory to write into (man/man1/, bash-completion/completions/)
    dir: PathBuf,
}

pub fn cmd_generate_share(args: GenerateShareArgs) -> CliResult {
    let files = files();
    let man1 = args.dir.join("man/man1");
    // A page of a command that no longer exists must not stay installed.
    if let Ok(entries) = std::fs::read_dir(&man1) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("git-keepsake") && name.ends_with(".1");
            if ours
                && !files
                    .iter()
                    .any(|(rel, _)| *rel == format!("man/man1/{name}"))
            {
                std::fs::remove_file(e.path()).map_err(|err| write_error(&e.path(), err))?;
            }
        }
    }
    for (rel, bytes) in &files {
        let path = args.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| write_error(&path, e))?;
    }
    ui::progress(&format!(
        "Wrote {} files under {}",
        files.len(),
        args.dir.display()
    ));
    Ok(())
}

fn write_error(path: &std::path::Path, e: std::io::Error) -> CliError {
    CliError::user(format!("Cannot write `{}`: {e}", path.display()), None)
}

/// Every file, as (path under `share`, bytes).
pub fn files() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = vec![page(&cmd)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(page(sub));
    }
    out.push((
        "bash-completion/completions/git-keepsake".to_string(),
        script(Shell::Bash).into_bytes(),
    ));
    out
}

/// One command's page: clap_mangen's sections, with the help's examples as an EXAMPLES section
/// whose lines stay lines (clap_mangen's own section for it would fill them into a paragraph).
fn page(cmd: &clap::Command) -> (String, Vec<u8>) {
    // Every page names the program and its version in its footer, as git's pages do.
    let man = Man::new(cmd.clone())
        .source(format!("git-keepsake {}", env!("CARGO_PKG_VERSION")))
        .manual("git-keepsake Manual");
    let mut buf: Vec<u8> = Vec::new();
    let render = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(buf)?;
        man.render_name_section(buf)?;
        man.render_synopsis_section(buf)?;
        // NAME already says the one-line about: DESCRIPTION goes on from there.
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        let long = cmd.get_long_about().map(|a| a.to_string());
        match long.as_deref().and_then(|l| l.strip_prefix(&about)) {
            Some(rest) if !rest.trim().is_empty() => {
                let mut roff = Roff::default();
                roff.control("SH", ["DESCRIPTION"]);
                for paragraph in rest.trim().split("\n\n") {
                    roff.control("PP", []);
                    for line in paragraph.lines() {
                        roff.text([roman(line)]);
                    }
                }
                roff.to_writer(buf)?;
            }
            _ => man.render_description_section(buf)?,
        }
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(buf)?;
        }
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            man.render_subcommands_section(buf)?;
        }
        if let Some(after) = cmd.get_after_help() {
            let text = after.to_string();
            let mut lines = text.lines().skip_while(|l| l.trim() == "Examples:");
            let mut roff = Roff::default();
            roff.control("SH", ["EXAMPLES"]);
            roff.control("nf", []);
            for line in lines.by_ref() {
                roff.text([roman(line)]);
            }
            roff.control("fi", []);
            roff.to_writer(buf)?;
        }
        if cmd.get_version().is_some() {
            man.render_version_section(buf)?;
        } else {
            let mut roff = Roff::default();
            roff.control("SH", ["SEE ALSO"]);
            roff.text([roman("git-keepsake(1)")]);
            roff.to_writer(buf)?;
        }
        buf.flush()
    };
    render(&mut buf).expect("writing to memory");
    (format!("man/man1/{}", man.get_filename()), buf)
}
