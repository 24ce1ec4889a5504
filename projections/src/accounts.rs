//! Projection `accounts`: the account list with status, plan and balance.

use crate::engine::{EventHandler, HandlerError};
use crate::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "accounts";

pub struct AccountsProjection;

/// The columns one event changes; `None` leaves a column as it is.
#[derive(Default)]
struct Change<'a> {
    name: Option<&'a str>,
    plan: Option<&'a str>,
    status: Option<&'a str>,
    balance: Option<i64>,
}

#[async_trait]
impl EventHandler for AccountsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.accounts").execute(conn).await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.aggregate_type == Account::TYPE) {
            let id: Uuid = event.aggregate_id.parse()?;
            let at = event.metadata.occurred_at;
            let parsed = AccountEvent::deserialize(&event.payload)?;
            let change = match &parsed {
                AccountEvent::AccountOpened {
                    name,
                    slug,
                    owner_email,
                    plan,
                } => {
                    sqlx::query(
                        "INSERT INTO read.accounts (id, name, slug, owner_email, plan, status, \
                         balance, created_at, last_activity_at, last_position) \
                         VALUES ($1, $2, $3, $4, $5, 'active', 0, $6, $6, $7)",
                    )
                    .bind(id)
                    .bind(name.as_str())
                    .bind(slug.as_str())
                    .bind(owner_email.as_str())
                    .bind(plan.as_str())
                    .bind(at)
                    .bind(event.at.position)
                    .execute(&mut *conn)
                    .await?;
                    continue;
                }
                AccountEvent::AccountRenamed { name } => Change {
                    name: Some(name.as_str()),
                    ..Change::default()
                },
                AccountEvent::AccountPlanChanged { to, .. } => Change {
                    plan: Some(to.as_str()),
                    ..Change::default()
                },
                AccountEvent::AccountSuspended { .. } => Change {
                    status: Some("suspended"),
                    ..Change::default()
                },
                AccountEvent::AccountActivated => Change {
                    status: Some("active"),
                    ..Change::default()
                },
                AccountEvent::AccountDeleted { .. } => Change {
                    status: Some("deleted"),
                    ..Change::default()
                },
                AccountEvent::AccountRestored { status } => Change {
                    status: Some(status.as_str()),
                    ..Change::default()
                },
                AccountEvent::CreditsAdjusted { balance_after, .. }
                | AccountEvent::CreditsPurchased { balance_after, .. }
                | AccountEvent::CreditsConsumed { balance_after, .. }
                | AccountEvent::CreditsRefunded { balance_after, .. } => Change {
                    balance: Some(balance_after.get()),
                    ..Change::default()
                },
            };
            sqlx::query(
                "UPDATE read.accounts SET name = coalesce($2, name), plan = coalesce($3, plan), \
                 status = coalesce($4, status), balance = coalesce($5, balance), \
                 last_activity_at = greatest(last_activity_at, $6), last_position = $7 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(change.name)
            .bind(change.plan)
            .bind(change.status)
            .bind(change.balance)
            .bind(at)
            .bind(event.at.position)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
