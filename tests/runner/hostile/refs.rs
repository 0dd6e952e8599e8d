//! Hostile refs and records: impostors, unreadable refs, fake histories and odd IDs.

use super::*;

/// Row 5: a pulled ref whose records say they are the victim's experiment.
#[test]
fn a_ref_is_its_name_and_rm_of_an_impostor_spares_the_victim() {
    let s = scene();
    let impostor = s.craft(&["mismatched-id", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let ls = t.ks(&["ls"]).ok();
    assert!(
        ls.stderr
            .contains(&format!("refs/keepsake/experiments/{impostor}")),
        "{}",
        ls.stderr
    );
    let run = t.ks(&["show", &impostor[..10]]).fails();
    error_names(&run, &impostor);
    let before = files_under(&store(t));
    t.ks(&["rm", &impostor[..10], "--yes"]).ok();
    assert!(t
        .git(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/keepsake/experiments/"
        ])
        .lines()
        .all(|r| !r.ends_with(&impostor)));
    assert_eq!(
        files_under(&store(t)),
        before,
        "the victim's data was touched"
    );
    s.assert_victim_intact();
}

/// Row 6: one ref pointing at a blob.
#[test]
fn one_unreadable_ref_leaves_every_other_experiment_usable() {
    let s = scene();
    let bad = s.craft(&["ref-to-blob"]);
    s.fetch_raw();
    let t = &s.victim;
    let ls = t.ks(&["ls"]).ok();
    assert!(ls.stderr.contains(&bad), "{}", ls.stderr);
    s.assert_victim_intact();
    let best = s.exp.best().unwrap().id.to_string();
    t.ks(&["show", &best]).ok();
    let run = t.ks(&["show", &bad[..12]]).fails();
    error_names(&run, &bad);
    assert!(run.stderr.contains("git update-ref -d"), "{}", run.stderr);
    t.ks(&["rm", &bad[..12], "--yes"]).ok();
    assert!(!t.ks(&["ls"]).ok().stderr.contains(&bad));
    t.ks(&["gc", "--grace", "0"]).ok();
    s.assert_victim_intact();
}

/// Row 7: a fast-forward whose tip claims to be the experiment's first commit.
#[test]
fn a_fake_first_commit_hides_nothing_and_deletes_nothing() {
    let s = scene();
    s.craft(&["fake-root", s.victim_id()]);
    let t = &s.victim;
    let before = files_under(&store(t));
    // Seen through the remote: reported, never listed as an experiment with no checkpoints.
    let ls = t.ks(&["ls", "--remote", "origin", "--json"]);
    assert!(ls.stderr.contains("first commit"), "{}", ls.stderr);
    assert!(!ls.stdout.contains(s.victim_id()), "{}", ls.stdout);
    let gc = t.ks(&["gc", "--grace", "0"]);
    assert!(!gc.stderr.contains("panicked"), "{}", gc.stderr);
    assert_eq!(
        files_under(&store(t)),
        before,
        "gc deleted the victim's data"
    );
    // `pull` refuses it, naming the experiment, and leaves the local ref where it was.
    let victim_ref = format!("refs/keepsake/experiments/{}", s.victim_id());
    let tip = t.git(&["rev-parse", &victim_ref]);
    let pull = t.ks(&["pull", "origin"]).fails();
    assert!(pull.stderr.contains(s.exp.id.short()), "{}", pull.stderr);
    assert_eq!(t.git(&["rev-parse", &victim_ref]), tip);
    s.assert_victim_intact();
    // Fetched by hand, it is refused locally too.
    s.fetch_raw();
    let ls = t.ks(&["ls"]).ok();
    assert!(ls.stderr.contains("first commit"), "{}", ls.stderr);
    let gc = t.ks(&["gc", "--grace", "0"]);
    assert!(!gc.stderr.contains("panicked"), "{}", gc.stderr);
    assert_eq!(
        files_under(&store(t)),
        before,
        "gc deleted the victim's data"
    );
}

/// Row 9: a record whose ID is `ééééééé`; remote refs `ab` and `abc` then `pull origin a`.
#[test]
fn odd_ids_and_short_ref_names_never_panic() {
    let s = scene();
    let bad = s.craft(&["non-hex-id", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let ls = t.ks(&["ls"]).ok();
    assert!(ls.stderr.contains(&bad), "{}", ls.stderr);
    let run = t.ks(&["show", &bad[..8]]).fails();
    error_names(&run, &bad);
    for short in ["ab", "abc"] {
        s.attacker_ref(short, &s.attacker_tip());
    }
    git_in(
        &s.attacker,
        &["push", "-q", "origin", "refs/keepsake/*:refs/keepsake/*"],
    );
    for args in [
        vec!["pull", "origin", "a"],
        vec!["pull", "origin"],
        vec!["ls", "--remote", "origin"],
    ] {
        let run = t.ks(&args);
        assert_ne!(run.code, 101, "{args:?} panicked: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
    s.assert_victim_intact();
}

/// A pulled experiment whose records claim the victim's checkpoint IDs: the clash is reported
/// (naming both experiments, never silently the impostor's), and removing the impostor, or gc,
/// leaves the victim's data alone.
#[test]
fn an_experiment_claiming_the_victims_checkpoints_hides_and_deletes_nothing() {
    let s = scene();
    let impostor = s.craft(&["same-checkpoints", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let before = files_under(&store(t));
    let best = s.exp.best().unwrap().id.to_string();
    let out = t.tmp.path().join("out-cp");
    let run = t
        .ks(&["checkout", &best, "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, &impostor[..7]);
    assert!(
        run.error_line().contains(s.exp.id.short()),
        "{}",
        run.stderr
    );
    assert!(files_under(&out).is_empty());
    t.ks(&["rm", &impostor[..12], "--yes"]).ok();
    t.ks(&["gc", "--grace", "0"]).ok();
    assert_eq!(
        files_under(&store(t)),
        before,
        "the victim's data was touched"
    );
    s.assert_victim_intact();
    let out = t.tmp.path().join("out-cp2");
    assert_eq!(
        checkout_text(&t.dir, &best, &out, "model.pth"),
        "weights lr=0.01 step=1\n"
    );
}

/// Records with numbers at the edges: huge, negative zero, the largest step, deep nesting.
#[test]
fn records_with_extreme_numbers_never_panic() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let nested = (0..100).fold(json!(1), |v, _| json!([v]));
    craft_checkpoint_commit(&t.dir, exp.id.as_str(), |r| {
        let mut c = r["checkpoint"].clone();
        c["id"] = json!("c".repeat(64));
        c["step"] = json!(i64::MAX);
        c["metrics"] = json!({"loss": 1.7976931348623157e308, "accuracy": -0.0, "deep": nested});
        c["path"] = json!("");
        r["checkpoint"] = c;
        r["checkpoint_files"] = Value::Null;
        r["num_checkpoints"] = json!(u64::MAX);
    });
    for args in [
        vec!["ls"],
        vec!["ls", "--json"],
        vec!["ls", "--filter", "loss < 1e309"],
        vec!["show", exp.id.as_str()],
        vec!["show", "cccccccc"],
        vec!["diff", exp.id.as_str(), "cccccccc"],
        vec!["gc", "--grace", "0"],
    ] {
        let run = t.ks(&args);
        assert_ne!(run.code, 101, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
}

/// A tip whose summary (what `ls` reads instead of the history) misstates its history: a count
/// of 2**64-1 and a best checkpoint that is not in it. `pull` refuses it and `ls --remote`
/// reports it, so no listing ever shows it; `show` reads the history itself.
#[test]
fn a_tip_record_cannot_misstate_its_history_in_ls() {
    let s = scene();
    craft_checkpoint_commit(&s.attacker, s.victim_id(), |r| {
        let mut c = r["checkpoint"].clone();
        c["id"] = json!("c".repeat(64));
        c["step"] = json!(1);
        c["path"] = json!("");
        r["checkpoint"] = c.clone();
        r["checkpoint_files"] = Value::Null;
        r["num_checkpoints"] = json!(u64::MAX);
        let mut fake = c;
        fake["id"] = json!("f".repeat(64));
        fake["metrics"] = json!({"loss": 0.0, "accuracy": 1.0});
        r["best"] = fake;
    });
    git_in(
        &s.attacker,
        &["push", "-q", "origin", "refs/keepsake/*:refs/keepsake/*"],
    );
    let t = &s.victim;
    let remote = t.ks(&["ls", "--remote", "origin", "--json"]).ok();
    assert!(remote.stderr.contains("counts"), "{}", remote.stderr);
    assert!(
        !remote.stdout.contains(&"f".repeat(64)),
        "{}",
        remote.stdout
    );
    let pull = t.ks(&["pull", "origin"]).fails();
    assert!(pull.stderr.contains(s.exp.id.short()), "{}", pull.stderr);
    s.assert_victim_intact();
    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls[0]["num_checkpoints"], json!(2), "{ls}");
}

/// A ref nested under the experiments namespace whose last part is the victim's ID
/// (`refs/keepsake/experiments/x/<victim>`): never a second copy of the victim's experiment.
#[test]
fn a_nested_ref_named_like_the_victim_is_not_the_victim() {
    let s = scene();
    let tip = s.attacker_tip();
    craft_checkpoint_commit(&s.attacker, s.victim_id(), |r| {
        let mut c = r["checkpoint"].clone();
        c["id"] = json!("d".repeat(64));
        c["step"] = json!(7);
        c["metrics"] = json!({"loss": 0.0001, "accuracy": 0.9999});
        c["path"] = json!("");
        r["checkpoint"] = c.clone();
        r["checkpoint_files"] = Value::Null;
        r["num_checkpoints"] = json!(3);
        r["best"] = c.clone();
        r["latest"] = c;
    });
    let fake = s.attacker_tip();
    // The victim's ref back as it was; the crafted history under a nested name.
    s.attacker_ref(s.victim_id(), &tip);
    s.attacker_ref(&format!("x/{}", s.victim_id()), &fake);
    git_in(
        &s.attacker,
        &[
            "push",
            "-q",
            "--force",
            "origin",
            "refs/keepsake/*:refs/keepsake/*",
        ],
    );
    let t = &s.victim;
    let nested = format!("refs/keepsake/experiments/x/{}", s.victim_id());
    let ls = t.ks(&["ls", "--remote", "origin", "--json"]).ok();
    assert!(ls.stderr.contains(&nested), "{}", ls.stderr);
    assert_eq!(ls.json().as_array().unwrap().len(), 1, "{}", ls.stdout);
    t.ks(&["pull", "origin"]).ok();
    let refs = t.git(&["for-each-ref", "--format=%(refname)", "refs/keepsake/"]);
    assert!(
        !refs.contains("/x/"),
        "pull brought the nested ref in: {refs}"
    );
    // Fetched by hand: reported by name, never listed as the victim.
    s.fetch_raw();
    let ls = t.ks(&["ls", "--json"]).ok();
    assert!(ls.stderr.contains(&nested), "{}", ls.stderr);
    let rows = ls.json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(!rows.to_string().contains(&"d".repeat(64)), "{rows}");
    let show = t.ks(&["show", s.victim_id(), "--json"]).ok().json();
    assert_eq!(show["checkpoints"].as_array().unwrap().len(), 2);
    s.assert_victim_intact();
}
