//! Sealed job payloads: a payload that carries a secret (an emailed link, an address) is
//! stored as `{"sealed": "<base64url>"}` — XChaCha20-Poly1305 under a key derived from
//! the master key, with the job kind as associated data so a sealed payload cannot be
//! replayed as another kind's. The queue table, its dead letters and database backups
//! then hold no plain secret; only a process with the master key can open one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::{JobContext, JobError};
use crate::identity::tokens::MasterKey;

/// First byte of a sealed payload, so the scheme can change without guessing.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 24;
/// The purpose the sealing key is derived for; changing it orphans queued payloads.
const KEY_PURPOSE: &str = "tenantbase/jobs/sealed-payloads";
/// The one field of a sealed payload.
const FIELD: &str = "sealed";

/// Seals and opens job payloads. Cheap to clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct JobSeal {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for JobSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobSeal(<redacted>)")
    }
}

impl JobSeal {
    /// The seal of every process sharing `master`: any replica opens what another sealed.
    pub fn from_master(master: &MasterKey) -> Self {
        Self {
            key: master.derive(KEY_PURPOSE),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        // From the slice, so no unzeroized copy of the key is left on the stack.
        XChaCha20Poly1305::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| unreachable!("the derived key is 32 bytes"))
    }

    /// `value` as the sealed payload of a job of `kind`.
    pub fn seal(&self, kind: &str, value: &impl Serialize) -> Result<serde_json::Value, SealError> {
        let plain = Zeroizing::new(serde_json::to_vec(value).map_err(|_| SealError)?);
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError)?;
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: kind.as_bytes(),
                },
            )
            .map_err(|_| SealError)?;
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        bytes.push(SEAL_V1);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(serde_json::json!({ FIELD: URL_SAFE_NO_PAD.encode(bytes) }))
    }

    /// The payload of `job`, opened. A payload that is not sealed, was sealed for another
    /// kind or under another master key, or was altered fails the job for good: no retry
    /// can open it.
    pub fn open<T: DeserializeOwned>(&self, job: &JobContext) -> Result<T, JobError> {
        let fail = |why: &str| JobError::Fail(format!("sealed payload of {}: {why}", job.kind));
        let text = job
            .payload
            .get(FIELD)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| fail("not sealed"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| fail("not base64url"))?;
        let (version, rest) = bytes.split_first().ok_or_else(|| fail("empty"))?;
        if *version != SEAL_V1 || rest.len() < NONCE_LEN {
            return Err(fail("unknown format"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail("short nonce"))?;
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: job.kind.as_bytes(),
                    },
                )
                .map_err(|_| fail("does not open (another master key, kind or altered)"))?,
        );
        serde_json::from_slice(&plain).map_err(|e| fail(&format!("unexpected content: {e}")))
    }
}

/// Sealing failed: the value did not serialize or the OS random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealing a job payload failed")]
pub struct SealError;

#[cfg(test)]
mod tests {
    use super::*;
    use tenantbase_domain::JobId;

    fn job(kind: &str, payload: serde_json::Value) -> JobContext {
        JobContext {
            id: JobId::new(),
            kind: kind.to_owned(),
            payload,
            attempt: 1,
        }
    }

    fn seal() -> JobSeal {
        JobSeal::from_master(&MasterKey::generate().expect("random"))
    }

    #[test]
    fn a_sealed_payload_opens_and_shows_nothing_of_its_content() {
        let seal = seal();
        let payload = seal
            .seal(
                "mail.send",
                &serde_json::json!({"link": "https://x/?token=s3cret"}),
            )
            .expect("sealed");
        assert!(!payload.to_string().contains("s3cret"), "{payload}");
        let opened: serde_json::Value = seal.open(&job("mail.send", payload)).expect("opens");
        assert_eq!(opened["link"], "https://x/?token=s3cret");
    }

    #[test]
    fn another_kind_key_or_an_altered_byte_does_not_open() {
        let seal = seal();
        let payload = seal.seal("mail.send", &"secret").expect("sealed");
        let open = |seal: &JobSeal, kind: &str, payload: serde_json::Value| {
            seal.open::<String>(&job(kind, payload))
        };
        assert!(open(&seal, "other.kind", payload.clone()).is_err());
        assert!(open(&self::seal(), "mail.send", payload.clone()).is_err());
        let text = payload[FIELD].as_str().expect("text");
        let mut altered: Vec<char> = text.chars().collect();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        for bad in [
            serde_json::json!({ FIELD: altered }),
            serde_json::json!({"to": "plain"}),
            serde_json::json!({ FIELD: "" }),
        ] {
            assert!(matches!(
                open(&seal, "mail.send", bad),
                Err(JobError::Fail(_))
            ));
        }
    }
}
