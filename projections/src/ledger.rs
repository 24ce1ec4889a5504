//! Projection `credit_ledger`: every balance change, signed, with the balance after it.

use crate::engine::{EventHandler, HandlerError};
use crate::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "credit_ledger";

pub struct CreditLedgerProjection;

/// One ledger line, as the event states it.
struct Line<'a> {
    kind: &'static str,
    amount: i64,
    balance_after: i64,
    reason: Option<&'a str>,
    payment_id: Option<Uuid>,
    operation: Option<&'a str>,
    model: Option<&'a str>,
    units: Option<i64>,
    shortfall: Option<i64>,
}

impl<'a> Line<'a> {
    fn of(event: &'a AccountEvent) -> Option<Self> {
        let line = |kind, amount: i64, balance_after: i64| Line {
            kind,
            amount,
            balance_after,
            reason: None,
            payment_id: None,
            operation: None,
            model: None,
            units: None,
            shortfall: None,
        };
        Some(match event {
            AccountEvent::CreditsAdjusted {
                amount,
                reason,
                balance_after,
            } => Line {
                reason: Some(reason.as_str()),
                ..line("adjustment", amount.get(), balance_after.get())
            },
            AccountEvent::CreditsPurchased {
                payment_id,
                credits,
                balance_after,
            } => Line {
                payment_id: Some(*payment_id),
                ..line("purchase", credits.get(), balance_after.get())
            },
            AccountEvent::CreditsConsumed {
                operation,
                units,
                model,
                credits,
                balance_after,
            } => Line {
                operation: Some(operation.as_str()),
                model: model.as_ref().map(|m| m.as_str()),
                units: Some(*units),
                ..line("consumption", -credits.get(), balance_after.get())
            },
            AccountEvent::CreditsRefunded {
                payment_id,
                reversed,
                shortfall,
                reason,
                balance_after,
                ..
            } => Line {
                reason: Some(reason.as_str()),
                payment_id: Some(*payment_id),
                shortfall: Some(shortfall.get()),
                ..line("refund", -reversed.get(), balance_after.get())
            },
            _ => return None,
        })
    }
}

#[async_trait]
impl EventHandler for CreditLedgerProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.credit_ledger")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.aggregate_type == Account::TYPE) {
            let parsed = AccountEvent::deserialize(&event.payload)?;
            let Some(line) = Line::of(&parsed) else {
                continue;
            };
            let account_id: Uuid = event.aggregate_id.parse()?;
            sqlx::query(
                "INSERT INTO read.credit_ledger (position, account_id, kind, amount, balance_after, \
                 reason, actor_id, actor_kind, payment_id, operation, model, units, shortfall, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, coalesce($6, $7), $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(event.at.position)
            .bind(account_id)
            .bind(line.kind)
            .bind(line.amount)
            .bind(line.balance_after)
            .bind(line.reason)
            .bind(event.metadata.reason.as_deref())
            .bind(&event.metadata.actor.id)
            .bind(event.metadata.actor.kind.as_str())
            .bind(line.payment_id)
            .bind(line.operation)
            .bind(line.model)
            .bind(line.units)
            .bind(line.shortfall)
            .bind(event.metadata.occurred_at)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
