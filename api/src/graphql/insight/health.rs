//! Account health: a score, a status and the reasons behind them, read from the view
//! `read.account_health`, whose migration (0032) documents the signals and their thresholds.

use crate::error::ApiError;
use async_graphql::dataloader::Loader;
use async_graphql::{Enum, SimpleObject};
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Score 70 and above.
    Healthy,
    /// Score 50 to 69: one warning.
    AtRisk,
    /// Score below 50: a serious signal, or two warnings.
    Critical,
}

impl HealthStatus {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::AtRisk => "at_risk",
            Self::Critical => "critical",
        }
    }
}

impl TryFrom<String> for HealthStatus {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(value))
            .map_err(|e| format!("unknown health status: {e}"))
    }
}

/// What a reason is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthSignal {
    /// Days the credits last at the last 30 days' burn.
    Runway,
    /// Invoices pending past their due time.
    Payment,
    /// Failed automation runs, syncs and publishes in the last 7 days.
    Failures,
    /// People's activity in the last 14 days against the 14 before.
    Activity,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthSeverity {
    /// A penalty of 35.
    Warning,
    /// A penalty of 60.
    Critical,
}

/// A signal that fired.
#[derive(SimpleObject, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HealthReason {
    pub signal: HealthSignal,
    pub severity: HealthSeverity,
    /// What it took from the score.
    pub penalty: i32,
    pub message: String,
}

/// An account's health now, with the figures its signals are read from.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct AccountHealth {
    #[graphql(skip)]
    pub account_id: Uuid,
    /// 100 less the penalties of the signals that fire, at least 0.
    pub score: i32,
    #[sqlx(try_from = "String")]
    pub status: HealthStatus,
    /// The signals that fired, worst first; empty when healthy with nothing to say.
    #[sqlx(json)]
    pub reasons: Vec<HealthReason>,
    /// Credits consumed per day over the last 30 days (UTC days, today included).
    pub burn_per_day: f64,
    /// Whole days the balance lasts at that burn; null when nothing was consumed.
    pub runway_days: Option<i64>,
    pub overdue_invoices: i64,
    /// Whole days the oldest overdue invoice is past due.
    pub overdue_days: Option<i64>,
    /// Automation runs, syncs and publishes that failed in the last 7 days…
    pub failed_runs: i64,
    /// …of this many that finished.
    pub finished_runs: i64,
    /// Person-days of activity in the last 14 days…
    pub active_recent: i64,
    /// …and in the 14 days before them.
    pub active_before: i64,
}

/// Batches the health of every account on a page into one read of the view.
pub struct HealthByAccount(pub PgPool);

impl Loader<Uuid> for HealthByAccount {
    type Value = AccountHealth;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows: Vec<AccountHealth> = sqlx::query_as(
            "SELECT account_id, score, status, reasons, burn_per_day, runway_days, \
             overdue_invoices, overdue_days, failed_runs, finished_runs, active_recent, \
             active_before FROM read.account_health WHERE account_id = ANY($1)",
        )
        .bind(keys)
        .fetch_all(&self.0)
        .await?;
        Ok(rows.into_iter().map(|h| (h.account_id, h)).collect())
    }
}
