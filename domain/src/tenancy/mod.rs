//! Tenancy: the platform's accounts, their lifecycle and their credits, and the slugs that
//! name them.

pub mod account;
pub mod slug_claim;
