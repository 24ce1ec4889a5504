//! Audit: the audit trail (a read model, one row per event); every aggregate's history with
//! field-level diffs and its state as of any moment, read from the log; and the log's tamper
//! evidence (the seal chain, its signed checkpoints, and `verify`).

pub mod audit_log;
pub mod diff;
pub mod history;
pub mod history_snapshots;
pub mod redact;
pub mod seal;
pub mod seal_key;
pub mod verify;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers(sealer: seal::Sealer) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(audit_log::AuditLogProjection),
        Arc::new(sealer),
        Arc::new(history_snapshots::HistorySnapshots {
            chronicles: crate::all_chronicles(),
        }),
    ]
}
