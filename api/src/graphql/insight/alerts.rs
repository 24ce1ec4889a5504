//! Alerts: the rules (superusers edit them), the alerts they raise (those allowed insight read,
//! acknowledge and snooze them), and a live feed of every change.

use crate::error::ApiError;
use crate::graphql::audit::history::{versions, AggregateVersion, HistoryFilter};
use crate::graphql::kit::page::Page;
use crate::graphql::{parse_id, run_explained, services, Rule, WriteReceipt};
use async_graphql::{
    ComplexObject, Context, Enum, InputObject, Object, SimpleObject, Subscription, ID,
};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::identity::permission::Permission;
use domain::insight::alert::{Alert, AlertCommand};
use domain::insight::alert_rule::{
    AlertCondition, AlertRule, AlertRuleCommand, AlertRuleError, RuleName, RuleSpec,
};
use futures::Stream;
use sqlx::PgPool;
use std::collections::VecDeque;
use std::time::Duration;
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::insight::alert_rule::AlertSeverity")]
pub enum AlertSeverity {
    Warning,
    Critical,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::insight::alert_rule::RunKind")]
pub enum RunKind {
    AutomationRun,
    Sync,
    Publish,
}

/// What a rule fires on; each kind reads the thresholds named beside it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertConditionKind {
    /// Payments awaiting approval for more than `days` (one alert for them all).
    PendingPayments,
    /// Accounts whose credits last fewer than `days` at their last 30 days' burn (an alert
    /// per account).
    LowCredits,
    /// Of at least `minRuns` runs of `activity` that finished today (UTC), `percent` or more
    /// failed.
    FailureRate,
    /// Of at least `minCalls` AI calls today (UTC), `percent` or more failed.
    AiErrorRate,
    /// A projection is more than `seconds` behind the log (an alert per projection).
    ProjectionLag,
    /// Invoices pending more than `days` past their due time (one alert for them all).
    OverdueInvoices,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertStatus {
    /// Raised, not resolved (acknowledged or snoozed, perhaps).
    Open,
    Resolved,
}

/// A rule's condition: its kind and the thresholds that kind reads (the others are null).
#[derive(SimpleObject, InputObject, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(input_name = "AlertConditionInput")]
pub struct AlertConditionNode {
    pub kind: AlertConditionKind,
    pub days: Option<i32>,
    pub percent: Option<i32>,
    pub min_runs: Option<i32>,
    pub min_calls: Option<i32>,
    pub seconds: Option<i32>,
    pub activity: Option<RunKind>,
}

impl AlertConditionNode {
    fn of(condition: AlertCondition) -> Self {
        let int = |n: u32| Some(i32::try_from(n).unwrap_or(i32::MAX));
        let mut node = Self {
            kind: AlertConditionKind::PendingPayments,
            days: None,
            percent: None,
            min_runs: None,
            min_calls: None,
            seconds: None,
            activity: None,
        };
        match condition {
            AlertCondition::PendingPayments { days } => node.days = int(days),
            AlertCondition::LowCredits { days } => {
                node.kind = AlertConditionKind::LowCredits;
                node.days = int(days);
            }
            AlertCondition::FailureRate {
                activity,
                percent,
                min_runs,
            } => {
                node.kind = AlertConditionKind::FailureRate;
                node.activity = Some(activity.into());
                node.percent = int(percent);
                node.min_runs = int(min_runs);
            }
            AlertCondition::AiErrorRate { percent, min_calls } => {
                node.kind = AlertConditionKind::AiErrorRate;
                node.percent = int(percent);
                node.min_calls = int(min_calls);
            }
            AlertCondition::ProjectionLag { seconds } => {
                node.kind = AlertConditionKind::ProjectionLag;
                node.seconds = int(seconds);
            }
            AlertCondition::OverdueInvoices { days } => {
                node.kind = AlertConditionKind::OverdueInvoices;
                node.days = int(days);
            }
        }
        node
    }

    /// The domain's condition: the thresholds the kind needs, present and not negative.
    fn condition(self) -> Result<AlertCondition, ApiError> {
        let need = |field: &str, value: Option<i32>| -> Result<u32, ApiError> {
            let value = value.ok_or_else(|| {
                ApiError::validation(format!("a {:?} condition needs `{field}`", self.kind))
            })?;
            u32::try_from(value)
                .map_err(|_| ApiError::validation(format!("`{field}` must not be negative")))
        };
        let condition = match self.kind {
            AlertConditionKind::PendingPayments => AlertCondition::PendingPayments {
                days: need("days", self.days)?,
            },
            AlertConditionKind::LowCredits => AlertCondition::LowCredits {
                days: need("days", self.days)?,
            },
            AlertConditionKind::FailureRate => AlertCondition::FailureRate {
                activity: self
                    .activity
                    .ok_or_else(|| {
                        ApiError::validation("a FailureRate condition needs `activity`")
                    })?
                    .into(),
                percent: need("percent", self.percent)?,
                min_runs: need("minRuns", self.min_runs)?,
            },
            AlertConditionKind::AiErrorRate => AlertCondition::AiErrorRate {
                percent: need("percent", self.percent)?,
                min_calls: need("minCalls", self.min_calls)?,
            },
            AlertConditionKind::ProjectionLag => AlertCondition::ProjectionLag {
                seconds: need("seconds", self.seconds)?,
            },
            AlertConditionKind::OverdueInvoices => AlertCondition::OverdueInvoices {
                days: need("days", self.days)?,
            },
        };
        Ok(condition.checked()?)
    }
}

impl From<AlertRuleError> for ApiError {
    fn from(error: AlertRuleError) -> Self {
        ApiError::new(domain::kit::error::Coded::code(&error), error.to_string())
    }
}

#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex, name = "AlertRule")]
pub struct AlertRuleNode {
    pub id: Uuid,
    pub name: String,
    pub condition: AlertConditionNode,
    pub severity: AlertSeverity,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl AlertRuleNode {
    /// Who defined and changed the rule, when and why.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(
            ctx,
            AlertRule::TYPE,
            &self.id.to_string(),
            first,
            after,
            filter,
        )
        .await
    }
}

type RuleRow = (
    Uuid,
    String,
    sqlx::types::Json<AlertCondition>,
    String,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn rule_node(row: RuleRow) -> Result<AlertRuleNode, ApiError> {
    let (id, name, condition, severity, enabled, created_at, updated_at) = row;
    Ok(AlertRuleNode {
        id,
        name,
        condition: AlertConditionNode::of(condition.0),
        severity: AlertSeverity::try_from(severity)
            .map_err(|e| ApiError::internal(&std::io::Error::other(e)))?,
        enabled,
        created_at,
        updated_at,
    })
}

const RULE_COLUMNS: &str = "id, name, condition, severity, enabled, created_at, updated_at";

async fn rules(pool: &PgPool, id: Option<Uuid>) -> Result<Vec<AlertRuleNode>, ApiError> {
    let rows: Vec<RuleRow> = sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM read.alert_rules WHERE $1::uuid IS NULL OR id = $1 \
         ORDER BY name, id"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(rule_node).collect()
}

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "Alert")]
pub struct AlertNode {
    /// `<rule id>:<subject>`.
    pub id: String,
    pub rule_id: Uuid,
    pub rule_name: String,
    /// What it is about: `all` (the platform), an account's id or a projection's name.
    pub subject: String,
    /// The account it is about, when it is about one.
    pub account_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub severity: AlertSeverity,
    #[sqlx(try_from = "String")]
    pub status: AlertStatus,
    /// What the rule measured when it fired: a count, days, seconds or a percentage.
    pub value: f64,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledge_note: Option<String>,
    /// While open, hidden from the active list and the live feed's watchers until then.
    pub snoozed_until: Option<DateTime<Utc>>,
    pub snoozed_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolve_message: Option<String>,
    /// How many times it has been raised.
    pub episodes: i32,
    /// The log position of its latest change.
    pub position: i64,
}

impl TryFrom<String> for AlertSeverity {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value
            .parse::<domain::insight::alert_rule::AlertSeverity>()
            .map(Self::from)
            .map_err(|_| format!("unknown severity `{value}`"))
    }
}

impl TryFrom<String> for AlertStatus {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            _ => Err(format!("unknown alert status `{value}`")),
        }
    }
}

#[ComplexObject]
impl AlertNode {
    /// When it was raised, acknowledged, snoozed and resolved, by whom, episode after episode.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(ctx, Alert::TYPE, &self.id, first, after, filter).await
    }
}

/// An alert's columns, with its rule's name, and the tables they come from.
const ALERT_ROWS: &str = "a.id, a.rule_id, coalesce(r.name, '') AS rule_name, a.subject, \
    a.account_id, a.severity, a.status, a.value, a.message, a.raised_at, a.acknowledged_at, \
    a.acknowledged_by, a.acknowledge_note, a.snoozed_until, a.snoozed_by, a.resolved_at, \
    a.resolve_message, a.episodes, a.last_position AS position \
    FROM read.alerts a LEFT JOIN read.alert_rules r ON r.id = a.rule_id";

async fn find_alert(pool: &PgPool, id: &str) -> Result<Option<AlertNode>, ApiError> {
    Ok(
        sqlx::query_as(&format!("SELECT {ALERT_ROWS} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The most alerts one list answers.
const MAX_ALERTS: i32 = 500;

#[derive(InputObject, Default)]
pub struct AlertFilter {
    /// Any of these statuses (open when omitted).
    pub status: Option<Vec<AlertStatus>>,
    /// Include open alerts snoozed until later (left out by default).
    pub include_snoozed: Option<bool>,
    pub rule_id: Option<ID>,
    pub account_id: Option<ID>,
    pub severity: Option<Vec<AlertSeverity>>,
}

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// Every alert rule, by name.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn alert_rules(&self, ctx: &Context<'_>) -> Result<Vec<AlertRuleNode>, ApiError> {
        rules(&services(ctx).pool, None).await
    }

    /// Alerts, critical first, then the most recently raised; open and not snoozed unless the
    /// filter says otherwise; at most `first` (1 to 500; default 100).
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        filter: Option<AlertFilter>,
        first: Option<i32>,
    ) -> Result<Vec<AlertNode>, ApiError> {
        let filter = filter.unwrap_or_default();
        let first = first.unwrap_or(100);
        if !(1..=MAX_ALERTS).contains(&first) {
            return Err(ApiError::validation(format!(
                "`first` must be between 1 and {MAX_ALERTS}"
            )));
        }
        let statuses: Vec<&str> = filter
            .status
            .unwrap_or_else(|| vec![AlertStatus::Open])
            .into_iter()
            .map(|s| match s {
                AlertStatus::Open => "open",
                AlertStatus::Resolved => "resolved",
            })
            .collect();
        let severities: Option<Vec<&str>> = filter.severity.map(|all| {
            all.into_iter()
                .map(|s| domain::insight::alert_rule::AlertSeverity::from(s).as_str())
                .collect()
        });
        let rule = filter
            .rule_id
            .as_ref()
            .map(|id| parse_id("filter.ruleId", id))
            .transpose()?;
        let account = filter
            .account_id
            .as_ref()
            .map(|id| parse_id("filter.accountId", id))
            .transpose()?;
        Ok(sqlx::query_as(&format!(
            "SELECT {ALERT_ROWS} \
             WHERE a.status = ANY($1) AND ($2 OR a.status <> 'open' OR a.snoozed_until IS NULL \
               OR a.snoozed_until <= now()) \
             AND ($3::uuid IS NULL OR a.rule_id = $3) AND ($4::uuid IS NULL OR a.account_id = $4) \
             AND ($5::text[] IS NULL OR a.severity = ANY($5)) \
             ORDER BY a.severity = 'critical' DESC, a.raised_at DESC, a.id LIMIT $6"
        ))
        .bind(statuses)
        .bind(filter.include_snoozed.unwrap_or(false))
        .bind(rule)
        .bind(account)
        .bind(severities)
        .bind(i64::from(first))
        .fetch_all(&services(ctx).pool)
        .await?)
    }
}

#[derive(InputObject)]
pub struct AlertRuleInput {
    pub name: String,
    pub condition: AlertConditionNode,
    pub severity: AlertSeverity,
}

impl AlertRuleInput {
    fn spec(self) -> Result<RuleSpec, ApiError> {
        Ok(RuleSpec {
            name: RuleName::parse(&self.name)?,
            condition: self.condition.condition()?,
            severity: self.severity.into(),
        })
    }
}

#[derive(InputObject)]
pub struct DefineAlertRuleInput {
    pub rule: AlertRuleInput,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ChangeAlertRuleInput {
    pub id: ID,
    /// The rule as it is to be: name, condition and severity.
    pub rule: AlertRuleInput,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct AlertRuleReasonInput {
    pub id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct AcknowledgeAlertInput {
    pub id: ID,
    /// What is being done about it.
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct SnoozeAlertInput {
    pub id: ID,
    /// Within the next 30 days.
    pub until: DateTime<Utc>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct AlertRulePayload {
    pub rule: Option<AlertRuleNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(SimpleObject)]
pub struct AlertPayload {
    pub alert: Option<AlertNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

async fn rule_command(
    ctx: &Context<'_>,
    id: Uuid,
    command: AlertRuleCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<AlertRulePayload, ApiError> {
    let receipt = run_explained::<AlertRule>(ctx, id, command, reason, idempotency_key).await?;
    Ok(AlertRulePayload {
        rule: rules(&services(ctx).pool, Some(id)).await?.pop(),
        receipt,
    })
}

async fn alert_command(
    ctx: &Context<'_>,
    id: &ID,
    command: AlertCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<AlertPayload, ApiError> {
    let receipt =
        run_explained::<Alert>(ctx, id.as_str(), command, reason, idempotency_key).await?;
    Ok(AlertPayload {
        alert: find_alert(&services(ctx).pool, id).await?,
        receipt,
    })
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    /// Defines a rule, enabled; the evaluator judges it from its next run.
    #[graphql(guard = "Rule::Superuser")]
    async fn define_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: DefineAlertRuleInput,
    ) -> Result<AlertRulePayload, ApiError> {
        let command = AlertRuleCommand::Define(input.rule.spec()?);
        rule_command(
            ctx,
            Uuid::now_v7(),
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Changes a rule's name, condition or severity; its open alerts are judged by the new
    /// condition at the evaluator's next run.
    #[graphql(guard = "Rule::Superuser")]
    async fn change_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: ChangeAlertRuleInput,
    ) -> Result<AlertRulePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        let command = AlertRuleCommand::Change(input.rule.spec()?);
        rule_command(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    #[graphql(guard = "Rule::Superuser")]
    async fn enable_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: AlertRuleReasonInput,
    ) -> Result<AlertRulePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        rule_command(
            ctx,
            id,
            AlertRuleCommand::Enable,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Disables a rule; its open alerts are resolved at the evaluator's next run.
    #[graphql(guard = "Rule::Superuser")]
    async fn disable_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: AlertRuleReasonInput,
    ) -> Result<AlertRulePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        rule_command(
            ctx,
            id,
            AlertRuleCommand::Disable,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Says someone is on it. Only an open alert; once per episode.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn acknowledge_alert(
        &self,
        ctx: &Context<'_>,
        input: AcknowledgeAlertInput,
    ) -> Result<AlertPayload, ApiError> {
        let command = AlertCommand::Acknowledge { note: input.note };
        alert_command(
            ctx,
            &input.id,
            command,
            "acknowledged",
            input.idempotency_key,
        )
        .await
    }

    /// Hides an open alert from those watching until `until`; it still resolves if it clears.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn snooze_alert(
        &self,
        ctx: &Context<'_>,
        input: SnoozeAlertInput,
    ) -> Result<AlertPayload, ApiError> {
        let command = AlertCommand::Snooze {
            until: input.until,
            now: Utc::now(),
        };
        alert_command(
            ctx,
            &input.id,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }
}

/// How often the feed looks for changes when no batch of this server's projector says the
/// alerts moved (the projector may run on another server).
const FEED_POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct AlertSubscription;

#[Subscription]
impl AlertSubscription {
    /// The alerts that change (raised, acknowledged, snoozed, resolved), each as it stands once
    /// the change is read, in log order: those changed after log position `after` (an alert's
    /// `position`, so a client that reconnects misses nothing), or from now on. Two changes of
    /// one alert read together arrive as one, its latest state.
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn alert_changes(
        &self,
        ctx: &Context<'_>,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = AlertNode>, ApiError> {
        let services = services(ctx);
        let pool = services.pool.clone();
        let since: i64 = match after {
            Some(after) => after,
            None => {
                sqlx::query_scalar("SELECT coalesce(max(last_position), 0) FROM read.alerts")
                    .fetch_one(&pool)
                    .await?
            }
        };
        let moved = services.engine.watch(projections::insight::alerts::NAME);
        let start = (since, VecDeque::<AlertNode>::new(), moved);
        Ok(futures::stream::unfold(
            start,
            move |(mut since, mut ready, mut moved)| {
                let pool = pool.clone();
                async move {
                    loop {
                        if let Some(alert) = ready.pop_front() {
                            return Some((alert, (since, ready, moved)));
                        }
                        match &mut moved {
                            Some(receiver) => {
                                let _ = tokio::time::timeout(FEED_POLL, receiver.changed()).await;
                            }
                            None => tokio::time::sleep(FEED_POLL).await,
                        }
                        // A database error ends the stream; the client subscribes again.
                        let changed: Vec<AlertNode> = sqlx::query_as(&format!(
                            "SELECT {ALERT_ROWS} WHERE a.last_position > $1 ORDER BY a.last_position"
                        ))
                        .bind(since)
                        .fetch_all(&pool)
                        .await
                        .ok()?;
                        if let Some(last) = changed.last() {
                            since = last.position;
                        }
                        ready.extend(changed);
                    }
                }
            },
        ))
    }
}
