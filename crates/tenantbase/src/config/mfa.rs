//! `[auth.mfa]`: second factors at sign-in.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// Accounts with an authenticator app may also ask for a sign-in code by email.
    /// Off by default: it makes the mailbox a way past the app.
    pub email_fallback: bool,
    /// How long a device trusted at the second step skips it (1–365).
    pub trusted_device_days: u64,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            email_fallback: false,
            trusted_device_days: 30,
        }
    }
}

impl MfaConfig {
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if !(1..=365).contains(&self.trusted_device_days) {
            anyhow::bail!("invalid configuration: auth.mfa.trusted_device_days must be 1 to 365");
        }
        Ok(())
    }
}
