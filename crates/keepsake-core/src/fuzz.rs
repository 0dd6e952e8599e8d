//! Property tests over everything that parses untrusted input: commit records, Keepsake's
//! metadata JSON, IDs and prefixes, ref names, tarballs (random bytes and damaged real ones),
//! terminal escaping and redaction. Each must answer with a value or an error, never a panic, and
//! the unpacker must never write outside its destination. Bounded by case count, so CI's time
//! stays small (`PROPTEST_CASES` raises it for a longer hunt).

use std::io::Write;

use proptest::prelude::*;

use crate::git::log::{history, ref_id, CommitRecord};
use crate::git::GitRepo;
use crate::id::{Id, Prefix};
use crate::model::Experiment;

const RECORD: &str = include_str!(
    "../../../fixtures/keepsake-0.4.2/project/.keepsake/metadata/experiments/d90ea781f109ec260bbcd1187b1ea76274ce6e10c5e2af0a861fd93b70931d43.json"
);

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A JSON value with one of its leaves, picked by `pick`, replaced by `with`.
fn mutate(v: &mut serde_json::Value, pick: &mut usize, with: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (_, x) in m.iter_mut() {
                mutate(x, pick, with);
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                mutate(x, pick, with);
            }
        }
        leaf => {
            if *pick == 0 {
                *leaf = with.clone();
            }
            *pick = pick.wrapping_sub(1);
        }
    }
}

fn leaf() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,70}".prop_map(Value::String),
        Just(json!("../../../../etc/passwd")),
        Just(json!("checkpoints/../../x.tar.gz")),
        Just(json!({"nested": [1, "x"]})),
    ]
}

fn tarball() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("id/a.txt", &b"alpha\n"[..]),
        ("id/d/b.bin", &[7u8; 3000][..]),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// Unpacks `bytes` into a fresh directory; true when nothing appeared beside the destination.
fn unpack_stays_inside(bytes: &[u8]) -> bool {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("dest");
    let _ = crate::pack::unpack(bytes, "fuzz.tar.gz", &dest, None, 1 << 20);
    std::fs::read_dir(d.path()).unwrap().count() <= 1
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ids_and_prefixes_parse_or_refuse(s in ".{0,80}") {
        let hex = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        prop_assert_eq!(Id::parse(&s).is_ok(), hex && s.len() == 64);
        prop_assert_eq!(Prefix::parse(&s).is_ok(), hex && s.len() <= 64);
        let _ = ref_id(&s);
        let _ = ref_id(&format!("refs/keepsake/experiments/{s}"));
    }

    #[test]
    fn keepsake_metadata_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Experiment::from_keepsake_json("k", &bytes);
    }

    #[test]
    fn damaged_keepsake_metadata_is_parsed_or_refused(pick in 0usize..200, with in leaf()) {
        let mut v: serde_json::Value = serde_json::from_str(RECORD).unwrap();
        let mut p = pick;
        mutate(&mut v, &mut p, &with);
        if let Ok(exp) = Experiment::from_keepsake_json("k", v.to_string().as_bytes()) {
            // Whatever parses carries IDs that are plain names, fit for keys and refs.
            prop_assert!(Id::parse(exp.id.as_str()).is_ok());
            for c in &exp.checkpoints {
                prop_assert!(Id::parse(c.id.as_str()).is_ok());
            }
        }
    }

    #[test]
    fn commit_records_never_panic(body in ".{0,300}", pick in 0usize..200, with in leaf()) {
        let _ = CommitRecord::parse("c", &format!("subject\n\n{body}"));
        let exp = Experiment::from_keepsake_json("k", RECORD.as_bytes()).unwrap();
        let mut v = serde_json::json!({
            "experiment": exp, "experiment_files": {"key": "k", "size": 1},
            "checkpoint": null, "checkpoint_files": null,
            "num_checkpoints": 0, "best": null, "latest": null,
        });
        let mut p = pick;
        mutate(&mut v, &mut p, &with);
        let _ = CommitRecord::parse("c", &format!("subject\n\n{v}"));
    }

    #[test]
    fn random_bytes_never_unpack_outside(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert!(unpack_stays_inside(&bytes));
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&bytes);
        prop_assert!(unpack_stays_inside(&gz));
    }

    #[test]
    fn damaged_tarballs_never_unpack_outside(at in 0usize..4000, byte in any::<u8>(), cut in 0usize..4000) {
        let good = tarball();
        let mut bad = good.clone();
        let i = at % bad.len();
        bad[i] ^= byte.max(1);
        prop_assert!(unpack_stays_inside(&bad));
        prop_assert!(unpack_stays_inside(&good[..cut % good.len()]));
        // Through the record check: any damage is an error, never a quiet success.
        let mut h = crate::digest::Hasher::new();
        h.update(&good);
        let record = crate::model::FileRecord::new("checkpoints/x.tar.gz".into(), good.len() as u64, h);
        let verified = crate::storage::verify::Verified::new(&bad[..], &record, "fuzz", "memory://");
        prop_assert!(verified.finish().is_err());
    }

    #[test]
    fn escaping_leaves_no_control_characters(s in "\\PC{0,40}|.{0,40}|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a]{0,40}") {
        let e = crate::text::escape_controls(&s);
        prop_assert!(!e.chars().any(|c| c.is_control()));
        let _ = crate::text::redact(&s);
        let _ = crate::text::quoted(&s);
        let json = serde_json::to_string(&s).unwrap();
        let safe = crate::text::escape_json(&json);
        prop_assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), s);
    }
}

/// Commits with arbitrary messages (and chains of them) on a real repository: reading an
/// experiment's history from any of them answers or refuses, and never panics.
#[test]
fn history_over_arbitrary_commits_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(d.path()).unwrap();
    let sig = git2::Signature::now("t", "t@t").unwrap();
    let tree = repo.treebuilder(None).unwrap().write().unwrap();
    let tree = repo.find_tree(tree).unwrap();
    let git = GitRepo::discover(d.path()).unwrap().unwrap();
    let exp = Experiment::from_keepsake_json("k", RECORD.as_bytes()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let strategy = (
        proptest::collection::vec((0usize..300, leaf()), 1..4),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(mutations, chain)| {
            let mut parent: Option<git2::Oid> = None;
            for (pick, with) in mutations {
                let mut v = serde_json::json!({
                    "experiment": exp, "experiment_files": null,
                    "checkpoint": exp.checkpoints[0], "checkpoint_files": null,
                    "num_checkpoints": 1, "best": null, "latest": null,
                });
                let mut p = pick;
                mutate(&mut v, &mut p, &with);
                let parents: Vec<git2::Commit> = match (chain, parent) {
                    (true, Some(p)) => vec![repo.find_commit(p).unwrap()],
                    _ => Vec::new(),
                };
                let refs: Vec<&git2::Commit> = parents.iter().collect();
                let id = repo
                    .commit(
                        None,
                        &sig,
                        &sig,
                        &format!("keepsake: x\n\n{v}\n"),
                        &tree,
                        &refs,
                    )
                    .unwrap();
                parent = Some(id);
            }
            let _ = history(&git, &parent.unwrap().to_string());
            Ok(())
        })
        .unwrap();
}
