//! Tenancy in GraphQL: accounts and their credit ledger.

pub(crate) mod accounts;
pub(crate) mod credit_ledger;

#[derive(async_graphql::MergedObject, Default)]
pub struct TenancyQuery(accounts::AccountQuery, credit_ledger::LedgerQuery);

#[derive(async_graphql::MergedObject, Default)]
pub struct TenancyMutation(accounts::AccountMutation);
