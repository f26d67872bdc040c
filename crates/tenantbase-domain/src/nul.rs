//! Finds NUL characters (U+0000) in JSON. PostgreSQL refuses them in text and jsonb
//! (SQLSTATE 22021, 22P05), so the HTTP body extractor and the project import, which
//! reads rows past it, both refuse a value that holds one — naming where.

use serde_json::Value;

/// Paths of the strings under `value` holding NUL, written as `serde_path_to_error` does
/// (`a.b`, `tags[1]`, `""` for `value` itself); an object key holding NUL is named by its
/// object's path.
pub fn nul_paths(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, String::new(), &mut found);
    found
}

fn walk(value: &Value, path: String, found: &mut Vec<String>) {
    match value {
        Value::String(text) if text.contains('\0') => found.push(path),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), found);
            }
        }
        Value::Object(members) => {
            if members.keys().any(|key| key.contains('\0')) {
                found.push(path.clone());
            }
            for (key, member) in members.iter().filter(|(key, _)| !key.contains('\0')) {
                let member_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(member, member_path, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_string_and_key_holding_nul() {
        let value = json!({"name": "a\0", "tags": [1], "meta": {"x": ["ok", "\0"], "k\0": 1}});
        let mut paths = nul_paths(&value);
        paths.sort();
        assert_eq!(paths, ["meta", "meta.x[1]", "name"]);
    }

    #[test]
    fn a_key_holding_nul_is_named_once_and_not_walked() {
        let value = json!({"a": {"k\0": "\0", "j\0": 1}});
        assert_eq!(nul_paths(&value), ["a"]);
    }

    #[test]
    fn the_value_itself_is_the_empty_path() {
        assert_eq!(nul_paths(&json!("\0")), [""]);
        assert_eq!(nul_paths(&json!([["\0"]])), ["[0][0]"]);
    }

    #[test]
    fn values_without_nul_have_no_paths() {
        let value = json!({"name": "a\\u0000", "n": 0, "none": null, "list": [true, "x"]});
        assert!(nul_paths(&value).is_empty());
    }
}
