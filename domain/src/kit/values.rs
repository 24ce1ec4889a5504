//! Value objects: validated once at the edge, trusted everywhere after.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// Checks a free-text field: trimmed, non-empty, at most `max` characters, no control characters.
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<String, InvalidValue> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue(format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidValue(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// Checks a text of several lines (a prompt, a description): trimmed, at most `max`
/// characters, and no control characters but line breaks and tabs (PostgreSQL cannot even hold
/// a NUL). May be empty: the caller says whether that is allowed.
pub fn multiline_text(field: &str, value: &str, max: usize) -> Result<String, InvalidValue> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(InvalidValue(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(InvalidValue(format!(
            "{field} must not contain control characters other than line breaks and tabs"
        )));
    }
    Ok(trimmed.to_string())
}

/// Checks a JSON value a person supplies: its text holds no NUL (which PostgreSQL cannot store)
/// and is at most `max_bytes` long.
pub fn checked_json(
    field: &str,
    value: serde_json::Value,
    max_bytes: usize,
) -> Result<serde_json::Value, InvalidValue> {
    let text = value.to_string();
    if text.contains("\\u0000") {
        return Err(InvalidValue(format!(
            "{field} must not contain NUL characters"
        )));
    }
    if text.len() > max_bytes {
        return Err(InvalidValue(format!(
            "{field} holds at most {max_bytes} bytes of JSON"
        )));
    }
    Ok(value)
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(value: &str) -> Result<Self, InvalidValue> {
                bounded_text($field, value, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// A person's display name.
    DisplayName,
    "display name",
    120
);
text_value!(
    /// Why something was done: required by commands auditors must be able to explain.
    Reason,
    "reason",
    500
);
text_value!(
    /// A short label for a token or similar (e.g. "laptop", "billing script").
    Label,
    "label",
    80
);

text_value!(
    /// A permission group's name, e.g. "Billing Administrator".
    GroupName,
    "group name",
    80
);

text_value!(
    /// A plan's display name, e.g. "Growth" or "Growth (non-profit)".
    PlanName,
    "plan name",
    80
);
text_value!(
    /// A credit package's display name, e.g. "5,000 credits".
    PackageName,
    "package name",
    80
);

text_value!(
    /// An account's display name.
    AccountName,
    "account name",
    200
);
text_value!(
    /// A payment's external reference: a wire transfer id, a check number, a receipt number.
    PaymentReference,
    "payment reference",
    120
);
text_value!(
    /// A free-text note an operator leaves on a record.
    Note,
    "note",
    1000
);
text_value!(
    /// The kind of platform operation that consumed credits (e.g. `content_generation`).
    OperationType,
    "operation type",
    64
);
text_value!(
    /// The AI model an operation used (e.g. `gpt-4o-mini`).
    ModelName,
    "model name",
    120
);

/// An account's URL-safe handle: lowercase letters, digits and hyphens, 3 to 63 characters,
/// no hyphen at either end. Deserializing checks the same rules, so a `Slug` is always valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 63;

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let len = value.len();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(InvalidValue(format!(
                "a slug has {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InvalidValue(
                "a slug has only lowercase letters, digits and hyphens".into(),
            ));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err(InvalidValue(
                "a slug neither starts nor ends with a hyphen".into(),
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, stored lower-cased so that it identifies one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let value = value.trim().to_lowercase();
        let invalid = || InvalidValue(format!("`{value}` is not an e-mail address"));
        if value.is_empty() || value.len() > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "an e-mail address has 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let well_formed = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed {
            Ok(Self(value))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn text_values_are_trimmed_and_bounded() {
        assert_eq!(Reason::parse("  because  ").unwrap().as_str(), "because");
        assert!(Reason::parse("   ").is_err());
        assert!(Reason::parse(&"x".repeat(501)).is_err());
        assert!(Label::parse("tab\tinside").is_err());
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        for good in ["aws-admin", "abc", "a1-b2-c3", &"a".repeat(63)] {
            assert_eq!(Slug::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b_c",
            "a b c",
            "ünï",
            &"a".repeat(64),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_slug_is_checked_when_deserialized_too() {
        let parsed: Slug = serde_json::from_str("\"acme-co\"").unwrap();
        assert_eq!(parsed.as_str(), "acme-co");
        assert!(serde_json::from_str::<Slug>("\"Acme Co\"").is_err());
    }
}
