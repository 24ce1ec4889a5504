//! Identity in GraphQL: operators and their tokens, the permission groups they are in, and the
//! people of tenant accounts.

mod groups;
mod operators;
mod platform_users;

pub use operators::TokensByOperator;

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityQuery(
    operators::OperatorQuery,
    groups::GroupQuery,
    platform_users::PlatformUserQuery,
);

#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityMutation(
    operators::OperatorMutation,
    groups::GroupMutation,
    platform_users::PlatformUserMutation,
);
