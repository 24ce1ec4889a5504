//! Insight: the read models the dashboard, the reports and the metrics are answered from.
//! Read models only: insight owns no aggregate, it folds the other contexts' events.

pub mod activity;
pub mod credit_usage;
pub mod daily_metrics;

use crate::store::engine::EventHandler;
use std::sync::Arc;

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(activity::ActivityProjection),
        Arc::new(daily_metrics::DailyMetricsProjection),
        Arc::new(credit_usage::CreditUsageProjection),
    ]
}
