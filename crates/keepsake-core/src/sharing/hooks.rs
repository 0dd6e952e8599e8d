//! Installing git-keepsake's git hooks: into the hooks directory git uses (`core.hooksPath`
//! honoured), chaining the user's own hook (it still runs, its exit status still counts), all
//! hooks or none, and `notes.rewriteRef` so notes follow amend and rebase.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::git::{transport, NOTES_REF};

/// Marks a hook file as ours.
pub const MARKER: &str = "git-keepsake pre-push hook";
const CHAINED_SUFFIX: &str = ".keepsake-chained";

#[derive(Debug)]
pub struct InstallReport {
    pub dir: PathBuf,
    /// User hooks that now run from our shims.
    pub chained: Vec<String>,
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|s| s.contains(MARKER))
        .unwrap_or(false)
}

/// Installs `hooks` (name, script) into the repository's hooks directory.
pub fn install(project: &Project, hooks: &[(&str, &str)]) -> Result<InstallReport> {
    let git = project.require_git("install")?;
    let cmd_dir = git.command_dir();
    let dir = transport::hooks_dir(&cmd_dir)?;
    crate::fs::create_dir_all(&dir)?;
    let mut report = InstallReport {
        dir: dir.clone(),
        chained: Vec::new(),
    };
    // Check everything before changing anything: all hooks or none.
    for (name, _) in hooks {
        let (target, chained) = (dir.join(name), dir.join(format!("{name}{CHAINED_SUFFIX}")));
        if target.exists() && !is_ours(&target) && chained.exists() {
            return Err(Error::invalid(
                "hook",
                target.display(),
                format!(
                    "both it and `{}` exist; move one away first",
                    chained.display()
                ),
            ));
        }
    }
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for (name, script) in hooks {
        let (target, chained) = (dir.join(name), dir.join(format!("{name}{CHAINED_SUFFIX}")));
        let result = (|| -> Result<Option<PathBuf>> {
            let mut moved = None;
            if target.exists() && !is_ours(&target) {
                crate::fs::rename(&target, &chained)?;
                moved = Some(chained.clone());
            }
            let written = crate::fs::AtomicFile::create(&target).and_then(|mut f| {
                f.file().write_all(script.as_bytes())?;
                f.set_mode(0o755)?;
                f.commit()
            });
            written.map_err(|e| Error::io(&target, e))?;
            Ok(moved)
        })();
        match result {
            Ok(moved) => {
                if moved.is_some() {
                    report.chained.push(name.to_string());
                }
                done.push((target, moved));
            }
            Err(e) => {
                for (target, moved) in done.into_iter().rev() {
                    let _ = std::fs::remove_file(&target);
                    if let Some(m) = moved {
                        let _ = std::fs::rename(m, &target);
                    }
                }
                return Err(e);
            }
        }
    }
    if !transport::config_values(&cmd_dir, "notes.rewriteRef")
        .iter()
        .any(|v| v == NOTES_REF)
    {
        transport::config_add(&cmd_dir, "notes.rewriteRef", NOTES_REF)?;
    }
    Ok(report)
}

/// Removes our hooks and puts the user's own back as they were.
pub fn uninstall(project: &Project, names: &[&str]) -> Result<PathBuf> {
    let git = project.require_git("uninstall")?;
    let cmd_dir = git.command_dir();
    let dir = transport::hooks_dir(&cmd_dir)?;
    for name in names {
        let (target, chained) = (dir.join(name), dir.join(format!("{name}{CHAINED_SUFFIX}")));
        if is_ours(&target) {
            crate::fs::remove_file(&target)?;
            if chained.exists() {
                crate::fs::rename(&chained, &target)?;
            }
        }
    }
    if transport::config_values(&cmd_dir, "notes.rewriteRef")
        .iter()
        .any(|v| v == NOTES_REF)
    {
        transport::config_unset_value(&cmd_dir, "notes.rewriteRef", NOTES_REF)?;
    }
    Ok(dir)
}
