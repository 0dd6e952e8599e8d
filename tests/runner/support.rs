//! Shared helpers for the end-to-end tests: hermetic git repositories built by the scripts in
//! fixtures/, the binary run with no user config and a fixed clock, and recording through the core.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keepsake_core::{
    experiments, Checkpoint, Experiment, NewCheckpoint, NewExperiment, OpenOptions, Params,
    PrimaryMetric, Project,
};
use serde_json::{json, Value};

/// The time every test process records at (advancing by a millisecond per reading).
pub const RECORD_TIME: &str = "2026-03-01T12:00:00Z";
/// The time the CLI runs at in tests: two minutes after recording.
pub const CLI_TIME: &str = "2026-03-01T12:02:00Z";

pub fn fix_clock() {
    keepsake_core::clock::fix(keepsake_core::clock::parse(RECORD_TIME).unwrap());
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A project built by fixtures/make-git-project.sh (with git unless `git` is false).
pub struct TestProject {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl TestProject {
    pub fn new(git: bool) -> TestProject {
        fix_clock();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("fixtures/make-git-project.sh"))
            .arg(&dir);
        if !git {
            cmd.arg("--no-git");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "fixture: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = dir.canonicalize().unwrap();
        TestProject { tmp, dir }
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }

    pub fn project(&self) -> Project {
        Project::open(&OpenOptions {
            cwd: self.dir.clone(),
            ..Default::default()
        })
        .unwrap()
    }

    /// Runs `git keepsake <args>` in the project directory.
    pub fn ks(&self, args: &[&str]) -> Run {
        ks_in(&self.dir, args)
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.dir, args)
    }

    /// A fresh bare repository `<tmp>/<dir_name>` (branch `main`), added as git remote `remote`.
    pub fn bare_remote(&self, remote: &str, dir_name: &str) -> PathBuf {
        let path = self.tmp.path().join(dir_name);
        bare_repo(&path);
        self.git(&["remote", "add", remote, path.to_str().unwrap()]);
        path
    }

    /// This project published: a fresh bare remote `origin` (`<tmp>/remote.git`) with `main`
    /// pushed to it; its path.
    pub fn publish(&self) -> PathBuf {
        let remote = self.bare_remote("origin", "remote.git");
        self.git(&["push", "-q", "origin", "main"]);
        remote
    }

    /// `publish`, with a team store for `origin` in a local directory (no S3 needed); the
    /// remote's path and the store's.
    pub fn publish_with_store(&self) -> (PathBuf, PathBuf) {
        let remote = self.publish();
        let store = self.tmp.path().join("team-store");
        self.git(&[
            "config",
            "remote.origin.keepsakeStore",
            &format!("file://{}", store.display()),
        ]);
        (remote, store)
    }
}

/// A fresh bare repository at `path`, with `main` as its default branch.
pub fn bare_repo(path: &Path) {
    let parent = path.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap();
    git_in(
        parent,
        &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
    );
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn fails(self) -> Run {
        assert_ne!(
            self.code, 0,
            "expected a failure; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The first line of stderr (the error message).
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or("")
    }

    /// How many errors stderr reports (a failure is one error line, then its causes and hint).
    pub fn error_count(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count()
    }
}

/// An S3 server of the test's own (moto, on a free port of 127.0.0.1), for tests that stop it
/// or configure it apart from the shared one; killed when dropped.
pub struct S3Server {
    child: std::process::Child,
    pub endpoint: String,
}

impl S3Server {
    pub fn start(moto: &str, env: &[(&str, &str)]) -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "the S3 server did not start");
        S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Stops it at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn hermetic(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .env("KEEPSAKE_NO_ANALYTICS", "1")
        // A test on a pseudo-terminal would otherwise page its output and wait on `less`.
        .env("GIT_PAGER", "cat")
        .env(keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW, CLI_TIME);
}

pub fn ks_in(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    to_run(cmd.output().unwrap())
}

pub fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir);
    hermetic(&mut cmd, dir);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn params(v: Value) -> Params {
    match v {
        Value::Object(m) => m,
        _ => panic!("params must be an object"),
    }
}

pub fn new_experiment(path: Option<&str>, p: Value) -> NewExperiment {
    NewExperiment {
        path: path.map(str::to_string),
        params: params(p),
        command: "train.py --epochs 3".into(),
        user: "ada".into(),
        host: "trainer-1".into(),
        python_version: "3.11.7".into(),
        python_packages: [("numpy".to_string(), "1.26.4".to_string())]
            .into_iter()
            .collect(),
    }
}

pub fn new_checkpoint(path: Option<&str>, step: i64, loss: f64) -> NewCheckpoint {
    NewCheckpoint {
        path: path.map(str::to_string),
        step,
        metrics: params(json!({"loss": loss, "accuracy": 1.0 - loss})),
        primary_metric: Some(PrimaryMetric {
            name: "loss".into(),
            goal: keepsake_core::Goal::Minimize,
        }),
    }
}

/// Creates an experiment through the core (as the Python package does), snapshotting `path`.
pub fn create(project: &Project, path: Option<&str>, p: Value) -> Experiment {
    experiments::create::create_experiment(project, new_experiment(path, p)).unwrap()
}

/// Records a checkpoint of `path` at `step` with `loss` (the primary metric, minimized).
pub fn checkpoint(
    project: &Project,
    exp: &mut Experiment,
    path: Option<&str>,
    step: i64,
    loss: f64,
) -> Checkpoint {
    experiments::checkpoint::create_checkpoint(project, exp, new_checkpoint(path, step, loss))
        .unwrap()
}

/// Records one experiment with three checkpoints of a weights file; returns it.
pub fn record_run(t: &TestProject, lr: f64, losses: &[f64]) -> Experiment {
    let project = t.project();
    let mut exp = create(&project, Some("."), json!({"lr": lr, "layers": 2}));
    for (step, loss) in losses.iter().enumerate() {
        t.write("model.pth", &format!("weights lr={lr} step={step}\n"));
        checkpoint(&project, &mut exp, Some("model.pth"), step as i64, *loss);
    }
    exp
}

/// Whether an optional outside part (Keepsake 0.4.2, the S3 server) is configured; in CI
/// (`CI` set) a missing part is a failure, never a silent skip.
pub fn require_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("CI").is_ok() => {
            panic!("{name} is not set: run the tests through scripts/test-all.sh")
        }
        _ => {
            eprintln!("skipping: {name} is not set (scripts/test-all.sh sets it)");
            None
        }
    }
}

pub fn ks_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    to_run(cmd.output().unwrap())
}

/// Every file under `root` with its bytes, and every ref of the repository: the state that a
/// failed command must leave as it was.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.retain(|(p, _)| !p.ends_with("index") && !p.starts_with(".git/logs"));
    out.sort();
    out
}

/// Runs the real Keepsake 0.4.2 CLI from the virtual environment in `venv`.
pub fn keepsake(venv: &str, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(Path::new(venv).join("bin/keepsake"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    to_run(cmd.output().unwrap())
}

/// Every regular file under `root`, with its bytes, keyed by relative path.
pub fn files_under(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    snapshot(root).into_iter().collect()
}

/// Deterministic incompressible bytes (xorshift), standing in for weights.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The keys of an experiment in `ls --json`, in Keepsake 0.4.2's order.
pub const LS_JSON_KEYS: [&str; 10] = [
    "id",
    "created",
    "params",
    "command",
    "num_checkpoints",
    "latest_checkpoint",
    "best_checkpoint",
    "user",
    "host",
    "running",
];

/// `git keepsake checkout <id> -o <out>` in `dir`, then the text of `rel` in `out`.
pub fn checkout_text(dir: &Path, id: &str, out: &Path, rel: &str) -> String {
    ks_in(dir, &["checkout", id, "-o", out.to_str().unwrap()]).ok();
    std::fs::read_to_string(out.join(rel)).unwrap()
}

/// What `ks_pty` saw on each terminal.
pub struct PtyRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A pseudo-terminal `cols` wide, raw (no `\r` added before `\n`, so its bytes are the
/// program's): (the side we read, the side the program writes to).
pub fn pty(cols: u16) -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes the two descriptors; the files own them from here on.
    unsafe {
        let rc = libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        );
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // Not inherited by what other test threads spawn, which would hold the terminal open.
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(slave, &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(slave, libc::TCSANOW, &t);
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

/// Everything the program writes to `master`'s terminal, until the last writer closes it.
pub fn drain(mut master: std::fs::File) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        // Linux answers EIO once no program has the terminal open: the end.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Runs `git keepsake <args>` in `dir` as from a person's terminal: stdout and stderr each on a
/// pseudo-terminal `cols` wide (stdin is not one). The sealed environment with TERM set, no
/// pager (`GIT_PAGER=cat`) and none of the caller's colour, width or pager variables; `env` on top.
pub fn ks_pty(dir: &Path, args: &[&str], env: &[(&str, &str)], cols: u16) -> PtyRun {
    ks_pty_unset(dir, args, env, cols, &[])
}

/// `ks_pty` with the variables `unset` not set at all (GIT_PAGER, so git config chooses).
pub fn ks_pty_unset(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cols: u16,
    unset: &[&str],
) -> PtyRun {
    let (out_master, out_slave) = pty(cols);
    let (err_master, err_slave) = pty(cols);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(out_slave)
        .stderr(err_slave);
    hermetic(&mut cmd, dir);
    for var in [
        "NO_COLOR",
        "COLUMNS",
        "PAGER",
        "LESS",
        "LV",
        "GIT_PAGER_IN_USE",
        "GIT_CONFIG_PARAMETERS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm-256color").env("GIT_PAGER", "cat");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for var in unset {
        cmd.env_remove(var);
    }
    let (out, err) = (drain(out_master), drain(err_master));
    let status = cmd.status().unwrap();
    // The terminals' program side closes with `cmd` (and with the program's children).
    drop(cmd);
    PtyRun {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs this package's `keepsake` command (Keepsake 0.4.2's command line) in `dir` on the real
/// clock, as Keepsake runs, so relative times and dates read alike; stdin closed, no colour.
pub fn keepsake_ours(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keepsake"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    cmd.env_remove(keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW)
        .env("NO_COLOR", "1");
    to_run(cmd.output().unwrap())
}

/// Runs `program args` on a pseudo-terminal in `dir`, typing `answers` at its `(y/N)` prompts
/// (None: end of input) through tests/runner/pty_drive.py; what the terminal showed. NO_COLOR is
/// set, unless `env` sets it empty.
pub fn on_terminal(
    dir: &Path,
    program: &Path,
    args: &[&str],
    answers: &[Option<&str>],
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/runner/pty_drive.py"))
        .arg(serde_json::to_string(answers).unwrap())
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    hermetic(&mut cmd, dir);
    cmd.env_remove(keepsake_core::env::EnvVars::GIT_KEEPSAKE_NOW)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied());
    to_run(cmd.output().unwrap())
}
