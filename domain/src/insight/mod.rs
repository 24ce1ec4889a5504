//! Insight: what the dashboard, the reports and the executive metrics count, and how. Insight
//! owns no aggregate (its read models fold the other contexts' events); what lives here is the
//! vocabulary of its figures, each with its definition beside it.

pub mod metric;
