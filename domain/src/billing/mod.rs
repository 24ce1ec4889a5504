//! Billing: the catalogue (plans, credit packages, credit costs), invoices and their yearly
//! registers, and manual payments (later subscriptions).

pub mod credit_cost;
pub mod invoice;
pub mod invoice_register;
pub mod package;
pub mod payment;
pub mod plan;
