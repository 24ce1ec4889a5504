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
        assert_eq!(Email::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.com"] {
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
}
