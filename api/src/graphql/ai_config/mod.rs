//! AI configuration in GraphQL: the platform's providers (superusers change them and their
//! keys) and each account's overrides and effective configuration.

mod overrides;
pub(crate) mod providers;

#[derive(async_graphql::MergedObject, Default)]
pub struct AiConfigQuery(providers::ProviderQuery, overrides::OverrideQuery);

#[derive(async_graphql::MergedObject, Default)]
pub struct AiConfigMutation(providers::ProviderMutation, overrides::OverrideMutation);
