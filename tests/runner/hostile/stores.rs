//! Hostile stores: an S3 store, a Keepsake store to import, and a push that would replace another experiment's objects.

use super::*;

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
