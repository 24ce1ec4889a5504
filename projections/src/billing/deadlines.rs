//! Projection `deadlines`: what the [scheduler](super::scheduler) is to do, and when.
//!
//! Derived from the events alone: a subscription period that starts has its end to act on
//! (`period_end`, due at the period's end); the renewal that follows moves it to the next
//! period's end, and a cancellation or an expiry removes it. A deadline the scheduler carried
//! out is gone because of the event it caused, so a rebuild yields exactly the pending ones.

use super::scheduler::DeadlineKind;
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::subscription::{Subscription, SubscriptionEvent};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "deadlines";

pub struct DeadlinesProjection;

#[async_trait]
impl EventHandler for DeadlinesProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Subscription::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.deadlines"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.deadlines").execute(conn).await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        use SubscriptionEvent as E;
        for event in events
            .iter()
            .filter(|e| e.aggregate_type == Subscription::TYPE)
        {
            let Some(parsed) = event.decode::<SubscriptionEvent>()? else {
                continue;
            };
            let id: Uuid = event.aggregate_id.parse()?;
            let position = event.at.position;
            match parsed {
                E::SubscriptionStarted { period_end, .. }
                | E::SubscriptionActivated { period_end, .. }
                | E::SubscriptionRenewed { period_end, .. } => {
                    set(conn, DeadlineKind::PeriodEnd, id, period_end, position).await?
                }
                E::SubscriptionCancelled { .. } | E::SubscriptionExpired { .. } => {
                    sqlx::query("DELETE FROM read.deadlines WHERE kind = $1 AND aggregate_id = $2")
                        .bind(DeadlineKind::PeriodEnd.as_str())
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                }
                E::SubscriptionUpgraded { .. }
                | E::SubscriptionDowngradeScheduled { .. }
                | E::SubscriptionCancellationScheduled { .. }
                | E::SubscriptionPastDue { .. } => {}
            }
        }
        Ok(())
    }
}

async fn set(
    conn: &mut PgConnection,
    kind: DeadlineKind,
    id: Uuid,
    due_at: DateTime<Utc>,
    position: i64,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO read.deadlines (kind, aggregate_id, due_at, last_position) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, aggregate_id) DO UPDATE SET due_at = EXCLUDED.due_at, \
         last_position = EXCLUDED.last_position",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(due_at)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}
