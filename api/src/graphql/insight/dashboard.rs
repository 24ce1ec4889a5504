//! The dashboard: the platform at a glance, answered from small read models (the daily figures,
//! the accounts, the pending payments, the items' latest status, the projections' checkpoints),
//! so its cost does not grow with the log; and each answer is read once per batch its read
//! model applies (at most a second old), however many are watching (`kit::memo`).
//!
//! Periods are business days in UTC: `TODAY`, `LAST_7_DAYS` (today and the six days before),
//! `MONTH_TO_DATE` and `YEAR_TO_DATE` (calendar, from the first day to today).

use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use domain::identity::permission::Permission;
use domain::insight::metric::Metric;
use projections::billing::payments;
use projections::insight::{activity, alerts, daily_metrics};
use projections::tenancy::accounts;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Below this balance an account counts as low on credits.
pub const LOW_CREDITS: i64 = 100;
/// The most points one time series answers.
pub const MAX_POINTS: i64 = 400;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::insight::metric::Metric")]
pub enum DashboardMetric {
    AccountsOpened,
    CreditsGranted,
    CreditsDeducted,
    CreditsPurchased,
    CreditsConsumed,
    CreditsRefunded,
    CreditsExpired,
    AiCalls,
    AiCallsFailed,
    AiInputTokens,
    AiOutputTokens,
    AiCost,
    ContentRecords,
    WordsPublished,
    AutomationsSucceeded,
    AutomationsFailed,
    SyncsSucceeded,
    SyncsFailed,
    PublishesSucceeded,
    PublishesFailed,
    Logins,
    RevenuePaid,
    RevenueRefunded,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Period {
    Today,
    #[graphql(name = "LAST_7_DAYS")]
    LastSevenDays,
    MonthToDate,
    YearToDate,
}

impl Period {
    /// The first day of the period ending `today`.
    fn first_day(self, today: NaiveDate) -> NaiveDate {
        match self {
            Self::Today => today,
            Self::LastSevenDays => today - Duration::days(6),
            Self::MonthToDate => today.with_day(1).expect("day 1 exists"),
            Self::YearToDate => today.with_ordinal(1).expect("day 1 exists"),
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Interval {
    /// One point per day.
    Day,
    /// One point per ISO week, starting on Monday.
    Week,
    /// One point per calendar month.
    Month,
}

impl Interval {
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The start of the bucket `day` falls in.
    fn bucket(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => day,
            Self::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Self::Month => day.with_day(1).expect("day 1 exists"),
        }
    }

    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => start
                .checked_add_months(chrono::Months::new(1))
                .expect("a month later exists"),
        }
    }
}

/// A count, or an amount of money in one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub metric: DashboardMetric,
    /// The currency of a money figure (`AI_COST`, `REVENUE_*`); null for counts.
    pub currency: Option<String>,
    pub value: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct Count {
    /// The status or plan counted.
    pub key: String,
    pub count: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct AccountFigures {
    pub total: i64,
    pub by_status: Vec<Count>,
    pub by_plan: Vec<Count>,
    /// Accounts (not deleted) whose balance is below 100 credits.
    pub low_credits: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct PendingPayments {
    pub count: i64,
    /// The money waiting for approval, per currency (minor units).
    pub totals: Vec<MoneyTotal>,
    /// When the longest-waiting one was recorded.
    pub oldest_recorded_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct MoneyTotal {
    pub currency: String,
    pub minor_units: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct OpenAlerts {
    pub critical: i64,
    pub warning: i64,
    /// Open but snoozed (of either severity).
    pub snoozed: i64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct WorkInProgress {
    /// Tasks whose latest status is pending.
    pub tasks_pending: i64,
    /// Automation runs started and not yet reported ended.
    pub automations_running: i64,
}

/// People of accounts seen (signed in or active, as the platform reports) in windows ending
/// today: a person of two accounts counts twice, once per account.
#[derive(SimpleObject, Debug, Clone)]
pub struct ActiveUsers {
    /// Seen today (so far).
    pub daily: i64,
    /// Seen in the 7 days ending today.
    pub weekly: i64,
    /// Seen in the 30 days ending today.
    pub monthly: i64,
    /// `daily / monthly` in percent (0 when no one was seen in 30 days).
    pub stickiness_percent: f64,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct ProjectionLag {
    /// The longest any projection is behind the log, in seconds (0 when all are caught up).
    pub max_lag_seconds: f64,
    /// Projections held at an event they cannot apply.
    pub stuck: i32,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct Point {
    /// The first day of the bucket.
    pub start: NaiveDate,
    pub value: i64,
}

/// The platform at a glance. Each part is read when asked for.
pub struct Dashboard {
    today: NaiveDate,
}

#[Object]
impl Dashboard {
    /// The business day (UTC) the periods end on.
    async fn today(&self) -> NaiveDate {
        self.today
    }

    /// Every daily figure summed over `period` (default `MONTH_TO_DATE`); a figure with
    /// nothing in the period is 0, and money figures come per currency.
    async fn figures(
        &self,
        ctx: &Context<'_>,
        period: Option<Period>,
    ) -> Result<Vec<Figure>, ApiError> {
        // Defaults in the resolver, not the schema: a client that passes an unset variable
        // sends null, which a schema default does not replace.
        let period = period.unwrap_or(Period::MonthToDate);
        let (from, to) = (period.first_day(self.today), self.today);
        remembered(
            ctx,
            daily_metrics::NAME,
            format!("figures:{from}:{to}"),
            figures(&services(ctx).pool, from, to),
        )
        .await
    }

    async fn accounts(&self, ctx: &Context<'_>) -> Result<AccountFigures, ApiError> {
        let read = account_figures(&services(ctx).pool);
        remembered(ctx, accounts::NAME, "accounts".into(), read).await
    }

    async fn pending_payments(&self, ctx: &Context<'_>) -> Result<PendingPayments, ApiError> {
        let read = pending_payments(&services(ctx).pool);
        remembered(ctx, payments::NAME, "pending".into(), read).await
    }

    async fn work_in_progress(&self, ctx: &Context<'_>) -> Result<WorkInProgress, ApiError> {
        let read = work_in_progress(&services(ctx).pool);
        remembered(ctx, activity::NAME, "work".into(), read).await
    }

    /// DAU, WAU and MAU, and their stickiness.
    async fn active_users(&self, ctx: &Context<'_>) -> Result<ActiveUsers, ApiError> {
        let read = active_users(&services(ctx).pool, self.today);
        let key = format!("active:{}", self.today);
        remembered(ctx, activity::NAME, key, read).await
    }

    /// Open alerts by severity (snoozed ones apart); the alerts themselves are in `alerts`.
    async fn open_alerts(&self, ctx: &Context<'_>) -> Result<OpenAlerts, ApiError> {
        let read = open_alerts(&services(ctx).pool);
        remembered(ctx, alerts::NAME, "alerts".into(), read).await
    }

    async fn projection_lag(&self, ctx: &Context<'_>) -> Result<ProjectionLag, ApiError> {
        let lag = services(ctx).engine.lag().await?;
        Ok(ProjectionLag {
            max_lag_seconds: lag.max_lag_seconds,
            stuck: lag.stuck as i32,
        })
    }

    /// One figure as a time series for a chart: a point per `interval` (default `DAY`) from the
    /// bucket holding `from` to the one holding `to` (default: the last 30 days), every bucket present
    /// (0 when nothing happened). Money figures are summed in `currency` (default `USD`).
    async fn series(
        &self,
        ctx: &Context<'_>,
        metric: DashboardMetric,
        interval: Option<Interval>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        currency: Option<String>,
    ) -> Result<Vec<Point>, ApiError> {
        let interval = interval.unwrap_or(Interval::Day);
        let to = to.unwrap_or(self.today);
        let from = from.unwrap_or(to - Duration::days(29));
        let metric: Metric = metric.into();
        let currency = match (metric.is_money(), currency) {
            (true, currency) => {
                let currency = currency.unwrap_or_else(|| "USD".into());
                domain::kit::money::Currency::parse(&currency)?.to_string()
            }
            (false, None) => String::new(),
            (false, Some(_)) => {
                return Err(ApiError::validation(format!(
                    "`{}` is a count: it takes no `currency`",
                    metric.as_str()
                )))
            }
        };
        let key = format!(
            "series:{}:{interval:?}:{from}:{to}:{currency}",
            metric.as_str()
        );
        let read = series(&services(ctx).pool, metric, interval, from, to, &currency);
        remembered(ctx, daily_metrics::NAME, key, read).await
    }
}

/// `read`'s answer, remembered while projection `projection` stands still (see
/// [`crate::graphql::kit::memo`]): every caller gets the same sums until it applies a batch.
async fn remembered<T, F>(
    ctx: &Context<'_>,
    projection: &str,
    key: String,
    read: F,
) -> Result<T, ApiError>
where
    T: Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let services = services(ctx);
    let position = services.engine.watch(projection).map(|w| *w.borrow());
    services
        .memo
        .get_or(format!("{projection}:{key}"), position, read)
        .await
}

async fn account_figures(pool: &PgPool) -> Result<AccountFigures, ApiError> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT status, plan, count(*), \
                count(*) FILTER (WHERE balance < $1 AND status <> 'deleted') \
         FROM read.accounts GROUP BY status, plan",
    )
    .bind(LOW_CREDITS)
    .fetch_all(pool)
    .await?;
    let mut by_status = BTreeMap::new();
    let mut by_plan = BTreeMap::new();
    let (mut total, mut low_credits) = (0, 0);
    for (status, plan, count, low) in rows {
        *by_status.entry(status).or_insert(0) += count;
        *by_plan.entry(plan).or_insert(0) += count;
        total += count;
        low_credits += low;
    }
    let counts = |map: BTreeMap<String, i64>| {
        map.into_iter()
            .map(|(key, count)| Count { key, count })
            .collect()
    };
    Ok(AccountFigures {
        total,
        by_status: counts(by_status),
        by_plan: counts(by_plan),
        low_credits,
    })
}

async fn pending_payments(pool: &PgPool) -> Result<PendingPayments, ApiError> {
    let rows: Vec<(String, i64, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT currency, count(*), sum(amount_minor)::bigint, min(recorded_at) \
         FROM read.payments WHERE status = 'pending' GROUP BY currency ORDER BY currency",
    )
    .fetch_all(pool)
    .await?;
    Ok(PendingPayments {
        count: rows.iter().map(|r| r.1).sum(),
        oldest_recorded_at: rows.iter().filter_map(|r| r.3).min(),
        totals: rows
            .into_iter()
            .map(|(currency, _, minor_units, _)| MoneyTotal {
                currency,
                minor_units,
            })
            .collect(),
    })
}

async fn work_in_progress(pool: &PgPool) -> Result<WorkInProgress, ApiError> {
    let (tasks_pending, automations_running): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM read.activity_items \
                 WHERE kind = 'task' AND status = 'pending'), \
                (SELECT count(*) FROM read.activity_items \
                 WHERE kind = 'automation_run' AND status = 'started')",
    )
    .fetch_one(pool)
    .await?;
    Ok(WorkInProgress {
        tasks_pending,
        automations_running,
    })
}

async fn active_users(pool: &PgPool, today: NaiveDate) -> Result<ActiveUsers, ApiError> {
    let (daily, weekly, monthly): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT (account_id, user_id)) FILTER (WHERE day = $1), \
                count(DISTINCT (account_id, user_id)) FILTER (WHERE day > $1 - 7), \
                count(DISTINCT (account_id, user_id)) \
         FROM read.user_activity_days WHERE day > $1 - 30 AND day <= $1",
    )
    .bind(today)
    .fetch_one(pool)
    .await?;
    Ok(ActiveUsers {
        daily,
        weekly,
        monthly,
        stickiness_percent: if monthly == 0 {
            0.0
        } else {
            100.0 * daily as f64 / monthly as f64
        },
    })
}

async fn open_alerts(pool: &PgPool) -> Result<OpenAlerts, ApiError> {
    let (critical, warning, snoozed): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE severity = 'critical' AND NOT snoozed), \
                count(*) FILTER (WHERE severity = 'warning' AND NOT snoozed), \
                count(*) FILTER (WHERE snoozed) \
         FROM (SELECT severity, coalesce(snoozed_until > now(), false) AS snoozed \
               FROM read.alerts WHERE status = 'open') a",
    )
    .fetch_one(pool)
    .await?;
    Ok(OpenAlerts {
        critical,
        warning,
        snoozed,
    })
}

async fn figures(pool: &PgPool, from: NaiveDate, to: NaiveDate) -> Result<Vec<Figure>, ApiError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT metric, currency, sum(value)::bigint FROM read.daily_metrics \
         WHERE day BETWEEN $1 AND $2 GROUP BY metric, currency",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut sums: BTreeMap<(Metric, String), i64> = BTreeMap::new();
    for (metric, currency, value) in rows {
        if let Ok(metric) = metric.parse::<Metric>() {
            sums.insert((metric, currency), value);
        }
    }
    use strum::IntoEnumIterator;
    let mut figures = Vec::new();
    for metric in Metric::iter() {
        let before = figures.len();
        for ((_, currency), value) in sums.iter().filter(|((m, _), _)| *m == metric) {
            figures.push(Figure {
                metric: metric.into(),
                currency: (!currency.is_empty()).then(|| currency.clone()),
                value: *value,
            });
        }
        if figures.len() == before && !metric.is_money() {
            figures.push(Figure {
                metric: metric.into(),
                currency: None,
                value: 0,
            });
        }
    }
    Ok(figures)
}

/// Checks a date range a report or a chart is asked for: both days within the bounds every
/// date filter has, `from` not after `to`.
pub(crate) fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    for (field, day) in [("from", from), ("to", to)] {
        let at = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        domain::kit::time::filter_date(field, at)?;
    }
    if from > to {
        return Err(ApiError::validation("`from` must not be after `to`"));
    }
    Ok(())
}

async fn series(
    pool: &PgPool,
    metric: Metric,
    interval: Interval,
    from: NaiveDate,
    to: NaiveDate,
    currency: &str,
) -> Result<Vec<Point>, ApiError> {
    check_range(from, to)?;
    let (first, last) = (interval.bucket(from), interval.bucket(to));
    let mut buckets = BTreeMap::new();
    let mut start = first;
    while start <= last {
        if buckets.len() as i64 == MAX_POINTS {
            return Err(ApiError::validation(format!(
                "a series has at most {MAX_POINTS} points; choose a shorter range or a longer interval"
            )));
        }
        buckets.insert(start, 0);
        start = interval.next(start);
    }
    let rows: Vec<(NaiveDate, i64)> = sqlx::query_as(
        "SELECT date_trunc($1, day::timestamp)::date, sum(value)::bigint FROM read.daily_metrics \
         WHERE metric = $2 AND currency = $3 AND day BETWEEN $4 AND $5 GROUP BY 1",
    )
    .bind(interval.as_sql())
    .bind(metric.as_str())
    .bind(currency)
    .bind(first)
    .bind(interval.next(last) - Duration::days(1))
    .fetch_all(pool)
    .await?;
    for (start, value) in rows {
        buckets.insert(start, value);
    }
    Ok(buckets
        .into_iter()
        .map(|(start, value)| Point { start, value })
        .collect())
}

#[derive(Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// The platform at a glance: accounts, credits, revenue, pending payments, AI usage and
    /// cost, content, automations and syncs, work in progress, projection lag, and any figure
    /// as a time series.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn dashboard(&self) -> Dashboard {
        Dashboard {
            today: Utc::now().date_naive(),
        }
    }
}
