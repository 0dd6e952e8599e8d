//! Hostile remotes and stores: one test per way an attacker was found to turn sharing against the
//! user. Crafted refs, trees and records come from fixtures/hostile/craft.sh, which writes them
//! with git's plumbing into an attacker's clone; they reach the victim through a real bare
//! remote and a plain `git fetch` (git's default fetch checks nothing). Each test checks that
//! nothing was written outside the target, that the victim's experiments and data are intact,
//! and that the command fails with one clear line naming the bad ref, ID or key.

mod caches;
mod data;
mod paths;
mod refs;
mod stores;
mod terminal;

use std::path::{Path, PathBuf};

use crate::support::*;
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

/// The store of the victim's project (the default one, inside .git).
fn store(t: &TestProject) -> PathBuf {
    t.dir.join(".git/keepsake/storage")
}

fn error_names(run: &Run, what: &str) {
    assert_eq!(run.error_count(), 1, "{}", run.stderr);
    assert!(
        run.error_line().contains(what),
        "want {what:?} in: {}",
        run.stderr
    );
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
