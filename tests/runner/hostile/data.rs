//! Hostile data: stored tarballs that are corrupt, truncated, oversized or hold a file twice.

use keepsake_core::experiments;

use super::*;

/// The end of the first gzip member of a stream (a boundary the writer makes between runs of
/// files packed differently).
fn first_member_end(bytes: &[u8]) -> usize {
    use std::io::Read;
    let mut d = flate2::bufread::GzDecoder::new(bytes);
    std::io::copy(&mut d, &mut std::io::sink()).unwrap();
    let mut rest = Vec::new();
    d.into_inner().read_to_end(&mut rest).unwrap();
    bytes.len() - rest.len()
}

/// Row 4: one byte flipped in a stored tarball; a tarball cut at a gzip member boundary.
#[test]
fn corrupted_or_truncated_weights_are_never_checked_out() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    // Text and noise: two gzip members (compressed, then stored blocks).
    t.write("w/notes.txt", &"epoch log line\n".repeat(1000));
    std::fs::write(t.dir.join("w/weights.bin"), noise(3 << 20, 7)).unwrap();
    let c = checkpoint(&project, &mut exp, Some("w"), 0, 0.5);
    let key = store(&t).join(format!("checkpoints/{}.tar.gz", c.id));
    let good = std::fs::read(&key).unwrap();
    let boundary = first_member_end(&good);
    assert!(boundary < good.len(), "the tarball has one member only");
    let mut flipped = good.clone();
    flipped[good.len() - 100_000] ^= 0x01;
    for (name, bytes) in [("flipped", flipped), ("cut", good[..boundary].to_vec())] {
        std::fs::write(&key, &bytes).unwrap();
        let out = t.tmp.path().join(format!("out-{name}"));
        let run = t
            .ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
            .fails();
        error_names(&run, &format!("checkpoints/{}.tar.gz", c.id));
        assert!(run.error_line().contains(c.id.short()), "{}", run.stderr);
        // No partial output: not the weights, not the notes, not the code.
        let written: Vec<_> = files_under(&out).into_keys().collect();
        assert!(written.is_empty(), "{name}: {written:?}");
        // Streaming one file out fails at the end of the stream too.
        let mut sink = Vec::new();
        let err =
            experiments::checkout::read_file(&project, &exp, Some(&c.id), "w/notes.txt", &mut sink)
                .unwrap_err();
        assert!(
            err.to_string().contains("is not what was recorded"),
            "{err}"
        );
    }
    std::fs::write(&key, &good).unwrap();
    let out = t.tmp.path().join("out-good");
    t.ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read(out.join("w/weights.bin")).unwrap(),
        noise(3 << 20, 7)
    );
}

/// A crafted checkpoint `id` (step 9) on top of `exp`'s tip whose tarball is `tarball`, put in
/// the store with a record that names its true size and hash and says it holds `files_size`
/// bytes. Returns its key.
fn plant_checkpoint(
    t: &TestProject,
    exp: &Experiment,
    id: &str,
    tarball: &[u8],
    files_size: u64,
) -> String {
    let key = format!("checkpoints/{id}.tar.gz");
    std::fs::write(store(t).join(&key), tarball).unwrap();
    let hash = blake3::hash(tarball).to_hex().to_string();
    craft_checkpoint_commit(&t.dir, exp.id.as_str(), |r| {
        let mut c = r["checkpoint"].clone();
        c["id"] = json!(id);
        c["step"] = json!(9);
        r["checkpoint"] = c;
        r["checkpoint_files"] =
            json!({"key": key, "size": tarball.len(), "blake3": hash, "files_size": files_size});
        r["num_checkpoints"] = json!(2);
    });
    key
}

/// Row 10: a tarball that expands far beyond what its record says it holds.
#[test]
fn expansion_is_bounded_by_the_record() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let bomb_id = "b".repeat(64);
    let bomb = gzip_of_tar(&[(&format!("{bomb_id}/model.pth"), vec![0u8; 64 << 20])]);
    assert!(bomb.len() < 200_000);
    plant_checkpoint(&t, &exp, &bomb_id, &bomb, 1000);
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", &bomb_id[..10], "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "more than the 1000 bytes");
    assert!(files_under(&out).is_empty());
}

/// A tarball holding one file twice (first `good`, then `evil`): streaming the file and checking
/// it out must not give two answers, so both refuse it.
#[test]
fn a_file_twice_in_a_tarball_is_refused_by_checkout_and_open_alike() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let id = "d".repeat(64);
    let name = format!("{id}/model.pth");
    let tarball = gzip_of_tar(&[(&name, b"good\n".to_vec()), (&name, b"evil\n".to_vec())]);
    plant_checkpoint(&t, &exp, &id, &tarball, 10);
    let out = t.tmp.path().join("out");
    let run = t
        .ks(&["checkout", &id[..10], "-o", out.to_str().unwrap()])
        .fails();
    error_names(&run, "appears twice");
    assert!(files_under(&out).is_empty());
    let project = t.project();
    let target = experiments::resolve::resolve(&project, &id).unwrap();
    let mut sink = Vec::new();
    let err = experiments::checkout::read_file(
        &project,
        target.experiment(),
        Some(&Id::parse(&id).unwrap()),
        "model.pth",
        &mut sink,
    )
    .unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

/// A record whose tarball sizes add up past 2**64 (the code's and a checkpoint's): checkout
/// sizes its progress from them before any byte is read, and must refuse the data, not overflow.
#[test]
fn recorded_sizes_that_overflow_never_panic() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5]);
    let c = "c".repeat(64);
    // The real weights under the crafted checkpoint's key: only the recorded size lies.
    std::fs::copy(
        store(&t).join(format!("checkpoints/{}.tar.gz", exp.checkpoints[0].id)),
        store(&t).join(format!("checkpoints/{c}.tar.gz")),
    )
    .unwrap();
    craft_checkpoint_commit(&t.dir, exp.id.as_str(), |r| {
        r["checkpoint"]["id"] = json!(c);
        r["checkpoint_files"]["size"] = json!(u64::MAX);
        r["checkpoint_files"]["key"] = json!(format!("checkpoints/{c}.tar.gz"));
    });
    let out = t.tmp.path().join("out");
    let run = t.ks(&["checkout", &c, "-o", out.to_str().unwrap()]).fails();
    assert_ne!(run.code, 101, "{}", run.stderr);
    error_names(&run, &format!("checkpoints/{c}.tar.gz"));
    assert!(!out.join("model.pth").exists());
    for args in [vec!["show", c.as_str()], vec!["ls", "--all"]] {
        let run = t.ks(&args);
        assert_ne!(run.code, 101, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
}

/// A remote's experiment whose two new checkpoints each claim 2**64-1 bytes: pull's summary
/// adds their sizes, and must not overflow (the data is checked when it is read, not here).
#[test]
fn a_pulled_history_whose_sizes_overflow_never_panics() {
    let s = scene();
    for id in ["d", "e"] {
        let c = id.repeat(64);
        craft_checkpoint_commit(&s.attacker, s.victim_id(), |r| {
            r["checkpoint"]["id"] = json!(c);
            r["checkpoint_files"]["size"] = json!(u64::MAX);
            r["checkpoint_files"]["key"] = json!(format!("checkpoints/{c}.tar.gz"));
            r["num_checkpoints"] = json!(r["num_checkpoints"].as_u64().unwrap() + 1);
        });
    }
    git_in(
        &s.attacker,
        &[
            "push",
            "-q",
            "--force",
            "origin",
            "refs/keepsake/*:refs/keepsake/*",
        ],
    );
    let run = s.victim.ks(&["pull", "origin"]);
    assert_ne!(run.code, 101, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stderr.contains("Pulled 1 experiment"), "{}", run.stderr);
    s.victim.ks(&["ls", "--all"]).ok();
}
