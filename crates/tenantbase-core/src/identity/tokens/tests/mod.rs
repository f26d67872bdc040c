//! Acceptance tests of issuing and verifying through a [`Keyring`], with the fixture and
//! the token-forging helpers they share.

mod lifecycle;
mod rejections;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use super::jws::encode;
use super::keys::open;
use super::*;

const ISS: &str = "https://auth.tenantbase.test";
const AUD: &str = "tenantbase-api";
const TTL: i64 = 15 * 60;
const LEEWAY: i64 = 10;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("valid time")
}

/// The token subject the tests sign for: `usr_1` in `ses_1`, authenticated at `t0`.
fn subject<'a>(amr: &'a [&'a str]) -> Subject<'a> {
    Subject {
        user: "usr_1",
        session: "ses_1",
        amr,
        auth_time: t0().timestamp(),
        org: None,
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

fn config() -> TokenConfig {
    TokenConfig {
        leeway: Duration::from_secs(LEEWAY as u64),
        ..TokenConfig::new(ISS, AUD)
    }
}

struct Fixture {
    master: MasterKey,
    keys: Vec<StoredKey>,
    ring: Keyring,
    signer: SigningKey,
}

fn fixture() -> Fixture {
    let master = MasterKey::generate().expect("random");
    let keys = vec![StoredKey::generate(&master, at(-3600)).expect("key")];
    let ring = Keyring::load(&master, &keys, config()).expect("loads");
    let signer = open(&master, &keys[0]).expect("opens");
    Fixture {
        master,
        keys,
        ring,
        signer,
    }
}

impl Fixture {
    fn kid(&self) -> &str {
        &self.keys[0].kid
    }

    fn issue(&self) -> String {
        self.ring
            .issue(&subject(&["pwd"]), None, t0())
            .expect("issues")
            .0
    }

    fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid()})
    }

    fn claims(&self) -> Value {
        json!({"iss": ISS, "aud": AUD, "sub": "usr_1", "sid": "ses_1", "iat": t0().timestamp(),
               "nbf": t0().timestamp(), "exp": t0().timestamp() + TTL, "jti": "j1", "amr": ["pwd"]})
    }

    /// A token with this header and these claims, signed by the fixture's real key.
    fn forge(&self, header: &Value, claims: &Value) -> String {
        sign(
            &self.signer,
            &encode(header.to_string().as_bytes()),
            &encode(claims.to_string().as_bytes()),
        )
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.ring.verify(token, t0())
    }
}

fn sign(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", encode(&signature.to_bytes()))
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[track_caller]
fn assert_rejects(result: Result<AccessClaims, TokenError>, expected: fn(&TokenError) -> bool) {
    match result {
        Err(e) if expected(&e) => assert!(e.is_rejection(), "{e:?}"),
        other => panic!("unexpected outcome: {other:?}"),
    }
}
