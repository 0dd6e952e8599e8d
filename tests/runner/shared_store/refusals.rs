//! rm never deletes what another experiment names; local keys outside the store are refused.

use keepsake_core::experiments;

use super::*;

/// Rewrites experiment `hostile`'s tip so that its checkpoint claims `victim`'s checkpoint ID
/// (and so its storage key), as a pulled record may.
fn claim_checkpoint(t: &TestProject, hostile: &keepsake_core::Experiment, victim: &str) {
    let name = format!("{EXPERIMENT_REFS}{}", hostile.id);
    let tip = t.git(&["rev-parse", &name]);
    let body = t.git(&["cat-file", "commit", tip.trim()]);
    let forged = body.replace(hostile.checkpoints[0].id.as_str(), victim);
    let mut cmd = std::process::Command::new("git");
    cmd.args(["hash-object", "-t", "commit", "-w", "--stdin"])
        .current_dir(&t.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    hermetic(&mut cmd, &t.dir);
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(forged.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let commit = String::from_utf8(out.stdout).unwrap();
    t.git(&["update-ref", &name, commit.trim()]);
}

#[test]
fn rm_never_deletes_what_another_experiment_or_a_promoted_branch_names() {
    let t = TestProject::new(true);
    let store = t.dir.join(".git/keepsake/storage");
    let victim = record_run(&t, 0.1, &[0.5, 0.4]);
    let hostile = record_run(&t, 0.9, &[0.7]);
    let shared = victim.checkpoints[0].id.as_str();
    claim_checkpoint(&t, &hostile, shared);
    let shared_key = store.join(format!("checkpoints/{shared}.tar.gz"));

    t.ks(&["rm", "--yes", hostile.id.as_str()]).ok();
    assert!(
        shared_key.exists(),
        "the victim's tarball went with the hostile experiment"
    );
    let out = t.tmp.path().join("victim");
    assert_eq!(
        checkout_text(&t.dir, shared, &out, "model.pth"),
        "weights lr=0.1 step=0\n"
    );

    // A promoted checkpoint keeps its tarball when its experiment goes; the others go.
    let promoted = victim.checkpoints[1].id.as_str();
    t.ks(&["branch", promoted, "model"]).ok();
    t.ks(&["rm", "--yes", victim.id.as_str()]).ok();
    assert!(store
        .join(format!("checkpoints/{promoted}.tar.gz"))
        .exists());
    assert!(!shared_key.exists());
    assert!(!store
        .join(format!("experiments/{}.tar.gz", victim.id))
        .exists());
}

#[test]
fn rm_of_one_checkpoint_keeps_a_tarball_another_experiment_names() {
    let t = TestProject::new(true);
    let store = t.dir.join(".git/keepsake/storage");
    let victim = record_run(&t, 0.1, &[0.5, 0.4]);
    let hostile = record_run(&t, 0.9, &[0.7]);
    let shared = victim.checkpoints[0].id.clone();
    claim_checkpoint(&t, &hostile, shared.as_str());
    // The ID prefix is ambiguous now; the core deletes the hostile experiment's checkpoint.
    let run = t.ks(&["rm", "--yes", shared.as_str()]).fails();
    assert!(run.error_line().contains("ambiguous"), "{}", run.stderr);
    let project = t.project();
    let forged = experiments::resolve::get_experiment(&project, hostile.id.as_str()).unwrap();
    assert_eq!(forged.checkpoints[0].id, shared);
    experiments::delete::delete_checkpoint(&project, &forged, &shared).unwrap();
    assert!(store.join(format!("checkpoints/{shared}.tar.gz")).exists());
    let out = t.tmp.path().join("victim");
    assert_eq!(
        checkout_text(&t.dir, shared.as_str(), &out, "model.pth"),
        "weights lr=0.1 step=0\n"
    );
}

/// A Keepsake-layout store made by hand, with `metadata` as experiment `id`'s metadata.
fn hostile_store(dir: &Path, id: &str, metadata: &str) {
    std::fs::create_dir_all(dir.join("metadata/experiments")).unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    std::fs::write(dir.join("repository.json"), r#"{"version":1}"#).unwrap();
    std::fs::write(
        dir.join(format!("metadata/experiments/{id}.json")),
        metadata,
    )
    .unwrap();
}

fn hostile_metadata(id: &str, checkpoint: &str) -> String {
    format!(
        r#"{{"id":"{id}","created":"2026-01-01T00:00:00Z","params":null,"host":"","user":"","config":{{"repository":"","storage":""}},"command":"","path":"","python_version":"","python_packages":null,"checkpoints":[{{"id":"{checkpoint}","created":"2026-01-01T00:00:00Z","metrics":null,"step":0,"path":"model.pth","primary_metric":null}}],"keepsake_version":"0.4.2"}}"#
    )
}

#[test]
fn local_keys_outside_the_store_and_links_inside_it_are_refused() {
    let t = TestProject::new(true);
    let marker = t.tmp.path().join("marker");
    std::fs::create_dir_all(&marker).unwrap();

    // Metadata whose checkpoint ID climbs out of the store.
    let source = t.tmp.path().join("hostile");
    let id = Id::generate();
    let climbing = format!(
        "../../../{}/evil",
        marker.file_name().unwrap().to_str().unwrap()
    );
    hostile_store(
        &source,
        id.as_str(),
        &hostile_metadata(id.as_str(), &climbing),
    );
    let run = t.ks(&["import", source.to_str().unwrap()]).fails();
    assert!(!run.stderr.contains("panicked"));
    assert_eq!(std::fs::read_dir(&marker).unwrap().count(), 0);

    // A tarball that is a link to a private key outside the store.
    let secret = t.tmp.path().join("id_rsa");
    std::fs::write(&secret, "PRIVATE KEY").unwrap();
    let source = t.tmp.path().join("linked");
    let id = Id::generate();
    let checkpoint = Id::generate();
    hostile_store(
        &source,
        id.as_str(),
        &hostile_metadata(id.as_str(), checkpoint.as_str()),
    );
    std::os::unix::fs::symlink(
        &secret,
        source.join(format!("checkpoints/{checkpoint}.tar.gz")),
    )
    .unwrap();
    let run = t.ks(&["import", source.to_str().unwrap()]).fails();
    assert!(
        run.stderr
            .contains(&format!("checkpoints/{checkpoint}.tar.gz"))
            && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );
    let store = t.dir.join(".git/keepsake/storage");
    for (_, bytes) in files_under(&store) {
        assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"));
    }

    // The project's own store with a linked directory: writes refuse, nothing lands outside.
    let project = t.project();
    let mut exp = create(&project, Some("."), serde_json::json!({"lr": 0.1}));
    std::fs::remove_dir_all(store.join("checkpoints")).ok();
    std::os::unix::fs::symlink(&marker, store.join("checkpoints")).unwrap();
    t.write("model.pth", "weights");
    let err = experiments::checkpoint::create_checkpoint(
        &project,
        &mut exp,
        new_checkpoint(Some("model.pth"), 0, 0.5),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("checkpoints/") && err.contains("symbolic link") && err.contains("file://"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert_eq!(std::fs::read_dir(&marker).unwrap().count(), 0);
    // Reading through it is refused as well.
    let run = t.ks(&["gc", "--dry-run"]).fails();
    assert!(run.error_line().contains("symbolic link"), "{}", run.stderr);
}
