//! What goes into git: a code snapshot's git tree follows git's own ignore rules (`.gitignore` at
//! every level, `.git/info/exclude`, `core.excludesFile`) and `git_max_file_size`; what is left
//! out stays in the store's tarball, is listed in the record, shown, diffed, and restored by
//! checkout. Real repositories, a real bare remote, a file:// team store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use keepsake_core::Experiment;
use serde_json::json;

const SECRET: &str = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-do-not-push-7f3a\n";
const NESTED: &str = "nested-gitignored-feature-cache-91c2\n";
const EXCLUDED: &str = "info-exclude-private-notes-4d1e\n";
const GLOBAL: &str = "core-excludesfile-key-material-b83f\n";

struct Setup {
    t: TestProject,
    /// The project's own store (outside the project).
    store: PathBuf,
    weights: Vec<u8>,
    big: Vec<u8>,
}

/// The fixture project with files that every one of git's ignore sources leaves out, a file
/// over a 1000-byte `git_max_file_size`, and a store outside the project.
fn setup() -> Setup {
    let t = TestProject::new(true);
    let store = t.tmp.path().join("store");
    t.write(
        "keepsake.yaml",
        &format!(
            "repository: file://{}\ngit_max_file_size: 1000\n",
            store.display()
        ),
    );
    t.write(".gitignore", "logs/\n*.pth\n.env\ncheckpoints/\n");
    t.write(".env", SECRET);
    let weights = noise(3000, 7);
    std::fs::create_dir_all(t.dir.join("checkpoints")).unwrap();
    std::fs::write(t.dir.join("checkpoints/old.pth"), &weights).unwrap();
    t.write("src/.gitignore", "*.cache\n");
    t.write("src/features.cache", NESTED);
    let exclude = t.dir.join(".git/info/exclude");
    std::fs::create_dir_all(exclude.parent().unwrap()).unwrap();
    std::fs::write(&exclude, "private-notes.txt\n").unwrap();
    t.write("private-notes.txt", EXCLUDED);
    let global = t.tmp.path().join("global-ignore");
    std::fs::write(&global, "*.secret\n").unwrap();
    t.git(&["config", "core.excludesFile", global.to_str().unwrap()]);
    t.write("keys.secret", GLOBAL);
    let big = noise(5000, 11);
    std::fs::write(t.dir.join("data/big.bin"), &big).unwrap();
    Setup {
        t,
        store,
        weights,
        big,
    }
}

/// Every file Keepsake's rules take (`logs/` is in .keepsakeignore: nowhere at all).
const SNAPSHOT: [&str; 14] = [
    ".env",
    ".gitignore",
    ".keepsakeignore",
    "checkpoints/old.pth",
    "data/big.bin",
    "data/train.csv",
    "keepsake.yaml",
    "keys.secret",
    "private-notes.txt",
    "run.sh",
    "src/.gitignore",
    "src/features.cache",
    "src/model.py",
    "train.py",
];

/// The files of the snapshot git leaves out, and why.
const STORE_ONLY: [(&str, &str); 6] = [
    (".env", "ignored"),
    ("checkpoints/old.pth", "ignored"),
    ("data/big.bin", "too large"),
    ("keys.secret", "ignored"),
    ("private-notes.txt", "ignored"),
    ("src/features.cache", "ignored"),
];

fn record(t: &TestProject) -> Experiment {
    let project = t.project();
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    t.write("model.pth", "weights step 0\n");
    checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.5);
    exp
}

/// Every object of the repository at `git_dir` with its content, from one `cat-file --batch`.
fn all_objects(git_dir: &Path) -> Vec<u8> {
    let mut cmd = Command::new("git");
    cmd.args([
        "--git-dir",
        git_dir.to_str().unwrap(),
        "cat-file",
        "--batch-all-objects",
        "--batch",
    ]);
    hermetic(&mut cmd, git_dir);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no object of the repository holds any of the left-out contents.
fn assert_nothing_left_out_in(git_dir: &Path, s: &Setup) {
    let objects = all_objects(git_dir);
    assert!(!objects.is_empty());
    for (name, bytes) in [
        (".env", SECRET.as_bytes()),
        ("src/features.cache", NESTED.as_bytes()),
        ("private-notes.txt", EXCLUDED.as_bytes()),
        ("keys.secret", GLOBAL.as_bytes()),
        ("checkpoints/old.pth", &s.weights[..64]),
        ("data/big.bin", &s.big[..64]),
    ] {
        assert!(
            !contains(&objects, bytes),
            "{name} is in {}",
            git_dir.display()
        );
    }
}

fn tree_files(dir: &Path, id: &str) -> Vec<String> {
    let r = format!("{}{id}", keepsake_core::refs::EXPERIMENT_REFS);
    // The experiment's first commit holds the snapshot; checkpoints keep its tree.
    git_in(dir, &["ls-tree", "-r", "--name-only", &r])
        .lines()
        .map(str::to_string)
        .collect()
}

fn blake3_of(bytes: &[u8]) -> String {
    let mut h = keepsake_core::digest::Hasher::new();
    h.update(bytes);
    h.finish()
}

#[test]
fn ignored_and_large_files_stay_out_of_git_and_its_remote_and_come_back_from_the_store() {
    let s = setup();
    let t = &s.t;
    let exp = record(t);
    let id = exp.id.as_str();

    assert_eq!(
        tree_files(&t.dir, id),
        [
            ".gitignore",
            ".keepsakeignore",
            "data/train.csv",
            "keepsake.yaml",
            "run.sh",
            "src/.gitignore",
            "src/model.py",
            "train.py"
        ]
    );
    assert_nothing_left_out_in(&t.dir.join(".git"), &s);

    // The record lists each left-out file with its size and the hash of what the store has.
    let listed: Vec<(String, String)> = exp
        .store_only
        .iter()
        .map(|f| (f.path.clone(), f.reason.as_str().to_string()))
        .collect();
    let want: Vec<(String, String)> = STORE_ONLY
        .iter()
        .map(|(p, r)| (p.to_string(), r.to_string()))
        .collect();
    assert_eq!(listed, want);
    for f in &exp.store_only {
        let bytes = std::fs::read(t.dir.join(&f.path)).unwrap();
        assert_eq!(
            (f.size, f.blake3.as_str()),
            (bytes.len() as u64, blake3_of(&bytes).as_str()),
            "{}",
            f.path
        );
    }

    // `show` lists them, in text and JSON, as read back from git.
    let shown = t.ks(&["show", id]).ok().stdout;
    assert!(shown.contains("Store only (left out of git)"), "{shown}");
    for (path, why) in STORE_ONLY {
        let line = shown
            .lines()
            .find(|l| l.starts_with(path))
            .unwrap_or_else(|| panic!("{path} not shown:\n{shown}"));
        assert!(line.trim_end().ends_with(why), "{line}");
    }
    assert!(shown.contains("4.9 KiB"), "{shown}");
    let json = t.ks(&["show", "--json", id]).ok().json();
    let from_json: Vec<(String, u64, String)> = json["store_only"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["blake3"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let from_record: Vec<(String, u64, String)> = exp
        .store_only
        .iter()
        .map(|f| (f.path.clone(), f.size, f.blake3.clone()))
        .collect();
    assert_eq!(from_json, from_record);
    assert_eq!(json["store_only"][2]["reason"], json!("too large"));

    // Pushed to a bare remote with a file:// team store: the remote has none of them.
    let remote = t.bare_remote("origin", "remote.git");
    let team_store = format!("file://{}", t.tmp.path().join("team-store").display());
    t.git(&["config", "remote.origin.keepsakeStore", &team_store]);
    t.git(&["push", "-q", "origin", "main"]);
    t.ks(&["push", "origin", id]).ok();
    assert!(git_in(&remote, &["for-each-ref"]).contains(id));
    assert_nothing_left_out_in(&remote, &s);

    // A fresh clone pulls it and checks out every file of the snapshot, byte for byte.
    let bob = t.tmp.path().join("bob");
    git_in(
        t.tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            bob.to_str().unwrap(),
        ],
    );
    git_in(
        &bob,
        &["config", "remote.origin.keepsakeStore", &team_store],
    );
    ks_in(&bob, &["pull", "origin"]).ok();
    let out = t.tmp.path().join("bob-out");
    ks_in(&bob, &["checkout", id, "-o", out.to_str().unwrap()]).ok();
    let got = files_under(&out);
    let mut want: BTreeMap<String, Vec<u8>> = SNAPSHOT
        .iter()
        .map(|p| (p.to_string(), std::fs::read(t.dir.join(p)).unwrap()))
        .collect();
    // An experiment's checkout brings its best checkpoint's files too, as Keepsake's does.
    want.insert("model.pth".into(), b"weights step 0\n".to_vec());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        got == want,
        "the checked-out files differ from the snapshot"
    );
    // Bob's clone has the experiment and still none of the left-out contents.
    assert_nothing_left_out_in(&bob.join(".git"), &s);
}

#[test]
fn checkout_from_git_alone_names_the_store_only_files_it_cannot_restore() {
    let s = setup();
    let t = &s.t;
    let exp = record(t);
    let id = exp.id.as_str();
    // The store lost the experiment's tarball: git has the code, but not what it left out.
    let tarball = s.store.join(format!("experiments/{id}.tar.gz"));
    std::fs::remove_file(&tarball).unwrap();
    let out = t.tmp.path().join("out");
    let run = t.ks(&["checkout", id, "-o", out.to_str().unwrap()]).fails();
    let line = run.error_line();
    for (path, _) in STORE_ONLY {
        assert!(line.contains(path), "{path} not named: {line}");
    }
    assert!(line.contains(&format!("experiments/{id}.tar.gz")), "{line}");
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(
        files_under(&out).is_empty(),
        "a failed checkout wrote files"
    );

    // What git does have comes back, when only that is asked for.
    t.ks(&[
        "checkout",
        id,
        "-o",
        out.to_str().unwrap(),
        "--path",
        "src/model.py",
    ])
    .ok();
    assert_eq!(
        files_under(&out).keys().collect::<Vec<_>>(),
        ["src/model.py"]
    );
    // A directory holding a store-only file is refused again.
    let out2 = t.tmp.path().join("out2");
    let run = t
        .ks(&[
            "checkout",
            id,
            "-o",
            out2.to_str().unwrap(),
            "--path",
            "src",
        ])
        .fails();
    assert!(
        run.error_line().contains("src/features.cache"),
        "{}",
        run.stderr
    );
    assert!(!run.error_line().contains(".env"), "{}", run.stderr);
}

#[test]
fn diff_reports_store_only_files_that_differ_or_exist_on_one_side() {
    let s = setup();
    let t = &s.t;
    let a = record(t);
    t.write(".env", "AWS_SECRET_ACCESS_KEY=rotated\n");
    std::fs::remove_file(t.dir.join("keys.secret")).unwrap();
    t.write("logs/new.secret", "keepsakeignored: nowhere\n");
    std::fs::write(t.dir.join("data/bigger.bin"), noise(2000, 3)).unwrap();
    let b = record(t);
    let json = t
        .ks(&["diff", a.id.as_str(), b.id.as_str(), "--json"])
        .ok()
        .json();
    let rows = json["store_only"].as_object().unwrap();
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        // model.pth (gitignored `*.pth`) was written by the first run's checkpoint.
        [".env", "data/bigger.bin", "keys.secret", "model.pth"],
        "{json}"
    );
    assert_eq!(rows["keys.secret"][1], json!(null));
    assert_eq!(rows["data/bigger.bin"][0], json!(null));
    assert_eq!(rows["data/bigger.bin"][1]["reason"], json!("too large"));
    assert_ne!(rows[".env"][0]["blake3"], rows[".env"][1]["blake3"]);
    let text = t.ks(&["diff", a.id.as_str(), b.id.as_str()]).ok().stdout;
    let section = text
        .split("Store-only files (not in git)")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(section.contains("keys.secret:"), "{text}");
    assert!(section.contains("(not store-only)"), "{text}");
    assert!(!section.contains("data/big.bin"), "{text}");
}

#[test]
fn a_project_below_the_work_tree_root_is_matched_against_the_root_rules() {
    let t = TestProject::new(true);
    // Anchored at the work tree's root: only matches if paths are given to git from there.
    t.write(".gitignore", "/sub/secret.txt\nsub/cache/\n");
    t.write("sub/keepsake.yaml", "repository: file://.keepsake\n");
    t.write("sub/secret.txt", SECRET);
    t.write("sub/cache/c.bin", NESTED);
    t.write("sub/code.py", "print(1)\n");
    // Not ignored: the same name one level down is not `/sub/secret.txt`.
    t.write("sub/deeper/secret.txt", "not ignored\n");
    let project = keepsake_core::Project::open(&keepsake_core::OpenOptions {
        cwd: t.dir.join("sub"),
        ..Default::default()
    })
    .unwrap();
    let exp = create(&project, Some("."), json!({}));
    let paths: Vec<&str> = exp.store_only.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["cache/c.bin", "secret.txt"]);
    assert_eq!(
        tree_files(&t.dir, exp.id.as_str()),
        ["code.py", "deeper/secret.txt", "keepsake.yaml"]
    );
}

#[test]
fn a_bad_git_max_file_size_is_a_config_error_naming_the_value() {
    let t = TestProject::new(true);
    let before = snapshot(&t.dir);
    for bad in ["lots", "1.5MB", "-3", "10 parsecs"] {
        t.write(
            "keepsake.yaml",
            &format!("repository: file://.keepsake\ngit_max_file_size: {bad}\n"),
        );
        let run = t.ks(&["ls"]).fails();
        let line = run.error_line();
        assert!(
            line.contains(&format!("`git_max_file_size` is `{bad}`")) && line.contains("10MiB"),
            "{bad}: {}",
            run.stderr
        );
    }
    std::fs::remove_file(t.dir.join("keepsake.yaml")).unwrap();
    assert_eq!(snapshot(&t.dir), before);
}

#[test]
fn import_of_a_keepsake_store_leaves_the_same_files_out_of_git() {
    // Recorded outside git (as Keepsake 0.4.2 would): the tarball holds everything.
    let t = TestProject::new(false);
    t.write(
        "keepsake.yaml",
        "repository: file://.keepsake\ngit_max_file_size: 1000\n",
    );
    t.write(".env", SECRET);
    let big = noise(5000, 5);
    std::fs::write(t.dir.join("data/big.bin"), &big).unwrap();
    let exp = create(&t.project(), Some("."), json!({}));
    assert!(exp.store_only.is_empty(), "no git, nothing left out");
    git_in(&t.dir, &["init", "-q", "-b", "main"]);
    t.write(".gitignore", ".env\n.keepsake/\n");
    t.ks(&["import"]).ok();
    let id = exp.id.as_str();
    assert_eq!(
        tree_files(&t.dir, id),
        [
            ".keepsakeignore",
            "data/train.csv",
            "keepsake.yaml",
            "run.sh",
            "src/model.py",
            "train.py"
        ]
    );
    let objects = all_objects(&t.dir.join(".git"));
    assert!(!contains(&objects, SECRET.as_bytes()));
    assert!(!contains(&objects, &big[..64]));
    let json = t.ks(&["show", "--json", id]).ok().json();
    assert_eq!(
        json["store_only"],
        json!([
            {"path": ".env", "size": SECRET.len(), "blake3": blake3_of(SECRET.as_bytes()), "reason": "ignored"},
            {"path": "data/big.bin", "size": 5000, "blake3": blake3_of(&big), "reason": "too large"},
        ])
    );
}
