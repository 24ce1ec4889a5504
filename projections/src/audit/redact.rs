//! Secrets never leave the log: every value under a secret-bearing key is shown as
//! `"[redacted]"`, in the audit trail, in histories and diffs, and in states as of a time.

use serde_json::Value;

/// Keys whose values are secrets, at any depth of a payload or a state.
const SECRET_KEYS: &[&str] = &[
    "token_hash",
    "api_key",
    "secret",
    "password",
    "password_hash",
    "encrypted_key",
];

pub const REDACTED: &str = "[redacted]";

pub fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// `value` with every secret-bearing value replaced by `"[redacted]"`.
pub fn redact(mut value: Value) -> Value {
    hide(&mut value);
    value
}

fn hide(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_secret(key) {
                    *value = Value::String(REDACTED.into());
                } else {
                    hide(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let payload = json!({ "OperatorTokenIssued": { "token_id": "t", "token_hash": "abc",
            "nested": [{ "api_key": "sk-live" }] } });
        let redacted = redact(payload);
        let text = redacted.to_string();
        assert!(!text.contains("abc") && !text.contains("sk-live"), "{text}");
        assert_eq!(redacted["OperatorTokenIssued"]["token_id"], "t");
    }
}
