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

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures must return figment::Error.
mod tests {
    use std::path::PathBuf;

    use crate::config::{Config, Overrides};

    #[test]
    fn the_mfa_section_loads_with_defaults_and_refuses_out_of_range_days() {
        figment::Jail::expect_with(|jail| {
            let defaults = Config::load(&Overrides::default()).expect("defaults");
            assert!(!defaults.auth.mfa.email_fallback);
            assert_eq!(defaults.auth.mfa.trusted_device_days, 30);
            jail.create_file(
                "tb.toml",
                "[auth.mfa]\nemail_fallback = true\ntrusted_device_days = 7\n",
            )?;
            let overrides = Overrides {
                config_file: Some(PathBuf::from("tb.toml")),
                ..Overrides::default()
            };
            let config = Config::load(&overrides).expect("loads");
            assert!(config.auth.mfa.email_fallback);
            assert_eq!(config.auth.mfa.trusted_device_days, 7);
            for days in ["0", "366"] {
                jail.set_env("TENANTBASE_AUTH__MFA__TRUSTED_DEVICE_DAYS", days);
                let error = Config::load(&overrides).expect_err(days).to_string();
                assert!(error.contains("auth.mfa.trusted_device_days"), "{error}");
            }
            Ok(())
        });
    }
}
