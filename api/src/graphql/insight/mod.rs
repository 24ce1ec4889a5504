//! Insight: the dashboard and the credit usage report (and, as they arrive, the other reports
//! and the executive metrics), read from the insight read models.

pub mod credit_usage;
pub mod dashboard;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct InsightQuery(dashboard::DashboardQuery, credit_usage::CreditUsageQuery);
