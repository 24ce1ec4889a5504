//! Insight: the dashboard, account health, the reports, the alerts and the executive metrics,
//! read from the insight read models.

pub mod alerts;
pub mod content;
pub mod credit_usage;
pub mod dashboard;
pub mod data_quality;
pub mod executive;
pub mod health;
pub(crate) mod report;

use async_graphql::{MergedObject, MergedSubscription};

#[derive(MergedObject, Default)]
pub struct InsightQuery(
    dashboard::DashboardQuery,
    credit_usage::CreditUsageQuery,
    content::ContentQuery,
    data_quality::DataQualityQuery,
    alerts::AlertQuery,
    executive::ExecutiveQuery,
);

#[derive(MergedObject, Default)]
pub struct InsightMutation(alerts::AlertMutation);

#[derive(MergedSubscription, Default)]
pub struct InsightSubscription(alerts::AlertSubscription);
