//! `git keepsake ui`'s server and JSON API over real HTTP (a real server process on 127.0.0.1,
//! spoken to with plain HTTP/1.1 over a socket), and `git keepsake report`'s file. The pages
//! themselves are tested in a real browser by tests/web/ (pytest + selenium + chromium).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::*;
use serde_json::Value;

/// A running `git keepsake ui`, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(t: &TestProject, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
        cmd.arg("ui")
            .args(extra)
            .current_dir(&t.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        hermetic(&mut cmd, &t.dir);
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("http://127.0.0.1:")
            .and_then(|r| r.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no URL printed: {line:?}"))
            .parse()
            .unwrap();
        Server { child, port }
    }

    /// `method path` with `Host: host` (and `extra` header lines); (status, headers, body).
    fn request(&self, method: &str, path: &str, host: &str, extra: &str) -> (u16, String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_string())
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        self.request("GET", path, &format!("127.0.0.1:{}", self.port), "")
    }

    fn json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn three_runs() -> TestProject {
    let t = TestProject::new(true);
    record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    record_run(&t, 0.1, &[0.8, 0.6]);
    record_run(&t, 1.0, &[0.4]);
    t
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_api_listing_is_ls_json_with_the_same_filters_and_sort() {
    let t = three_runs();
    let server = Server::start(&t, &[]);
    let ls = |args: &[&str]| -> Value {
        let mut all = vec!["ls", "--json"];
        all.extend_from_slice(args);
        t.ks(&all).ok().json()
    };
    let all = server.json("/api/experiments");
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all, ls(&[]));
    let sorted = server.json("/api/experiments?sort=-loss");
    assert_eq!(sorted, ls(&["--sort", "-loss"]));
    assert_ne!(sorted, all, "the sort must change the order");
    let q = format!(
        "/api/experiments?filter={}&filter={}&sort=lr",
        pct("loss < 0.65"),
        pct("lr >= 0.1")
    );
    let filtered = server.json(&q);
    assert_eq!(
        filtered,
        ls(&[
            "--filter",
            "loss < 0.65",
            "--filter",
            "lr >= 0.1",
            "--sort",
            "lr"
        ])
    );
    assert_eq!(filtered.as_array().unwrap().len(), 2);
    // A bad filter is a 400 naming it, as `ls` names it on stderr.
    let (status, _, body) = server.get(&format!("/api/experiments?filter={}", pct("loss << 1")));
    assert_eq!(status, 400, "{body}");
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("loss << 1"), "{message}");
    assert!(
        t.ks(&["ls", "--filter", "loss << 1"])
            .fails()
            .error_line()
            .contains(&message),
        "{message}"
    );
}

#[test]
fn the_api_experiment_has_every_checkpoint_its_best_and_its_commands() {
    let t = three_runs();
    let ids: Vec<String> = t
        .ks(&["ls", "-q"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect();
    let server = Server::start(&t, &[]);
    let v = server.json(&format!("/api/experiments/{}", &ids[0][..8]));
    assert_eq!(v["id"], ids[0].as_str());
    let shown = t.ks(&["show", "--json", &ids[0]]).ok().json();
    assert_eq!(v["params"], shown["params"]);
    assert_eq!(v["checkpoints"].as_array().unwrap().len(), 3);
    for (c, s) in v["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .zip(shown["checkpoints"].as_array().unwrap())
    {
        assert_eq!(c["metrics"], s["metrics"]);
        assert_eq!(c["step"], s["step"]);
        assert!(c["files"]["size"].as_u64().unwrap() > 0, "{c}");
    }
    // The best is the step-1 checkpoint (loss 0.5), not the latest.
    assert_eq!(
        v["keepsake"]["best_checkpoint"], v["checkpoints"][1]["id"],
        "{v}"
    );
    assert_eq!(v["keepsake"]["status"], "stopped");
    assert!(v["keepsake"]["git_commit"].as_str().unwrap().len() == 40);
    let commands: Vec<&str> = v["keepsake"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(commands.contains(&format!("git keepsake apply {}", &ids[0][..7]).as_str()));
    let (status, _, body) = server.get("/api/experiments/0000000");
    assert_eq!(status, 404, "{body}");
    // The code diff against another experiment is `diff`'s code section.
    let d = server.json(&format!(
        "/api/experiments/{}/diff?against={}",
        ids[1], ids[0]
    ));
    assert_eq!(d["against"], ids[0].as_str());
    assert_eq!(
        server.json("/api/remotes"),
        serde_json::json!([]),
        "no remotes in a fresh project"
    );
}

#[test]
fn the_baseline_diff_shows_what_the_snapshot_changed() {
    let t = TestProject::new(true);
    t.write(
        "src/model.py",
        "def build(hidden):\n    return {\"hidden\": hidden + 1}\n",
    );
    let e = record_run(&t, 0.1, &[0.5]);
    let project = t.project();
    let diff = keepsake_core::experiments::read::baseline_diff(&project, &e)
        .unwrap()
        .unwrap();
    assert!(
        diff.contains("+    return {\"hidden\": hidden + 1}"),
        "{diff}"
    );
    // An experiment on a clean tree has nothing beyond its baseline.
    t.git(&["commit", "-qam", "bigger"]);
    let clean = record_run(&t, 0.2, &[0.5]);
    let project = t.project();
    let diff = keepsake_core::experiments::read::baseline_diff(&project, &clean).unwrap();
    assert_eq!(diff.as_deref(), Some(""));
}

#[test]
fn the_server_refuses_other_hosts_other_methods_and_sends_no_cors() {
    let t = three_runs();
    let server = Server::start(&t, &[]);
    let port = server.port;
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, head, _) = server.request("GET", "/", &host, "");
        assert_eq!(status, 200, "{host}");
        assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    }
    // DNS rebinding: a page at evil.example whose name now points to 127.0.0.1.
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("localhost.evil.example:{port}"),
    ] {
        let (status, _, body) = server.request("GET", "/api/experiments", &host, "");
        assert_eq!(status, 403, "{host}: {body}");
        assert!(!body.contains("\"id\""), "{body}");
    }
    // A page elsewhere making the browser send a GET here (an <img>, a no-cors fetch): the
    // Host is right, but the browser says where it comes from.
    let own = format!("127.0.0.1:{port}");
    for from in [
        "Origin: http://evil.example\r\n".to_string(),
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Sec-Fetch-Site: same-site\r\n".to_string(),
        format!("Origin: http://127.0.0.1:{}\r\n", port.wrapping_add(1)),
    ] {
        let (status, head, body) =
            server.request("GET", "/api/experiments?remote=origin", &own, &from);
        assert_eq!(status, 403, "{from}: {body}");
        assert!(!head.contains("access-control-"), "{head}");
    }
    // The app's own requests, and tools that send neither header.
    for from in [
        format!("Origin: http://127.0.0.1:{port}\r\nSec-Fetch-Site: same-origin\r\n"),
        "Sec-Fetch-Site: none\r\n".to_string(),
        String::new(),
    ] {
        let (status, head, _) = server.request("GET", "/api/experiments", &own, &from);
        assert_eq!(status, 200, "{from}");
        assert!(!head.contains("access-control-"), "{head}");
    }
    // The page itself may be opened from a link elsewhere: it does nothing until it asks /api/.
    let (status, _, _) = server.request("GET", "/", &own, "Sec-Fetch-Site: cross-site\r\n");
    assert_eq!(status, 200);
    // One Host header, never two.
    let (status, _, _) = server.request("GET", "/api/experiments", &own, "Host: evil.example\r\n");
    assert_eq!(status, 403);
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let (status, _, _) = server.request(
            method,
            "/api/experiments",
            &format!("127.0.0.1:{port}"),
            "Content-Length: 0\r\n",
        );
        assert_eq!(status, 405, "{method}");
    }
}

#[test]
fn ui_outside_a_project_fails_with_one_line_and_a_taken_port_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = ks_in(dir.path(), &["ui"]).fails();
    assert!(run.error_line().starts_with("error:"), "{}", run.stderr);
    let t = three_runs();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = t.ks(&["ui", "--port", &port]).fails();
    assert!(
        run.error_line().contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
}

#[test]
fn report_embeds_the_listing_and_every_checkpoint_with_nothing_to_fetch() {
    let t = three_runs();
    let out = t.dir.join("report.html");
    let run = t
        .ks(&["report", "--filter", "lr < 1", "-o", out.to_str().unwrap()])
        .ok();
    assert!(run.stderr.contains("2 experiment(s)"), "{}", run.stderr);
    let page = std::fs::read_to_string(&out).unwrap();
    let start = page.find("id=\"keepsake-data\">").unwrap() + "id=\"keepsake-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&page[start..end]).unwrap();
    assert_eq!(
        data["experiments"],
        t.ks(&["ls", "--json", "--filter", "lr < 1"]).ok().json()
    );
    for row in data["experiments"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let shown = t.ks(&["show", "--json", id]).ok().json();
        assert_eq!(
            data["details"][id]["checkpoints"].as_array().unwrap().len(),
            shown["checkpoints"].as_array().unwrap().len()
        );
    }
    // Nothing in it names anything to load: no src=, href= or url( but its own anchors.
    for needle in ["src=", "http://", "https://", "url("] {
        assert!(!page[..start].contains(needle), "{needle}");
    }
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"));
    let bad = t
        .ks(&["report", "abc", "--filter", "lr < 1", "-o", "x.html"])
        .fails();
    assert!(bad.error_line().contains("not both"), "{}", bad.stderr);
}

#[test]
fn the_remote_toggle_lists_what_ls_remote_lists() {
    let alice = three_runs();
    alice.publish_with_store();
    let ids = alice.ks(&["ls", "-q"]).ok().stdout;
    let first = ids.lines().next().unwrap();
    alice.ks(&["push", "origin", first]).ok();
    let server = Server::start(&alice, &[]);
    assert_eq!(server.json("/api/remotes"), serde_json::json!(["origin"]));
    let remote = server.json("/api/experiments?remote=origin");
    assert_eq!(remote.as_array().unwrap().len(), 1);
    assert_eq!(remote[0]["id"], first);
    assert_eq!(
        remote,
        alice
            .ks(&["ls", "--json", "--remote", "origin"])
            .ok()
            .json()
    );
    let (status, _, body) = server.get("/api/experiments?remote=nope");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nope"), "{body}");
    // A remote's row opens its page though this clone has no ref of it: read from the ref
    // tracked by the listing, its whole history checked.
    let local = server.json(&format!("/api/experiments/{first}"));
    alice.git(&[
        "update-ref",
        "-d",
        &format!("refs/keepsake/experiments/{first}"),
    ]);
    assert!(!alice.ks(&["ls", "-q"]).ok().stdout.contains(first));
    let (status, _, _) = server.get(&format!("/api/experiments/{}", &first[..10]));
    assert_eq!(status, 200, "served from the tracked ref");
    let tracked = server.json(&format!("/api/experiments/{}", &first[..10]));
    assert_eq!(tracked["id"], first);
    assert_eq!(tracked["checkpoints"], local["checkpoints"]);
    let (status, _, body) = server.get(&format!("/api/experiments/{}", "f".repeat(12)));
    assert_eq!(status, 404, "{body}");
    // A hostile remote's tracked ref (here, to a blob): one error naming the ref, nothing served.
    alice.write("not-a-commit.txt", "hostile");
    let blob = alice.git(&["hash-object", "-w", "not-a-commit.txt"]);
    let bad = "e".repeat(64);
    alice.git(&[
        "update-ref",
        &format!("refs/keepsake/remotes/origin/{bad}"),
        blob.trim(),
    ]);
    let (status, _, body) = server.get(&format!("/api/experiments/{}", &bad[..12]));
    assert!(status >= 400, "{status}: {body}");
    assert!(
        body.contains(&format!("refs/keepsake/remotes/origin/{bad}")),
        "{body}"
    );
    assert!(!body.contains("\"checkpoints\""), "{body}");
}

/// The dashboard's filter and sort are `ls`'s: a name no experiment has is a 400 naming it,
/// with the closest name, never an empty table.
#[test]
fn the_api_refuses_a_filter_or_sort_on_a_name_no_experiment_has() {
    let t = three_runs();
    let server = Server::start(&t, &[]);
    let (status, _, body) = server.get(&format!("/api/experiments?filter={}", pct("lrr < 1")));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`lrr`") && body.contains("`lr`"), "{body}");
    let (status, _, body) = server.get("/api/experiments?sort=-los");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`los`") && body.contains("`loss`"), "{body}");
}
