//! Insight: the dashboard, account health and the reports (and, as they arrive, the executive
//! metrics), read from the insight read models.

pub mod content;
pub mod credit_usage;
pub mod dashboard;
pub mod data_quality;
pub mod health;
pub(crate) mod report;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct InsightQuery(
    dashboard::DashboardQuery,
    credit_usage::CreditUsageQuery,
    content::ContentQuery,
    data_quality::DataQualityQuery,
);
