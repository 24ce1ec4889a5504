//! Alerts: what a rule found about one subject (the platform, an account, a projection), raised
//! and resolved by the alert evaluator, acknowledged and snoozed by people. Every step is an
//! event, so the audit trail shows when an alert fired, who acknowledged it and when it cleared.
//!
//! Decisions:
//! - One aggregate per rule and subject, living through episodes: raised, then resolved, then
//!   perhaps raised again. Raising an open alert and resolving a resolved one are no-ops, so the
//!   evaluator may repeat itself (after a crash, or on two servers) without noise.
//! - Acknowledging and snoozing concern the open episode: on a resolved alert they are a
//!   `CONFLICT`. An acknowledgement or snooze ends with its episode.
//! - A snooze hides the alert from those watching (the active list, the live feed) until its
//!   time; the evaluator keeps judging it, and resolves it if it clears.

use super::alert_rule::AlertSeverity;
use crate::kit::error::{Coded, ErrorCode};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest snooze.
pub const MAX_SNOOZE: Duration = Duration::days(30);

/// The most characters of a note or message.
const MAX_TEXT: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertCommand {
    /// The rule's condition holds for the subject: `value` is what was measured, `message`
    /// says it for people.
    Raise {
        rule_id: Uuid,
        subject: String,
        severity: AlertSeverity,
        value: f64,
        message: String,
    },
    /// The condition no longer holds (or the rule was disabled or removed).
    Resolve {
        message: String,
    },
    Acknowledge {
        note: Option<String>,
    },
    Snooze {
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AlertEvent {
    AlertRaised {
        rule_id: Uuid,
        subject: String,
        severity: AlertSeverity,
        value: f64,
        message: String,
    },
    AlertAcknowledged {
        note: Option<String>,
    },
    AlertSnoozed {
        until: DateTime<Utc>,
    },
    AlertResolved {
        message: String,
    },
}

crate::stored_event!(AlertEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("there is no such alert")]
    Unknown,
    /// `CONFLICT`
    #[error("the alert has been resolved; only an open alert can be acknowledged or snoozed")]
    NotOpen,
}

impl Coded for AlertError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::Unknown => ErrorCode::NotFound,
            Self::NotOpen => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    raised: bool,
    open: bool,
    acknowledged: bool,
    snoozed_until: Option<DateTime<Utc>>,
}

impl Alert {
    /// The aggregate id of a rule's alert about a subject.
    pub fn id_for(rule_id: Uuid, subject: &str) -> String {
        format!("{rule_id}:{subject}")
    }

    fn text(field: &str, text: &str) -> Result<String, AlertError> {
        let text = text.trim();
        if text.chars().count() > MAX_TEXT {
            return Err(AlertError::Invalid(format!(
                "`{field}` is at most {MAX_TEXT} characters"
            )));
        }
        Ok(text.to_string())
    }

    fn decide(&self, command: AlertCommand) -> Result<Option<AlertEvent>, AlertError> {
        match command {
            AlertCommand::Raise {
                rule_id,
                subject,
                severity,
                value,
                message,
            } => {
                if self.open {
                    return Ok(None);
                }
                if !value.is_finite() {
                    return Err(AlertError::Invalid(
                        "an alert's value is a finite number".into(),
                    ));
                }
                Ok(Some(AlertEvent::AlertRaised {
                    rule_id,
                    subject,
                    severity,
                    value,
                    message: Self::text("message", &message)?,
                }))
            }
            AlertCommand::Resolve { message } => Ok(self
                .open
                .then(|| Self::text("message", &message))
                .transpose()?
                .map(|message| AlertEvent::AlertResolved { message })),
            AlertCommand::Acknowledge { note } => {
                self.check_open()?;
                if self.acknowledged {
                    return Ok(None);
                }
                let note = note
                    .map(|n| Self::text("note", &n))
                    .transpose()?
                    .filter(|n| !n.is_empty());
                Ok(Some(AlertEvent::AlertAcknowledged { note }))
            }
            AlertCommand::Snooze { until, now } => {
                self.check_open()?;
                if until <= now || until > now + MAX_SNOOZE {
                    return Err(AlertError::Invalid(format!(
                        "`until` must lie in the next {} days",
                        MAX_SNOOZE.num_days()
                    )));
                }
                if self.snoozed_until == Some(until) {
                    return Ok(None);
                }
                Ok(Some(AlertEvent::AlertSnoozed { until }))
            }
        }
    }

    fn check_open(&self) -> Result<(), AlertError> {
        match (self.raised, self.open) {
            (false, _) => Err(AlertError::Unknown),
            (true, false) => Err(AlertError::NotOpen),
            (true, true) => Ok(()),
        }
    }
}

impl crate::kit::event::StoredAggregate for Alert {}

impl Aggregate for Alert {
    const TYPE: &'static str = "alert";
    type Command = AlertCommand;
    type Event = AlertEvent;
    type Error = AlertError;
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
            AlertEvent::AlertRaised { .. } => {
                *self = Self {
                    raised: true,
                    open: true,
                    acknowledged: false,
                    snoozed_until: None,
                }
            }
            AlertEvent::AlertAcknowledged { .. } => self.acknowledged = true,
            AlertEvent::AlertSnoozed { until } => self.snoozed_until = Some(until),
            AlertEvent::AlertResolved { .. } => self.open = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    type AlertTest = TestFramework<Alert>;

    fn rule() -> Uuid {
        Uuid::from_u128(7)
    }

    fn raise() -> AlertCommand {
        AlertCommand::Raise {
            rule_id: rule(),
            subject: "all".into(),
            severity: AlertSeverity::Warning,
            value: 3.0,
            message: "3 payments waiting".into(),
        }
    }

    fn raised() -> AlertEvent {
        AlertEvent::AlertRaised {
            rule_id: rule(),
            subject: "all".into(),
            severity: AlertSeverity::Warning,
            value: 3.0,
            message: "3 payments waiting".into(),
        }
    }

    fn resolved() -> AlertEvent {
        AlertEvent::AlertResolved {
            message: "cleared".into(),
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 12, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn an_alert_is_raised_once_per_episode_and_resolved_once() {
        AlertTest::with(())
            .given_no_previous_events()
            .when_async(raise())
            .await
            .then_expect_events(vec![raised()]);
        AlertTest::with(())
            .given(vec![raised()])
            .when_async(raise())
            .await
            .then_expect_events(vec![]);
        AlertTest::with(())
            .given(vec![raised(), resolved()])
            .when_async(raise())
            .await
            .then_expect_events(vec![raised()]);
        AlertTest::with(())
            .given(vec![raised(), resolved()])
            .when_async(AlertCommand::Resolve {
                message: "cleared".into(),
            })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn only_an_open_alert_is_acknowledged_or_snoozed_and_a_snooze_has_a_limit() {
        AlertTest::with(())
            .given(vec![raised()])
            .when_async(AlertCommand::Acknowledge {
                note: Some(" on it ".into()),
            })
            .await
            .then_expect_events(vec![AlertEvent::AlertAcknowledged {
                note: Some("on it".into()),
            }]);
        AlertTest::with(())
            .given(vec![raised(), resolved()])
            .when_async(AlertCommand::Acknowledge { note: None })
            .await
            .then_expect_error(AlertError::NotOpen);
        AlertTest::with(())
            .given_no_previous_events()
            .when_async(AlertCommand::Acknowledge { note: None })
            .await
            .then_expect_error(AlertError::Unknown);
        AlertTest::with(())
            .given(vec![raised()])
            .when_async(AlertCommand::Snooze {
                until: at(8),
                now: at(7),
            })
            .await
            .then_expect_events(vec![AlertEvent::AlertSnoozed { until: at(8) }]);
        AlertTest::with(())
            .given(vec![raised()])
            .when_async(AlertCommand::Snooze {
                until: at(6),
                now: at(7),
            })
            .await
            .then_expect_error(AlertError::Invalid(
                "`until` must lie in the next 30 days".into(),
            ));
    }
}
