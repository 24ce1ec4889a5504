//! Operations: bulk actions over any list, and the jobs that carry out the large ones.

pub mod bulk;
pub mod jobs;

use async_graphql::{MergedObject, MergedSubscription};

#[derive(MergedObject, Default)]
pub struct OperationsQuery(jobs::JobsQuery);

#[derive(MergedObject, Default)]
pub struct OperationsMutation(jobs::JobsMutation);

#[derive(MergedSubscription, Default)]
pub struct OperationsSubscription(jobs::JobsSubscription);
