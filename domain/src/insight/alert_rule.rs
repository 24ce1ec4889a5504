//! Alert rules: what the alert evaluator watches for, as data a superuser edits. Each rule is a
//! condition with its thresholds, a severity, and whether it is enabled.
//!
//! Decisions:
//! - A rule's condition may change (thresholds, even its kind); alerts it raised before are
//!   judged by the new condition at the evaluator's next run, and resolved if they no longer hold.
//! - Defining a rule that exists with the same content is a no-op (so built-in rules are
//!   ensured at every start); with other content it is a `CONFLICT`: change it instead.

use crate::kit::error::{Coded, ErrorCode};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const RULE_NAMESPACE: Uuid = Uuid::from_u128(0x2f6b_91c4_7a3e_4d05_b8e1_5c9a_04d7_e3a2);

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlertSeverity {
    Warning,
    Critical,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The activity whose failure rate a rule watches.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunKind {
    AutomationRun,
    Sync,
    Publish,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a rule fires on. Rates are over today (UTC), so they start afresh each day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertCondition {
    /// Payments awaiting approval for more than `days` (one alert for them all).
    PendingPayments { days: u32 },
    /// Accounts whose credits last fewer than `days` at their last 30 days' burn (an alert
    /// per account).
    LowCredits { days: u32 },
    /// Of at least `min_runs` runs of `activity` that finished today, `percent` or more failed.
    FailureRate {
        activity: RunKind,
        percent: u32,
        min_runs: u32,
    },
    /// Of at least `min_calls` AI calls today, `percent` or more failed.
    AiErrorRate { percent: u32, min_calls: u32 },
    /// A projection is more than `seconds` behind the log, or stuck (an alert per projection).
    ProjectionLag { seconds: u32 },
    /// Invoices pending more than `days` past their due time (one alert for them all).
    OverdueInvoices { days: u32 },
}

impl AlertCondition {
    /// Every kind of condition, as stored (the serde tag).
    pub const KINDS: &'static [&'static str] = &[
        "pending_payments",
        "low_credits",
        "failure_rate",
        "ai_error_rate",
        "projection_lag",
        "overdue_invoices",
    ];

    /// Its kind, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PendingPayments { .. } => "pending_payments",
            Self::LowCredits { .. } => "low_credits",
            Self::FailureRate { .. } => "failure_rate",
            Self::AiErrorRate { .. } => "ai_error_rate",
            Self::ProjectionLag { .. } => "projection_lag",
            Self::OverdueInvoices { .. } => "overdue_invoices",
        }
    }

    /// The condition, if its thresholds are ones a rule can hold.
    pub fn checked(self) -> Result<Self, AlertRuleError> {
        let within = |field: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(AlertRuleError::Invalid(format!(
                    "`{field}` must be between {} and {}, got {value}",
                    range.start(),
                    range.end()
                )))
            }
        };
        match self {
            Self::PendingPayments { days } | Self::OverdueInvoices { days } => {
                within("days", days, 0..=365)?
            }
            Self::LowCredits { days } => within("days", days, 1..=365)?,
            Self::FailureRate {
                percent, min_runs, ..
            } => {
                within("percent", percent, 1..=100)?;
                within("minRuns", min_runs, 1..=1_000_000)?;
            }
            Self::AiErrorRate { percent, min_calls } => {
                within("percent", percent, 1..=100)?;
                within("minCalls", min_calls, 1..=1_000_000)?;
            }
            Self::ProjectionLag { seconds } => within("seconds", seconds, 1..=86_400)?,
        }
        Ok(self)
    }
}

/// A rule's name: what people see on its alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleName(String);

impl RuleName {
    pub fn parse(text: &str) -> Result<Self, AlertRuleError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 100 || text.chars().any(char::is_control) {
            return Err(AlertRuleError::Invalid(
                "a rule's name is 1 to 100 characters, with no control characters".into(),
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleName {
    type Error = AlertRuleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RuleName> for String {
    fn from(name: RuleName) -> Self {
        name.0
    }
}

/// What a rule says: its name, condition and severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: RuleName,
    pub condition: AlertCondition,
    pub severity: AlertSeverity,
}

/// The rules every installation starts with (enabled), by a stable key.
pub fn builtin() -> Vec<(&'static str, RuleSpec)> {
    use AlertCondition as C;
    let rule = |key, name: &str, condition, severity| {
        (
            key,
            RuleSpec {
                name: RuleName::parse(name).expect("a valid name"),
                condition,
                severity,
            },
        )
    };
    vec![
        rule(
            "pending-payments",
            "Payments awaiting approval for more than 2 days",
            C::PendingPayments { days: 2 },
            AlertSeverity::Warning,
        ),
        rule(
            "low-credits",
            "Credits run out within 3 days",
            C::LowCredits { days: 3 },
            AlertSeverity::Warning,
        ),
        rule(
            "automation-failures",
            "A fifth of today's automation runs failed",
            C::FailureRate {
                activity: RunKind::AutomationRun,
                percent: 20,
                min_runs: 20,
            },
            AlertSeverity::Critical,
        ),
        rule(
            "sync-failures",
            "A fifth of today's syncs failed",
            C::FailureRate {
                activity: RunKind::Sync,
                percent: 20,
                min_runs: 20,
            },
            AlertSeverity::Warning,
        ),
        rule(
            "ai-errors",
            "A tenth of today's AI calls failed",
            C::AiErrorRate {
                percent: 10,
                min_calls: 50,
            },
            AlertSeverity::Critical,
        ),
        rule(
            "projection-lag",
            "A read model is more than a minute behind",
            C::ProjectionLag { seconds: 60 },
            AlertSeverity::Critical,
        ),
        rule(
            "overdue-invoices",
            "Invoices more than 7 days past due",
            C::OverdueInvoices { days: 7 },
            AlertSeverity::Warning,
        ),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertRuleCommand {
    Define(RuleSpec),
    Change(RuleSpec),
    Enable,
    Disable,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AlertRuleEvent {
    AlertRuleDefined(RuleSpec),
    AlertRuleChanged(RuleSpec),
    AlertRuleEnabled,
    AlertRuleDisabled,
}

crate::stored_event!(AlertRuleEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertRuleError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("there is no such alert rule")]
    Unknown,
    /// `CONFLICT`
    #[error("this rule is already defined, otherwise; change it instead")]
    AlreadyDefined,
}

impl Coded for AlertRuleError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::Unknown => ErrorCode::NotFound,
            Self::AlreadyDefined => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    spec: Option<RuleSpec>,
    enabled: bool,
}

impl AlertRule {
    /// The aggregate id of a built-in rule.
    pub fn id_for(key: &str) -> Uuid {
        Uuid::new_v5(&RULE_NAMESPACE, key.as_bytes())
    }

    fn decide(&self, command: AlertRuleCommand) -> Result<Option<AlertRuleEvent>, AlertRuleError> {
        use AlertRuleCommand as C;
        use AlertRuleEvent as E;
        match (command, &self.spec) {
            (C::Define(spec), None) => {
                spec.condition.checked()?;
                Ok(Some(E::AlertRuleDefined(spec)))
            }
            (C::Define(spec), Some(current)) if *current == spec => Ok(None),
            (C::Define(_), Some(_)) => Err(AlertRuleError::AlreadyDefined),
            (_, None) => Err(AlertRuleError::Unknown),
            (C::Change(spec), Some(current)) if *current == spec => Ok(None),
            (C::Change(spec), Some(_)) => {
                spec.condition.checked()?;
                Ok(Some(E::AlertRuleChanged(spec)))
            }
            (C::Enable, Some(_)) => Ok((!self.enabled).then_some(E::AlertRuleEnabled)),
            (C::Disable, Some(_)) => Ok(self.enabled.then_some(E::AlertRuleDisabled)),
        }
    }
}

impl crate::kit::event::StoredAggregate for AlertRule {}

impl Aggregate for AlertRule {
    const TYPE: &'static str = "alert_rule";
    type Command = AlertRuleCommand;
    type Event = AlertRuleEvent;
    type Error = AlertRuleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AlertRuleEvent::AlertRuleDefined(spec) => {
                self.spec = Some(spec);
                self.enabled = true;
            }
            AlertRuleEvent::AlertRuleChanged(spec) => self.spec = Some(spec),
            AlertRuleEvent::AlertRuleEnabled => self.enabled = true,
            AlertRuleEvent::AlertRuleDisabled => self.enabled = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type RuleTest = TestFramework<AlertRule>;

    fn spec(days: u32) -> RuleSpec {
        RuleSpec {
            name: RuleName::parse("Old payments").unwrap(),
            condition: AlertCondition::PendingPayments { days },
            severity: AlertSeverity::Warning,
        }
    }

    #[tokio::test]
    async fn a_rule_is_defined_enabled_and_defining_it_again_alike_is_a_no_op() {
        RuleTest::with(())
            .given_no_previous_events()
            .when_async(AlertRuleCommand::Define(spec(2)))
            .await
            .then_expect_events(vec![AlertRuleEvent::AlertRuleDefined(spec(2))]);
        RuleTest::with(())
            .given(vec![AlertRuleEvent::AlertRuleDefined(spec(2))])
            .when_async(AlertRuleCommand::Define(spec(2)))
            .await
            .then_expect_events(vec![]);
        RuleTest::with(())
            .given(vec![AlertRuleEvent::AlertRuleDefined(spec(2))])
            .when_async(AlertRuleCommand::Define(spec(3)))
            .await
            .then_expect_error(AlertRuleError::AlreadyDefined);
    }

    #[tokio::test]
    async fn a_rule_changes_its_thresholds_within_bounds_and_is_disabled_once() {
        RuleTest::with(())
            .given(vec![AlertRuleEvent::AlertRuleDefined(spec(2))])
            .when_async(AlertRuleCommand::Change(spec(5)))
            .await
            .then_expect_events(vec![AlertRuleEvent::AlertRuleChanged(spec(5))]);
        RuleTest::with(())
            .given(vec![AlertRuleEvent::AlertRuleDefined(spec(2))])
            .when_async(AlertRuleCommand::Change(spec(400)))
            .await
            .then_expect_error(AlertRuleError::Invalid(
                "`days` must be between 0 and 365, got 400".into(),
            ));
        RuleTest::with(())
            .given(vec![
                AlertRuleEvent::AlertRuleDefined(spec(2)),
                AlertRuleEvent::AlertRuleDisabled,
            ])
            .when_async(AlertRuleCommand::Disable)
            .await
            .then_expect_events(vec![]);
        RuleTest::with(())
            .given_no_previous_events()
            .when_async(AlertRuleCommand::Enable)
            .await
            .then_expect_error(AlertRuleError::Unknown);
    }

    #[test]
    fn the_builtin_rules_hold_valid_conditions_of_every_kind_stored_by_its_name() {
        let mut kinds = Vec::new();
        for (key, spec) in builtin() {
            assert!(spec.condition.checked().is_ok(), "{key}");
            let stored = serde_json::to_value(spec.condition).unwrap();
            assert_eq!(stored["kind"], spec.condition.kind(), "{key}");
            kinds.push(spec.condition.kind());
        }
        kinds.sort();
        kinds.dedup();
        let mut all = AlertCondition::KINDS.to_vec();
        all.sort();
        assert_eq!(kinds, all, "the built-in rules use every kind");
    }
}
