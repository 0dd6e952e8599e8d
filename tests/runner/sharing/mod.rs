//! Sharing through git: two clones and a bare remote, with the S3-compatible server on 127.0.0.1
//! (started by scripts/test-all.sh) as the team store.

mod hooks_promote;
mod outage;
mod push_pull;
mod scale;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;
use keepsake_core::refs::{EXPERIMENT_REFS, NOTES_REF};
use keepsake_core::Id;
use serde_json::json;

struct Team {
    tmp: tempfile::TempDir,
    alice: TestProject,
    bob: PathBuf,
    remote: PathBuf,
    store: String,
}

fn team() -> Option<Team> {
    require_env("KEEPSAKE_TEST_S3_ENDPOINT")?;
    let alice = TestProject::new(true);
    let remote = alice.publish();
    let tmp = tempfile::tempdir().unwrap();
    let bob = tmp.path().join("bob");
    git_in(
        tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.to_str().unwrap(),
        ],
    );
    let store = format!("s3://keepsake-test/team-{}", Id::generate().short());
    for dir in [&alice.dir, &bob] {
        git_in(dir, &["config", "remote.origin.keepsakeStore", &store]);
    }
    Some(Team {
        tmp,
        alice,
        bob,
        remote,
        store,
    })
}

fn remote_refs(remote: &Path) -> String {
    git_in(
        remote,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
    )
}

/// A project with a bare remote whose store is a local directory (no S3 needed).
fn local_team() -> (TestProject, PathBuf) {
    let alice = TestProject::new(true);
    let (remote, _) = alice.publish_with_store();
    (alice, remote)
}

/// A second clone of `remote`, with the same store for `origin`.
fn clone_of(alice: &TestProject, remote: &Path, name: &str) -> PathBuf {
    let dir = alice.tmp.path().join(name);
    git_in(
        alice.tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    let mut cmd = std::process::Command::new("git");
    cmd.args(["config", "remote.origin.keepsakeStore"])
        .current_dir(&alice.dir);
    hermetic(&mut cmd, &alice.dir);
    let store = String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
    if !store.trim().is_empty() {
        git_in(
            &dir,
            &["config", "remote.origin.keepsakeStore", store.trim()],
        );
    }
    dir
}
