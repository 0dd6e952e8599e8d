//! The network side of git, through the `git` binary: the user's SSH config, credential helpers,
//! proxies, `--atomic` and `--force-with-lease` come with it, and so do their own hooks.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::env::EnvVars;
use crate::error::{Error, Result};

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str], what: &str) -> Result<String> {
    run_with_input(dir, args, None, what)
}

/// Runs git with `input` on its stdin (refspecs, revisions: lists that grow with the number of
/// experiments never go on the command line, whose length the OS limits).
fn run_with_input(dir: &Path, args: &[&str], input: Option<&str>, what: &str) -> Result<String> {
    run_env(dir, args, input, &[], what)
}

fn run_env(
    dir: &Path,
    args: &[&str],
    input: Option<&str>,
    env: &[(&str, &str)],
    what: &str,
) -> Result<String> {
    let cannot_run = |e: std::io::Error| Error::Git {
        what: what.to_string(),
        message: format!("cannot run `git`: {e}"),
        source: Some(Box::new(e)),
    };
    let mut cmd = git(dir);
    cmd.args(args).envs(env.iter().copied());
    let out = match input {
        None => cmd.output().map_err(cannot_run)?,
        Some(input) => {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().map_err(cannot_run)?;
            let mut stdin = child.stdin.take();
            // Written from another thread: git may fill its output pipes before it has read all
            // of its input.
            let out = std::thread::scope(|s| {
                s.spawn(move || {
                    if let Some(stdin) = stdin.as_mut() {
                        // A git that exits early closes the pipe; its stderr says why.
                        let _ = stdin.write_all(input.as_bytes());
                    }
                    drop(stdin);
                });
                child.wait_with_output()
            });
            out.map_err(cannot_run)?
        }
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Remote URLs can carry tokens (`https://user:token@host/...`): never in a message.
        // What the remote said is quoted too (`remote: ...` lines): no control characters.
        let said = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let message = crate::text::escape_controls(&crate::text::redact(&said)).into_owned();
        Err(Error::Git {
            what: what.to_string(),
            message,
            source: None,
        })
    }
}

/// The URL of a remote; a clear error when there is no such remote.
pub fn remote_url(dir: &Path, remote: &str) -> Result<String> {
    run(dir, &["remote", "get-url", remote], remote)
        .map(|s| s.trim().to_string())
        .map_err(|_| Error::UnknownRemote {
            remote: remote.to_string(),
            message: "there is no such git remote (see `git remote -v`)".to_string(),
        })
}

/// `(ref, sha)` of the remote's refs matching any of `patterns` (all of them when empty).
pub fn ls_remote(dir: &Path, remote: &str, patterns: &[&str]) -> Result<Vec<(String, String)>> {
    let mut args = vec!["ls-remote", remote];
    args.extend(patterns);
    let out = run(dir, &args, remote)?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, name)| (name.to_string(), sha.to_string()))
        .collect())
}

/// Fetches `refspecs` (given to git on stdin, however many).
pub fn fetch(dir: &Path, remote: &str, refspecs: &[String]) -> Result<()> {
    if refspecs.is_empty() {
        return Ok(());
    }
    // Not --quiet: a rejected update is explained on stderr, which the error carries.
    let args = [
        "fetch",
        "--no-tags",
        "--no-write-fetch-head",
        "--stdin",
        remote,
    ];
    let input = lines(refspecs);
    run_with_input(dir, &args, Some(&input), remote).map(|_| ())
}

/// Where `push_atomic` stages the refs it pushes, under a name of its own per push.
pub const OUTGOING_REFS: &str = "refs/keepsake/outgoing/";

/// One atomic push: `refs` (`(sha, name under dst_prefix)`) to `dst_prefix<name>` and `extra`
/// (`(sha, remote ref)`, a few); every ref lands or none does. `git push` (2.47) takes no refspecs
/// on stdin, so the refs are staged locally under a namespace of this push's own and pushed by
/// one glob refspec: the command line stays the same length for 10 or 10,000 experiments. Not
/// forced: git refuses any update that is not a fast-forward of what the remote has at that
/// moment (checked by the remote under its ref locks), which is the lease needed here.
pub fn push_atomic(
    dir: &Path,
    remote: &str,
    dst_prefix: &str,
    refs: &[(String, String)],
    extra: &[(String, String)],
) -> Result<()> {
    let stage = format!("{OUTGOING_REFS}{}/", crate::id::Id::generate().short());
    let staged: Vec<(String, String)> = refs
        .iter()
        .map(|(sha, name)| (format!("{stage}{name}"), sha.clone()))
        .collect();
    set_refs(dir, &staged)?;
    let glob = format!("{stage}*:{dst_prefix}*");
    let mut args = vec!["push", "--atomic", "--quiet", remote];
    if !staged.is_empty() {
        args.push(&glob);
    }
    let specs: Vec<String> = extra
        .iter()
        .map(|(src, dst)| format!("{src}:{dst}"))
        .collect();
    args.extend(specs.iter().map(String::as_str));
    let pushed = run_env(
        dir,
        &args,
        None,
        &[(EnvVars::GIT_KEEPSAKE_PUSH_VERIFIED, "1")],
        remote,
    )
    .map(|_| ());
    // The staging refs go whatever happened (a crash before this leaves them under
    // OUTGOING_REFS: harmless, and not cleared by the next push, which could be a concurrent one).
    let deletes: Vec<String> = staged
        .iter()
        .map(|(name, sha)| format!("delete {name} {sha}"))
        .collect();
    let cleaned = delete_refs_input(dir, &deletes);
    pushed.and(cleaned)
}

fn delete_refs_input(dir: &Path, deletes: &[String]) -> Result<()> {
    if deletes.is_empty() {
        return Ok(());
    }
    run_with_input(
        dir,
        &["update-ref", "--stdin"],
        Some(&lines(deletes)),
        "update-ref",
    )
    .map(|_| ())
}

/// `(sha, short sha, subject)` of the commits reachable from `include` and not from `exclude`
/// (excluded commits this repository does not have are ignored), newest first.
pub fn commits_between(
    dir: &Path,
    include: &[String],
    exclude: &[String],
) -> Result<Vec<(String, String, String)>> {
    if include.is_empty() {
        return Ok(Vec::new());
    }
    let revs: Vec<String> = include
        .iter()
        .cloned()
        .chain(exclude.iter().map(|e| format!("^{e}")))
        .collect();
    let args = [
        "rev-list",
        "--ignore-missing",
        "--no-commit-header",
        "--format=%H %h %s",
        "--stdin",
    ];
    let out = run_with_input(dir, &args, Some(&lines(&revs)), "rev-list")?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (sha, rest) = l.split_once(' ')?;
            let (short, subject) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((sha.to_string(), short.to_string(), subject.to_string()))
        })
        .collect())
}

/// Sets refs in one `git update-ref --stdin` transaction (`(ref, new sha)`), for tracking refs:
/// a record of what a remote holds, which any fetch can rebuild.
pub fn set_refs(dir: &Path, updates: &[(String, String)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let input: Vec<String> = updates
        .iter()
        .map(|(name, sha)| format!("update {name} {sha}"))
        .collect();
    run_with_input(
        dir,
        &["update-ref", "--stdin"],
        Some(&lines(&input)),
        "update-ref",
    )
    .map(|_| ())
}

fn lines(items: &[String]) -> String {
    let mut s = items.join("\n");
    s.push('\n');
    s
}

/// `git config` values of `key` (all of them), empty when unset.
pub fn config_values(dir: &Path, key: &str) -> Vec<String> {
    run(dir, &["config", "--get-all", key], key)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Every `git config` key matching the regular expression `pattern`, with its value, in the
/// order git reads them (the last one of a key wins); empty when none, outside a repository
/// only the user's and system's. One git run for several settings.
pub fn config_matching(dir: &Path, pattern: &str) -> Vec<(String, String)> {
    run(dir, &["config", "--get-regexp", pattern], "config")
        .map(|s| {
            s.lines()
                .map(|l| match l.split_once(' ') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    // A key with no `=` is a boolean true to git.
                    None => (l.to_string(), "true".to_string()),
                })
                .collect()
        })
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
