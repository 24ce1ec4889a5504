//! The API's one error type. Every failure a client can see is an `ApiError`: a stable code
//! and a message meant for a person. Internal details are logged once, here, and never sent.
//!
//! `ApiError` deliberately has no `Display`: async-graphql converts anything displayable into an
//! error verbatim, and that is how database messages leak to clients. Without it, the only way
//! to a GraphQL error is through `From<ApiError>`.

use domain::kit::error::{Coded, ErrorCode};
use projections::CommandError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "a valid API token is required: send `Authorization: Bearer <token>`",
        )
    }

    /// Logs `detail` with its whole chain of causes, once, and answers with a message that
    /// reveals nothing of it.
    pub fn internal(detail: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = detail.to_string();
        let mut cause = detail.source();
        while let Some(error) = cause {
            chain.push_str(": ");
            chain.push_str(&error.to_string());
            cause = error.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            ErrorCode::Internal,
            "something went wrong on our side; it has been logged",
        )
    }
}

impl<E: Coded + std::error::Error + 'static> From<CommandError<E>> for ApiError {
    fn from(e: CommandError<E>) -> Self {
        match e.code() {
            ErrorCode::Internal => Self::internal(&e),
            code => Self::new(code, e.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(&e)
    }
}

impl From<projections::store::engine::EngineError> for ApiError {
    fn from(e: projections::store::engine::EngineError) -> Self {
        Self::internal(&e)
    }
}

impl From<domain::kit::values::InvalidValue> for ApiError {
    fn from(e: domain::kit::values::InvalidValue) -> Self {
        Self::validation(e.0)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(e.message).extend_with(|_, ext| ext.set("code", e.code.as_str()))
    }
}

impl From<projections::audit::history::HistoryError> for ApiError {
    fn from(e: projections::audit::history::HistoryError) -> Self {
        use projections::audit::history::HistoryError as H;
        match &e {
            H::UnknownType { .. } | H::Invalid(_) => Self::validation(e.to_string()),
            H::NotFound { .. } | H::NotYet(_) => Self::not_found(e.to_string()),
            // Which stored event cannot be read is no secret, and tells the reader why.
            H::Unreadable { .. } => {
                tracing::error!(error = %e, "cannot fold an aggregate's events");
                Self::new(ErrorCode::Internal, e.to_string())
            }
            H::Log(_) | H::Database(_) => Self::internal(&e),
        }
    }
}
