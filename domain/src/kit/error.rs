//! Stable error codes shared by every boundary. Clients match on these, so they never change
//! meaning; the human message beside them may be reworded freely.

use serde::Serialize;
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, strum::IntoStaticStr, strum::EnumIter,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The input is malformed or breaks a rule of its own (HTTP 400).
    Validation,
    /// No such entity (HTTP 404).
    NotFound,
    /// The caller is known but may not do this (HTTP 403).
    Forbidden,
    /// The caller did not prove who they are (HTTP 401).
    Unauthenticated,
    /// The change collides with the current state or with a concurrent change (HTTP 409).
    Conflict,
    /// The account's balance cannot cover the debit (HTTP 422).
    InsufficientCredits,
    /// The account's plan does not allow this (HTTP 422).
    PlanForbids,
    /// Something failed on our side; details are in the log, never in the response (HTTP 500).
    Internal,
    /// The HTTP request is not a GraphQL request: malformed JSON, a wrong shape, a batch, a
    /// wrong method (HTTP 400 or 405).
    BadRequest,
    /// The request body is larger than the server accepts (HTTP 413).
    PayloadTooLarge,
    /// The request body is not JSON (HTTP 415).
    UnsupportedMediaType,
    /// The request named a persisted query by its hash only, and this server does not hold
    /// it (it restarted, or never saw it): send the query's text with the hash once more.
    PersistedQueryNotFound,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every aggregate's error type so the API can answer with a stable code.
pub trait Coded {
    fn code(&self) -> ErrorCode;
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn codes_read_the_same_in_text_and_in_json() {
        for code in ErrorCode::iter() {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(
            ErrorCode::InsufficientCredits.as_str(),
            "INSUFFICIENT_CREDITS"
        );
    }
}
