//! Audit: the audit trail (a read model, one row per event) and, read straight from the log,
//! every aggregate's history with field-level diffs and its state as of any moment.

pub mod audit_log;
pub mod diff;
pub mod history;
pub mod redact;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(audit_log::AuditLogProjection)]
}
