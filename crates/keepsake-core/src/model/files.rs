//! What a record says about stored files: a tarball's key, size and hash ([`FileRecord`]), and
//! the files of a code snapshot kept out of git ([`StoreOnlyFile`]).

use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Hasher};

/// Where a tarball went: its storage key, size and content hash (see `digest`). Kept in git,
/// not in Keepsake's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub key: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// Written by earlier versions instead of `blake3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The bytes of the files the tarball holds: unpacking it never writes more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_size: Option<u64>,
}

/// Why a file of an experiment's code snapshot is in the store only, not in its git tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeftOut {
    /// git's ignore rules (`.gitignore` at any level, `.git/info/exclude`, `core.excludesFile`).
    #[serde(rename = "ignored")]
    Ignored,
    /// Bigger than `git_max_file_size`.
    #[serde(rename = "too large")]
    TooLarge,
}

impl LeftOut {
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOut::Ignored => "ignored",
            LeftOut::TooLarge => "too large",
        }
    }
}

/// A file of the code snapshot that the store's tarball has and the git tree leaves out. Kept in
/// the experiment's first commit; validated when read (it comes from git, so it is untrusted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawStoreOnly")]
pub struct StoreOnlyFile {
    /// Project-relative, `/`-separated, as in the tarball.
    pub path: String,
    pub size: u64,
    pub blake3: String,
    pub reason: LeftOut,
}

#[derive(Deserialize)]
struct RawStoreOnly {
    path: String,
    size: u64,
    blake3: String,
    reason: LeftOut,
}

impl TryFrom<RawStoreOnly> for StoreOnlyFile {
    type Error = String;

    fn try_from(r: RawStoreOnly) -> std::result::Result<Self, String> {
        let clean = !r.path.is_empty()
            && r.path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
        if !clean {
            return Err(format!(
                "store-only path {:?} is not a relative path inside the project",
                r.path
            ));
        }
        let hex = r.blake3.len() == 64
            && r.blake3
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(format!(
                "store-only file {:?} has blake3 {:?}, not 64 lowercase hex digits",
                r.path, r.blake3
            ));
        }
        Ok(StoreOnlyFile {
            path: r.path,
            size: r.size,
            blake3: r.blake3,
            reason: r.reason,
        })
    }
}

impl FileRecord {
    /// A record for content hashed by `hasher`.
    pub fn new(key: String, size: u64, hasher: Hasher) -> FileRecord {
        let algorithm = hasher.algorithm();
        let digest = Some(hasher.finish());
        let (blake3, sha256) = match algorithm {
            Algorithm::Blake3 => (digest, None),
            Algorithm::Sha256 => (None, digest),
        };
        FileRecord {
            key,
            size,
            blake3,
            sha256,
            files_size: None,
        }
    }

    /// This record, noting that its tarball holds `files` (their sizes bound unpacking).
    pub fn holding(mut self, files_size: u64) -> FileRecord {
        self.files_size = Some(files_size);
        self
    }

    /// The recorded hash and its algorithm.
    pub fn digest(&self) -> Option<(Algorithm, &str)> {
        match (&self.blake3, &self.sha256) {
            (Some(h), _) => Some((Algorithm::Blake3, h)),
            (None, Some(h)) => Some((Algorithm::Sha256, h)),
            (None, None) => None,
        }
    }

    /// A hasher for checking content against this record.
    pub fn verifier(&self) -> Hasher {
        Hasher::of(self.digest().map_or(Algorithm::Blake3, |(a, _)| a))
    }

    /// Whether `size` bytes hashed by `hasher` (from `verifier`) are what this record names;
    /// if not, says how they differ.
    pub fn check(&self, size: u64, hasher: Hasher) -> std::result::Result<(), String> {
        let algorithm = hasher.algorithm();
        let got = hasher.finish();
        match self.digest() {
            Some((a, want)) if a == algorithm && want == got && size == self.size => Ok(()),
            Some((a, want)) => Err(format!(
                "its size or {} ({size} bytes, {got}) is not the recorded one ({} bytes, {want})",
                a.name(),
                self.size
            )),
            None => Err("its record has no content hash".into()),
        }
    }
}
