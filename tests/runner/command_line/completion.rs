//! Shell completion, driven through bash itself: the script `completions bash` prints is
//! sourced, then the function it registered for `git-keepsake` (and git's own completion for
//! `git keepsake`, which calls `_git_keepsake`) is called with COMP_WORDS/COMP_CWORD set as
//! bash sets them on <TAB>, and COMPREPLY is what bash would offer.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// git's bash completion as Debian's git package installs it.
const GIT_COMPLETION: &str = "/usr/share/bash-completion/completions/git";

/// A bash function `offer <words...>` (the last word the one being completed) that prints one
/// offered completion a line, through the function `complete -p <command>` names.
const HARNESS: &str = r#"
source <(git-keepsake completions bash) || exit 97
offer() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9; COMPREPLY=()
    local fn
    fn=$(complete -p "$1" | sed -E 's/.* -F ([^ ]+) .*/\1/') || exit 98
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
    echo "--"
}
"#;

/// Runs `script` after the harness in bash (no rc files), in `dir`, with the binary on PATH;
/// returns each `offer`'s lines.
fn bash(dir: &Path, script: &str) -> Vec<Vec<String>> {
    let bin = Path::new(env!("CARGO_BIN_EXE_git-keepsake"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c"])
        .arg(format!("{HARNESS}\n{script}"))
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    cmd.env("PATH", path);
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "bash: {}\n{}", run.stdout, run.stderr);
    // A completion never writes to the terminal.
    assert_eq!(run.stderr, "", "a completion wrote to stderr");
    let mut offers = vec![Vec::new()];
    for line in run.stdout.lines() {
        if line == "--" {
            offers.push(Vec::new());
        } else if !line.is_empty() {
            offers.last_mut().unwrap().push(line.to_string());
        }
    }
    offers.pop();
    offers
}

struct Scene {
    t: TestProject,
    ids: Vec<String>,
    a: String,
    a_checkpoint: String,
}

fn scene() -> Scene {
    let t = TestProject::new(true);
    let a = record_run(&t, 0.01, &[0.9, 0.5]);
    let b = record_run(&t, 0.1, &[0.8]);
    t.bare_remote("origin", "remote.git");
    let mut ids: Vec<String> = [&a, &b].iter().map(|e| e.id.to_string()).collect();
    ids.sort();
    let mut checkpoints: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|e| e.checkpoints.iter().map(|c| c.id.to_string()))
        .collect();
    checkpoints.sort();
    ids.extend(checkpoints);
    Scene {
        a_checkpoint: a.checkpoints[1].id.to_string(),
        a: a.id.to_string(),
        ids,
        t,
    }
}

#[test]
fn bash_completes_commands_options_ids_and_remotes() {
    let s = scene();
    let (a, c) = (&s.a[..6], &s.a_checkpoint[..6]);
    let offers = bash(
        &s.t.dir,
        &format!(
            "offer git-keepsake ch\n\
             offer git-keepsake ls --fi\n\
             offer git-keepsake show {a}\n\
             offer git-keepsake checkout {c}\n\
             offer git-keepsake diff {a} ''\n\
             offer git-keepsake push or\n\
             offer git-keepsake completions ''\n"
        ),
    );
    assert_eq!(offers[0], ["checkout"]);
    assert_eq!(offers[1], ["--filter"]);
    assert_eq!(offers[2], [s.a.as_str()]);
    assert_eq!(offers[3], [s.a_checkpoint.as_str()]);
    // An empty word: every experiment, then every checkpoint (then the options).
    assert_eq!(offers[4][..2], s.ids[..2]);
    let mut checkpoints = offers[4][2..s.ids.len()].to_vec();
    checkpoints.sort();
    assert_eq!(checkpoints, s.ids[2..]);
    assert_eq!(offers[5], ["origin"]);
    assert_eq!(offers[6][..3], ["bash", "zsh", "fish"]);
}

#[test]
fn gits_own_bash_completion_completes_git_keepsake() {
    if !Path::new(GIT_COMPLETION).exists() {
        if std::env::var("CI").is_ok() {
            panic!("{GIT_COMPLETION} is missing: scripts/setup-test-env.sh installs it");
        }
        eprintln!("skipping: no {GIT_COMPLETION}");
        return;
    }
    let s = scene();
    let a = &s.a[..6];
    let offers = bash(
        &s.t.dir,
        &format!(
            "source {GIT_COMPLETION}\n\
             offer git keepsake ''\n\
             offer git keepsake sh\n\
             offer git keepsake ls --so\n\
             offer git keepsake show {a}\n\
             offer git -C . keepsake rm {a}\n"
        ),
    );
    for command in [
        "ls",
        "show",
        "checkout",
        "push",
        "pull",
        "init",
        "completions",
    ] {
        assert!(
            offers[0].iter().any(|o| o == command),
            "`git keepsake <TAB>` lacks {command}: {:?}",
            offers[0]
        );
    }
    assert_eq!(offers[1], ["show"]);
    assert_eq!(offers[2], ["--sort"]);
    assert_eq!(offers[3], [s.a.as_str()]);
    assert_eq!(offers[4], [s.a.as_str()]);
}

#[test]
fn outside_a_project_ids_complete_to_nothing_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let offers = bash(
        tmp.path(),
        "offer git-keepsake show ''\noffer git-keepsake show 0\noffer git-keepsake push ''\n",
    );
    // No IDs and no remotes: only the options, and nothing on stderr (checked by `bash`).
    assert!(
        offers[0].iter().all(|o| o.starts_with('-')),
        "{:?}",
        offers[0]
    );
    assert!(offers[1].is_empty(), "{:?}", offers[1]);
    assert!(
        offers[2].iter().all(|o| o.starts_with('-')),
        "{:?}",
        offers[2]
    );
}

#[test]
fn the_completion_variable_of_another_program_changes_nothing() {
    // clap_complete's default variable is COMPLETE; ours is our own, so a user's COMPLETE=1
    // leaves `git keepsake` alone.
    let tmp = tempfile::tempdir().unwrap();
    let run = ks_env(
        tmp.path(),
        &["completions", "bash"],
        &[("COMPLETE", "bash")],
    )
    .ok();
    assert!(run.stdout.contains("_git_keepsake()"));
}

/// `zsh -n` / `fish --no-execute` on the scripts, where those shells are installed.
#[test]
fn zsh_and_fish_scripts_parse() {
    let tmp = tempfile::tempdir().unwrap();
    for (shell, check) in [("zsh", vec!["-n"]), ("fish", vec!["--no-execute"])] {
        let run = ks_in(tmp.path(), &["completions", shell]).ok();
        assert!(
            run.stdout.contains("git-keepsake"),
            "{shell}: {}",
            run.stdout
        );
        let file = tmp.path().join(format!("completion.{shell}"));
        std::fs::write(&file, &run.stdout).unwrap();
        let Ok(out) = Command::new(shell).args(&check).arg(&file).output() else {
            eprintln!("skipping the {shell} syntax check: no {shell}");
            continue;
        };
        assert!(
            out.status.success(),
            "{shell} rejects its script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let zsh = ks_in(tmp.path(), &["completions", "zsh"]).ok().stdout;
    assert!(
        zsh.contains("_git-keepsake()"),
        "zsh: no function for git's _git:\n{zsh}"
    );
}
