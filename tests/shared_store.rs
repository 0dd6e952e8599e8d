//! The store is shared and durable: two clones on one store (a directory, and the S3 server)
//! keep each other's experiments through `gc`; experiments only the store knows (Keepsake's,
//! not imported) survive it unless pruned explicitly; `rm` never deletes what another
//! experiment names; read-only commands answer from git when the store is down and create
//! nothing; crash-left temp files are collected; local keys never reach outside the store.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use common::*;
use keepsake_core::refs::EXPERIMENT_REFS;
use keepsake_core::{storage, Id, StorageUrl};

/// The CLI's clock at the real time plus `hours`, so that file times and the grace period meet.
fn at(hours: i64) -> [(&'static str, String); 1] {
    [(
        keepsake_core::clock::NOW_ENV,
        keepsake_core::clock::format(&(chrono::Utc::now() + chrono::Duration::hours(hours))),
    )]
}

fn ks_at(dir: &Path, args: &[&str], hours: i64, extra: &[(&str, &str)]) -> Run {
    let clock = at(hours);
    let mut env: Vec<(&str, &str)> = clock.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    ks_env(dir, args, &env)
}

fn store_keys(url: &str) -> Vec<String> {
    storage::Store::open(&StorageUrl::parse(url, Path::new("/")).unwrap())
        .unwrap()
        .list("")
        .unwrap()
}

/// Two clones (a bare remote between them) writing to the store at `url`, each with an
/// experiment the other has never seen.
fn two_clones(url: &str) -> (TestProject, TestProject, tempfile::TempDir) {
    let alice = TestProject::new(true);
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    bare_repo(&remote);
    alice.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    alice.git(&["push", "-q", "origin", "main"]);
    let bob = TestProject {
        dir: tmp.path().join("bob"),
        tmp: tempfile::tempdir().unwrap(),
    };
    git_in(
        tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.dir.to_str().unwrap(),
        ],
    );
    for t in [&alice, &bob] {
        t.write("keepsake.yaml", &format!("repository: {url}\n"));
    }
    (alice, bob, tmp)
}

fn clones_keep_each_others_experiments(url: &str) {
    let (alice, bob, _tmp) = two_clones(url);
    let a = record_run(&alice, 0.1, &[0.5, 0.4]);
    let b = record_run(&bob, 0.2, &[0.6, 0.3]);
    let before = store_keys(url);
    assert!(before.len() >= 9, "{before:?}");
    for t in [&alice, &bob] {
        let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
        assert_eq!(run.stdout, "", "{}", run.stderr);
        assert!(
            run.stderr
                .contains("Kept 1 experiment(s) only the store knows"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(store_keys(url), before);
    for (t, exp) in [(&alice, &a), (&bob, &b)] {
        assert_eq!(t.ks(&["ls", "-q"]).ok().stdout, format!("{}\n", exp.id));
        let out = t.tmp.path().join(format!("out-{}", exp.id.short()));
        assert_eq!(
            checkout_text(&t.dir, exp.checkpoints[1].id.as_str(), &out, "model.pth"),
            t.read("model.pth")
        );
    }
    // And each can still import the other's: nothing it needed was deleted.
    let imported = bob.ks(&["import"]).ok().stdout;
    assert!(imported.contains(a.id.as_str()), "{imported}");
    let out = bob.tmp.path().join("alice-best");
    assert_eq!(
        checkout_text(&bob.dir, a.checkpoints[1].id.as_str(), &out, "model.pth"),
        "weights lr=0.1 step=1\n"
    );
}

#[test]
fn two_clones_on_one_directory_store_keep_each_others_experiments_through_gc() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().join("team-store").display());
    clones_keep_each_others_experiments(&url);
}

#[test]
fn two_clones_on_one_s3_store_keep_each_others_experiments_through_gc() {
    if require_env("KEEPSAKE_TEST_S3_ENDPOINT").is_none() {
        return;
    }
    let url = format!("s3://keepsake-test/shared-{}", Id::generate().short());
    clones_keep_each_others_experiments(&url);
}

/// A project whose store holds the Keepsake 0.4.2 fixture's experiments (never imported) and
/// one experiment of its own.
fn project_with_keepsake_experiments() -> (TestProject, keepsake_core::Experiment) {
    let t = TestProject::new(true);
    let out = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("fixtures/keepsake-0.4.2/project/.keepsake"))
        .arg(t.dir.join(".keepsake"))
        .output()
        .unwrap();
    assert!(out.status.success());
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    let ours = record_run(&t, 0.3, &[0.2]);
    (t, ours)
}

#[test]
fn unimported_keepsake_experiments_survive_gc_and_pruning_them_lists_asks_then_deletes() {
    let (t, ours) = project_with_keepsake_experiments();
    let store = t.dir.join(".keepsake");
    let before = files_under(&store);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("Kept 3 experiment(s) only the store knows"),
        "{}",
        run.stderr
    );
    assert_eq!(files_under(&store), before);

    // The explicit option lists them first; without a terminal or --yes it deletes nothing.
    let fixture_ids =
        std::fs::read_to_string(repo_root().join("fixtures/keepsake-0.4.2/fixture-ids.env"))
            .unwrap();
    let id = |name: &str| {
        fixture_ids
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let dry = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only", "--dry-run"],
        1,
        &[],
    )
    .ok();
    for exp in ["EXP_A", "EXP_B", "EXP_C"] {
        assert!(
            dry.stderr
                .contains(&format!("experiment {}", &id(exp)[..7])),
            "{}",
            dry.stderr
        );
        assert!(dry
            .stdout
            .contains(&format!("metadata/experiments/{}.json", id(exp))));
    }
    assert!(dry
        .stdout
        .contains(&format!("checkpoints/{}.tar.gz", id("CHK_A1"))));
    assert!(!dry.stdout.contains(ours.id.as_str()), "{}", dry.stdout);
    let refused = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only"],
        1,
        &[],
    )
    .fails();
    assert!(
        refused.error_line().contains("Nothing deleted"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains(&id("EXP_B")[..7]));
    assert_eq!(files_under(&store), before);

    let pruned = ks_at(
        &t.dir,
        &["gc", "--grace", "0", "--prune-store-only", "--yes"],
        1,
        &[],
    )
    .ok();
    assert_eq!(pruned.stdout, dry.stdout);
    let left: Vec<String> = files_under(&store).into_keys().collect();
    assert!(
        left.iter().all(|k| !["EXP_A", "EXP_B", "EXP_C", "CHK_A1"]
            .iter()
            .any(|n| k.contains(&id(n)))),
        "{left:?}"
    );
    assert!(left.contains(&format!("metadata/experiments/{}.json", ours.id)));
    let out = t.tmp.path().join("ours");
    assert_eq!(
        checkout_text(&t.dir, ours.checkpoints[0].id.as_str(), &out, "model.pth"),
        "weights lr=0.3 step=0\n"
    );
}

#[test]
fn gc_refuses_on_metadata_or_a_ref_it_cannot_read_and_deletes_nothing() {
    let (t, _ours) = project_with_keepsake_experiments();
    let store = t.dir.join(".keepsake");
    let orphan = store.join(format!("checkpoints/{}.tar.gz", Id::generate()));
    std::fs::write(&orphan, "orphan").unwrap();
    let bad = format!("metadata/experiments/{}.json", Id::generate());
    std::fs::write(store.join(&bad), r#"{"id": "x", "checkpoints": [{"id": "#).unwrap();
    let before = files_under(&store);
    for args in [
        &["gc", "--grace", "0"][..],
        &["gc", "--grace", "0", "--prune-store-only", "--yes"],
    ] {
        let run = ks_at(&t.dir, args, 1, &[]).fails();
        assert!(run.error_line().contains(&bad), "{}", run.stderr);
        assert_eq!(files_under(&store), before);
    }
    std::fs::remove_file(store.join(&bad)).unwrap();

    // A ref whose commit holds no record.
    let tree = t.git(&["write-tree"]);
    let commit = t.git(&["commit-tree", tree.trim(), "-m", "not a record"]);
    let name = format!("{EXPERIMENT_REFS}{}", Id::generate());
    t.git(&["update-ref", &name, commit.trim()]);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).fails();
    assert!(run.error_line().contains(&name), "{}", run.stderr);
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1
    );
    assert!(orphan.exists());
    t.git(&["update-ref", "-d", &name]);
    let run = ks_at(&t.dir, &["gc", "--grace", "0"], 1, &[]).ok();
    assert!(run
        .stdout
        .contains(orphan.file_name().unwrap().to_str().unwrap()));
    assert!(!orphan.exists());
}

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
    let forged =
        keepsake_core::experiments::read::get_experiment(&project, hostile.id.as_str()).unwrap();
    assert_eq!(forged.checkpoints[0].id, shared);
    keepsake_core::experiments::delete::delete_checkpoint(&project, &forged, &shared).unwrap();
    assert!(store.join(format!("checkpoints/{shared}.tar.gz")).exists());
    let out = t.tmp.path().join("victim");
    assert_eq!(
        checkout_text(&t.dir, shared.as_str(), &out, "model.pth"),
        "weights lr=0.1 step=0\n"
    );
}

/// A TCP port that accepts connections and never answers: a stalled store.
fn stalled_endpoint() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
    ]
}

fn ks_s3(dir: &Path, args: &[&str], endpoint: &str) -> Run {
    let env = s3_env(endpoint);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ks_env(dir, args, &env)
}

/// An HTTP request to the S3 server without signing (moto takes those).
fn http(endpoint: &str, method: &str, path: &str, body: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn ls_and_show_answer_from_git_when_the_store_stalls() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    let other = record_run(&t, 0.2, &[0.4]);
    let (_listener, endpoint) = stalled_endpoint();
    t.write("keepsake.yaml", "repository: s3://keepsake-test/stalled\n");
    let diff = ks_s3(
        &t.dir,
        &["diff", exp.id.short(), other.id.short()],
        &endpoint,
    )
    .ok();
    assert!(diff.stdout.contains("lr"), "{}", diff.stdout);
    for args in [&["ls"][..], &["ps"], &["show", exp.id.short()]] {
        let run = ks_s3(&t.dir, args, &endpoint).ok();
        assert!(
            run.stderr.contains("status unknown: store unreachable"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.matches("status unknown").count(), 1);
        if args[0] != "ps" {
            assert!(run.stdout.contains(exp.id.short()), "{}", run.stdout);
        }
        if args[0] == "ls" {
            assert!(run.stdout.contains("unknown"), "{}", run.stdout);
        }
    }
    let run = ks_s3(&t.dir, &["ls", "--json"], &endpoint).ok();
    assert_eq!(run.json()[0]["id"], serde_json::json!(exp.id.as_str()));
}

#[test]
fn ls_answers_from_git_after_the_s3_server_is_killed() {
    let Some(moto) = require_env("KEEPSAKE_TEST_MOTO_SERVER") else {
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let up = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the S3 server did not start");
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    t.write("keepsake.yaml", "repository: s3://keepsake-test/killed\n");
    assert!(http(&endpoint, "PUT", "/keepsake-test", "").contains("200"));
    // A heartbeat as fresh as the CLI's clock: the experiment is running while the store is up.
    let beat = format!(
        "{{\n \"experiment_id\": \"{}\",\n \"last_heartbeat\": \"{CLI_TIME}\"\n}}",
        exp.id
    );
    let key = format!("/keepsake-test/killed/metadata/heartbeats/{}.json", exp.id);
    assert!(http(&endpoint, "PUT", &key, &beat).contains("200"));
    let run = ks_s3(&t.dir, &["ls"], &endpoint).ok();
    assert!(
        run.stdout.contains("running"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    server.kill().unwrap();
    server.wait().unwrap();
    let run = ks_s3(&t.dir, &["ls"], &endpoint).ok();
    assert!(run.stdout.contains(exp.id.short()), "{}", run.stdout);
    assert!(run.stdout.contains("unknown"), "{}", run.stdout);
    assert!(
        run.stderr.contains("status unknown: store unreachable"),
        "{}",
        run.stderr
    );
}

#[test]
fn read_only_commands_create_nothing_and_import_of_a_missing_store_fails() {
    let t = TestProject::new(true);
    let before = snapshot(&t.dir);
    for args in [
        &["ls"][..],
        &["ps"],
        &["config"],
        &["ls", "--json"],
        &["gc", "--dry-run"],
    ] {
        t.ks(args).ok();
    }
    assert!(!t.dir.join(".git/keepsake/storage").exists());
    let missing = t.tmp.path().join("nonexistent");
    let run = t.ks(&["import", missing.to_str().unwrap()]).fails();
    assert!(
        run.error_line().contains(missing.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(!missing.exists());
    assert!(!t.dir.join(".git/keepsake/storage").exists());
    assert_eq!(before, snapshot(&t.dir));
}

#[test]
fn gc_removes_temp_files_crashed_writers_left_once_past_the_grace_period() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    let store = t.dir.join(".git/keepsake/storage");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    let left = [
        format!("metadata/experiments/.{}.json.tmp-4242-7", exp.id),
        format!("metadata/heartbeats/{}.json#3", exp.id),
        "checkpoints/.keepsake-capture-Xy12ab".to_string(),
        format!("checkpoints/.{}.tar.gz.tmp-4242-8", Id::generate()),
        ".repository.json.tmp-4242-9".to_string(),
    ];
    for key in &left {
        std::fs::create_dir_all(store.join(key).parent().unwrap()).unwrap();
        let f = std::fs::File::create(store.join(key)).unwrap();
        f.set_modified(old).unwrap();
    }
    // One still being written (fresh) stays.
    let fresh = format!("checkpoints/.{}.tar.gz.tmp-4243-0", Id::generate());
    std::fs::write(store.join(&fresh), "in flight").unwrap();
    let listed = ks_at(&t.dir, &["ls", "-q"], 0, &[]).ok().stdout;
    assert_eq!(listed, format!("{}\n", exp.id));

    let run = ks_at(&t.dir, &["gc"], 0, &[]).ok();
    let mut got: Vec<&str> = run.stdout.lines().collect();
    got.sort();
    let mut want: Vec<&str> = left.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want, "{}", run.stderr);
    for key in &left {
        assert!(!store.join(key).exists(), "{key}");
    }
    assert!(store.join(&fresh).exists());
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, exp.checkpoints[0].id.as_str(), &out, "model.pth"),
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
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(Some("."), serde_json::json!({"lr": 0.1})),
    )
    .unwrap();
    std::fs::remove_dir_all(store.join("checkpoints")).ok();
    std::os::unix::fs::symlink(&marker, store.join("checkpoints")).unwrap();
    t.write("model.pth", "weights");
    let err = keepsake_core::experiments::checkpoint::create_checkpoint(
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

#[test]
fn gc_after_a_prompt_deletes_only_what_is_still_unreferenced() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.1, &[0.5]);
    let store = t.dir.join(".git/keepsake/storage");
    let (claimed, orphan) = (Id::generate(), Id::generate());
    for id in [&claimed, &orphan] {
        std::fs::write(store.join(format!("checkpoints/{id}.tar.gz")), "data").unwrap();
    }
    let project = t.project();
    let options = keepsake_core::sharing::gc::GcOptions {
        grace: std::time::Duration::ZERO,
        prune_store_only: false,
    };
    let plan = keepsake_core::sharing::gc::plan(&project, options).unwrap();
    assert_eq!(plan.unreferenced.len(), 2, "{:?}", plan.unreferenced);
    // Meanwhile a teammate's experiment comes to name one of them.
    let teammate = Id::generate();
    std::fs::write(
        store.join(format!("metadata/experiments/{teammate}.json")),
        format!(r#"{{"id":"{teammate}","checkpoints":[{{"id":"{claimed}"}}]}}"#),
    )
    .unwrap();
    let done = keepsake_core::sharing::gc::apply(&project, &plan, options).unwrap();
    assert_eq!(
        done.unreferenced,
        [(format!("checkpoints/{orphan}.tar.gz"), 4)]
    );
    assert!(store.join(format!("checkpoints/{claimed}.tar.gz")).exists());
    assert!(!store.join(format!("checkpoints/{orphan}.tar.gz")).exists());
    assert!(store
        .join(format!("checkpoints/{}.tar.gz", exp.checkpoints[0].id))
        .exists());
}
