//! Operations' read models: bulk jobs, their progress and every item's result. Platform
//! activity is recorded here and read by `insight`.

pub mod bulk_jobs;

use crate::audit::history::{chronicle_of, Chronicle};
use crate::store::engine::EventHandler;
use domain::operations::activity::ActivityRecord;
use domain::operations::bulk_job::BulkJob;
use std::sync::Arc;

/// The context's aggregates, whose histories can be told.
pub fn chronicles() -> Vec<Arc<dyn Chronicle>> {
    vec![chronicle_of::<BulkJob>(), chronicle_of::<ActivityRecord>()]
}

pub fn handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(bulk_jobs::BulkJobsProjection)]
}
