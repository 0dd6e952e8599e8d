//! git hooks that block pushes without data, and promoting a checkpoint to a branch.

use super::*;

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-keepsake"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `git` with the binary on PATH, so the installed hook finds `git-keepsake`.
fn git_hooked(dir: &Path, args: &[&str], path_with_binary: bool) -> Run {
    let mut cmd = std::process::Command::new("git");
    cmd.args(args).current_dir(dir);
    hermetic(&mut cmd, dir);
    let path = std::env::var("PATH").unwrap_or_default();
    let path = if path_with_binary {
        format!("{}:{path}", bin_dir().display())
    } else {
        path
    };
    cmd.env("PATH", path);
    to_run(cmd.output().unwrap())
}

#[test]
fn hooks_block_pushes_without_data_and_cost_nothing_otherwise() {
    let Some(t) = team() else { return };
    // The user's own pre-push hook, and core.hooksPath.
    let hooks = t.alice.dir.join(".githooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let user_hook = "#!/bin/sh\ncat > /dev/null\necho user-hook-ran >> \"$(git rev-parse --git-dir)/user-hook.log\"\n";
    std::fs::write(hooks.join("pre-push"), user_hook).unwrap();
    keepsake_core::fs::set_mode(&hooks.join("pre-push"), 0o755).unwrap();
    t.alice.git(&["config", "core.hooksPath", ".githooks"]);
    t.alice.ks(&["install"]).ok();
    assert!(std::fs::read_to_string(hooks.join("pre-push"))
        .unwrap()
        .contains("git-keepsake"));
    assert_eq!(
        t.alice.git(&["config", "notes.rewriteRef"]).trim(),
        NOTES_REF
    );

    // A plain push makes no storage call: the store is unreachable, and it still works.
    t.alice.write("README", "hello\n");
    t.alice.git(&["add", "README"]);
    t.alice.git(&["commit", "-q", "-m", "readme"]);
    let mut cmd = std::process::Command::new("git");
    cmd.args(["push", "-q", "origin", "main"])
        .current_dir(&t.alice.dir);
    hermetic(&mut cmd, &t.alice.dir);
    cmd.env("AWS_ENDPOINT", "http://127.0.0.1:9").env(
        "PATH",
        format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap()),
    );
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = std::fs::read_to_string(t.alice.dir.join(".git/user-hook.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "the user's hook ran once");

    // Without the binary on PATH, a push with no keepsake refs still works.
    t.alice.write("README", "hello again\n");
    t.alice.git(&["commit", "-q", "-am", "again"]);
    git_hooked(&t.alice.dir, &["push", "-q", "origin", "main"], false);

    // A raw git push of keepsake refs whose data is not in the store is blocked.
    let exp = record_run(&t.alice, 0.3, &[0.5]);
    let refname = format!("{EXPERIMENT_REFS}{}", exp.id);
    let run = git_hooked(
        &t.alice.dir,
        &["push", "origin", &format!("{refname}:{refname}")],
        true,
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("Push blocked"), "{}", run.stderr);
    assert!(!remote_refs(&t.remote).contains(exp.id.as_str()));

    // Through `git keepsake push` the data goes first, and the same ref then passes the hook.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.args(["push", "origin", exp.id.as_str()])
        .current_dir(&t.alice.dir);
    hermetic(&mut cmd, &t.alice.dir);
    cmd.env(
        "PATH",
        format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap()),
    );
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Deleting a ref on the remote needs no data: the hook lets it through.
    let run = git_hooked(
        &t.alice.dir,
        &["push", "origin", &format!(":{refname}")],
        true,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A failing user hook still blocks the push.
    std::fs::write(
        t.alice.dir.join(".githooks/pre-push.keepsake-chained"),
        "#!/bin/sh\nexit 3\n",
    )
    .unwrap();
    let run = git_hooked(&t.alice.dir, &["push", "origin", "main"], true);
    assert_ne!(run.code, 0);
    std::fs::write(
        t.alice.dir.join(".githooks/pre-push.keepsake-chained"),
        user_hook,
    )
    .unwrap();

    // Uninstall puts the user's hook back as it was.
    t.alice.ks(&["uninstall"]).ok();
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).unwrap(),
        user_hook
    );
    assert!(!hooks.join("pre-push.keepsake-chained").exists());
}

#[test]
fn promote_to_a_branch_merge_into_prod_and_check_out_the_weights() {
    let Some(t) = team() else { return };
    let exp = record_run(&t.alice, 0.01, &[0.9, 0.3, 0.6]);
    t.alice.ks(&["push", "origin", exp.id.as_str()]).ok();
    let best = &exp.checkpoints[1];
    t.alice.ks(&["branch", best.id.as_str(), "model-v2"]).ok();
    let run = t
        .alice
        .ks(&["branch", best.id.as_str(), "model-v2"])
        .fails();
    assert!(run.error_line().contains("`model-v2`"), "{}", run.stderr);
    t.alice.git(&["branch", "prod", "main"]);
    t.alice.git(&["checkout", "-q", "prod"]);
    t.alice.git(&["merge", "-q", "--no-edit", "model-v2"]);
    t.alice.git(&["push", "-q", "origin", "prod"]);

    // Bob never pulled the experiment: the pointer on prod is enough.
    git_in(&t.bob, &["fetch", "-q", "origin"]);
    git_in(&t.bob, &["checkout", "-q", "-b", "prod", "origin/prod"]);
    let pointer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.bob.join("keepsake-checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(pointer["checkpoint"], json!(best.id.as_str()));
    assert_eq!(
        pointer["blake3"],
        json!(best.files.as_ref().unwrap().blake3)
    );
    let run = ks_in(&t.bob, &["checkout"]).ok();
    assert!(
        run.stderr.contains("size and hash verified"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(t.bob.join("model.pth")).unwrap(),
        b"weights lr=0.01 step=1\n"
    );
    // Off such a branch, checkout without an ID says what it needs.
    let run = t
        .alice
        .ks(&[
            "checkout",
            "-o",
            t.tmp.path().join("none").to_str().unwrap(),
        ])
        .fails();
    assert!(
        run.error_line().contains("keepsake-checkpoint.json"),
        "{}",
        run.stderr
    );
}
