//! gc on a store several clones share: what it keeps, what it refuses, what it deletes.

use keepsake_core::sharing;

use super::*;

/// The CLI's clock at the real time plus `hours`, so that file times and the grace period meet.
fn at(hours: i64) -> [(&'static str, String); 1] {
    [(
        keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW,
        keepsake_core::clock::format(&(chrono::Utc::now() + chrono::Duration::hours(hours))),
    )]
}

fn ks_at(dir: &Path, args: &[&str], hours: i64, extra: &[(&str, &str)]) -> Run {
    let clock = at(hours);
    let mut env: Vec<(&str, &str)> = clock.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    ks_env(dir, args, &env)
}

fn store_keys(url: &str) -> Vec<String> {
    storage::Store::open(&StorageUrl::parse(url, Path::new("/")).unwrap())
        .unwrap()
        .list("")
        .unwrap()
}

/// Two clones (a bare remote between them) writing to the store at `url`, each with an
/// experiment the other has never seen.
fn two_clones(url: &str) -> (TestProject, TestProject, tempfile::TempDir) {
    let alice = TestProject::new(true);
    let remote = alice.publish();
    let tmp = tempfile::tempdir().unwrap();
    let bob = TestProject {
        dir: tmp.path().join("bob"),
        tmp: tempfile::tempdir().unwrap(),
    };
    git_in(
        tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.dir.to_str().unwrap(),
        ],
    );
    for t in [&alice, &bob] {
        t.write("keepsake.yaml", &format!("repository: {url}\n"));
    }
    (alice, bob, tmp)
}

fn clones_keep_each_others_experiments(url: &str) {
    let (alice, bob, _tmp) = two_clones(url);
    let a = record_run(&alice, 0.1, &[0.5, 0.4]);
    let b = record_run(&bob, 0.2, &[0.6, 0.3]);
    let before = store_keys(url);
    assert!(before.len() >= 9, "{before:?}");
    for t in [&alice, &bob] {
        let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
        assert_eq!(run.stdout, "", "{}", run.stderr);
        assert!(
            run.stderr
                .contains("Kept 1 experiment(s) only the store knows"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(store_keys(url), before);
    for (t, exp) in [(&alice, &a), (&bob, &b)] {
        assert_eq!(t.ks(&["ls", "-q"]).ok().stdout, format!("{}\n", exp.id));
        let out = t.tmp.path().join(format!("out-{}", exp.id.short()));
        assert_eq!(
            checkout_text(&t.dir, exp.checkpoints[1].id.as_str(), &out, "model.pth"),
            t.read("model.pth")
        );
    }
    // And each can still import the other's: nothing it needed was deleted.
    let imported = bob.ks(&["import"]).ok().stdout;
    assert!(imported.contains(a.id.as_str()), "{imported}");
    let out = bob.tmp.path().join("alice-best");
    assert_eq!(
        checkout_text(&bob.dir, a.checkpoints[1].id.as_str(), &out, "model.pth"),
        "weights lr=0.1 step=1\n"
    );
}

#[test]
fn two_clones_on_one_directory_store_keep_each_others_experiments_through_gc() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().join("team-store").display());
    clones_keep_each_others_experiments(&url);
}

#[test]
fn two_clones_on_one_s3_store_keep_each_others_experiments_through_gc() {
    if require_env("KEEPSAKE_TEST_S3_ENDPOINT").is_none() {
        return;
    }
    let url = format!("s3://keepsake-test/shared-{}", Id::generate().short());
    clones_keep_each_others_experiments(&url);
}

/// A project whose store holds the Keepsake 0.4.2 fixture's experiments (never imported) and
/// one experiment of its own.
fn project_with_keepsake_experiments() -> (TestProject, keepsake_core::Experiment) {
    let t = TestProject::new(true);
    let out = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("fixtures/keepsake-0.4.2/project/.keepsake"))
        .arg(t.dir.join(".keepsake"))
        .output()
        .unwrap();
    assert!(out.status.success());
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    let ours = record_run(&t, 0.3, &[0.2]);
    (t, ours)
}

#[test]
fn unimported_keepsake_experiments_survive_gc_and_pruning_them_lists_asks_then_deletes() {
    let (t, ours) = project_with_keepsake_experiments();
    let store = t.dir.join(".keepsake");
    let before = files_under(&store);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("Kept 3 experiment(s) only the store knows"),
        "{}",
        run.stderr
    );
    assert_eq!(files_under(&store), before);

    // The explicit option lists them first; without a terminal or --yes it deletes nothing.
    let fixture_ids =
        std::fs::read_to_string(repo_root().join("fixtures/keepsake-0.4.2/fixture-ids.env"))
            .unwrap();
    let id = |name: &str| {
        fixture_ids
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let dry = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only", "--dry-run"],
        1,
        &[],
    )
    .ok();
    for exp in ["EXP_A", "EXP_B", "EXP_C"] {
        assert!(
            dry.stderr
                .contains(&format!("experiment {}", &id(exp)[..7])),
            "{}",
            dry.stderr
        );
        assert!(dry
            .stdout
            .contains(&format!("metadata/experiments/{}.json", id(exp))));
    }
    assert!(dry
        .stdout
        .contains(&format!("checkpoints/{}.tar.gz", id("CHK_A1"))));
    assert!(!dry.stdout.contains(ours.id.as_str()), "{}", dry.stdout);
    let refused = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only"],
        1,
        &[],
    )
    .fails();
    assert!(
        refused.error_line().contains("Nothing deleted"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains(&id("EXP_B")[..7]));
    assert_eq!(files_under(&store), before);

    let pruned = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only", "--yes"],
        1,
        &[],
    )
    .ok();
    assert_eq!(pruned.stdout, dry.stdout);
    let left: Vec<String> = files_under(&store).into_keys().collect();
    assert!(
        left.iter().all(|k| !["EXP_A", "EXP_B", "EXP_C", "CHK_A1"]
            .iter()
            .any(|n| k.contains(&id(n)))),
        "{left:?}"
    );
    assert!(left.contains(&format!("metadata/experiments/{}.json", ours.id)));
    let out = t.tmp.path().join("ours");
    assert_eq!(
        checkout_text(&t.dir, ours.checkpoints[0].id.as_str(), &out, "model.pth"),
        "weights lr=0.3 step=0\n"
    );
}

#[test]
fn gc_refuses_on_metadata_or_a_ref_it_cannot_read_and_deletes_nothing() {
    let (t, _ours) = project_with_keepsake_experiments();
    let store = t.dir.join(".keepsake");
    let orphan = store.join(format!("checkpoints/{}.tar.gz", Id::generate()));
    std::fs::write(&orphan, "orphan").unwrap();
    let bad = format!("metadata/experiments/{}.json", Id::generate());
    std::fs::write(store.join(&bad), r#"{"id": "x", "checkpoints": [{"id": "#).unwrap();
    let before = files_under(&store);
    for args in [
        &["gc", "--grace", "0"][..],
        &["gc", "--grace", "0", "--prune-store-only", "--yes"],
    ] {
        let run = ks_at(&t.dir, args, 1, &[]).fails();
        assert!(run.error_line().contains(&bad), "{}", run.stderr);
        assert_eq!(files_under(&store), before);
    }
    std::fs::remove_file(store.join(&bad)).unwrap();

    // A ref whose commit holds no record.
    let tree = t.git(&["write-tree"]);
    let commit = t.git(&["commit-tree", tree.trim(), "-m", "not a record"]);
    let name = format!("{EXPERIMENT_REFS}{}", Id::generate());
    t.git(&["update-ref", &name, commit.trim()]);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).fails();
    assert!(run.error_line().contains(&name), "{}", run.stderr);
    assert_eq!(run.error_count(), 1, "{}", run.stderr);
    assert!(orphan.exists());
    t.git(&["update-ref", "-d", &name]);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
    assert!(run
        .stdout
        .contains(orphan.file_name().unwrap().to_str().unwrap()));
    assert!(!orphan.exists());
}

#[test]
fn gc_removes_temp_files_crashed_writers_left_once_past_the_grace_period() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    let store = t.dir.join(".git/keepsake/storage");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    let left = [
        format!("metadata/experiments/.{}.json.tmp-4242-7", exp.id),
        format!("metadata/heartbeats/{}.json#3", exp.id),
        "checkpoints/.keepsake-capture-Xy12ab".to_string(),
        format!("checkpoints/.{}.tar.gz.tmp-4242-8", Id::generate()),
        ".repository.json.tmp-4242-9".to_string(),
    ];
    for key in &left {
        std::fs::create_dir_all(store.join(key).parent().unwrap()).unwrap();
        let f = std::fs::File::create(store.join(key)).unwrap();
        f.set_modified(old).unwrap();
    }
    // One still being written (fresh) stays.
    let fresh = format!("checkpoints/.{}.tar.gz.tmp-4243-0", Id::generate());
    std::fs::write(store.join(&fresh), "in flight").unwrap();
    let listed = ks_at(&t.dir, &["ls", "-q"], 0, &[]).ok().stdout;
    assert_eq!(listed, format!("{}\n", exp.id));

    let run = ks_at(&t.dir, &["gc"], 0, &[]).ok();
    let mut got: Vec<&str> = run.stdout.lines().collect();
    got.sort();
    let mut want: Vec<&str> = left.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want, "{}", run.stderr);
    for key in &left {
        assert!(!store.join(key).exists(), "{key}");
    }
    assert!(store.join(&fresh).exists());
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, exp.checkpoints[0].id.as_str(), &out, "model.pth"),
        "weights lr=0.1 step=0\n"
    );
}

#[test]
fn gc_after_a_prompt_deletes_only_what_is_still_unreferenced() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    let store = t.dir.join(".git/keepsake/storage");
    let (claimed, orphan) = (Id::generate(), Id::generate());
    for id in [&claimed, &orphan] {
        std::fs::write(store.join(format!("checkpoints/{id}.tar.gz")), "data").unwrap();
    }
    let project = t.project();
    let options = sharing::gc::GcOptions {
        grace: std::time::Duration::ZERO,
        prune_store_only: false,
    };
    let plan = sharing::gc::plan(&project, options).unwrap();
    assert_eq!(plan.unreferenced.len(), 2, "{:?}", plan.unreferenced);
    // Meanwhile a teammate's experiment comes to name one of them.
    let teammate = Id::generate();
    std::fs::write(
        store.join(format!("metadata/experiments/{teammate}.json")),
        format!(r#"{{"id":"{teammate}","checkpoints":[{{"id":"{claimed}"}}]}}"#),
    )
    .unwrap();
    let done = sharing::gc::apply(&project, &plan, options).unwrap();
    assert_eq!(
        done.unreferenced,
        [(format!("checkpoints/{orphan}.tar.gz"), 4)]
    );
    assert!(store.join(format!("checkpoints/{claimed}.tar.gz")).exists());
    assert!(!store.join(format!("checkpoints/{orphan}.tar.gz")).exists());
    assert!(store
        .join(format!("checkpoints/{}.tar.gz", exp.checkpoints[0].id))
        .exists());
}
