//! What the grouped reports share: sums of a daily read model over a date range, grouped by the
//! period, the account and the report's own columns, largest first, with totals over the whole
//! range whatever the limit.

use super::dashboard::{check_range, Interval};
use crate::error::ApiError;
use async_graphql::ID;
use chrono::NaiveDate;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, QueryBuilder, Row};
use uuid::Uuid;

/// The most rows one report answers.
pub const MAX_ROWS: i32 = 1_000;

/// One report's query.
pub(crate) struct Grouping<'a> {
    /// The daily read model, aliased `r`, with columns `day` and `account_id`.
    pub table: &'static str,
    /// What every counted row meets, e.g. `r.kind = 'content'`; `true` for all.
    pub only: &'static str,
    /// Group by period, in buckets of this interval.
    pub period: Option<Interval>,
    pub by_account: bool,
    /// The report's other groups: (expression over `r`, alias).
    pub groups: Vec<(&'static str, &'static str)>,
    /// Columns of `r` summed; the rows are ordered by the first, largest first.
    pub measures: &'a [&'static str],
}

pub(crate) struct Grouped {
    pub rows: Vec<PgRow>,
    /// The measures' sums over the whole range, in `measures`' order.
    pub totals: Vec<i64>,
    /// True when there were more groups than the limit.
    pub truncated: bool,
}

impl Grouping<'_> {
    /// Runs the report from `from` to `to` (both included), for one account or all, answering
    /// at most `limit` rows (1 to [`MAX_ROWS`]).
    pub async fn run(
        &self,
        pool: &PgPool,
        from: NaiveDate,
        to: NaiveDate,
        account: Option<Uuid>,
        limit: i32,
    ) -> Result<Grouped, ApiError> {
        check_range(from, to)?;
        if !(1..=MAX_ROWS).contains(&limit) {
            return Err(ApiError::validation(format!(
                "`limit` must be between 1 and {MAX_ROWS}"
            )));
        }
        let mut groups: Vec<&str> = Vec::new();
        let mut query = QueryBuilder::new("SELECT ");
        if let Some(interval) = self.period {
            query
                .push("date_trunc(")
                .push_bind(interval.as_sql())
                .push(", r.day::timestamp)::date AS period, ");
            groups.push("period");
        }
        if self.by_account {
            query.push(
                "r.account_id, (SELECT a.name FROM read.accounts a WHERE a.id = r.account_id) \
                 AS account_name, ",
            );
            groups.push("r.account_id");
        }
        for (expression, alias) in &self.groups {
            query.push(format_args!("{expression} AS {alias}, "));
            groups.push(alias);
        }
        for measure in self.measures {
            query.push(format_args!(
                "coalesce(sum(r.{measure}), 0)::bigint AS {measure}, \
                 sum(sum(r.{measure})) OVER ()::bigint AS total_{measure}, "
            ));
        }
        query.push(format_args!(
            "true FROM {} WHERE {} AND r.day BETWEEN ",
            self.table, self.only
        ));
        query.push_bind(from).push(" AND ").push_bind(to);
        if let Some(account) = account {
            query.push(" AND r.account_id = ").push_bind(account);
        }
        if !groups.is_empty() {
            query.push(" GROUP BY ").push(groups.join(", "));
        }
        query.push(format_args!(" ORDER BY {} DESC", self.measures[0]));
        for group in &groups {
            query.push(", ").push(*group);
        }
        query.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let mut rows = query.build().fetch_all(pool).await?;
        let totals = self
            .measures
            .iter()
            .map(|measure| {
                Ok(rows
                    .first()
                    .map(|r| r.try_get::<Option<i64>, _>(format!("total_{measure}").as_str()))
                    .transpose()?
                    .flatten()
                    .unwrap_or(0))
            })
            .collect::<Result<Vec<i64>, sqlx::Error>>()?;
        let truncated = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(Grouped {
            rows,
            totals,
            truncated,
        })
    }
}

/// A row's period, account and the report's text groups, each present when grouped by.
pub(crate) struct Groups {
    pub period: Option<NaiveDate>,
    pub account_id: Option<ID>,
    pub account_name: Option<String>,
}

impl Grouping<'_> {
    /// The period and account of `row`, when grouped by them.
    pub fn groups_of(&self, row: &PgRow) -> Result<Groups, sqlx::Error> {
        Ok(Groups {
            period: self.period.map(|_| row.try_get("period")).transpose()?,
            account_id: self
                .by_account
                .then(|| row.try_get::<Uuid, _>("account_id"))
                .transpose()?
                .map(|id| ID(id.to_string())),
            account_name: if self.by_account {
                row.try_get("account_name")?
            } else {
                None
            },
        })
    }

    /// The text group `alias` of `row`, when grouped by it.
    pub fn text(&self, row: &PgRow, alias: &str) -> Result<Option<String>, sqlx::Error> {
        self.groups
            .iter()
            .any(|(_, a)| *a == alias)
            .then(|| row.try_get::<String, _>(alias))
            .transpose()
    }
}
