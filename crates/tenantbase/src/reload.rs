//! Config hot reload for `serve`: on SIGHUP, and when the `--config` file changes, the
//! configuration is read again from every source (file, environment, flags) and what is
//! safe to change in a running process is applied — the log filter, the auth routes'
//! request rate and sign-in throttles, the invitation limits and the email templates. A file that does not
//! parse or validate is rejected with an ERROR line and the running configuration is
//! kept; changed keys that only take effect at start (listener, database, pools, …) are
//! named in a WARN line ("needs restart") and ignored. Nothing here touches the listener
//! or its connections.

mod diff;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tenantbase_core::identity::Identity;
use tenantbase_core::tenancy::Tenancy;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};
use crate::telemetry::LogLevel;

/// What a reload can change in the running process.
pub(crate) struct Live {
    pub(crate) log_level: LogLevel,
    pub(crate) identity: Arc<Identity>,
    pub(crate) tenancy: Arc<Tenancy>,
}

/// Why a reload runs, for its log line.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Signal,
    FileChanged,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Signal => "SIGHUP",
            Trigger::FileChanged => "file watcher",
        }
    }
}

/// Editors save in several steps (truncate, write, rename); events this close together
/// are one change.
const SETTLE: Duration = Duration::from_millis(200);

/// Starts listening for SIGHUP (at once, so that a SIGHUP from now on reloads instead of
/// ending the process) and watching the config file; reloads run until `shutdown`.
pub(crate) fn spawn(
    overrides: Overrides,
    running: Config,
    live: Live,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Room for one pending reload: more triggers while one waits add nothing.
    let (triggers, mut pending) = mpsc::channel(1);
    let watcher = match &overrides.config_file {
        Some(path) => Some(watch::config_file(path, triggers.clone())?),
        None => None,
    };
    watch::hangups(triggers, shutdown.clone())?;
    tokio::spawn(async move {
        // Dropping the watcher stops it: it lives as long as this task.
        let _watcher = watcher;
        let mut running = running;
        loop {
            let trigger = tokio::select! {
                () = shutdown.cancelled() => return,
                trigger = pending.recv() => match trigger {
                    Some(trigger) => trigger,
                    None => return,
                },
            };
            tokio::time::sleep(SETTLE).await;
            while pending.try_recv().is_ok() {}
            running = reload(&overrides, running, &live, trigger);
        }
    });
    Ok(())
}

/// One reload: the configuration in force afterwards.
fn reload(overrides: &Overrides, running: Config, live: &Live, trigger: Trigger) -> Config {
    let wanted = match Config::load(overrides) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(
                trigger = trigger.as_str(),
                error = %format!("{error:#}"),
                "config reload rejected; keeping the running configuration"
            );
            return running;
        }
    };
    let (applied, needs_restart) = diff::split(&running, &wanted);
    if !needs_restart.is_empty() {
        tracing::warn!(
            trigger = trigger.as_str(),
            keys = %needs_restart.join(", "),
            "config keys changed that cannot change live: needs restart; ignored until then"
        );
    }
    if let Err(error) = apply(&running, &applied, live) {
        tracing::error!(
            trigger = trigger.as_str(),
            error = %format!("{error:#}"),
            "config reload rejected; keeping the running configuration"
        );
        return running;
    }
    tracing::info!(
        trigger = trigger.as_str(),
        changed = %diff::live_changes(&running, &applied).join(", "),
        "config reloaded"
    );
    applied
}

/// Puts the live keys of `next` into effect where they differ from `running`; the
/// templates folder is read again whenever one is set (its files may have changed).
/// The step that can fail goes first, so a refusal changes nothing.
fn apply(running: &Config, next: &Config, live: &Live) -> anyhow::Result<()> {
    let templates = next.mail.templates_dir.as_deref();
    if templates.is_some() || running.mail.templates_dir.is_some() {
        let replaced = tenantbase_mail::use_templates(templates).context("mail.templates_dir")?;
        tracing::info!(replaced = %replaced.join(", "), "email templates loaded");
    }
    if running.log.level != next.log.level {
        live.log_level.set(&next.log.level)?;
    }
    let throttle = crate::identity::throttle_policy(&next.auth);
    live.identity.throttle().set_policy(throttle);
    if running.orgs.invitations_per_hour_per_inviter != next.orgs.invitations_per_hour_per_inviter
        || running.orgs.invitations_per_hour_per_org != next.orgs.invitations_per_hour_per_org
    {
        live.tenancy.set_invitation_limits(
            next.orgs.invitations_per_hour_per_inviter,
            next.orgs.invitations_per_hour_per_org,
        );
    }
    Ok(())
}
