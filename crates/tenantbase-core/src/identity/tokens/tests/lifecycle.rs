//! Issuing, rotation, JWKS and loading: what a keyring does when all is well, and how it
//! refuses keys and settings it cannot use.

use std::time::Duration;

use chrono::TimeDelta;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::*;

#[test]
fn round_trip_returns_the_issued_claims() {
    let fx = fixture();
    let (token, issued) = fx
        .ring
        .issue(
            &Subject {
                org: Some("org_1"),
                ..subject(&["pwd", "otp"])
            },
            None,
            t0(),
        )
        .expect("issues");
    assert_eq!(fx.verify(&token).expect("verifies"), issued);
    assert_eq!((issued.iss.as_str(), issued.aud.as_str()), (ISS, AUD));
    assert_eq!(
        (issued.sub.as_str(), issued.sid.as_str()),
        ("usr_1", "ses_1")
    );
    assert_eq!(issued.amr, ["pwd", "otp"]);
    assert_eq!(issued.org.as_deref(), Some("org_1"));
    assert_eq!(issued.auth_time, Some(t0().timestamp()));
    assert_eq!(
        (issued.iat, issued.nbf, issued.exp),
        (t0().timestamp(), t0().timestamp(), t0().timestamp() + TTL)
    );
    assert_eq!(issued.jti.len(), 22);
    let header: Value =
        serde_json::from_slice(&jws::decode(&parts(&token)[0], "h").expect("b64")).expect("json");
    assert_eq!(header, fx.header());
    let (again, _) = fx.ring.issue(&subject(&[]), None, t0()).expect("issues");
    assert_ne!(fx.verify(&again).expect("verifies").jti, issued.jti);
    // The forging helper makes valid tokens, so the rejections below are due to the change.
    assert!(fx.verify(&fx.forge(&fx.header(), &fx.claims())).is_ok());
}

#[test]
fn guest_ttl_override_sets_exp_within_bounds() {
    let fx = fixture();
    let hour = Duration::from_secs(3600);
    let (token, claims) = fx
        .ring
        .issue(
            &Subject {
                user: "usr_g",
                session: "ses_g",
                ..subject(&[])
            },
            Some(hour),
            t0(),
        )
        .expect("issues");
    assert_eq!(claims.exp, t0().timestamp() + 3600);
    assert!(fx.ring.verify(&token, at(3500)).is_ok());
    for bad in [
        Duration::ZERO,
        TokenConfig::MAX_TTL + Duration::from_secs(1),
    ] {
        let err = fx.ring.issue(
            &Subject {
                user: "usr_g",
                session: "ses_g",
                ..subject(&[])
            },
            Some(bad),
            t0(),
        );
        assert!(matches!(err, Err(TokenError::Config(_))), "{bad:?}");
    }
}

#[test]
fn retired_key_verifies_until_its_grace_ends() {
    let mut fx = fixture();
    let rotated_at = at(86_400);
    let guest = Duration::from_secs(3600);
    let (old_token, _) = fx
        .ring
        .issue(
            &subject(&[]),
            Some(guest),
            rotated_at - TimeDelta::seconds(1),
        )
        .expect("issues");
    let fresh = rotate(&fx.master, &mut fx.keys, rotated_at).expect("rotates");
    let ring = Keyring::load(&fx.master, &fx.keys, config()).expect("loads");
    assert_eq!(ring.active_kid(), fresh.kid);
    let grace_end = rotated_at + TimeDelta::seconds(TTL + LEEWAY);
    assert!(
        ring.verify(&old_token, grace_end - TimeDelta::seconds(1))
            .is_ok()
    );
    assert_rejects(ring.verify(&old_token, grace_end), |e| {
        matches!(e, TokenError::UnknownKey)
    });
    // The retired key never signs again; the new key's tokens verify after the old grace.
    let (new_token, _) = ring.issue(&subject(&[]), None, grace_end).expect("issues");
    assert_eq!(
        jws::check_header(&parts(&new_token)[0]).expect("header"),
        fresh.kid
    );
    assert!(ring.verify(&new_token, grace_end).is_ok());
    // A replica that has not reloaded does not know the new key yet.
    assert_rejects(fx.ring.verify(&new_token, grace_end), |e| {
        matches!(e, TokenError::UnknownKey)
    });
}

#[test]
fn jwks_lists_active_and_grace_keys_only() {
    let fx = fixture();
    let mut keys = fx.keys.clone();
    let second = rotate(&fx.master, &mut keys, at(-60)).expect("rotates");
    let third = rotate(&fx.master, &mut keys, t0()).expect("rotates");
    let ring = Keyring::load(&fx.master, &keys, config()).expect("loads");
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .expect("array")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    };
    // The first key retired at -60 s: its grace ends at TTL + LEEWAY - 60.
    assert_eq!(
        kids(&ring.jwks_at(at(1))),
        [third.kid.as_str(), second.kid.as_str(), fx.kid()]
    );
    assert_eq!(
        kids(&ring.jwks_at(at(TTL + LEEWAY - 60))),
        [third.kid.as_str(), second.kid.as_str()]
    );
    assert_eq!(kids(&ring.jwks_at(at(TTL + LEEWAY))), [third.kid.as_str()]);
    let jwks = ring.jwks_at(at(1));
    let entry = &jwks["keys"][0];
    let x = encode(&third.public_key);
    assert_eq!(
        *entry,
        json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": third.kid, "use": "sig", "alg": "EdDSA"})
    );
    assert_eq!(kids(&ring.jwks()), [third.kid.as_str()]);
}

#[test]
fn load_fails_with_the_wrong_master_key() {
    let fx = fixture();
    let wrong = MasterKey::generate().expect("random");
    let err = Keyring::load(&wrong, &fx.keys, config()).expect_err("must fail");
    assert!(
        matches!(&err, TokenError::KeyDecryption { kid } if kid == fx.kid()),
        "{err:?}"
    );
    assert!(!err.is_rejection());
}

#[test]
fn load_refuses_bad_key_sets_and_config() {
    let fx = fixture();
    let load = |keys: &[StoredKey], config: TokenConfig| Keyring::load(&fx.master, keys, config);
    assert!(matches!(load(&[], config()), Err(TokenError::NoActiveKey)));
    let mut retired = fx.keys.clone();
    retired[0].retired_at = Some(t0());
    assert!(matches!(
        load(&retired, config()),
        Err(TokenError::NoActiveKey)
    ));
    let twice = [fx.keys[0].clone(), fx.keys[0].clone()];
    assert!(matches!(load(&twice, config()), Err(TokenError::Config(_))));
    let mut swapped = fx.keys.clone();
    swapped[0].public_key = SigningKey::from_bytes(&[5u8; 32])
        .verifying_key()
        .to_bytes()
        .to_vec();
    assert!(matches!(
        load(&swapped, config()),
        Err(TokenError::Config(_))
    ));
    let lax = TokenConfig {
        leeway: Duration::from_secs(31),
        ..config()
    };
    assert!(matches!(load(&fx.keys, lax), Err(TokenError::Config(_))));
}

#[test]
fn newest_active_key_signs_and_older_active_keys_verify() {
    let fx = fixture();
    let (older_token, _) = fx.ring.issue(&subject(&[]), None, t0()).expect("issues");
    let mut keys = fx.keys.clone();
    keys.push(StoredKey::generate(&fx.master, t0()).expect("key"));
    let ring = Keyring::load(&fx.master, &keys, config()).expect("loads");
    assert_eq!(ring.active_kid(), keys[1].kid);
    assert!(ring.verify(&older_token, t0()).is_ok());
}

#[test]
fn keyring_is_shareable_and_its_debug_hides_private_keys() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Keyring>();
    let fx = fixture();
    let shown = format!("{:?}", fx.ring);
    assert!(shown.contains(fx.kid()));
    for secret in [
        hex::encode(fx.signer.to_bytes()),
        encode(&fx.signer.to_bytes()),
        format!("{:?}", fx.signer.to_bytes()),
    ] {
        assert!(!shown.contains(&secret));
    }
}
