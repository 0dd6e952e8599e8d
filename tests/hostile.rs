//! Hostile remotes and stores: one test per way an attacker was found to turn sharing against the
//! user. Crafted refs, trees and records come from fixtures/hostile/craft.sh, which writes them
//! with git's plumbing into an attacker's clone; they reach the victim through a real bare
//! remote and a plain `git fetch` (git's default fetch checks nothing). Each test checks that
//! nothing was written outside the target, that the victim's experiments and data are intact,
//! and that the command fails with one clear line naming the bad ref, ID or key.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use keepsake_core::{Experiment, Id};
use serde_json::{json, Value};

/// A victim's project with one recorded experiment, a bare remote holding it, and an
/// attacker's clone of that remote.
struct Scene {
    victim: TestProject,
    exp: Experiment,
    attacker: PathBuf,
}

fn scene() -> Scene {
    let victim = TestProject::new(true);
    let exp = record_run(&victim, 0.01, &[0.5, 0.4]);
    let remote = victim.bare_remote("origin", "remote.git");
    let attacker = victim.tmp.path().join("attacker");
    victim.git(&[
        "push",
        "-q",
        "origin",
        "main",
        "refs/keepsake/*:refs/keepsake/*",
    ]);
    git_in(
        victim.tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            attacker.to_str().unwrap(),
        ],
    );
    git_in(
        &attacker,
        &["fetch", "-q", "origin", "refs/keepsake/*:refs/keepsake/*"],
    );
    git_in(&attacker, &["config", "user.name", "Mallory"]);
    git_in(&attacker, &["config", "user.email", "mallory@example.com"]);
    Scene {
        victim,
        exp,
        attacker,
    }
}

impl Scene {
    /// Runs a case of craft.sh in the attacker's clone and pushes what it made; returns its output.
    fn craft(&self, args: &[&str]) -> String {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(repo_root().join("fixtures/hostile/craft.sh"))
            .args(args)
            .current_dir(&self.attacker);
        hermetic(&mut cmd, &self.attacker);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "craft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        git_in(
            &self.attacker,
            &[
                "push",
                "-q",
                "--force",
                "origin",
                "refs/keepsake/*:refs/keepsake/*",
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// What a user who fetches experiments with plain git gets: everything, unchecked.
    fn fetch_raw(&self) {
        self.victim.git(&[
            "fetch",
            "-q",
            "origin",
            "+refs/keepsake/experiments/*:refs/keepsake/experiments/*",
        ]);
    }

    /// The commit the victim's experiment ref names in the attacker's clone.
    fn attacker_tip(&self) -> String {
        let name = format!("refs/keepsake/experiments/{}", self.victim_id());
        git_in(&self.attacker, &["rev-parse", &name])
            .trim()
            .to_string()
    }

    /// Points `refs/keepsake/experiments/<name>` at `commit` in the attacker's clone.
    fn attacker_ref(&self, name: &str, commit: &str) {
        let name = format!("refs/keepsake/experiments/{name}");
        git_in(&self.attacker, &["update-ref", &name, commit]);
    }

    fn victim_id(&self) -> &str {
        self.exp.id.as_str()
    }

    /// The victim's experiment still lists, shows, and checks out with the right weights.
    fn assert_victim_intact(&self) {
        let t = &self.victim;
        let ls = t.ks(&["ls", "--json"]).ok().json();
        assert!(
            ls.as_array()
                .unwrap()
                .iter()
                .any(|e| e["id"] == json!(self.victim_id()) && e["num_checkpoints"] == json!(2)),
            "{ls}"
        );
        t.ks(&["show", self.victim_id()]).ok();
        let out = t.tmp.path().join(format!("check-{}", rand_suffix()));
        assert_eq!(
            checkout_text(&t.dir, self.victim_id(), &out, "model.pth"),
            "weights lr=0.01 step=1\n"
        );
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

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

/// The store of the victim's project (the default one, inside .git).
fn store(t: &TestProject) -> PathBuf {
    t.dir.join(".git/keepsake/storage")
}

fn error_names(run: &Run, what: &str) {
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.error_line().contains(what),
        "want {what:?} in: {}",
        run.stderr
    );
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
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), json!({"lr": 0.1})),
    )
    .unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut exp,
        new_checkpoint(Some("models"), 0, 0.5),
    )
    .unwrap();
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

/// The end of the first gzip member of a stream (a boundary the writer makes between runs of
/// files packed differently).
fn first_member_end(bytes: &[u8]) -> usize {
    use std::io::Read;
    let mut d = flate2::bufread::GzDecoder::new(bytes);
    std::io::copy(&mut d, &mut std::io::sink()).unwrap();
    let mut rest = Vec::new();
    d.into_inner().read_to_end(&mut rest).unwrap();
    bytes.len() - rest.len()
}

/// Row 4: one byte flipped in a stored tarball; a tarball cut at a gzip member boundary.
#[test]
fn corrupted_or_truncated_weights_are_never_checked_out() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), json!({"lr": 0.1})),
    )
    .unwrap();
    // Text and noise: two gzip members (compressed, then stored blocks).
    t.write("w/notes.txt", &"epoch log line\n".repeat(1000));
    std::fs::write(t.dir.join("w/weights.bin"), noise(3 << 20, 7)).unwrap();
    let c = keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut exp,
        new_checkpoint(Some("w"), 0, 0.5),
    )
    .unwrap();
    let key = store(&t).join(format!("checkpoints/{}.tar.gz", c.id));
    let good = std::fs::read(&key).unwrap();
    let boundary = first_member_end(&good);
    assert!(boundary < good.len(), "the tarball has one member only");
    let mut flipped = good.clone();
    flipped[good.len() - 100_000] ^= 0x01;
    for (name, bytes) in [("flipped", flipped), ("cut", good[..boundary].to_vec())] {
        std::fs::write(&key, &bytes).unwrap();
        let out = t.tmp.path().join(format!("out-{name}"));
        let run = t
            .ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
            .fails();
        error_names(&run, &format!("checkpoints/{}.tar.gz", c.id));
        assert!(run.error_line().contains(c.id.short()), "{}", run.stderr);
        // No partial output: not the weights, not the notes, not the code.
        let written: Vec<_> = files_under(&out).into_keys().collect();
        assert!(written.is_empty(), "{name}: {written:?}");
        // Streaming one file out fails at the end of the stream too.
        let mut sink = Vec::new();
        let err = keepsake_core::experiments::checkout::read_file(
            &project,
            &exp,
            Some(&c.id),
            "w/notes.txt",
            &mut sink,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("is not what was recorded"),
            "{err}"
        );
    }
    std::fs::write(&key, &good).unwrap();
    let out = t.tmp.path().join("out-good");
    t.ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read(out.join("w/weights.bin")).unwrap(),
        noise(3 << 20, 7)
    );
}

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

/// Row 8: escape sequences in params, user, host and command.
#[test]
fn escape_sequences_in_records_never_reach_the_terminal() {
    let t = TestProject::new(true);
    let project = t.project();
    let evil = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07\u{9b}31m\nforged line";
    let mut spec = new_experiment(Some("."), json!({"lr": 0.1, "note": evil}));
    spec.user = format!("ada{evil}");
    spec.host = format!("host{evil}");
    spec.command = format!("train.py {evil}");
    let mut exp = keepsake_core::experiments::create::create_experiment(&project, spec).unwrap();
    t.write("model.pth", "w\n");
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut exp,
        new_checkpoint(Some("model.pth"), 0, 0.5),
    )
    .unwrap();
    let out = t.tmp.path().join("out");
    for args in [
        vec!["ls"],
        vec!["ls", "--all"],
        vec!["show", exp.id.as_str()],
        vec!["checkout", exp.id.as_str(), "-o", out.to_str().unwrap()],
    ] {
        let run = t.ks(&args).ok();
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{args:?} printed a control character: {text:?}"
            );
        }
        // A newline in a value never makes a line of its own.
        assert!(
            !run.stdout
                .lines()
                .chain(run.stderr.lines())
                .any(|l| l.trim() == "forged line"),
            "{args:?}: {}{}",
            run.stdout,
            run.stderr
        );
        if args[0] != "ls" {
            // Shown, escaped (ls shows only the params that differ, and there is one run).
            assert!(
                run.stdout.contains("\\x1b") || run.stderr.contains("\\x1b"),
                "{args:?}"
            );
        }
    }
    // JSON keeps the exact strings.
    let ls = t.ks(&["ls", "--json"]).ok();
    assert!(!ls.stdout.chars().any(|c| c.is_control() && c != '\n'));
    assert_eq!(ls.json()[0]["params"]["note"], json!(evil));
    assert_eq!(
        t.ks(&["show", exp.id.as_str(), "--json"]).ok().json()["user"],
        json!(spec_user(evil))
    );
}

fn spec_user(evil: &str) -> String {
    format!("ada{evil}")
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

/// Rewrites the tip of experiment `id` in `dir` with a checkpoint commit whose record is `edit`ed.
fn craft_checkpoint_commit(dir: &Path, id: &str, edit: impl FnOnce(&mut Value)) {
    let name = format!("refs/keepsake/experiments/{id}");
    let tip = git_in(dir, &["rev-parse", &name]).trim().to_string();
    let message = git_in(dir, &["log", "-1", "--format=%B", &tip]);
    let (subject, body) = message.split_once("\n\n").unwrap();
    let mut record: Value = serde_json::from_str(body.trim()).unwrap();
    edit(&mut record);
    let msg_file = dir.join(".git/crafted-message");
    std::fs::write(&msg_file, format!("{subject}\n\n{record}\n")).unwrap();
    let tree = git_in(dir, &["rev-parse", &format!("{tip}^{{tree}}")]);
    let commit = git_in(
        dir,
        &[
            "commit-tree",
            tree.trim(),
            "-p",
            &tip,
            "-F",
            msg_file.to_str().unwrap(),
        ],
    );
    git_in(dir, &["update-ref", &name, commit.trim(), &tip]);
}

/// A crafted checkpoint `id` (step 9) on top of `exp`'s tip whose tarball is `tarball`, put in
/// the store with a record that names its true size and hash and says it holds `files_size`
/// bytes. Returns its key.
fn plant_checkpoint(
    t: &TestProject,
    exp: &Experiment,
    id: &str,
    tarball: &[u8],
    files_size: u64,
) -> String {
    let key = format!("checkpoints/{id}.tar.gz");
    std::fs::write(store(t).join(&key), tarball).unwrap();
    let hash = blake3::hash(tarball).to_hex().to_string();
    craft_checkpoint_commit(&t.dir, exp.id.as_str(), |r| {
        let mut c = r["checkpoint"].clone();
        c["id"] = json!(id);
        c["step"] = json!(9);
        r["checkpoint"] = c;
        r["checkpoint_files"] =
            json!({"key": key, "size": tarball.len(), "blake3": hash, "files_size": files_size});
        r["num_checkpoints"] = json!(2);
    });
    key
}

fn gzip_of_tar(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// Row 10: a tarball that expands far beyond what its record says it holds.
#[test]
fn expansion_is_bounded_by_the_record() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let bomb_id = "b".repeat(64);
    let bomb = gzip_of_tar(&[(&format!("{bomb_id}/model.pth"), vec![0u8; 64 << 20])]);
    assert!(bomb.len() < 200_000);
    plant_checkpoint(&t, &exp, &bomb_id, &bomb, 1000);
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", &bomb_id[..10], "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "more than the 1000 bytes");
    assert!(files_under(&out).is_empty());
}

/// Row 11: caches that are wrong but still parse never change an answer.
#[test]
fn wrong_caches_never_change_an_answer() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5, 0.4]);
    let project = t.project();
    let real = exp.checkpoints[1].id.to_string();
    t.ks(&["show", &real[..8]]).ok();
    let index = t.dir.join(".git/keepsake/checkpoint-index");
    let tip = t.git(&[
        "rev-parse",
        &format!("refs/keepsake/experiments/{}", exp.id),
    ]);
    let tip = tip.trim();
    let bogus = format!("deadbeef{}", "0".repeat(56));
    // Well formed, current tip, but the wrong checkpoints: with a stale check, and with a
    // check that holds (as a bug of ours would write it).
    let ids = format!("{} {bogus}", exp.checkpoints[0].id);
    let check =
        blake3::hash(format!("{} {tip} {ids}", exp.id).as_bytes()).to_hex()[..16].to_string();
    for line in [
        format!("{} {tip} 0000000000000000 {ids}\n", exp.id),
        format!("{} {tip} {check} {ids}\n", exp.id),
    ] {
        std::fs::write(&index, &line).unwrap();
        let show = t.ks(&["show", &real[..8], "--json"]).ok().json();
        assert_eq!(show["id"], json!(real));
        let run = t.ks(&["show", "deadbeef"]).fails();
        error_names(&run, "deadbeef");
    }

    // A long history (cached from 256 checkpoints), then its cache edited.
    let mut long = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.2})),
    )
    .unwrap();
    for step in 0..300 {
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut long,
            new_checkpoint(None, step, 1.0 / (step + 1) as f64),
        )
        .unwrap();
    }
    let step_of = |id: &str| -> Value {
        let v = t.ks(&["show", id, "--json"]).ok().json();
        v["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!(long.checkpoints[100].id.as_str()))
            .unwrap()["step"]
            .clone()
    };
    assert_eq!(step_of(long.id.as_str()), json!(100));
    let cache = t.dir.join(format!(".git/keepsake/history/{}", long.id));
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("\"step\":100"));
    std::fs::write(&cache, text.replace("\"step\":100,", "\"step\":7,")).unwrap();
    assert_eq!(step_of(long.id.as_str()), json!(100));
    // Another experiment's cache, well formed and checked, in this one's place.
    std::fs::write(&cache, "0000000000000000000000000000000000000000 x 0 y\n").unwrap();
    assert_eq!(step_of(long.id.as_str()), json!(100));
}

/// Row 12: credentials in an endpoint or a remote URL never appear in a message.
#[test]
fn credentials_never_appear_in_messages() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let run = ks_env(
        &t.dir,
        &["-R", "s3://keepsake-test/x", "import"],
        &[
            ("AWS_ENDPOINT", "http://ada:s3cr3t-endpoint@127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-in-messages"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    )
    .fails();
    assert!(!run.stderr.contains("s3cr3t-endpoint"), "{}", run.stderr);
    assert!(!run.stderr.contains("not-in-messages"), "{}", run.stderr);
    t.git(&[
        "remote",
        "add",
        "leaky",
        "http://ada:t0ken-in-url@127.0.0.1:9/x.git",
    ]);
    t.git(&[
        "config",
        "remote.leaky.keepsakeStore",
        "file:///nonexistent-store",
    ]);
    let run = t.ks(&["push", "leaky", exp.id.as_str()]).fails();
    assert!(!run.stderr.contains("t0ken-in-url"), "{}", run.stderr);
}

/// A store on S3 (the local S3-compatible server) that someone else can write: substituted
/// weights are refused on checkout, and hostile metadata is refused on import.
#[test]
fn a_hostile_s3_store_is_checked_like_a_local_one() {
    use keepsake_core::{storage::Store, Id, StorageUrl};
    let Some(_) = require_env("KEEPSAKE_TEST_S3_ENDPOINT") else {
        return;
    };
    let t = TestProject::new(true);
    let url = format!("s3://keepsake-test/hostile-{}", Id::generate().short());
    t.write("keepsake.yaml", &format!("repository: {url}\n"));
    let exp = record_run(&t, 0.01, &[0.5]);
    let c = &exp.checkpoints[0];
    let store = Store::open(&StorageUrl::parse(&url, Path::new("/")).unwrap()).unwrap();
    let key = format!("checkpoints/{}.tar.gz", c.id);
    let real = store.get(&key).unwrap().unwrap();
    // Someone with write access to the bucket swaps in other weights, well formed.
    let swapped = gzip_of_tar(&[(
        &format!("{}/model.pth", c.id),
        b"weights of someone else's choosing\n".to_vec(),
    )]);
    store.put(&key, swapped).unwrap();
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, &key);
    assert!(run.error_line().contains(&url), "{}", run.stderr);
    assert!(files_under(&out).is_empty());
    store.put(&key, real).unwrap();
    assert_eq!(
        checkout_text(&t.dir, c.id.as_str(), &out, "model.pth"),
        "weights lr=0.01 step=0\n"
    );

    // A Keepsake-layout store on S3 whose metadata names a checkpoint that climbs out.
    let other = format!("s3://keepsake-test/hostile-src-{}", Id::generate().short());
    let src = Store::open(&StorageUrl::parse(&other, Path::new("/")).unwrap()).unwrap();
    src.put("repository.json", &br#"{"version":1}"#[..])
        .unwrap();
    let id = "f".repeat(64);
    let meta = json!({
        "id": id, "created": "2026-01-01T00:00:00Z", "path": "",
        "checkpoints": [{"id": "../../../../evil", "created": "2026-01-01T00:00:00Z",
                         "step": 0, "path": "model.pth"}],
    });
    src.put(
        &format!("metadata/experiments/{id}.json"),
        meta.to_string().into_bytes(),
    )
    .unwrap();
    let before = store.list("").unwrap();
    let run = t.ks(&["import", &other]);
    assert!(run.stderr.contains("is not an ID"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        store.list("").unwrap(),
        before,
        "import wrote into the project's store"
    );
}

/// A Keepsake store's metadata for one experiment `exp_id` whose checkpoints have `ids`.
fn keepsake_store(dir: &Path, exp_id: &str, ids: &[&str]) {
    std::fs::create_dir_all(dir.join("metadata/experiments")).unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    std::fs::write(dir.join("repository.json"), r#"{"version":1}"#).unwrap();
    let checkpoints: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(step, id)| {
            json!({"id": id, "created": "2026-01-01T00:00:00Z", "metrics": null,
                   "step": step, "path": "model.pth", "primary_metric": null})
        })
        .collect();
    let meta = json!({
        "id": exp_id, "created": "2026-01-01T00:00:00Z", "params": null, "host": "", "user": "",
        "config": {"repository": "", "storage": ""}, "command": "", "path": "",
        "python_version": "", "python_packages": null, "keepsake_version": "0.4.2",
        "checkpoints": checkpoints,
    });
    std::fs::write(
        dir.join(format!("metadata/experiments/{exp_id}.json")),
        meta.to_string(),
    )
    .unwrap();
}

/// Importing someone's Keepsake store whose (new) experiment claims the victim's checkpoint IDs:
/// the victim's tarballs must not be replaced by the attacker's bytes.
#[test]
fn import_never_overwrites_another_experiments_data() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5, 0.4]);
    let ids: Vec<String> = exp.checkpoints.iter().map(|c| c.id.to_string()).collect();
    let before = files_under(&store(&t));
    let hostile = t.tmp.path().join("hostile-store");
    keepsake_store(&hostile, &"e".repeat(64), &[&ids[0], &ids[1]]);
    for id in &ids {
        let evil = gzip_of_tar(&[(&format!("{id}/model.pth"), b"attacker weights\n".to_vec())]);
        std::fs::write(hostile.join(format!("checkpoints/{id}.tar.gz")), evil).unwrap();
    }
    let run = t.ks(&["import", hostile.to_str().unwrap()]);
    assert_ne!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("checkpoints/{}", ids[0])),
        "{}",
        run.stderr
    );
    assert_eq!(
        t.ks(&["ls", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for (key, bytes) in &before {
        assert_eq!(
            std::fs::read(store(&t).join(key)).ok().as_ref(),
            Some(bytes),
            "import replaced {key}: {}",
            run.stderr
        );
    }
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, exp.id.as_str(), &out, "model.pth"),
        "weights lr=0.01 step=1\n"
    );
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

/// Code whose names and lines hold escape sequences: `diff` shows them escaped.
#[test]
fn diff_of_hostile_code_never_prints_control_characters() {
    let t = TestProject::new(true);
    let project = t.project();
    let evil = "\x1b]0;pwned\x07\x1b[2J";
    let mut ids = Vec::new();
    for n in 0..2 {
        t.write(&format!("x{evil}.py"), &format!("print({n}) # {evil}\n"));
        t.write("train.py", &format!("lr = {n} {evil}\n"));
        let mut exp = keepsake_core::experiments::create::create_experiment(
            &project,
            new_experiment(Some("."), json!({"lr": n})),
        )
        .unwrap();
        t.write("model.pth", &format!("w{n}\n"));
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut exp,
            new_checkpoint(Some("model.pth"), 0, 0.5),
        )
        .unwrap();
        ids.push(exp.id.to_string());
    }
    let run = t.ks(&["diff", &ids[0], &ids[1]]).ok();
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "diff printed a control character: {text:?}"
        );
    }
    assert!(run.stdout.contains("\\x1b"), "{}", run.stdout);
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

/// An experiment whose code holds `hooks/post-checkout` and `config`, checked out with `-o`
/// into the repository's git directory (spelled directly, through `..`, or a subdirectory):
/// refused, so a snapshot can never plant a hook or rewrite git's config.
#[test]
fn checkout_never_writes_into_the_git_directory() {
    let t = TestProject::new(true);
    let project = t.project();
    t.write("hooks/post-checkout", "#!/bin/sh\necho planted\n");
    t.write("config", "[core]\n\tfsmonitor = echo planted\n");
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), json!({"lr": 0.1})),
    )
    .unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &project,
        &mut exp,
        new_checkpoint(Some("hooks"), 0, 0.5),
    )
    .unwrap();
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
    let exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), json!({"lr": 0.1})),
    )
    .unwrap();
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

/// A checkpoint index that leaves an ID out of one experiment's entry (well formed, its check
/// recomputed, as a bug of ours would write it) must not turn an ambiguous ID into a unique one.
#[test]
fn an_index_that_leaves_an_id_out_never_changes_an_answer() {
    let s = scene();
    let impostor = s.craft(&["same-checkpoints", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let best = s.exp.best().unwrap().id.to_string();
    error_names(&t.ks(&["show", &best]).fails(), &impostor[..7]);
    let index = t.dir.join(".git/keepsake/checkpoint-index");
    let text = std::fs::read_to_string(&index).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            if parts[0] != s.victim_id() {
                return format!("{l}\n");
            }
            let ids: Vec<&str> = parts[3..].iter().copied().filter(|i| *i != best).collect();
            let check =
                blake3::hash(format!("{} {} {}", parts[0], parts[1], ids.join(" ")).as_bytes())
                    .to_hex()[..16]
                    .to_string();
            format!("{} {} {check} {}\n", parts[0], parts[1], ids.join(" "))
        })
        .collect();
    assert_ne!(edited, text);
    std::fs::write(&index, edited).unwrap();
    let run = t.ks(&["show", &best, "--json"]);
    assert_ne!(run.code, 0, "the index made {best} unique: {}", run.stdout);
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

/// A history cache edited with its check recomputed (it is a plain hash: `.git` is trusted, so
/// this is damage of an unusual kind, not an attack): a cached tarball record naming another key
/// is never followed; the history is read from git instead.
#[test]
fn a_history_cache_naming_another_key_is_not_followed() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut long = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), json!({"lr": 0.2})),
    )
    .unwrap();
    for step in 0..260 {
        t.write("model.pth", &format!("step {step}\n"));
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut long,
            new_checkpoint(Some("model.pth"), step, 1.0 / (step + 1) as f64),
        )
        .unwrap();
    }
    let target = long.checkpoints[100].id.to_string();
    let other = long.checkpoints[200].id.to_string();
    t.ks(&["show", long.id.as_str()]).ok();
    let cache = t.dir.join(format!(".git/keepsake/history/{}", long.id));
    let text = std::fs::read_to_string(&cache).unwrap();
    let (head, lines) = text.split_once('\n').unwrap();
    // Checkpoint 100's record pointed at checkpoint 200's tarball.
    let edited: Vec<String> = lines
        .lines()
        .map(|l| {
            if l.contains(&format!("\"id\":\"{target}\"")) {
                l.replace(
                    &format!("checkpoints/{target}.tar.gz"),
                    &format!("checkpoints/{other}.tar.gz"),
                )
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let lines = edited.concat();
    let f: Vec<&str> = head.split(' ').collect();
    let mut h = blake3::Hasher::new();
    h.update(format!("{} {} {}\n", f[0], f[1], f[2]).as_bytes());
    h.update(lines.as_bytes());
    let check = h.finalize().to_hex()[..32].to_string();
    std::fs::write(
        &cache,
        format!("{} {} {} {check}\n{lines}", f[0], f[1], f[2]),
    )
    .unwrap();
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, &target, &out, "model.pth"),
        "step 100\n"
    );
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

/// Rewrites the history of experiment `id` in `dir`, every record's `from` replaced by `to`
/// (same trees, same root parent), the way an attacker would rename a checkpoint.
fn rename_in_history(dir: &Path, id: &str, from: &str, to: &str) {
    let script = r#"
set -euo pipefail
ref=refs/keepsake/experiments/$1
tip=$(git rev-parse "$ref")
c=$tip
while git log -1 --format=%s "$c" | grep -q '^keepsake: checkpoint'; do c=$(git rev-parse "$c^"); done
parent=$(git rev-parse "$c^" 2>/dev/null || true)
for k in $(git rev-list --reverse --first-parent "$tip" --not ${parent:+"$parent"}); do
    git log -1 --format=%B "$k" | sed "s/$2/$3/g" > .git/renamed-message
    parent=$(git commit-tree "$(git rev-parse "$k^{tree}")" ${parent:+-p "$parent"} -F .git/renamed-message)
done
git update-ref "$ref" "$parent"
"#;
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", script, "rename", id, from, to])
        .current_dir(dir);
    hermetic(&mut cmd, dir);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pushing an experiment that claims the victim's checkpoint ID (its bytes found in another
/// remote's store) never replaces the victim's object in the team store.
#[test]
fn push_never_replaces_another_experiments_object_in_the_store() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5, 0.4]);
    let x = exp.checkpoints[1].id.to_string();
    t.bare_remote("origin", "remote.git");
    let team = t.tmp.path().join("team-store");
    t.git(&[
        "config",
        "remote.origin.keepsakeStore",
        &format!("file://{}", team.display()),
    ]);
    t.ks(&["push", "origin", exp.id.as_str(), "--include-commits"])
        .ok();
    let key = format!("checkpoints/{x}.tar.gz");
    let good = std::fs::read(team.join(&key)).unwrap();

    // The attacker's own run, its checkpoint renamed to the victim's ID.
    let a = TestProject::new(true);
    let evil_exp = record_run(&a, 0.9, &[0.3]);
    let y = evil_exp.checkpoints[0].id.to_string();
    rename_in_history(&a.dir, evil_exp.id.as_str(), &y, &x);
    let evil_store = t.tmp.path().join("evil-store");
    std::fs::create_dir_all(evil_store.join("checkpoints")).unwrap();
    std::fs::copy(
        store(&a).join(format!("checkpoints/{y}.tar.gz")),
        evil_store.join(&key),
    )
    .unwrap();
    std::fs::create_dir_all(evil_store.join("experiments")).unwrap();
    let code = format!("experiments/{}.tar.gz", evil_exp.id);
    std::fs::copy(store(&a).join(&code), evil_store.join(&code)).unwrap();
    t.bare_remote("evil", "evil.git");
    t.git(&[
        "config",
        "remote.evil.keepsakeStore",
        &format!("file://{}", evil_store.display()),
    ]);
    t.git(&[
        "fetch",
        "-q",
        a.dir.to_str().unwrap(),
        "refs/keepsake/experiments/*:refs/keepsake/experiments/*",
    ]);
    // This clone keeps no copy of the victim's checkpoint: the team store has the only one.
    std::fs::remove_file(store(&t).join(&key)).unwrap();
    // (Its baseline is the attacker's commit: published deliberately, to reach the data check.)
    let run = t.ks(&["push", "origin", evil_exp.id.as_str(), "--include-commits"]);
    let run = run.fails();
    error_names(&run, &key);
    assert!(
        !t.git(&["ls-remote", "origin"])
            .contains(evil_exp.id.as_str()),
        "the ref went out without its data"
    );
    assert_eq!(
        std::fs::read(team.join(&key)).unwrap(),
        good,
        "the team store's copy of {x} was replaced: {}",
        run.stderr
    );
}

/// A tarball holding one file twice (first `good`, then `evil`): streaming the file and checking
/// it out must not give two answers, so both refuse it.
#[test]
fn a_file_twice_in_a_tarball_is_refused_by_checkout_and_open_alike() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let id = "d".repeat(64);
    let name = format!("{id}/model.pth");
    let tarball = gzip_of_tar(&[(&name, b"good\n".to_vec()), (&name, b"evil\n".to_vec())]);
    plant_checkpoint(&t, &exp, &id, &tarball, 10);
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", &id[..10], "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "appears twice");
    assert!(files_under(&out).is_empty());
    let project = t.project();
    let target = keepsake_core::experiments::resolve::resolve(&project, &id).unwrap();
    let mut sink = Vec::new();
    let err = keepsake_core::experiments::checkout::read_file(
        &project,
        target.experiment(),
        Some(&Id::parse(&id).unwrap()),
        "model.pth",
        &mut sink,
    )
    .unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

/// A hostile store's own answer (an S3 error whose message holds escape sequences) is quoted in
/// the error, never written raw to the terminal.
#[test]
fn what_a_hostile_store_answers_never_reaches_the_terminal_raw() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Answers a bounded number of requests, each with the same hostile 403, then stops.
    std::thread::spawn(move || {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>\x1b]52;c;ZWNobyBoaQ==\x07\x1b[2Jdenied\nforged line</Message></Error>";
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let t = TestProject::new(true);
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = ks_env(
        &t.dir,
        &["-R", "s3://keepsake-test/hostile", "ls"],
        &[
            ("AWS_ENDPOINT", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    )
    .fails();
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stderr
    );
    assert!(
        !run.stderr.lines().any(|l| l.trim() == "forged line"),
        "{}",
        run.stderr
    );
    assert!(
        run.error_line().contains("s3://keepsake-test/hostile"),
        "{}",
        run.stderr
    );
}
