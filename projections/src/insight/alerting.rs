//! The alert evaluator: checks every enabled rule against the read models, raises an alert for
//! each subject its condition holds for, and resolves the open alerts whose condition no longer
//! holds (or whose rule was disabled).
//!
//! - **Explicit clock.** [`Evaluator::run`] takes the time to judge as of; the server's loop
//!   passes the wall clock, tests the moment they simulate.
//! - **One evaluator across servers.** A run holds a PostgreSQL advisory lock; a server that
//!   cannot take it skips its turn.
//! - **Nothing twice.** Raising an open alert and resolving a resolved one record nothing, so a
//!   run repeated after a crash, or racing the projection, adds no noise; alerts the read model
//!   shows open are not raised again at all.

use crate::store::bus::{CommandBus, CommandContext};
use crate::store::engine::HandlerError;
use crate::store::solo;
use chrono::{DateTime, Duration, Utc};
use domain::insight::alert::{Alert, AlertCommand};
use domain::insight::alert_rule::{AlertCondition, AlertSeverity};
use domain::Actor;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The name the evaluator's advisory lock is keyed by (see `solo::alone`).
const LOCK_NAME: &str = "alerting";

/// The subject of an alert about the platform as a whole.
pub const ALL: &str = "all";

/// What a rule's condition found about one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub subject: String,
    pub value: f64,
    pub message: String,
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub raised: usize,
    pub resolved: usize,
    /// False when another server held the evaluator's lock, so this one did nothing.
    pub ran: bool,
}

#[derive(Clone)]
pub struct Evaluator {
    bus: CommandBus,
}

impl Evaluator {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }

    fn pool(&self) -> &PgPool {
        self.bus.pool()
    }

    /// Judges every rule as of `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<RunReport, HandlerError> {
        Ok(solo::alone(self.pool(), LOCK_NAME, self.evaluate(now))
            .await?
            .unwrap_or_default())
    }

    async fn evaluate(&self, now: DateTime<Utc>) -> Result<RunReport, HandlerError> {
        let rules: Vec<(Uuid, sqlx::types::Json<AlertCondition>, String, bool)> =
            sqlx::query_as("SELECT id, condition, severity, enabled FROM read.alert_rules")
                .fetch_all(self.pool())
                .await?;
        let open: Vec<(String, Uuid, String)> =
            sqlx::query_as("SELECT id, rule_id, subject FROM read.alerts WHERE status = 'open'")
                .fetch_all(self.pool())
                .await?;
        let mut open_by_rule: HashMap<Uuid, HashSet<String>> = HashMap::new();
        for (_, rule, subject) in &open {
            open_by_rule
                .entry(*rule)
                .or_default()
                .insert(subject.clone());
        }
        let mut report = RunReport {
            ran: true,
            ..RunReport::default()
        };
        let context = |reason: &str| {
            CommandContext::new(Actor::system("alerts"))
                .with_reason(reason)
                .occurred_at(now)
        };
        let mut judged: HashSet<Uuid> = HashSet::new();
        for (rule, condition, severity, enabled) in rules {
            if !enabled {
                continue;
            }
            judged.insert(rule);
            let severity: AlertSeverity = severity
                .parse()
                .map_err(|_| format!("unknown severity `{severity}`"))?;
            let findings = findings(self.pool(), &condition.0, now).await?;
            let already = open_by_rule.remove(&rule).unwrap_or_default();
            let found: HashSet<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
            for finding in findings.iter().filter(|f| !already.contains(&f.subject)) {
                let raise = AlertCommand::Raise {
                    rule_id: rule,
                    subject: finding.subject.clone(),
                    severity,
                    value: finding.value,
                    message: finding.message.clone(),
                };
                let id = Alert::id_for(rule, &finding.subject);
                self.bus
                    .execute::<Alert>(&id, raise, &context("the rule's condition holds"))
                    .await?;
                report.raised += 1;
            }
            for subject in already.iter().filter(|s| !found.contains(s.as_str())) {
                self.resolve(rule, subject, "the condition no longer holds", &context)
                    .await?;
                report.resolved += 1;
            }
        }
        // Open alerts of rules disabled (or never judged): nobody watches them any more.
        for (rule, subjects) in open_by_rule {
            if judged.contains(&rule) {
                continue;
            }
            for subject in subjects {
                self.resolve(rule, &subject, "the rule was disabled", &context)
                    .await?;
                report.resolved += 1;
            }
        }
        Ok(report)
    }

    async fn resolve(
        &self,
        rule: Uuid,
        subject: &str,
        message: &str,
        context: impl Fn(&str) -> CommandContext,
    ) -> Result<(), HandlerError> {
        let resolve = AlertCommand::Resolve {
            message: message.to_string(),
        };
        self.bus
            .execute::<Alert>(&Alert::id_for(rule, subject), resolve, &context(message))
            .await?;
        Ok(())
    }

    /// Runs every `every` on the wall clock until `stop`.
    pub async fn run_every(self, every: std::time::Duration, stop: CancellationToken) {
        solo::every(every, stop, || async {
            match self.run(Utc::now()).await {
                Ok(report) if report.raised + report.resolved > 0 => {
                    tracing::info!(?report, "alerts evaluated");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "alert evaluation failed"),
            }
        })
        .await
    }
}

/// What `condition` finds as of `now`, read from the read models.
pub async fn findings(
    pool: &PgPool,
    condition: &AlertCondition,
    now: DateTime<Utc>,
) -> Result<Vec<Finding>, HandlerError> {
    let today = now.date_naive();
    let all = |value: f64, message: String| {
        vec![Finding {
            subject: ALL.to_string(),
            value,
            message,
        }]
    };
    Ok(match *condition {
        AlertCondition::PendingPayments { days } => {
            let cutoff = now - Duration::days(days.into());
            oldest(pool, "read.payments", "recorded_at", cutoff)
                .await?
                .map(|(count, oldest)| {
                    all(
                        count as f64,
                        format!(
                            "{count} payment(s) awaiting approval for more than {days} days, \
                             the oldest recorded {}",
                            oldest.format("%Y-%m-%d %H:%M UTC")
                        ),
                    )
                })
                .unwrap_or_default()
        }
        AlertCondition::OverdueInvoices { days } => {
            let cutoff = now - Duration::days(days.into());
            oldest(pool, "read.invoices", "due_at", cutoff)
                .await?
                .map(|(count, oldest)| {
                    all(
                        count as f64,
                        format!(
                            "{count} invoice(s) more than {days} days past due, the oldest due {}",
                            oldest.format("%Y-%m-%d")
                        ),
                    )
                })
                .unwrap_or_default()
        }
        AlertCondition::LowCredits { days } => {
            let low: Vec<(Uuid, String, i64, i64, f64)> = sqlx::query_as(
                "SELECT h.account_id, a.name, h.runway_days, h.balance, h.burn_per_day \
                 FROM read.account_health h JOIN read.accounts a ON a.id = h.account_id \
                 WHERE a.status = 'active' AND h.runway_days < $1 ORDER BY h.account_id",
            )
            .bind(i64::from(days))
            .fetch_all(pool)
            .await?;
            low.into_iter()
                .map(|(account, name, runway, balance, burn)| Finding {
                    subject: account.to_string(),
                    value: runway as f64,
                    message: format!(
                        "{name}: credits run out in about {runway} days ({balance} left, \
                         {burn:.2} a day over the last 30 days)"
                    ),
                })
                .collect()
        }
        AlertCondition::FailureRate {
            activity,
            percent,
            min_runs,
        } => {
            let (failed, finished): (i64, i64) = sqlx::query_as(
                "SELECT coalesce(sum(records) FILTER (WHERE status = 'failed'), 0)::bigint, \
                        coalesce(sum(records), 0)::bigint \
                 FROM read.activity_daily WHERE day = $1 AND kind = $2 \
                 AND status IN ('succeeded', 'failed')",
            )
            .bind(today)
            .bind(activity.as_str())
            .fetch_one(pool)
            .await?;
            rate(failed, finished, percent, min_runs)
                .map(|rate| {
                    all(
                        rate,
                        format!(
                            "{failed} of {finished} {} today failed ({rate:.1}%, the limit is \
                             {percent}%)",
                            activity.as_str().replace('_', " ") + "s"
                        ),
                    )
                })
                .unwrap_or_default()
        }
        AlertCondition::AiErrorRate { percent, min_calls } => {
            let (failed, calls): (i64, i64) = sqlx::query_as(
                "SELECT coalesce(sum(failed_calls), 0)::bigint, coalesce(sum(calls), 0)::bigint \
                 FROM read.ai_usage_daily WHERE day = $1",
            )
            .bind(today)
            .fetch_one(pool)
            .await?;
            rate(failed, calls, percent, min_calls)
                .map(|rate| {
                    all(
                        rate,
                        format!(
                            "{failed} of {calls} AI calls today failed ({rate:.1}%, the limit is \
                             {percent}%)"
                        ),
                    )
                })
                .unwrap_or_default()
        }
        AlertCondition::ProjectionLag { seconds } => {
            let behind: Vec<(String, Option<DateTime<Utc>>, bool)> = sqlx::query_as(
                "SELECT c.name, (SELECT e.recorded_at FROM events e \
                   WHERE (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position) \
                   ORDER BY e.transaction_id, e.position LIMIT 1), \
                   c.stuck_position IS NOT NULL \
                 FROM projection_checkpoints c ORDER BY c.name",
            )
            .fetch_all(pool)
            .await?;
            behind
                .into_iter()
                .filter_map(|(name, oldest, stuck)| {
                    let lag =
                        oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
                    (lag > f64::from(seconds)).then(|| Finding {
                        message: format!(
                            "projection {name} is {lag:.0} seconds behind the log{}",
                            if stuck {
                                " and stuck at an event it cannot apply"
                            } else {
                                ""
                            }
                        ),
                        subject: name,
                        value: lag,
                    })
                })
                .collect()
        }
    })
}

/// How many rows of `table` are pending with `column` before `cutoff`, and the earliest such
/// time; `None` when there are none. (`table` and `column` are this module's constants.)
async fn oldest(
    pool: &PgPool,
    table: &str,
    column: &str,
    cutoff: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>, HandlerError> {
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(&format!(
        "SELECT count(*), min({column}) FROM {table} WHERE status = 'pending' AND {column} < $1"
    ))
    .bind(cutoff)
    .fetch_one(pool)
    .await?;
    Ok(oldest.filter(|_| count > 0).map(|oldest| (count, oldest)))
}

/// `failed` of `total` as a percentage, when `total` is at least `min` and the percentage
/// reaches `percent`.
fn rate(failed: i64, total: i64, percent: u32, min: u32) -> Option<f64> {
    (total >= i64::from(min) && total > 0 && failed * 100 >= i64::from(percent) * total)
        .then(|| failed as f64 * 100.0 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn a_rate_fires_from_its_percentage_and_only_over_enough_runs() {
        assert_eq!(rate(1, 5, 20, 5), Some(20.0));
        assert_eq!(rate(1, 6, 20, 5), None);
        assert_eq!(rate(4, 4, 20, 5), None);
        assert_eq!(rate(0, 0, 1, 1), None);
    }
}
