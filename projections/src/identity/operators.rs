//! Projection `operators`: who may sign in, and the hashes of their live tokens.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::identity::operator::{Operator, OperatorEvent};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct OperatorsProjection;

pub const NAME: &str = "operators";

#[async_trait]
impl EventHandler for OperatorsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Operator::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.operators", "read.operator_tokens"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.operator_tokens, read.operators")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.aggregate_type == Operator::TYPE) {
            let Some(parsed) = event.decode::<OperatorEvent>()? else {
                continue;
            };
            let operator_id: Uuid = event.aggregate_id.parse()?;
            let at = event.metadata()?.occurred_at;
            match parsed {
                OperatorEvent::OperatorRegistered {
                    email,
                    display_name,
                    superuser,
                    service,
                } => {
                    sqlx::query(
                        "INSERT INTO read.operators \
                         (id, email, display_name, superuser, service, created_at, last_position) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(operator_id)
                    .bind(email.as_str())
                    .bind(display_name.as_str())
                    .bind(superuser)
                    .bind(service)
                    .bind(at)
                    .bind(event.at.position)
                    .execute(&mut *conn)
                    .await?;
                }
                OperatorEvent::OperatorTokenIssued {
                    token_id,
                    token_hash,
                    label,
                } => {
                    sqlx::query(
                        "INSERT INTO read.operator_tokens \
                         (token_id, operator_id, token_hash, label, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(token_id)
                    .bind(operator_id)
                    .bind(token_hash.as_str())
                    .bind(label.as_str())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
                OperatorEvent::OperatorTokenRevoked { token_id } => {
                    sqlx::query(
                        "UPDATE read.operator_tokens SET revoked_at = $2 WHERE token_id = $1",
                    )
                    .bind(token_id)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        Ok(())
    }
}
