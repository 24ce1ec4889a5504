//! Shared pieces of the list queries: sort direction, date ranges, keyset paging in SQL.

use super::page::{wants_total, Key, Page, PageRequest};
use super::services;
use crate::error::ApiError;
use async_graphql::{Context, Enum, InputObject, OutputType};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, QueryBuilder};

/// A GraphQL enum kept as lower-case text in a read model: one list of pairs gives both
/// directions (`as_db` for filters, `TryFrom<String>` for decoding rows), so they cannot drift.
macro_rules! db_text {
    ($ty:ty, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub(crate) fn as_db(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                match value.as_str() {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} `{other}`", $what)),
                }
            }
        }
    };
}
pub(crate) use db_text;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

impl SortDirection {
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Self::Asc => ("ASC", ">"),
            Self::Desc => ("DESC", "<"),
        }
    }
}

/// A time range, inclusive of `from` and exclusive of `to`.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct DateRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl DateRange {
    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>, column: &str) -> Result<(), ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err(ApiError::validation(
                    "a date range needs `from` before `to`",
                ));
            }
        }
        if let Some(from) = self.from {
            qb.push(format!(" AND {column} >= ")).push_bind(from);
        }
        if let Some(to) = self.to {
            qb.push(format!(" AND {column} < ")).push_bind(to);
        }
        Ok(())
    }
}

/// How a list is ordered: a column (with its SQL type, for casting the cursor back) and the
/// unique id column that breaks ties.
pub struct Order {
    pub column: &'static str,
    pub cast: &'static str,
    pub id: &'static str,
    pub id_cast: &'static str,
    pub direction: SortDirection,
}

impl Order {
    /// Business time, the log position breaking ties: the order of the ledger and the audit log.
    pub fn by_occurred_at(direction: SortDirection) -> Self {
        Self {
            column: "occurred_at",
            cast: "timestamptz",
            id: "position",
            id_cast: "bigint",
            direction,
        }
    }

    /// `, <column>::text AS sort_value` for the select list.
    pub fn select(&self) -> String {
        format!(
            ", ({})::text AS sort_value, ({})::text AS sort_id",
            self.column, self.id
        )
    }

    /// The keyset condition after the cursor, then ORDER BY and LIMIT.
    pub fn push_page(&self, qb: &mut QueryBuilder<'_, Postgres>, page: &PageRequest<Key>) {
        let (direction, comparison) = self.direction.sql();
        if let Some((value, id)) = &page.after {
            qb.push(format!(
                " AND ({}, {}) {comparison} (",
                self.column, self.id
            ))
            .push_bind(value.clone())
            .push(format!("::{}, ", self.cast))
            .push_bind(id.clone())
            .push(format!("::{})", self.id_cast));
        }
        qb.push(format!(
            " ORDER BY {} {direction}, {} {direction} LIMIT ",
            self.column, self.id
        ))
        .push_bind(page.fetch());
    }
}

/// `%term%` with `%`, `_` and backslash escaped, so the term matches literally in `ILIKE`.
pub fn like_pattern(term: &str) -> Option<String> {
    let term = term.trim();
    (!term.is_empty()).then(|| {
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// A row of a list query: it carries its own keyset cursor (`sort_value`, `sort_id`, selected
/// by `Order::select`).
pub trait Listed {
    fn key(&self) -> Key;
}

macro_rules! listed {
    ($($node:ty),* $(,)?) => {$(
        impl Listed for $node {
            fn key(&self) -> Key {
                (
                    self.sort_value.clone().unwrap_or_default(),
                    self.sort_id.clone().unwrap_or_default(),
                )
            }
        }
    )*};
}

listed!(
    super::accounts::AccountNode,
    super::payments::PaymentNode,
    super::ledger::LedgerEntry,
    super::audit::AuditEntry,
);

/// What a list reads: a read-model table, the columns of its node, and its order.
pub struct List {
    pub table: &'static str,
    pub columns: &'static str,
    pub order: Order,
}

impl List {
    /// One page of the list, filtered by `filter`; the total is counted only when asked for.
    pub async fn page<T>(
        &self,
        ctx: &Context<'_>,
        page: PageRequest<Key>,
        filter: impl Fn(&mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError>,
    ) -> Result<Page<Key, T>, ApiError>
    where
        T: for<'r> FromRow<'r, PgRow> + OutputType + Listed + Send + Unpin,
    {
        let pool = &services(ctx).pool;
        let mut query = QueryBuilder::new(format!(
            "SELECT {}{} FROM {} WHERE true",
            self.columns,
            self.order.select(),
            self.table
        ));
        filter(&mut query)?;
        self.order.push_page(&mut query, &page);
        let rows: Vec<T> = query.build_query_as().fetch_all(pool).await?;
        let total = if wants_total(ctx) {
            let mut count =
                QueryBuilder::new(format!("SELECT count(*) FROM {} WHERE true", self.table));
            filter(&mut count)?;
            count.build_query_scalar().fetch_one(pool).await?
        } else {
            0
        };
        Ok(page.finish(rows, total, Listed::key))
    }
}
