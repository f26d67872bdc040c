//! Bearer secrets that name their org: `{kind}_{org hex}_{256 random bits}`. API keys
//! (`tb_…`) and invitation tokens (`tbinv_…`) carry the org so the unit that looks them
//! up can be confined to it (row-level security needs the org before the lookup). Only
//! the SHA-256 of a secret is stored; 256 random bits make a slow hash unnecessary.

use base64::Engine;
use sha2::{Digest, Sha256};
use tenantbase_domain::OrgId;
use uuid::Uuid;

use super::TenancyError;

/// The kind prefix of API keys.
pub(super) const API_KEY: &str = "tb";
/// The kind prefix of invitation tokens.
pub(super) const INVITATION: &str = "tbinv";

const ORG_HEX: usize = 32;

pub(super) fn new_secret(kind: &str, org: OrgId) -> Result<String, TenancyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TenancyError::Internal(format!("randomness: {e}")))?;
    Ok(format!(
        "{kind}_{}_{}",
        org.as_uuid().simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The org a secret of `kind` names, if it has that shape.
pub(super) fn secret_org(kind: &str, text: &str) -> Option<OrgId> {
    let rest = text.strip_prefix(kind)?.strip_prefix('_')?;
    let (org, random) = (rest.get(..ORG_HEX)?, rest.get(ORG_HEX..)?);
    let random = random.strip_prefix('_')?;
    if random.len() != 43
        || !org
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    Uuid::try_parse(org).ok().map(OrgId::from_uuid)
}

/// The secret's first characters, through the first 8 of its random part: what a
/// holder sees at the start of their key, enough to tell an org's keys apart in a list,
/// far too few to guess the rest.
pub(super) fn display_prefix(kind: &str, secret: &str) -> String {
    secret[..kind.len() + 1 + ORG_HEX + 1 + 8].to_owned()
}

pub(super) fn hash_secret(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_names_its_org_and_nothing_else_parses() {
        let org = OrgId::new();
        let secret = new_secret(API_KEY, org).expect("random");
        assert!(secret.starts_with("tb_"));
        assert_eq!(secret_org(API_KEY, &secret), Some(org));
        assert_eq!(secret_org(INVITATION, &secret), None);
        let prefix = display_prefix(API_KEY, &secret);
        assert!(secret.starts_with(&prefix), "{prefix} begins {secret}");
        assert_eq!(prefix.len(), "tb_".len() + ORG_HEX + "_".len() + 8);
        assert_ne!(new_secret(API_KEY, org).expect("random"), secret);
        for bad in [
            "tb_".to_owned(),
            secret[..secret.len() - 1].to_owned(),
            secret.replacen('_', "-", 1),
            format!("{secret}x"),
            secret.to_uppercase(),
        ] {
            assert_eq!(secret_org(API_KEY, &bad), None, "{bad}");
        }
    }
}
