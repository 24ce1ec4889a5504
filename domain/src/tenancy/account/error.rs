//! Why an account refuses a command, each refusal with its stable code.

use super::SYSTEM_ACCOUNT_SLUG;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::Credits;
use crate::kit::values::InvalidValue;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this account is already open")]
    AlreadyOpened,
    /// `NOT_FOUND`
    #[error("no such account")]
    NotFound,
    /// `CONFLICT`
    #[error("the account is deleted; restore it first")]
    Deleted,
    /// `CONFLICT`
    #[error("the account is not deleted")]
    NotDeleted,
    /// `CONFLICT`
    #[error("the account is already suspended")]
    AlreadySuspended,
    /// `FORBIDDEN`
    #[error("the system account `{SYSTEM_ACCOUNT_SLUG}` cannot be suspended or deleted")]
    SystemAccountProtected,
    /// `FORBIDDEN`
    #[error("the account is suspended and may not consume credits")]
    Suspended,
    /// `INSUFFICIENT_CREDITS`
    #[error("the balance of {balance} credits cannot cover a debit of {requested}")]
    InsufficientCredits {
        balance: Credits,
        requested: Credits,
    },
    /// `VALIDATION`
    #[error("the balance would exceed the largest number of credits an account can hold")]
    BalanceOverflow,
    /// `CONFLICT`
    #[error("payment {payment_id} already granted {granted} credits")]
    GrantMismatch { payment_id: Uuid, granted: Credits },
    /// `CONFLICT`
    #[error("payment {0} granted no credits to this account, so none can be reversed")]
    NotGranted(Uuid),
}

impl From<InvalidValue> for AccountError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for AccountError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::BalanceOverflow => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::SystemAccountProtected | Self::Suspended => ErrorCode::Forbidden,
            Self::InsufficientCredits { .. } => ErrorCode::InsufficientCredits,
            Self::AlreadyOpened
            | Self::Deleted
            | Self::NotDeleted
            | Self::AlreadySuspended
            | Self::GrantMismatch { .. }
            | Self::NotGranted(_) => ErrorCode::Conflict,
        }
    }
}
