//! Revenue facts: money approved and refunded per day, plan, payment method and currency.

use super::payments::Method;
use super::subscriptions::plan_codes;
use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use domain::identity::permission::Permission;
use domain::kit::money::Currency;
use sqlx::{Postgres, QueryBuilder};

/// The longest range one query covers, in days (three years).
const MAX_DAYS: i64 = 1_100;

/// One day's money for one plan, method and currency. Amounts are in minor units.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct RevenueFact {
    pub day: NaiveDate,
    /// The account's plan when the money came in (its subscription's plan, else its tier).
    pub plan_code: String,
    #[sqlx(try_from = "String")]
    pub method: Method,
    pub currency: String,
    pub paid_minor: i64,
    pub payments: i32,
    pub refunded_minor: i64,
    pub refunds: i32,
    /// `paidMinor - refundedMinor`.
    pub net_minor: i64,
}

/// The sums of a report for one currency.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct RevenueTotal {
    pub currency: String,
    pub paid_minor: i64,
    pub payments: i64,
    pub refunded_minor: i64,
    pub refunds: i64,
    pub net_minor: i64,
}

#[derive(SimpleObject)]
pub struct RevenueReport {
    /// By day, then plan, method and currency.
    pub facts: Vec<RevenueFact>,
    /// Per currency (money in different currencies is never added up).
    pub totals: Vec<RevenueTotal>,
}

#[derive(InputObject, Default)]
pub struct RevenueFilter {
    /// Plan codes, e.g. `growth`.
    pub plan: Option<Vec<String>>,
    pub method: Option<Vec<Method>>,
    pub currency: Option<String>,
}

impl RevenueFilter {
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(plans) = &self.plan {
            qb.push(" AND plan_code = ANY(")
                .push_bind(plan_codes(plans)?)
                .push(")");
        }
        if let Some(methods) = &self.method {
            let methods: Vec<&str> = methods.iter().map(|m| m.as_db()).collect();
            qb.push(" AND method = ANY(").push_bind(methods).push(")");
        }
        if let Some(currency) = &self.currency {
            qb.push(" AND currency = ")
                .push_bind(Currency::parse(currency.trim())?.as_str().to_owned());
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct RevenueQuery;

#[Object]
impl RevenueQuery {
    /// Money approved and refunded from `from` to `to` (both days included, UTC), at most
    /// three years at once.
    #[graphql(guard = "Rule::Can(Permission::BillingRead)")]
    async fn revenue(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        filter: Option<RevenueFilter>,
    ) -> Result<RevenueReport, ApiError> {
        let days = (to - from).num_days();
        if days < 0 {
            return Err(ApiError::validation("`from` must not be after `to`"));
        }
        if days >= MAX_DAYS {
            return Err(ApiError::validation(format!(
                "a revenue report covers at most {MAX_DAYS} days; ask for a shorter range"
            )));
        }
        let filter = filter.unwrap_or_default();
        let pool = &services(ctx).pool;
        let scoped = |select: &str, tail: &str| -> Result<QueryBuilder<'_, Postgres>, ApiError> {
            let mut qb = QueryBuilder::new(select);
            qb.push(" FROM read.revenue_facts WHERE day >= ")
                .push_bind(from)
                .push(" AND day <= ")
                .push_bind(to);
            filter.push(&mut qb)?;
            qb.push(tail);
            Ok(qb)
        };
        let facts = scoped(
            "SELECT day, plan_code, method, currency, paid_minor, payments, refunded_minor, \
             refunds, paid_minor - refunded_minor AS net_minor",
            " ORDER BY day, plan_code, method, currency",
        )?
        .build_query_as::<RevenueFact>()
        .fetch_all(pool)
        .await?;
        let totals = scoped(
            "SELECT currency, sum(paid_minor)::bigint AS paid_minor, \
             sum(payments)::bigint AS payments, sum(refunded_minor)::bigint AS refunded_minor, \
             sum(refunds)::bigint AS refunds, \
             sum(paid_minor - refunded_minor)::bigint AS net_minor",
            " GROUP BY currency ORDER BY currency",
        )?
        .build_query_as::<RevenueTotal>()
        .fetch_all(pool)
        .await?;
        Ok(RevenueReport { facts, totals })
    }
}
