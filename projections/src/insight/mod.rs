//! Insight: the read models the dashboard, the reports and the metrics are answered from (they
//! fold the other contexts' events), and the alerts: their read model and their evaluator.

pub mod activity;
pub mod alerting;
pub mod alerts;
pub mod credit_usage;
pub mod daily_metrics;
pub mod mrr;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::insight::alert::Alert;
use domain::insight::alert_rule::AlertRule;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<AlertRule>(), chronicle_of::<Alert>()]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(activity::ActivityProjection),
        Arc::new(daily_metrics::DailyMetricsProjection),
        Arc::new(credit_usage::CreditUsageProjection),
        Arc::new(alerts::AlertsProjection),
        Arc::new(mrr::MrrProjection),
    ]
}
