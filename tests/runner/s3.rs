//! The same workflow against S3, through the S3-compatible server scripts/test-all.sh starts on
//! 127.0.0.1 (bucket `keepsake-test`; each test uses its own prefix).

use crate::support::*;
use keepsake_core::{storage, Id, Project, StorageUrl};
use serde_json::json;

fn s3_project(git: bool) -> Option<(TestProject, String)> {
    let endpoint = require_env("KEEPSAKE_TEST_S3_ENDPOINT")?;
    assert_eq!(
        std::env::var("AWS_ENDPOINT").ok().as_deref(),
        Some(endpoint.as_str())
    );
    let t = TestProject::new(git);
    let url = format!("s3://keepsake-test/{}", Id::generate().short());
    t.write("keepsake.yaml", &format!("repository: {url}\n"));
    Some((t, url))
}

fn store(url: &str) -> storage::Store {
    storage::Store::open(&StorageUrl::parse(url, std::path::Path::new("/")).unwrap()).unwrap()
}

#[test]
fn records_lists_and_checks_out_through_s3() {
    let Some((t, url)) = s3_project(true) else {
        return;
    };
    let project: Project = t.project();
    let mut exp = create(&project, Some("."), json!({"lr": 0.1}));
    // Big enough to go up as a multipart upload, and incompressible like real weights.
    let weights = noise(24 << 20, 0x9E3779B97F4A7C15);
    std::fs::write(t.dir.join("model.pth"), &weights).unwrap();
    let c = checkpoint(&project, &mut exp, Some("model.pth"), 0, 0.3);
    assert!(c.files.as_ref().unwrap().size > 24 << 20);

    let s = store(&url);
    let keys = s.list("").unwrap();
    for key in [
        "repository.json".to_string(),
        format!("metadata/experiments/{}.json", exp.id),
        format!("experiments/{}.tar.gz", exp.id),
        format!("checkpoints/{}.tar.gz", c.id),
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(
        &s.get("repository.json").unwrap().unwrap()[..],
        br#"{"version":1}"#
    );

    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls[0]["id"], json!(exp.id.as_str()));
    assert_eq!(ls[0]["best_checkpoint"]["id"], json!(c.id.as_str()));
    let out = t.tmp.path().join("out");
    t.ks(&["checkout", c.id.as_str(), "-o", out.to_str().unwrap()])
        .ok();
    assert!(std::fs::read(out.join("model.pth")).unwrap() == weights);
    assert_eq!(
        std::fs::read_to_string(out.join("train.py")).unwrap(),
        t.read("train.py")
    );

    t.ks(&["rm", "--yes", exp.id.as_str()]).ok();
    assert_eq!(s.list("").unwrap(), ["repository.json"]);
}

#[test]
fn storage_only_s3_then_import() {
    let Some((t, url)) = s3_project(false) else {
        return;
    };
    let exp = record_run(&t, 0.2, &[0.5, 0.4]);
    assert_eq!(t.ks(&["ls", "-q"]).ok().stdout, format!("{}\n", exp.id));
    t.git(&["init", "-q", "."]);
    t.ks(&["import"]).ok();
    t.ks(&["import"]).ok();
    let shown = t.ks(&["show", "--json", exp.id.as_str()]).ok().json();
    assert_eq!(shown["checkpoints"].as_array().unwrap().len(), 2);
    assert_eq!(shown["config"]["repository"], json!(url));
    // A local project imports from the S3 store and copies the data into its own store.
    let local = TestProject::new(true);
    local.ks(&["import", &url]).ok();
    let out = local.tmp.path().join("out");
    assert_eq!(
        checkout_text(
            &local.dir,
            exp.checkpoints[1].id.as_str(),
            &out,
            "model.pth"
        ),
        "weights lr=0.2 step=1\n"
    );
    assert!(local
        .dir
        .join(format!(
            ".git/keepsake/storage/checkpoints/{}.tar.gz",
            exp.checkpoints[1].id
        ))
        .is_file());
}

/// The CLI's side of a missing bucket (the store's side, the error kind, is in storage.rs).
#[test]
fn a_missing_bucket_is_one_error_with_a_hint() {
    let Some((t, _)) = s3_project(true) else {
        return;
    };
    let run = t
        .ks(&["-R", "s3://no-such-bucket-keepsake/x", "ls"])
        .fails();
    assert!(
        run.stderr.contains("hint: Create the bucket first"),
        "{}",
        run.stderr
    );
    // (A store that is down is transient: test_storage_outage_mid_run sees it retried.)
}

/// A missing bucket is created at the first write, as Keepsake 0.4.2 did (region from
/// AWS_DEFAULT_REGION, else us-east-1); reading never creates one.
#[test]
fn the_first_write_creates_a_missing_bucket_and_reads_do_not() {
    use keepsake_core::{Error, StorageErrorKind};
    let Some((t, _)) = s3_project(false) else {
        return;
    };
    let bucket = format!("keepsake-new-{}", Id::generate().short());
    let url = format!("s3://{bucket}/runs");
    t.write("keepsake.yaml", &format!("repository: {url}\n"));
    let missing = |s: &storage::Store| {
        matches!(
            s.list(""),
            Err(Error::Storage {
                kind: StorageErrorKind::NoSuchBucket,
                ..
            })
        )
    };
    // Read-only: an error naming the missing bucket, and still no bucket.
    let run = t.ks(&["ls"]).fails();
    assert!(run.stderr.contains(&bucket), "{}", run.stderr);
    t.ks(&["show", "abc123"]).fails();
    assert!(missing(&store(&url)));

    let exp = record_run(&t, 0.3, &[0.5, 0.4]);
    let s = store(&url);
    assert!(!missing(&s));
    assert_eq!(
        &s.get("repository.json").unwrap().unwrap()[..],
        br#"{"version":1}"#
    );
    let ls = t.ks(&["ls", "--json"]).ok().json();
    assert_eq!(ls[0]["id"], json!(exp.id.as_str()));
    assert_eq!(ls[0]["num_checkpoints"], json!(2));
    // The bucket exists now: a second store of it writes without creating anything.
    let other = store(&format!("s3://{bucket}/other"));
    other.put("k", b"v".to_vec()).unwrap();
    assert_eq!(&other.get("k").unwrap().unwrap()[..], b"v");
}
