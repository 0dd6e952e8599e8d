//! Recording, then reading back: refs, commits, notes, ls, show, diff, filters, history caches.

use super::*;

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
    // The table, `show` and the filter error are whole-output snapshots in output.rs.
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
    let show_ckpt = t
        .ks(&["show", "--json", a.checkpoints[2].id.as_str()])
        .ok()
        .json();
    assert_eq!(show_ckpt["step"], json!(2));
    assert!(t.ks(&["ps"]).ok().stdout.is_empty());
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
    // The text form is the `diff` snapshot in output.rs.
    let json = t
        .ks(&["diff", "--json", a.id.as_str(), b.id.as_str()])
        .ok()
        .json();
    assert_eq!(json["params"]["lr"], json!(["0.01", "0.1"]));
    assert_eq!(json["metrics"]["loss"], json!(["0.5", "0.8"]));
    assert!(json["code"].as_str().unwrap().contains("src/model.py"));
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
    let mut small = create(
        &project,
        None,
        json!({"model": {"dropout": 0.1, "name": "mlp"}}),
    );
    checkpoint(&project, &mut small, None, 0, 0.4);
    let big = create(
        &project,
        None,
        json!({"model": {"dropout": 0.6, "name": "cnn"}}),
    );
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
fn long_histories_are_cached_and_the_cache_never_changes_the_answer() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exp = create(&project, None, json!({"lr": 0.1}));
    for step in 0..300 {
        checkpoint(&project, &mut exp, None, step, 1.0 / (step + 1) as f64);
    }
    let show = |id: &str| ks_in(&t.dir, &["show", "--json", id]).ok().stdout;
    let walked = show(exp.id.as_str());
    let cache = t.dir.join(".git/keepsake/history").join(exp.id.as_str());
    assert!(cache.is_file(), "a 300-checkpoint history is cached");
    // Read from the cache: the same answer.
    assert_eq!(show(exp.id.as_str()), walked);
    // New checkpoints: the walk stops at the cached tip and the rest comes from the cache.
    for step in 300..302 {
        checkpoint(&project, &mut exp, None, step, 0.5);
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
