//! Help: every `-h` and `--help` (insta snapshots, so a change to any help text is seen in
//! review), `help <command>`, an example in each, the global options under their own heading;
//! the man pages the Python package installs, generated from the same clap definitions and
//! checked to be current; and `man` reading them.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Where the committed pages and completion file live (maturin's wheel data, `share/` under the
/// environment's prefix once installed).
fn committed_share() -> PathBuf {
    repo_root().join("crates/keepsake-py/wheel-data/data/share")
}

/// `git keepsake <args>` outside any project, at a fixed width (help never depends on one).
fn ks_plain(args: &[&str]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    ks_env(tmp.path(), args, &[("COLUMNS", "100")])
}

/// The commands `git keepsake --help` lists (all but `help`), read from the help itself so a
/// new command is covered without editing this test.
fn commands() -> Vec<String> {
    let top = ks_plain(&["--help"]).ok().stdout;
    let list: Vec<String> = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(list.len() > 15, "too few commands in:\n{top}");
    list
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    // With the other snapshots, not beside this module.
    s.set_snapshot_path(repo_root().join("tests/runner/snapshots"));
    s
}

#[test]
fn every_help_output_is_snapshotted() {
    let s = settings();
    let mut names = vec![String::new()];
    names.extend(commands());
    for name in &names {
        for flag in ["-h", "--help"] {
            let mut args: Vec<&str> = Vec::new();
            if !name.is_empty() {
                args.push(name);
            }
            args.push(flag);
            let run = ks_plain(&args).ok();
            assert!(run.stderr.is_empty(), "{args:?}: {}", run.stderr);
            let snap = match (name.as_str(), flag) {
                ("", "-h") => "help_h".to_string(),
                ("", _) => "help_long".to_string(),
                (n, "-h") => format!("help_{n}_h"),
                (n, _) => format!("help_{n}_long"),
            };
            s.bind(|| insta::assert_snapshot!(snap, run.stdout));
        }
    }
}

#[test]
fn help_command_is_the_long_help_and_needs_no_man() {
    // `help` is ours (git only turns `git keepsake --help` into `man git-keepsake`): no man
    // page, no pager, the same text as `--help`.
    for name in ["ls", "push", "init"] {
        let via_help = ks_env(
            Path::new("/"),
            &["help", name],
            &[("COLUMNS", "100"), ("PATH", "/nonexistent")],
        )
        .ok();
        assert_eq!(via_help.stdout, ks_plain(&[name, "--help"]).ok().stdout);
    }
    let top = ks_plain(&["help"]).ok();
    assert_eq!(top.stdout, ks_plain(&["--help"]).ok().stdout);
}

#[test]
fn every_command_has_an_example_and_the_global_options_once_under_their_heading() {
    for name in commands() {
        let help = ks_plain(&[&name, "--help"]).ok().stdout;
        let examples = help.split("\nExamples:\n").nth(1).unwrap_or_else(|| {
            panic!("`{name} --help` has no Examples (src/commands/help.rs):\n{help}")
        });
        assert!(
            examples.contains(&format!("  git keepsake {name}")),
            "`{name}`'s examples do not run it:\n{examples}"
        );
        let (own, global) = help
            .split_once("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("`{name} --help` has no Global options:\n{help}"));
        assert!(
            !own.contains("--repository") && !own.contains("--project-directory"),
            "`{name} --help` mixes the global options into its own:\n{help}"
        );
        assert_eq!(global.matches("-R, --repository <URL>").count(), 1);
        assert_eq!(global.matches("-D, --project-directory <DIR>").count(), 1);
    }
}

/// The committed files, as (path under share/, bytes).
fn files_under_dir(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = snapshot(root);
    out.sort();
    out
}

#[test]
fn committed_man_pages_and_completion_file_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("share");
    ks_plain(&["generate-share", fresh.to_str().unwrap()]).ok();
    let (fresh, committed) = (files_under_dir(&fresh), files_under_dir(&committed_share()));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    let stale: Vec<&String> = fresh
        .iter()
        .filter(|f| !committed.contains(f))
        .map(|f| &f.0)
        .collect();
    assert!(
        stale.is_empty() && names(&fresh) == names(&committed),
        "the man pages or the completion file under crates/keepsake-py/wheel-data are stale \
         ({stale:?}; committed {:?}, generated {:?}): regenerate them with \
         `cargo run -- generate-share crates/keepsake-py/wheel-data/data/share` and commit them",
        names(&committed),
        names(&fresh)
    );
    // One page per command, and the top one lists them all.
    let top = String::from_utf8_lossy(
        &committed
            .iter()
            .find(|f| f.0 == "man/man1/git-keepsake.1")
            .unwrap()
            .1,
    )
    .into_owned();
    for name in commands() {
        let page = format!("man/man1/git-keepsake-{name}.1");
        assert!(names(&committed).contains(&page), "no {page}");
        assert!(
            top.contains(&format!("git\\-keepsake\\-{name}(1)")),
            "{name} not in git-keepsake.1"
        );
    }
}

/// `man` itself, formatting a page (in CI it must be there: scripts/setup-test-env.sh installs
/// man-db).
fn man_available() -> bool {
    let found = std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("CI").is_ok() {
        panic!("`man` is missing: scripts/setup-test-env.sh installs man-db");
    }
    found
}

#[test]
fn man_renders_the_pages_with_their_examples() {
    if !man_available() {
        eprintln!("skipping: no `man`");
        return;
    }
    let page = committed_share().join("man/man1/git-keepsake-ls.1");
    let out = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "git-keepsake-ls - List experiments",
        "GLOBAL OPTIONS",
        "EXAMPLES",
        // Each example stays a line of its own.
        "\n         git keepsake ls --filter \"learning_rate > 0.01\" --filter \"status = stopped\"\n",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}
