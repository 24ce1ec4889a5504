//! Projection `credit_ledger`: every balance change, signed, with the balance after it.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::tenancy::account::{Account, AccountEvent, LedgerKind};
use domain::EventMetadata;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "credit_ledger";

pub struct CreditLedgerProjection;

/// One ledger line, as the event states it.
struct Line<'a> {
    kind: LedgerKind,
    amount: i64,
    balance_after: i64,
    reason: Option<&'a str>,
    payment_id: Option<Uuid>,
    operation: Option<&'a str>,
    model: Option<&'a str>,
    units: Option<i64>,
    shortfall: Option<i64>,
    cost_version: Option<i32>,
}

impl<'a> Line<'a> {
    /// The line an event records (`AccountEvent::credit_movement`), with what its kind adds.
    fn of(event: &'a AccountEvent) -> Option<Self> {
        let (kind, amount, balance_after) = event.credit_movement()?;
        let mut line = Line {
            kind,
            amount,
            balance_after,
            reason: None,
            payment_id: None,
            operation: None,
            model: None,
            units: None,
            shortfall: None,
            cost_version: None,
        };
        match event {
            AccountEvent::CreditsAdjusted { reason, .. } => line.reason = Some(reason.as_str()),
            AccountEvent::CreditsPurchased { payment_id, .. } => {
                line.payment_id = Some(*payment_id)
            }
            AccountEvent::CreditsConsumed {
                operation,
                units,
                model,
                cost_version,
                ..
            } => {
                line.operation = Some(operation.as_str());
                line.model = model.as_ref().map(|m| m.as_str());
                line.units = Some(*units);
                line.cost_version = *cost_version;
            }
            AccountEvent::CreditsRefunded {
                payment_id,
                shortfall,
                reason,
                ..
            } => {
                line.reason = Some(reason.as_str());
                line.payment_id = Some(*payment_id);
                line.shortfall = Some(shortfall.get());
            }
            _ => {}
        }
        Some(line)
    }
}

#[async_trait]
impl EventHandler for CreditLedgerProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Account::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.credit_ledger"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.credit_ledger")
            .execute(conn)
            .await?;
        Ok(())
    }

    /// One multi-row insert per batch.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut parsed = Vec::new();
        for event in events.iter().filter(|e| e.aggregate_type == Account::TYPE) {
            if let Some(account_event) = event.decode::<AccountEvent>()? {
                parsed.push((event, event.metadata()?, account_event));
            }
        }
        let mut rows = Rows::default();
        for (event, metadata, account_event) in &parsed {
            if let Some(line) = Line::of(account_event) {
                rows.push(event, metadata, event.aggregate_id.parse()?, line);
            }
        }
        if rows.positions.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO read.credit_ledger (position, account_id, kind, amount, balance_after, \
             reason, actor_id, actor_kind, payment_id, operation, model, units, shortfall, occurred_at, \
             recorded_at, cost_version) \
             SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[], \
             $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::bigint[], \
             $13::bigint[], $14::timestamptz[], $15::timestamptz[], $16::integer[])",
        )
        .bind(&rows.positions)
        .bind(&rows.accounts)
        .bind(&rows.kinds)
        .bind(&rows.amounts)
        .bind(&rows.balances)
        .bind(&rows.reasons)
        .bind(&rows.actors)
        .bind(&rows.actor_kinds)
        .bind(&rows.payments)
        .bind(&rows.operations)
        .bind(&rows.models)
        .bind(&rows.units)
        .bind(&rows.shortfalls)
        .bind(&rows.occurred)
        .bind(&rows.recorded)
        .bind(&rows.cost_versions)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Ledger lines laid out as columns, for `unnest`.
#[derive(Default)]
struct Rows<'a> {
    positions: Vec<i64>,
    accounts: Vec<Uuid>,
    kinds: Vec<&'static str>,
    amounts: Vec<i64>,
    balances: Vec<i64>,
    reasons: Vec<Option<&'a str>>,
    actors: Vec<&'a str>,
    actor_kinds: Vec<&'static str>,
    payments: Vec<Option<Uuid>>,
    operations: Vec<Option<&'a str>>,
    models: Vec<Option<&'a str>>,
    units: Vec<Option<i64>>,
    shortfalls: Vec<Option<i64>>,
    occurred: Vec<DateTime<Utc>>,
    recorded: Vec<DateTime<Utc>>,
    cost_versions: Vec<Option<i32>>,
}

impl<'a> Rows<'a> {
    fn push(
        &mut self,
        event: &'a RecordedEvent,
        metadata: &'a EventMetadata,
        account: Uuid,
        line: Line<'a>,
    ) {
        self.positions.push(event.at.position);
        self.accounts.push(account);
        self.kinds.push(line.kind.as_str());
        self.amounts.push(line.amount);
        self.balances.push(line.balance_after);
        // The event's own reason first; otherwise the reason the command was given.
        self.reasons
            .push(line.reason.or(metadata.reason.as_deref()));
        self.actors.push(&metadata.actor.id);
        self.actor_kinds.push(metadata.actor.kind.as_str());
        self.payments.push(line.payment_id);
        self.operations.push(line.operation);
        self.models.push(line.model);
        self.units.push(line.units);
        self.shortfalls.push(line.shortfall);
        self.occurred.push(metadata.occurred_at);
        self.recorded.push(event.recorded_at);
        self.cost_versions.push(line.cost_version);
    }
}
