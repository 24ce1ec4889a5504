//! Executive metrics, month by month: MRR and ARR with their movements, churn, ARPA, active
//! people and stickiness, AI usage and cost with each plan's gross margin, and monthly cohort
//! retention. Folded here from `read.mrr_movements`, `read.user_activity_days` and
//! `read.ai_usage_daily`; each metric's definition is in `domain::insight::mrr::DEFINITIONS`
//! and is answered beside the figures.

use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{Datelike, Months, NaiveDate, Utc};
use domain::identity::permission::Permission;
use domain::insight::mrr::DEFINITIONS;
use domain::kit::money::Currency;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The most months one query covers.
const MAX_MONTHS: usize = 36;

#[derive(SimpleObject, Debug, Clone, Default, PartialEq)]
pub struct ExecutiveMonth {
    /// The month's first day.
    pub month: NaiveDate,
    /// At the month's end, in minor units.
    pub mrr_minor: i64,
    pub arr_minor: i64,
    pub paying_accounts: i64,
    /// MRR per paying account; null when none pays.
    pub arpa_minor: Option<i64>,
    pub new_mrr_minor: i64,
    pub reactivation_mrr_minor: i64,
    pub expansion_mrr_minor: i64,
    /// Lost to downgrades (a positive amount).
    pub contraction_mrr_minor: i64,
    /// Lost to churn (a positive amount).
    pub churned_mrr_minor: i64,
    /// The month's change of MRR.
    pub net_new_mrr_minor: i64,
    pub new_accounts: i64,
    pub churned_accounts: i64,
    /// Churned accounts over those paying at the month's start; null when none did.
    pub logo_churn_rate: Option<f64>,
    /// Churned and contracted MRR over MRR at the month's start; null when it was 0.
    pub revenue_churn_rate: Option<f64>,
    pub monthly_active_users: i64,
    pub average_daily_active_users: f64,
    /// Average DAU over MAU; null without activity.
    pub stickiness: Option<f64>,
    pub ai_calls: i64,
    pub ai_tokens: i64,
    /// In the report's currency.
    pub ai_cost_minor: i64,
}

/// A plan's economics over the months asked for.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct PlanEconomics {
    /// Empty for accounts paying nothing (their AI cost is still the platform's).
    pub plan_code: String,
    /// The MRR its accounts paid, month by month, summed.
    pub revenue_minor: i64,
    /// Accounts that paid for it in any of the months.
    pub paying_accounts: i64,
    pub ai_calls: i64,
    pub ai_tokens: i64,
    pub ai_cost_minor: i64,
    /// Revenue less AI cost.
    pub gross_margin_minor: i64,
    /// The margin over revenue; null without revenue.
    pub gross_margin: Option<f64>,
}

/// Accounts that first paid in `month`, and how many of them paid at the end of each month
/// since (the first is the cohort's own month).
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Cohort {
    pub month: NaiveDate,
    pub accounts: i64,
    pub retained: Vec<i64>,
    /// `retained` over `accounts`.
    pub retention: Vec<f64>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct MetricDefinition {
    pub metric: String,
    pub definition: String,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct ExecutiveMetrics {
    pub currency: String,
    pub months: Vec<ExecutiveMonth>,
    /// Largest revenue first.
    pub plans: Vec<PlanEconomics>,
    /// Cohorts of the months asked for, oldest first.
    pub cohorts: Vec<Cohort>,
    pub definitions: Vec<MetricDefinition>,
}

#[derive(Default)]
pub struct ExecutiveQuery;

#[Object]
impl ExecutiveQuery {
    /// The executive metrics of every month from `from`'s to `to`'s (at most 36), in
    /// `currency` (default USD): money in other currencies is never added in.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn executive_metrics(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        currency: Option<String>,
    ) -> Result<ExecutiveMetrics, ApiError> {
        super::dashboard::check_range(from, to)?;
        let currency = Currency::parse(currency.as_deref().unwrap_or("USD").trim())?;
        let months = months_between(from, to);
        if months.len() > MAX_MONTHS {
            return Err(ApiError::validation(format!(
                "executive metrics cover at most {MAX_MONTHS} months; ask for a shorter range"
            )));
        }
        let folded = Fold::read(&services(ctx).pool, &months, currency.as_str()).await?;
        Ok(ExecutiveMetrics {
            currency: currency.as_str().to_string(),
            months: folded.months(&months),
            plans: folded.plans(&months),
            cohorts: folded.cohorts(&months),
            definitions: DEFINITIONS
                .iter()
                .map(|(metric, definition)| MetricDefinition {
                    metric: metric.to_string(),
                    definition: definition.split_whitespace().collect::<Vec<_>>().join(" "),
                })
                .collect(),
        })
    }
}

/// The first day of every month from `from`'s to `to`'s.
fn months_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut month = from.with_day(1).expect("day 1 exists");
    let mut months = Vec::new();
    while month <= to && months.len() <= MAX_MONTHS {
        months.push(month);
        month = month + Months::new(1);
    }
    months
}

/// What the metrics are folded from.
struct Fold {
    /// Each account's (MRR, plan) at the end of each month, from the month before the first
    /// on (so the first month has a start), for accounts that ever had MRR.
    state: BTreeMap<NaiveDate, HashMap<Uuid, (i64, String)>>,
    /// (month, kind) → (MRR moved, accounts).
    movements: HashMap<(NaiveDate, String), (i64, i64)>,
    /// The month each account first paid.
    first_paid: HashMap<Uuid, NaiveDate>,
    /// month → (MAU, person-days).
    people: HashMap<NaiveDate, (i64, i64)>,
    /// (month, account) → (calls, tokens, cost).
    ai: HashMap<(NaiveDate, Uuid), (i64, i64, i64)>,
}

impl Fold {
    async fn read(
        pool: &sqlx::PgPool,
        months: &[NaiveDate],
        currency: &str,
    ) -> Result<Self, ApiError> {
        let first = months[0];
        let end = *months.last().expect("one month at least") + Months::new(1);
        let before = first - Months::new(1);
        let ends: Vec<NaiveDate> = std::iter::once(before)
            .chain(months.iter().copied())
            .collect();
        // Each account's latest movement by each month's end.
        let rows: Vec<(NaiveDate, Uuid, i64, String)> = sqlx::query_as(
            "WITH ends AS (SELECT unnest($1::date[]) AS month), \
                  accounts AS (SELECT DISTINCT account_id FROM read.mrr_movements \
                               WHERE currency = $2 AND day < $3) \
             SELECT e.month, a.account_id, s.mrr_after, s.plan_code \
             FROM ends e CROSS JOIN accounts a CROSS JOIN LATERAL ( \
               SELECT v.mrr_after, v.plan_code FROM read.mrr_movements v \
               WHERE v.account_id = a.account_id AND v.currency = $2 \
                 AND v.day < (e.month + interval '1 month')::date \
               ORDER BY v.day DESC, v.position DESC LIMIT 1) s",
        )
        .bind(&ends)
        .bind(currency)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let mut state: BTreeMap<NaiveDate, HashMap<Uuid, (i64, String)>> = BTreeMap::new();
        for (month, account, mrr, plan) in rows {
            state.entry(month).or_default().insert(account, (mrr, plan));
        }
        let movements: Vec<(NaiveDate, String, i64, i64)> = sqlx::query_as(
            "SELECT date_trunc('month', day)::date, kind, sum(delta)::bigint, \
                    count(DISTINCT account_id) \
             FROM read.mrr_movements WHERE currency = $1 AND day >= $2 AND day < $3 \
             GROUP BY 1, 2",
        )
        .bind(currency)
        .bind(first)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let first_paid: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
            "SELECT account_id, date_trunc('month', min(day))::date FROM read.mrr_movements \
             WHERE currency = $1 AND kind = 'new' GROUP BY 1",
        )
        .bind(currency)
        .fetch_all(pool)
        .await?;
        let people: Vec<(NaiveDate, i64, i64)> = sqlx::query_as(
            "SELECT date_trunc('month', day)::date, \
                    count(DISTINCT (account_id, user_id)), count(*) \
             FROM read.user_activity_days WHERE day >= $1 AND day < $2 GROUP BY 1",
        )
        .bind(first)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let ai: Vec<(NaiveDate, Uuid, i64, i64, i64)> = sqlx::query_as(
            "SELECT date_trunc('month', day)::date, account_id, sum(calls)::bigint, \
                    sum(input_tokens + output_tokens)::bigint, \
                    coalesce(sum(cost_minor) FILTER (WHERE currency = $3), 0)::bigint \
             FROM read.ai_usage_daily WHERE day >= $1 AND day < $2 GROUP BY 1, 2",
        )
        .bind(first)
        .bind(end)
        .bind(currency)
        .fetch_all(pool)
        .await?;
        Ok(Self {
            state,
            movements: movements
                .into_iter()
                .map(|(m, kind, moved, accounts)| ((m, kind), (moved, accounts)))
                .collect(),
            first_paid: first_paid.into_iter().collect(),
            people: people
                .into_iter()
                .map(|(m, mau, days)| (m, (mau, days)))
                .collect(),
            ai: ai
                .into_iter()
                .map(|(m, a, calls, tokens, cost)| ((m, a), (calls, tokens, cost)))
                .collect(),
        })
    }

    /// MRR and paying accounts at `month`'s end.
    fn mrr_at(&self, month: NaiveDate) -> (i64, i64) {
        self.state.get(&month).map_or((0, 0), |accounts| {
            let paying = accounts.values().filter(|(mrr, _)| *mrr > 0);
            (
                paying.clone().map(|(mrr, _)| mrr).sum(),
                paying.count() as i64,
            )
        })
    }

    fn moved(&self, month: NaiveDate, kind: &str) -> (i64, i64) {
        self.movements
            .get(&(month, kind.to_string()))
            .copied()
            .unwrap_or_default()
    }

    fn months(&self, months: &[NaiveDate]) -> Vec<ExecutiveMonth> {
        let today = Utc::now().date_naive();
        months
            .iter()
            .map(|&month| {
                let (mrr, paying) = self.mrr_at(month);
                let (start_mrr, start_paying) = self.mrr_at(month - Months::new(1));
                let (new, new_accounts) = self.moved(month, "new");
                let (reactivation, _) = self.moved(month, "reactivation");
                let (expansion, _) = self.moved(month, "expansion");
                let (contraction, _) = self.moved(month, "contraction");
                let (churned, churned_accounts) = self.moved(month, "churn");
                let (mau, person_days) = self.people.get(&month).copied().unwrap_or_default();
                let next = month + Months::new(1);
                let days = (next.min(today + chrono::Duration::days(1)) - month)
                    .num_days()
                    .max(1);
                let average_dau = person_days as f64 / days as f64;
                let (ai_calls, ai_tokens, ai_cost) = self
                    .ai
                    .iter()
                    .filter(|((m, _), _)| *m == month)
                    .fold((0, 0, 0), |(c, t, k), (_, (calls, tokens, cost))| {
                        (c + calls, t + tokens, k + cost)
                    });
                let ratio = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
                ExecutiveMonth {
                    month,
                    mrr_minor: mrr,
                    arr_minor: mrr * 12,
                    paying_accounts: paying,
                    arpa_minor: (paying > 0).then(|| mrr / paying),
                    new_mrr_minor: new,
                    reactivation_mrr_minor: reactivation,
                    expansion_mrr_minor: expansion,
                    contraction_mrr_minor: -contraction,
                    churned_mrr_minor: -churned,
                    net_new_mrr_minor: new + reactivation + expansion + contraction + churned,
                    new_accounts,
                    churned_accounts,
                    logo_churn_rate: ratio(churned_accounts, start_paying),
                    revenue_churn_rate: ratio(-(churned + contraction), start_mrr),
                    monthly_active_users: mau,
                    average_daily_active_users: average_dau,
                    stickiness: (mau > 0).then(|| average_dau / mau as f64),
                    ai_calls,
                    ai_tokens,
                    ai_cost_minor: ai_cost,
                }
            })
            .collect()
    }

    fn plans(&self, months: &[NaiveDate]) -> Vec<PlanEconomics> {
        #[derive(Default)]
        struct Sums {
            revenue: i64,
            accounts: HashSet<Uuid>,
            calls: i64,
            tokens: i64,
            cost: i64,
        }
        let mut plans: BTreeMap<String, Sums> = BTreeMap::new();
        for month in months {
            let paying = self.state.get(month);
            for (account, (mrr, plan)) in paying.into_iter().flatten() {
                if *mrr > 0 {
                    let sums = plans.entry(plan.clone()).or_default();
                    sums.revenue += mrr;
                    sums.accounts.insert(*account);
                }
            }
            for ((_, account), (calls, tokens, cost)) in
                self.ai.iter().filter(|((m, _), _)| m == month)
            {
                let plan = paying
                    .and_then(|p| p.get(account))
                    .filter(|(mrr, _)| *mrr > 0)
                    .map(|(_, plan)| plan.clone())
                    .unwrap_or_default();
                let sums = plans.entry(plan).or_default();
                sums.calls += calls;
                sums.tokens += tokens;
                sums.cost += cost;
            }
        }
        let mut plans: Vec<PlanEconomics> = plans
            .into_iter()
            .map(|(plan_code, s)| PlanEconomics {
                plan_code,
                revenue_minor: s.revenue,
                paying_accounts: s.accounts.len() as i64,
                ai_calls: s.calls,
                ai_tokens: s.tokens,
                ai_cost_minor: s.cost,
                gross_margin_minor: s.revenue - s.cost,
                gross_margin: (s.revenue > 0)
                    .then(|| (s.revenue - s.cost) as f64 / s.revenue as f64),
            })
            .collect();
        plans.sort_by(|a, b| {
            b.revenue_minor
                .cmp(&a.revenue_minor)
                .then_with(|| a.plan_code.cmp(&b.plan_code))
        });
        plans
    }

    fn cohorts(&self, months: &[NaiveDate]) -> Vec<Cohort> {
        months
            .iter()
            .filter_map(|&cohort| {
                let members: Vec<&Uuid> = self
                    .first_paid
                    .iter()
                    .filter(|(_, first)| **first == cohort)
                    .map(|(account, _)| account)
                    .collect();
                if members.is_empty() {
                    return None;
                }
                let retained: Vec<i64> = months
                    .iter()
                    .filter(|m| **m >= cohort)
                    .map(|month| {
                        let paying = self.state.get(month);
                        members
                            .iter()
                            .filter(|a| {
                                paying
                                    .and_then(|p| p.get(**a))
                                    .is_some_and(|(mrr, _)| *mrr > 0)
                            })
                            .count() as i64
                    })
                    .collect();
                let accounts = members.len() as i64;
                Some(Cohort {
                    month: cohort,
                    accounts,
                    retention: retained
                        .iter()
                        .map(|r| *r as f64 / accounts as f64)
                        .collect(),
                    retained,
                })
            })
            .collect()
    }
}
