//! Projection `daily_metrics`: the platform's figures per business day (accounts opened,
//! credits by movement, revenue, AI calls, tokens and cost, content, automations, syncs,
//! sign-ins), as
//! defined in `domain::insight::metric`. A batch is summed in memory and added with one
//! statement.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::billing::payment::{Payment, PaymentEvent};
use domain::insight::metric::{of_activity, of_credits, Metric};
use domain::operations::activity::{ActivityEvent, ActivityRecord};
use domain::tenancy::account::{Account, AccountEvent};
use sqlx::PgConnection;
use std::collections::BTreeMap;

pub const NAME: &str = "daily_metrics";

pub struct DailyMetricsProjection;

#[async_trait]
impl EventHandler for DailyMetricsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Account::TYPE, Payment::TYPE, ActivityRecord::TYPE])
    }

    /// No command's answer shows the daily figures (only the dashboard and reports read them), so
    /// commands on accounts do not wait for it.
    fn answers_wait(&self) -> bool {
        false
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.daily_metrics"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.daily_metrics")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut sums: BTreeMap<(Metric, NaiveDate, String), i64> = BTreeMap::new();
        for event in events {
            let figures = match event.aggregate_type.as_str() {
                Account::TYPE => match event.decode::<AccountEvent>()? {
                    Some(AccountEvent::AccountOpened { .. }) => {
                        vec![(Metric::AccountsOpened, String::new(), 1)]
                    }
                    Some(account_event) => account_event
                        .credit_movement()
                        .and_then(|(kind, amount, _)| of_credits(kind, amount))
                        .map(|(metric, value)| (metric, String::new(), value))
                        .into_iter()
                        .collect(),
                    None => continue,
                },
                Payment::TYPE => match event.decode::<PaymentEvent>()? {
                    Some(PaymentEvent::PaymentApproved { amount, .. }) => {
                        vec![(
                            Metric::RevenuePaid,
                            amount.currency.to_string(),
                            amount.minor_units,
                        )]
                    }
                    Some(PaymentEvent::PaymentRefunded { amount, .. }) => vec![(
                        Metric::RevenueRefunded,
                        amount.currency.to_string(),
                        amount.minor_units,
                    )],
                    _ => continue,
                },
                ActivityRecord::TYPE => match event.decode::<ActivityEvent>()? {
                    Some(ActivityEvent::ActivityRecorded { activity, .. }) => {
                        of_activity(&activity)
                            .into_iter()
                            .map(|(metric, currency, value)| {
                                (metric, currency.unwrap_or_default().to_string(), value)
                            })
                            .collect()
                    }
                    None => continue,
                },
                _ => continue,
            };
            if figures.is_empty() {
                continue;
            }
            let day = event.metadata()?.occurred_at.date_naive();
            for (metric, currency, value) in figures {
                *sums.entry((metric, day, currency)).or_default() += value;
            }
        }
        if sums.is_empty() {
            return Ok(());
        }
        let mut metrics = Vec::with_capacity(sums.len());
        let mut days = Vec::with_capacity(sums.len());
        let mut currencies = Vec::with_capacity(sums.len());
        let mut values = Vec::with_capacity(sums.len());
        for ((metric, day, currency), value) in sums {
            metrics.push(metric.as_str());
            days.push(day);
            currencies.push(currency);
            values.push(value);
        }
        sqlx::query(
            "INSERT INTO read.daily_metrics (metric, day, currency, value) \
             SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[]) \
             ON CONFLICT (metric, day, currency) DO UPDATE \
             SET value = daily_metrics.value + excluded.value",
        )
        .bind(metrics)
        .bind(days)
        .bind(currencies)
        .bind(values)
        .execute(conn)
        .await?;
        Ok(())
    }
}
