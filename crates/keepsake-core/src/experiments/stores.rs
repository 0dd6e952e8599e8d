//! The stores a project reads from: its own, and each git remote's (configured in keepsake.yaml
//! or `remote.<name>.keepsakeStore`), so that a pulled experiment's weights are read where its
//! team keeps them.

use crate::config::StorageUrl;
use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::git::transport;
use crate::storage::{self, Store};

/// The store of a git remote: `remotes:` in keepsake.yaml, else `git config
/// remote.<name>.keepsakeStore`, else the project's own store when it is not private to this
/// clone.
pub fn remote_store(project: &Project, remote: &str) -> Result<Store> {
    let git = project.require_git("push")?;
    let dir = git.command_dir();
    transport::remote_url(&dir, remote)?;
    let configured = project.config.remotes.get(remote).cloned().or_else(|| {
        transport::config_values(&dir, &format!("remote.{remote}.keepsakeStore")).pop()
    });
    match configured {
        Some(url) => Store::open(&StorageUrl::parse(&url, &project.config.dir)?),
        None => match &project.storage_url {
            StorageUrl::File(p) if p.starts_with(git.git_dir()) => Err(Error::invalid(
                "remote",
                remote,
                format!(
                    "it has no store, and this project's store is private to this clone; set one with `git config remote.{remote}.keepsakeStore s3://bucket/project` or `remotes: {{{remote}: URL}}` in keepsake.yaml"
                ),
            )),
            _ => Ok(project.store.clone()),
        },
    }
}

/// Stores of every git remote that has one, for reading what this clone does not have.
pub(crate) fn remote_stores(project: &Project) -> Vec<Store> {
    let Some(git) = &project.git else {
        return Vec::new();
    };
    let dir = git.command_dir();
    let mut urls: Vec<String> = project.config.remotes.values().cloned().collect();
    for line in transport::remotes(&dir) {
        urls.extend(transport::config_values(
            &dir,
            &format!("remote.{line}.keepsakeStore"),
        ));
    }
    urls.sort();
    urls.dedup();
    urls.iter()
        .filter_map(|u| StorageUrl::parse(u, &project.config.dir).ok())
        .filter_map(|u| Store::open(&u).ok())
        .filter(|s| s.url() != project.store.url())
        .collect()
}

/// A reader of `key` and the URL of the store it is in: this project's store, else a
/// remote's (pulled experiments' data is read where their team keeps it).
pub(crate) fn locate(
    project: &Project,
    key: &str,
) -> Result<Option<(String, storage::ObjectReader)>> {
    if let Some(r) = project.store.reader(key)? {
        return Ok(Some((project.store.url().to_string(), r)));
    }
    for store in remote_stores(project) {
        if let Ok(Some(r)) = store.reader(key) {
            return Ok(Some((store.url().to_string(), r)));
        }
    }
    Ok(None)
}
