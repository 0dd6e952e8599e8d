//! Concurrent recorders, storage-only projects and import, codecs, rm and gc.

use keepsake_core::experiments;

use super::*;

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
                let mut exp = create(&project, None, json!({"worker": i}));
                for step in 0..5 {
                    checkpoint(&project, &mut exp, None, step, 1.0 / (step + 1) as f64);
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
    let mut one = experiments::resolve::get_experiment(&project, ids[0].as_str()).unwrap();
    let mut two = one.clone();
    checkpoint(&project, &mut one, None, 10, 0.1);
    checkpoint(&project, &mut two, None, 11, 0.2);
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
    let later = [(
        keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW,
        iso_in_hours(2),
    )];
    let later: Vec<(&str, &str)> = later.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dry = ks_env(&t.dir, &["gc", "--dry-run"], &later).ok();
    let mut listed: Vec<String> = dry.stdout.lines().map(str::to_string).collect();
    listed.sort();
    assert_eq!(listed, expected);
    for key in &expected {
        assert!(store.join(key).exists(), "dry run deleted {key}");
    }
    // Within the grace period (now), nothing is touched: uploads in flight are safe.
    let now = [(
        keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW,
        iso_in_hours(0),
    )];
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
