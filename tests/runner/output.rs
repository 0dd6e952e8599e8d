//! Whole-output snapshots (insta) of what a person reads: `ls`, `show`, `diff` and the errors of
//! common mistakes, exit code and both streams. The sealed environment of `support` fixes the
//! clock, HOME and git config; insta filters name each random ID by its role (`[exp A]`,
//! `[ckpt A1]`) and hide temp paths, commit hashes and the version, so a snapshot reads the same on
//! any machine. `INSTA_UPDATE=no` (scripts/test-all.sh, and insta's own rule under `CI`) makes a
//! mismatch fail without writing; review changes with `cargo insta review`.

use crate::support::*;
use keepsake_core::{Experiment, Id};

/// Two experiments on one baseline, the second with a change to src/model.py.
struct Scene {
    t: TestProject,
    a: Experiment,
    b: Experiment,
}

fn scene() -> Scene {
    let t = TestProject::new(true);
    let a = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    t.write(
        "src/model.py",
        "def build(hidden):\n    return {\"hidden\": hidden * 2}\n",
    );
    let b = record_run(&t, 0.1, &[0.8, 0.6]);
    Scene { t, a, b }
}

/// The filters that make `t`'s output stable: the labelled IDs first (full before short, as a
/// short ID is a prefix of its full one), then whatever random text is left.
fn settings(t: &TestProject, ids: &[(&Id, String)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (id, label) in ids {
        s.add_filter(&regex_escape(id.as_str()), label.as_str());
    }
    for (id, label) in ids {
        s.add_filter(&regex_escape(id.short()), label.as_str());
    }
    let tmp = t.tmp.path();
    for path in [tmp.canonicalize().unwrap(), tmp.to_path_buf()] {
        s.add_filter(&regex_escape(path.to_str().unwrap()), "[TMP]");
    }
    s.add_filter(r"\b[0-9a-f]{64}\b", "[ID]");
    // The fixed clock is shared by every test thread of the process, so the milliseconds of a
    // record's time depend on what ran beside it.
    s.add_filter(r"(T\d\d:\d\d:\d\d)\.\d+Z", "$1.[ms]Z");
    s.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    s.add_filter(&regex_escape(env!("CARGO_PKG_VERSION")), "[VERSION]");
    // A tarball's size follows its members' mtimes, which come from that same clock.
    s.add_filter(r"(\.tar\.(gz|zst)) \(\d+ bytes", "$1 ([size] bytes");
    s
}

fn labels(s: &Scene) -> Vec<(&Id, String)> {
    let mut out = Vec::new();
    for (name, exp) in [("A", &s.a), ("B", &s.b)] {
        out.push((&exp.id, format!("<exp-{name}>")));
        for (i, c) in exp.checkpoints.iter().enumerate() {
            out.push((&c.id, format!("<ck-{name}{i}>")));
        }
    }
    out
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = r"\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// A run as the snapshot shows it: the exit code, then each stream that has anything.
fn shown(run: &Run) -> String {
    let mut out = format!("exit code: {}\n", run.code);
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if !text.is_empty() {
            out.push_str(&format!("----- {name}\n{text}"));
        }
    }
    out
}

/// Runs `git keepsake <args>` in the scene and snapshots the whole output as `name`.
fn check(s: &Scene, name: &str, args: &[&str]) {
    let run = s.t.ks(args);
    settings(&s.t, &labels(s)).bind(|| insta::assert_snapshot!(name, shown(&run)));
}

#[test]
fn ls_table() {
    let s = scene();
    check(&s, "ls", &["ls"]);
}

#[test]
fn ls_json() {
    let s = scene();
    check(&s, "ls_json", &["ls", "--json"]);
}

#[test]
fn show_experiment() {
    let s = scene();
    check(&s, "show_experiment", &["show", &s.a.id.as_str()[..6]]);
}

#[test]
fn show_checkpoint() {
    let s = scene();
    check(
        &s,
        "show_checkpoint",
        &["show", s.a.checkpoints[1].id.as_str()],
    );
}

#[test]
fn diff_of_two_experiments() {
    let s = scene();
    check(&s, "diff", &["diff", s.a.id.as_str(), s.b.id.as_str()]);
}

#[test]
fn errors_of_common_mistakes() {
    let s = scene();
    check(&s, "error_unknown_id", &["show", "0000000"]);
    check(&s, "error_bad_filter", &["ls", "-f", "lr == 1"]);
    check(&s, "error_unknown_remote", &["push", "nowhere", "--all"]);
    check(
        &s,
        "error_unknown_command_argument",
        &["ls", "--no-such-flag"],
    );
    s.t.write("train.py", "print('local edit')\n");
    check(
        &s,
        "error_checkout_over_a_modified_file",
        &["checkout", s.a.id.as_str()],
    );
}

#[test]
fn error_of_an_ambiguous_prefix() {
    let t = TestProject::new(true);
    let project = t.project();
    // Experiments until one shares its first character with another: exactly two then match.
    let mut ids: Vec<Id> = Vec::new();
    let first = loop {
        let id = create(&project, None, serde_json::json!({"i": ids.len()})).id;
        let c = id.as_str()[..1].to_string();
        let twin = ids.iter().position(|other| other.as_str().starts_with(&c));
        ids.push(id);
        if let Some(twin) = twin {
            ids.swap(0, twin);
            let last = ids.len() - 1;
            ids.swap(1, last);
            break c;
        }
    };
    let run = t.ks(&["show", &first]);
    // The two that match, in the order the message names them (sorted).
    let mut pair = [&ids[0], &ids[1]];
    pair.sort_by_key(|id| id.as_str());
    let mut labelled = vec![
        (pair[0], "<exp-1>".to_string()),
        (pair[1], "<exp-2>".to_string()),
    ];
    labelled.extend(ids[2..].iter().map(|id| (id, "<other>".to_string())));
    let mut s = settings(&t, &labelled);
    s.add_filter(&format!("`{first}`"), "`[prefix]`");
    s.bind(|| insta::assert_snapshot!("error_ambiguous_prefix", shown(&run)));
}

#[test]
fn error_outside_git() {
    let t = TestProject::new(false);
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    let run = t.ks(&["import"]);
    settings(&t, &[]).bind(|| insta::assert_snapshot!("error_outside_git", shown(&run)));
}

#[test]
fn error_of_a_sort_key_naming_a_group_of_params() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut ids = Vec::new();
    for dropout in [0.1, 0.2] {
        let params = serde_json::json!({"model": {"dropout": dropout}});
        ids.push(create(&project, None, params).id);
    }
    let run = t.ks(&["ls", "--sort", "model"]);
    let labelled = [(&ids[0], "<exp-A>".into()), (&ids[1], "<exp-B>".into())];
    settings(&t, &labelled).bind(|| insta::assert_snapshot!("error_bad_sort_key", shown(&run)));
}

/// An error with a cause its message does not already quote: the cause on a line of its own
/// (`caused by:`) between the error and the hint, never a Debug dump.
#[test]
fn error_of_an_unreadable_ref_shows_its_cause() {
    let s = scene();
    let missing = "1".repeat(40);
    s.t.write(
        &format!(".git/refs/keepsake/experiments/{}", s.a.id),
        &format!("{missing}\n"),
    );
    check(&s, "error_unreadable_ref", &["show", s.a.id.short()]);
}

#[test]
fn ls_markdown() {
    let s = scene();
    check(&s, "ls_markdown", &["ls", "--format", "markdown"]);
}

#[test]
fn diff_markdown() {
    let s = scene();
    check(
        &s,
        "diff_markdown",
        &[
            "diff",
            s.a.id.as_str(),
            s.b.id.as_str(),
            "--format",
            "markdown",
        ],
    );
}

/// A hostile param reaches a pull-request comment as text: no cell break, tag or link.
#[test]
fn ls_markdown_escapes_hostile_values() {
    let t = TestProject::new(true);
    let project = t.project();
    for name in [
        "a|b\n</td><img src=x onerror=alert(1)>",
        "[x](http://e) `y`",
    ] {
        keepsake_core::experiments::create::create_experiment(
            &project,
            new_experiment(Some("."), serde_json::json!({ "name": name })),
        )
        .unwrap();
    }
    let run = t.ks(&["ls", "--format", "markdown"]).ok();
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{}", run.stdout);
    for line in &rows {
        // Every cell separator is one the table put there; nothing unescaped opens a tag.
        assert_eq!(
            line.matches('|').count() - line.matches("\\|").count(),
            7,
            "{line}"
        );
        assert!(!line.contains('<'), "{line}");
        assert!(!line.replace("\\]", "").contains("]("), "{line}");
    }
    assert!(
        run.stdout.contains("name=a\\|b &lt;/td&gt;&lt;img"),
        "{}",
        run.stdout
    );
}

/// `show` of a checkpoint of a directory lists every file in its tarball with its size, read
/// from the store; a checkpoint whose tarball the store lost still shows, with one warning.
#[test]
fn show_checkpoint_files() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exp = create(&project, None, serde_json::json!({"lr": 0.1}));
    std::fs::create_dir_all(t.dir.join("weights/sub")).unwrap();
    std::fs::write(t.dir.join("weights/a.bin"), vec![7u8; 3000]).unwrap();
    std::fs::write(t.dir.join("weights/sub/b.txt"), "hello").unwrap();
    std::fs::write(t.dir.join("weights/sub/big.pt"), vec![1u8; 5 << 20]).unwrap();
    let c = checkpoint(&project, &mut exp, Some("weights"), 0, 0.5);
    let lost = checkpoint(&project, &mut exp, Some("weights/sub/b.txt"), 1, 0.4);
    let key = lost.files.as_ref().unwrap().key.clone();
    std::fs::remove_file(t.dir.join(".git/keepsake/storage").join(&key)).unwrap();
    let ids = vec![
        (&exp.id, "<exp>".to_string()),
        (&c.id, "<ck-0>".to_string()),
        (&lost.id, "<ck-1>".to_string()),
    ];
    for (name, id) in [
        ("show_checkpoint_files", &c.id),
        ("show_checkpoint_files_lost", &lost.id),
    ] {
        let run = t.ks(&["show", id.as_str()]);
        settings(&t, &ids).bind(|| insta::assert_snapshot!(name, shown(&run)));
    }
}

/// `show --json --files` adds the checkpoint's `contents`; plain `show --json` stays Keepsake's
/// checkpoint object, with no field of ours.
#[test]
fn show_json_files_of_a_checkpoint() {
    let s = scene();
    let c = s.a.checkpoints[1].id.as_str();
    let plain = s.t.ks(&["show", "--json", c]).ok().json();
    assert!(plain.get("contents").is_none(), "{plain}");
    let with = s.t.ks(&["show", "--json", "--files", c]).ok().json();
    assert_eq!(
        with["contents"],
        serde_json::json!([{"path": "model.pth", "size": 23}])
    );
    let mut without = with.clone();
    without.as_object_mut().unwrap().remove("contents");
    assert_eq!(without, plain);
    let run = s.t.ks(&["show", "--files", c]).fails();
    assert!(run.stderr.contains("--json"), "{}", run.stderr);
}
