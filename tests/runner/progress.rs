//! Progress on a terminal (issue 14): bars drawn on stderr and finished with one clean line, for
//! a push of a large checkpoint to the S3 server and for its checkout, driven through a
//! pseudo-terminal (`pty_run.py`); none with `-q`, none when stderr is a pipe (scripts see the
//! plain lines); and the one summary line `push` and `pull` end with, its counts and bytes.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;
use keepsake_core::text::human_size;
use keepsake_core::{Experiment, Id};
use serde_json::json;

/// `git keepsake <args>` in `dir` with a terminal as its stdin, stdout and stderr; everything
/// it wrote comes back as `stdout` (a terminal has one stream).
fn in_terminal(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/runner/pty_run.py"))
        .arg(env!("CARGO_BIN_EXE_git-keepsake"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    hermetic(&mut cmd, dir);
    // On a terminal `show` pages; `cat` keeps the test from waiting on less.
    cmd.env("GIT_PAGER", "cat");
    to_run(cmd.output().unwrap())
}

/// What a bar's redraws leave in a terminal's stream: line erasing and cursor moves, or a
/// carriage return that is not the terminal's own `\r\n` (colour codes are no bar's).
fn has_bar_traces(text: &str) -> bool {
    text.contains("\x1b[2K")
        || text.contains("\x1b[1A")
        || text.replace("\r\n", "\n").contains('\r')
}

/// A project published to a bare remote `origin` whose store is a fresh prefix of the S3
/// server, and an experiment with a checkpoint of `size` incompressible bytes.
fn large_push_scene(size: usize) -> Option<(TestProject, String, Experiment)> {
    require_env("KEEPSAKE_TEST_S3_ENDPOINT")?;
    let t = TestProject::new(true);
    t.publish();
    let store = format!("s3://keepsake-test/progress-{}", Id::generate().short());
    t.git(&["config", "remote.origin.keepsakeStore", &store]);
    let project = t.project();
    let mut exp = create(&project, Some("train.py"), json!({"lr": 0.1}));
    std::fs::write(t.dir.join("model.pth"), noise(size, 0x5eed)).unwrap();
    checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.5);
    std::fs::remove_file(t.dir.join("model.pth")).unwrap();
    Some((t, store, exp))
}

/// The recorded tarballs of an experiment: how many, and their bytes.
fn data_of(exp: &Experiment) -> (usize, u64) {
    let sizes: Vec<u64> = exp
        .files
        .iter()
        .chain(exp.checkpoints.iter().filter_map(|c| c.files.as_ref()))
        .map(|f| f.size)
        .collect();
    (sizes.len(), sizes.iter().sum())
}

/// The bar's last state before it was cleared, and what came after it: the finished line.
fn finished_line<'a>(terminal: &'a str, what: &str) -> &'a str {
    let done = format!("{what}: ");
    let at = terminal
        .rfind(&done)
        .unwrap_or_else(|| panic!("no finished line `{what}: ...` in {terminal:?}"));
    terminal[at..].split("\r\n").next().unwrap()
}

#[test]
fn push_and_checkout_of_a_large_checkpoint_draw_a_bar_on_a_terminal_only() {
    let Some((t, store, exp)) = large_push_scene(64 << 20) else {
        return;
    };
    let (objects, bytes) = data_of(&exp);
    let summary = format!(
        "Pushed 1 experiment ({objects} objects, {}) to origin; 0 up to date, 0 objects already in the store",
        human_size(bytes)
    );
    let run = in_terminal(&t.dir, &["push", "origin", exp.id.as_str()]).ok();
    let shown = &run.stdout;
    // Drawn: a bar with bytes, total, rate and ETA, redrawn in place.
    assert!(
        shown.contains(&format!("Uploading 1 experiment(s) to {store}\r\n")),
        "{shown:?}"
    );
    assert!(
        shown.contains("Uploading [") && shown.contains("ETA "),
        "{shown:?}"
    );
    assert!(shown.contains("/64.04 MiB"), "{shown:?}");
    assert!(shown.contains("\r\x1b[2K"), "never redrawn: {shown:?}");
    // Finished: one clean line with the bytes moved, then nothing of the bar after it; the
    // short ID (stdout is the terminal) and the summary follow on lines of their own.
    let finished = finished_line(shown, "Uploading");
    assert!(
        finished.starts_with("Uploading: 64.0 MiB in ") && finished.ends_with("/s)"),
        "{finished:?}"
    );
    let after = &shown[shown.rfind(finished).unwrap() + finished.len()..];
    assert_eq!(
        after,
        format!("\r\n{}\r\n{summary}\r\n", exp.id.short()),
        "{shown:?}"
    );

    // A second clone checks it out from the team store: a bar again, then one line.
    let bob = t.tmp.path().join("bob");
    let remote = t.tmp.path().join("remote.git");
    git_in(
        t.tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.to_str().unwrap(),
        ],
    );
    git_in(&bob, &["config", "remote.origin.keepsakeStore", &store]);
    let pulled = ks_in(&bob, &["pull", "origin"]).ok();
    assert_eq!(pulled.stdout, format!("{}\n", exp.id));
    assert_eq!(
        pulled.stderr,
        format!(
            "Pulled 1 experiment ({objects} objects, {}, read from its store on checkout) from origin; 0 up to date\n",
            human_size(bytes)
        )
    );
    let out = bob.join("restored");
    let ck = exp.checkpoints[0].id.as_str();
    let run = in_terminal(&bob, &["checkout", ck, "-o", out.to_str().unwrap()]).ok();
    let shown = &run.stdout;
    assert!(
        shown.contains("Checking out [") && shown.contains("ETA "),
        "{shown:?}"
    );
    let finished = finished_line(shown, "Checking out");
    assert!(finished.starts_with("Checking out: 64."), "{finished:?}");
    assert!(
        !has_bar_traces(&shown[shown.rfind(finished).unwrap()..]),
        "{shown:?}"
    );
    assert_eq!(
        std::fs::metadata(out.join("model.pth")).unwrap().len(),
        64 << 20
    );

    // `-q` on a terminal: no bar, no progress lines, no summary; the data still moves.
    let out_q = bob.join("restored-quiet");
    let run = in_terminal(&bob, &["checkout", "-q", ck, "-o", out_q.to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "", "{:?}", run.stdout);
    assert_eq!(
        std::fs::metadata(out_q.join("model.pth")).unwrap().len(),
        64 << 20
    );
    t.bare_remote("quiet", "quiet.git");
    t.git(&["push", "-q", "quiet", "main"]);
    t.git(&[
        "config",
        "remote.quiet.keepsakeStore",
        &format!("{store}-quiet"),
    ]);
    let run = in_terminal(&t.dir, &["push", "-q", "quiet", exp.id.as_str()]).ok();
    assert_eq!(
        run.stdout,
        format!("{}\r\n", exp.id.short()),
        "{:?}",
        run.stdout
    );

    // stderr a pipe (a script, a log): today's plain lines only, and full IDs on stdout.
    t.bare_remote("piped", "piped.git");
    t.git(&["push", "-q", "piped", "main"]);
    t.git(&[
        "config",
        "remote.piped.keepsakeStore",
        &format!("{store}-piped"),
    ]);
    let run = t.ks(&["push", "piped", exp.id.as_str()]).ok();
    assert!(!has_bar_traces(&run.stderr), "{:?}", run.stderr);
    assert_eq!(run.stdout, format!("{}\n", exp.id));
    assert_eq!(
        run.stderr,
        format!(
            "Uploading 1 experiment(s) to {store}-piped\n{}\n",
            summary.replace("to origin", "to piped")
        )
    );
    let run = ks_in(&bob, &["checkout", ck, "-f", "-o", out.to_str().unwrap()]).ok();
    assert!(!has_bar_traces(&run.stderr), "{:?}", run.stderr);
    assert!(!run.stderr.contains("Checking out:"), "{}", run.stderr);
}

/// The summary lines count what moved: objects uploaded and already there, experiments up to
/// date, and for `pull` the data the new checkpoints name (fetched later, by `checkout`).
#[test]
fn push_and_pull_summaries_count_objects_and_bytes() {
    let t = TestProject::new(true);
    let (remote, _) = t.publish_with_store();
    let mut exp = record_run(&t, 0.1, &[0.9, 0.5]);
    let (objects, bytes) = data_of(&exp);
    assert_eq!(objects, 3);
    let run = t.ks(&["push", "origin", exp.id.short()]).ok();
    assert_eq!(run.stdout, format!("{}\n", exp.id));
    assert!(
        run.stderr.ends_with(&format!(
            "\nPushed 1 experiment (3 objects, {}) to origin; 0 up to date, 0 objects already in the store\n",
            human_size(bytes)
        )),
        "{}",
        run.stderr
    );
    let bob = t.tmp.path().join("bob");
    git_in(
        t.tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.to_str().unwrap(),
        ],
    );
    let team_store = t.git(&["config", "remote.origin.keepsakeStore"]);
    git_in(
        &bob,
        &["config", "remote.origin.keepsakeStore", team_store.trim()],
    );
    let pull_line = |n: usize, b: u64, up: usize| {
        format!(
            "Pulled 1 experiment ({}, {}, read from its store on checkout) from origin; {up} up to date\n",
            if n == 1 { "1 object".to_string() } else { format!("{n} objects") },
            human_size(b)
        )
    };
    assert_eq!(
        ks_in(&bob, &["pull", "origin"]).ok().stderr,
        pull_line(3, bytes, 0)
    );

    // One more checkpoint: only it is uploaded, and only it is new to the other clone.
    let project = t.project();
    t.write("model.pth", &"more weights\n".repeat(100));
    let c = checkpoint(&project, &mut exp, Some("model.pth"), 2, 0.2);
    let added = c.files.as_ref().unwrap().size;
    let run = t.ks(&["push", "origin", exp.id.short()]).ok();
    assert!(
        run.stderr.ends_with(&format!(
            "\nPushed 1 experiment (1 object, {}) to origin; 0 up to date, 3 objects already in the store\n",
            human_size(added)
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        ks_in(&bob, &["pull", "origin"]).ok().stderr,
        pull_line(1, added, 0)
    );
    let run = t.ks(&["push", "origin", exp.id.short()]).ok();
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "Pushed 0 experiments (0 objects, 0 bytes) to origin; 1 up to date, 0 objects already in the store\n"
    );
    let run = ks_in(&bob, &["pull", "origin"]).ok();
    assert_eq!(
        run.stderr,
        "Pulled 0 experiments (0 objects, 0 bytes, read from its store on checkout) from origin; 1 up to date\n"
    );
    // -q: nothing on stderr; the IDs for scripts stay on stdout.
    let run = t.ks(&["push", "-q", "origin", exp.id.short()]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
}

/// `import` and `gc` report too: a bar on a terminal, ended by one line of what was done.
#[test]
fn import_and_gc_draw_progress_on_a_terminal() {
    let t = TestProject::new(false);
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    let exp = record_run(&t, 0.01, &[0.9, 0.5]);
    let (_, bytes) = data_of(&exp);
    t.git(&["init", "-q", "."]);
    let run = in_terminal(&t.dir, &["import"]).ok();
    let finished = finished_line(&run.stdout, "Importing");
    assert!(
        finished.starts_with(&format!("Importing: {} in ", human_size(bytes))),
        "{finished:?} {:?}",
        run.stdout
    );
    assert!(run.stdout.contains("\r\x1b[2K"), "{:?}", run.stdout);

    // An object nothing references, and a gc that deletes it.
    let orphan = format!("checkpoints/{}.tar.gz", Id::generate());
    std::fs::write(t.dir.join(".keepsake").join(&orphan), "orphan").unwrap();
    let run = in_terminal(&t.dir, &["gc", "--grace", "0"]).ok();
    assert!(
        run.stdout.contains(&format!("{orphan}\r\n")),
        "{:?}",
        run.stdout
    );
    let finished = finished_line(&run.stdout, "Deleting");
    assert!(finished.starts_with("Deleting: 1 in "), "{finished:?}");
    // `show` of a checkpoint reads its file list quickly: nothing of a bar is drawn.
    let ck = exp.checkpoints[1].id.as_str();
    let run = in_terminal(&t.dir, &["show", ck]).ok();
    assert!(
        run.stdout.contains("model.pth  23 bytes"),
        "{:?}",
        run.stdout
    );
    assert!(
        !has_bar_traces(&run.stdout) && !run.stdout.contains("Listing files"),
        "{:?}",
        run.stdout
    );
    // -q: the deleted keys only.
    std::fs::write(t.dir.join(".keepsake").join(&orphan), "orphan").unwrap();
    let run = in_terminal(&t.dir, &["gc", "-q", "--grace", "0"]).ok();
    assert_eq!(run.stdout, format!("{orphan}\r\n"));
}
