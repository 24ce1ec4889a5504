//! The event store's machinery in GraphQL: how far each projection has got.

mod projections;

#[derive(async_graphql::MergedObject, Default)]
pub struct StoreQuery(projections::ProjectionQuery);

#[derive(async_graphql::MergedSubscription, Default)]
pub struct StoreSubscription(projections::ProjectionSubscription);
