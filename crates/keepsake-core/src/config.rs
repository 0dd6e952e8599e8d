//! Project configuration: finding `keepsake.yaml`, reading it, and turning its repository URL into
//! a storage location. Reads files only; never touches git or storage.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::Value as Yaml;

use crate::error::{Error, Result};
use crate::pack::Codec;

pub const CONFIG_NAMES: [&str; 4] = [
    "keepsake.yaml",
    "keepsake.yml",
    "replicate.yaml",
    "replicate.yml",
];

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    File(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
    },
    Gcs {
        bucket: String,
        prefix: String,
    },
    /// In-process storage, for tests of the core.
    Memory(String),
}

impl StorageUrl {
    /// Parses a repository URL; relative local paths resolve against `base` (the project directory).
    pub fn parse(url: &str, base: &Path) -> Result<StorageUrl> {
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(Error::MissingScheme {
                url: url.to_string(),
            });
        }
        let Some((scheme, rest)) = split_scheme(trimmed) else {
            return Ok(StorageUrl::File(clean(&base.join(trimmed))));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                Ok(StorageUrl::File(clean(&base.join(path))))
            }
            "s3" | "gs" => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(Error::invalid("repository URL", url, "it names no bucket"));
                }
                let (bucket, prefix) = (bucket.to_string(), prefix.trim_matches('/').to_string());
                Ok(if scheme.eq_ignore_ascii_case("s3") {
                    StorageUrl::S3 { bucket, prefix }
                } else {
                    StorageUrl::Gcs { bucket, prefix }
                })
            }
            "memory" => Ok(StorageUrl::Memory(rest.trim_start_matches('/').to_string())),
            _ => Err(Error::UnknownScheme {
                url: url.to_string(),
                scheme: scheme.to_string(),
            }),
        }
    }

    /// The resolved root URL, as it appears in messages and in `config.repository`.
    pub fn display(&self) -> String {
        let join = |scheme: &str, bucket: &str, prefix: &str| {
            if prefix.is_empty() {
                format!("{scheme}://{bucket}")
            } else {
                format!("{scheme}://{bucket}/{prefix}")
            }
        };
        match self {
            StorageUrl::File(p) => format!("file://{}", p.display()),
            StorageUrl::S3 { bucket, prefix } => join("s3", bucket, prefix),
            StorageUrl::Gcs { bucket, prefix } => join("gs", bucket, prefix),
            StorageUrl::Memory(name) => format!("memory://{name}"),
        }
    }
}

/// `scheme:rest` when the text starts with a URL scheme (letters, then `:`), else None.
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let valid = scheme.len() > 1
        && scheme.chars().next()?.is_ascii_alphabetic()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

/// Lexically cleans a path (`a/./b/../c` -> `a/c`) without touching the file system.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A keepsake.yaml (or a legacy name) at this path.
    File(PathBuf),
    /// No keepsake.yaml: the default store inside the git directory.
    GitDefault,
    /// A repository URL given on the command line or to `Project(repository=...)`.
    Explicit,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The project directory: paths, ignore rules and relative URLs are relative to it.
    pub dir: PathBuf,
    pub repository: String,
    pub source: ConfigSource,
    pub compression: Codec,
    /// Stores of git remotes (`remotes: {origin: s3://team/project}`), by remote name.
    pub remotes: std::collections::BTreeMap<String, String>,
    /// Warnings to show the user (deprecated names or keys).
    pub warnings: Vec<String>,
    /// Files of a code snapshot bigger than this stay out of git (they are in the store only).
    pub git_max_file_size: u64,
}

/// `git_max_file_size` unless keepsake.yaml says otherwise: well under the 100 MB that GitHub
/// refuses per blob, and larger than any source file.
pub const DEFAULT_GIT_MAX_FILE_SIZE: u64 = 10 << 20;

/// A byte count: a plain number, or one with a unit (`10MiB`, `100MB`, `512 KiB`, `2G`).
/// Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB, and K, M,
/// G, T) powers of 1000; case does not matter.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000u64.pow(2),
        "g" | "gb" => 1000u64.pow(3),
        "t" | "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Looks for a config file in `start` and its parents, stopping after `stop_at` (the git work tree
/// root) when given. Returns None when there is none.
pub fn find(start: &Path, stop_at: Option<&Path>) -> Result<Option<Config>> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if let Some(config) = read_dir_config(d)? {
            return Ok(Some(config));
        }
        if Some(d) == stop_at {
            break;
        }
        dir = d.parent();
    }
    Ok(None)
}

/// Reads the config file directly in `dir`, if there is one.
pub fn read_dir_config(dir: &Path) -> Result<Option<Config>> {
    for name in CONFIG_NAMES {
        let path = dir.join(name);
        if path.is_file() {
            let text = crate::fs::read_to_string(&path)?;
            let mut config = parse(&path, &text)?;
            if name.starts_with("replicate") {
                config
                    .warnings
                    .push(format!("{name} is deprecated: rename it to keepsake.yaml"));
            }
            return Ok(Some(config));
        }
    }
    Ok(None)
}

pub fn parse(path: &Path, text: &str) -> Result<Config> {
    let bad = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let yaml: Yaml = serde_yaml_ng::from_str(text)
        .map_err(|e| bad(e.to_string().lines().next().unwrap_or_default().to_string()))?;
    let map = match yaml {
        Yaml::Mapping(m) => m,
        Yaml::Null => return Err(bad("the file is empty; it needs `repository: <url>`".into())),
        _ => return Err(bad("expected `key: value` lines".into())),
    };
    let (mut repository, mut storage, mut compression) = (None, None, Codec::Gzip);
    let mut git_max_file_size = DEFAULT_GIT_MAX_FILE_SIZE;
    let mut remotes = BTreeMap::new();
    for (k, v) in map {
        let key = k.as_str().unwrap_or_default().to_string();
        let string = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("`{key}` must be a string")))
        };
        match key.as_str() {
            "repository" => repository = Some(string()?),
            "storage" => storage = Some(string()?),
            "compression" => {
                let s = string()?;
                compression = Codec::from_name(&s).ok_or_else(|| {
                    bad(format!("unknown compression `{s}` (use `gzip` or `zstd`)"))
                })?;
            }
            "remotes" => remotes = parse_remotes(&v).map_err(bad)?,
            "git_max_file_size" => git_max_file_size = parse_git_max_file_size(&v).map_err(bad)?,
            _ => {
                return Err(bad(format!(
                "unknown key `{key}` (known: repository, compression, remotes, git_max_file_size)"
            )))
            }
        }
    }
    let mut warnings = Vec::new();
    let repository = choose_repository(repository, storage, &mut warnings).map_err(bad)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Config {
        dir,
        repository,
        source: ConfigSource::File(path.to_path_buf()),
        compression,
        remotes,
        warnings,
        git_max_file_size,
    })
}

/// `remotes:` maps git remote names to store URLs.
fn parse_remotes(v: &Yaml) -> std::result::Result<BTreeMap<String, String>, String> {
    let wrong = || "`remotes` must map git remote names to store URLs".to_string();
    let Yaml::Mapping(m) = v else {
        return Err(wrong());
    };
    m.iter()
        .map(|(name, url)| match (name.as_str(), url.as_str()) {
            (Some(n), Some(u)) => Ok((n.to_string(), u.to_string())),
            _ => Err(wrong()),
        })
        .collect()
}

/// `git_max_file_size:` a byte count, as a number or with a unit.
fn parse_git_max_file_size(v: &Yaml) -> std::result::Result<u64, String> {
    let text = match v {
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    parse_byte_size(&text).ok_or_else(|| {
        format!(
            "`git_max_file_size` is `{text}`: expected a byte count such as `10485760`, `10MiB` or `100MB`"
        )
    })
}

/// The store URL: `repository`, or Keepsake's deprecated `storage` (with a warning), not both.
fn choose_repository(
    repository: Option<String>,
    storage: Option<String>,
    warnings: &mut Vec<String>,
) -> std::result::Result<String, String> {
    match (repository, storage) {
        (Some(_), Some(_)) => {
            Err("`repository` and the deprecated `storage` cannot both be set".into())
        }
        (Some(r), None) => Ok(r),
        (None, Some(s)) => {
            warnings.push(
                "The `storage` key in keepsake.yaml is deprecated: rename it to `repository`"
                    .into(),
            );
            Ok(s)
        }
        (None, None) => Err("missing required key `repository`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Result<StorageUrl> {
        StorageUrl::parse(s, Path::new("/p"))
    }

    #[test]
    fn url_table() {
        assert_eq!(
            url("file://.keepsake").unwrap(),
            StorageUrl::File("/p/.keepsake".into())
        );
        assert_eq!(
            url("file://./ks2").unwrap(),
            StorageUrl::File("/p/ks2".into())
        );
        assert_eq!(
            url("file://ks3/sub").unwrap(),
            StorageUrl::File("/p/ks3/sub".into())
        );
        assert_eq!(
            url("file://../outside").unwrap(),
            StorageUrl::File("/outside".into())
        );
        assert_eq!(
            url("file:///abs/path").unwrap(),
            StorageUrl::File("/abs/path".into())
        );
        assert_eq!(
            url("file:/abs/path").unwrap(),
            StorageUrl::File("/abs/path".into())
        );
        assert_eq!(url("FILE://.x").unwrap(), StorageUrl::File("/p/.x".into()));
        assert_eq!(
            url(".keepsake").unwrap(),
            StorageUrl::File("/p/.keepsake".into())
        );
        assert_eq!(
            url("s3://bucket/root/prefix").unwrap(),
            StorageUrl::S3 {
                bucket: "bucket".into(),
                prefix: "root/prefix".into()
            }
        );
        assert_eq!(url("gs://b").unwrap().display(), "gs://b");
        assert!(matches!(url("ftp://x"), Err(Error::UnknownScheme { .. })));
        assert!(matches!(url(""), Err(Error::MissingScheme { .. })));
    }

    #[test]
    fn config_keys() {
        let p = Path::new("/p/keepsake.yaml");
        assert_eq!(
            parse(p, "repository: \"file://.keepsake\"\n")
                .unwrap()
                .repository,
            "file://.keepsake"
        );
        let c = parse(p, "storage: s3://b\n").unwrap();
        assert_eq!((c.repository.as_str(), c.warnings.len()), ("s3://b", 1));
        assert!(parse(p, "repository: a\nstorage: b\n").is_err());
        assert!(parse(p, "foo: 1\n")
            .unwrap_err()
            .to_string()
            .contains("unknown key `foo`"));
        assert!(parse(p, "").unwrap_err().to_string().contains("empty"));
        assert!(parse(p, "repository: [a\n").is_err());
        assert_eq!(
            parse(p, "repository: x\ncompression: zstd\n")
                .unwrap()
                .compression,
            Codec::Zstd
        );
    }

    #[test]
    fn git_max_file_size_takes_counts_and_units() {
        let p = Path::new("/p/keepsake.yaml");
        let size = |v: &str| {
            parse(p, &format!("repository: x\ngit_max_file_size: {v}\n"))
                .map(|c| c.git_max_file_size)
        };
        assert_eq!(
            parse(p, "repository: x\n").unwrap().git_max_file_size,
            10 << 20
        );
        assert_eq!(size("1000").unwrap(), 1000);
        assert_eq!(size("10MiB").unwrap(), 10 << 20);
        assert_eq!(size("100MB").unwrap(), 100_000_000);
        assert_eq!(size("\"512 kib\"").unwrap(), 512 << 10);
        assert_eq!(size("2G").unwrap(), 2_000_000_000);
        assert_eq!(size("0").unwrap(), 0);
        for bad in [
            "-5",
            "1.5MB",
            "10 parsecs",
            "MB",
            "[1]",
            "20000000TiB",
            "\"\"",
        ] {
            let err = size(bad).unwrap_err().to_string();
            assert!(err.contains("`git_max_file_size` is `"), "{bad}: {err}");
            assert!(err.contains("10MiB"), "{bad}: {err}");
        }
        assert!(size("1.5MB").unwrap_err().to_string().contains("`1.5MB`"));
        // Too big for YAML's integers: the YAML reader refuses it, naming it too.
        let err = size("99999999999999999999").unwrap_err().to_string();
        assert!(err.contains("99999999999999999999"), "{err}");
    }
}
