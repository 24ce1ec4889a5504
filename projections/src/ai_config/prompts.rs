//! Projection `prompts`: the prompt library (each global prompt, with every version's text)
//! and each account's customized prompts.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::ai_config::account_prompts::{AccountPrompts, AccountPromptsEvent};
use domain::ai_config::prompt::{GlobalPrompt, PromptEvent};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "prompts";

pub struct PromptsProjection;

#[async_trait]
impl EventHandler for PromptsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[GlobalPrompt::TYPE, AccountPrompts::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "read.prompts",
            "read.prompt_versions",
            "read.account_prompts",
        ]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.prompt_versions, read.prompts, read.account_prompts")
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
                GlobalPrompt::TYPE => apply_prompt(conn, event).await?,
                AccountPrompts::TYPE => apply_customization(conn, event).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn apply_prompt(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    use PromptEvent as E;
    let Some(parsed) = event.decode::<PromptEvent>()? else {
        return Ok(());
    };
    let id: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    let (at, position) = (metadata.occurred_at, event.at.position);
    let (version, text) = match parsed {
        E::PromptCreated {
            prompt_type,
            description,
            variables,
            text,
        } => {
            sqlx::query(
                "INSERT INTO read.prompts (id, prompt_type, description, variables, \
                 published_version, latest_version, active, created_at, updated_at, last_position) \
                 VALUES ($1, $2, $3, $4, 1, 1, true, $5, $5, $6)",
            )
            .bind(id)
            .bind(prompt_type.as_str())
            .bind(&description)
            .bind(Json(&variables))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            (1, text)
        }
        E::PromptVersionSaved { version, text } => {
            sqlx::query(
                "UPDATE read.prompts SET latest_version = $2, updated_at = $3, last_position = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(version)
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            (version, text)
        }
        E::PromptVersionPublished { version } => {
            sqlx::query(
                "UPDATE read.prompts SET published_version = $2, updated_at = $3, \
                 last_position = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(version)
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            return Ok(());
        }
        E::PromptActivated | E::PromptDeactivated => {
            sqlx::query(
                "UPDATE read.prompts SET active = $2, updated_at = $3, last_position = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(matches!(parsed, E::PromptActivated))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            return Ok(());
        }
    };
    sqlx::query(
        "INSERT INTO read.prompt_versions (prompt_id, version, text, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(version)
    .bind(&text)
    .bind(at)
    .bind(metadata.actor.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_customization(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    let Some(parsed) = event.decode::<AccountPromptsEvent>()? else {
        return Ok(());
    };
    let account: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    match parsed {
        AccountPromptsEvent::PromptCustomized {
            prompt_type,
            text,
            based_on_version,
        } => {
            sqlx::query(
                "INSERT INTO read.account_prompts (account_id, prompt_type, text, \
                 based_on_version, customized_at, customized_by, last_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (account_id, prompt_type) DO UPDATE SET text = EXCLUDED.text, \
                 based_on_version = EXCLUDED.based_on_version, \
                 customized_at = EXCLUDED.customized_at, customized_by = EXCLUDED.customized_by, \
                 last_position = EXCLUDED.last_position",
            )
            .bind(account)
            .bind(prompt_type.as_str())
            .bind(&text)
            .bind(based_on_version)
            .bind(metadata.occurred_at)
            .bind(metadata.actor.to_string())
            .bind(event.at.position)
            .execute(conn)
            .await?;
        }
        AccountPromptsEvent::PromptResetToDefault { prompt_type } => {
            sqlx::query(
                "DELETE FROM read.account_prompts WHERE account_id = $1 AND prompt_type = $2",
            )
            .bind(account)
            .bind(prompt_type.as_str())
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}
