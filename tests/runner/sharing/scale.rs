//! Pushing many experiments at once (and the generator bench/ uses).

use super::*;

/// Writes `n` experiments of `checkpoints` checkpoints each (no files) into `t`'s repository with
/// one `git fast-import`: copies of a template recorded through the core, with fresh IDs, and
/// their notes lines. Returns their IDs.
fn generate_experiments(t: &TestProject, n: usize, checkpoints: usize) -> Vec<String> {
    let project = t.project();
    let mut template = create(&project, None, json!({"lr": 0.1}));
    for step in 0..checkpoints {
        checkpoint(&project, &mut template, None, step as i64, 0.5);
    }
    let tip = template.git_tip.clone().unwrap();
    // The template's commits, root first: (committer line, message).
    let mut commits = Vec::new();
    let mut at = tip.clone();
    for _ in 0..=checkpoints {
        let raw = t.git(&["cat-file", "commit", &at]);
        let (header, message) = raw.split_once("\n\n").unwrap();
        let committer = header
            .lines()
            .find(|l| l.starts_with("committer "))
            .unwrap()
            .to_string();
        commits.push((committer, message.to_string()));
        at = t.git(&["rev-parse", &format!("{at}^")]).trim().to_string();
    }
    commits.reverse();
    let baseline = at;
    assert_eq!(template.git_commit.as_deref(), Some(baseline.as_str()));
    let note = t.git(&["notes", "--ref", NOTES_REF, "show", &baseline]);
    let old_ids: Vec<String> = std::iter::once(template.id.to_string())
        .chain(template.checkpoints.iter().map(|c| c.id.to_string()))
        .collect();
    let mut stream = Vec::new();
    let mut ids = Vec::new();
    let mut note_text = note.clone();
    for i in 0..n {
        let new_ids: Vec<String> = old_ids.iter().map(|_| Id::generate().to_string()).collect();
        let rewrite = |s: &str| {
            let mut s = s.to_string();
            for (old, new) in old_ids.iter().zip(&new_ids) {
                s = s.replace(old.as_str(), new).replace(&old[..7], &new[..7]);
            }
            s
        };
        for (j, (committer, message)) in commits.iter().enumerate() {
            let mark = i * (checkpoints + 1) + j + 1;
            let message = rewrite(message);
            write!(
                stream,
                "commit {EXPERIMENT_REFS}{}\nmark :{mark}\n{committer}\ndata {}\n{message}\n",
                new_ids[0],
                message.len()
            )
            .unwrap();
            if j == 0 {
                // Metadata-only experiments snapshot nothing: an empty tree on the baseline.
                writeln!(stream, "from {baseline}\ndeleteall").unwrap();
            } else {
                writeln!(stream, "from :{}", mark - 1).unwrap();
            }
        }
        note_text.push_str(&rewrite(&note));
        ids.push(new_ids[0].clone());
    }
    let notes_tip = t.git(&["rev-parse", NOTES_REF]).trim().to_string();
    write!(
        stream,
        "commit {NOTES_REF}\n{}\ndata 5\nnotes\nfrom {notes_tip}\nN inline {baseline}\ndata {}\n{note_text}\n",
        commits[0].0,
        note_text.len()
    )
    .unwrap();
    let mut cmd = std::process::Command::new("git");
    cmd.args(["fast-import", "--quiet"])
        .current_dir(&t.dir)
        .stdin(std::process::Stdio::piped());
    hermetic(&mut cmd, &t.dir);
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    ids.push(template.id.to_string());
    ids
}

#[test]
fn push_all_of_ten_thousand_experiments() {
    let (alice, remote) = local_team();
    // The project's store is shared with the remote (training wrote into it): what is measured
    // here is git's side, not 10,000 metadata copies.
    alice.git(&["config", "--unset", "remote.origin.keepsakeStore"]);
    alice.write("keepsake.yaml", "repository: file://.keepsake\n");
    let ids = generate_experiments(&alice, 9_999, 1);
    let started = std::time::Instant::now();
    let run = alice.ks(&["push", "origin", "--all"]).ok();
    eprintln!("pushed in {:?}", started.elapsed());
    assert_eq!(run.stdout.lines().count(), 10_000, "{}", run.stderr);
    let refs = git_in(
        &remote,
        &["for-each-ref", "--format=%(refname)", EXPERIMENT_REFS],
    );
    assert_eq!(refs.lines().count(), 10_000);
    for id in [&ids[0], &ids[5_000], &ids[9_999]] {
        assert!(refs.contains(id.as_str()), "{id} is not on the remote");
    }
    let head = alice.git(&["rev-parse", "HEAD"]);
    let notes = git_in(&remote, &["notes", "--ref", NOTES_REF, "show", head.trim()]);
    assert_eq!(notes.lines().count(), 10_000);

    // A second clone pulls all of them (their refs validated one by one).
    let bob = clone_of(&alice, &remote, "bob");
    let started = std::time::Instant::now();
    let run = ks_in(&bob, &["pull", "origin"]).ok();
    eprintln!("pulled in {:?}", started.elapsed());
    assert_eq!(run.stdout.lines().count(), 10_000, "{}", run.stderr);
    let pulled = git_in(
        &bob,
        &["for-each-ref", "--format=%(refname)", EXPERIMENT_REFS],
    );
    assert_eq!(pulled, refs);
    // Pushing again finds everything up to date.
    let run = alice.ks(&["push", "origin", "--all"]).ok();
    assert!(
        run.stdout.is_empty() && run.stderr.contains("; 10000 up to date,"),
        "{}",
        run.stderr
    );
}

/// For bench/sharing_scale.py: a project at `$KEEPSAKE_BENCH_DIR` with
/// `$KEEPSAKE_BENCH_EXPERIMENTS` experiments of `$KEEPSAKE_BENCH_CHECKPOINTS` checkpoints each.
#[test]
#[ignore]
fn generate_for_bench() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let dir = PathBuf::from(var("KEEPSAKE_BENCH_DIR"));
    let n: usize = var("KEEPSAKE_BENCH_EXPERIMENTS").parse().unwrap();
    let m: usize = var("KEEPSAKE_BENCH_CHECKPOINTS").parse().unwrap();
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("fixtures/make-git-project.sh"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    fix_clock();
    let t = TestProject {
        tmp: tempfile::tempdir().unwrap(),
        dir: dir.canonicalize().unwrap(),
    };
    generate_experiments(&t, n - 1, m);
}
