//! Whether the data folder can take what this configuration writes there, checked when
//! `serve` and `worker` start: a container whose `/data` is read-only (a missing volume, a
//! wrong securityContext) then stops with one line naming the folder, the reason and what
//! needs it, instead of a database driver's "unable to open database file".

use anyhow::anyhow;

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
