//! The master key and signing keys as persisted: each Ed25519 private key is sealed with
//! XChaCha20-Poly1305 under the master key, its kid bound in as associated data so a
//! sealed key cannot be moved to another row.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::TokenError;

/// First byte of a sealed key, so the scheme can change without guessing.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const SEALED_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;

/// 32-byte key that encrypts signing keys at rest (config `auth.master_key`, base64).
///
/// Zeroed on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// A new random key from the operating system's generator.
    ///
    /// Returns a `Result` rather than panicking: reading the OS generator can fail.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(bytes.as_mut())?;
        Ok(Self(bytes))
    }

    /// Parses standard base64 (padded), ignoring surrounding whitespace such as the
    /// newline at the end of a key file. The error never contains the input.
    pub fn from_base64(s: &str) -> Result<Self, TokenError> {
        let bad = || TokenError::Config("auth.master_key must be 32 bytes in base64".into());
        let decoded = Zeroizing::new(STANDARD.decode(s.trim()).map_err(|_| bad())?);
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| bad())?;
        let key = Self(Zeroizing::new(bytes));
        // An all-zero key is a placeholder copied from an example, not a secret.
        if key.0.iter().all(|b| *b == 0) {
            return Err(TokenError::Config(
                "auth.master_key is all zeros; generate a real one".into(),
            ));
        }
        Ok(key)
    }

    /// The key as standard base64, for writing the key file. Treat it as a secret.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_ref())
    }

    /// A separate 32-byte key for `purpose` (HMAC-SHA256 of the purpose under this key),
    /// so one configured secret serves several uses without any two sharing a key.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, TokenError> {
        // From the slice, so no unzeroized copy of the key is left on the stack.
        XChaCha20Poly1305::new_from_slice(self.0.as_ref())
            .map_err(|_| TokenError::Crypto("master key has the wrong length".into()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// A signing key as persisted; the private half is sealed under the [`MasterKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// `k_` and 32 lowercase hex digits; the JWT `kid`.
    pub kid: String,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Version byte, 24-byte nonce, then the sealed 32-byte seed and its tag.
    pub encrypted_private_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// Set when the key stopped signing; it verifies for a grace period after.
    pub retired_at: Option<DateTime<Utc>>,
}

impl StoredKey {
    /// A new active key with a random kid, sealed under `master`.
    pub fn generate(master: &MasterKey, now: DateTime<Utc>) -> Result<StoredKey, TokenError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        fill_random(seed.as_mut())?;
        let signing = SigningKey::from_bytes(&seed);
        let mut kid_bytes = [0u8; 16];
        fill_random(&mut kid_bytes)?;
        let kid = format!("k_{}", hex::encode(kid_bytes));
        Ok(StoredKey {
            encrypted_private_key: seal(master, &kid, &seed)?,
            public_key: signing.verifying_key().to_bytes().to_vec(),
            kid,
            created_at: now,
            retired_at: None,
        })
    }
}

/// Retires every active key in `keys` (`retired_at = now`) and appends a new one, which
/// is returned. The caller persists the changed rows and the new one in one transaction.
/// On error `keys` is unchanged.
pub fn rotate(
    master: &MasterKey,
    keys: &mut Vec<StoredKey>,
    now: DateTime<Utc>,
) -> Result<StoredKey, TokenError> {
    let fresh = StoredKey::generate(master, now)?;
    for key in keys.iter_mut().filter(|k| k.retired_at.is_none()) {
        key.retired_at = Some(now);
    }
    keys.push(fresh.clone());
    Ok(fresh)
}

/// Seals a 32-byte Ed25519 seed for the row of `kid`.
fn seal(master: &MasterKey, kid: &str, seed: &[u8; 32]) -> Result<Vec<u8>, TokenError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let sealed = master
        .cipher()?
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: seed,
                aad: kid.as_bytes(),
            },
        )
        .map_err(|_| TokenError::Crypto("sealing a signing key failed".into()))?;
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.push(SEAL_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a stored key's private half; fails on a wrong master key, another row's
/// ciphertext or any altered byte.
pub(super) fn open(master: &MasterKey, key: &StoredKey) -> Result<SigningKey, TokenError> {
    let fail = || TokenError::KeyDecryption {
        kid: key.kid.clone(),
    };
    let sealed = &key.encrypted_private_key;
    if sealed.len() != SEALED_LEN || sealed[0] != SEAL_V1 {
        return Err(fail());
    }
    let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
    let seed = Zeroizing::new(
        master
            .cipher()?
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: key.kid.as_bytes(),
                },
            )
            .map_err(|_| fail())?,
    );
    let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| fail())?;
    Ok(SigningKey::from_bytes(seed))
}

pub(super) fn fill_random(buf: &mut [u8]) -> Result<(), TokenError> {
    getrandom::fill(buf).map_err(|e| TokenError::Crypto(format!("OS random source: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).expect("valid time")
    }

    #[test]
    fn master_key_debug_prints_no_key_bytes() {
        let master = MasterKey::generate().expect("random");
        let shown = format!("{master:?} {master:#?}");
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
        let b64 = master.to_base64();
        assert!(!shown.contains(&b64));
        assert!(!shown.contains(&hex::encode(*master.0)));
        assert!(!shown.contains(&format!("{:?}", *master.0)));
    }

    #[test]
    fn master_key_base64_round_trips_and_rejects_bad_input() {
        let master = MasterKey::generate().expect("random");
        let text = master.to_base64();
        let parsed = MasterKey::from_base64(&format!("  {text}\n")).expect("parses");
        assert_eq!(*parsed.0, *master.0);
        let short = STANDARD.encode([7u8; 31]);
        let long = STANDARD.encode([7u8; 33]);
        let zeros = STANDARD.encode([0u8; 32]);
        for bad in [
            "",
            "not base64!",
            &short,
            &long,
            &zeros,
            &text[..text.len() - 1],
        ] {
            let err = MasterKey::from_base64(bad).expect_err(bad);
            assert!(matches!(err, TokenError::Config(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn generated_keys_have_url_safe_unique_kids_and_open_again() {
        let master = MasterKey::generate().expect("random");
        let a = StoredKey::generate(&master, now()).expect("key");
        let b = StoredKey::generate(&master, now()).expect("key");
        assert_ne!(a.kid, b.kid);
        assert_eq!(a.kid.len(), 2 + 32);
        assert!(a.kid.starts_with("k_"));
        assert!(a.kid[2..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.public_key.len(), 32);
        assert_eq!(a.encrypted_private_key.len(), SEALED_LEN);
        let opened = open(&master, &a).expect("opens");
        assert_eq!(opened.verifying_key().to_bytes().as_slice(), a.public_key);
    }

    #[test]
    fn sealed_keys_do_not_open_under_another_master_kid_or_byte() {
        let master = MasterKey::generate().expect("random");
        let key = StoredKey::generate(&master, now()).expect("key");
        let other = MasterKey::generate().expect("random");
        assert!(matches!(
            open(&other, &key),
            Err(TokenError::KeyDecryption { .. })
        ));
        // The same ciphertext under another row's kid: the associated data differs.
        let moved = StoredKey {
            kid: "k_00000000000000000000000000000000".into(),
            ..key.clone()
        };
        assert!(open(&master, &moved).is_err());
        for i in 0..key.encrypted_private_key.len() {
            let mut altered = key.clone();
            altered.encrypted_private_key[i] ^= 0x01;
            assert!(open(&master, &altered).is_err(), "byte {i}");
        }
    }

    #[test]
    fn rotate_retires_the_active_key_and_appends_a_new_one() {
        let master = MasterKey::generate().expect("random");
        let mut keys = vec![StoredKey::generate(&master, now()).expect("key")];
        let later = now() + chrono::TimeDelta::days(30);
        let fresh = rotate(&master, &mut keys, later).expect("rotates");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].retired_at, Some(later));
        assert_eq!(keys[1], fresh);
        assert_eq!(fresh.retired_at, None);
        assert_eq!(fresh.created_at, later);
    }
}
