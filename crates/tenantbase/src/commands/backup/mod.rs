//! `tenantbase backup` and `tenantbase restore`: one archive (a gzip-compressed tar) with
//! a SQLite snapshot, the local object store and the data folder's master key, described
//! by a `manifest.json` that comes first and lists every other entry with its size and
//! SHA-256. Layout and runbook: docs/runbooks/backup-and-restore.md.

pub(crate) mod archive;
pub(crate) mod create;
pub(crate) mod restore;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, DatabaseKind};
use crate::files_config::FilesBackend;

/// What `manifest.json` says in `format`, so no other tar is mistaken for a backup.
const FORMAT: &str = "tenantbase-backup";
/// Bumped when the layout changes in a way an older `restore` would misread.
const FORMAT_VERSION: u32 = 1;
/// The archive's first entry.
const MANIFEST: &str = "manifest.json";
/// Entry names of the database snapshot and of the master key; files go under `files/`.
const DATABASE_ENTRY: &str = "database/tenantbase.db";
const MASTER_KEY_ENTRY: &str = "keys/master.key";
const FILES_PREFIX: &str = "files/";
/// Where to look for PostgreSQL and object-store backups instead.
const RUNBOOK: &str = "docs/runbooks/backup-and-restore.md";

/// The archive's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: String,
    format_version: u32,
    tenantbase_version: String,
    created_at: chrono::DateTime<chrono::Utc>,
    backend: String,
    /// The highest migration applied to the snapshot.
    schema_migration: i64,
    /// Whether `keys/master.key` is in: not when the key comes from `auth.master_key`.
    master_key_included: bool,
    /// Whether the local object store is in: not for S3 or Azure Blob.
    files_included: bool,
    entries: Vec<Entry>,
}

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    path: String,
    size: u64,
    /// Lowercase hex.
    sha256: String,
}

/// Where a SQLite deployment keeps what a backup holds.
#[derive(Debug, Clone)]
struct Layout {
    data_dir: PathBuf,
    database: PathBuf,
    /// The local object store's folder; `None` when files live in S3 or Azure Blob.
    files: Option<PathBuf>,
    master_key: PathBuf,
}

impl Layout {
    /// The paths `config` names; refuses a PostgreSQL deployment, pointing at the runbook.
    fn of(config: &Config, command: &str) -> anyhow::Result<Self> {
        if config.database_kind()? == DatabaseKind::Postgres {
            bail!(
                "`tenantbase {command}` covers SQLite deployments; back up PostgreSQL with \
                 pg_dump -Fc and restore it with pg_restore as {RUNBOOK} describes"
            );
        }
        let database =
            tenantbase_store_sqlite::database_path(config.database_url().expose_secret())
                .context("database_url")?;
        Ok(Self {
            data_dir: config.data_dir.clone(),
            database,
            files: (config.files.backend == FilesBackend::Local)
                .then(|| config.data_dir.join("files")),
            master_key: config.data_dir.join("master.key"),
        })
    }
}

/// A reader that hashes (SHA-256) and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads what is left, then gives the digest (lowercase hex) and length of it all.
    fn finish(mut self) -> std::io::Result<(String, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.size))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.size += read as u64;
        Ok(read)
    }
}

/// What an archive entry holds, by its name; `None` for a name a backup never writes
/// (absolute, with `..`, or outside the known places).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item<'a> {
    Database,
    MasterKey,
    /// A local object, by its path under the files folder.
    File(&'a str),
}

fn item(path: &str) -> Option<Item<'_>> {
    // Each segment a plain name: no root, `.`, `..` or empty segment that could place a
    // file elsewhere or name one file twice.
    let plain = path
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !plain {
        return None;
    }
    match path {
        DATABASE_ENTRY => Some(Item::Database),
        MASTER_KEY_ENTRY => Some(Item::MasterKey),
        _ => path
            .strip_prefix(FILES_PREFIX)
            .filter(|rest| !rest.is_empty())
            .map(Item::File),
    }
}

/// `path` plus a suffix on its last component, in the same folder (so a rename between
/// the two never crosses file systems).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::{Item, item};

    #[test]
    fn only_the_places_a_backup_writes_are_entries() {
        assert_eq!(item("database/tenantbase.db"), Some(Item::Database));
        assert_eq!(item("keys/master.key"), Some(Item::MasterKey));
        assert_eq!(item("files/org_1/a"), Some(Item::File("org_1/a")));
        for bad in [
            "files/",
            "files/../master.key",
            "/etc/passwd",
            "./files/a",
            "files/a/",
            "files//etc/passwd",
            "files/./a",
            "other/x",
            "keys/other.key",
        ] {
            assert_eq!(item(bad), None, "{bad}");
        }
    }
}
