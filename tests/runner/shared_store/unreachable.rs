//! Read-only commands answer from git when the store stalls or is gone, and create nothing.

use super::*;

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
    let mut server = S3Server::start(&moto, &[]);
    let endpoint = server.endpoint.clone();
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

    server.kill();
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
