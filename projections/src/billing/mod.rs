//! Billing's read models and process managers: the catalogue (plans, credit packages, credit
//! costs), invoices and their numbering, the payments queue, subscriptions, and what follows an
//! approval, a refund or a subscription's change.

pub mod catalog;
pub mod deadlines;
pub mod dunning;
pub mod invoice_issuing;
pub mod invoices;
pub mod payment_approval;
pub mod payments;
pub mod revenue;
pub mod scheduler;
pub mod subscription_billing;
pub mod subscriptions;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::bus::CommandBus;
use crate::store::engine::{EventHandler, Managed};
use domain::billing::credit_cost::CreditCost;
use domain::billing::invoice::Invoice;
use domain::billing::invoice_register::InvoiceRegister;
use domain::billing::package::CreditPackage;
use domain::billing::payment::Payment;
use domain::billing::plan::Plan;
use domain::billing::subscription::Subscription;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![
        chronicle_of::<Payment>(),
        chronicle_of::<Plan>(),
        chronicle_of::<CreditPackage>(),
        chronicle_of::<CreditCost>(),
        chronicle_of::<Invoice>(),
        chronicle_of::<InvoiceRegister>(),
        chronicle_of::<Subscription>(),
    ]
}

/// Process managers issue their commands through `bus`.
pub fn handlers(bus: &CommandBus) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(catalog::CatalogProjection),
        Arc::new(invoices::InvoicesProjection),
        Arc::new(payments::PaymentsProjection),
        Arc::new(subscriptions::SubscriptionsProjection),
        Arc::new(deadlines::DeadlinesProjection),
        Arc::new(revenue::RevenueProjection),
        Arc::new(Managed(invoice_issuing::InvoiceIssuing::new(bus.clone()))),
        Arc::new(Managed(payment_approval::PaymentApproval::new(bus.clone()))),
        Arc::new(Managed(subscription_billing::SubscriptionBilling::new(
            bus.clone(),
        ))),
        Arc::new(Managed(dunning::Dunning::new(bus.clone()))),
    ]
}
