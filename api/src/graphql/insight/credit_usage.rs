//! The credit usage report: credits the platform consumed over a date range, grouped by any of
//! period, account, operation and model, largest first (grouped by account: the top
//! consumers). Read from `read.credit_usage_daily`.

use super::dashboard::Interval;
use super::report::Grouping;
use crate::error::ApiError;
use crate::graphql::{parse_id, services, Rule};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::NaiveDate;
use domain::identity::permission::Permission;
use sqlx::Row;

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
        let account = account_id
            .as_ref()
            .map(|id| parse_id("accountId", id))
            .transpose()?;
        let has = |d: UsageDimension| group_by.contains(&d);
        let mut groups = Vec::new();
        if has(UsageDimension::Operation) {
            groups.push(("r.operation", "operation"));
        }
        if has(UsageDimension::Model) {
            groups.push(("r.model", "model"));
        }
        let grouping = Grouping {
            table: "read.credit_usage_daily r",
            only: "true",
            period: has(UsageDimension::Period).then_some(interval),
            by_account: has(UsageDimension::Account),
            groups,
            measures: &["credits", "units", "uses"],
        };
        let report = grouping
            .run(&services(ctx).pool, from, to, account, limit)
            .await?;
        let rows = report
            .rows
            .iter()
            .map(|row| {
                let groups = grouping.groups_of(row)?;
                Ok(UsageRow {
                    period: groups.period,
                    account_id: groups.account_id,
                    account_name: groups.account_name,
                    operation: grouping.text(row, "operation")?,
                    model: grouping.text(row, "model")?,
                    credits: row.try_get("credits")?,
                    units: row.try_get("units")?,
                    uses: row.try_get("uses")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let total = |n: usize| report.totals.get(n).copied().unwrap_or(0);
        Ok(CreditUsageReport {
            from,
            to,
            rows,
            total_credits: total(0),
            total_units: total(1),
            total_uses: total(2),
            truncated: report.truncated,
        })
    }
}
