//! Projection `audit_log`: one row per event, for auditors: who did what, to which account,
//! when, why, and in which request. Secrets are redacted from the payload before it is stored.

use super::redact::redact;
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::tenancy::account::Account;
use domain::EventMetadata;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "audit_log";

pub struct AuditLogProjection;

/// Events are stored as `{"Variant": {fields}}`; the fields are what carry facts.
fn fields(payload: &Value) -> Option<&serde_json::Map<String, Value>> {
    payload.as_object()?.values().next()?.as_object()
}

/// The account an event concerns: the account itself, or the `account_id` it names.
fn account_of(event: &RecordedEvent) -> Option<Uuid> {
    if event.aggregate_type == Account::TYPE {
        return event.aggregate_id.parse().ok();
    }
    fields(&event.payload)?
        .get("account_id")?
        .as_str()?
        .parse()
        .ok()
}

pub(super) fn reason_of(event: &RecordedEvent, metadata: &EventMetadata) -> Option<String> {
    metadata.reason.clone().or_else(|| {
        fields(&event.payload)?
            .get("reason")?
            .as_str()
            .map(str::to_string)
    })
}

#[async_trait]
impl EventHandler for AuditLogProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Everything
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.audit_log"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.audit_log").execute(conn).await?;
        Ok(())
    }

    /// One multi-row insert per batch: the audit log sees every event, so it is the projection
    /// that most needs to keep up.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut positions = Vec::with_capacity(events.len());
        let mut occurred: Vec<DateTime<Utc>> = Vec::with_capacity(events.len());
        let mut recorded: Vec<DateTime<Utc>> = Vec::with_capacity(events.len());
        let mut actors = Vec::with_capacity(events.len());
        let mut actor_kinds = Vec::with_capacity(events.len());
        let mut actions = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut ids = Vec::with_capacity(events.len());
        let mut accounts: Vec<Option<Uuid>> = Vec::with_capacity(events.len());
        let mut reasons: Vec<Option<String>> = Vec::with_capacity(events.len());
        let mut requests: Vec<Option<String>> = Vec::with_capacity(events.len());
        let mut correlations = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        for event in events {
            let metadata = event.metadata()?;
            positions.push(event.at.position);
            occurred.push(metadata.occurred_at);
            recorded.push(event.recorded_at);
            actors.push(metadata.actor.id.as_str());
            actor_kinds.push(metadata.actor.kind.as_str());
            actions.push(event.event_type.as_str());
            types.push(event.aggregate_type.as_str());
            ids.push(event.aggregate_id.as_str());
            accounts.push(account_of(event));
            reasons.push(reason_of(event, metadata));
            requests.push(metadata.request_id.clone());
            correlations.push(metadata.correlation_id.as_str());
            payloads.push(redact(event.payload.clone()));
        }
        sqlx::query(
            "INSERT INTO read.audit_log (position, occurred_at, recorded_at, actor_id, actor_kind, \
             action, aggregate_type, aggregate_id, account_id, reason, request_id, correlation_id, payload) \
             SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], \
             $12::text[], $13::jsonb[])",
        )
        .bind(&positions)
        .bind(&occurred)
        .bind(&recorded)
        .bind(&actors)
        .bind(&actor_kinds)
        .bind(&actions)
        .bind(&types)
        .bind(&ids)
        .bind(&accounts)
        .bind(&reasons)
        .bind(&requests)
        .bind(&correlations)
        .bind(&payloads)
        .execute(conn)
        .await?;
        Ok(())
    }
}
