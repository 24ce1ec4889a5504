//! Billing in GraphQL: manual payments and their approval.

mod payments;

#[derive(async_graphql::MergedObject, Default)]
pub struct BillingQuery(payments::PaymentQuery);

#[derive(async_graphql::MergedObject, Default)]
pub struct BillingMutation(payments::PaymentMutation);
