//! Tenancy's read models: the account list and the credit ledger.

pub mod accounts;
pub mod credit_ledger;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(accounts::AccountsProjection),
        Arc::new(credit_ledger::CreditLedgerProjection),
    ]
}
