//! What second factors need of the master key: a key sealing TOTP secrets at rest and a
//! key for the keyed hashes of backup and emailed codes. Both are derived from the master
//! key, so no new secret needs configuring and each has one purpose.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::Mac;
use tenantbase_domain::id::UserId;
use zeroize::Zeroizing;

use crate::identity::IdentityError;
use crate::identity::tokens::MasterKey;

/// First byte of a sealed secret, so the scheme can change without guessing.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// Cheap to clone; `Debug` never shows the keys.
#[derive(Clone)]
pub struct MfaKeys {
    seal: Zeroizing<[u8; 32]>,
    hash: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MfaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaKeys(<redacted>)")
    }
}

impl MfaKeys {
    pub fn from_master(master: &MasterKey) -> Self {
        Self {
            seal: master.derive("tenantbase/mfa/totp-secrets"),
            hash: master.derive("tenantbase/mfa/code-hashes"),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(self.seal.as_ref())
            .unwrap_or_else(|_| unreachable!("the derived key is 32 bytes"))
    }

    /// `secret` sealed for `user` (the user id is the associated data, so a sealed
    /// secret moved to another account's row does not open).
    pub(super) fn seal_secret(
        &self,
        user: UserId,
        secret: &[u8],
    ) -> Result<Vec<u8>, IdentityError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| IdentityError::Internal(format!("randomness: {e}")))?;
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: user.as_uuid().as_bytes(),
                },
            )
            .map_err(|_| IdentityError::Internal("sealing a TOTP secret failed".to_owned()))?;
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        bytes.push(SEAL_V1);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(bytes)
    }

    /// The secret `seal_secret` sealed for `user`.
    pub(super) fn open_secret(
        &self,
        user: UserId,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, IdentityError> {
        let corrupt = || IdentityError::Internal("a sealed TOTP secret does not open".to_owned());
        let (version, rest) = sealed.split_first().ok_or_else(corrupt)?;
        if *version != SEAL_V1 || rest.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt())?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user.as_uuid().as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| corrupt())
    }

    /// HMAC-SHA256 of `user`'s `code`, hex: what the database keeps of a backup or
    /// emailed code. Keyed, so a copy of the database cannot be searched for the few
    /// million possible codes; salted by the user, so equal codes of two users differ.
    pub(super) fn code_hash(&self, user: UserId, code: &str) -> String {
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(self.hash.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(user.as_uuid().as_bytes());
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> MfaKeys {
        MfaKeys::from_master(&MasterKey::generate().expect("random"))
    }

    #[test]
    fn a_sealed_secret_opens_for_its_user_only() {
        let keys = keys();
        let (ada, bob) = (UserId::new(), UserId::new());
        let sealed = keys
            .seal_secret(ada, b"0123456789abcdefghij")
            .expect("sealed");
        assert!(!sealed.windows(20).any(|w| w == b"0123456789abcdefghij"));
        assert_eq!(
            keys.open_secret(ada, &sealed).expect("opens").as_slice(),
            b"0123456789abcdefghij"
        );
        assert!(keys.open_secret(bob, &sealed).is_err());
        assert!(self::keys().open_secret(ada, &sealed).is_err());
    }

    #[test]
    fn code_hashes_depend_on_user_code_and_key() {
        let keys = keys();
        let (ada, bob) = (UserId::new(), UserId::new());
        assert_eq!(keys.code_hash(ada, "123456"), keys.code_hash(ada, "123456"));
        assert_ne!(keys.code_hash(ada, "123456"), keys.code_hash(bob, "123456"));
        assert_ne!(keys.code_hash(ada, "123456"), keys.code_hash(ada, "123457"));
        assert_ne!(
            keys.code_hash(ada, "123456"),
            self::keys().code_hash(ada, "123456")
        );
    }
}
