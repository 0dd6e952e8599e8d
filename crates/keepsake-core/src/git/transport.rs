//! The network side of git, through the `git` binary: the user's SSH config, credential helpers,
//! proxies, `--atomic` and `--force-with-lease` come with it, and so do their own hooks.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str], what: &str) -> Result<String> {
    let out = git(dir).args(args).output().map_err(|e| Error::Git {
        what: what.to_string(),
        message: format!("cannot run `git`: {e}"),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Remote URLs can carry tokens (`https://user:token@host/...`): never in a message.
        let message = crate::text::redact(
            &stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        )
        .into_owned();
        Err(Error::Git {
            what: what.to_string(),
            message,
        })
    }
}

/// The URL of a remote; a clear error when there is no such remote.
pub fn remote_url(dir: &Path, remote: &str) -> Result<String> {
    run(dir, &["remote", "get-url", remote], remote)
        .map(|s| s.trim().to_string())
        .map_err(|_| {
            Error::invalid(
                "remote",
                remote,
                "there is no such git remote (see `git remote -v`)",
            )
        })
}

/// `(ref, sha)` of the remote's refs matching `pattern`.
pub fn ls_remote(dir: &Path, remote: &str, pattern: &str) -> Result<Vec<(String, String)>> {
    let out = run(dir, &["ls-remote", remote, pattern], remote)?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, name)| (name.to_string(), sha.to_string()))
        .collect())
}

pub fn fetch(dir: &Path, remote: &str, refspecs: &[String]) -> Result<()> {
    // Not --quiet: a rejected update is explained on stderr, which the error carries.
    let mut args = vec!["fetch", "--no-tags", "--no-write-fetch-head", remote];
    args.extend(refspecs.iter().map(String::as_str));
    run(dir, &args, remote).map(|_| ())
}

/// One atomic push: every `(local, remote ref, expected remote value)` lands, or none does.
/// `expected` None means the ref must not exist yet.
pub fn push_atomic(
    dir: &Path,
    remote: &str,
    updates: &[(String, String, Option<String>)],
) -> Result<()> {
    let mut args: Vec<String> = vec!["push".into(), "--atomic".into(), "--quiet".into()];
    for (_, dst, expected) in updates {
        args.push(format!(
            "--force-with-lease={dst}:{}",
            expected.as_deref().unwrap_or("")
        ));
    }
    args.push(remote.into());
    for (src, dst, _) in updates {
        args.push(format!("{src}:{dst}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(dir, &refs, remote).map(|_| ())
}

/// `git config` values of `key` (all of them), empty when unset.
pub fn config_values(dir: &Path, key: &str) -> Vec<String> {
    run(dir, &["config", "--get-all", key], key)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn config_add(dir: &Path, key: &str, value: &str) -> Result<()> {
    run(dir, &["config", "--add", key, value], key).map(|_| ())
}

pub fn config_unset_value(dir: &Path, key: &str, value: &str) -> Result<()> {
    let pattern = format!("^{}$", value.replace('/', "\\/"));
    run(dir, &["config", "--unset-all", key, &pattern], key).map(|_| ())
}

/// The hooks directory git uses (honours `core.hooksPath`), absolute.
pub fn hooks_dir(dir: &Path) -> Result<std::path::PathBuf> {
    let out = run(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
        "hooks",
    )?;
    Ok(std::path::PathBuf::from(out.trim()))
}

/// The names of the git remotes.
pub fn remotes(dir: &Path) -> Vec<String> {
    run(dir, &["remote"], "remote")
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}
