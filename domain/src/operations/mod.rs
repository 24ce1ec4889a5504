//! Operations: what the backend does in the background on a person's behalf. Bulk jobs for
//! now; platform activity and alerts join here.

pub mod bulk_job;
