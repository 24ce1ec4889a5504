//! Projection `invoices`: every invoice with its lines, status and figures.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::invoice::{Invoice, InvoiceEvent, InvoiceLine, InvoiceStatus, InvoiceSubject};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "invoices";

pub struct InvoicesProjection;

#[async_trait]
impl EventHandler for InvoicesProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Invoice::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.invoices", "read.invoice_lines"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.invoice_lines, read.invoices")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.aggregate_type == Invoice::TYPE) {
            if let Some(parsed) = event.decode::<InvoiceEvent>()? {
                apply(conn, event, parsed).await?;
            }
        }
        Ok(())
    }
}

/// Sets `status` and touches the row.
async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: InvoiceStatus,
    event: &RecordedEvent,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), HandlerError> {
    sqlx::query(
        "UPDATE read.invoices SET status = $2, updated_at = $3, last_position = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(at)
    .bind(event.at.position)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_lines(
    conn: &mut PgConnection,
    id: Uuid,
    lines: &[InvoiceLine],
) -> Result<(), HandlerError> {
    for line in lines {
        sqlx::query(
            "INSERT INTO read.invoice_lines (invoice_id, line_no, kind, description, quantity, \
             unit_price_minor, amount_minor) \
             SELECT $1, coalesce(max(line_no), 0) + 1, $2, $3, $4, $5, $6 \
             FROM read.invoice_lines WHERE invoice_id = $1",
        )
        .bind(id)
        .bind(line.kind.as_str())
        .bind(&line.description)
        .bind(line.quantity)
        .bind(line.unit_price_minor)
        .bind(line.amount_minor())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn apply(
    conn: &mut PgConnection,
    event: &RecordedEvent,
    parsed: InvoiceEvent,
) -> Result<(), HandlerError> {
    use InvoiceEvent as E;
    let id: Uuid = event.aggregate_id.parse()?;
    let at = event.metadata()?.occurred_at;
    let position = event.at.position;
    match parsed {
        E::InvoiceDrafted {
            account_id,
            currency,
            lines,
            subject,
        } => {
            let (subject_kind, subject_id) = match subject {
                None => (None, None),
                Some(
                    InvoiceSubject::Subscription {
                        subscription_id, ..
                    }
                    | InvoiceSubject::Upgrade {
                        subscription_id, ..
                    },
                ) => (Some("subscription"), Some(subscription_id)),
                Some(InvoiceSubject::CreditPackage { package_id, .. }) => {
                    (Some("credit_package"), Some(package_id))
                }
                Some(InvoiceSubject::LateFee { invoice_id, .. }) => {
                    (Some("late_fee"), Some(invoice_id))
                }
            };
            let total: i64 = lines.iter().map(InvoiceLine::amount_minor).sum();
            sqlx::query(
                "INSERT INTO read.invoices (id, account_id, status, currency, total_minor, \
                 subject_kind, subject_id, created_at, updated_at, last_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            )
            .bind(id)
            .bind(account_id)
            .bind(InvoiceStatus::Draft.as_str())
            .bind(currency.as_str())
            .bind(total)
            .bind(subject_kind)
            .bind(subject_id)
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            insert_lines(conn, id, &lines).await?;
        }
        E::InvoiceLineAdded { line } => {
            sqlx::query(
                "UPDATE read.invoices SET total_minor = total_minor + $2, updated_at = $3, \
                 last_position = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(line.amount_minor())
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            insert_lines(conn, id, std::slice::from_ref(&line)).await?;
        }
        // The draft is locked; the row changes when the number arrives.
        E::InvoiceIssueRequested { .. } => {}
        E::InvoiceIssued {
            number,
            issued_at,
            due_at,
            total,
            ..
        } => {
            sqlx::query(
                "UPDATE read.invoices SET number = $2, number_year = $3, number_sequence = $4, \
                 status = $5, issued_at = $6, due_at = $7, total_minor = $8, updated_at = $9, \
                 last_position = $10 WHERE id = $1",
            )
            .bind(id)
            .bind(number.to_string())
            .bind(number.year)
            .bind(number.sequence)
            .bind(InvoiceStatus::Pending.as_str())
            .bind(issued_at)
            .bind(due_at)
            .bind(total.minor_units)
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
        }
        E::InvoicePaid { payment_id, .. } => {
            sqlx::query(
                "UPDATE read.invoices SET status = $2, paid_at = $3, payment_id = $4, \
                 updated_at = $3, last_position = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(InvoiceStatus::Paid.as_str())
            .bind(at)
            .bind(payment_id)
            .bind(position)
            .execute(conn)
            .await?;
        }
        E::InvoiceReopened { .. } => {
            sqlx::query(
                "UPDATE read.invoices SET status = $2, paid_at = NULL, payment_id = NULL, \
                 updated_at = $3, last_position = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(InvoiceStatus::Pending.as_str())
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
        }
        E::InvoiceCancelled { .. } => {
            set_status(conn, id, InvoiceStatus::Cancelled, event, at).await?
        }
        E::InvoiceVoided { .. } => set_status(conn, id, InvoiceStatus::Void, event, at).await?,
        E::InvoiceRefunded { .. } => {
            set_status(conn, id, InvoiceStatus::Refunded, event, at).await?
        }
        E::InvoiceReminderSent { on, .. } => {
            sqlx::query(
                "UPDATE read.invoices SET reminders_sent = reminders_sent + 1, \
                 last_reminder_on = $2, updated_at = $3, last_position = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(on)
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
        }
        E::InvoiceDunned { stage, .. } => {
            sqlx::query(
                "UPDATE read.invoices SET dunning_stage = $2, updated_at = $3, \
                 last_position = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(stage.as_str())
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
        }
        E::InvoiceLateFeeApplied { .. } => {
            sqlx::query(
                "UPDATE read.invoices SET late_fees = late_fees + 1, updated_at = $2, \
                 last_position = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(position)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}
