//! Projection `templates`: author profiles and content strategies, the platform's library and
//! accounts' own, each as its latest version stands.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::ai_config::template::{Template, TemplateEvent, TemplateTerms};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "templates";

pub struct TemplatesProjection;

#[async_trait]
impl EventHandler for TemplatesProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Template::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.templates"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.templates").execute(conn).await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events {
            if event.aggregate_type == Template::TYPE {
                apply_template(conn, event).await?;
            }
        }
        Ok(())
    }
}

/// The kind's own fields, as the details column holds them.
fn details(terms: &TemplateTerms) -> serde_json::Value {
    match serde_json::to_value(&terms.details) {
        // `{"AuthorProfile": {...}}`: the kind is its own column.
        Ok(serde_json::Value::Object(map)) => {
            map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
        }
        _ => serde_json::Value::Null,
    }
}

async fn apply_template(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), HandlerError> {
    use TemplateEvent as E;
    let Some(parsed) = event.decode::<TemplateEvent>()? else {
        return Ok(());
    };
    let id: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    let (at, position) = (metadata.occurred_at, event.at.position);
    let (column, value) = match parsed {
        E::TemplateCreated {
            account_id,
            terms,
            cloned_from,
        } => {
            sqlx::query(
                "INSERT INTO read.templates (id, kind, account_id, name, description, category, \
                 details, version, active, deleted, cloned_from_id, cloned_from_version, \
                 created_at, updated_at, last_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, true, false, $8, $9, $10, $10, $11)",
            )
            .bind(id)
            .bind(terms.details.kind().as_str())
            .bind(account_id)
            .bind(&terms.name)
            .bind(&terms.description)
            .bind(terms.category.as_str())
            .bind(Json(details(&terms)))
            .bind(cloned_from.map(|c| c.template_id))
            .bind(cloned_from.map(|c| c.version))
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
            return Ok(());
        }
        E::TemplateRevised { version, terms } => {
            sqlx::query(
                "UPDATE read.templates SET name = $2, description = $3, category = $4, \
                 details = $5, version = $6, updated_at = $7, last_position = $8 WHERE id = $1",
            )
            .bind(id)
            .bind(&terms.name)
            .bind(&terms.description)
            .bind(terms.category.as_str())
            .bind(Json(details(&terms)))
            .bind(version)
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
            return Ok(());
        }
        E::TemplateActivated => ("active", true),
        E::TemplateDeactivated => ("active", false),
        E::TemplateDeleted => ("deleted", true),
        E::TemplateRestored => ("deleted", false),
    };
    sqlx::query(&format!(
        "UPDATE read.templates SET {column} = $2, updated_at = $3, last_position = $4 WHERE id = $1"
    ))
    .bind(id)
    .bind(value)
    .bind(at)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}
