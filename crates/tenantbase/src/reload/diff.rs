//! Which changed keys a running process takes and which need a restart. The live keys are
//! listed once here; every other key is compared by its section, so a key added later
//! is "needs restart" until someone makes it live on purpose.

use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;

/// The keys a reload applies, with their values as text for comparison.
fn live_values(config: &Config) -> [(&'static str, String); 8] {
    let auth = &config.auth;
    let orgs = &config.orgs;
    [
        ("log.level", config.log.level.clone()),
        (
            "auth.rate_limit_per_minute",
            auth.rate_limit_per_minute.to_string(),
        ),
        (
            "auth.login_failures_per_ip",
            auth.login_failures_per_ip.to_string(),
        ),
        (
            "auth.login_failures_per_account",
            auth.login_failures_per_account.to_string(),
        ),
        (
            "auth.login_max_delay_secs",
            auth.login_max_delay_secs.to_string(),
        ),
        (
            "orgs.invitations_per_hour_per_inviter",
            orgs.invitations_per_hour_per_inviter.to_string(),
        ),
        (
            "orgs.invitations_per_hour_per_org",
            orgs.invitations_per_hour_per_org.to_string(),
        ),
        (
            "mail.templates_dir",
            format!("{:?}", config.mail.templates_dir),
        ),
    ]
}

/// Copies the live keys of `from` into `into`.
fn take_live(from: &Config, into: &mut Config) {
    into.log.level.clone_from(&from.log.level);
    into.auth.rate_limit_per_minute = from.auth.rate_limit_per_minute;
    into.auth.login_failures_per_ip = from.auth.login_failures_per_ip;
    into.auth.login_failures_per_account = from.auth.login_failures_per_account;
    into.auth.login_max_delay_secs = from.auth.login_max_delay_secs;
    into.orgs.invitations_per_hour_per_inviter = from.orgs.invitations_per_hour_per_inviter;
    into.orgs.invitations_per_hour_per_org = from.orgs.invitations_per_hour_per_org;
    into.mail.templates_dir.clone_from(&from.mail.templates_dir);
}

/// (the running configuration with `wanted`'s live keys, the names of the other keys —
/// by section — that differ in `wanted`).
pub(super) fn split(running: &Config, wanted: &Config) -> (Config, Vec<&'static str>) {
    let mut applied = running.clone();
    take_live(wanted, &mut applied);
    let needs_restart = sections(&applied)
        .into_iter()
        .zip(sections(wanted))
        .filter(|((_, now), (_, then))| now != then)
        .map(|((name, _), _)| name)
        .collect();
    (applied, needs_restart)
}

/// The live keys that differ between `before` and `after`.
pub(super) fn live_changes(before: &Config, after: &Config) -> Vec<&'static str> {
    live_values(before)
        .into_iter()
        .zip(live_values(after))
        .filter(|((_, old), (_, new))| old != new)
        .map(|((name, _), _)| name)
        .collect()
}

/// Each top-level key or section as text. `Debug` hides secrets, so the ones a
/// deployment rotates are added in full: these strings are compared, never logged.
fn sections(config: &Config) -> Vec<(&'static str, String)> {
    let smtp_password = config.mail.smtp.as_ref().and_then(|s| secret(&s.password));
    vec![
        ("listen", format!("{:?}", config.listen)),
        ("data_dir", format!("{:?}", config.data_dir)),
        (
            "database_url",
            format!("{:?}", secret(&config.database_url)),
        ),
        (
            "shutdown_timeout_secs",
            config.shutdown_timeout_secs.to_string(),
        ),
        ("http", format!("{:?}", config.http)),
        ("database", format!("{:?}", config.database)),
        ("log", format!("{:?}", config.log)),
        ("jobs", format!("{:?}", config.jobs)),
        ("audit", format!("{:?}", config.audit)),
        ("mail", format!("{:?} {smtp_password:?}", config.mail)),
        (
            "auth",
            format!("{:?} {:?}", config.auth, secret(&config.auth.master_key)),
        ),
        ("orgs", format!("{:?}", config.orgs)),
        ("files", format!("{:?}", config.files)),
        (
            "metrics",
            format!("{:?} {:?}", config.metrics, secret(&config.metrics.token)),
        ),
        ("telemetry", format!("{:?}", config.telemetry)),
    ]
}

fn secret(value: &Option<SecretString>) -> Option<&str> {
    value.as_ref().map(|s| s.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_keys_apply_and_the_rest_wait_for_a_restart() {
        let running = Config::default();
        let mut wanted = Config::default();
        wanted.log.level = "debug".to_owned();
        wanted.auth.rate_limit_per_minute = 7;
        wanted.listen = "127.0.0.1:9999".parse().expect("address");
        wanted.database_url = Some("postgres://u:p@db/x".to_owned().into());
        let (applied, needs_restart) = split(&running, &wanted);
        assert_eq!(needs_restart, ["listen", "database_url"]);
        assert_eq!(applied.listen, running.listen, "kept until a restart");
        assert_eq!(applied.auth.rate_limit_per_minute, 7);
        assert_eq!(
            live_changes(&running, &applied),
            ["log.level", "auth.rate_limit_per_minute"]
        );
    }

    #[test]
    fn a_changed_secret_is_noticed() {
        let running = Config::default();
        let mut wanted = Config::default();
        wanted.metrics.token = Some("a-new-token".to_owned().into());
        assert_eq!(split(&running, &wanted).1, ["metrics"]);
    }
}
