//! Keepsake 0.4.2's layout: where each thing lives in a store, so that Keepsake repositories and
//! tools keep working. Keys are always derived from IDs here, never taken from a record.

use crate::id::Id;
use crate::pack::Codec;

pub const REPOSITORY_JSON: &str = "repository.json";

pub const REPOSITORY_SPEC: &[u8] = br#"{"version":1}"#;

pub const EXPERIMENTS_METADATA: &str = "metadata/experiments/";

pub const HEARTBEATS: &str = "metadata/heartbeats/";

pub fn experiment_metadata_key(id: &Id) -> String {
    format!("{EXPERIMENTS_METADATA}{id}.json")
}

pub fn heartbeat_key(id: &Id) -> String {
    format!("{HEARTBEATS}{id}.json")
}

pub fn experiment_tarball_key(id: &Id, codec: Codec) -> String {
    format!("experiments/{id}{}", codec.extension())
}

pub fn checkpoint_tarball_key(id: &Id, codec: Codec) -> String {
    format!("checkpoints/{id}{}", codec.extension())
}
