//! AI configuration in GraphQL: the platform's providers (superusers change them and their
//! keys), each account's overrides and effective configuration, and the prompt library with
//! each account's customized and effective prompts; author profiles and content strategies.

pub(crate) mod overrides;
pub(crate) mod prompts;
pub(crate) mod providers;
pub(crate) mod templates;

use crate::error::ApiError;
use crate::graphql::{parse_id, visible};
use async_graphql::{Context, ID};
use chrono::{DateTime, Utc};
use domain::kit::event::{StoredAggregate, StoredEvent};
use projections::audit::history::{self, chronicle_of, HistoryError};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(async_graphql::MergedObject, Default)]
pub struct AiConfigQuery(
    providers::ProviderQuery,
    overrides::OverrideQuery,
    prompts::PromptQuery,
    templates::TemplateQuery,
);

#[derive(async_graphql::MergedObject, Default)]
pub struct AiConfigMutation(
    providers::ProviderMutation,
    overrides::OverrideMutation,
    prompts::PromptMutation,
    templates::TemplateMutation,
);

/// The account named, when the caller may touch it.
pub(super) fn own_account(ctx: &Context<'_>, account_id: &ID) -> Result<Uuid, ApiError> {
    let account_id = parse_id("accountId", account_id)?;
    if !visible(ctx, account_id) {
        return Err(ApiError::not_found("no such account"));
    }
    Ok(account_id)
}

/// The aggregate as the store had recorded it at `at`; `None` when it did not exist yet.
pub(super) async fn recorded_as_of<A>(
    pool: &PgPool,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<A>, ApiError>
where
    A: StoredAggregate + serde::de::DeserializeOwned + 'static,
    A::Event: StoredEvent,
{
    let chronicle = chronicle_of::<A>();
    match history::state_as_of(pool, chronicle.as_ref(), id, history::AsOf::RecordedAt(at)).await {
        Ok(state) => serde_json::from_value(state.state)
            .map(Some)
            .map_err(|e| ApiError::internal(&e)),
        Err(HistoryError::NotFound { .. } | HistoryError::NotYet(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `NOT_FOUND` unless the account exists (as the accounts read model shows it).
pub(super) async fn existing_account(pool: &PgPool, account_id: Uuid) -> Result<(), ApiError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM read.accounts WHERE id = $1)")
            .bind(account_id)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Err(ApiError::not_found("no such account"));
    }
    Ok(())
}
