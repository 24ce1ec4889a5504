//! Projection `operators`: who may sign in, the hashes of their live tokens, and the permission
//! groups they are in: everything a request's principal is made of, behind one checkpoint.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::identity::group::{Group, GroupEvent};
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
        Consumes::Only(&[Operator::TYPE, Group::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "read.operators",
            "read.operator_tokens",
            "read.permission_groups",
            "read.group_permissions",
            "read.group_members",
        ]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query(
            "TRUNCATE read.operator_tokens, read.operators, read.group_members, \
             read.group_permissions, read.permission_groups",
        )
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
            if event.aggregate_type == Group::TYPE {
                apply_group(conn, event).await?;
                continue;
            }
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

async fn apply_group(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let Some(parsed) = event.decode::<GroupEvent>()? else {
        return Ok(());
    };
    let group_id: Uuid = event.aggregate_id.parse()?;
    let at = event.metadata()?.occurred_at;
    match parsed {
        GroupEvent::GroupCreated { name, permissions } => {
            sqlx::query(
                "INSERT INTO read.permission_groups (id, name, created_at, last_position) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(group_id)
            .bind(name.as_str())
            .bind(at)
            .bind(event.at.position)
            .execute(&mut *conn)
            .await?;
            let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
            sqlx::query(
                "INSERT INTO read.group_permissions (group_id, permission) \
                 SELECT $1, unnest($2::text[])",
            )
            .bind(group_id)
            .bind(&names)
            .execute(&mut *conn)
            .await?;
        }
        GroupEvent::GroupPermissionGranted { permission } => {
            sqlx::query(
                "INSERT INTO read.group_permissions (group_id, permission) VALUES ($1, $2)",
            )
            .bind(group_id)
            .bind(permission.as_str())
            .execute(&mut *conn)
            .await?;
        }
        GroupEvent::GroupPermissionRevoked { permission } => {
            sqlx::query(
                "DELETE FROM read.group_permissions WHERE group_id = $1 AND permission = $2",
            )
            .bind(group_id)
            .bind(permission.as_str())
            .execute(&mut *conn)
            .await?;
        }
        GroupEvent::GroupMemberAdded { operator_id } => {
            sqlx::query(
                "INSERT INTO read.group_members (group_id, operator_id, added_at) VALUES ($1, $2, $3)",
            )
            .bind(group_id)
            .bind(operator_id)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        GroupEvent::GroupMemberRemoved { operator_id } => {
            sqlx::query("DELETE FROM read.group_members WHERE group_id = $1 AND operator_id = $2")
                .bind(group_id)
                .bind(operator_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query("UPDATE read.permission_groups SET last_position = $2 WHERE id = $1")
        .bind(group_id)
        .bind(event.at.position)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
