//! Insight: the dashboard (and, as they arrive, the reports and the executive metrics), read
//! from the insight read models.

pub mod dashboard;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct InsightQuery(dashboard::DashboardQuery);
