//! Projection `alerts`: the alert rules, and each alert's latest episode. Alerts are few (a
//! handful of rules, each about the platform, some accounts or some projections), so events are
//! applied one statement each.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::insight::alert::{Alert, AlertEvent};
use domain::insight::alert_rule::{AlertRule, AlertRuleEvent, RuleSpec};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "alerts";

pub struct AlertsProjection;

#[async_trait]
impl EventHandler for AlertsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[AlertRule::TYPE, Alert::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.alert_rules", "read.alerts"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.alert_rules, read.alerts")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let ours = |e: &&RecordedEvent| {
            e.aggregate_type == AlertRule::TYPE || e.aggregate_type == Alert::TYPE
        };
        for event in events.iter().filter(ours) {
            let position = event.at.position;
            let at = event.metadata()?.occurred_at;
            let actor = &event.metadata()?.actor.id;
            if event.aggregate_type == AlertRule::TYPE {
                let Some(rule) = event.decode::<AlertRuleEvent>()? else {
                    continue;
                };
                let id: Uuid = event.aggregate_id.parse()?;
                match rule {
                    AlertRuleEvent::AlertRuleDefined(spec)
                    | AlertRuleEvent::AlertRuleChanged(spec) => {
                        let RuleSpec {
                            name,
                            condition,
                            severity,
                        } = spec;
                        sqlx::query(
                            "INSERT INTO read.alert_rules (id, name, kind, condition, severity, \
                             enabled, created_at, updated_at, last_position) \
                             VALUES ($1, $2, $3, $4, $5, true, $6, $6, $7) \
                             ON CONFLICT (id) DO UPDATE SET name = $2, kind = $3, condition = $4, \
                             severity = $5, updated_at = $6, last_position = $7",
                        )
                        .bind(id)
                        .bind(name.as_str())
                        .bind(condition.kind())
                        .bind(serde_json::to_value(condition)?)
                        .bind(severity.as_str())
                        .bind(at)
                        .bind(position)
                        .execute(&mut *conn)
                        .await?;
                    }
                    AlertRuleEvent::AlertRuleEnabled | AlertRuleEvent::AlertRuleDisabled => {
                        let enabled = rule == AlertRuleEvent::AlertRuleEnabled;
                        sqlx::query(
                            "UPDATE read.alert_rules SET enabled = $2, updated_at = $3, \
                             last_position = $4 WHERE id = $1",
                        )
                        .bind(id)
                        .bind(enabled)
                        .bind(at)
                        .bind(position)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                continue;
            }
            let Some(alert) = event.decode::<AlertEvent>()? else {
                continue;
            };
            let id = &event.aggregate_id;
            let query = match alert {
                AlertEvent::AlertRaised {
                    rule_id,
                    subject,
                    severity,
                    value,
                    message,
                } => sqlx::query(
                    "INSERT INTO read.alerts (id, rule_id, subject, account_id, severity, status, \
                     value, message, raised_at, episodes, last_position) \
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, 1, $9) \
                     ON CONFLICT (id) DO UPDATE SET severity = $5, status = 'open', value = $6, \
                     message = $7, raised_at = $8, acknowledged_at = NULL, acknowledged_by = NULL, \
                     acknowledge_note = NULL, snoozed_until = NULL, snoozed_by = NULL, \
                     resolved_at = NULL, resolve_message = NULL, episodes = alerts.episodes + 1, \
                     last_position = $9",
                )
                .bind(id)
                .bind(rule_id)
                .bind(subject.clone())
                .bind(subject.parse::<Uuid>().ok())
                .bind(severity.as_str())
                .bind(value)
                .bind(message)
                .bind(at)
                .bind(position),
                AlertEvent::AlertAcknowledged { note } => sqlx::query(
                    "UPDATE read.alerts SET acknowledged_at = $2, acknowledged_by = $3, \
                     acknowledge_note = $4, last_position = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .bind(actor.clone())
                .bind(note)
                .bind(position),
                AlertEvent::AlertSnoozed { until } => sqlx::query(
                    "UPDATE read.alerts SET snoozed_until = $2, snoozed_by = $3, \
                     last_position = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(until)
                .bind(actor.clone())
                .bind(position),
                AlertEvent::AlertResolved { message } => sqlx::query(
                    "UPDATE read.alerts SET status = 'resolved', resolved_at = $2, \
                     resolve_message = $3, last_position = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .bind(message)
                .bind(position),
            };
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}
