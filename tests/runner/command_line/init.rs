//! `init` does what its help says: the hooks and `notes.rewriteRef` (as `install`), and a store
//! inside the work tree kept out of git, so the next `git add -A` adds nothing of it.

use serde_json::json;

use crate::support::*;

/// Records an experiment with a checkpoint into the project's store (whatever keepsake.yaml
/// says), so the store has files a `git add -A` could pick up.
fn record(t: &TestProject) {
    let project = t.project();
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    t.write("model.pth", "weights\n");
    checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.5);
}

/// What `git add -A` would add, as `git add -A --dry-run` lists it.
fn would_add(t: &TestProject) -> String {
    t.git(&["add", "-A", "--dry-run"])
}

#[test]
fn init_installs_the_hooks_and_notes_rewrite_ref() {
    let t = TestProject::new(true);
    let run = t.ks(&["init"]).ok();
    assert!(
        run.stderr.contains("Installed git-keepsake hooks"),
        "{}",
        run.stderr
    );
    let hook = std::fs::read_to_string(t.dir.join(".git/hooks/pre-push")).unwrap();
    assert!(hook.contains("git-keepsake pre-push hook"), "{hook}");
    assert_eq!(
        t.git(&["config", "--get-all", "notes.rewriteRef"]),
        "refs/notes/keepsake\n"
    );
    // Twice is the same as once.
    t.ks(&["init"]).ok();
    assert_eq!(
        t.git(&["config", "--get-all", "notes.rewriteRef"]),
        "refs/notes/keepsake\n"
    );
    // The default store is inside .git: nothing to ignore, no .gitignore change.
    assert_eq!(t.read(".gitignore"), "logs/\n*.pth\n/checkpoints/\n");
}

#[test]
fn init_with_an_in_tree_store_ignores_it_once() {
    let t = TestProject::new(true);
    let run = t.ks(&["init", "--store", "file://.keepsake"]).ok();
    assert!(
        run.stderr.contains("Added /.keepsake/ to"),
        "{}",
        run.stderr
    );
    assert_eq!(
        t.read(".gitignore"),
        "logs/\n*.pth\n/checkpoints/\n/.keepsake/\n"
    );
    record(&t);
    assert!(t.dir.join(".keepsake/metadata/experiments").is_dir());
    let added = would_add(&t);
    assert!(
        !added.contains(".keepsake/"),
        "git add -A would add the store:\n{added}"
    );
    assert!(added.contains("keepsake.yaml"), "{added}");
    // Idempotent: a second init adds no second line.
    t.ks(&["init"]).ok();
    assert_eq!(t.read(".gitignore").matches("/.keepsake/").count(), 1);
}

#[test]
fn init_ignores_a_store_keepsake_yaml_names_in_a_subdirectory() {
    let t = TestProject::new(true);
    // A .gitignore without a final newline, and a store path with a glob character in it.
    t.write(".gitignore", "logs/");
    t.write("keepsake.yaml", "repository: \"file://runs/[store]\"\n");
    t.ks(&["init"]).ok();
    assert_eq!(t.read(".gitignore"), "logs/\n/runs/\\[store]/\n");
    record(&t);
    assert!(t.dir.join("runs/[store]/metadata").is_dir());
    let added = would_add(&t);
    assert!(
        !added.contains("runs/"),
        "git add -A would add the store:\n{added}"
    );
}

#[test]
fn init_leaves_gitignore_alone_when_the_store_is_already_ignored_or_outside() {
    let t = TestProject::new(true);
    t.write(".gitignore", "*.store/\n");
    t.write("keepsake.yaml", "repository: \"file://exp.store\"\n");
    t.ks(&["init"]).ok();
    assert_eq!(t.read(".gitignore"), "*.store/\n");

    let t = TestProject::new(true);
    let outside = t.tmp.path().join("outside-store");
    t.ks(&["init", "--store", &format!("file://{}", outside.display())])
        .ok();
    assert_eq!(t.read(".gitignore"), "logs/\n*.pth\n/checkpoints/\n");
}

#[test]
fn init_refuses_a_store_that_is_the_work_tree_and_writes_nothing() {
    let t = TestProject::new(true);
    let before = snapshot(&t.dir);
    let run = t.ks(&["init", "--store", "file://."]).fails();
    assert!(
        run.error_line().contains("is the git work tree itself"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&t.dir), before, "a refused init changed files");
}

#[test]
fn init_outside_git_prepares_the_store_without_hooks() {
    let t = TestProject::new(false);
    let run = t.ks(&["init", "--store", "file://.keepsake"]).ok();
    assert!(run.stderr.contains("no hooks installed"), "{}", run.stderr);
    assert!(!t.dir.join(".gitignore").exists());
}
