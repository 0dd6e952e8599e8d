//! Compatibility both ways with the real Keepsake 0.4.2 (installed from PyPI by
//! scripts/setup-test-env.sh): its repositories import and read the same through git-keepsake, and
//! what the core writes reads the same through Keepsake's own CLI.

use keepsake_core::experiments;
use std::path::Path;

use crate::support::*;
use serde_json::{json, Value};

fn venv() -> Option<String> {
    require_env("KEEPSAKE_VENV")
}

fn by_id(list: &Value) -> std::collections::BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

/// Numbers as f64: Keepsake reads `1.0` back as the int `1` (one of the bugs git-keepsake fixes),
/// so the two tools agree on the number, not on its JSON spelling.
fn numeric(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(numeric).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), numeric(v))).collect()),
        other => other.clone(),
    }
}

/// `ls --json`, `show --json` and `checkout` of every checkpoint agree between the two tools.
fn assert_agree(venv: &str, dir: &Path, scratch: &Path) {
    let ours = by_id(&ks_in(dir, &["ls", "--json"]).ok().json());
    let theirs = by_id(&keepsake(venv, dir, &["ls", "--json"]).ok().json());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (id, t) in &theirs {
        let o = &ours[id];
        for key in &LS_JSON_KEYS[1..] {
            assert_eq!(
                numeric(&o[*key]),
                numeric(&t[*key]),
                "experiment {id}: `{key}` differs"
            );
        }
        let our_show = ks_in(dir, &["show", "--json", id]).ok().json();
        let their_show = keepsake(venv, dir, &["show", "--json", id]).ok().json();
        assert_eq!(numeric(&our_show), numeric(&their_show), "show --json {id}");
        for c in their_show["checkpoints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
        {
            let cid = c["id"].as_str().unwrap();
            assert_eq!(
                numeric(&ks_in(dir, &["show", "--json", cid]).ok().json()),
                numeric(&keepsake(venv, dir, &["show", "--json", cid]).ok().json()),
                "show --json {cid}"
            );
            if c["path"] == json!("") && their_show["path"] == json!("") {
                continue;
            }
            let (a, b) = (
                scratch.join(format!("ours-{cid}")),
                scratch.join(format!("theirs-{cid}")),
            );
            ks_in(dir, &["checkout", cid, "-o", a.to_str().unwrap()]).ok();
            keepsake(
                venv,
                dir,
                &["checkout", "-f", "-o", b.to_str().unwrap(), cid],
            )
            .ok();
            let (fa, fb) = (files_under(&a), files_under(&b));
            assert!(!fa.is_empty());
            assert_eq!(fa, fb, "checkout of {cid}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let out = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success());
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(to)
        .output();
}

#[test]
fn committed_keepsake_fixture_imports_and_agrees() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    copy_dir(&repo_root().join("fixtures/keepsake-0.4.2/project"), &dir);
    git_in(&dir, &["init", "-q", "."]);
    let imported = ks_in(&dir, &["import"]).ok().stdout;
    assert_eq!(imported.lines().count(), 3, "{imported}");
    assert_agree(&venv, &dir, tmp.path());
}

#[test]
fn fresh_keepsake_repository_from_make_fixture_imports_and_agrees() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("fixture");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo_root().join("fixtures/keepsake-0.4.2/make_fixture.sh"))
        .arg(&target)
        .arg("--pin-heartbeat");
    cmd.env("KEEPSAKE_VENV", &venv)
        .env("KEEPSAKE_NO_ANALYTICS", "1")
        .env("HOME", tmp.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "make_fixture.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target.join("project");
    git_in(&dir, &["init", "-q", "."]);
    ks_in(&dir, &["import"]).ok();
    assert_agree(&venv, &dir, tmp.path());
    // The running experiment is running for both.
    let running = ks_in(&dir, &["ps", "-q"]).ok().stdout;
    assert_eq!(running.lines().count(), 1);
}

#[test]
fn repository_written_by_the_core_reads_in_keepsake() {
    let Some(venv) = venv() else { return };
    let t = TestProject::new(true);
    t.write("keepsake.yaml", "repository: file://.keepsake\n");
    t.write(".gitignore", ".keepsake/\nlogs/\n*.pth\n/checkpoints/\n");
    let project = t.project();
    let params = json!({
        "lr": 0.001, "epochs": 5, "use_bn": true, "optimizer": "adam <fast> & \"quoted\"",
        "model": {"hidden": [64, 32], "dropout": 0.0, "activation": "relu"}, "note": "héllo ✓", "seed": null,
    });
    let mut a = create(&project, Some("."), params);
    for step in 0..3 {
        t.write("checkpoints/weights.bin", &format!("weights {step}\n"));
        t.write("checkpoints/opt.json", &format!("{{\"step\": {step}}}\n"));
        // Big and incompressible, like weights: stored in a gzip member of its own.
        let noise = noise(2 << 20, 0x2545F4914F6CDD1D + step as u64);
        std::fs::write(t.dir.join("checkpoints/big.bin"), noise).unwrap();
        let mut c = new_checkpoint(Some("checkpoints/"), step, 0.5 + 0.1 * step as f64);
        c.metrics.insert(
            "grad".into(),
            keepsake_core::model::value::from_f64(f64::NAN),
        );
        experiments::checkpoint::create_checkpoint(&project, &mut a, c).unwrap();
    }
    let mut b = create(&project, Some("train.py"), json!({"lr": 0.01, "epochs": 5}));
    t.write("model.pth", "model b\n");
    checkpoint(&project, &mut b, Some("model.pth"), 0, 0.4);
    checkpoint(&project, &mut b, None, 1, 0.3);
    let _c = create(&project, None, json!({}));
    assert_agree(&venv, &t.dir, t.tmp.path());
    let theirs = keepsake(&venv, &t.dir, &["ls", "--json"]).ok().json();
    assert_eq!(theirs.as_array().unwrap().len(), 3);
}
