//! Identity in GraphQL: operators and their tokens.

mod operators;

pub use operators::TokensByOperator;

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityQuery(operators::OperatorQuery);

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityMutation(operators::OperatorMutation);
