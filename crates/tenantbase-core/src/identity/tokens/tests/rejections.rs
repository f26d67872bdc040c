//! Every rejection the issue asks for, one test each. Forged tokens are otherwise valid
//! (signed by the real key) so that only the property under test can make them fail.

use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;

#[test]
fn rejects_alg_none() {
    let fx = fixture();
    let payload = encode(fx.claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": fx.kid()});
        let encoded = encode(header.to_string().as_bytes());
        assert_rejects(fx.verify(&format!("{encoded}.{payload}.")), |e| {
            matches!(e, TokenError::UnsupportedAlgorithm)
        });
        assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
            matches!(e, TokenError::UnsupportedAlgorithm)
        });
    }
}

#[test]
fn rejects_algorithms_other_than_eddsa() {
    let fx = fixture();
    let algs: [Value; 16] = [
        "HS256".into(),
        "HS384".into(),
        "HS512".into(),
        "RS256".into(),
        "PS256".into(),
        "ES256".into(),
        "ES384".into(),
        "ES256K".into(),
        "Ed25519".into(),
        "eddsa".into(),
        "EDDSA".into(),
        "EdDSA ".into(),
        "".into(),
        Value::Null,
        json!(["EdDSA"]),
        json!(1),
    ];
    for alg in algs {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": fx.kid()});
        assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
            matches!(e, TokenError::UnsupportedAlgorithm)
        });
    }
    let header = json!({"typ": "at+jwt", "kid": fx.kid()});
    assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
        matches!(e, TokenError::UnsupportedAlgorithm)
    });
}

#[test]
fn rejects_hs256_keyed_with_the_public_key() {
    let fx = fixture();
    let jwk_x = encode(&fx.keys[0].public_key);
    // The raw key bytes and the JWKS `x` text: what confused verifiers use as the secret.
    for secret in [fx.keys[0].public_key.clone(), jwk_x.into_bytes()] {
        for typ in ["at+jwt", "JWT"] {
            let header = json!({"alg": "HS256", "typ": typ, "kid": fx.kid()});
            let input = format!(
                "{}.{}",
                encode(header.to_string().as_bytes()),
                encode(fx.claims().to_string().as_bytes())
            );
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("any key length");
            mac.update(input.as_bytes());
            let token = format!("{input}.{}", encode(&mac.finalize().into_bytes()));
            assert_rejects(fx.verify(&token), |e| {
                matches!(e, TokenError::UnsupportedAlgorithm)
            });
        }
    }
}

#[test]
fn rejects_unknown_kid() {
    let fx = fixture();
    let unknown =
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k_ffffffffffffffffffffffffffffffff"});
    assert_rejects(fx.verify(&fx.forge(&unknown, &fx.claims())), |e| {
        matches!(e, TokenError::UnknownKey)
    });
    for header in [
        json!({"alg": "EdDSA", "typ": "at+jwt"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": 1}),
    ] {
        assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
            matches!(e, TokenError::UnknownKey)
        });
    }
    // A token of another deployment (another key, same issuer and audience).
    let other = fixture();
    assert_rejects(fx.verify(&other.issue()), |e| {
        matches!(e, TokenError::UnknownKey)
    });
}

#[test]
fn rejects_kids_with_path_or_quote_characters() {
    let fx = fixture();
    let kid = fx.kid().to_owned();
    for bad in [
        "../../../etc/passwd".to_owned(),
        format!("../{kid}"),
        format!("{kid}/../{kid}"),
        "..%2F..%2Fkeys".to_owned(),
        format!("{kid}\""),
        format!("\"{kid}"),
        "k_'; DROP TABLE signing_keys;--".to_owned(),
        format!("{kid}\n"),
        String::new(),
    ] {
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": bad});
        assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
            matches!(e, TokenError::UnknownKey)
        });
    }
}

#[test]
fn rejects_jku_x5u_jwk_and_x5c_headers() {
    let fx = fixture();
    let attacker = SigningKey::from_bytes(&[9u8; 32]);
    let jwk =
        json!({"kty": "OKP", "crv": "Ed25519", "x": encode(attacker.verifying_key().as_bytes())});
    for (name, value) in [
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", jwk),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIUE"])),
    ] {
        let mut header = fx.header();
        header[name] = value;
        for signer in [&fx.signer, &attacker] {
            let token = sign(
                signer,
                &encode(header.to_string().as_bytes()),
                &encode(fx.claims().to_string().as_bytes()),
            );
            assert_rejects(
                fx.verify(&token),
                |e| matches!(e, TokenError::ForbiddenHeader(n) if ["jku", "x5u", "jwk", "x5c"].contains(n)),
            );
        }
    }
    let mut crit = fx.header();
    crit["crit"] = json!(["exp"]);
    assert_rejects(fx.verify(&fx.forge(&crit, &fx.claims())), |e| {
        matches!(e, TokenError::ForbiddenHeader("crit"))
    });
}

#[test]
fn rejects_wrong_typ() {
    let fx = fixture();
    let mut header = fx.header();
    header["typ"] = json!("JWT");
    assert_rejects(fx.verify(&fx.forge(&header, &fx.claims())), |e| {
        matches!(e, TokenError::WrongType)
    });
}

#[test]
fn rejects_wrong_issuer() {
    let fx = fixture();
    for iss in [
        "https://evil.example",
        "https://auth.tenantbase.test/",
        "HTTPS://AUTH.TENANTBASE.TEST",
        "",
    ] {
        let mut claims = fx.claims();
        claims["iss"] = json!(iss);
        assert_rejects(fx.verify(&fx.forge(&fx.header(), &claims)), |e| {
            matches!(e, TokenError::WrongIssuer)
        });
    }
}

#[test]
fn rejects_wrong_audience() {
    let fx = fixture();
    for aud in ["other-api", "tenantbase-api ", ""] {
        let mut claims = fx.claims();
        claims["aud"] = json!(aud);
        assert_rejects(fx.verify(&fx.forge(&fx.header(), &claims)), |e| {
            matches!(e, TokenError::WrongAudience)
        });
    }
    // We only ever issue a single string; an array is not our token.
    let mut claims = fx.claims();
    claims["aud"] = json!([AUD]);
    assert_rejects(fx.verify(&fx.forge(&fx.header(), &claims)), |e| {
        matches!(e, TokenError::Malformed(_))
    });
}

#[test]
fn rejects_expired_beyond_leeway_and_accepts_within() {
    let fx = fixture();
    let token = fx.issue();
    assert!(fx.ring.verify(&token, at(TTL + LEEWAY - 1)).is_ok());
    for now in [at(TTL + LEEWAY), at(TTL + LEEWAY + 1), at(86_400)] {
        assert_rejects(fx.ring.verify(&token, now), |e| {
            matches!(e, TokenError::Expired)
        });
    }
}

#[test]
fn rejects_nbf_in_the_future_beyond_leeway() {
    let fx = fixture();
    let mut claims = fx.claims();
    claims["nbf"] = json!(t0().timestamp() + 60);
    let token = fx.forge(&fx.header(), &claims);
    for now in [t0(), at(60 - LEEWAY - 1)] {
        assert_rejects(fx.ring.verify(&token, now), |e| {
            matches!(e, TokenError::NotYetValid)
        });
    }
    // A token issued by a replica whose clock runs ahead: iat = nbf = now + 11 s.
    assert_rejects(fx.ring.verify(&fx.issue(), at(-LEEWAY - 1)), |e| {
        matches!(e, TokenError::NotYetValid)
    });
}

#[test]
fn accepts_nbf_in_the_future_within_leeway() {
    let fx = fixture();
    let mut claims = fx.claims();
    claims["nbf"] = json!(t0().timestamp() + 60);
    let token = fx.forge(&fx.header(), &claims);
    assert!(fx.ring.verify(&token, at(60 - LEEWAY)).is_ok());
    assert!(fx.ring.verify(&fx.issue(), at(-LEEWAY)).is_ok());
}

#[test]
fn rejects_a_payload_bit_flip() {
    let fx = fixture();
    let p = parts(&fx.issue());
    let payload = jws::decode(&p[1], "p").expect("b64");
    for i in [0, 10, payload.len() / 2, payload.len() - 1] {
        for bit in [0, 5] {
            let mut flipped = payload.clone();
            flipped[i] ^= 1 << bit;
            let token = format!("{}.{}.{}", p[0], encode(&flipped), p[2]);
            assert_rejects(fx.verify(&token), |e| matches!(e, TokenError::BadSignature));
        }
    }
}

#[test]
fn rejects_a_signature_bit_flip_or_another_signature() {
    let fx = fixture();
    let p = parts(&fx.issue());
    let signature = jws::decode(&p[2], "s").expect("b64");
    for i in [0, 31, 32, 63] {
        let mut flipped = signature.clone();
        flipped[i] ^= 0x01;
        let token = format!("{}.{}.{}", p[0], p[1], encode(&flipped));
        assert_rejects(fx.verify(&token), |e| matches!(e, TokenError::BadSignature));
    }
    // Our kid, but signed by another key; and another token's valid signature spliced on.
    let stranger = SigningKey::from_bytes(&[3u8; 32]);
    assert_rejects(fx.verify(&sign(&stranger, &p[0], &p[1])), |e| {
        matches!(e, TokenError::BadSignature)
    });
    let other = parts(&fx.issue());
    assert_rejects(fx.verify(&format!("{}.{}.{}", p[0], p[1], other[2])), |e| {
        matches!(e, TokenError::BadSignature)
    });
}

#[test]
fn rejects_a_stripped_signature() {
    let fx = fixture();
    let p = parts(&fx.issue());
    assert_rejects(fx.verify(&format!("{}.{}.", p[0], p[1])), |e| {
        matches!(e, TokenError::BadSignature)
    });
    assert_rejects(fx.verify(&format!("{}.{}", p[0], p[1])), |e| {
        matches!(e, TokenError::Malformed(_))
    });
}

#[test]
fn rejects_tokens_without_three_parts() {
    let fx = fixture();
    let token = fx.issue();
    for bad in [
        String::new(),
        "abc".into(),
        "..".into(),
        "...".into(),
        format!("{token}."),
        format!("{token}.{token}"),
        format!(".{token}"),
    ] {
        assert_rejects(fx.verify(&bad), |e| matches!(e, TokenError::Malformed(_)));
    }
}

#[test]
fn rejects_bad_base64() {
    let fx = fixture();
    let p = parts(&fx.issue());
    let signed = |h: &str, pl: &str| sign(&fx.signer, h, pl);
    for token in [
        signed(&format!("{}=", p[0]), &p[1]),
        signed(&p[0], &format!("{}=", p[1])),
        signed(
            &p[0]
                .replace('-', "+")
                .replace('_', "/")
                .replacen('e', "+", 1),
            &p[1],
        ),
        signed(&p[0], &format!("{}!", &p[1][1..])),
        signed(&format!(" {}", p[0]), &p[1]),
        format!("{}.{}.{}*", p[0], p[1], &p[2][1..]),
    ] {
        assert_rejects(fx.verify(&token), |e| matches!(e, TokenError::Malformed(_)));
    }
}

#[test]
fn rejects_non_json_header_and_payload() {
    let fx = fixture();
    let header = encode(fx.header().to_string().as_bytes());
    let claims = encode(fx.claims().to_string().as_bytes());
    let mut no_exp = fx.claims();
    no_exp.as_object_mut().expect("object").remove("exp");
    let mut string_exp = fx.claims();
    string_exp["exp"] = json!("tomorrow");
    for token in [
        sign(&fx.signer, &encode(b"not json"), &claims),
        sign(&fx.signer, &encode(b"[\"EdDSA\"]"), &claims),
        sign(&fx.signer, &header, &encode(b"not json")),
        sign(&fx.signer, &header, &encode(b"[]")),
        sign(&fx.signer, &header, &encode(no_exp.to_string().as_bytes())),
        sign(
            &fx.signer,
            &header,
            &encode(string_exp.to_string().as_bytes()),
        ),
    ] {
        assert_rejects(fx.verify(&token), |e| matches!(e, TokenError::Malformed(_)));
    }
}

#[test]
fn rejects_tokens_over_8_kib_before_parsing() {
    let fx = fixture();
    let mut claims = fx.claims();
    claims["amr"] = json!(vec!["pwd"; 2000]);
    let huge = fx.forge(&fx.header(), &claims);
    assert!(huge.len() > MAX_TOKEN_BYTES);
    assert_rejects(fx.verify(&huge), |e| matches!(e, TokenError::TooLarge));
    assert_rejects(fx.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)), |e| {
        matches!(e, TokenError::TooLarge)
    });
    assert_rejects(fx.verify(&"a".repeat(MAX_TOKEN_BYTES)), |e| {
        matches!(e, TokenError::Malformed(_))
    });
    let amr = vec!["pwd"; 2000];
    let refused = fx.ring.issue(&subject(&amr), None, t0());
    assert!(matches!(refused, Err(TokenError::Config(_))));
}
