//! Whether the data folder can take what this configuration writes there, checked when
//! `serve` and `worker` start: a container whose `/data` is read-only (a missing volume, a
//! wrong securityContext) then stops with one line naming the folder, the reason and what
//! needs it, instead of a database driver's "unable to open database file". And who uses
//! the folder: `restore` does not replace it under a running process.

use std::fs::{File, TryLockError};
use std::path::Path;

use anyhow::{Context, anyhow, bail};

use crate::config::{Config, MailTransportKind};
use crate::files_config::FilesBackend;

/// What this configuration keeps in `data_dir`; empty when nothing (PostgreSQL, a remote
/// object store, a configured master key and SMTP), so a read-only folder is fine then.
pub(crate) fn users(config: &Config) -> Vec<&'static str> {
    let mut users = Vec::new();
    if config.database_url.is_none() {
        users.push("the SQLite database");
    }
    if config.files.backend == FilesBackend::Local {
        users.push("local files (files.backend = local)");
    }
    if config.auth.master_key.is_none() {
        users.push("the generated master key (auth.master_key unset)");
    }
    if config.mail.transport == MailTransportKind::File {
        users.push("mail files (mail.transport = file)");
    }
    users
}

/// Fails unless a file can be created in `data_dir` (when anything needs it).
pub(crate) fn ensure_writable(config: &Config) -> anyhow::Result<()> {
    let users = users(config);
    if users.is_empty() {
        return Ok(());
    }
    let dir = &config.data_dir;
    let probe = dir.join(format!(".write-probe-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|error| {
            anyhow!(
                "data_dir {} is not writable ({error}); it holds {}",
                dir.display(),
                users.join(", ")
            )
        })
}

/// The file in `data_dir` that `serve` and `worker` hold a shared lock on while they run,
/// and `restore` an exclusive one: a restore must not swap the folder from under a process
/// still writing to it (those writes would go to the files swapped out, and be lost).
pub(crate) const IN_USE: &str = ".in-use.lock";

/// Marks `data_dir` in use by this process while the returned file is open — to the
/// process's end, however it ends, since the kernel drops the lock with it. `None` when
/// the configuration keeps nothing there.
pub(crate) fn hold(config: &Config) -> anyhow::Result<Option<File>> {
    if users(config).is_empty() {
        return Ok(None);
    }
    let file = open_in_use(&config.data_dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => bail!(
            "data_dir {} is being restored; start again once `tenantbase restore` has finished",
            config.data_dir.display()
        ),
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| in_use_path(&config.data_dir))
        }
    }
}

/// Takes `data_dir` for a restore, which it keeps until the returned file is dropped;
/// fails while a server or worker runs on it.
pub(crate) fn take_for_restore(data_dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let file = open_in_use(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "a server or worker is running on data_dir {}; stop it first: what it wrote after \
             the restore would be lost",
            data_dir.display()
        ),
        Err(TryLockError::Error(error)) => Err(error).with_context(|| in_use_path(data_dir)),
    }
}

fn open_in_use(data_dir: &Path) -> anyhow::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(IN_USE))
        .with_context(|| in_use_path(data_dir))
}

fn in_use_path(data_dir: &Path) -> String {
    format!("opening {}", data_dir.join(IN_USE).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_need_the_folder_and_a_fully_remote_setup_does_not() {
        let embedded = Config::default();
        assert_eq!(users(&embedded).len(), 4);

        let mut remote = Config {
            database_url: Some("postgres://app@db/tenantbase".to_owned().into()),
            ..Config::default()
        };
        remote.files.backend = FilesBackend::S3;
        remote.auth.master_key = Some("a key".to_owned().into());
        remote.mail.transport = MailTransportKind::Smtp;
        assert!(users(&remote).is_empty());
    }

    #[test]
    fn a_folder_in_use_is_not_restored_and_one_being_restored_does_not_start() {
        let dir = tempfile::tempdir().expect("dir");
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let serving = hold(&config).expect("in use").expect("a lock");
        let worker = hold(&config).expect("shared").expect("a lock");
        let refused = take_for_restore(dir.path()).expect_err("in use");
        assert!(
            format!("{refused:#}").contains("stop it first"),
            "{refused:#}"
        );
        drop((serving, worker));
        let restoring = take_for_restore(dir.path()).expect("free");
        let refused = hold(&config).expect_err("being restored");
        assert!(
            format!("{refused:#}").contains("being restored"),
            "{refused:#}"
        );
        drop(restoring);
        assert!(hold(&config).expect("free again").is_some());
    }

    #[test]
    fn a_read_only_folder_is_named_with_the_reason() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        assert!(ensure_writable(&config).is_ok());
        assert!(
            std::fs::read_dir(&config.data_dir)
                .expect("made")
                .next()
                .is_none()
        );

        // A file where the folder should be: nothing can be created below it.
        config.data_dir = dir.path().join("a-file");
        std::fs::write(&config.data_dir, b"").expect("file");
        let error = ensure_writable(&config)
            .expect_err("not a folder")
            .to_string();
        assert!(error.starts_with(&format!(
            "data_dir {} is not writable",
            config.data_dir.display()
        )));
        assert!(error.contains("the SQLite database"), "{error}");
    }
}
