//! Caches that are wrong but parse never change an answer.

use super::*;

/// Row 11: caches that are wrong but still parse never change an answer.
#[test]
fn wrong_caches_never_change_an_answer() {
    let t = TestProject::new(true);
    let exp = record_run(&t, 0.01, &[0.5, 0.4]);
    let project = t.project();
    let real = exp.checkpoints[1].id.to_string();
    t.ks(&["show", &real[..8]]).ok();
    let index = t.dir.join(".git/keepsake/checkpoint-index");
    let tip = t.git(&[
        "rev-parse",
        &format!("refs/keepsake/experiments/{}", exp.id),
    ]);
    let tip = tip.trim();
    let bogus = format!("deadbeef{}", "0".repeat(56));
    // Well formed, current tip, but the wrong checkpoints: with a stale check, and with a
    // check that holds (as a bug of ours would write it).
    let ids = format!("{} {bogus}", exp.checkpoints[0].id);
    let check =
        blake3::hash(format!("{} {tip} {ids}", exp.id).as_bytes()).to_hex()[..16].to_string();
    for line in [
        format!("{} {tip} 0000000000000000 {ids}\n", exp.id),
        format!("{} {tip} {check} {ids}\n", exp.id),
    ] {
        std::fs::write(&index, &line).unwrap();
        let show = t.ks(&["show", &real[..8], "--json"]).ok().json();
        assert_eq!(show["id"], json!(real));
        let run = t.ks(&["show", "deadbeef"]).fails();
        error_names(&run, "deadbeef");
    }

    // A long history (cached from 256 checkpoints), then its cache edited.
    let mut long = create(&project, None, json!({"lr": 0.2}));
    for step in 0..300 {
        checkpoint(&project, &mut long, None, step, 1.0 / (step + 1) as f64);
    }
    let step_of = |id: &str| -> Value {
        let v = t.ks(&["show", id, "--json"]).ok().json();
        v["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!(long.checkpoints[100].id.as_str()))
            .unwrap()["step"]
            .clone()
    };
    assert_eq!(step_of(long.id.as_str()), json!(100));
    let cache = t.dir.join(format!(".git/keepsake/history/{}", long.id));
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("\"step\":100"));
    std::fs::write(&cache, text.replace("\"step\":100,", "\"step\":7,")).unwrap();
    assert_eq!(step_of(long.id.as_str()), json!(100));
    // Another experiment's cache, well formed and checked, in this one's place.
    std::fs::write(&cache, "0000000000000000000000000000000000000000 x 0 y\n").unwrap();
    assert_eq!(step_of(long.id.as_str()), json!(100));
}

/// A checkpoint index that leaves an ID out of one experiment's entry (well formed, its check
/// recomputed, as a bug of ours would write it) must not turn an ambiguous ID into a unique one.
#[test]
fn an_index_that_leaves_an_id_out_never_changes_an_answer() {
    let s = scene();
    let impostor = s.craft(&["same-checkpoints", s.victim_id()]);
    s.fetch_raw();
    let t = &s.victim;
    let best = s.exp.best().unwrap().id.to_string();
    error_names(&t.ks(&["show", &best]).fails(), &impostor[..7]);
    let index = t.dir.join(".git/keepsake/checkpoint-index");
    let text = std::fs::read_to_string(&index).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            if parts[0] != s.victim_id() {
                return format!("{l}\n");
            }
            let ids: Vec<&str> = parts[3..].iter().copied().filter(|i| *i != best).collect();
            let check =
                blake3::hash(format!("{} {} {}", parts[0], parts[1], ids.join(" ")).as_bytes())
                    .to_hex()[..16]
                    .to_string();
            format!("{} {} {check} {}\n", parts[0], parts[1], ids.join(" "))
        })
        .collect();
    assert_ne!(edited, text);
    std::fs::write(&index, edited).unwrap();
    let run = t.ks(&["show", &best, "--json"]);
    assert_ne!(run.code, 0, "the index made {best} unique: {}", run.stdout);
}

/// A history cache edited with its check recomputed (it is a plain hash: `.git` is trusted, so
/// this is damage of an unusual kind, not an attack): a cached tarball record naming another key
/// is never followed; the history is read from git instead.
#[test]
fn a_history_cache_naming_another_key_is_not_followed() {
    let t = TestProject::new(true);
    let project = t.project();
    let mut long = create(&project, Some("."), json!({"lr": 0.2}));
    for step in 0..260 {
        t.write("model.pth", &format!("step {step}\n"));
        checkpoint(
            &project,
            &mut long,
            Some("model.pth"),
            step,
            1.0 / (step + 1) as f64,
        );
    }
    let target = long.checkpoints[100].id.to_string();
    let other = long.checkpoints[200].id.to_string();
    t.ks(&["show", long.id.as_str()]).ok();
    let cache = t.dir.join(format!(".git/keepsake/history/{}", long.id));
    let text = std::fs::read_to_string(&cache).unwrap();
    let (head, lines) = text.split_once('\n').unwrap();
    // Checkpoint 100's record pointed at checkpoint 200's tarball.
    let edited: Vec<String> = lines
        .lines()
        .map(|l| {
            if l.contains(&format!("\"id\":\"{target}\"")) {
                l.replace(
                    &format!("checkpoints/{target}.tar.gz"),
                    &format!("checkpoints/{other}.tar.gz"),
                )
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let lines = edited.concat();
    let f: Vec<&str> = head.split(' ').collect();
    let mut h = blake3::Hasher::new();
    h.update(format!("{} {} {}\n", f[0], f[1], f[2]).as_bytes());
    h.update(lines.as_bytes());
    let check = h.finalize().to_hex()[..32].to_string();
    std::fs::write(
        &cache,
        format!("{} {} {} {check}\n{lines}", f[0], f[1], f[2]),
    )
    .unwrap();
    let out = t.tmp.path().join("out");
    assert_eq!(
        checkout_text(&t.dir, &target, &out, "model.pth"),
        "step 100\n"
    );
}
