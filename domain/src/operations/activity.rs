//! Platform activity: what happened in an account, as the platform reports it (content
//! produced, tasks, automation runs, syncs and publishing, AI calls, people's activity).
//!
//! Decisions:
//! - **One record, one aggregate, written once.** The aggregate id is the record's kind and the
//!   platform's own id for it (`ai_call:81723`), so a retried batch meets the records it already
//!   wrote on the store's unique key: nothing is recorded twice, and no lock or lookup table
//!   stands between concurrent senders. The same id sent again with the same content is a
//!   no-op (`DUPLICATE` to the sender); with other content it is a `CONFLICT`.
//! - **Records are facts, not states.** A task or an automation run changes status over time;
//!   each change is its own record naming the task or run (`task_id`, `run_id`), and the read
//!   models keep the latest status of each. The platform never edits a record.
//! - **Checked against the account.** A record names an account that exists and happened after
//!   it was opened; what the store knows of accounts is handed to `decide` as `Services`
//!   (the opening times of the batch's accounts, read from the log), so the rule lives here.
//! - **Business time** is the record's `occurred_at`, kept in the event's metadata like every
//!   business time; the command carries it only to check it against the account's opening.

use crate::ai_config::provider::Provider;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::Money;
use crate::kit::text_enum;
use crate::kit::values::{InvalidValue, ModelName, OperationType};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// The most records one request reports.
pub const MAX_RECORDS_PER_BATCH: usize = 5_000;

/// An id the platform gave something (a record, a content item, a task, a run, a person):
/// 1 to 128 printable ASCII characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlatformId(String);

impl PlatformId {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidValue> {
        let printable = value.chars().all(|c| c.is_ascii_graphic());
        if value.is_empty() || value.len() > Self::MAX_CHARS || !printable {
            return Err(InvalidValue(format!(
                "`{field}` must be 1 to {} printable ASCII characters without spaces",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlatformId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("id", &value)
    }
}

impl From<PlatformId> for String {
    fn from(id: PlatformId) -> Self {
        id.0
    }
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name the platform groups its activity by (a content type, a task type, an automation,
/// a sync target): 1 to 64 lowercase letters, digits, `_`, `-` or `.`. Open-ended, because the
/// platform adds kinds of content and targets without asking this backend; lowercase, so a
/// report never splits `Article` from `article`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidValue> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c);
        if value.is_empty() || value.len() > Self::MAX_CHARS || !value.chars().all(allowed) {
            return Err(InvalidValue(format!(
                "`{field}` must be 1 to {} lowercase letters, digits, `_`, `-` or `.`; got `{}`",
                Self::MAX_CHARS,
                value.chars().take(80).collect::<String>()
            )));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Tag {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("tag", &value)
    }
}

impl From<Tag> for String {
    fn from(tag: Tag) -> Self {
        tag.0
    }
}

/// A count or a duration the platform measured: never negative.
pub fn measure(field: &str, value: i64) -> Result<i64, InvalidValue> {
    if value < 0 {
        return Err(InvalidValue(format!(
            "`{field}` cannot be negative; got {value}"
        )));
    }
    Ok(value)
}

text_enum! {
    /// Where a content item stands.
    pub enum ContentStatus {
        Draft,
        Review,
        Published,
        Failed,
    }
}

text_enum! {
    /// Where a task stands.
    pub enum TaskStatus {
        Pending,
        Running,
        Completed,
        Failed,
    }
}

text_enum! {
    /// Where an automation run stands.
    pub enum RunStatus {
        Started,
        Succeeded,
        Failed,
    }
}

text_enum! {
    /// What a person did: signed in, or was active (once per day is enough for DAU/WAU/MAU).
    pub enum UserAction {
        Login,
        Active,
    }
}

text_enum! {
    /// The kinds of activity, as the read models and reports name them.
    pub enum ActivityKind {
        Content,
        Task,
        AutomationRun,
        Sync,
        Publish,
        AiCall,
        UserActivity,
    }
}

/// What happened. Every count, token and cost is checked non-negative at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    /// A content item was produced or changed status.
    Content {
        content_id: PlatformId,
        content_type: Tag,
        status: ContentStatus,
        words: i64,
    },
    /// A task was queued or changed status.
    Task {
        task_id: PlatformId,
        task_type: Tag,
        status: TaskStatus,
    },
    /// An automation run started or ended; an ending says how long it ran.
    AutomationRun {
        run_id: PlatformId,
        automation: Tag,
        status: RunStatus,
        duration_ms: Option<i64>,
    },
    /// Data synchronised with a connected site (e.g. `wordpress`).
    Sync {
        target: Tag,
        succeeded: bool,
        duration_ms: Option<i64>,
    },
    /// Content published to a connected site.
    Publish {
        target: Tag,
        succeeded: bool,
        duration_ms: Option<i64>,
    },
    /// One call to an AI provider: its tokens, what it cost the platform, and whether it worked.
    AiCall {
        provider: Provider,
        model: ModelName,
        operation: OperationType,
        input_tokens: i64,
        output_tokens: i64,
        cost: Money,
        duration_ms: i64,
        succeeded: bool,
    },
    /// A person of the account signed in or was active.
    UserActivity {
        user_id: PlatformId,
        action: UserAction,
    },
}

impl Activity {
    pub fn kind(&self) -> ActivityKind {
        match self {
            Self::Content { .. } => ActivityKind::Content,
            Self::Task { .. } => ActivityKind::Task,
            Self::AutomationRun { .. } => ActivityKind::AutomationRun,
            Self::Sync { .. } => ActivityKind::Sync,
            Self::Publish { .. } => ActivityKind::Publish,
            Self::AiCall { .. } => ActivityKind::AiCall,
            Self::UserActivity { .. } => ActivityKind::UserActivity,
        }
    }
}

/// The aggregate id of a record: its kind and the platform's id for it, so ids the platform
/// reuses across kinds (content 17, task 17) stay apart.
pub fn record_id(kind: ActivityKind, id: &PlatformId) -> String {
    format!("{kind}:{id}")
}

/// When each account of a batch was opened, as the log says; an account missing from it does
/// not exist.
#[derive(Debug, Clone, Default)]
pub struct AccountOpenings(pub HashMap<Uuid, DateTime<Utc>>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActivityCommand {
    Record {
        account_id: Uuid,
        /// The record's business time, checked against the account's opening.
        occurred_at: DateTime<Utc>,
        activity: Activity,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum ActivityEvent {
    ActivityRecorded {
        account_id: Uuid,
        activity: Activity,
    },
}

crate::stored_event!(ActivityEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityError {
    /// `NOT_FOUND`
    #[error("there is no account {0}")]
    UnknownAccount(Uuid),
    /// `VALIDATION`
    #[error("the record happened at {at}, before its account was opened at {opened}")]
    BeforeAccount {
        at: DateTime<Utc>,
        opened: DateTime<Utc>,
    },
    /// `CONFLICT`
    #[error("this id was already recorded with other content; a record never changes")]
    Different,
}

impl Coded for ActivityError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownAccount(_) => ErrorCode::NotFound,
            Self::BeforeAccount { .. } => ErrorCode::Validation,
            Self::Different => ErrorCode::Conflict,
        }
    }
}

/// One record, once recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    recorded: Option<(Uuid, Activity)>,
}

impl ActivityRecord {
    fn decide(
        &self,
        command: ActivityCommand,
        accounts: &AccountOpenings,
    ) -> Result<Option<ActivityEvent>, ActivityError> {
        let ActivityCommand::Record {
            account_id,
            occurred_at,
            activity,
        } = command;
        if let Some((recorded_account, recorded)) = &self.recorded {
            return if *recorded_account == account_id && *recorded == activity {
                Ok(None)
            } else {
                Err(ActivityError::Different)
            };
        }
        let opened = *accounts
            .0
            .get(&account_id)
            .ok_or(ActivityError::UnknownAccount(account_id))?;
        if occurred_at < opened {
            return Err(ActivityError::BeforeAccount {
                at: occurred_at,
                opened,
            });
        }
        Ok(Some(ActivityEvent::ActivityRecorded {
            account_id,
            activity,
        }))
    }
}

impl crate::kit::event::StoredAggregate for ActivityRecord {}

impl Aggregate for ActivityRecord {
    const TYPE: &'static str = "activity_record";
    type Command = ActivityCommand;
    type Event = ActivityEvent;
    type Error = ActivityError;
    type Services = AccountOpenings;

    async fn handle(
        &mut self,
        command: Self::Command,
        accounts: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command, accounts)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ActivityEvent::ActivityRecorded {
                account_id,
                activity,
            } => self.recorded = Some((account_id, activity)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::money::Currency;
    use cqrs_es::test::TestFramework;

    type ActivityTest = TestFramework<ActivityRecord>;

    const ACCOUNT: Uuid = Uuid::from_u128(7);

    fn opened() -> DateTime<Utc> {
        "2026-01-10T00:00:00Z".parse().unwrap()
    }

    fn accounts() -> AccountOpenings {
        AccountOpenings(HashMap::from([(ACCOUNT, opened())]))
    }

    fn ai_call(input_tokens: i64) -> Activity {
        Activity::AiCall {
            provider: Provider::Openai,
            model: ModelName::parse("gpt-4o-mini").unwrap(),
            operation: OperationType::parse("content_generation").unwrap(),
            input_tokens,
            output_tokens: 800,
            cost: Money::new(42, Currency::parse("USD").unwrap()),
            duration_ms: 1_900,
            succeeded: true,
        }
    }

    fn record(activity: Activity, occurred_at: DateTime<Utc>) -> ActivityCommand {
        ActivityCommand::Record {
            account_id: ACCOUNT,
            occurred_at,
            activity,
        }
    }

    #[tokio::test]
    async fn a_record_of_a_known_account_after_its_opening_is_recorded() {
        ActivityTest::with(accounts())
            .given_no_previous_events()
            .when_async(record(ai_call(1_200), opened()))
            .await
            .then_expect_events(vec![ActivityEvent::ActivityRecorded {
                account_id: ACCOUNT,
                activity: ai_call(1_200),
            }]);
    }

    #[tokio::test]
    async fn the_same_record_sent_again_records_nothing() {
        ActivityTest::with(accounts())
            .given(vec![ActivityEvent::ActivityRecorded {
                account_id: ACCOUNT,
                activity: ai_call(1_200),
            }])
            .when_async(record(ai_call(1_200), opened()))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn the_same_id_with_other_content_is_a_conflict() {
        ActivityTest::with(accounts())
            .given(vec![ActivityEvent::ActivityRecorded {
                account_id: ACCOUNT,
                activity: ai_call(1_200),
            }])
            .when_async(record(ai_call(1_201), opened()))
            .await
            .then_expect_error(ActivityError::Different);
    }

    #[tokio::test]
    async fn an_unknown_account_is_not_found() {
        ActivityTest::with(AccountOpenings::default())
            .given_no_previous_events()
            .when_async(record(ai_call(1), opened()))
            .await
            .then_expect_error(ActivityError::UnknownAccount(ACCOUNT));
    }

    #[tokio::test]
    async fn a_record_from_before_the_account_was_opened_is_refused() {
        let at = opened() - chrono::Duration::seconds(1);
        ActivityTest::with(accounts())
            .given_no_previous_events()
            .when_async(record(ai_call(1), at))
            .await
            .then_expect_error(ActivityError::BeforeAccount {
                at,
                opened: opened(),
            });
    }

    #[test]
    fn ids_tags_and_measures_refuse_what_reports_could_not_group() {
        assert!(PlatformId::parse("id", "c-17").is_ok());
        for bad in ["", "with space", &"x".repeat(129), "tab\t"] {
            assert!(PlatformId::parse("id", bad).is_err(), "{bad:?}");
        }
        assert!(Tag::parse("contentType", "blog_post").is_ok());
        for bad in ["", "Article", "a b", &"a".repeat(65)] {
            assert!(Tag::parse("contentType", bad).is_err(), "{bad:?}");
        }
        assert_eq!(measure("inputTokens", 0), Ok(0));
        assert!(measure("inputTokens", -1).is_err());
    }

    #[test]
    fn a_records_id_keeps_the_kinds_apart() {
        let id = PlatformId::parse("id", "17").unwrap();
        assert_eq!(record_id(ActivityKind::Content, &id), "content:17");
        assert_eq!(record_id(ActivityKind::Task, &id), "task:17");
    }
}
