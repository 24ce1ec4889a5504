//! Projection `platform_users`: the people of tenant accounts, one row each, and the hashes of
//! their live tokens.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::identity::account_users::{AccountUsers, AccountUsersEvent, UserRole, UserStatus};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct PlatformUsersProjection;

pub const NAME: &str = "platform_users";

#[async_trait]
impl EventHandler for PlatformUsersProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[AccountUsers::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.platform_users", "read.platform_user_tokens"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.platform_users, read.platform_user_tokens")
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
            let Some(parsed) = event.decode::<AccountUsersEvent>()? else {
                continue;
            };
            let account_id: Uuid = event.aggregate_id.parse()?;
            let at = event.metadata()?.occurred_at;
            let position = event.at.position;
            let set = |column: Column, user_id: Uuid| sqlx::query(column.update()).bind(user_id);
            use AccountUsersEvent as E;
            let query = match parsed {
                E::UserAdded {
                    user_id,
                    email,
                    name,
                    role,
                    status,
                } => sqlx::query(
                    "INSERT INTO read.platform_users (id, account_id, email, name, role, status, \
                       email_verified, deleted, joined_at, last_position) \
                     VALUES ($1, $2, $3, $4, $5, $6, false, false, $7, $8)",
                )
                .bind(user_id)
                .bind(account_id)
                .bind(email.as_str().to_string())
                .bind(name.as_str().to_string())
                .bind(role.as_str())
                .bind(status.as_str())
                .bind(at),
                E::UserActivated { user_id } => {
                    set(Column::Status, user_id).bind(UserStatus::Active.as_str())
                }
                E::UserDeactivated { user_id } => {
                    set(Column::Status, user_id).bind(UserStatus::Inactive.as_str())
                }
                E::UserRoleChanged { user_id, role } => {
                    set(Column::Role, user_id).bind(role.as_str())
                }
                E::UserEmailVerified { user_id } => set(Column::EmailVerified, user_id).bind(true),
                E::UserPasswordResetRequested { user_id } => {
                    set(Column::PasswordResetRequestedAt, user_id).bind(at)
                }
                E::UserDeleted { user_id } => set(Column::Deleted, user_id).bind(true),
                E::UserRestored { user_id } => set(Column::Deleted, user_id).bind(false),
                E::OwnershipTransferred { from, to } => sqlx::query(
                    "UPDATE read.platform_users \
                         SET role = CASE WHEN id = $2 THEN $3 ELSE $4 END, last_position = $5 \
                         WHERE id IN ($1, $2)",
                )
                .bind(from)
                .bind(to)
                .bind(UserRole::Owner.as_str())
                .bind(UserRole::Admin.as_str()),
                E::UserTokenIssued {
                    user_id,
                    token_id,
                    token_hash,
                    label,
                } => sqlx::query(
                    "WITH token AS (INSERT INTO read.platform_user_tokens \
                       (token_id, user_id, account_id, token_hash, label, created_at) \
                       VALUES ($2, $1, $3, $4, $5, $6)) \
                     UPDATE read.platform_users SET last_position = $7 WHERE id = $1",
                )
                .bind(user_id)
                .bind(token_id)
                .bind(account_id)
                .bind(token_hash.as_str().to_string())
                .bind(label.as_str().to_string())
                .bind(at),
                E::UserTokenRevoked { user_id, token_id } => sqlx::query(
                    "WITH token AS (UPDATE read.platform_user_tokens SET revoked_at = $3 \
                       WHERE token_id = $2) \
                     UPDATE read.platform_users SET last_position = $4 WHERE id = $1",
                )
                .bind(user_id)
                .bind(token_id)
                .bind(at),
            };
            // Every statement takes the event's position last.
            query.bind(position).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// A column one event sets for one user.
#[derive(Clone, Copy)]
enum Column {
    Status,
    Role,
    EmailVerified,
    Deleted,
    PasswordResetRequestedAt,
}

impl Column {
    /// The statement setting it: `$1` the user, `$2` the value, `$3` the event's position.
    fn update(self) -> &'static str {
        match self {
            Self::Status => {
                "UPDATE read.platform_users SET status = $2, last_position = $3 WHERE id = $1"
            }
            Self::Role => {
                "UPDATE read.platform_users SET role = $2, last_position = $3 WHERE id = $1"
            }
            Self::EmailVerified => {
                "UPDATE read.platform_users SET email_verified = $2, last_position = $3 WHERE id = $1"
            }
            Self::Deleted => {
                "UPDATE read.platform_users SET deleted = $2, last_position = $3 WHERE id = $1"
            }
            Self::PasswordResetRequestedAt => {
                "UPDATE read.platform_users SET password_reset_requested_at = $2, \
                 last_position = $3 WHERE id = $1"
            }
        }
    }
}
