//! Billing's read models and process managers: the payments queue, and what follows an
//! approval or a refund.

pub mod payment_approval;
pub mod payments;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::bus::CommandBus;
use crate::store::engine::{EventHandler, Managed};
use domain::billing::payment::Payment;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<Payment>()]
}

/// Process managers issue their commands through `bus`.
pub fn handlers(bus: &CommandBus) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(payments::PaymentsProjection),
        Arc::new(Managed(payment_approval::PaymentApproval::new(bus.clone()))),
    ]
}
