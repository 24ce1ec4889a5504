//! Pages of the `billing` context.

pub mod catalog;
pub mod invoices;
pub mod payments;
pub mod subscriptions;
