//! The credit ledger: every balance change, newest first.

use super::lists::{db_text, DateRange, List, Order, SortDirection};
use super::page::{Key, Page, PageRequest};
use super::{parse_id, principal};
use crate::error::ApiError;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    Adjustment,
    Purchase,
    Consumption,
    Refund,
}

db_text!(LedgerKind, "ledger kind", {
    Adjustment => "adjustment",
    Purchase => "purchase",
    Consumption => "consumption",
    Refund => "refund",
});

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct LedgerEntry {
    /// Global log position of the event behind this entry.
    pub position: i64,
    pub account_id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: LedgerKind,
    /// Signed: credits added are positive, credits taken are negative.
    pub amount: i64,
    pub balance_after: i64,
    pub reason: Option<String>,
    pub actor_id: String,
    pub actor_kind: String,
    pub payment_id: Option<Uuid>,
    pub operation: Option<String>,
    pub model: Option<String>,
    pub units: Option<i64>,
    /// Refunds only: credits already spent that could not be taken back.
    pub shortfall: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

#[derive(InputObject, Default)]
pub struct LedgerFilter {
    pub account_id: Option<ID>,
    pub kind: Option<Vec<LedgerKind>>,
    pub occurred: Option<DateRange>,
}

impl LedgerFilter {
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        if let Some(kinds) = &self.kind {
            let kinds: Vec<&str> = kinds.iter().map(|k| k.as_db()).collect();
            qb.push(" AND kind = ANY(").push_bind(kinds).push(")");
        }
        if let Some(occurred) = &self.occurred {
            occurred.push(qb, "occurred_at")?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Balance changes by business time, newest first by default.
    async fn credit_ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LedgerFilter>,
        #[graphql(default)] direction: SortDirection,
    ) -> Result<Page<Key, LedgerEntry>, ApiError> {
        principal(ctx)?;
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.credit_ledger",
            columns: "position, account_id, kind, amount, balance_after, reason, actor_id, \
                      actor_kind, payment_id, operation, model, units, shortfall, occurred_at",
            order: Order::by_occurred_at(direction),
        };
        list.page(ctx, page, |query| filter.push(query)).await
    }
}
