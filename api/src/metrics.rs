//! Prometheus metrics. The recorder is process-wide; installing it twice (several servers in
//! one test process) reuses the first.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use projections::store::engine::HandlerStatus;
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by a test harness); then ours
            // still renders what it was given, which is nothing, rather than failing start-up.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Publishes projection progress as gauges, just before a scrape renders them.
pub fn record_projections(statuses: &[HandlerStatus]) {
    for status in statuses {
        let name = status.name.clone();
        metrics::gauge!("igny8_projection_position", "projection" => name.clone())
            .set(status.checkpoint.position as f64);
        metrics::gauge!("igny8_projection_pending_events", "projection" => name.clone())
            .set(status.pending as f64);
        metrics::gauge!("igny8_projection_lag_seconds", "projection" => name.clone())
            .set(status.lag_seconds);
        metrics::gauge!("igny8_projection_stuck", "projection" => name)
            .set(if status.stuck.is_some() { 1.0 } else { 0.0 });
    }
}

/// A bounded label for a client-chosen GraphQL operation name.
pub fn operation_label(name: Option<&str>) -> String {
    match name {
        None => "anonymous".into(),
        Some(n) if n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            n.to_string()
        }
        Some(_) => "invalid_name".into(),
    }
}
