//! Sharing through git: two clones and a bare remote, with the S3-compatible server on 127.0.0.1
//! (started by scripts/test-all.sh) as the team store.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
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

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-keepsake"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `git` with the binary on PATH, so the installed hook finds `git-keepsake`.
fn git_hooked(dir: &Path, args: &[&str], path_with_binary: bool) -> Run {
    let mut cmd = std::process::Command::new("git");
    cmd.args(args).current_dir(dir);
    hermetic(&mut cmd, dir);
    let path = std::env::var("PATH").unwrap_or_default();
    let path = if path_with_binary {
        format!("{}:{path}", bin_dir().display())
    } else {
        path
    };
    cmd.env("PATH", path);
    to_run(cmd.output().unwrap())
}

fn team() -> Option<Team> {
    require_env("KEEPSAKE_TEST_S3_ENDPOINT")?;
    let alice = TestProject::new(true);
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    bare_repo(&remote);
    alice.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    alice.git(&["push", "-q", "origin", "main"]);
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
        again.stderr.contains("uploaded 0 object(s)"),
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

/// A TCP proxy in front of the S3 server that "stops the store" once a byte budget is spent.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    budget: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = Proxy {
            port,
            up: Arc::new(AtomicBool::new(true)),
            budget: Arc::new(AtomicU64::new(u64::MAX)),
            conns: Arc::default(),
        };
        let (up, budget, conns) = (p.up.clone(), p.budget.clone(), p.conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                conns
                    .lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (up2, budget2, conns2) = (up.clone(), budget.clone(), conns.clone());
                std::thread::spawn(move || pipe(client, server, Some((up2, budget2, conns2))));
                std::thread::spawn(move || pipe(s2, c2, None));
            }
        });
        p
    }

    fn set_budget(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::SeqCst);
    }

    fn restart(&self) {
        self.budget.store(u64::MAX, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }
}

type Limit = (Arc<AtomicBool>, Arc<AtomicU64>, Arc<Mutex<Vec<TcpStream>>>);

fn pipe(mut from: TcpStream, mut to: TcpStream, limit: Option<Limit>) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some((up, budget, conns)) = &limit {
            let left = budget.load(Ordering::SeqCst);
            if left < n as u64 || !up.load(Ordering::SeqCst) {
                // The store goes down: every connection is cut, new ones are refused.
                up.store(false, Ordering::SeqCst);
                for c in conns.lock().unwrap().drain(..) {
                    let _ = c.shutdown(Shutdown::Both);
                }
                break;
            }
            budget.store(left - n as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn counts(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Pushed"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let num = |after: &str| -> usize {
        let i = line.find(after).unwrap();
        line[..i]
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (num(" object(s)"), num(" already in the store"))
}

#[test]
fn push_through_a_store_outage_fails_cleanly_then_resumes() {
    let Some(t) = team() else { return };
    let endpoint = std::env::var("KEEPSAKE_TEST_S3_ENDPOINT").unwrap();
    let proxy = Proxy::start(endpoint.rsplit(':').next().unwrap().parse().unwrap());
    let via_proxy = [("AWS_ENDPOINT", format!("http://127.0.0.1:{}", proxy.port))];
    let via_proxy: Vec<(&str, &str)> = via_proxy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let project = t.alice.project();
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
    for step in 0..4 {
        let weights = noise(1 << 20, 7 + step as u64);
        std::fs::write(t.alice.dir.join("model.pth"), weights).unwrap();
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut exp,
            new_checkpoint(Some("model.pth"), step, 0.1),
        )
        .unwrap();
    }
    // The store goes down after about two of the four weight files.
    proxy.set_budget(2_500_000);
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &via_proxy,
    )
    .fails();
    assert!(run.error_line().contains(&t.store), "{}", run.stderr);
    assert!(
        !remote_refs(&t.remote).contains("refs/keepsake/"),
        "refs landed without their data"
    );

    proxy.restart();
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &via_proxy,
    )
    .ok();
    let (uploaded, already) = counts(&run.stderr);
    assert_eq!(uploaded + already, 4);
    assert!(
        already >= 1,
        "nothing was kept from the first attempt: {}",
        run.stderr
    );
    assert!(remote_refs(&t.remote).contains(exp.id.as_str()));
}

#[test]
fn hooks_block_pushes_without_data_and_cost_nothing_otherwise() {
    let Some(t) = team() else { return };
    // The user's own pre-push hook, and core.hooksPath.
    let hooks = t.alice.dir.join(".githooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let user_hook = "#!/bin/sh\ncat > /dev/null\necho user-hook-ran >> \"$(git rev-parse --git-dir)/user-hook.log\"\n";
    std::fs::write(hooks.join("pre-push"), user_hook).unwrap();
    keepsake_core::pack::set_mode(&hooks.join("pre-push"), 0o755).unwrap();
    t.alice.git(&["config", "core.hooksPath", ".githooks"]);
    t.alice.ks(&["install"]).ok();
    assert!(std::fs::read_to_string(hooks.join("pre-push"))
        .unwrap()
        .contains("git-keepsake"));
    assert_eq!(
        t.alice.git(&["config", "notes.rewriteRef"]).trim(),
        NOTES_REF
    );

    // A plain push makes no storage call: the store is unreachable, and it still works.
    t.alice.write("README", "hello\n");
    t.alice.git(&["add", "README"]);
    t.alice.git(&["commit", "-q", "-m", "readme"]);
    let mut cmd = std::process::Command::new("git");
    cmd.args(["push", "-q", "origin", "main"])
        .current_dir(&t.alice.dir);
    hermetic(&mut cmd, &t.alice.dir);
    cmd.env("AWS_ENDPOINT", "http://127.0.0.1:9").env(
        "PATH",
        format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap()),
    );
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = std::fs::read_to_string(t.alice.dir.join(".git/user-hook.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "the user's hook ran once");

    // Without the binary on PATH, a push with no keepsake refs still works.
    t.alice.write("README", "hello again\n");
    t.alice.git(&["commit", "-q", "-am", "again"]);
    git_hooked(&t.alice.dir, &["push", "-q", "origin", "main"], false);

    // A raw git push of keepsake refs whose data is not in the store is blocked.
    let exp = record_run(&t.alice, 0.3, &[0.5]);
    let refname = format!("{EXPERIMENT_REFS}{}", exp.id);
    let run = git_hooked(
        &t.alice.dir,
        &["push", "origin", &format!("{refname}:{refname}")],
        true,
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("Push blocked"), "{}", run.stderr);
    assert!(!remote_refs(&t.remote).contains(exp.id.as_str()));

    // Through `git keepsake push` the data goes first, and the same ref then passes the hook.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.args(["push", "origin", exp.id.as_str()])
        .current_dir(&t.alice.dir);
    hermetic(&mut cmd, &t.alice.dir);
    cmd.env(
        "PATH",
        format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap()),
    );
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Deleting a ref on the remote needs no data: the hook lets it through.
    let run = git_hooked(
        &t.alice.dir,
        &["push", "origin", &format!(":{refname}")],
        true,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A failing user hook still blocks the push.
    std::fs::write(
        t.alice.dir.join(".githooks/pre-push.keepsake-chained"),
        "#!/bin/sh\nexit 3\n",
    )
    .unwrap();
    let run = git_hooked(&t.alice.dir, &["push", "origin", "main"], true);
    assert_ne!(run.code, 0);
    std::fs::write(
        t.alice.dir.join(".githooks/pre-push.keepsake-chained"),
        user_hook,
    )
    .unwrap();

    // Uninstall puts the user's hook back as it was.
    t.alice.ks(&["uninstall"]).ok();
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).unwrap(),
        user_hook
    );
    assert!(!hooks.join("pre-push.keepsake-chained").exists());
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
    let mut theirs =
        keepsake_core::experiments::read::get_experiment(&bob, exp.id.as_str()).unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &bob,
        &mut theirs,
        new_checkpoint(None, 7, 0.2),
    )
    .unwrap();
    ks_in(&t.bob, &["push", "origin", exp.id.as_str()]).ok();
    let bobs = remote_refs(&t.remote);
    let alice = t.alice.project();
    let mut mine =
        keepsake_core::experiments::read::get_experiment(&alice, exp.id.as_str()).unwrap();
    keepsake_core::experiments::checkpoint::create_checkpoint(
        &alice,
        &mut mine,
        new_checkpoint(None, 8, 0.3),
    )
    .unwrap();
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

#[test]
fn promote_to_a_branch_merge_into_prod_and_check_out_the_weights() {
    let Some(t) = team() else { return };
    let exp = record_run(&t.alice, 0.01, &[0.9, 0.3, 0.6]);
    t.alice.ks(&["push", "origin", exp.id.as_str()]).ok();
    let best = &exp.checkpoints[1];
    t.alice.ks(&["branch", best.id.as_str(), "model-v2"]).ok();
    let run = t
        .alice
        .ks(&["branch", best.id.as_str(), "model-v2"])
        .fails();
    assert!(run.error_line().contains("`model-v2`"), "{}", run.stderr);
    t.alice.git(&["branch", "prod", "main"]);
    t.alice.git(&["checkout", "-q", "prod"]);
    t.alice.git(&["merge", "-q", "--no-edit", "model-v2"]);
    t.alice.git(&["push", "-q", "origin", "prod"]);

    // Bob never pulled the experiment: the pointer on prod is enough.
    git_in(&t.bob, &["fetch", "-q", "origin"]);
    git_in(&t.bob, &["checkout", "-q", "-b", "prod", "origin/prod"]);
    let pointer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.bob.join("keepsake-checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(pointer["checkpoint"], json!(best.id.as_str()));
    assert_eq!(
        pointer["blake3"],
        json!(best.files.as_ref().unwrap().blake3)
    );
    let run = ks_in(&t.bob, &["checkout"]).ok();
    assert!(
        run.stderr.contains("size and hash verified"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(t.bob.join("model.pth")).unwrap(),
        b"weights lr=0.01 step=1\n"
    );
    // Off such a branch, checkout without an ID says what it needs.
    let run = t
        .alice
        .ks(&[
            "checkout",
            "-o",
            t.tmp.path().join("none").to_str().unwrap(),
        ])
        .fails();
    assert!(
        run.error_line().contains("keepsake-checkpoint.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_store_that_refuses_credentials_is_one_clear_error() {
    let Some(t) = team() else { return };
    let Some(moto) = require_env("KEEPSAKE_TEST_MOTO_SERVER") else {
        return;
    };
    // A second S3 server that checks credentials (moto does once this is 0): ours are unknown.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let exp = record_run(&t.alice, 0.01, &[0.5]);
    let run = ks_env(
        &t.alice.dir,
        &["push", "origin", exp.id.as_str()],
        &[("AWS_ENDPOINT", &endpoint)],
    )
    .fails();
    let _ = server.kill();
    let _ = server.wait();
    assert!(run.error_line().contains(&t.store), "{}", run.stderr);
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(!remote_refs(&t.remote).contains("refs/keepsake/"));
}

/// A project with a bare remote whose store is a local directory (no S3 needed).
fn local_team() -> (TestProject, PathBuf) {
    let alice = TestProject::new(true);
    let remote = alice.bare_remote("origin", "remote.git");
    alice.git(&["push", "-q", "origin", "main"]);
    let store = alice.tmp.path().join("team-store");
    alice.git(&[
        "config",
        "remote.origin.keepsakeStore",
        &format!("file://{}", store.display()),
    ]);
    (alice, remote)
}

/// Writes `n` experiments of `checkpoints` checkpoints each (no files) into `t`'s repository with
/// one `git fast-import`: copies of a template recorded through the core, with fresh IDs, and
/// their notes lines. Returns their IDs.
fn generate_experiments(t: &TestProject, n: usize, checkpoints: usize) -> Vec<String> {
    let project = t.project();
    let mut template = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
    for step in 0..checkpoints {
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut template,
            new_checkpoint(None, step as i64, 0.5),
        )
        .unwrap();
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
        run.stdout.is_empty() && run.stderr.contains("(10000 up to date)"),
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
    let on_pushed = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
    alice.write("train.py", "print('private idea')\n");
    alice.git(&["commit", "-q", "-am", "Private idea, not for the team yet"]);
    let private = alice.git(&["rev-parse", "HEAD"]).trim().to_string();
    let later = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.2})),
    )
    .unwrap();
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
    let exp = keepsake_core::experiments::create::create_experiment(
        &t.project(),
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
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
    let old = keepsake_core::experiments::create::create_experiment(
        &t.project(),
        new_experiment(None, json!({"lr": 0.2})),
    )
    .unwrap();
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

fn metadata_only_run(t: &TestProject, steps: i64) -> keepsake_core::Experiment {
    let project = t.project();
    let mut exp = keepsake_core::experiments::create::create_experiment(
        &project,
        new_experiment(None, json!({"lr": 0.1})),
    )
    .unwrap();
    for step in 0..steps {
        keepsake_core::experiments::checkpoint::create_checkpoint(
            &project,
            &mut exp,
            new_checkpoint(None, step, 0.5 / (step + 1) as f64),
        )
        .unwrap();
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
