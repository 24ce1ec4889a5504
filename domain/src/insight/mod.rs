//! Insight: what the dashboard, the reports and the executive metrics count, and how, and the
//! alerts: the vocabulary of the figures, each with its definition beside it (its read models
//! fold the other contexts' events), and the alert rules and alerts, insight's own aggregates.

pub mod alert;
pub mod alert_rule;
pub mod metric;
pub mod mrr;
