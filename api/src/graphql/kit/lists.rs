//! Shared pieces of the list queries: sort direction, date ranges, keyset paging in SQL.

use super::page::{wants_total, Key, Page, PageRequest};
use crate::error::ApiError;
use crate::graphql::services;
use async_graphql::{Context, Enum, InputObject, OutputType};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, QueryBuilder};

/// Ties a GraphQL enum (declared with `#[graphql(remote = "…")]` over a domain enum) to the
/// text read models hold: the domain enum's, so the strings live in one place. Gives
/// `as_db` for filters and `TryFrom<String>` for decoding rows.
macro_rules! db_enum {
    ($($graphql:ty => $domain:ty),* $(,)?) => {$(
        impl $graphql {
            // Not every enum is filtered on (e.g. an invoice line's kind).
            #[allow(dead_code)]
            pub(crate) fn as_db(self) -> &'static str {
                <$domain>::from(self).as_str()
            }
        }

        impl TryFrom<String> for $graphql {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                value
                    .parse::<$domain>()
                    .map(Self::from)
                    .map_err(|_| format!("unknown {} `{value}`", stringify!($graphql)))
            }
        }
    )*};
}
pub(crate) use db_enum;

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
    /// The range, checked: dates PostgreSQL can hold, `from` before `to`.
    pub fn checked(&self) -> Result<Self, ApiError> {
        for (field, at) in [("from", self.from), ("to", self.to)] {
            if let Some(at) = at {
                domain::kit::time::filter_date(field, at)?;
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err(ApiError::validation(
                    "a date range needs `from` before `to`",
                ));
            }
        }
        Ok(*self)
    }

    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>, column: &str) -> Result<(), ApiError> {
        let DateRange { from, to } = self.checked()?;
        if let Some(from) = from {
            qb.push(format!(" AND {column} >= ")).push_bind(from);
        }
        if let Some(to) = to {
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

    /// Names this order in its cursors, so a cursor is only ever used with the list and order
    /// that made it.
    fn tag(&self, table: &str) -> String {
        format!("{table}:{}:{:?}", self.column, self.direction)
    }

    /// `, <column> AS sort_value, <id> AS sort_id` for the select list, as text in a form
    /// `check_value` reads back (times in UTC, whatever the session's time zone).
    fn select(&self) -> String {
        let text = |column: &str, cast: &str| match cast {
            "timestamptz" => {
                format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            _ => format!("({column})::text"),
        };
        format!(
            ", {} AS sort_value, {} AS sort_id",
            text(self.column, self.cast),
            text(self.id, self.id_cast)
        )
    }

    /// The keyset condition after the cursor, then ORDER BY and LIMIT. A cursor is checked
    /// before it reaches SQL: one from another list or order, or holding values of the wrong
    /// type, is the client's mistake.
    fn push_page(
        &self,
        table: &str,
        qb: &mut QueryBuilder<'_, Postgres>,
        page: &PageRequest<Key>,
    ) -> Result<(), ApiError> {
        let (direction, comparison) = self.direction.sql();
        if let Some(after) = &page.after {
            if after.order != self.tag(table) {
                return Err(ApiError::validation(
                    "`after` is a cursor from another list or another sort order",
                ));
            }
            check_value(&after.value, self.cast)?;
            check_value(&after.id, self.id_cast)?;
            qb.push(format!(
                " AND ({}, {}) {comparison} (",
                self.column, self.id
            ))
            .push_bind(after.value.clone())
            .push(format!("::{}, ", self.cast))
            .push_bind(after.id.clone())
            .push(format!("::{})", self.id_cast));
        }
        qb.push(format!(
            " ORDER BY {} {direction}, {} {direction} LIMIT ",
            self.column, self.id
        ))
        .push_bind(page.fetch());
        Ok(())
    }
}

/// Whether `value` reads as the SQL type `cast`, so the cast in the query cannot fail.
fn check_value(value: &str, cast: &str) -> Result<(), ApiError> {
    let readable = match cast {
        "bigint" => value.parse::<i64>().is_ok(),
        "uuid" => value.parse::<uuid::Uuid>().is_ok(),
        "timestamptz" => value.parse::<DateTime<Utc>>().is_ok(),
        _ => !value.contains('\0'),
    };
    if readable {
        Ok(())
    } else {
        Err(ApiError::validation(
            "`after` is not a cursor from this list",
        ))
    }
}

/// The longest text accepted in a search or an exact-match filter.
pub const MAX_FILTER_CHARS: usize = 200;

/// A text a client filters by: trimmed, at most [`MAX_FILTER_CHARS`], no control characters
/// (PostgreSQL cannot even hold a NUL). `None` when empty.
pub fn filter_text(field: &str, value: &str) -> Result<Option<String>, ApiError> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "`{field}` must not contain control characters"
        )));
    }
    if value.chars().count() > MAX_FILTER_CHARS {
        return Err(ApiError::validation(format!(
            "`{field}` must be at most {MAX_FILTER_CHARS} characters"
        )));
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

/// `%term%` with `%`, `_` and backslash escaped, so the term matches literally in `ILIKE`;
/// `None` for an empty term. The term is checked as any filter text is (`filter_text`).
pub fn like_pattern(field: &str, term: &str) -> Result<Option<String>, ApiError> {
    Ok(filter_text(field, term)?.map(|term| {
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    }))
}

/// A row of a list query: it carries its own keyset cursor (`sort_value`, `sort_id`, selected
/// by `Order::select`).
pub trait Listed {
    /// The row's sort value and id, as `Order::select` selected them.
    fn key(&self) -> (String, String);
}

/// Implements [`Listed`] for nodes with `sort_value` and `sort_id` fields (each context, for
/// its own nodes: the kit knows none of them).
macro_rules! listed {
    ($($node:ty),* $(,)?) => {$(
        impl $crate::graphql::kit::lists::Listed for $node {
            fn key(&self) -> (String, String) {
                (
                    self.sort_value.clone().unwrap_or_default(),
                    self.sort_id.clone().unwrap_or_default(),
                )
            }
        }
    )*};
}

pub(crate) use listed;

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
        self.order.push_page(self.table, &mut query, &page)?;
        let rows: Vec<T> = query.build_query_as().fetch_all(pool).await?;
        let total = if wants_total(ctx) {
            let mut count =
                QueryBuilder::new(format!("SELECT count(*) FROM {} WHERE true", self.table));
            filter(&mut count)?;
            count.build_query_scalar().fetch_one(pool).await?
        } else {
            0
        };
        let order = self.order.tag(self.table);
        Ok(page.finish(rows, total, |row| {
            let (value, id) = row.key();
            Key {
                order: order.clone(),
                value,
                id,
            }
        }))
    }
}

/// The ids of the rows of `table` that `filter` lets through, in id order, at most `limit`:
/// the items of a bulk action chosen by a list's filter.
pub async fn ids_matching(
    pool: &sqlx::PgPool,
    table: &str,
    limit: usize,
    filter: impl FnOnce(&mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError>,
) -> Result<Vec<uuid::Uuid>, ApiError> {
    let mut query = QueryBuilder::new(format!("SELECT id FROM {table} WHERE true"));
    filter(&mut query)?;
    query.push(" ORDER BY id LIMIT ").push_bind(limit as i64);
    Ok(query.build_query_scalar().fetch_all(pool).await?)
}
