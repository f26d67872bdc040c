//! The verifier's record of a credential (`webauthn_rs` `Passkey`), as the store keeps
//! it: JSON, with its counter and backup flags repeated in columns, and the rules for a
//! passkey's name.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tenantbase_domain::members::{BYTES_SEARCHED, member_problems};
use webauthn_rs::prelude::{AuthenticationResult, Passkey};

use crate::identity::IdentityError;
use crate::tenancy::{FieldProblem, required_text};

/// Longest passkey name, in characters.
const NAME_MAX_CHARS: usize = 64;

/// A passkey name: trimmed, 1 to 64 characters, no control or invisible formatting
/// characters — checked as every name the API keeps is, since it reaches the "new
/// passkey" email and the list a user picks a passkey to remove from.
pub(super) fn passkey_name(raw: &str) -> Result<String, FieldProblem> {
    required_text("name", raw, NAME_MAX_CHARS)
}

/// `credential`, the JSON of a browser's `PublicKeyCredential`, as the verifier's `T` (a
/// `what`: registration or authentication response), or a problem for each of its members
/// that does not fit and each it lacks, named under `credential`.
pub(super) fn credential<T: DeserializeOwned>(
    credential: &Value,
    what: &str,
) -> Result<T, Vec<FieldProblem>> {
    let error = match T::deserialize(credential) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error,
    };
    let members = match credential {
        // Bounded as a refused body is: a credential the size of the body limit would
        // be copied once per stand-in of every absent field.
        Value::Object(members) if json_len(credential) <= BYTES_SEARCHED => {
            member_problems::<T>(members.clone())
        }
        _ => None,
    };
    Err(members.map_or_else(
        || {
            let message = format!("is not a WebAuthn {what}: {error}");
            vec![FieldProblem::new("credential", message)]
        },
        |problems| {
            problems
                .into_iter()
                .map(|p| FieldProblem::new(format!("credential.{}", p.field), p.message))
                .collect()
        },
    ))
}

/// How the store finds a credential: its id in base64url.
pub(super) fn credential_key(credential_id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(credential_id)
}

/// A record and the values the store repeats in columns.
pub(super) struct Record {
    pub json: String,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

impl Record {
    /// `webauthn-rs` keeps the counter and flags private (short of a feature named
    /// "danger"); its serialised form names them (`cred.counter`, `cred.backup_…`).
    pub fn of(passkey: &Passkey) -> Result<Self, IdentityError> {
        let value = serde_json::to_value(passkey)
            .map_err(|e| IdentityError::Internal(format!("passkey record: {e}")))?;
        let credential = &value["cred"];
        let flag = |name: &str| credential[name].as_bool().unwrap_or(false);
        Ok(Self {
            sign_count: credential["counter"]
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(0),
            backup_eligible: flag("backup_eligible"),
            backed_up: flag("backup_state"),
            json: value.to_string(),
        })
    }
}

pub(super) fn parse(json: &str) -> Result<Passkey, IdentityError> {
    serde_json::from_str(json)
        .map_err(|e| IdentityError::Internal(format!("stored passkey record: {e}")))
}

/// The `amr` value (RFC 8176) of the key a passkey proved possession of: `hwk` for a key
/// bound to its device, `swk` for one that may be copied between devices (synced passkeys
/// live in software keychains).
pub(super) fn key_kind(result: &AuthenticationResult) -> &'static str {
    if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    }
}

/// The `amr` of a passkey sign-in: the key's kind, and `mfa` when the authenticator
/// verified the user (PIN or biometric) — possession plus knowledge or inherence.
/// Passkey ceremonies require user verification, so a successful one always has `mfa`.
pub(super) fn amr(result: &AuthenticationResult) -> Vec<String> {
    let mut amr = vec![key_kind(result).to_owned()];
    if result.user_verified() {
        amr.push("mfa".to_owned());
    }
    amr
}

/// The length of `value` as JSON text.
fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |text| text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_printable_and_visible() {
        assert_eq!(passkey_name("  Laptop  ").as_deref(), Ok("Laptop"));
        assert_eq!(passkey_name(&"é".repeat(64)), Ok("é".repeat(64)));
        for bad in [
            "",
            "   ",
            "a\u{7}b",
            "\u{202E}exe.pdf",
            "a\u{200B}b",
            &"x".repeat(65),
        ] {
            assert!(passkey_name(bad).is_err(), "{bad:?}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        id: String,
        count: u8,
    }

    #[test]
    fn a_large_credential_gets_its_first_problem_only() {
        let fields = |credential: Value| -> Vec<String> {
            let problems = super::credential::<Shape>(&credential, "shape").expect_err("bad");
            // Sorted: the map's order depends on serde_json's features in the build.
            let mut fields: Vec<String> = problems.into_iter().map(|p| p.field).collect();
            fields.sort();
            fields
        };
        let small = serde_json::json!({"id": 1, "count": "x"});
        assert_eq!(fields(small), ["credential.count", "credential.id"]);
        let large = serde_json::json!({"id": 1, "pad": "x".repeat(BYTES_SEARCHED)});
        assert_eq!(fields(large), ["credential"]);
    }
}
