//! Wires identity from the configuration: the master key (configured, or generated
//! once into the data folder), the signing keys, the password hasher and policies.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tenantbase_core::identity::mfa::{MfaKeys, MfaPolicy};
use tenantbase_core::identity::password_hash::PasswordHasher;
use tenantbase_core::identity::signing_keys::load_keyring;
use tenantbase_core::identity::throttle::ThrottlePolicy;
use tenantbase_core::identity::tokens::{MasterKey, TokenConfig};
use tenantbase_core::identity::{Identity, IdentityPolicy, Links, SessionPolicy, StepUpPolicy};
use tenantbase_core::jobs::JobSeal;
use tenantbase_core::mail::Mailer;
use tenantbase_domain::password::PasswordPolicy;
use tenantbase_store::Store;

use crate::config::{AuthConfig, Config};

pub(crate) async fn build(
    config: &Config,
    store: &Arc<dyn Store>,
) -> anyhow::Result<Arc<Identity>> {
    let auth = &config.auth;
    let master = master_key(config)?;
    let tokens = token_config(config);
    let keyring = load_keyring(store.as_ref(), &master, tokens.clone())
        .await
        .context(
            "loading the token signing keys (is auth.master_key the one they were made with?)",
        )?;
    let hasher = PasswordHasher::new(auth.argon2).context("auth.argon2")?;
    let passwords = PasswordPolicy {
        min_chars: auth.password_min_chars,
        ..PasswordPolicy::default()
    };
    let sessions = SessionPolicy {
        idle: Duration::from_secs(auth.session_idle_days * 86_400),
        absolute: Duration::from_secs(auth.session_absolute_days * 86_400),
        refresh_grace: Duration::from_secs(auth.refresh_grace_secs),
        max_per_user: auth.max_sessions_per_user,
        ..SessionPolicy::default()
    };
    let policy = IdentityPolicy {
        passwords,
        sessions,
        links: Links {
            app_url: auth.app_url.trim_end_matches('/').to_owned(),
            mailer: Mailer::new(config.mail.branding.clone(), JobSeal::from_master(&master)),
        },
        throttle: throttle_policy(auth),
        step_up: StepUpPolicy {
            max_age: Duration::from_secs(auth.step_up_minutes.saturating_mul(60)),
            new_sign_in_alerts: auth.new_sign_in_alerts,
        },
        mfa: MfaPolicy {
            issuer: config.mail.branding.product_name.clone(),
            email_fallback: auth.mfa.email_fallback,
            trusted_device_ttl: Duration::from_secs(auth.mfa.trusted_device_days * 86_400),
            ..MfaPolicy::new(MfaKeys::from_master(&master))
        },
    };
    let mut identity = Identity::new(store.clone(), hasher, Arc::new(keyring), policy);
    if let Some(relying_party) = auth.webauthn.relying_party()? {
        identity = identity.with_passkeys(relying_party);
    }
    let identity = Arc::new(identity);
    let reload_every = Duration::from_secs(auth.key_reload_secs);
    spawn_key_reload(
        identity.clone(),
        store.clone(),
        master,
        tokens,
        reload_every,
    );
    Ok(identity)
}

/// How tokens are issued and verified, from `[auth]`.
pub(crate) fn token_config(config: &Config) -> TokenConfig {
    let auth = &config.auth;
    TokenConfig {
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        access_ttl: Duration::from_secs(auth.access_ttl_secs),
        leeway: Duration::from_secs(auth.leeway_secs),
    }
}

/// The sign-in throttles and the auth routes' request rate of `[auth]`; a config reload
/// applies them to the running process too.
pub(crate) fn throttle_policy(auth: &AuthConfig) -> ThrottlePolicy {
    ThrottlePolicy {
        ip_failures: auth.login_failures_per_ip,
        account_failures: auth.login_failures_per_account,
        max_delay: Duration::from_secs(auth.login_max_delay_secs),
        requests_per_minute: auth.rate_limit_per_minute,
        ..ThrottlePolicy::default()
    }
}

/// Re-reads the signing keys every `period` (`auth.key_reload_secs`, validated non-zero),
/// so a `keys rotate` run elsewhere takes effect without a restart.
fn spawn_key_reload(
    identity: Arc<Identity>,
    store: Arc<dyn Store>,
    master: MasterKey,
    tokens: TokenConfig,
    period: Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        // The first tick is immediate, and the keys were just loaded.
        tick.tick().await;
        loop {
            tick.tick().await;
            match load_keyring(store.as_ref(), &master, tokens.clone()).await {
                Ok(keyring) => identity.replace_keyring(keyring),
                Err(error) => {
                    tracing::warn!(%error, "reloading the signing keys failed; keeping the current ones")
                }
            }
        }
    });
}

/// `auth.master_key`, else the key in `<data_dir>/master.key`, generated on first use.
pub(crate) fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(key) = configured_master_key(config)? {
        return Ok(key);
    }
    master_key_file(&config.data_dir.join("master.key"))
}

/// `auth.master_key`, when set.
pub(crate) fn configured_master_key(config: &Config) -> anyhow::Result<Option<MasterKey>> {
    config
        .auth
        .master_key
        .as_ref()
        .map(|key| {
            MasterKey::from_base64(key.expose_secret())
                .context("auth.master_key is not 32 bytes of base64")
        })
        .transpose()
}

/// The key stored at `path`, created if absent. Processes sharing a data folder (a server
/// and its workers starting together) may race here: the key is written whole under a
/// private name and then hard-linked into place, which fails rather than overwrites, so
/// every racer ends up reading the one key that won.
fn master_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    if !path.exists() {
        let key = MasterKey::generate()?;
        let draft = path.with_extension(format!("key.{}", uuid::Uuid::now_v7().simple()));
        write_private(&draft, &key.to_base64())?;
        let linked = std::fs::hard_link(&draft, path);
        // The draft is only a name for the same bytes; the key lives on at `path`.
        let _ = std::fs::remove_file(&draft);
        match linked {
            Ok(()) => {
                tracing::warn!(
                    path = %path.display(),
                    "generated a master key for the signing keys; back it up, and set auth.master_key in production"
                );
                return Ok(key);
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(error).with_context(|| format!("creating {}", path.display()));
            }
        }
    }
    read_master_key_file(path)
}

/// The master key stored at `path` (never created here).
pub(crate) fn read_master_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    MasterKey::from_base64(text.trim())
        .with_context(|| format!("{} is not a master key", path.display()))
}

/// Creates `path` readable by its owner only, failing if it exists.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::master_key_file;

    #[test]
    fn racing_first_uses_all_get_the_one_stored_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("master.key");
            let keys: Vec<String> = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| master_key_file(&path).expect("key").to_base64()))
                    .collect();
                racers
                    .into_iter()
                    .map(|r| r.join().expect("racer"))
                    .collect()
            });
            let stored = std::fs::read_to_string(&path).expect("stored");
            let differing = keys.iter().filter(|k| **k != stored.trim()).count();
            assert_eq!(
                differing, 0,
                "racers holding another key than the stored one"
            );
            let names = std::fs::read_dir(dir.path()).expect("list").count();
            assert_eq!(names, 1, "no drafts left behind");
        }
    }
}
