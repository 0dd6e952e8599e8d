//! End to end: recording through the core into real git repositories, then `ls`, `show`, `diff`,
//! `checkout`, `rm` and `import` through the binary.

mod common;

use common::*;
use keepsake_core::refs::{EXPERIMENT_REFS, NOTES_REF};
use serde_json::{json, Value};

#[test]
fn records_refs_commits_and_notes() {
    let t = TestProject::new(true);
    let head = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    t.write("train.py", "print('uncommitted change')\n");
    let exp = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);

    let refs = t.git(&["for-each-ref", "--format=%(refname)", EXPERIMENT_REFS]);
    assert_eq!(refs.trim(), format!("{EXPERIMENT_REFS}{}", exp.id));
    // A commit per checkpoint on top of the experiment's commit, whose parent is the user's HEAD.
    let log = t.git(&[
        "log",
        "--format=%s",
        &format!("{EXPERIMENT_REFS}{}", exp.id),
    ]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects.len(), 5, "{log}");
    assert!(subjects[3].starts_with("keepsake: experiment "));
    assert_eq!(subjects[4], "Initial project");
    // The snapshot holds the uncommitted change, and not the ignored logs/.
    let root = t.git(&[
        "rev-list",
        "--max-parents=1",
        "--min-parents=1",
        "-n1",
        "--reverse",
        &format!("{EXPERIMENT_REFS}{}~3", exp.id),
    ]);
    let shown = t.git(&["show", &format!("{}:train.py", root.trim())]);
    assert_eq!(shown, "print('uncommitted change')\n");
    let tree = t.git(&["ls-tree", "-r", "--name-only", root.trim()]);
    assert!(!tree.contains("logs/"), "{tree}");
    assert!(tree.contains("run.sh") && tree.contains("data/train.csv"));
    // Notes on the baseline say which experiments ran on it, and on which commit.
    let notes = t.git(&["notes", "--ref", NOTES_REF, "show", &head]);
    assert_eq!(notes, format!("experiment {} {}\n", exp.id, head.trim()));
    // Storage has Keepsake's layout.
    let store = t.dir.join(".git/keepsake/storage");
    assert_eq!(
        std::fs::read_to_string(store.join("repository.json")).unwrap(),
        r#"{"version":1}"#
    );
    assert!(store
        .join(format!("metadata/experiments/{}.json", exp.id))
        .is_file());
    assert!(store
        .join(format!("experiments/{}.tar.gz", exp.id))
        .is_file());
    for c in &exp.checkpoints {
        assert!(store.join(format!("checkpoints/{}.tar.gz", c.id)).is_file());
    }
}

#[test]
fn ls_show_and_json() {
    let t = TestProject::new(true);
    let a = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    let b = record_run(&t, 0.1, &[0.8, 0.6]);
    let table = t.ks(&["ls"]).ok().stdout;
    let expected = format!(
        "EXPERIMENT  STARTED          STATUS   PARAMS    BEST CHECKPOINT   LATEST CHECKPOINT
{}     2 minutes ago    stopped  lr=0.01   {} (step 1)  {} (step 2)
                                           loss=0.5          loss=0.7

{}     2 minutes ago    stopped  lr=0.1    {} (step 1)  {} (step 1)
                                           loss=0.6          loss=0.6

",
        a.id.short(),
        a.checkpoints[1].id.short(),
        a.checkpoints[2].id.short(),
        b.id.short(),
        b.checkpoints[1].id.short(),
        b.checkpoints[1].id.short()
    );
    assert_eq!(normalize_spaces(&table), normalize_spaces(&expected));

    let json = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let first = &json[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, LS_JSON_KEYS);
    assert_eq!(first["id"], json!(a.id.as_str()));
    assert_eq!(first["num_checkpoints"], json!(3));
    assert_eq!(first["best_checkpoint"]["step"], json!(1));
    assert_eq!(first["host"], json!("trainer-1"));

    let quiet = t.ks(&["ls", "-q", "--sort", "-lr"]).ok().stdout;
    assert_eq!(quiet, format!("{}\n{}\n", b.id, a.id));
    let filtered = t
        .ks(&["ls", "-q", "-f", "lr < 0.05", "-f", "step >= 2"])
        .ok()
        .stdout;
    assert_eq!(filtered, format!("{}\n", a.id));
    let err = t.ks(&["ls", "-f", "lr == 1"]).fails();
    assert!(err.error_line().contains("lr == 1"), "{}", err.stderr);

    let show = t.ks(&["show", &a.id.as_str()[..6]]).ok().stdout;
    assert!(
        show.starts_with(&format!("Experiment: {}\n", a.id)),
        "{show}"
    );
    assert!(show.contains("0.5 (best)"), "{show}");
    let show_ckpt = t
        .ks(&["show", "--json", a.checkpoints[2].id.as_str()])
        .ok()
        .json();
    assert_eq!(show_ckpt["step"], json!(2));
    assert!(t.ks(&["ps"]).ok().stdout.is_empty());
}

fn normalize_spaces(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn checkout_restores_code_and_weights_and_refuses_to_clobber() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    let out = t.tmp.path().join("out");
    let best = exp.checkpoints[1].id.as_str();
    t.ks(&["checkout", best, "-o", out.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read_to_string(out.join("model.pth")).unwrap(),
        "weights lr=0.01 step=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("src/model.py")).unwrap(),
        t.read("src/model.py")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(out.join("run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    assert!(!out.join("logs").exists());

    // An experiment restores its code and its best checkpoint's files, as Keepsake does.
    let whole = t.tmp.path().join("code");
    let run = t
        .ks(&["checkout", exp.id.as_str(), "-o", whole.to_str().unwrap()])
        .ok();
    assert!(
        run.stderr.contains(&format!(
            "Checking out files from experiment {} and its best checkpoint {}",
            exp.id.short(),
            &best[..7]
        )),
        "{}",
        run.stderr
    );
    assert!(whole.join("train.py").is_file());
    assert_eq!(
        std::fs::read_to_string(whole.join("model.pth")).unwrap(),
        "weights lr=0.01 step=1\n"
    );

    // Into the project: model.pth differs (it holds step 2), so it is refused and listed.
    let run = t.ks(&["checkout", best]).fails();
    assert!(run.error_line().contains("model.pth"), "{}", run.stderr);
    assert_eq!(t.read("model.pth"), "weights lr=0.01 step=2\n");
    t.ks(&["checkout", best, "-f"]).ok();
    assert_eq!(t.read("model.pth"), "weights lr=0.01 step=1\n");

    // --path takes a whole directory, not its first file.
    let only = t.tmp.path().join("only");
    t.ks(&[
        "checkout",
        best,
        "-o",
        only.to_str().unwrap(),
        "--path",
        "src",
    ])
    .ok();
    assert!(only.join("src/model.py").is_file() && !only.join("train.py").exists());
}

#[test]
fn diff_shows_params_metrics_and_code() {
    let t = TestProject::new(true);
    let a = record_run(&t, 0.01, &[0.9, 0.5]);
    t.write(
        "src/model.py",
        "def build(hidden):\n    return {\"hidden\": hidden * 2}\n",
    );
    let b = record_run(&t, 0.1, &[0.8]);
    let text = t.ks(&["diff", a.id.as_str(), b.id.as_str()]).ok().stdout;
    assert!(text.contains("lr:"), "{text}");
    assert!(
        text.contains("+    return {\"hidden\": hidden * 2}"),
        "{text}"
    );
    let json = t
        .ks(&["diff", "--json", a.id.as_str(), b.id.as_str()])
        .ok()
        .json();
    assert_eq!(json["params"]["lr"], json!(["0.01", "0.1"]));
    assert_eq!(json["metrics"]["loss"], json!(["0.5", "0.8"]));
    assert!(json["code"].as_str().unwrap().contains("src/model.py"));
}

#[test]
fn rm_removes_refs_notes_and_storage() {
    let t = TestProject::new(true);
    let head = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    let a = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    let b = record_run(&t, 0.1, &[0.8]);
    let store = t.dir.join(".git/keepsake/storage");

    // Without a terminal and without --yes nothing is deleted.
    t.ks(&["rm", a.id.as_str()]).fails();
    assert!(store
        .join(format!("metadata/experiments/{}.json", a.id))
        .is_file());

    let gone = &a.checkpoints[1];
    t.ks(&["rm", "--yes", gone.id.as_str()]).ok();
    assert!(!store
        .join(format!("checkpoints/{}.tar.gz", gone.id))
        .exists());
    let shown = t.ks(&["show", "--json", a.id.as_str()]).ok().json();
    let steps: Vec<i64> = shown["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [0, 2]);
    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls[0]["num_checkpoints"], json!(2));
    assert_eq!(ls[0]["best_checkpoint"]["step"], json!(2));

    t.ks(&["rm", "--yes", a.id.as_str()]).ok();
    assert_eq!(t.ks(&["ls", "-q"]).ok().stdout, format!("{}\n", b.id));
    assert!(!store
        .join(format!("metadata/experiments/{}.json", a.id))
        .exists());
    assert!(!store.join(format!("experiments/{}.tar.gz", a.id)).exists());
    for c in &a.checkpoints {
        assert!(!store.join(format!("checkpoints/{}.tar.gz", c.id)).exists());
    }
    let notes = t.git(&["notes", "--ref", NOTES_REF, "show", &head]);
    assert_eq!(notes, format!("experiment {} {}\n", b.id, head.trim()));
}

#[test]
fn concurrent_recorders_lose_nothing() {
    let t = TestProject::new(true);
    let head = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    let dir = t.dir.clone();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let project = keepsake_core::Project::open(&keepsake_core::OpenOptions {
                    cwd: dir,
                    ..Default::default()
                })
                .unwrap();
                let mut exp = keepsake_core::experiments::create::create_experiment(
                    &project,
                    new_experiment(None, json!({"worker": i})),
                )
                .unwrap();
                for step in 0..5 {
                    keepsake_core::experiments::checkpoint::create_checkpoint(
                        &project,
                        &mut exp,
                        new_checkpoint(None, step, 1.0 / (step + 1) as f64),
                    )
                    .unwrap();
                }
                exp.id
            })
        })
        .collect();
    let ids: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls.as_array().unwrap().len(), 8);
    assert!(ls
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["num_checkpoints"] == json!(5)));
    let notes = t.git(&["notes", "--ref", NOTES_REF, "show", &head]);
    for id in &ids {
        assert!(
            notes.contains(&format!("experiment {id}")),
            "missing {id} in notes:\n{notes}"
        );
    }
    assert_eq!(notes.lines().count(), 8);

    // Two recorders appending to the same experiment: both checkpoints survive.
    let project = t.project();
    let mut one =
        keepsake_core::experiments::read::get_experiment(&project, ids[0].as_str()).unwrap();
    let mut two = one.clone();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut one,
        new_checkpoint(None, 10, 0.1),
    )
    .unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut two,
        new_checkpoint(None, 11, 0.2),
    )
    .unwrap();
    let shown = t.ks(&["show", "--json", ids[0].as_str()]).ok().json();
    assert_eq!(shown["checkpoints"].as_array().unwrap().len(), 7);
}

#[test]
fn storage_only_outside_git_then_import_is_idempotent() {
    let t = TestProject::new(false);
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    let exp = record_run(&t, 0.01, &[0.9, 0.5]);
    // Storage-only listing works without git.
    assert_eq!(t.ks(&["ls", "-q"]).ok().stdout, format!("{}\n", exp.id));
    let run = t.ks(&["import"]).fails();
    assert!(
        run.error_line().contains("needs a git repository"),
        "{}",
        run.stderr
    );

    t.git(&["init", "-q", "."]);
    let before_import = t.ks(&["ls", "-q"]).ok();
    assert_eq!(before_import.stdout, "");
    assert!(
        before_import.stderr.contains("1 experiment(s) in file://"),
        "{}",
        before_import.stderr
    );
    assert!(before_import.stderr.contains("git keepsake import"));
    let first = t.ks(&["import"]).ok();
    assert!(first.stdout.contains(exp.id.as_str()), "{}", first.stdout);
    let second = t.ks(&["import"]).ok();
    assert!(second.stdout.is_empty(), "{}", second.stdout);
    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls[0]["num_checkpoints"], json!(2));
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, exp.checkpoints[1].id.as_str(), &out, "model.pth"),
        "weights lr=0.01 step=1\n"
    );
}

#[test]
fn zstd_is_an_option_and_both_are_read() {
    let t = TestProject::new(true);
    let gz = record_run(&t, 0.01, &[0.9]);
    t.write(
        "keepsake.yaml",
        "repository: file://.keepsake\ncompression: zstd\n",
    );
    t.write(".gitignore", ".keepsake/\nlogs/\n*.pth\n");
    let zst = record_run(&t, 0.02, &[0.8]);
    let store = t.dir.join(".keepsake");
    assert!(store
        .join(format!("checkpoints/{}.tar.zst", zst.checkpoints[0].id))
        .is_file());
    // The first experiment went to the default store before keepsake.yaml existed.
    assert!(t
        .dir
        .join(format!(
            ".git/keepsake/storage/checkpoints/{}.tar.gz",
            gz.checkpoints[0].id
        ))
        .is_file());
    let out = t.tmp.path().join("out");
    t.ks(&[
        "checkout",
        zst.checkpoints[0].id.as_str(),
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("model.pth")).unwrap(),
        "weights lr=0.02 step=0\n"
    );
    let config = t.ks(&["config"]).ok().stdout;
    assert!(
        config.contains("zstd") && config.contains(".keepsake"),
        "{config}"
    );
}

#[test]
fn config_names_the_default_store() {
    let t = TestProject::new(true);
    let config = t.ks(&["config"]).ok().stdout;
    assert!(config.contains(".git/keepsake/storage"), "{config}");
    assert!(config.contains("default"), "{config}");
}

#[test]
fn filters_on_nested_params_metrics_status_user_and_created() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut small = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"model": {"dropout": 0.1, "name": "mlp"}})),
    )
    .unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut small,
        new_checkpoint(None, 0, 0.4),
    )
    .unwrap();
    let big = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"model": {"dropout": 0.6, "name": "cnn"}})),
    )
    .unwrap();
    let q = |f: &str| t.ks(&["ls", "-q", "-f", f]).ok().stdout;
    assert_eq!(q("model.dropout < 0.5"), format!("{}\n", small.id));
    assert_eq!(q("model.name = cnn"), format!("{}\n", big.id));
    assert_eq!(q("loss <= 0.4"), format!("{}\n", small.id));
    assert_eq!(q("loss = None"), format!("{}\n", big.id));
    assert_eq!(q("status = stopped").lines().count(), 2);
    assert_eq!(q("user = ada").lines().count(), 2);
    assert_eq!(q("created > 2026-02-28").lines().count(), 2);
    assert_eq!(q("created < 2026-02-28"), "");
    let run = t.ks(&["ls", "-f", "model.name > 1"]).fails();
    assert!(
        run.error_line()
            .contains("Comparing values of different types: string and int"),
        "{}",
        run.stderr
    );
    let run = t.ks(&["ls", "--sort", "model"]).fails();
    assert!(
        run.error_line().contains("sort key `model`"),
        "{}",
        run.stderr
    );
}

#[test]
fn apply_brings_code_and_params_without_clobbering() {
    let t = TestProject::new(true);
    t.write(
        "src/model.py",
        "def build(hidden):\n    return {\"hidden\": hidden + 1}\n",
    );
    let exp = record_run(&t, 0.02, &[0.5]);
    t.git(&["checkout", "--", "src/model.py"]);
    t.write("train.py", "print('my uncommitted work')\n");
    let run = t.ks(&["apply", exp.id.as_str()]).fails();
    assert!(
        run.error_line().contains("train.py") && !run.error_line().contains("src/model.py"),
        "{}",
        run.stderr
    );
    assert_eq!(t.read("train.py"), "print('my uncommitted work')\n");
    t.git(&["checkout", "--", "train.py"]);
    t.ks(&["apply", exp.id.as_str()]).ok();
    assert!(t.read("src/model.py").contains("hidden + 1"));
    let params: serde_json::Value = serde_json::from_str(&t.read("keepsake-params.json")).unwrap();
    assert_eq!(params, json!({"layers": 2, "lr": 0.02}));
    // Nothing was committed.
    assert_eq!(t.git(&["log", "--format=%s"]).trim(), "Initial project");
}

#[test]
fn gc_deletes_exactly_what_nothing_references_after_the_grace_period() {
    let t = TestProject::new(true);
    let keep = record_run(&t, 0.01, &[0.5, 0.4]);
    let gone = record_run(&t, 0.02, &[0.6, 0.3]);
    let store = t.dir.join(".git/keepsake/storage");
    // A checkpoint of `gone` promoted to a branch stays, whatever happens to `gone`'s ref.
    t.ks(&["branch", gone.checkpoints[1].id.as_str(), "model"])
        .ok();
    // An orphan tarball, as an upload whose process died before recording it leaves.
    let orphan = format!("checkpoints/{}.tar.gz", keepsake_core::Id::generate());
    std::fs::write(store.join(&orphan), b"orphan").unwrap();
    // And the hidden capture file of a training process killed while capturing.
    let capture = "checkpoints/.keepsake-capture-x1y2z3".to_string();
    std::fs::write(store.join(&capture), b"partial").unwrap();
    // `gone`'s ref and metadata are removed, its tarballs left (as `rm` in another clone
    // sharing this store does, when it is killed half-way: metadata first, data last).
    t.git(&["update-ref", "-d", &format!("{EXPERIMENT_REFS}{}", gone.id)]);
    std::fs::remove_file(store.join(format!("metadata/experiments/{}.json", gone.id))).unwrap();

    let mut expected = vec![
        orphan.clone(),
        capture.clone(),
        format!("experiments/{}.tar.gz", gone.id),
        format!("checkpoints/{}.tar.gz", gone.checkpoints[0].id),
    ];
    expected.sort();
    let later = [(keepsake_core::clock::NOW_ENV, iso_in_hours(2))];
    let later: Vec<(&str, &str)> = later.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dry = ks_env(&t.dir, &["gc", "--dry-run"], &later).ok();
    let mut listed: Vec<String> = dry.stdout.lines().map(str::to_string).collect();
    listed.sort();
    assert_eq!(listed, expected);
    for key in &expected {
        assert!(store.join(key).exists(), "dry run deleted {key}");
    }
    // Within the grace period (now), nothing is touched: uploads in flight are safe.
    let now = [(keepsake_core::clock::NOW_ENV, iso_in_hours(0))];
    let now: Vec<(&str, &str)> = now.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(ks_env(&t.dir, &["gc"], &now).ok().stdout, "");
    assert!(store.join(&orphan).exists());

    ks_env(&t.dir, &["gc"], &later).ok();
    for key in &expected {
        assert!(!store.join(key).exists(), "{key} survived");
    }
    assert!(store
        .join(format!("checkpoints/{}.tar.gz", gone.checkpoints[1].id))
        .exists());
    for c in &keep.checkpoints {
        assert!(store.join(format!("checkpoints/{}.tar.gz", c.id)).exists());
    }
    let out = t.tmp.path().join("out");
    t.ks(&[
        "checkout",
        keep.checkpoints[1].id.as_str(),
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(ks_env(&t.dir, &["gc", "--dry-run"], &later).ok().stdout, "");
}

fn iso_in_hours(h: i64) -> String {
    keepsake_core::clock::format(&(chrono::Utc::now() + chrono::Duration::hours(h)))
}

#[test]
fn long_histories_are_cached_and_the_cache_never_changes_the_answer() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
    for step in 0..300 {
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut exp,
            new_checkpoint(None, step, 1.0 / (step + 1) as f64),
        )
        .unwrap();
    }
    let show = |id: &str| ks_in(&t.dir, &["show", "--json", id]).ok().stdout;
    let walked = show(exp.id.as_str());
    let cache = t.dir.join(".git/keepsake/history").join(exp.id.as_str());
    assert!(cache.is_file(), "a 300-checkpoint history is cached");
    // Read from the cache: the same answer.
    assert_eq!(show(exp.id.as_str()), walked);
    // New checkpoints: the walk stops at the cached tip and the rest comes from the cache.
    for step in 300..302 {
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut exp,
            new_checkpoint(None, step, 0.5),
        )
        .unwrap();
    }
    let grown: Value = serde_json::from_str(&show(exp.id.as_str())).unwrap();
    let steps: Vec<i64> = grown["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, (0..302).collect::<Vec<_>>());
    let with_cache = show(exp.id.as_str());
    // A corrupt cache, or one whose tip is not on the experiment's history, is walked past.
    for bad in [
        "garbage",
        &format!("{} {}\n{{}}\n", "0".repeat(40), "0".repeat(40)),
    ] {
        std::fs::write(&cache, bad).unwrap();
        assert_eq!(show(exp.id.as_str()), with_cache);
    }
    t.ks(&["rm", "--yes", exp.id.as_str()]).ok();
    assert!(!cache.exists(), "removing the experiment removes its cache");
}
