//! Identity in GraphQL: operators and their tokens, and the permission groups they are in.

mod groups;
mod operators;

pub use operators::TokensByOperator;

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityQuery(operators::OperatorQuery, groups::GroupQuery);

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityMutation(operators::OperatorMutation, groups::GroupMutation);
