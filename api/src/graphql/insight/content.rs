//! The content report: the content the platform reported producing over a date range, grouped
//! by any of period, account, content type and status, largest first. Read from
//! `read.activity_daily`: each row counts the platform's content records, so an item reported
//! as a draft and later as published counts once under each status, on the day of each record.

use super::dashboard::Interval;
use super::report::Grouping;
use crate::error::ApiError;
use crate::graphql::{parse_id, services, Rule};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::NaiveDate;
use domain::identity::permission::Permission;
use sqlx::Row;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ContentDimension {
    /// The period (`interval`) the records fell in.
    Period,
    Account,
    /// The content type, e.g. `blog_post`.
    Type,
    /// The status reported, e.g. `published`.
    Status,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ContentRow {
    /// The first day of the period, when grouped by period.
    pub period: Option<NaiveDate>,
    pub account_id: Option<ID>,
    pub account_name: Option<String>,
    pub content_type: Option<String>,
    pub status: Option<String>,
    /// Content records.
    pub items: i64,
    pub words: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct ContentReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Most records first (then by the groups' values).
    pub rows: Vec<ContentRow>,
    /// Over the whole range, whatever the `limit`.
    pub total_items: i64,
    pub total_words: i64,
    /// True when there were more groups than `limit`.
    pub truncated: bool,
}

#[derive(Default)]
pub struct ContentQuery;

#[Object]
impl ContentQuery {
    /// Content records between `from` and `to` (business days, UTC, both included), grouped by
    /// `groupBy` (default: by type and status; `PERIOD` by `interval`, default `MONTH`), most
    /// first, at most `limit` rows (1 to 1,000; default 100). `accountId` narrows it to one
    /// account.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn content_report(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        group_by: Option<Vec<ContentDimension>>,
        interval: Option<Interval>,
        account_id: Option<ID>,
        limit: Option<i32>,
    ) -> Result<ContentReport, ApiError> {
        // Defaults in the resolver: a client passing an unset variable sends null.
        let group_by =
            group_by.unwrap_or_else(|| vec![ContentDimension::Type, ContentDimension::Status]);
        let account = account_id
            .as_ref()
            .map(|id| parse_id("accountId", id))
            .transpose()?;
        let has = |d: ContentDimension| group_by.contains(&d);
        let mut groups = Vec::new();
        if has(ContentDimension::Type) {
            groups.push(("r.tag", "content_type"));
        }
        if has(ContentDimension::Status) {
            groups.push(("r.status", "status"));
        }
        let grouping = Grouping {
            table: "read.activity_daily r",
            only: "r.kind = 'content'",
            period: has(ContentDimension::Period).then_some(interval.unwrap_or(Interval::Month)),
            by_account: has(ContentDimension::Account),
            groups,
            measures: &["records", "words"],
        };
        let report = grouping
            .run(&services(ctx).pool, from, to, account, limit.unwrap_or(100))
            .await?;
        let rows = report
            .rows
            .iter()
            .map(|row| {
                let groups = grouping.groups_of(row)?;
                Ok(ContentRow {
                    period: groups.period,
                    account_id: groups.account_id,
                    account_name: groups.account_name,
                    content_type: grouping.text(row, "content_type")?,
                    status: grouping.text(row, "status")?,
                    items: row.try_get("records")?,
                    words: row.try_get("words")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let total = |n: usize| report.totals.get(n).copied().unwrap_or(0);
        Ok(ContentReport {
            from,
            to,
            rows,
            total_items: total(0),
            total_words: total(1),
            truncated: report.truncated,
        })
    }
}
