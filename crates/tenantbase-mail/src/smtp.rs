//! Delivery over SMTP with lettre's async transport, and the `[mail.smtp]`
//! settings. lettre's errors become `Transient` or `Permanent` so that a job queue knows
//! whether to retry.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{MailError, MailTransport, OutgoingEmail, mime};

/// SMTP settings (these become `[mail.smtp]` config keys).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Default 587, the submission port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Default `starttls`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Set together with `password`, or neither.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Limit on one whole send, from connecting to the server's last reply; default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain text; only for a relay on the same host or a test server.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

fn default_port() -> u16 {
    587
}

fn default_timeout_secs() -> u64 {
    30
}

/// Sends through an SMTP relay, one connection per message: nothing is held open
/// between sends, so a relay restart costs no more than the messages sent while it is
/// down (they fail as transient).
#[derive(Debug, Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl SmtpTransport {
    /// A transport for `config` sending as `from` (`mail.from`). Nothing connects yet;
    /// a bad address or setting is a permanent error.
    pub fn new(config: &SmtpConfig, from: &str) -> Result<Self, MailError> {
        let from = mime::mailbox("mail.from", from)?;
        let invalid = |what: &str| MailError::Permanent(format!("mail.smtp: {what}"));
        if config.timeout_secs == 0 {
            return Err(invalid("timeout_secs must be at least 1"));
        }
        let builder = match config.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| invalid(&format!("TLS set-up failed: {e}")))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| invalid(&format!("TLS set-up failed: {e}")))?,
        };
        let timeout = Duration::from_secs(config.timeout_secs);
        let mut builder = builder.port(config.port).timeout(Some(timeout));
        match (&config.username, &config.password) {
            (Some(username), Some(password)) => {
                if config.security == SmtpSecurity::None {
                    tracing::warn!("mail.smtp: credentials will cross the network unencrypted");
                }
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => return Err(invalid("set both username and password, or neither")),
        }
        Ok(Self {
            inner: builder.build(),
            from,
            timeout,
        })
    }
}

#[async_trait::async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = mime::build_message(&self.from, email)?;
        let recipients: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        // lettre's own timeout covers connecting only; a server that accepts and then
        // stays silent would hold the send (and a job worker) forever.
        match tokio::time::timeout(self.timeout, self.inner.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(classify(&error, &recipients)),
            Err(_) => Err(MailError::Transient(format!(
                "smtp: no complete answer within {}s",
                self.timeout.as_secs()
            ))),
        }
    }
}

/// Permanent: a 5xx reply, or the client refusing (e.g. no usable auth mechanism).
/// Everything else — 4xx, refused or dropped connections, timeouts, TLS failures — is
/// transient: a TLS failure is usually the relay's certificate or setup, which an
/// operator fixes, and the messages should survive until then. Server replies often
/// quote the recipient; it is masked, since the error text ends up in logs.
fn classify(error: &lettre::transport::smtp::Error, recipients: &[String]) -> MailError {
    let mut text = format!("smtp: {error}");
    for address in recipients {
        text = text.replace(address.as_str(), "<recipient>");
    }
    if error.is_permanent() || error.is_client() {
        MailError::Permanent(text)
    } else {
        MailError::Transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_like: serde_json::Value) -> SmtpConfig {
        serde_json::from_value(toml_like).expect("config parses")
    }

    #[test]
    fn config_defaults_to_starttls_on_587() {
        let config = config(serde_json::json!({ "host": "smtp.example.com" }));
        assert_eq!(config.port, 587);
        assert_eq!(config.security, SmtpSecurity::Starttls);
        assert_eq!(config.timeout_secs, 30);
        assert!(config.username.is_none() && config.password.is_none());
    }

    #[test]
    fn config_debug_hides_the_password() {
        let config = config(serde_json::json!({
            "host": "127.0.0.1", "port": 2525, "security": "none",
            "username": "app", "password": "hunter2-secret", "timeout_secs": 5,
        }));
        assert_eq!(config.security, SmtpSecurity::None);
        assert!(!format!("{config:?}").contains("hunter2-secret"));
    }

    #[test]
    fn config_rejects_unknown_keys_and_security_values() {
        let unknown = serde_json::json!({ "host": "h", "hots": "h" });
        assert!(serde_json::from_value::<SmtpConfig>(unknown).is_err());
        let security = serde_json::json!({ "host": "h", "security": "ssl" });
        assert!(serde_json::from_value::<SmtpConfig>(security).is_err());
    }

    #[test]
    fn new_rejects_bad_settings_permanently() {
        let good = config(serde_json::json!({ "host": "127.0.0.1", "security": "none" }));
        assert!(SmtpTransport::new(&good, crate::DEFAULT_FROM).is_ok());
        let error = SmtpTransport::new(&good, "not an address").expect_err("bad from");
        assert!(!error.is_transient());
        let half = config(serde_json::json!({ "host": "127.0.0.1", "username": "app" }));
        assert!(SmtpTransport::new(&half, crate::DEFAULT_FROM).is_err());
        let zero = config(serde_json::json!({ "host": "127.0.0.1", "timeout_secs": 0 }));
        assert!(SmtpTransport::new(&zero, crate::DEFAULT_FROM).is_err());
        for security in ["starttls", "tls"] {
            let tls =
                config(serde_json::json!({ "host": "smtp.example.com", "security": security }));
            assert!(
                SmtpTransport::new(&tls, crate::DEFAULT_FROM).is_ok(),
                "{security}"
            );
        }
    }
}
