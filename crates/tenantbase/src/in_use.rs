//! Who uses a SQLite database: `serve` and `worker` hold a shared lock on a file beside it
//! while they run, and `restore` an exclusive one while it swaps the database in. A
//! restore must not replace the files under a process still writing to them: what it
//! wrote afterwards would go to the files swapped out, and be lost without a word.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::ExposeSecret;

use crate::config::{Config, DatabaseKind};

/// The lock file of the SQLite database at `database`.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push(".in-use");
    database.with_file_name(name)
}

/// Marks this configuration's SQLite database in use while the returned file is open — to
/// the process's end, however it ends, since the kernel drops the lock with it. `None` on
/// PostgreSQL, and where the file system takes no locks (warned: a restore then cannot
/// see this process).
pub(crate) fn hold(config: &Config) -> anyhow::Result<Option<File>> {
    if config.database_kind()? != DatabaseKind::Sqlite {
        return Ok(None);
    }
    let database = tenantbase_store_sqlite::database_path(config.database_url().expose_secret())
        .context("database_url")?;
    let file = open(&database)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => bail!(
            "the database {} is being restored; start again once `tenantbase restore` has \
             finished",
            database.display()
        ),
        Err(TryLockError::Error(error)) => {
            tracing::warn!(%error, path = %lock_path(&database).display(), "the database's lock file cannot be locked: `tenantbase restore` will not see that this process uses it");
            Ok(None)
        }
    }
}

/// Takes the SQLite database at `database` for a restore, until the returned file is
/// dropped; fails while a server or worker uses it.
pub(crate) fn take_for_restore(database: &Path) -> anyhow::Result<File> {
    let file = open(database)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "a server or worker is running on {}; stop it first: what it wrote after the \
             restore would be lost",
            database.display()
        ),
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", lock_path(database).display()))
        }
    }
}

fn open(database: &Path) -> anyhow::Result<File> {
    let path = lock_path(database);
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_in_use_is_not_restored_and_one_being_restored_does_not_start() {
        let dir = tempfile::tempdir().expect("dir");
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let database = dir.path().join("tenantbase.db");
        let serving = hold(&config).expect("in use").expect("a lock");
        let worker = hold(&config).expect("shared").expect("a lock");
        let refused = take_for_restore(&database).expect_err("in use");
        assert!(
            format!("{refused:#}").contains("stop it first"),
            "{refused:#}"
        );
        drop((serving, worker));
        let restoring = take_for_restore(&database).expect("free");
        let refused = hold(&config).expect_err("being restored");
        assert!(
            format!("{refused:#}").contains("being restored"),
            "{refused:#}"
        );
        drop(restoring);
        assert!(hold(&config).expect("free again").is_some());
        assert!(lock_path(&database).ends_with("tenantbase.db.in-use"));
    }

    #[test]
    fn postgresql_takes_no_lock() {
        let config = Config {
            database_url: Some("postgres://app@db/tenantbase".to_owned().into()),
            ..Config::default()
        };
        assert!(hold(&config).expect("no lock").is_none());
    }
}
