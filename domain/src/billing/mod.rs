//! Billing: the catalogue (plans, credit packages, credit costs), invoices and their yearly
//! registers, and manual payments, and subscriptions.

pub mod credit_cost;
pub mod invoice;
pub mod invoice_register;
pub mod package;
pub mod payment;
pub mod plan;
pub mod subscription;
