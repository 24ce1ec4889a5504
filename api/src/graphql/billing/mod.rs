//! Billing in GraphQL: the catalogue (plans, credit packages, credit costs), invoices,
//! manual payments and their approval, subscriptions, and revenue facts.

pub(crate) mod credit_costs;
pub(crate) mod invoices;
pub(crate) mod packages;
pub(crate) mod payments;
pub(crate) mod plans;
mod revenue;
pub(crate) mod subscriptions;

#[derive(async_graphql::MergedObject, Default)]
pub struct BillingQuery(
    plans::PlanQuery,
    packages::PackageQuery,
    credit_costs::CreditCostQuery,
    invoices::InvoiceQuery,
    payments::PaymentQuery,
    subscriptions::SubscriptionQuery,
    revenue::RevenueQuery,
);

#[derive(async_graphql::MergedObject, Default)]
pub struct BillingMutation(
    plans::PlanMutation,
    packages::PackageMutation,
    credit_costs::CreditCostMutation,
    invoices::InvoiceMutation,
    payments::PaymentMutation,
    subscriptions::SubscriptionMutation,
);
