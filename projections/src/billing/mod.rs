//! Billing's read models and process managers: the payments queue, and what follows an
//! approval or a refund.

pub mod payment_approval;
pub mod payments;

use crate::store::bus::CommandBus;
use crate::store::engine::{EventHandler, Managed};
use std::sync::Arc;

/// Process managers issue their commands through `bus`.
pub fn handlers(bus: &CommandBus) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(payments::PaymentsProjection),
        Arc::new(Managed(payment_approval::PaymentApproval::new(bus.clone()))),
    ]
}
