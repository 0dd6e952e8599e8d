//! What reaches the terminal: no escape sequences from records, code or a store, no credentials.

use keepsake_core::experiments;

use super::*;

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
    let mut exp = experiments::create::create_experiment(&project, spec).unwrap();
    t.write("model.pth", "w\n");
    checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.5);
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
        let mut exp = create(&project, Some("."), json!({"lr": n}));
        t.write("model.pth", &format!("w{n}\n"));
        checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.5);
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
