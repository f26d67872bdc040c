//! What an access token says (its claims) and the settings that decide whether a token
//! is accepted (issuer, audience, lifetime, clock leeway).

use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::TokenError;

/// Settings shared by issuing and verifying; checked by [`super::Keyring::load`].
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `iss` of issued tokens; verification accepts only this value.
    pub issuer: String,
    /// `aud` of issued tokens; verification accepts only this value.
    pub audience: String,
    /// Lifetime of an access token unless `issue` is given another.
    pub access_ttl: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`; at most [`TokenConfig::MAX_LEEWAY`].
    pub leeway: Duration,
}

impl TokenConfig {
    /// Lifetime of an access token: short, because a token cannot be recalled.
    pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
    /// Enough for NTP-synchronised replicas.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(10);
    /// A larger leeway would quietly extend every token's life.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(30);
    /// Upper bound for any lifetime, including the per-token override of `issue`.
    pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

    /// A configuration with the default lifetime and leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Self::DEFAULT_ACCESS_TTL,
            leeway: Self::DEFAULT_LEEWAY,
        }
    }

    /// Refuses empty names, a lifetime outside (0, 24 h] and a leeway over 30 s.
    pub fn validate(&self) -> Result<(), TokenError> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(TokenError::Config(
                "issuer and audience must not be empty".into(),
            ));
        }
        check_ttl(self.access_ttl)?;
        if self.leeway > Self::MAX_LEEWAY {
            return Err(TokenError::Config(format!(
                "leeway must be at most {} s",
                Self::MAX_LEEWAY.as_secs()
            )));
        }
        Ok(())
    }

    /// How long a retired key keeps verifying: the last token it signed may still be
    /// presented until then.
    pub(super) fn grace(&self) -> TimeDelta {
        delta(self.access_ttl) + delta(self.leeway)
    }

    fn leeway_secs(&self) -> i64 {
        secs(self.leeway)
    }
}

/// Refuses a lifetime outside (0, [`TokenConfig::MAX_TTL`]].
pub(super) fn check_ttl(ttl: Duration) -> Result<i64, TokenError> {
    if ttl.is_zero() || ttl > TokenConfig::MAX_TTL {
        return Err(TokenError::Config(format!(
            "token lifetime must be between 1 s and {} s",
            TokenConfig::MAX_TTL.as_secs()
        )));
    }
    Ok(secs(ttl))
}

// Durations reaching here are bounded by validate (≤ 24 h), so saturation never happens.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Whom a token speaks for, and how and when they authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The user (`usr_…`), claim `sub`.
    pub user: &'a str,
    /// The session (`ses_…`), claim `sid`.
    pub session: &'a str,
    pub amr: &'a [&'a str],
    /// Claim `auth_time`, Unix seconds.
    pub auth_time: i64,
    /// The org the token is restricted to, if any (claim `org`).
    pub org: Option<&'a str>,
}

/// The claims of an access token. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user (`usr_…`).
    pub sub: String,
    /// The session, checked against the revocation cache by the caller.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Random, unique per token.
    pub jti: String,
    /// Authentication methods used (`pwd`, `otp`, …).
    pub amr: Vec<String>,
    /// When the user last proved who they are in this session (sign-in or step-up), Unix
    /// seconds. Absent only from tokens issued before the claim existed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The org the token is restricted to, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub org: Option<String>,
}

impl AccessClaims {
    /// Checks the registered claims against `config` at `now` (Unix seconds).
    pub(super) fn check(&self, config: &TokenConfig, now: i64) -> Result<(), TokenError> {
        let leeway = config.leeway_secs();
        if now >= self.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        // iat is checked too: a token cannot have been issued in the future.
        if now.saturating_add(leeway) < self.nbf.max(self.iat) {
            return Err(TokenError::NotYetValid);
        }
        if self.iss != config.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if self.aud != config.audience {
            return Err(TokenError::WrongAudience);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_bounds_leeway_and_lifetime() {
        let ok = TokenConfig::new("https://tb.example", "tenantbase");
        assert!(ok.validate().is_ok());
        let at_max = TokenConfig {
            leeway: TokenConfig::MAX_LEEWAY,
            ..ok.clone()
        };
        assert!(at_max.validate().is_ok());
        for bad in [
            TokenConfig {
                leeway: Duration::from_secs(31),
                ..ok.clone()
            },
            TokenConfig {
                access_ttl: Duration::ZERO,
                ..ok.clone()
            },
            TokenConfig {
                access_ttl: TokenConfig::MAX_TTL + Duration::from_secs(1),
                ..ok.clone()
            },
            TokenConfig {
                issuer: String::new(),
                ..ok.clone()
            },
            TokenConfig {
                audience: String::new(),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(TokenError::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn org_is_omitted_when_absent() {
        let claims = AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "usr_1".into(),
            sid: "ses_1".into(),
            iat: 1,
            nbf: 1,
            exp: 2,
            jti: "j".into(),
            amr: vec!["pwd".into()],
            auth_time: None,
            org: None,
        };
        let json = serde_json::to_value(&claims).expect("serializes");
        assert!(json.get("org").is_none());
        assert_eq!(
            serde_json::from_value::<AccessClaims>(json).expect("parses"),
            claims
        );
    }
}
