//! The two triggers of a reload: SIGHUP, and changes to the `--config` file.

use std::path::Path;

use anyhow::Context;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Trigger;

/// Watches the folder of `path` (editors and config-map updates replace the file by a
/// rename, which a watch on the file itself would miss) for changes to that file. The
/// watcher stops when the returned value is dropped.
pub(super) fn config_file(
    path: &Path,
    triggers: mpsc::Sender<Trigger>,
) -> anyhow::Result<RecommendedWatcher> {
    let path = std::path::absolute(path)
        .with_context(|| format!("resolving the config file {}", path.display()))?;
    let folder = path
        .parent()
        .context("the config file has no folder")?
        .to_path_buf();
    let name = path.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        let ours = event
            .paths
            .iter()
            .any(|changed| changed.file_name() == name.as_deref());
        let changes = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        );
        if ours && changes {
            // Full: a reload is already pending and will read this change too.
            let _ = triggers.try_send(Trigger::FileChanged);
        }
    })
    .context("starting the config file watcher")?;
    watcher
        .watch(&folder, RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {}", folder.display()))?;
    Ok(watcher)
}

/// Turns each SIGHUP into a trigger until `shutdown`. The handler is installed before
/// this returns: from then on SIGHUP no longer ends the process.
#[cfg(unix)]
pub(super) fn hangups(
    triggers: mpsc::Sender<Trigger>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                received = hangups.recv() => {
                    if received.is_none() {
                        return;
                    }
                    let _ = triggers.try_send(Trigger::Signal);
                }
            }
        }
    });
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn hangups(_: mpsc::Sender<Trigger>, _: CancellationToken) -> anyhow::Result<()> {
    Ok(())
}
