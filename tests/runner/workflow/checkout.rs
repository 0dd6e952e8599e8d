//! checkout and apply restore code and weights and never clobber.

use super::*;

#[test]
fn checkout_restores_code_and_weights_and_refuses_to_clobber() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.9, 0.5, 0.7]);
    let out = t.tmp.path().join("out");
    let best = exp.checkpoints[1].id.as_str();
    t.ks(&["checkout", best, "-o", out.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read_to_string(out.join("model.pth")).unwrap(),
        "weights lr=0.01 step=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("src/model.py")).unwrap(),
        t.read("src/model.py")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(out.join("run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    assert!(!out.join("logs").exists());

    // An experiment restores its code and its best checkpoint's files, as Keepsake does.
    let whole = t.tmp.path().join("code");
    let run = t
        .ks(&["checkout", exp.id.as_str(), "-o", whole.to_str().unwrap()])
        .ok();
    assert!(
        run.stderr.contains(&format!(
            "Checking out files from experiment {} and its best checkpoint {}",
            exp.id.short(),
            &best[..7]
        )),
        "{}",
        run.stderr
    );
    assert!(whole.join("train.py").is_file());
    assert_eq!(
        std::fs::read_to_string(whole.join("model.pth")).unwrap(),
        "weights lr=0.01 step=1\n"
    );

    // Into the project: model.pth differs (it holds step 2), so it is refused and listed.
    let run = t.ks(&["checkout", best]).fails();
    assert!(run.error_line().contains("model.pth"), "{}", run.stderr);
    assert_eq!(t.read("model.pth"), "weights lr=0.01 step=2\n");
    t.ks(&["checkout", best, "-f"]).ok();
    assert_eq!(t.read("model.pth"), "weights lr=0.01 step=1\n");

    // --path takes a whole directory, not its first file.
    let only = t.tmp.path().join("only");
    t.ks(&[
        "checkout",
        best,
        "-o",
        only.to_str().unwrap(),
        "--path",
        "src",
    ])
    .ok();
    assert!(only.join("src/model.py").is_file() && !only.join("train.py").exists());
}

#[test]
fn apply_brings_code_and_params_without_clobbering() {
    let t = TestProject::new(true);
    t.write(
        "src/model.py",
        "def build(hidden):\n    return {\"hidden\": hidden + 1}\n",
    );
    let exp = record_run(&t, 0.02, &[0.5]);
    t.git(&["checkout", "--", "src/model.py"]);
    t.write("train.py", "print('my uncommitted work')\n");
    let run = t.ks(&["apply", exp.id.as_str()]).fails();
    assert!(
        run.error_line().contains("train.py") && !run.error_line().contains("src/model.py"),
        "{}",
        run.stderr
    );
    assert_eq!(t.read("train.py"), "print('my uncommitted work')\n");
    t.git(&["checkout", "--", "train.py"]);
    t.ks(&["apply", exp.id.as_str()]).ok();
    assert!(t.read("src/model.py").contains("hidden + 1"));
    let params: serde_json::Value = serde_json::from_str(&t.read("keepsake-params.json")).unwrap();
    assert_eq!(params, json!({"layers": 2, "lr": 0.02}));
    // Nothing was committed.
    assert_eq!(t.git(&["log", "--format=%s"]).trim(), "Initial project");
}
