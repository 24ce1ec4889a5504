//! Projection `deadlines`: what the [scheduler](super::scheduler) is to do, and when.
//!
//! Derived from the events alone:
//! - a subscription period that starts has its end to act on (`period_end`); the renewal that
//!   follows moves it to the next period's end, a cancellation or an expiry removes it;
//! - an issued invoice (not a late fee) has its dunning stages (`overdue`, `late_fee`,
//!   `suspension`, at the times `DunningStage::at` gives); each goes when the invoice records
//!   it, and all go when the invoice is paid, cancelled, voided or refunded. (An invoice put
//!   back to pending is not chased again on its own: its stages stay as they were.)
//!
//! A deadline the scheduler carried out is gone because of the event it caused, so a rebuild
//! yields exactly the pending ones.

use super::scheduler::DeadlineKind;
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::invoice::{DunningStage, Invoice, InvoiceEvent, InvoiceSubject};
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
        Consumes::Only(&[Subscription::TYPE, Invoice::TYPE])
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
        for event in events {
            let id: Uuid = match event.aggregate_type.as_str() {
                Subscription::TYPE | Invoice::TYPE => event.aggregate_id.parse()?,
                _ => continue,
            };
            let position = event.at.position;
            if let Some(parsed) = event.decode::<SubscriptionEvent>()? {
                on_subscription(conn, id, parsed, position).await?;
            } else if let Some(parsed) = event.decode::<InvoiceEvent>()? {
                on_invoice(conn, id, parsed, position).await?;
            }
        }
        Ok(())
    }
}

async fn on_subscription(
    conn: &mut PgConnection,
    id: Uuid,
    event: SubscriptionEvent,
    position: i64,
) -> Result<(), HandlerError> {
    use SubscriptionEvent as E;
    match event {
        E::SubscriptionStarted { period_end, .. }
        | E::SubscriptionActivated { period_end, .. }
        | E::SubscriptionRenewed { period_end, .. } => {
            set(conn, DeadlineKind::PeriodEnd, id, period_end, position).await
        }
        E::SubscriptionCancelled { .. } | E::SubscriptionExpired { .. } => {
            clear(conn, &[DeadlineKind::PeriodEnd], id).await
        }
        E::SubscriptionUpgraded { .. }
        | E::SubscriptionDowngradeScheduled { .. }
        | E::SubscriptionCancellationScheduled { .. }
        | E::SubscriptionPastDue { .. } => Ok(()),
    }
}

async fn on_invoice(
    conn: &mut PgConnection,
    id: Uuid,
    event: InvoiceEvent,
    position: i64,
) -> Result<(), HandlerError> {
    use InvoiceEvent as E;
    let dunning: Vec<DeadlineKind> = DunningStage::ALL.map(DeadlineKind::Dun).to_vec();
    match event {
        E::InvoiceIssued {
            subject: Some(InvoiceSubject::LateFee { .. }),
            ..
        } => Ok(()),
        E::InvoiceIssued { due_at, .. } => {
            for stage in DunningStage::ALL {
                set(
                    conn,
                    DeadlineKind::Dun(stage),
                    id,
                    stage.at(due_at),
                    position,
                )
                .await?;
            }
            Ok(())
        }
        E::InvoiceDunned { stage, .. } => clear(conn, &[DeadlineKind::Dun(stage)], id).await,
        E::InvoicePaid { .. }
        | E::InvoiceCancelled { .. }
        | E::InvoiceVoided { .. }
        | E::InvoiceRefunded { .. } => clear(conn, &dunning, id).await,
        E::InvoiceDrafted { .. }
        | E::InvoiceLineAdded { .. }
        | E::InvoiceIssueRequested { .. }
        | E::InvoiceReopened { .. }
        | E::InvoiceReminderSent { .. }
        | E::InvoiceLateFeeApplied { .. } => Ok(()),
    }
}

async fn clear(
    conn: &mut PgConnection,
    kinds: &[DeadlineKind],
    id: Uuid,
) -> Result<(), HandlerError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    sqlx::query("DELETE FROM read.deadlines WHERE kind = ANY($1) AND aggregate_id = $2")
        .bind(kinds)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
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
