//! The audit trail: one entry per event, who did what, when, why, and in which request.

use crate::error::ApiError;
use crate::graphql::kit::lists::{filter_text, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::{parse_id, Rule};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct AuditEntry {
    pub position: i64,
    /// Business time: when it happened.
    pub occurred_at: DateTime<Utc>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_kind: String,
    /// The event type, e.g. `CreditsAdjusted`.
    pub action: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub account_id: Option<Uuid>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The event's data, with secrets redacted.
    pub payload: serde_json::Value,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(AuditEntry);

#[derive(InputObject, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    /// The event type, e.g. `PaymentApproved`.
    pub action: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub account_id: Option<ID>,
    pub occurred: Option<DateRange>,
}

impl AuditFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        let exact = [
            ("actor_id", "actorId", &self.actor_id),
            ("action", "action", &self.action),
            ("aggregate_type", "aggregateType", &self.aggregate_type),
            ("aggregate_id", "aggregateId", &self.aggregate_id),
        ];
        for (column, field, value) in exact {
            if let Some(value) = value {
                let value = filter_text(field, value)?.unwrap_or_default();
                qb.push(format!(" AND {column} = ")).push_bind(value);
            }
        }
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        if let Some(occurred) = &self.occurred {
            occurred.push(qb, "occurred_at")?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct AuditLogQuery;

#[Object]
impl AuditLogQuery {
    /// Every recorded change, newest first by default.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilter>,
        #[graphql(default_with = "Some(SortDirection::default())")] direction: Option<
            SortDirection,
        >,
    ) -> Result<Page<Key, AuditEntry>, ApiError> {
        // An unset variable arrives as null, which the schema's default does not replace.
        let direction = direction.unwrap_or_default();
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.audit_log",
            columns: "position, occurred_at, recorded_at, actor_id, actor_kind, action, \
                      aggregate_type, aggregate_id, account_id, reason, request_id, correlation_id, payload",
            order: Order::by_occurred_at(direction),
        };
        list.page(ctx, page, |query| filter.push(query)).await
    }
}
