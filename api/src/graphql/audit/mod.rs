//! Audit in GraphQL: the audit trail.

mod audit_log;

#[derive(async_graphql::MergedObject, Default)]
pub struct AuditQuery(audit_log::AuditLogQuery);
