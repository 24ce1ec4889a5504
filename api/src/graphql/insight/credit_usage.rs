//! The credit usage report: credits the platform consumed over a date range, grouped by any of
//! period, account, operation and model, largest first (grouped by account: the top
//! consumers). Read from `read.credit_usage_daily`.

use super::dashboard::Interval;
use crate::error::ApiError;
use crate::graphql::{parse_id, services, Rule};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::NaiveDate;
use domain::identity::permission::Permission;
use sqlx::{QueryBuilder, Row};

/// The most rows one report answers.
pub const MAX_ROWS: i32 = 1_000;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UsageDimension {
    /// The period (`interval`) the usage fell in.
    Period,
    Account,
    Operation,
    Model,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The first day of the period, when grouped by period.
    pub period: Option<NaiveDate>,
    pub account_id: Option<ID>,
    pub account_name: Option<String>,
    pub operation: Option<String>,
    /// The model; empty when the platform named none.
    pub model: Option<String>,
    pub credits: i64,
    pub units: i64,
    /// How many consumptions.
    pub uses: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct CreditUsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Largest first (then by the groups' values).
    pub rows: Vec<UsageRow>,
    /// Over the whole range and filter, whatever the `limit`.
    pub total_credits: i64,
    pub total_units: i64,
    pub total_uses: i64,
    /// True when there were more groups than `limit`.
    pub truncated: bool,
}

#[derive(Default)]
pub struct CreditUsageQuery;

#[Object]
impl CreditUsageQuery {
    /// Credits consumed between `from` and `to` (business days, UTC, both included), grouped
    /// by `groupBy` (default: by operation; `PERIOD` by `interval`, default `MONTH`), largest
    /// first, at most `limit` rows (1 to 1,000; default 100). `accountId` narrows it to one
    /// account.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn credit_usage_report(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        group_by: Option<Vec<UsageDimension>>,
        interval: Option<Interval>,
        account_id: Option<ID>,
        limit: Option<i32>,
    ) -> Result<CreditUsageReport, ApiError> {
        // Defaults in the resolver, not the schema: a client that passes an unset variable
        // sends null, which a schema default does not replace.
        let group_by = group_by.unwrap_or_else(|| vec![UsageDimension::Operation]);
        let interval = interval.unwrap_or(Interval::Month);
        let limit = limit.unwrap_or(100);
        super::dashboard::check_range(from, to)?;
        if !(1..=MAX_ROWS).contains(&limit) {
            return Err(ApiError::validation(format!(
                "`limit` must be between 1 and {MAX_ROWS}"
            )));
        }
        let account = account_id
            .as_ref()
            .map(|id| parse_id("accountId", id))
            .transpose()?;
        let has = |d: UsageDimension| group_by.contains(&d);
        let mut groups: Vec<&str> = Vec::new();
        let mut query = QueryBuilder::new("SELECT ");
        if has(UsageDimension::Period) {
            query
                .push("date_trunc(")
                .push_bind(interval.as_sql())
                .push(", u.day::timestamp)::date AS period, ");
            groups.push("period");
        }
        if has(UsageDimension::Account) {
            query.push("u.account_id, (SELECT a.name FROM read.accounts a WHERE a.id = u.account_id) AS account_name, ");
            groups.push("u.account_id");
        }
        if has(UsageDimension::Operation) {
            query.push("u.operation, ");
            groups.push("u.operation");
        }
        if has(UsageDimension::Model) {
            query.push("u.model, ");
            groups.push("u.model");
        }
        query.push(
            "coalesce(sum(u.credits), 0)::bigint AS credits, \
             coalesce(sum(u.units), 0)::bigint AS units, \
             coalesce(sum(u.uses), 0)::bigint AS uses, \
             sum(sum(u.credits)) OVER ()::bigint AS total_credits, \
             sum(sum(u.units)) OVER ()::bigint AS total_units, \
             sum(sum(u.uses)) OVER ()::bigint AS total_uses \
             FROM read.credit_usage_daily u WHERE u.day BETWEEN ",
        );
        query.push_bind(from).push(" AND ").push_bind(to);
        if let Some(account) = account {
            query.push(" AND u.account_id = ").push_bind(account);
        }
        if !groups.is_empty() {
            query.push(" GROUP BY ").push(groups.join(", "));
        }
        query.push(" ORDER BY credits DESC");
        for group in &groups {
            query.push(", ").push(*group);
        }
        query.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let rows = query.build().fetch_all(&services(ctx).pool).await?;
        let total = |column: &str| -> Result<i64, ApiError> {
            Ok(rows
                .first()
                .map(|r| r.try_get::<Option<i64>, _>(column))
                .transpose()?
                .flatten()
                .unwrap_or(0))
        };
        let (total_credits, total_units, total_uses) = (
            total("total_credits")?,
            total("total_units")?,
            total("total_uses")?,
        );
        let truncated = rows.len() > limit as usize;
        let rows = rows
            .iter()
            .take(limit as usize)
            .map(|row| {
                let optional = |on: bool, column: &str| -> Result<Option<String>, sqlx::Error> {
                    on.then(|| row.try_get::<String, _>(column)).transpose()
                };
                Ok(UsageRow {
                    period: has(UsageDimension::Period)
                        .then(|| row.try_get("period"))
                        .transpose()?,
                    account_id: has(UsageDimension::Account)
                        .then(|| row.try_get::<uuid::Uuid, _>("account_id"))
                        .transpose()?
                        .map(|id| ID(id.to_string())),
                    account_name: if has(UsageDimension::Account) {
                        row.try_get("account_name")?
                    } else {
                        None
                    },
                    operation: optional(has(UsageDimension::Operation), "operation")?,
                    model: optional(has(UsageDimension::Model), "model")?,
                    credits: row.try_get("credits")?,
                    units: row.try_get("units")?,
                    uses: row.try_get("uses")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(CreditUsageReport {
            from,
            to,
            rows,
            total_credits,
            total_units,
            total_uses,
            truncated,
        })
    }
}
