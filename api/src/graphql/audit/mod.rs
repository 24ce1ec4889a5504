//! Audit in GraphQL: the audit trail, and every aggregate's history and state as of a moment.

mod audit_log;
pub(crate) mod history;

#[derive(async_graphql::MergedObject, Default)]
pub struct AuditQuery(audit_log::AuditLogQuery, history::HistoryQuery);
