//! The loaded keys: the newest active key signs, every key still within its grace period
//! verifies, and the public halves are published as a JWKS.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use super::claims::check_ttl;
use super::keys::{fill_random, open};
use super::{
    AccessClaims, MAX_TOKEN_BYTES, MasterKey, StoredKey, Subject, TokenConfig, TokenError, jws,
};

/// Decrypted signing keys by kid, ready to issue and verify without decoding per call.
/// Cheap to share behind an `Arc`; reload it after a rotation.
pub struct Keyring {
    config: TokenConfig,
    grace: TimeDelta,
    signer: ActiveSigner,
    keys: HashMap<String, PublicKey>,
}

struct ActiveSigner {
    kid: String,
    key: SigningKey,
    /// The encoded header, the same for every token this key signs.
    header: String,
}

struct PublicKey {
    key: VerifyingKey,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl Keyring {
    /// Opens every stored key with `master` and picks the newest non-retired one to sign.
    ///
    /// Fails on an invalid `config`, a key that does not decrypt (wrong master key or an
    /// altered row), a stored public key that does not match its private half, a
    /// duplicate or malformed kid, or when no key is active.
    pub fn load(
        master: &MasterKey,
        keys: &[StoredKey],
        config: TokenConfig,
    ) -> Result<Keyring, TokenError> {
        config.validate()?;
        let mut public = HashMap::with_capacity(keys.len());
        let mut newest: Option<(&StoredKey, SigningKey)> = None;
        for stored in keys {
            if !jws::is_valid_kid(&stored.kid) {
                return Err(TokenError::Config(format!(
                    "stored key has a malformed kid {:?}",
                    stored.kid
                )));
            }
            // Every key is opened, retired ones too: the sealed private half is what
            // authenticates the public half stored next to it.
            let signing = open(master, stored)?;
            let verifying = signing.verifying_key();
            if verifying.as_bytes().as_slice() != stored.public_key.as_slice() {
                return Err(TokenError::Config(format!(
                    "stored public key of {} does not match its private key",
                    stored.kid
                )));
            }
            let entry = PublicKey {
                key: verifying,
                created_at: stored.created_at,
                retired_at: stored.retired_at,
            };
            if public.insert(stored.kid.clone(), entry).is_some() {
                return Err(TokenError::Config(format!(
                    "kid {} is stored twice",
                    stored.kid
                )));
            }
            let newer = newest.as_ref().is_none_or(|(current, _)| {
                (stored.created_at, &stored.kid) > (current.created_at, &current.kid)
            });
            if stored.retired_at.is_none() && newer {
                newest = Some((stored, signing));
            }
        }
        let (stored, key) = newest.ok_or(TokenError::NoActiveKey)?;
        Ok(Keyring {
            grace: config.grace(),
            config,
            signer: ActiveSigner {
                kid: stored.kid.clone(),
                header: jws::header_for(&stored.kid),
                key,
            },
            keys: public,
        })
    }

    /// Signs claims for `subject` with the active key: `iss` and `aud` from the config,
    /// `iat = nbf = now`, `exp = now + ttl` (the configured `access_ttl` unless `ttl` is
    /// given, e.g. 1 h for guests; at most 24 h) and a random `jti`.
    ///
    /// A token living longer than `access_ttl` stops verifying when its key's grace
    /// period ends after a rotation, even before its `exp`.
    pub fn issue(
        &self,
        subject: &Subject<'_>,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<(String, AccessClaims), TokenError> {
        let ttl = check_ttl(ttl.unwrap_or(self.config.access_ttl))?;
        let mut jti = [0u8; 16];
        fill_random(&mut jti)?;
        let iat = now.timestamp();
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: subject.user.to_owned(),
            sid: subject.session.to_owned(),
            iat,
            nbf: iat,
            exp: iat.saturating_add(ttl),
            jti: jws::encode(&jti),
            amr: subject.amr.iter().map(|m| (*m).to_owned()).collect(),
            auth_time: Some(subject.auth_time),
            org: subject.org.map(str::to_owned),
        };
        let payload = serde_json::to_vec(&claims)
            .map_err(|e| TokenError::Crypto(format!("serializing claims: {e}")))?;
        let mut token = format!("{}.{}", self.signer.header, jws::encode(&payload));
        let signature = self.signer.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&jws::encode(&signature.to_bytes()));
        // Refused here rather than by every verifier later.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Config(format!(
                "claims make the token longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        Ok((token, claims))
    }

    /// Verifies `token` at `now`: size, shape, header (EdDSA, `at+jwt`, a known kid within
    /// its grace period, no other fields), the signature (strict Ed25519, before the
    /// payload is parsed), then `exp`/`nbf`/`iat` within the leeway, `iss` and `aud`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let parts = jws::split(token)?;
        let kid = jws::check_header(parts.header)?;
        let key = self.verifying_key(&kid, now)?;
        let signature = jws::decode_signature(parts.signature)?;
        // verify_strict also refuses small-order keys and non-canonical signatures, so a
        // token has one valid signature.
        key.verify_strict(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = jws::decode(parts.payload, "payload is not base64url")?;
        let claims: AccessClaims = serde_json::from_slice(&payload)
            .map_err(|_| TokenError::Malformed("payload is not the expected claims"))?;
        claims.check(&self.config, now.timestamp())?;
        Ok(claims)
    }

    /// The public keys still verifying now, as a JWKS document.
    pub fn jwks(&self) -> Value {
        self.jwks_at(Utc::now())
    }

    /// The public keys verifying at `now` (active, or retired less than
    /// `access_ttl + leeway` ago), newest first:
    /// `{"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}]}`.
    pub fn jwks_at(&self, now: DateTime<Utc>) -> Value {
        let mut live: Vec<(&String, &PublicKey)> = self
            .keys
            .iter()
            .filter(|(_, key)| self.is_live(key, now))
            .collect();
        live.sort_by(|a, b| (b.1.created_at, b.0).cmp(&(a.1.created_at, a.0)));
        let keys: Vec<Value> = live
            .into_iter()
            .map(|(kid, key)| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": jws::encode(key.key.as_bytes()),
                    "kid": kid,
                    "use": "sig",
                    "alg": jws::ALG,
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// The kid of the key that signs new tokens.
    pub fn active_kid(&self) -> &str {
        &self.signer.kid
    }

    /// The settings this keyring issues and verifies with.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Result<&VerifyingKey, TokenError> {
        match self.keys.get(kid) {
            Some(key) if self.is_live(key, now) => Ok(&key.key),
            _ => Err(TokenError::UnknownKey),
        }
    }

    fn is_live(&self, key: &PublicKey, now: DateTime<Utc>) -> bool {
        key.retired_at
            .is_none_or(|retired| now < retired.checked_add_signed(self.grace).unwrap_or(retired))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("Keyring")
            .field("config", &self.config)
            .field("active_kid", &self.signer.kid)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}
