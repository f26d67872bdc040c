//! Keeps secrets and personal data out of event payloads: a payload passes through
//! `redact_payload` before it is stored, whatever its author remembered to leave out.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// Key fragments whose values are secrets: replaced entirely.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "credential",
];
/// Key fragments whose values are personal data: masked, keeping enough to recognise them.
const PII_KEYS: &[&str] = &["email", "phone"];

pub const REDACTED: &str = "[redacted]";

/// An address or an international phone number inside free text (an org named
/// "Contact bob@example.com or +1 415 555 0100"): the chain keeps an event for good, so
/// what reaches a person is masked wherever it stands, not only under a personal key.
static PII_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    // `@` and the dot in their fullwidth forms too. Only a `+` that starts a word marks a
    // phone number: digits alone are as often dates, times and versions, and a `+` after
    // a word is a version's build (`1.2+20261206`) or base64.
    let word = r#"[^\s<>()\[\],;:"'@＠]"#;
    Regex::new(&format!(
        r"(?<address>{word}+[@＠]{word}+[.．。]{word}+)|(?<before>^|[^\w.+])(?<phone>\+\d[\d ().-]{{5,}}\d)"
    ))
    .expect("a valid pattern")
});

/// A copy of `value` with secret fields replaced and personal fields masked, at any depth.
pub fn redact_payload(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), redact_field(key, value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_payload).collect()),
        Value::String(text) => Value::String(mask_in_text(text)),
        other => other.clone(),
    }
}

fn redact_field(key: &str, value: &Value) -> Value {
    let key = key.to_ascii_lowercase();
    if SECRET_KEYS.iter().any(|fragment| key.contains(fragment)) {
        return Value::String(REDACTED.to_owned());
    }
    if PII_KEYS.iter().any(|fragment| key.contains(fragment)) {
        return match value {
            Value::String(text) => Value::String(mask(text)),
            Value::Null => Value::Null,
            _ => Value::String(REDACTED.to_owned()),
        };
    }
    redact_payload(value)
}

/// `text` with each address and phone number in it masked.
fn mask_in_text(text: &str) -> String {
    PII_IN_TEXT
        .replace_all(text, |found: &Captures| match found.name("address") {
            Some(address) => mask(address.as_str()),
            None => format!("{}{}", &found["before"], mask(&found["phone"])),
        })
        .into_owned()
}

/// `jane.doe@example.com` → `j***@example.com`; anything else keeps its first character.
fn mask(text: &str) -> String {
    let first: String = text.chars().take(1).collect();
    match text.split_once('@') {
        Some((_, domain)) => format!("{first}***@{domain}"),
        None => format!("{first}***"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_replaced_and_pii_masked_at_any_depth() {
        let payload = json!({
            "password": "hunter2",
            "new_Password_hash": "x",
            "refresh_token": "abc",
            "user": {"email": "jane.doe@example.com", "phone_number": "+4912345", "name": "Jane"},
            "keys": [{"api_key": "tb_123"}],
            "count": 3
        });
        let redacted = redact_payload(&payload);
        assert_eq!(redacted["password"], REDACTED);
        assert_eq!(redacted["new_Password_hash"], REDACTED);
        assert_eq!(redacted["refresh_token"], REDACTED);
        assert_eq!(redacted["user"]["email"], "j***@example.com");
        assert_eq!(redacted["user"]["phone_number"], "+***");
        assert_eq!(redacted["user"]["name"], "Jane");
        assert_eq!(redacted["keys"][0]["api_key"], REDACTED);
        assert_eq!(redacted["count"], 3);
        assert!(!redacted.to_string().contains("hunter2"));
    }

    #[test]
    fn addresses_and_phone_numbers_in_free_text_are_masked() {
        let payload = json!({
            "name": "Contact bob.smith@example.com or +1 (415) 555-0100, soon",
            "names": ["team <carol@corp.example.net>", "v2.1 @ 2026-12-06 +5", "dan＠example.com", "build 1.2.3+20261206, call:+44 20 7946 0958"],
        });
        let redacted = redact_payload(&payload);
        assert_eq!(redacted["name"], "Contact b***@example.com or +***, soon");
        assert_eq!(redacted["names"][0], "team <c***@corp.example.net>");
        assert_eq!(redacted["names"][1], "v2.1 @ 2026-12-06 +5");
        assert_eq!(redacted["names"][2], "d***");
        assert_eq!(redacted["names"][3], "build 1.2.3+20261206, call:+***");
    }
}
