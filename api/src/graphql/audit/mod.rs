//! Audit in GraphQL: the audit trail, every aggregate's history and state as of a moment, and
//! the seal chain's status.

pub(crate) mod audit_log;
pub(crate) mod history;
mod seals;

#[derive(async_graphql::MergedObject, Default)]
pub struct AuditQuery(
    audit_log::AuditLogQuery,
    history::HistoryQuery,
    seals::SealQuery,
);
