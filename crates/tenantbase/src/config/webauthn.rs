//! `[auth.webauthn]`: the relying party passkeys are bound to. Unset (the default),
//! passkeys are off and their routes answer 404 `passkeys_disabled`.

use anyhow::bail;
use serde::Deserialize;
use tenantbase_core::identity::passkeys::RelyingParty;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebauthnConfig {
    /// The domain passkeys are bound to (`example.com`): the host of every origin or a
    /// parent domain of it. It cannot change later without orphaning every passkey.
    pub rp_id: Option<String>,
    /// The name authenticators show; defaults to `rp_id`.
    pub rp_name: Option<String>,
    /// The web origins allowed to run ceremonies (`https://app.example.com`); at least one.
    pub origins: Vec<String>,
}

impl WebauthnConfig {
    /// The relying party, or `None` when passkeys are off. Half a configuration is an
    /// error rather than passkeys quietly off.
    pub fn relying_party(&self) -> anyhow::Result<Option<RelyingParty>> {
        let Some(rp_id) = self.rp_id.as_deref() else {
            if self.rp_name.is_some() || !self.origins.is_empty() {
                bail!("invalid configuration: auth.webauthn.rp_id is required for passkeys");
            }
            return Ok(None);
        };
        if self.origins.is_empty() {
            bail!("invalid configuration: auth.webauthn.origins must list at least one origin");
        }
        let name = self.rp_name.as_deref().unwrap_or(rp_id);
        match RelyingParty::new(rp_id, name, &self.origins) {
            Ok(relying_party) => Ok(Some(relying_party)),
            Err(problem) => bail!("invalid configuration: auth.webauthn: {problem}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WebauthnConfig;

    fn config(rp_id: Option<&str>, origins: &[&str]) -> WebauthnConfig {
        WebauthnConfig {
            rp_id: rp_id.map(str::to_owned),
            rp_name: None,
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn passkeys_are_off_by_default_and_on_with_a_fitting_relying_party() {
        assert!(config(None, &[]).relying_party().expect("off").is_none());
        let on = config(
            Some("example.com"),
            &["https://app.example.com", "https://example.com"],
        );
        assert!(on.relying_party().expect("on").is_some());
    }

    #[test]
    fn half_or_unfitting_settings_stop_the_start() {
        for (bad, says) in [
            (config(None, &["https://example.com"]), "rp_id is required"),
            (config(Some("example.com"), &[]), "at least one origin"),
            (config(Some("example.com"), &["not a url"]), "not a url"),
            (
                config(Some("example.com"), &["https://example.org"]),
                "relying party id",
            ),
        ] {
            let error = bad.relying_party().err().expect("refused").to_string();
            assert!(error.contains(says), "{error}");
        }
    }
}
