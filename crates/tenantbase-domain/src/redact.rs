//! Keeps secrets and personal data out of event payloads: a payload passes through
//! `redact_payload` before it is stored, whatever its author remembered to leave out.

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

/// A copy of `value` with secret fields replaced and personal fields masked, at any depth.
pub fn redact_payload(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), redact_field(key, value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_payload).collect()),
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
}
