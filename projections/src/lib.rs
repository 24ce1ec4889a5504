//! The infrastructure between the domain and the API: the event store and command bus (the
//! write path), the global log reader, the projector engine, the read models it maintains and
//! the process managers it runs.

pub mod accounts;
pub mod audit;
pub mod ledger;
pub mod operators;
pub mod payment_approval;
pub mod payments;
pub mod store;

use std::sync::Arc;
use store::engine::EventHandler;

pub use store::bus::{Appended, CommandBus, CommandContext, CommandError};
pub use store::engine::{Engine, EngineConfig};
pub use store::log::{LogPosition, RecordedEvent};

/// Every projection and process manager this build runs. Process managers issue their
/// commands through `bus`.
pub fn all_handlers(bus: &CommandBus) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(operators::OperatorsProjection),
        Arc::new(accounts::AccountsProjection),
        Arc::new(ledger::CreditLedgerProjection),
        Arc::new(payments::PaymentsProjection),
        Arc::new(audit::AuditLogProjection),
        Arc::new(payment_approval::PaymentApproval::new(bus.clone())),
    ]
}
