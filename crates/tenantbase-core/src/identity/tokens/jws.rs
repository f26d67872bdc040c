//! The compact JWS form (`header.payload.signature`, base64url without padding) and a
//! strict reading of its header: EdDSA only, our `typ`, a well-formed kid, nothing else.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{MAX_TOKEN_BYTES, TokenError};

pub(super) const ALG: &str = "EdDSA";
/// RFC 9068's type for access tokens, so that a JWT of another kind signed by the same
/// key is never taken for an access token (RFC 8725 §3.11).
pub(super) const TYP: &str = "at+jwt";
const KID_MAX_LEN: usize = 64;
/// An Ed25519 signature (64 bytes) in unpadded base64url.
const SIGNATURE_B64_LEN: usize = 86;
/// We write three header fields; a few more are read only to name them in the error.
const MAX_HEADER_FIELDS: usize = 8;

/// Header names that fetch or embed keys, or change how the token is processed: each
/// lets the token choose how it is verified. Named so the error says which one it was.
const FORBIDDEN: [&str; 9] = [
    "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip",
];

/// The three parts of a compact token, still encoded.
pub(super) struct Parts<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: &'a str,
}

/// Splits a token into its parts; refuses oversized tokens before looking inside.
pub(super) fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected three dot-separated parts"));
    };
    Ok(Parts {
        header,
        payload,
        signature,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

pub(super) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url, refusing padding, other alphabets and non-zero trailing
/// bits, so each token has exactly one spelling.
pub(super) fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))
}

/// Decodes the signature part into a 64-byte Ed25519 signature.
pub(super) fn decode_signature(part: &str) -> Result<Signature, TokenError> {
    // Also catches a stripped signature (`header.payload.`).
    if part.len() != SIGNATURE_B64_LEN {
        return Err(TokenError::BadSignature);
    }
    let mut bytes = [0u8; 64];
    let n = URL_SAFE_NO_PAD
        .decode_slice(part, &mut bytes)
        .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    if n != bytes.len() {
        return Err(TokenError::BadSignature);
    }
    Ok(Signature::from_bytes(&bytes))
}

/// The header we write for tokens signed by `kid`.
pub(super) fn header_for(kid: &str) -> String {
    let header = serde_json::json!({ "alg": ALG, "typ": TYP, "kid": kid });
    encode(header.to_string().as_bytes())
}

/// Checks an encoded header and returns its kid, still to be looked up.
pub(super) fn check_header(encoded: &str) -> Result<String, TokenError> {
    let bytes = decode(encoded, "header is not base64url")?;
    let Fields(fields) = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("header is not a JSON object with distinct names"))?;
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    // Exact match: `none`, `HS256` (key confusion), `ES256`, `eddsa`… are all refused.
    if !matches!(get("alg"), Some(Value::String(alg)) if alg == ALG) {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    if let Some((name, _)) = fields
        .iter()
        .find(|(n, _)| !matches!(n.as_str(), "alg" | "typ" | "kid"))
    {
        let known = FORBIDDEN.iter().find(|f| **f == name).copied();
        return Err(TokenError::ForbiddenHeader(known.unwrap_or("unrecognised")));
    }
    if !matches!(get("typ"), Some(Value::String(typ)) if typ.eq_ignore_ascii_case(TYP)) {
        return Err(TokenError::WrongType);
    }
    match get("kid") {
        Some(Value::String(kid)) if is_valid_kid(kid) => Ok(kid.clone()),
        _ => Err(TokenError::UnknownKey),
    }
}

/// 1–64 characters of `[A-Za-z0-9_-]`: no path, quote or control characters can reach
/// a lookup or a log line.
pub(super) fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= KID_MAX_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A JSON object read as a list, refusing duplicate names: `{"alg":"EdDSA","alg":"none"}`
/// must not mean one thing here and another to some other parser.
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields: Vec<(String, Value)> = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if fields.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom("duplicate header name"));
                    }
                    if fields.len() == MAX_HEADER_FIELDS {
                        return Err(de::Error::custom("too many header fields"));
                    }
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        encode(json.as_bytes())
    }

    const KID: &str = "k_0123456789abcdef0123456789abcdef";

    #[test]
    fn our_header_passes() {
        assert_eq!(check_header(&header_for(KID)).expect("ok"), KID);
    }

    #[test]
    fn split_needs_exactly_three_parts() {
        for bad in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert!(matches!(split(bad), Err(TokenError::Malformed(_))), "{bad}");
        }
        let parts = split("aa.bb.cc").expect("splits");
        assert_eq!(parts.signing_input, "aa.bb");
        assert_eq!(parts.signature, "cc");
    }

    #[test]
    fn duplicate_names_and_non_objects_are_malformed() {
        for bad in [
            r#"{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"k_1"}"#,
            r#"["EdDSA"]"#,
            r#""EdDSA""#,
            "null",
            "{",
            r#"{"alg":"EdDSA"} trailing"#,
        ] {
            assert!(
                matches!(check_header(&header(bad)), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_forbidden_header_is_named() {
        for name in FORBIDDEN {
            let json = serde_json::json!({"alg": ALG, "typ": TYP, "kid": KID, name: "x"});
            let encoded = header(&json.to_string());
            assert!(
                matches!(check_header(&encoded), Err(TokenError::ForbiddenHeader(n)) if n == name),
                "{name}"
            );
        }
        let json = serde_json::json!({"alg": ALG, "typ": TYP, "kid": KID, "cty": "JWT"});
        assert!(matches!(
            check_header(&header(&json.to_string())),
            Err(TokenError::ForbiddenHeader("unrecognised"))
        ));
    }

    #[test]
    fn typ_must_be_at_jwt() {
        for typ in [None, Some("JWT"), Some("at+jwt2"), Some("")] {
            let mut json = serde_json::json!({"alg": ALG, "kid": KID});
            if let Some(typ) = typ {
                json["typ"] = typ.into();
            }
            assert!(
                matches!(
                    check_header(&header(&json.to_string())),
                    Err(TokenError::WrongType)
                ),
                "{typ:?}"
            );
        }
        let json = serde_json::json!({"alg": ALG, "typ": "AT+JWT", "kid": KID});
        assert!(check_header(&header(&json.to_string())).is_ok());
    }

    #[test]
    fn kid_charset() {
        assert!(is_valid_kid(KID));
        assert!(is_valid_kid("a-B_9"));
        for bad in [
            "",
            "../../etc/passwd",
            "k_\"x",
            "k_'x",
            "k x",
            "k_\n",
            "k/1",
            "k\\1",
            "ké",
            &"k".repeat(65),
        ] {
            assert!(!is_valid_kid(bad), "{bad:?}");
        }
    }

    #[test]
    fn signature_part_must_be_86_strict_base64url_chars() {
        assert!(matches!(
            decode_signature(""),
            Err(TokenError::BadSignature)
        ));
        let good = encode(&[7u8; 64]);
        assert_eq!(good.len(), SIGNATURE_B64_LEN);
        assert!(decode_signature(&good).is_ok());
        assert!(matches!(
            decode_signature(&format!("{good}==")),
            Err(TokenError::BadSignature)
        ));
        let plus = format!("+{}", &good[1..]);
        assert!(matches!(
            decode_signature(&plus),
            Err(TokenError::Malformed(_))
        ));
        // The last character carries 2 data bits; non-zero spare bits are refused.
        let mut spare = good.clone();
        spare.pop();
        spare.push('B');
        assert!(matches!(
            decode_signature(&spare),
            Err(TokenError::Malformed(_))
        ));
    }
}
