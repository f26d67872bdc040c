//! `[auth]`: tokens, sessions, sign-in throttles and password hashing.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// 32 bytes, base64: encrypts token signing keys at rest. Unset: generated once into
    /// `<data_dir>/master.key` (mode 0600) with a warning — set it in production.
    pub master_key: Option<SecretString>,
    /// `iss` and `aud` of access tokens.
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    /// Clock skew accepted on token times; at most 30.
    pub leeway_secs: u64,
    /// Shortest password accepted (NIST 800-63B-4 allows 8 with MFA and asks 15 for
    /// password-only accounts; 12 until MFA is enforced).
    pub password_min_chars: usize,
    pub session_idle_days: u64,
    pub session_absolute_days: u64,
    /// A refresh token replayed within this many seconds of its use counts as the
    /// client's own concurrent retry (refused, session kept), later as theft (session revoked).
    pub refresh_grace_secs: u64,
    /// Live sessions per user; signing in beyond it ends the oldest.
    pub max_sessions_per_user: usize,
    /// Base URL of the app that serves the `/verify-email` and `/reset-password` pages
    /// that emailed links point at.
    pub app_url: String,
    /// Requests per minute one IP may make to the auth routes that act for a client.
    pub rate_limit_per_minute: u32,
    /// Failed sign-ins from one IP, then on one account, before attempts are delayed
    /// (doubling per failure); per-IP bites first so one attacker cannot lock a victim out.
    pub login_failures_per_ip: u32,
    pub login_failures_per_account: u32,
    /// The longest such delay.
    pub login_max_delay_secs: u64,
    /// How often a running server re-reads the signing keys, so a `keys rotate` run
    /// elsewhere takes effect without a restart.
    pub key_reload_secs: u64,
    pub argon2: tenantbase_core::identity::password_hash::HashConfig,
    /// Changing the password or second factors, creating API keys and deleting an org
    /// need a sign-in (or `POST /v1/auth/reauthenticate`) at most this many minutes ago.
    pub step_up_minutes: u64,
    /// Email the account (`new_sign_in`) when it is signed in to from a device none of
    /// its sessions came from.
    pub new_sign_in_alerts: bool,
    /// Sessions past their absolute expiry, single-use tokens, trusted devices and the
    /// rows between a sign-in's steps (challenges, emailed codes, ceremonies, OpenID flows
    /// and link codes) past theirs, and invitations to orgs past their expiry (accepted,
    /// revoked or not), are deleted (hourly, `auth.cleanup`) once they ended this many
    /// days ago.
    pub keep_ended_days: u64,
    /// Second factors (`[auth.mfa]`).
    pub mfa: super::mfa::MfaConfig,
    /// Sign-in with OpenID providers.
    pub oidc: super::oidc::OidcConfig,
    /// Passkeys' relying party; unset, passkeys are off.
    pub webauthn: super::webauthn::WebauthnConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            master_key: None,
            issuer: "tenantbase".to_owned(),
            audience: "tenantbase".to_owned(),
            access_ttl_secs: 900,
            leeway_secs: 10,
            password_min_chars: 12,
            session_idle_days: 14,
            session_absolute_days: 30,
            refresh_grace_secs: 10,
            max_sessions_per_user: 10,
            app_url: "http://127.0.0.1:8080".to_owned(),
            rate_limit_per_minute: 120,
            login_failures_per_ip: 5,
            login_failures_per_account: 10,
            login_max_delay_secs: 900,
            key_reload_secs: 60,
            argon2: Default::default(),
            step_up_minutes: 10,
            new_sign_in_alerts: true,
            keep_ended_days: 30,
            mfa: Default::default(),
            oidc: Default::default(),
            webauthn: Default::default(),
        }
    }
}
