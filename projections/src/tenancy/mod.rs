//! Tenancy's read models: the account list and the credit ledger.

pub mod accounts;
pub mod credit_ledger;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::tenancy::{account::Account, slug_claim::SlugClaim};
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<Account>(), chronicle_of::<SlugClaim>()]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(accounts::AccountsProjection),
        Arc::new(credit_ledger::CreditLedgerProjection),
    ]
}
