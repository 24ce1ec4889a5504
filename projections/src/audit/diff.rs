//! Field-level differences between two states of an aggregate, as auditors read them.
//!
//! States are compared as the JSON the aggregate serialises to (what its snapshots hold).
//! Objects are walked key by key, so a change deep inside one is reported at its own path
//! (`grants.<id>.reversed`); anything else (numbers, strings, arrays) is compared whole.

use super::redact::{is_secret, redact, REDACTED};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One field that differs: its dotted path, and the values before and after (absent for an
/// added or removed field). Secret values are shown as `"[redacted]"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl Change {
    /// Whether this change is to `field` or to something inside it.
    pub fn touches(&self, field: &str) -> bool {
        touches(&self.path, field)
    }
}

/// Whether `path` is `field` or lies inside it (`grants.g1` is inside `grants`, not `grant`).
pub fn touches(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The changes from `before` to `after`, in key order.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk("", before, after, false, &mut changes);
    changes
}

fn walk(path: &str, before: &Value, after: &Value, secret: bool, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let secret = secret || is_secret(key);
                match (old.get(key), new.get(key)) {
                    (Some(a), Some(b)) => walk(&here, a, b, secret, out),
                    (None, Some(b)) => out.push(Change {
                        path: here,
                        kind: ChangeKind::Added,
                        old: None,
                        new: Some(shown(b, secret)),
                    }),
                    (Some(a), None) => out.push(Change {
                        path: here,
                        kind: ChangeKind::Removed,
                        old: Some(shown(a, secret)),
                        new: None,
                    }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(Change {
            path: path.to_string(),
            kind: ChangeKind::Changed,
            old: Some(shown(a, secret)),
            new: Some(shown(b, secret)),
        }),
        _ => {}
    }
}

/// A value as an auditor may see it: a secret is only said to be there.
fn shown(value: &Value, secret: bool) -> Value {
    if secret {
        Value::String(REDACTED.into())
    } else {
        redact(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_are_reported_at_their_own_paths() {
        let before = json!({ "balance": 10, "status": "Active", "grants": {} , "name": "A" });
        let after = json!({ "balance": 25, "status": "Active",
            "grants": { "g1": { "credits": 15 } } });
        let changes = diff(&before, &after);
        assert_eq!(
            changes,
            vec![
                Change {
                    path: "balance".into(),
                    kind: ChangeKind::Changed,
                    old: Some(json!(10)),
                    new: Some(json!(25)),
                },
                Change {
                    path: "grants.g1".into(),
                    kind: ChangeKind::Added,
                    old: None,
                    new: Some(json!({ "credits": 15 })),
                },
                Change {
                    path: "name".into(),
                    kind: ChangeKind::Removed,
                    old: Some(json!("A")),
                    new: None,
                },
            ]
        );
        assert!(changes[1].touches("grants") && !changes[1].touches("grant"));
    }

    #[test]
    fn a_changed_secret_is_reported_without_its_value() {
        let before = json!({ "api_key": "sk-old", "keys": { "k": { "secret": "a" } } });
        let after = json!({ "api_key": "sk-new", "keys": { "k": { "secret": "b" } },
            "extra": { "password": "p" } });
        let text = serde_json::to_string(&diff(&before, &after)).unwrap();
        for secret in ["sk-old", "sk-new", "\"a\"", "\"b\"", "\"p\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(diff(&before, &after).len(), 3, "{text}");
    }

    #[test]
    fn equal_states_have_no_changes() {
        let state = json!({ "a": [1, 2], "b": { "c": null } });
        assert!(diff(&state, &state).is_empty());
    }
}
