//! Projection `ai_settings`: the platform's providers (enabled, default settings, whether a key
//! is set, its last four characters and when it was set) and each account's overrides.
//!
//! It also destroys the data key of every API key taken out of service (replaced or removed),
//! in the batch's transaction: a key stops being decryptable exactly when the read model stops
//! showing it, and a crash before the batch commits destroys it on the batch's next try.
//! A rebuild destroys them again, which changes nothing.

use super::keyring;
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::ai_config::account_ai_settings::{AccountAiSettings, AccountAiSettingsEvent};
use domain::ai_config::integration_settings::{IntegrationSettings, IntegrationSettingsEvent};
use domain::ai_config::provider::Settings;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "ai_settings";

pub struct AiSettingsProjection;

#[async_trait]
impl EventHandler for AiSettingsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[IntegrationSettings::TYPE, AccountAiSettings::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.ai_providers", "read.ai_overrides"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.ai_providers, read.ai_overrides")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events {
            match event.aggregate_type.as_str() {
                IntegrationSettings::TYPE => apply_settings(conn, event).await?,
                AccountAiSettings::TYPE => apply_overrides(conn, event).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn apply_settings(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    use IntegrationSettingsEvent as E;
    let Some(parsed) = event.decode::<IntegrationSettingsEvent>()? else {
        return Ok(());
    };
    let metadata = event.metadata()?;
    let (at, position) = (metadata.occurred_at, event.at.position);
    match parsed {
        E::IntegrationSettingsInitialized { providers } => {
            for (provider, defaults) in providers {
                sqlx::query(
                    "INSERT INTO read.ai_providers (provider, enabled, settings, updated_at, \
                     last_position) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(provider.as_str())
                .bind(defaults.enabled)
                .bind(Json(&defaults.settings))
                .bind(at)
                .bind(position)
                .execute(&mut *conn)
                .await?;
            }
        }
        E::ProviderConfigured {
            provider,
            enabled,
            settings,
        } => {
            sqlx::query(
                "UPDATE read.ai_providers SET enabled = $2, settings = $3, updated_at = $4, \
                 last_position = $5 WHERE provider = $1",
            )
            .bind(provider.as_str())
            .bind(enabled)
            .bind(Json(&settings))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
        }
        E::ApiKeySet {
            provider,
            key,
            replaces,
        } => {
            sqlx::query(
                "UPDATE read.ai_providers SET key_last4 = $2, key_set_at = $3, key_set_by = $4, \
                 updated_at = $3, last_position = $5 WHERE provider = $1",
            )
            .bind(provider.as_str())
            .bind(&key.last4)
            .bind(at)
            .bind(metadata.actor.to_string())
            .bind(position)
            .execute(&mut *conn)
            .await?;
            if let Some(old) = replaces {
                keyring::destroy(conn, old).await?;
            }
        }
        E::ApiKeyRemoved {
            provider,
            data_key_id,
        } => {
            sqlx::query(
                "UPDATE read.ai_providers SET key_last4 = NULL, key_set_at = NULL, \
                 key_set_by = NULL, updated_at = $2, last_position = $3 WHERE provider = $1",
            )
            .bind(provider.as_str())
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            keyring::destroy(conn, data_key_id).await?;
        }
    }
    Ok(())
}

async fn apply_overrides(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    let Some(AccountAiSettingsEvent::AiOverridesChanged { provider, settings }) =
        event.decode::<AccountAiSettingsEvent>()?
    else {
        return Ok(());
    };
    let account: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    if settings.is_empty() {
        sqlx::query("DELETE FROM read.ai_overrides WHERE account_id = $1 AND provider = $2")
            .bind(account)
            .bind(provider.as_str())
            .execute(conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO read.ai_overrides (account_id, provider, settings, updated_at, updated_by, \
         last_position) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (account_id, provider) DO UPDATE SET settings = EXCLUDED.settings, \
         updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, \
         last_position = EXCLUDED.last_position",
    )
    .bind(account)
    .bind(provider.as_str())
    .bind(Json::<&Settings>(&settings))
    .bind(metadata.occurred_at)
    .bind(metadata.actor.to_string())
    .bind(event.at.position)
    .execute(conn)
    .await?;
    Ok(())
}
