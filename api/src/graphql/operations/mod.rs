//! Operations: bulk actions over any list, the jobs that carry out the large ones, and the
//! platform's activity reports.

pub mod activity;
pub mod bulk;
pub mod jobs;

use async_graphql::{MergedObject, MergedSubscription};

#[derive(MergedObject, Default)]
pub struct OperationsQuery(jobs::JobsQuery);

#[derive(MergedObject, Default)]
pub struct OperationsMutation(jobs::JobsMutation, activity::ActivityMutation);

#[derive(MergedSubscription, Default)]
pub struct OperationsSubscription(jobs::JobsSubscription);
