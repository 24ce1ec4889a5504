//! Operations: what the backend does in the background on a person's behalf (bulk jobs), and
//! what the platform reports happening in accounts (activity). Alerts join here.

pub mod activity;
pub mod bulk_job;
