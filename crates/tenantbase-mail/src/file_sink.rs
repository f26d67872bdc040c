//! The embedded-mode transport: every message becomes a complete `.eml` file in a folder,
//! where a developer opens it with any mail client instead of running an SMTP server.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use tokio::io::AsyncWriteExt;

use crate::{MailError, MailTransport, OutgoingEmail, mime};

/// Writes each message to `<dir>/<uuid-v7>.eml`; the names sort by time of sending.
#[derive(Debug, Clone)]
pub struct FileSink {
    dir: PathBuf,
    from: Mailbox,
}

impl FileSink {
    /// A sink writing into `dir` (created if missing) as sender `from` (`mail.from`).
    pub fn new(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        let from = mime::mailbox("mail.from", from)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Permanent(format!("mail folder {}: {e}", dir.display())))?;
        Ok(Self { dir, from })
    }

    /// The folder the messages go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait::async_trait]
impl MailTransport for FileSink {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let bytes = mime::build_message(&self.from, email)?.formatted();
        let name = format!("{}.eml", uuid::Uuid::now_v7());
        // Written under a dot-name, then renamed: a reader of the folder never sees half
        // a message, and `*.eml` globs skip the temporary file.
        let temporary = self.dir.join(format!(".{name}.tmp"));
        let written = write_synced(&temporary, &bytes).await;
        let renamed = match written {
            Ok(()) => tokio::fs::rename(&temporary, self.dir.join(&name)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            // Best effort: the write already failed, a leftover dot-file is harmless.
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(MailError::Transient(format!(
                "writing to mail folder {}: {e}",
                self.dir.display()
            )));
        }
        // The file name only: the recipient and the body are personal data.
        tracing::info!(file = %name, "email written to the mail folder");
        Ok(())
    }
}

async fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    file.sync_all().await
}

#[cfg(test)]
#[path = "file_sink_tests.rs"]
mod tests;
