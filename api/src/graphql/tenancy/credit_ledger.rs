//! The credit ledger: every balance change, posted in log order as a bank posts.
//!
//! Posting order (the log's) carries the running balance: read in posting order, each line's
//! `balanceAfter` is the previous line's plus its `amount`. Business time (`occurredAt`) is the
//! value date: a usage report may arrive after later lines were posted, and a grant is dated by
//! the approval while it is posted when the process manager applies it. So the list is in
//! posting order by default; ordered by value date it shows the same lines, each with the
//! balance it had when posted, which read top to bottom need not follow on.

use crate::error::ApiError;
use crate::graphql::kit::lists::{db_enum, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::{confine, parse_id, Rule};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::tenancy::account::LedgerKind")]
pub enum LedgerKind {
    Adjustment,
    Purchase,
    Consumption,
    Refund,
    Included,
    Expiry,
}

db_enum!(LedgerKind => domain::tenancy::account::LedgerKind);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct LedgerEntry {
    /// Global log position of the event behind this entry: its place in posting order.
    pub position: i64,
    pub account_id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: LedgerKind,
    /// Signed: credits added are positive, credits taken are negative.
    pub amount: i64,
    /// The account's balance after this line in posting order (by `position`), whatever order
    /// the list is in.
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
    /// Consumptions the service priced: the version of the operation's credit cost that did
    /// (see `creditCosts`).
    pub cost_version: Option<i32>,
    /// Value date: when it happened (business time), as the command stated it.
    pub occurred_at: DateTime<Utc>,
    /// When the line was posted (the store recorded its event).
    pub recorded_at: DateTime<Utc>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(LedgerEntry);

#[derive(InputObject, Default)]
pub struct LedgerFilter {
    pub account_id: Option<ID>,
    pub kind: Option<Vec<LedgerKind>>,
    pub occurred: Option<DateRange>,
}

impl LedgerFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
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

/// How ledger lines are ordered.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum LedgerOrder {
    /// Posting order (the log's): the order `balanceAfter` runs in.
    #[default]
    Posted,
    /// By value date (`occurredAt`), posting order breaking ties. `balanceAfter` still belongs
    /// to posting order.
    ValueDate,
}

impl LedgerOrder {
    fn order(self, direction: SortDirection) -> Order {
        match self {
            Self::Posted => Order {
                column: "position",
                cast: "bigint",
                id: "position",
                id_cast: "bigint",
                direction,
            },
            Self::ValueDate => Order::by_occurred_at(direction),
        }
    }
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Balance changes, newest first by default, in posting order unless `orderBy` says
    /// otherwise (see `LedgerEntry.balanceAfter`).
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn credit_ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LedgerFilter>,
        #[graphql(default_with = "Some(SortDirection::default())")] direction: Option<
            SortDirection,
        >,
        #[graphql(default_with = "Some(LedgerOrder::default())")] order_by: Option<LedgerOrder>,
    ) -> Result<Page<Key, LedgerEntry>, ApiError> {
        // An unset variable arrives as null, which the schema's default does not replace.
        let (direction, order_by) = (direction.unwrap_or_default(), order_by.unwrap_or_default());
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.credit_ledger",
            columns: "position, account_id, kind, amount, balance_after, reason, actor_id, \
                      actor_kind, payment_id, operation, model, units, shortfall, occurred_at, \
                      recorded_at, cost_version",
            order: order_by.order(direction),
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "account_id");
            filter.push(query)
        })
        .await
    }
}
