//! Push and pull between teammates through a bare remote: notes, baselines, diverged and odd refs.

use keepsake_core::experiments;

use super::*;

#[test]
fn alice_pushes_one_bob_pulls_it_and_checks_out_its_best_checkpoint() {
    let Some(t) = team() else { return };
    let shared = record_run(&t.alice, 0.01, &[0.9, 0.3, 0.6]);
    let private = record_run(&t.alice, 0.5, &[0.8]);
    let run = t
        .alice
        .ks(&["push", "origin", &shared.id.as_str()[..8]])
        .ok();
    assert_eq!(run.stdout, format!("{}\n", shared.id));
    let refs = remote_refs(&t.remote);
    assert!(
        refs.contains(shared.id.as_str()) && !refs.contains(private.id.as_str()),
        "{refs}"
    );
    assert!(refs.contains(NOTES_REF));

    let listed = ks_in(&t.bob, &["ls", "--remote", "origin", "-q"])
        .ok()
        .stdout;
    assert_eq!(listed, format!("{}\n", shared.id));
    ks_in(&t.bob, &["pull", "origin"]).ok();
    let ls = ks_in(&t.bob, &["ls", "--json"]).ok().json();
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!(ls[0]["best_checkpoint"]["step"], json!(1));
    let out = t.tmp.path().join("bob-out");
    let best = shared.checkpoints[1].id.as_str();
    ks_in(&t.bob, &["checkout", best, "-o", out.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read(out.join("model.pth")).unwrap(),
        b"weights lr=0.01 step=1\n"
    );
    let notes = git_in(&t.bob, &["notes", "--ref", NOTES_REF, "show", "HEAD"]);
    assert!(
        notes.contains(shared.id.as_str()) && !notes.contains(private.id.as_str()),
        "{notes}"
    );

    // Pushing again changes nothing and uploads nothing; pushing nothing is refused.
    let again = t.alice.ks(&["push", "origin", shared.id.as_str()]).ok();
    assert!(
        again
            .stderr
            .contains("Pushed 0 experiments (0 objects, 0 bytes) to origin; 1 up to date"),
        "{}",
        again.stderr
    );
    let run = t.alice.ks(&["push", "origin"]).fails();
    assert!(
        run.error_line().contains("Nothing to push"),
        "{}",
        run.stderr
    );
}

#[test]
fn concurrent_pushes_on_one_baseline_both_land_with_their_notes() {
    let Some(t) = team() else { return };
    let a = record_run(&t.alice, 0.01, &[0.5]);
    let bob = TestProject {
        tmp: tempfile::tempdir().unwrap(),
        dir: t.bob.clone(),
    };
    let b = record_run(&bob, 0.02, &[0.4]);
    let (da, db) = (t.alice.dir.clone(), t.bob.clone());
    let (ia, ib) = (a.id.to_string(), b.id.to_string());
    let ha = std::thread::spawn(move || ks_in(&da, &["push", "origin", &ia]));
    let hb = std::thread::spawn(move || ks_in(&db, &["push", "origin", &ib]));
    ha.join().unwrap().ok();
    hb.join().unwrap().ok();
    let refs = remote_refs(&t.remote);
    assert!(
        refs.contains(a.id.as_str()) && refs.contains(b.id.as_str()),
        "{refs}"
    );
    let head = t.alice.git(&["rev-parse", "HEAD"]);
    let notes = git_in(
        &t.remote,
        &["notes", "--ref", NOTES_REF, "show", head.trim()],
    );
    assert!(
        notes.contains(a.id.as_str()) && notes.contains(b.id.as_str()),
        "{notes}"
    );
}

#[test]
fn bad_remotes_ids_and_diverged_experiments() {
    let Some(t) = team() else { return };
    let run = t.alice.ks(&["push", "nowhere", "--all"]).fails();
    assert!(
        run.error_line().contains("`nowhere`") && run.error_line().contains("no such git remote"),
        "{}",
        run.stderr
    );
    let run = ks_in(&t.bob, &["pull", "origin", "abcdef"]).fails();
    assert!(run.error_line().contains("`abcdef`"), "{}", run.stderr);

    // Alice shares an experiment; Bob adds a checkpoint to it and pushes; Alice adds another.
    let exp = record_run(&t.alice, 0.01, &[0.5]);
    t.alice.ks(&["push", "origin", exp.id.as_str()]).ok();
    ks_in(&t.bob, &["pull", "origin"]).ok();
    let bob = keepsake_core::Project::open(&keepsake_core::OpenOptions {
        cwd: t.bob.clone(),
        ..Default::default()
    })
    .unwrap();
    let mut theirs = experiments::resolve::get_experiment(&bob, exp.id.as_str()).unwrap();
    checkpoint(&bob, &mut theirs, None, 7, 0.2);
    ks_in(&t.bob, &["push", "origin", exp.id.as_str()]).ok();
    let bobs = remote_refs(&t.remote);
    let alice = t.alice.project();
    let mut mine = experiments::resolve::get_experiment(&alice, exp.id.as_str()).unwrap();
    checkpoint(&alice, &mut mine, None, 8, 0.3);
    let run = t.alice.ks(&["push", "origin", exp.id.as_str()]).fails();
    assert!(
        run.error_line().contains(exp.id.short()) && run.error_line().contains("pull"),
        "{}",
        run.stderr
    );
    assert_eq!(remote_refs(&t.remote), bobs, "Bob's experiment was kept");
    // Pulling does not overwrite Alice's diverged copy either.
    let run = t.alice.ks(&["pull", "origin", exp.id.as_str()]).fails();
    assert!(
        run.error_line().contains("nothing was overwritten"),
        "{}",
        run.stderr
    );
}

/// Whether the repository at `dir` has the object `sha`.
fn has_object(dir: &Path, sha: &str) -> bool {
    let mut cmd = std::process::Command::new("git");
    cmd.args(["cat-file", "-e", sha]).current_dir(dir);
    hermetic(&mut cmd, dir);
    cmd.output().unwrap().status.success()
}

#[test]
fn push_refuses_to_publish_unpushed_commits_unless_asked() {
    let (alice, remote) = local_team();
    let project = alice.project();
    // Work on main that is pushed: an experiment on it goes, and nothing private with it.
    let on_pushed = create(&project, None, json!({"lr": 0.1}));
    alice.write("train.py", "print('private idea')\n");
    alice.git(&["commit", "-q", "-am", "Private idea, not for the team yet"]);
    let private = alice.git(&["rev-parse", "HEAD"]).trim().to_string();
    let later = create(&project, None, json!({"lr": 0.2}));
    alice.ks(&["push", "origin", on_pushed.id.as_str()]).ok();
    assert!(
        !has_object(&remote, &private),
        "an unpushed commit was published"
    );

    // An experiment that ran on the unpushed commit is refused, naming the commit.
    let before = remote_refs(&remote);
    let run = alice.ks(&["push", "origin", later.id.as_str()]).fails();
    let line = run.error_line();
    assert!(
        line.contains(&private[..7]) && line.contains("Private idea, not for the team yet"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--include-commits"), "{}", run.stderr);
    assert_eq!(
        remote_refs(&remote),
        before,
        "the refused push changed the remote"
    );
    assert!(!has_object(&remote, &private));
    // --all is refused the same way, and pushes nothing.
    alice.ks(&["push", "origin", "--all"]).fails();
    assert_eq!(remote_refs(&remote), before);
    assert!(!has_object(&remote, &private));

    // Asked for, the commit goes with the experiment.
    let run = alice
        .ks(&["push", "origin", later.id.as_str(), "--include-commits"])
        .ok();
    assert_eq!(run.stdout, format!("{}\n", later.id));
    assert!(has_object(&remote, &private));
    assert!(remote_refs(&remote).contains(later.id.as_str()));
}

#[test]
fn notes_name_the_baseline_and_stay_true_after_an_amend() {
    let t = TestProject::new(true);
    t.git(&["config", "notes.rewriteRef", NOTES_REF]);
    let head = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    let exp = create(&t.project(), None, json!({"lr": 0.1}));
    let line = format!("experiment {} {head}\n", exp.id);
    assert_eq!(t.git(&["notes", "--ref", NOTES_REF, "show", &head]), line);

    // notes.rewriteRef copies the note onto the amended commit: it still names the commit the
    // experiment ran on, which the amended one is not.
    t.git(&["commit", "-q", "--amend", "-m", "Initial project, reworded"]);
    let amended = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_ne!(amended, head);
    assert_eq!(
        t.git(&["notes", "--ref", NOTES_REF, "show", &amended]),
        line
    );
    assert_eq!(
        t.git(&["log", "-1", "--format=%N", "--notes=keepsake", &amended])
            .trim(),
        line.trim()
    );

    // rm takes its line off the baseline, in the old `experiment <id>` form too.
    let old = create(&t.project(), None, json!({"lr": 0.2}));
    let base = old.git_commit.clone().unwrap();
    t.git(&[
        "notes",
        "--ref",
        NOTES_REF,
        "add",
        "-f",
        "-m",
        &format!("experiment {}", old.id),
        &base,
    ]);
    t.ks(&["rm", "--yes", old.id.as_str()]).ok();
    let mut cmd = std::process::Command::new("git");
    cmd.args(["notes", "--ref", NOTES_REF, "show", &base])
        .current_dir(&t.dir);
    hermetic(&mut cmd, &t.dir);
    let left = String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
    assert!(!left.contains(old.id.as_str()), "{left}");
}

fn metadata_only_run(t: &TestProject, steps: i64) -> keepsake_core::Experiment {
    let project = t.project();
    let mut exp = create(&project, None, json!({"lr": 0.1}));
    for step in 0..steps {
        checkpoint(&project, &mut exp, None, step, 0.5 / (step + 1) as f64);
    }
    exp
}

#[test]
fn pull_refuses_a_fast_forward_that_drops_checkpoints() {
    let (alice, remote) = local_team();
    let victim = metadata_only_run(&alice, 3);
    alice.ks(&["push", "origin", victim.id.as_str()]).ok();
    let bob = clone_of(&alice, &remote, "bob");
    ks_in(&bob, &["pull", "origin"]).ok();
    let name = format!("{EXPERIMENT_REFS}{}", victim.id);
    let tip = victim.git_tip.clone().unwrap();
    assert_eq!(git_in(&bob, &["rev-parse", &name]).trim(), tip);

    // On the remote: a commit on top of the victim's tip (a fast-forward) whose first parent is
    // the experiment's first commit, so its history skips the first two checkpoints.
    let root = git_in(&remote, &["rev-parse", &format!("{tip}~3")])
        .trim()
        .to_string();
    let message = git_in(&remote, &["cat-file", "commit", &tip]);
    let message = message.split_once("\n\n").unwrap().1;
    let tree = git_in(&remote, &["rev-parse", &format!("{tip}^{{tree}}")]);
    let forged = git_in(
        &remote,
        &[
            "-c",
            "user.name=Mallory",
            "-c",
            "user.email=mallory@example.com",
            "commit-tree",
            tree.trim(),
            "-p",
            &root,
            "-p",
            &tip,
            "-m",
            message,
        ],
    )
    .trim()
    .to_string();
    git_in(&remote, &["update-ref", &name, &forged]);
    // Meanwhile an honest experiment is pushed: it still lands.
    let honest = metadata_only_run(&alice, 1);
    alice.ks(&["push", "origin", honest.id.as_str()]).ok();

    let run = ks_in(&bob, &["pull", "origin"]).fails();
    let line = run.error_line();
    assert!(
        line.contains(victim.id.short()) && line.contains("nothing was"),
        "{}",
        run.stderr
    );
    assert_eq!(
        git_in(&bob, &["rev-parse", &name]).trim(),
        tip,
        "the ref moved"
    );
    assert_eq!(run.stdout, format!("{}\n", honest.id));
    let ls = ks_in(&bob, &["show", victim.id.as_str(), "--json"])
        .ok()
        .json();
    assert_eq!(ls["checkpoints"].as_array().unwrap().len(), 3);
    // The forged tip stays in quarantine, where `ls --remote` shows what the remote holds.
    assert_eq!(
        git_in(
            &bob,
            &[
                "rev-parse",
                &format!("refs/keepsake/remotes/origin/{}", victim.id)
            ]
        )
        .trim(),
        forged
    );
}

#[test]
fn pull_of_a_short_prefix_among_odd_remote_refs_does_not_panic() {
    let (alice, remote) = local_team();
    // An experiment whose ID does not itself start with `a`, the prefix pulled below (IDs are
    // random: one in sixteen would).
    let exp = std::iter::repeat_with(|| metadata_only_run(&alice, 1))
        .find(|e| !e.id.as_str().starts_with('a'))
        .unwrap();
    alice.ks(&["push", "origin", exp.id.as_str()]).ok();
    let main = git_in(&remote, &["rev-parse", "main"]).trim().to_string();
    for odd in ["ab", "abc", "not-an-id"] {
        git_in(
            &remote,
            &["update-ref", &format!("{EXPERIMENT_REFS}{odd}"), &main],
        );
    }
    let bob = clone_of(&alice, &remote, "bob");
    let run = ks_in(&bob, &["pull", "origin", "a"]).fails();
    assert!(run.error_line().contains("`a`"), "{}", run.stderr);
    // The real experiment is still pulled by its own prefix, and by a pull of everything.
    let run = ks_in(&bob, &["pull", "origin", &exp.id.as_str()[..6]]).ok();
    assert_eq!(run.stdout, format!("{}\n", exp.id));
    let run = ks_in(&bob, &["pull", "origin"]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // A name that is no ID is ignored with a warning, and not kept in the tracking namespace.
    assert!(
        run.stderr
            .contains("Ignored `refs/keepsake/experiments/not-an-id`"),
        "{}",
        run.stderr
    );
    let tracked = git_in(
        &bob,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/keepsake/remotes/",
        ],
    );
    assert!(!tracked.contains("not-an-id"), "{tracked}");
    let refs = git_in(
        &bob,
        &["for-each-ref", "--format=%(refname)", EXPERIMENT_REFS],
    );
    assert_eq!(refs.trim(), format!("{EXPERIMENT_REFS}{}", exp.id));
}
