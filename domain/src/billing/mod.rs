//! Billing: manual payments and the plan tiers (later plans, subscriptions, invoices, credit
//! packages and credit costs).

pub mod payment;
pub mod plan;
