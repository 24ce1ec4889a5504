//! Audit's read models: one row per event, for auditors.

pub mod audit_log;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(audit_log::AuditLogProjection)]
}
