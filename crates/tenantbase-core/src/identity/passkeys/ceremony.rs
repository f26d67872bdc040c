//! A ceremony's state between its two requests: stored under the hash of the challenge
//! sent to the client, and taken back — once, unexpired, for the same purpose, user and
//! (for a step-up or a registration) session or (for a second step) sign-in challenge —
//! by the answer, whose client data carries that challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_store::Store;
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewCeremony};

use super::CEREMONY_TTL;
use crate::identity::IdentityError;
use crate::identity::accounts::chrono_duration;

/// Stores `state` for the ceremony whose challenge is `challenge`, in a unit of its own.
/// `session`: the only session that may finish it (a step-up's); `mfa_challenge`: the
/// hash of the only `mfa_token` that may finish it (a second step's).
pub(super) async fn open(
    store: &dyn Store,
    purpose: CeremonyPurpose,
    user: Option<UserId>,
    session: Option<SessionId>,
    mfa_challenge: Option<&str>,
    challenge: &[u8],
    state: &impl Serialize,
) -> Result<(), IdentityError> {
    let state = serde_json::to_string(state)
        .map_err(|e| IdentityError::Internal(format!("ceremony state: {e}")))?;
    let mut unit = store.begin().await?;
    unit.insert_ceremony(NewCeremony {
        challenge_hash: challenge_hash(challenge),
        user_id: user,
        session_id: session,
        mfa_challenge_hash: mfa_challenge.map(str::to_owned),
        purpose,
        state,
        expires_at: Utc::now() + chrono_duration(CEREMONY_TTL),
    })
    .await?;
    unit.commit().await?;
    Ok(())
}

/// Takes the state of the ceremony `client_data_json` answers, in a unit of its own and
/// whatever happens next, so that no challenge can be answered twice. `None`: no such
/// ceremony — unknown, used, expired, or another purpose's, user's, session's or sign-in
/// challenge's.
pub(super) async fn take<S: DeserializeOwned>(
    store: &dyn Store,
    purpose: CeremonyPurpose,
    user: Option<UserId>,
    session: Option<SessionId>,
    mfa_challenge: Option<&str>,
    client_data_json: &[u8],
) -> Result<Option<S>, IdentityError> {
    let Some(challenge) = answered_challenge(client_data_json) else {
        return Ok(None);
    };
    let mut unit = store.begin().await?;
    let state = unit
        .take_ceremony(
            &challenge_hash(&challenge),
            purpose,
            user,
            session,
            mfa_challenge,
            Utc::now(),
        )
        .await?;
    unit.commit().await?;
    state
        .map(|state| serde_json::from_str(&state))
        .transpose()
        .map_err(|e| IdentityError::Internal(format!("stored ceremony state: {e}")))
}

fn challenge_hash(challenge: &[u8]) -> String {
    hex::encode(Sha256::digest(challenge))
}

/// The challenge in the client data of an answer (base64url, as WebAuthn encodes it).
/// The verifier compares it with the stored state's own challenge afterwards.
fn answered_challenge(client_data_json: &[u8]) -> Option<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let data: ClientData = serde_json::from_slice(client_data_json).ok()?;
    URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_read_from_the_client_data() {
        let client_data =
            br#"{"type":"webauthn.get","challenge":"AAEC_w","origin":"https://a.example"}"#;
        assert_eq!(answered_challenge(client_data), Some(vec![0, 1, 2, 255]));
        // Padding some encoders add is tolerated; anything else is no challenge at all.
        assert_eq!(
            answered_challenge(br#"{"challenge":"AAEC_w=="}"#),
            Some(vec![0, 1, 2, 255])
        );
        for bad in [
            &b"not json"[..],
            br#"{"challenge":"***"}"#,
            br#"{"type":"x"}"#,
        ] {
            assert_eq!(answered_challenge(bad), None);
        }
    }
}
