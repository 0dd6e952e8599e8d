//! Experiments and checkpoints: the records Keepsake 0.4.2 keeps in
//! `metadata/experiments/<id>.json`, with its field order; the one best-checkpoint rule; values in
//! Keepsake's JSON; the `--filter`/`--sort` grammar. Plain data: nothing here reads a file, git or
//! a store, so everything above can share these types.

mod best;
mod files;
pub mod filter;
mod summary;
pub mod value;

pub use best::{best_of, BestFold};
pub use files::{FileRecord, LeftOut, StoreOnlyFile};
pub use summary::Summary;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::clock::serde_go;
use crate::error::{Error, Result};
use crate::id::Id;

pub type Params = Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    Maximize,
    Minimize,
}

impl Goal {
    pub fn parse(s: &str) -> Result<Goal> {
        match s {
            "maximize" => Ok(Goal::Maximize),
            "minimize" => Ok(Goal::Minimize),
            other => Err(Error::BadCheckpoint {
                what: "primary metric goal".into(),
                value: other.to_string(),
                message: "the goal is `maximize` or `minimize`".to_string(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Maximize => "maximize",
            Goal::Minimize => "minimize",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrimaryMetric {
    pub name: String,
    pub goal: Goal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: Id,
    #[serde(with = "serde_go")]
    pub created: DateTime<Utc>,
    #[serde(default, with = "null_if_empty")]
    pub metrics: Params,
    #[serde(default)]
    pub step: i64,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub primary_metric: Option<PrimaryMetric>,
    #[serde(skip)]
    pub files: Option<FileRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageConfig {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub storage: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: Id,
    #[serde(with = "serde_go")]
    pub created: DateTime<Utc>,
    #[serde(default, with = "null_if_empty")]
    pub params: Params,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub config: StorageConfig,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub python_version: String,
    #[serde(default, with = "null_if_empty_packages")]
    pub python_packages: BTreeMap<String, String>,
    #[serde(default, with = "null_if_empty_list")]
    pub checkpoints: Vec<Checkpoint>,
    #[serde(default, alias = "replicate_version")]
    pub keepsake_version: String,
    #[serde(skip)]
    pub files: Option<FileRecord>,
    /// Files of the code snapshot in the store's tarball only, not in the git tree (from git).
    #[serde(skip)]
    pub store_only: Vec<StoreOnlyFile>,
    /// The commit at the tip of the experiment's ref, when it was read from git.
    #[serde(skip)]
    pub git_tip: Option<String>,
    /// The tree of the code snapshot, when it was read from git.
    #[serde(skip)]
    pub git_tree: Option<String>,
    /// The user's commit the experiment ran on (HEAD at creation), when in a git repository.
    #[serde(skip)]
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes at creation.
    #[serde(skip)]
    pub git_dirty: bool,
    #[serde(skip)]
    pub best_fold: BestFold,
}

impl Experiment {
    /// `best()`, in constant time per checkpoint added since the last call.
    pub fn best_folded(&mut self) -> Option<&Checkpoint> {
        let fold = &mut self.best_fold;
        let current = fold.upto <= self.checkpoints.len()
            && fold.upto.checked_sub(1).map(|i| &self.checkpoints[i].id) == fold.last.as_ref();
        if !current {
            *fold = BestFold::default();
        }
        for (i, c) in self.checkpoints.iter().enumerate().skip(fold.upto) {
            fold.step(i, c);
        }
        fold.upto = self.checkpoints.len();
        fold.last = self.checkpoints.last().map(|c| c.id.clone());
        fold.best.map(|(i, _)| &self.checkpoints[i])
    }

    /// Parses Keepsake's metadata JSON, tolerating any key order and unknown keys.
    pub fn from_keepsake_json(key: &str, bytes: &[u8]) -> Result<Experiment> {
        let mut exp: Experiment =
            serde_json::from_slice(bytes).map_err(|e| Error::CorruptMetadata {
                key: key.to_string(),
                message: e.to_string(),
                source: Some(Box::new(e)),
            })?;
        exp.params = value::normalize_map(std::mem::take(&mut exp.params));
        for c in &mut exp.checkpoints {
            c.metrics = value::normalize_map(std::mem::take(&mut c.metrics));
        }
        // Checked as git records are when read: a path that leaves the project would make
        // an imported experiment one that every later read refuses.
        let paths = std::iter::once(&exp.path).chain(exp.checkpoints.iter().map(|c| &c.path));
        for path in paths {
            if crate::paths::normalize_path(path).is_err() {
                return Err(Error::CorruptMetadata {
                    source: None,
                    key: key.to_string(),
                    message: format!(
                        "its path {} leaves the project directory",
                        crate::text::quoted(path)
                    ),
                });
            }
        }
        Ok(exp)
    }

    /// The exact bytes Keepsake 0.4.2 writes: 1-space indent, no trailing newline.
    pub fn to_keepsake_json(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        value::to_go_json(&v, Some(" "))
    }

    /// The best checkpoint: among checkpoints whose primary metric has a numeric, non-NaN value,
    /// compared by the name and goal of the first such checkpoint.
    pub fn best(&self) -> Option<&Checkpoint> {
        best_of(self.checkpoints.iter())
    }

    /// The checkpoint created last (list order breaks ties).
    pub fn latest(&self) -> Option<&Checkpoint> {
        self.checkpoints.iter().rev().max_by_key(|c| c.created)
    }

    pub fn checkpoint(&self, id: &Id) -> Option<&Checkpoint> {
        self.checkpoints.iter().find(|c| &c.id == id)
    }
}

impl Checkpoint {
    pub fn primary_value(&self) -> Option<f64> {
        let pm = self.primary_metric.as_ref()?;
        let v = value::as_f64(self.metrics.get(&pm.name)?)?;
        (!v.is_nan()).then_some(v)
    }

    pub fn to_json_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

macro_rules! null_if_empty_mod {
    ($name:ident, $ty:ty) => {
        mod $name {
            use super::*;

            pub fn serialize<S: Serializer>(v: &$ty, s: S) -> std::result::Result<S::Ok, S::Error> {
                if v.is_empty() {
                    s.serialize_none()
                } else {
                    v.serialize(s)
                }
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<$ty, D::Error> {
                Ok(Option::<$ty>::deserialize(d)?.unwrap_or_default())
            }
        }
    };
}

null_if_empty_mod!(null_if_empty, Params);
null_if_empty_mod!(null_if_empty_packages, BTreeMap<String, String>);
null_if_empty_mod!(null_if_empty_list, Vec<Checkpoint>);

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_B: &str = include_str!(
        "../../../../fixtures/keepsake-0.4.2/project/.keepsake/metadata/experiments/d90ea781f109ec260bbcd1187b1ea76274ce6e10c5e2af0a861fd93b70931d43.json"
    );

    #[test]
    fn the_folded_best_is_best_of_whatever_happens_to_the_list() {
        let template = Experiment::from_keepsake_json("b", FIXTURE_B.as_bytes()).unwrap();
        let base = template.checkpoints[0].clone();
        let make = |i: u64, v: Option<f64>, metric: &str, goal: Goal| {
            let mut c = base.clone();
            c.id = Id::generate();
            c.metrics = Params::new();
            if let Some(v) = v {
                c.metrics
                    .insert(metric.into(), crate::model::value::from_f64(v));
            }
            c.primary_metric = Some(PrimaryMetric {
                name: metric.into(),
                goal,
            });
            c.step = i as i64;
            c
        };
        let mut exp = template.clone();
        exp.checkpoints.clear();
        let mut x: u64 = 7;
        for i in 0..400u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match x % 10 {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some((x % 1000) as f64),
            };
            let (metric, goal) = match x % 23 {
                0 => ("acc", Goal::Maximize),
                1 => ("loss", Goal::Maximize),
                _ => ("loss", Goal::Minimize),
            };
            exp.checkpoints.push(make(i, v, metric, goal));
            exp.best_folded();
            // Now and then the list changes under the fold: a save taken back, or replaced.
            match x % 17 {
                0 => {
                    exp.checkpoints.pop();
                }
                1 => {
                    exp.checkpoints.pop();
                    exp.checkpoints
                        .push(make(i, Some(0.0), "loss", Goal::Minimize));
                }
                _ => {}
            }
            let want = best_of(exp.checkpoints.iter()).map(|c| c.id.clone());
            assert_eq!(exp.best_folded().map(|c| c.id.clone()), want, "after {i}");
        }
    }

    #[test]
    fn round_trips_keepsake_json_byte_for_byte() {
        let exp = Experiment::from_keepsake_json("b", FIXTURE_B.as_bytes()).unwrap();
        assert_eq!(exp.checkpoints.len(), 5);
        assert_eq!(exp.to_keepsake_json(), FIXTURE_B);
    }

    #[test]
    fn best_and_latest() {
        let exp = Experiment::from_keepsake_json("b", FIXTURE_B.as_bytes()).unwrap();
        assert_eq!(exp.best().unwrap().step, 3);
        assert_eq!(exp.latest().unwrap().step, 4);
    }

    #[test]
    fn store_only_records_from_git_are_validated() {
        let hash = "ab".repeat(32);
        let parse = |path: &str, blake3: &str, reason: &str| {
            serde_json::from_value::<StoreOnlyFile>(serde_json::json!({
                "path": path, "size": 3, "blake3": blake3, "reason": reason,
            }))
        };
        let ok = parse("data/big.bin", &hash, "too large").unwrap();
        assert_eq!((ok.reason, ok.size), (LeftOut::TooLarge, 3));
        assert_eq!(
            serde_json::to_value(&ok).unwrap()["reason"],
            serde_json::json!("too large")
        );
        assert_eq!(
            parse(".env", &hash, "ignored").unwrap().reason,
            LeftOut::Ignored
        );
        for (path, blake3, reason) in [
            ("../escape", hash.as_str(), "ignored"),
            ("/etc/passwd", hash.as_str(), "ignored"),
            ("a//b", hash.as_str(), "ignored"),
            ("", hash.as_str(), "ignored"),
            ("a/./b", hash.as_str(), "ignored"),
            ("ok", "abc", "ignored"),
            ("ok", &"AB".repeat(32), "ignored"),
            ("ok", hash.as_str(), "deleted"),
        ] {
            let err = parse(path, blake3, reason).unwrap_err().to_string();
            assert!(
                err.contains(path) || err.contains("variant"),
                "{path} {blake3} {reason}: {err}"
            );
        }
    }

    #[test]
    fn corrupt_json_names_the_key() {
        let err = Experiment::from_keepsake_json("metadata/experiments/x.json", b"{\"id\": 3")
            .unwrap_err();
        assert!(
            err.to_string().contains("metadata/experiments/x.json"),
            "{err}"
        );
    }
}
