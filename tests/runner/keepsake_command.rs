//! The `keepsake` command (Keepsake 0.4.2's command line) against the real Keepsake 0.4.2 CLI on
//! the same stores: the committed Keepsake fixture (a storage-only project, no git) and a git
//! project the core recorded into. JSON byte for byte, text the same lines (Keepsake's trailing
//! spaces aside), the same exit codes and error lines, and the prompts of `checkout` and `rm`
//! driven through a pseudo-terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use serde_json::json;

fn venv() -> Option<String> {
    require_env("KEEPSAKE_VENV")
}

/// The real Keepsake CLI, colour off (it needs both `--color=false` and NO_COLOR).
fn theirs(venv: &str, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(Path::new(venv).join("bin/keepsake"));
    cmd.arg("--color=false")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    cmd.env("NO_COLOR", "1");
    to_run(cmd.output().unwrap())
}

fn ours(dir: &Path, args: &[&str]) -> Run {
    keepsake_ours(dir, args)
}

fn our_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keepsake"))
}

/// Keepsake's tabwriter keeps trailing spaces; ours does not.
fn trimmed(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

/// A copy of the committed Keepsake 0.4.2 fixture: a project with keepsake.yaml and its
/// `.keepsake` store, no git. Also the IDs of fixture-ids.env.
fn fixture(tmp: &Path, name: &str) -> (PathBuf, std::collections::BTreeMap<String, String>) {
    let dir = tmp.join(name);
    let out = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("fixtures/keepsake-0.4.2/project"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let ids = std::fs::read_to_string(repo_root().join("fixtures/keepsake-0.4.2/fixture-ids.env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (dir, ids)
}

/// The same command through both tools: the same exit code, stdout and stderr (lines trimmed).
fn assert_same(venv: &str, dir: &Path, args: &[&str]) {
    let (o, t) = (ours(dir, args), theirs(venv, dir, args));
    assert_eq!(
        o.code, t.code,
        "exit code of {args:?}: {}\n{}",
        o.stderr, t.stderr
    );
    assert_eq!(trimmed(&o.stdout), trimmed(&t.stdout), "stdout of {args:?}");
    assert_eq!(trimmed(&o.stderr), trimmed(&t.stderr), "stderr of {args:?}");
}

#[test]
fn json_of_the_keepsake_fixture_is_keepsakes_byte_for_byte() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = fixture(tmp.path(), "project");
    for args in [vec!["ls", "--json"], vec!["ps", "--json"]] {
        let (o, t) = (ours(&dir, &args).ok(), theirs(&venv, &dir, &args).ok());
        assert_eq!(o.stdout, t.stdout, "{args:?}");
    }
    assert_eq!(
        ours(&dir, &["ls", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for id in ids.values() {
        let (o, t) = (
            ours(&dir, &["show", "--json", id]).ok(),
            theirs(&venv, &dir, &["show", "--json", id]).ok(),
        );
        assert_eq!(o.stdout, t.stdout, "show --json {id}");
    }
}

#[test]
fn text_of_the_keepsake_fixture_is_keepsakes() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = fixture(tmp.path(), "project");
    let id = |k: &str| ids[k][..7].to_string();
    let cases: Vec<Vec<String>> = vec![
        vec!["ls".into()],
        vec!["list".into(), "--all".into()],
        vec!["ls".into(), "-q".into()],
        vec![
            "ls".into(),
            "-f".into(),
            "optimizer = adam".into(),
            "-f".into(),
            "status = stopped".into(),
        ],
        vec![
            "ls".into(),
            "-q".into(),
            "-s".into(),
            "learning_rate-desc".into(),
        ],
        vec![
            "ls".into(),
            "-q".into(),
            "--filter".into(),
            "seed = null".into(),
        ],
        vec!["ls".into(), "-f".into(), "step >= 5".into()],
        vec!["ps".into()],
        vec!["processes".into(), "-q".into()],
        vec!["ls".into(), "-f".into(), "learning_rate > 9".into()],
        vec!["show".into(), id("EXP_A")],
        vec!["show".into(), id("EXP_B")],
        vec!["show".into(), id("EXP_C")],
        vec!["show".into(), id("CHK_B3")],
        vec!["show".into(), id("CHK_C1")],
        vec!["diff".into(), id("EXP_A"), id("EXP_B")],
        vec!["diff".into(), id("CHK_A0"), id("CHK_A3")],
        vec!["diff".into(), id("EXP_C"), id("EXP_A")],
        vec![
            "-D".into(),
            dir.to_str().unwrap().into(),
            "ls".into(),
            "-q".into(),
        ],
        vec![
            "ls".into(),
            "-q".into(),
            "-R".into(),
            format!("file://{}/.keepsake", dir.display()),
        ],
    ];
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_same(&venv, &dir, &args);
    }
    // -v: Keepsake's debug lines are its own; the data is the same.
    assert_eq!(
        ours(&dir, &["-v", "ls", "-q"]).ok().stdout,
        theirs(&venv, &dir, &["--verbose", "ls", "-q"]).ok().stdout
    );
    // Not vacuous: the table is there.
    let ls = ours(&dir, &["ls"]).ok().stdout;
    assert!(ls.starts_with("EXPERIMENT  STARTED"), "{ls}");
    assert!(ls.contains(&format!("{} (step 30)", id("CHK_C2"))), "{ls}");
}

#[test]
fn bad_input_exits_and_reads_as_in_keepsake() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = fixture(tmp.path(), "project");
    let before = snapshot(&dir);
    // (arguments, whether the error line is Keepsake's word for word)
    let cases: &[(&[&str], bool)] = &[
        (&["show", "abcdef1"], true),
        (&["show", "3"], true),
        (&["checkout", "abcdef1"], true),
        (&["rm", "abcdef1"], true),
        (&["diff", "abcdef1", "389"], true),
        (&["ls", "-q", "--json"], true),
        (&["ls", "-q", "--all"], true),
        (&["analytics", "maybe"], true),
        (&["ls", "-f", "foo == 1"], false),
        (&["ls", "-f", "optimizer > 1"], false),
        (&["ls", "--bogus"], false),
        (&["bogus"], false),
        (&["show"], false),
        (&["rm"], false),
        (&["diff", "389"], false),
    ];
    for (args, same_words) in cases {
        let (o, t) = (ours(&dir, args).fails(), theirs(&venv, &dir, args));
        assert_eq!(
            (o.code, t.code),
            (1, 1),
            "{args:?}: {}\n{}",
            o.stderr,
            t.stderr
        );
        let first = |r: &Run| r.stderr.lines().next().unwrap_or("").to_string();
        assert!(first(&o).starts_with("═══╡ "), "{args:?}: {}", o.stderr);
        if *same_words {
            assert_eq!(first(&o), first(&t), "{args:?}");
        }
    }
    // Sorting on values of mixed types: Keepsake panics (exit 2); this is one clean error line.
    let (o, t) = (
        ours(&dir, &["ls", "--sort", "model"]).fails(),
        theirs(&venv, &dir, &["ls", "--sort", "model"]),
    );
    assert_eq!((o.code, t.code), (1, 2));
    assert!(t.stderr.contains("panic"));
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert_eq!(
        snapshot(&dir),
        before,
        "a failed command changed the project"
    );
}

#[test]
fn a_git_project_the_core_recorded_reads_the_same_in_both() {
    let Some(venv) = venv() else { return };
    let t = TestProject::new(true);
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    t.write(".gitignore", ".keepsake/\nmodel.pth\n");
    let a = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    let b = record_run(&t, 0.1, &[0.8, 0.6]);
    let project = t.project();
    let _c = create(&project, None, json!({"lr": 0.5, "note": "no checkpoints"}));
    // The same experiments as `git keepsake` (which reads git, where Keepsake reads the store).
    assert_eq!(
        ours(&t.dir, &["ls", "-q"]).ok().stdout,
        t.ks(&["ls", "-q"]).ok().stdout
    );
    assert_eq!(ours(&t.dir, &["ls", "-q"]).stdout.lines().count(), 3);
    for args in [
        vec!["ls"],
        vec!["ls", "--all"],
        vec!["ls", "-q", "--sort", "lr-desc"],
        vec!["diff", &a.id.as_str()[..7], &b.id.as_str()[..7]],
    ] {
        assert_same(&venv, &t.dir, &args);
    }
    let (o, th) = (
        ours(&t.dir, &["ls", "--json"]).ok(),
        theirs(&venv, &t.dir, &["ls", "--json"]).ok(),
    );
    assert_eq!(o.stdout, th.stdout);
    // `show` says more than Keepsake in a git project: the commit the experiment ran on, and
    // the files git left out.
    for id in [a.id.as_str(), a.checkpoints[1].id.as_str(), b.id.as_str()] {
        let o = ours(&t.dir, &["show", id]).ok().stdout;
        let th = theirs(&venv, &t.dir, &["show", id]).ok().stdout;
        let mut in_store_only = false;
        let without_git: String = trimmed(&o)
            .lines()
            .filter(|l| {
                in_store_only |= l.starts_with("Store only (left out of git)");
                let skip = in_store_only || l.starts_with("Git commit:");
                in_store_only &= !l.is_empty();
                !skip
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(without_git, trimmed(&th), "show {id}");
        assert_eq!(
            ours(&t.dir, &["show", "--json", id]).ok().json()["id"],
            theirs(&venv, &t.dir, &["show", "--json", id]).ok().json()["id"]
        );
    }
    // Checkout: the same files, from git and the store here, from the store there.
    for id in [a.id.as_str(), a.checkpoints[0].id.as_str(), b.id.as_str()] {
        let (x, y) = (
            t.tmp.path().join(format!("o-{id}")),
            t.tmp.path().join(format!("t-{id}")),
        );
        ours(&t.dir, &["checkout", "-o", x.to_str().unwrap(), id]).ok();
        theirs(&venv, &t.dir, &["checkout", "-o", y.to_str().unwrap(), id]).ok();
        assert!(!files_under(&x).is_empty());
        assert_eq!(files_under(&x), files_under(&y), "checkout {id}");
    }
    // `rm -f` through `keepsake` deletes the git ref too.
    ours(&t.dir, &["rm", "-f", &b.id.as_str()[..7]]).ok();
    assert!(!t.ks(&["ls", "-q"]).ok().stdout.contains(b.id.as_str()));
    assert!(!theirs(&venv, &t.dir, &["ls", "-q"])
        .ok()
        .stdout
        .contains(b.id.as_str()));
}

/// What a prompt answered with `answers` did, through one tool: its exit code, what the
/// terminal showed, and the text of `train.py` afterwards.
fn checkout_on_terminal(
    program: &Path,
    dir: &Path,
    id: &str,
    answers: &[Option<&str>],
) -> (Run, String) {
    std::fs::write(dir.join("train.py"), "edited by hand\n").unwrap();
    let args = if program.ends_with("keepsake") && program != our_binary() {
        vec!["--color=false", "checkout", id]
    } else {
        vec!["checkout", id]
    };
    let run = on_terminal(dir, program, &args, answers, &[]);
    let text = std::fs::read_to_string(dir.join("train.py")).unwrap();
    (run, text)
}

#[test]
fn checkout_prompt_answers_as_keepsake_does() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = fixture(tmp.path(), "project");
    let original = std::fs::read_to_string(dir.join("train.py")).unwrap();
    let keepsake_bin = Path::new(&venv).join("bin/keepsake");
    let id = &ids["CHK_B3"][..7]; // experiment B's path is train.py: the prompt's display path
    let cases: &[(&[Option<&str>], i32, bool, &str)] = &[
        (&[Some("y")], 0, true, ""),
        (&[Some("YES")], 0, true, ""),
        (&[Some("n")], 1, false, "Aborting."),
        (&[Some("")], 1, false, "Aborting."),
        (
            &[Some("maybe"), Some("y")],
            0,
            true,
            "Please enter 'y' or 'n'",
        ),
        (
            &[Some("maybe"), Some("no")],
            1,
            false,
            "Please enter 'y' or 'n'",
        ),
        (
            &[None],
            1,
            false,
            "stdin is closed. If you're running in a script, you need to pass the '-f' option.",
        ),
    ];
    for (answers, code, overwritten, says) in cases {
        for program in [our_binary(), keepsake_bin.clone()] {
            let (run, text) = checkout_on_terminal(&program, &dir, id, answers);
            let who = format!("{} {answers:?}", program.display());
            assert_eq!(run.code, *code, "{who}: {}", run.stdout);
            assert_eq!(text == original, *overwritten, "{who}: {}", run.stdout);
            assert!(run.stdout.contains(says), "{who}: {}", run.stdout);
            let prompts = run
                .stdout
                .matches("Do you want to continue? (y/N) ")
                .count();
            assert_eq!(prompts, answers.len(), "{who}: {}", run.stdout);
            assert!(
                run.stdout.contains("═══╡ The file"),
                "{who}: {}",
                run.stdout
            );
        }
    }
    // Closed stdin without a terminal: the same words, on the same streams.
    std::fs::write(dir.join("train.py"), "edited by hand\n").unwrap();
    let (o, t) = (
        ours(&dir, &["checkout", id]),
        theirs(&venv, &dir, &["checkout", id]),
    );
    assert_eq!((o.code, t.code), (1, 1));
    assert_eq!(o.stdout, t.stdout);
    assert_eq!(o.stdout, "\nDo you want to continue? (y/N) ");
    assert_eq!(
        trimmed(&o.stderr),
        trimmed(&t.stderr)
            .replace("\u{1b}[1m", "")
            .replace("\u{1b}[0m", "")
    );
    // With -f: no prompt, the file restored.
    let o = ours(&dir, &["checkout", "-f", id]).ok();
    assert!(
        o.stderr
            .contains("If you want to run this experiment again"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("train.py")).unwrap(),
        original
    );
}

#[test]
fn rm_prompt_answers_as_keepsake_does() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let keepsake_bin = Path::new(&venv).join("bin/keepsake");
    let cases: &[(&[Option<&str>], i32, bool)] = &[
        (&[Some("y")], 0, true),
        (&[Some("n")], 1, false),
        (&[Some("")], 1, false),
        (&[Some("what"), Some("yes")], 0, true),
        (&[None], 1, false),
    ];
    for (n, (answers, code, deleted)) in cases.iter().enumerate() {
        for (who, program) in [("ours", our_binary()), ("theirs", keepsake_bin.clone())] {
            let (dir, ids) = fixture(tmp.path(), &format!("{who}-{n}"));
            let (exp, ck) = (&ids["EXP_A"], &ids["CHK_B4"]);
            let mut args = vec!["rm", &ck[..7], &exp[..7]];
            if who == "theirs" {
                args.insert(0, "--color=false");
            }
            let run = on_terminal(&dir, &program, &args, answers, &[]);
            let ctx = format!("{who} {answers:?}: {}", run.stdout);
            assert_eq!(run.code, *code, "{ctx}");
            assert!(
                run.stdout
                    .contains("You are about to delete the following:"),
                "{ctx}"
            );
            assert!(
                run.stdout
                    .contains(&format!("* Experiment {} (4 checkpoints)", &exp[..7])),
                "{ctx}"
            );
            // Keepsake listed the checkpoint as its experiment; this names it.
            let label = if who == "ours" {
                format!(
                    "* Checkpoint {} of experiment {}",
                    &ck[..7],
                    &ids["EXP_B"][..7]
                )
            } else {
                format!("* Experiment {} (5 checkpoints)", &ids["EXP_B"][..7])
            };
            assert!(run.stdout.contains(&label), "{ctx}");
            let store = dir.join(".keepsake");
            let gone = |rel: String| !store.join(rel).exists();
            assert_eq!(gone(format!("checkpoints/{ck}.tar.gz")), *deleted, "{ctx}");
            assert_eq!(
                gone(format!("metadata/experiments/{exp}.json")),
                *deleted,
                "{ctx}"
            );
            assert_eq!(gone(format!("experiments/{exp}.tar.gz")), *deleted, "{ctx}");
            if *deleted {
                assert!(
                    run.stdout
                        .contains(&format!("═══╡ Removing checkpoint {}...", &ck[..7])),
                    "{ctx}"
                );
                assert!(
                    run.stdout.contains(&format!(
                        "═══╡ Removing experiment {} and its checkpoints...",
                        &exp[..7]
                    )),
                    "{ctx}"
                );
            }
        }
    }
    // Closed stdin without a terminal: the same output; nothing deleted.
    let (dir, ids) = fixture(tmp.path(), "closed");
    let before = snapshot(&dir);
    let id = &ids["EXP_C"][..7];
    let (o, t) = (ours(&dir, &["rm", id]), theirs(&venv, &dir, &["rm", id]));
    assert_eq!((o.code, t.code), (1, 1));
    assert_eq!(o.stdout, t.stdout);
    assert_eq!(o.stderr, t.stderr);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn storage_only_checkout_writes_what_keepsake_writes() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = fixture(tmp.path(), "project");
    for key in ["EXP_A", "CHK_A1", "EXP_B", "CHK_B2"] {
        let id = &ids[key][..7];
        let (a, b) = (
            tmp.path().join(format!("ours-{key}")),
            tmp.path().join(format!("theirs-{key}")),
        );
        let o = ours(&dir, &["checkout", "-o", a.to_str().unwrap(), id]).ok();
        theirs(&venv, &dir, &["checkout", "-o", b.to_str().unwrap(), id]).ok();
        let (fa, fb) = (files_under(&a), files_under(&b));
        assert!(!fa.is_empty(), "{key}");
        assert_eq!(fa, fb, "checkout of {key}");
        let t = theirs(
            &venv,
            &dir,
            &["checkout", "-f", "-o", b.to_str().unwrap(), id],
        );
        let mask = |s: &str| {
            s.replace(a.to_str().unwrap(), "OUT")
                .replace(b.to_str().unwrap(), "OUT")
        };
        assert_eq!(
            mask(&trimmed(&o.stderr)),
            mask(&trimmed(&t.stderr)),
            "{key}"
        );
    }
    // --path of a file, then of a directory: the whole directory (Keepsake wrote its first file).
    let (a, b) = (tmp.path().join("ours-path"), tmp.path().join("theirs-path"));
    let exp_a = &ids["EXP_A"][..7];
    ours(
        &dir,
        &[
            "checkout",
            "--path",
            "src/model.py",
            "-o",
            a.to_str().unwrap(),
            exp_a,
        ],
    )
    .ok();
    theirs(
        &venv,
        &dir,
        &[
            "checkout",
            "--path",
            "src/model.py",
            "-o",
            b.to_str().unwrap(),
            exp_a,
        ],
    )
    .ok();
    assert_eq!(files_under(&a), files_under(&b));
    ours(
        &dir,
        &[
            "checkout",
            "-f",
            "--path",
            "checkpoints",
            "-o",
            a.to_str().unwrap(),
            exp_a,
        ],
    )
    .ok();
    let ours_files: Vec<String> = files_under(&a).into_keys().collect();
    assert!(
        ours_files.contains(&"checkpoints/optimizer.json".to_string()),
        "{ours_files:?}"
    );
    assert!(
        ours_files.contains(&"checkpoints/weights.txt".to_string()),
        "{ours_files:?}"
    );
    // A file that would change outside Keepsake's one checked path: Keepsake overwrote it
    // without asking; this asks (and a closed stdin keeps it).
    let ck = &ids["CHK_B3"][..7]; // experiment B's path is train.py, the checkpoint's model.pth
    for (who, out) in [
        ("ours", tmp.path().join("o-b")),
        ("theirs", tmp.path().join("t-b")),
    ] {
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("model.pth"), "mine\n").unwrap();
        let args = ["checkout", "-o", out.to_str().unwrap(), ck];
        let run = if who == "ours" {
            ours(&dir, &args)
        } else {
            theirs(&venv, &dir, &args)
        };
        let kept = std::fs::read_to_string(out.join("model.pth")).unwrap() == "mine\n";
        if who == "ours" {
            assert_eq!((run.code, kept), (1, true), "{}", run.stderr);
            assert!(run.stderr.contains("model.pth\" exists"), "{}", run.stderr);
            assert!(run.stderr.contains("stdin is closed"), "{}", run.stderr);
        } else {
            assert_eq!((run.code, kept), (0, false), "{}", run.stderr);
        }
    }
    // An experiment with no files: Keepsake's words, nothing written.
    let c = ours(
        &dir,
        &["checkout", "-o", a.to_str().unwrap(), &ids["EXP_C"][..7]],
    )
    .fails();
    assert!(
        c.stderr.contains("have any files associated with them"),
        "{}",
        c.stderr
    );
}

#[test]
fn color_is_bold_show_headings_on_a_terminal_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = fixture(tmp.path(), "project");
    let id = &ids["EXP_A"][..7];
    let bold = "\u{1b}[1mParams\u{1b}[0m";
    let color = [("NO_COLOR", "")];
    let shown = on_terminal(&dir, &our_binary(), &["show", id], &[], &color).ok();
    assert!(shown.stdout.contains(bold), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("\u{1b}[1;4mExperiment: "),
        "{}",
        shown.stdout
    );
    let off = on_terminal(
        &dir,
        &our_binary(),
        &["--color=false", "show", id],
        &[],
        &color,
    )
    .ok();
    assert!(
        off.stdout.contains("Params") && !off.stdout.contains('\u{1b}'),
        "{}",
        off.stdout
    );
    let no_color = on_terminal(&dir, &our_binary(), &["show", id], &[], &[]).ok();
    assert!(!no_color.stdout.contains('\u{1b}'), "{}", no_color.stdout);
    // Into a pipe: none.
    assert!(!ours(&dir, &["--color", "show", id])
        .ok()
        .stdout
        .contains('\u{1b}'));
    // `--color false` is not a bool flag's value, as in Keepsake (cobra).
    ours(&dir, &["--color", "false", "ls"]).fails();
}

/// A Keepsake user's git project: the committed fixture's store (written by the real Keepsake
/// 0.4.2) in a git repository, experiments B and C imported, A never imported, and one recorded
/// by this package. The project directory and the fixture's IDs, and ours.
fn upgraded_git_project(
    tmp: &Path,
) -> (
    PathBuf,
    std::collections::BTreeMap<String, String>,
    keepsake_core::Experiment,
) {
    let (dir, ids) = fixture(tmp, "project");
    std::fs::write(dir.join(".gitignore"), ".keepsake/\nmodel.pth\n").unwrap();
    git_in(&dir, &["init", "-q", "-b", "main"]);
    git_in(&dir, &["config", "user.name", "Ada Trainer"]);
    git_in(&dir, &["config", "user.email", "ada@example.com"]);
    git_in(&dir, &["add", "-A"]);
    git_in(&dir, &["commit", "-q", "-m", "Keepsake project"]);
    let meta = |k: &str| dir.join(format!(".keepsake/metadata/experiments/{}.json", ids[k]));
    let aside = tmp.join("a.json");
    std::fs::rename(meta("EXP_A"), &aside).unwrap();
    ks_in(&dir, &["import"]).ok();
    std::fs::rename(&aside, meta("EXP_A")).unwrap();
    fix_clock();
    let project = keepsake_core::Project::open(&keepsake_core::OpenOptions {
        cwd: dir.clone(),
        ..Default::default()
    })
    .unwrap();
    let mut ours = create(&project, Some("train.py"), json!({"learning_rate": 0.2}));
    std::fs::write(dir.join("model.pth"), "our weights\n").unwrap();
    checkpoint(&project, &mut ours, Some("model.pth"), 0, 0.5);
    (dir, ids, ours)
}

fn experiment_refs(dir: &Path) -> String {
    git_in(dir, &["for-each-ref", "refs/keepsake/"])
}

#[test]
fn a_keepsake_users_git_project_lists_the_never_imported_ones_as_keepsake_does() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids, mine) = upgraded_git_project(tmp.path());
    let exp_a = ids["EXP_A"].as_str();
    // git keepsake: git's experiments, as before (A is not there until imported).
    let git_ls = ks_in(&dir, &["ls", "-q"]).ok().stdout;
    assert_eq!(git_ls.lines().count(), 3, "{git_ls}");
    assert!(!git_ls.contains(exp_a));
    // keepsake: what Keepsake lists over the same store, and ours among them.
    let (o, t) = (
        ours(&dir, &["ls", "--json"]).ok(),
        theirs(&venv, &dir, &["ls", "--json"]).ok(),
    );
    assert_eq!(o.stdout, t.stdout);
    let listed: Vec<String> = o
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.contains(&exp_a.to_string()) && listed.contains(&mine.id.to_string()));
    let short = |k: &str| ids[k][..7].to_string();
    for args in [
        vec!["ls".to_string()],
        vec!["ls".into(), "--all".into()],
        vec!["ps".into(), "-q".into()],
        vec!["show".into(), short("EXP_A")],
        vec!["show".into(), short("CHK_A1")],
        vec!["diff".into(), short("EXP_A"), short("EXP_B")],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_same(&venv, &dir, &args);
    }
    for id in [&ids["EXP_A"], &ids["CHK_A2"]] {
        assert_eq!(
            ours(&dir, &["show", "--json", id]).ok().stdout,
            theirs(&venv, &dir, &["show", "--json", id]).ok().stdout
        );
    }
    // checkout of a never-imported experiment and checkpoint: its data from the store.
    for key in ["EXP_A", "CHK_A1"] {
        let (x, y) = (
            tmp.path().join(format!("o-{key}")),
            tmp.path().join(format!("t-{key}")),
        );
        ours(&dir, &["checkout", "-o", x.to_str().unwrap(), &ids[key]]).ok();
        theirs(
            &venv,
            &dir,
            &["checkout", "-o", y.to_str().unwrap(), &ids[key]],
        )
        .ok();
        assert!(!files_under(&x).is_empty(), "{key}");
        assert_eq!(files_under(&x), files_under(&y), "checkout of {key}");
    }
    // rm: what Keepsake deletes (§2.7), and no ref touched.
    let refs = experiment_refs(&dir);
    let o = ours(&dir, &["rm", "-f", &short("EXP_A")]).ok();
    assert!(
        o.stderr.contains(&format!(
            "Removing experiment {} and its checkpoints",
            short("EXP_A")
        )),
        "{}",
        o.stderr
    );
    assert_eq!(experiment_refs(&dir), refs);
    let store = dir.join(".keepsake");
    let mut gone = vec![
        format!("metadata/experiments/{exp_a}.json"),
        format!("experiments/{exp_a}.tar.gz"),
    ];
    gone.extend((0..4).map(|n| format!("checkpoints/{}.tar.gz", ids[&format!("CHK_A{n}")])));
    for rel in &gone {
        assert!(!store.join(rel).exists(), "{rel} is still there");
    }
    assert!(store
        .join(format!("experiments/{}.tar.gz", ids["EXP_B"]))
        .exists());
    assert_eq!(
        ours(&dir, &["ls", "--json"]).ok().stdout,
        theirs(&venv, &dir, &["ls", "--json"]).ok().stdout
    );
    assert_eq!(ours(&dir, &["ls", "-q"]).ok().stdout.lines().count(), 3);
}

#[test]
fn a_store_only_experiment_that_cannot_be_read_or_shares_a_prefix_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids, mine) = upgraded_git_project(tmp.path());
    let meta = dir.join(".keepsake/metadata/experiments");
    // A store-only experiment whose ID starts as ours does: a prefix of both is ambiguous to
    // keepsake (which sees both), not to git keepsake (which sees ours alone).
    let text = std::fs::read_to_string(meta.join(format!("{}.json", mine.id))).unwrap();
    // Its 9th character differs from ours, so 9 characters tell the two apart.
    let ninth = if mine.id.as_str().as_bytes()[8] == b'f' {
        "e"
    } else {
        "f"
    };
    let twin = format!("{}{}", &mine.id.as_str()[..8], ninth.repeat(56));
    assert_ne!(twin, mine.id.as_str());
    std::fs::write(
        meta.join(format!("{twin}.json")),
        text.replace(mine.id.as_str(), &twin),
    )
    .unwrap();
    let prefix = &mine.id.as_str()[..8];
    let o = ours(&dir, &["show", prefix]).fails();
    assert!(o.stderr.contains("ambiguous"), "{}", o.stderr);
    assert!(o.stderr.contains(&twin[..7]), "{}", o.stderr);
    ks_in(&dir, &["show", prefix]).ok();
    assert!(ours(&dir, &["show", &twin[..9]])
        .ok()
        .stdout
        .contains(&twin));
    // Unreadable metadata of a store-only experiment: listed apart with a warning naming it,
    // and looking it up says why, not "not found".
    let bad = format!("{}{}", "0123abcd", "0".repeat(56));
    std::fs::write(meta.join(format!("{bad}.json")), "{not json").unwrap();
    let ls = ours(&dir, &["ls", "-q"]).ok();
    assert_eq!(ls.stdout.lines().count(), 5, "{}", ls.stdout);
    assert!(ls.stderr.contains(&bad), "{}", ls.stderr);
    let show = ours(&dir, &["show", "0123abc"]).fails();
    assert!(show.stderr.contains(&bad), "{}", show.stderr);
    assert!(!show.stderr.contains("No experiment"), "{}", show.stderr);
    // git keepsake: unchanged (git's experiments; the store is not read for them).
    assert_eq!(ks_in(&dir, &["ls", "-q"]).ok().stdout.lines().count(), 3);
    assert!(!ids.is_empty());
}

#[test]
fn recording_into_a_never_imported_experiment_keeps_it_the_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids, _) = upgraded_git_project(tmp.path());
    let refs = experiment_refs(&dir);
    let project = keepsake_core::Project::open(&keepsake_core::OpenOptions {
        cwd: dir.clone(),
        ..Default::default()
    })
    .unwrap()
    .see_store_only();
    let mut a =
        keepsake_core::experiments::resolve::get_experiment(&project, &ids["EXP_A"][..7]).unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    std::fs::write(dir.join("checkpoints/weights.txt"), "more\n").unwrap();
    let c = checkpoint(&project, &mut a, Some("checkpoints"), 4, 0.1);
    // Keepsake's metadata has it (what Keepsake and `keepsake` read); git still has no ref.
    assert_eq!(experiment_refs(&dir), refs);
    let shown = ours(&dir, &["show", "--json", &ids["EXP_A"]]).ok().json();
    let checkpoints = shown["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 5);
    assert_eq!(checkpoints[4]["id"], json!(c.id.as_str()));
    let out = tmp.path().join("out");
    ours(
        &dir,
        &["checkout", "-o", out.to_str().unwrap(), c.id.as_str()],
    )
    .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("checkpoints/weights.txt")).unwrap(),
        "more\n"
    );
}
