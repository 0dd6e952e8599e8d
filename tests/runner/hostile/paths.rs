//! Hostile paths: tree entries, IDs, keys, symlinks and import paths that try to leave the project, the store or the work tree.

use super::*;

/// A directory that must stay empty: anything in it was written outside a target.
fn marker(t: &TestProject) -> PathBuf {
    let m = t.tmp.path().join("outside");
    std::fs::create_dir_all(&m).unwrap();
    m
}

fn assert_empty(dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    assert!(entries.is_empty(), "written outside: {entries:?}");
}

/// Row 1: tree entries named `..` and `.git`.
#[test]
fn tree_entries_with_dotdot_or_dotgit_are_never_written() {
    let s = scene();
    let id = s.craft(&["tree-escape", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", &id, "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "..");
    assert!(
        !t.tmp.path().join("evil").exists(),
        "`..` escaped the output directory"
    );
    let run = t.ks(&["apply", &id]).fails();
    assert!(run.error_line().contains("Refusing"), "{}", run.stderr);
    assert!(
        !t.dir.join(".git/hooks/post-checkout").exists(),
        "a hook was planted"
    );
    assert!(!t.dir.parent().unwrap().join("evil").exists());
    s.assert_victim_intact();
}

/// Row 2: a checkpoint ID of `../../evil` in a store's metadata; a storage key that climbs out.
#[test]
fn ids_and_keys_that_climb_out_of_the_store_are_refused() {
    let s = scene();
    let t = &s.victim;
    let outside = marker(t);
    // A Keepsake store whose metadata names a checkpoint `../../…/outside/evil`.
    let hostile = t.tmp.path().join("hostile-store");
    let climb = format!("../../../../{}/evil", outside.display());
    let exp_id = "e".repeat(64);
    std::fs::create_dir_all(hostile.join("metadata/experiments")).unwrap();
    std::fs::write(hostile.join("repository.json"), r#"{"version":1}"#).unwrap();
    let meta = json!({
        "id": exp_id, "created": "2026-01-01T00:00:00Z", "params": null, "host": "", "user": "",
        "config": {"repository": "", "storage": ""}, "command": "", "path": "",
        "python_version": "", "python_packages": null, "keepsake_version": "0.4.2",
        "checkpoints": [{"id": climb, "created": "2026-01-01T00:00:00Z", "metrics": null,
                         "step": 0, "path": "model.pth", "primary_metric": null}],
    });
    std::fs::write(
        hostile.join(format!("metadata/experiments/{exp_id}.json")),
        meta.to_string(),
    )
    .unwrap();
    let run = t.ks(&["import", hostile.to_str().unwrap()]);
    assert!(run.stderr.contains("is not an ID"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_empty(&outside);

    // A pulled checkpoint record whose key is `checkpoints/../../…`: refused when read, so
    // neither checkout nor a push to another store follows it.
    s.craft(&["bad-key", s.victim_id()]);
    s.fetch_raw();
    let run = t.ks(&["show", s.victim_id()]).fails();
    error_names(&run, "keepsake-hostile-key");
    let team_store = t.tmp.path().join("team-store");
    t.git(&[
        "config",
        "remote.origin.keepsakeStore",
        &format!("file://{}", team_store.display()),
    ]);
    let run = t.ks(&["push", "origin", s.victim_id()]).fails();
    assert!(
        run.error_line().contains("refs/keepsake/experiments/"),
        "{}",
        run.stderr
    );
    assert!(!Path::new("/tmp/keepsake-hostile-key.tar.gz").exists());
    assert_empty(&outside);
}

/// Row 3: a symlink in the output directory, and a committed symlinked directory.
#[test]
fn checkout_and_apply_never_write_through_a_symlink() {
    let t = TestProject::new(true);
    let project = t.project();
    t.write("models/w.pth", "good weights\n");
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    checkpoint(&project, &mut exp, Some("models"), 0, 0.5);
    let outside = marker(&t);
    let out = t.tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("models")).unwrap();
    let run = t
        .ks(&["checkout", exp.id.as_str(), "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "symlink");
    let run = t
        .ks(&[
            "checkout",
            exp.id.as_str(),
            "-o",
            out.to_str().unwrap(),
            "-f",
        ])
        .fails();
    error_names(&run, "symlink");
    assert_empty(&outside);

    // The user's own work tree holds a committed symlink where the snapshot has a directory.
    std::fs::remove_dir_all(t.dir.join("models")).unwrap();
    std::os::unix::fs::symlink(&outside, t.dir.join("models")).unwrap();
    t.git(&["add", "models"]);
    t.git(&["commit", "-qm", "models live elsewhere"]);
    let run = t.ks(&["apply", exp.id.as_str()]).fails();
    error_names(&run, "symlink");
    assert_empty(&outside);
}

/// A directory where a checkout puts a file, with `-f`: refused before anything moves.
#[test]
fn a_refused_forced_checkout_leaves_nothing_behind() {
    let t = TestProject::new(true);
    t.write("zz.py", "last\n");
    let exp = record_run(&t, 0.01, &[0.5]);
    let out = t.tmp.path().join("out");
    std::fs::create_dir_all(out.join("zz.py")).unwrap();
    let run = t
        .ks(&[
            "checkout",
            exp.id.as_str(),
            "-o",
            out.to_str().unwrap(),
            "-f",
        ])
        .fails();
    error_names(&run, "zz.py");
    let written: Vec<_> = files_under(&out).into_keys().collect();
    assert!(written.is_empty(), "partial output: {written:?}");
}

/// An experiment whose code holds `hooks/post-checkout` and `config`, checked out with `-o`
/// into the repository's git directory (spelled directly, through `..`, or a subdirectory):
/// refused, so a snapshot can never plant a hook or rewrite git's config.
#[test]
fn checkout_never_writes_into_the_git_directory() {
    let t = TestProject::new(true);
    let project = t.project();
    t.write("hooks/post-checkout", "#!/bin/sh\necho planted\n");
    t.write("config", "[core]\n\tfsmonitor = echo planted\n");
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    checkpoint(&project, &mut exp, Some("hooks"), 0, 0.5);
    let config = std::fs::read(t.dir.join(".git/config")).unwrap();
    for out in [".git", "src/../.git", ".git/keepsake", ".git/hooks"] {
        let run = t
            .ks(&["checkout", exp.id.as_str(), "-o", out, "-f"])
            .fails();
        error_names(&run, ".git");
        assert!(!t.dir.join(".git/hooks/post-checkout").exists(), "{out}");
        assert!(!t.dir.join(".git/hooks/hooks").exists(), "{out}");
    }
    assert_eq!(std::fs::read(t.dir.join(".git/config")).unwrap(), config);
    // Elsewhere it works.
    let out = t.tmp.path().join("out");
    t.ks(&["checkout", exp.id.as_str(), "-o", out.to_str().unwrap()])
        .ok();
    assert!(out.join("hooks/post-checkout").is_file());
}

/// `apply` of a snapshot holding a file the user keeps ignored (never committed, so git has no
/// copy of it): the user's file is not clobbered.
#[test]
fn apply_never_clobbers_an_ignored_file() {
    let t = TestProject::new(true);
    let project = t.project();
    t.write("secret.env", "TOKEN=attacker\n");
    let exp = create(&project, Some("."), json!({"lr": 0.1}));
    t.write(
        ".gitignore",
        &format!("{}secret.env\n", t.read(".gitignore")),
    );
    t.git(&["add", ".gitignore"]);
    t.git(&["commit", "-qm", "ignore secrets"]);
    t.write("secret.env", "TOKEN=users-own\n");
    let run = t.ks(&["apply", exp.id.as_str()]).fails();
    error_names(&run, "secret.env");
    assert_eq!(t.read("secret.env"), "TOKEN=users-own\n");
}

/// A Keepsake store whose metadata gives a path that leaves the project (`../../x`): refused at
/// import with an error naming it, never turned into a ref that every later read refuses.
#[test]
fn import_refuses_paths_that_leave_the_project() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let hostile = t.tmp.path().join("hostile-store");
    let cp = "c".repeat(64);
    keepsake_store(&hostile, &"e".repeat(64), &[&cp]);
    let meta_key = hostile.join(format!("metadata/experiments/{}.json", "e".repeat(64)));
    let meta = std::fs::read_to_string(&meta_key).unwrap();
    std::fs::write(
        &meta_key,
        meta.replace("\"path\":\"model.pth\"", "\"path\":\"../../x\""),
    )
    .unwrap();
    std::fs::write(
        hostile.join(format!("checkpoints/{cp}.tar.gz")),
        gzip_of_tar(&[(&format!("{cp}/model.pth"), b"w\n".to_vec())]),
    )
    .unwrap();
    let run = t.ks(&["import", hostile.to_str().unwrap()]);
    assert_ne!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr.contains("its path ../../x leaves"),
        "{}",
        run.stderr
    );
    let ls = t.ks(&["ls", "--json"]).ok();
    assert!(!ls.stderr.contains("Unreadable"), "{}", ls.stderr);
    assert_eq!(ls.json().as_array().unwrap().len(), 1);
    // Nothing blocks gc afterwards.
    t.ks(&["gc", "--grace", "0"]).ok();
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, exp.id.as_str(), &out, "model.pth"),
        "weights lr=0.01 step=0\n"
    );
}
