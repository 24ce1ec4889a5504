//! Projection `payments`: the manual-payment approval queue and its history.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::payment::{Payment, PaymentEvent, PaymentStatus};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "payments";

pub struct PaymentsProjection;

#[async_trait]
impl EventHandler for PaymentsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Payment::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.payments"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.payments").execute(conn).await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.aggregate_type == Payment::TYPE) {
            let Some(parsed) = event.decode::<PaymentEvent>()? else {
                continue;
            };
            let id: Uuid = event.aggregate_id.parse()?;
            let metadata = event.metadata()?;
            let at = metadata.occurred_at;
            let position = event.at.position;
            let query = match parsed {
                PaymentEvent::PaymentRecorded {
                    account_id,
                    amount,
                    credits,
                    method,
                    reference,
                    note,
                    invoice_id,
                    package,
                } => sqlx::query(
                    "INSERT INTO read.payments (id, account_id, amount_minor, currency, credits, \
                     method, reference, note, status, recorded_by, recorded_at, updated_at, last_position, \
                     invoice_id, package_id, package_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $12, $9, $10, $10, $11, $13, $14, $15)",
                )
                .bind(id)
                .bind(account_id)
                .bind(amount.minor_units)
                .bind(amount.currency.as_str().to_string())
                .bind(credits.get())
                .bind(method.as_str())
                .bind(reference.map(|r| r.as_str().to_string()))
                .bind(note.map(|n| n.as_str().to_string()))
                .bind(metadata.actor.id.clone())
                .bind(at)
                .bind(position)
                .bind(PaymentStatus::Pending.as_str())
                .bind(invoice_id)
                .bind(package.map(|p| p.package_id))
                .bind(package.map(|p| p.version)),
                PaymentEvent::PaymentApproved { approver, .. } => sqlx::query(
                    "UPDATE read.payments SET status = $5, approved_by = $2, approved_at = $3, \
                     updated_at = $3, last_position = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(approver)
                .bind(at)
                .bind(position)
                .bind(PaymentStatus::Approved.as_str()),
                PaymentEvent::PaymentRejected { reason, .. } => sqlx::query(
                    "UPDATE read.payments SET status = $5, rejected_reason = $2, \
                     updated_at = $3, last_position = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(reason.as_str().to_string())
                .bind(at)
                .bind(position)
                .bind(PaymentStatus::Rejected.as_str()),
                PaymentEvent::PaymentRefunded { reason, .. } => sqlx::query(
                    "UPDATE read.payments SET status = $5, refund_reason = $2, \
                     updated_at = $3, last_position = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(reason.as_str().to_string())
                .bind(at)
                .bind(position)
                .bind(PaymentStatus::Refunded.as_str()),
            };
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}
