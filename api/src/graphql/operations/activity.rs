//! Platform activity reported by the platform's service principal: a batch of records answered
//! record by record (`reportActivity`, and `POST /ingest/activity` in NDJSON for volume, which
//! takes the same records as JSON lines).
//!
//! A record that breaks a rule (an unknown account, a negative count, a time before its
//! account or in the future) is refused on its own, with a code; the rest of the batch is kept.
//! A record sent again under the same id is answered `DUPLICATE` and recorded once.

use crate::error::ApiError;
use crate::graphql::ai_config::providers::AiProvider;
use crate::graphql::{command_context, principal, services, settle, Rule, Services};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::kit::money::{Currency, Money};
use domain::kit::values::{ModelName, OperationType};
use domain::operations::activity::{
    measure, record_id, AccountOpenings, Activity, ActivityCommand, ActivityRecord, PlatformId,
    Tag, MAX_RECORDS_PER_BATCH,
};
use domain::tenancy::account::Account;
use projections::store::bus::BatchCommand;
use projections::{Appended, CommandContext};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// One thing that happened in an account. Give exactly one of the kinds (`content`, `task`,
/// `automationRun`, `sync`, `publish`, `aiCall`, `userActivity`).
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityRecordInput {
    /// The platform's own id for this record, unique within its kind: a record sent again
    /// under the same id is recorded once.
    pub id: String,
    pub account_id: ID,
    /// When it happened: not before the account was opened, not in the future.
    pub occurred_at: DateTime<Utc>,
    pub content: Option<ContentInput>,
    pub task: Option<TaskInput>,
    pub automation_run: Option<AutomationRunInput>,
    pub sync: Option<SiteEventInput>,
    pub publish: Option<SiteEventInput>,
    pub ai_call: Option<AiCallInput>,
    pub user_activity: Option<UserActivityInput>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[graphql(remote = "domain::operations::activity::ContentStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContentStatus {
    Draft,
    Review,
    Published,
    Failed,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[graphql(remote = "domain::operations::activity::TaskStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[graphql(remote = "domain::operations::activity::RunStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Started,
    Succeeded,
    Failed,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[graphql(remote = "domain::operations::activity::UserAction")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserAction {
    Login,
    Active,
}

/// A content item produced, or its new status.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentInput {
    /// The platform's id of the content item.
    pub content_id: String,
    /// e.g. `blog_post`, `page`, `product`: lowercase letters, digits, `_`, `-`, `.`.
    pub content_type: String,
    pub status: ContentStatus,
    pub words: i64,
}

/// A task queued, or its new status.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskInput {
    pub task_id: String,
    pub task_type: String,
    pub status: TaskStatus,
}

/// An automation run started or ended.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomationRunInput {
    pub run_id: String,
    /// Which automation ran, e.g. `weekly_blog`.
    pub automation: String,
    pub status: RunStatus,
    /// How long it ran, for a run that ended.
    pub duration_ms: Option<i64>,
}

/// A sync with, or a publication to, a connected site.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SiteEventInput {
    /// The site's kind, e.g. `wordpress`.
    pub target: String,
    pub succeeded: bool,
    pub duration_ms: Option<i64>,
}

/// One call to an AI provider.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AiCallInput {
    pub provider: AiProvider,
    pub model: String,
    /// What the call was for, e.g. `content_generation`.
    pub operation: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What the call cost the platform, in the currency's minor units.
    pub cost_minor: i64,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    pub duration_ms: i64,
    pub succeeded: bool,
}

/// A person of the account signed in or was active.
#[derive(InputObject, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserActivityInput {
    /// The platform's id of the person.
    pub user_id: String,
    pub action: UserAction,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordOutcome {
    /// Recorded now.
    Recorded,
    /// Already recorded under this id, with the same content: nothing was added.
    Duplicate,
    /// Not recorded; `code` and `message` say why.
    Refused,
}

#[derive(SimpleObject, Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecordResult {
    /// The record's id, as sent.
    pub id: String,
    pub outcome: RecordOutcome,
    /// A stable error code when refused (`VALIDATION`, `NOT_FOUND`, `CONFLICT`, …).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The log position of the record, when recorded now.
    pub position: Option<i64>,
}

impl ActivityRecordResult {
    pub(crate) fn refused(id: String, error: ApiError) -> Self {
        Self {
            id,
            outcome: RecordOutcome::Refused,
            code: Some(error.code.as_str().to_string()),
            message: Some(error.message),
            position: None,
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct ActivityReport {
    pub recorded: i32,
    pub duplicates: i32,
    pub refused: i32,
    /// One result per record, in the order sent.
    pub results: Vec<ActivityRecordResult>,
    /// True when the dashboard's read models showed the records before this answer.
    pub caught_up: bool,
}

impl ActivityRecordInput {
    /// The record as a command on its aggregate, or why it is refused.
    fn parse(&self) -> Result<(String, Uuid, DateTime<Utc>, Activity), ApiError> {
        let id = PlatformId::parse("id", &self.id)?;
        let account_id = crate::graphql::parse_id("accountId", &self.account_id)?;
        let platform = |field: &str, value: &str| PlatformId::parse(field, value);
        let duration = |value: Option<i64>| value.map(|v| measure("durationMs", v)).transpose();
        let mut given = Vec::new();
        if let Some(c) = &self.content {
            given.push(Activity::Content {
                content_id: platform("contentId", &c.content_id)?,
                content_type: Tag::parse("contentType", &c.content_type)?,
                status: c.status.into(),
                words: measure("words", c.words)?,
            });
        }
        if let Some(t) = &self.task {
            given.push(Activity::Task {
                task_id: platform("taskId", &t.task_id)?,
                task_type: Tag::parse("taskType", &t.task_type)?,
                status: t.status.into(),
            });
        }
        if let Some(r) = &self.automation_run {
            given.push(Activity::AutomationRun {
                run_id: platform("runId", &r.run_id)?,
                automation: Tag::parse("automation", &r.automation)?,
                status: r.status.into(),
                duration_ms: duration(r.duration_ms)?,
            });
        }
        if let Some(s) = &self.sync {
            given.push(Activity::Sync {
                target: Tag::parse("target", &s.target)?,
                succeeded: s.succeeded,
                duration_ms: duration(s.duration_ms)?,
            });
        }
        if let Some(p) = &self.publish {
            given.push(Activity::Publish {
                target: Tag::parse("target", &p.target)?,
                succeeded: p.succeeded,
                duration_ms: duration(p.duration_ms)?,
            });
        }
        if let Some(a) = &self.ai_call {
            given.push(Activity::AiCall {
                provider: a.provider.into(),
                model: ModelName::parse(&a.model)?,
                operation: OperationType::parse(&a.operation)?,
                input_tokens: measure("inputTokens", a.input_tokens)?,
                output_tokens: measure("outputTokens", a.output_tokens)?,
                cost: Money::new(
                    measure("costMinor", a.cost_minor)?,
                    Currency::parse(&a.currency)?,
                ),
                duration_ms: measure("durationMs", a.duration_ms)?,
                succeeded: a.succeeded,
            });
        }
        if let Some(u) = &self.user_activity {
            given.push(Activity::UserActivity {
                user_id: platform("userId", &u.user_id)?,
                action: u.action.into(),
            });
        }
        let activity = match given.len() {
            1 => given.pop().expect("one"),
            n => {
                return Err(ApiError::validation(format!(
                    "a record gives exactly one of `content`, `task`, `automationRun`, `sync`, \
                     `publish`, `aiCall` and `userActivity`; this one gives {n}"
                )))
            }
        };
        Ok((
            record_id(activity.kind(), &id),
            account_id,
            self.occurred_at,
            activity,
        ))
    }
}

/// When each of `accounts` was opened, read from the log itself (an account's first event), so
/// an account opened a moment ago is known before any projection has caught up.
async fn openings(services: &Services, accounts: Vec<String>) -> Result<AccountOpenings, ApiError> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT aggregate_id, metadata ->> 'occurred_at' FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND sequence = 1",
    )
    .bind(Account::TYPE)
    .bind(&accounts)
    .fetch_all(&services.pool)
    .await?;
    let mut opened = HashMap::with_capacity(rows.len());
    for (id, at) in rows {
        let (Ok(id), Some(Ok(at))) = (id.parse::<Uuid>(), at.map(|a| a.parse::<DateTime<Utc>>()))
        else {
            continue;
        };
        opened.insert(id, at);
    }
    Ok(AccountOpenings(opened))
}

/// Records `records` as `context` says (who sends them, in which request), answering each in
/// order: the results, and the appends to wait for.
pub(crate) async fn ingest(
    services: &Services,
    context: &CommandContext,
    records: Vec<Result<ActivityRecordInput, (String, ApiError)>>,
) -> Result<(Vec<ActivityRecordResult>, Vec<Appended>), ApiError> {
    if records.len() > MAX_RECORDS_PER_BATCH {
        return Err(ApiError::validation(format!(
            "a batch holds at most {MAX_RECORDS_PER_BATCH} records; this one holds {}",
            records.len()
        )));
    }
    let mut results: Vec<Option<ActivityRecordResult>> = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut batch = Vec::new();
    let mut slots = Vec::new();
    for record in records {
        let parsed = record.and_then(|input| {
            let parsed = input.parse().map_err(|e| (input.id.clone(), e))?;
            Ok((input.id, parsed))
        });
        match parsed {
            Ok((id, (aggregate_id, account_id, occurred_at, activity))) => {
                slots.push(results.len());
                results.push(None);
                ids.push(id);
                let mut context = context.clone();
                context.occurred_at = Some(occurred_at);
                batch.push(BatchCommand {
                    aggregate_id,
                    command: ActivityCommand::Record {
                        account_id,
                        occurred_at,
                        activity,
                    },
                    context,
                });
            }
            Err((id, error)) => {
                ids.push(id.clone());
                results.push(Some(ActivityRecordResult::refused(id, error)));
            }
        }
    }
    let mut accounts: Vec<String> = batch
        .iter()
        .map(|b| {
            let ActivityCommand::Record { account_id, .. } = &b.command;
            account_id.to_string()
        })
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let openings = openings(services, accounts).await?;
    let outcomes = services
        .bus
        .execute_batch::<ActivityRecord>(batch, &openings)
        .await;
    let mut appended = Vec::new();
    for (slot, outcome) in slots.into_iter().zip(outcomes) {
        let id = ids[slot].clone();
        results[slot] = Some(match outcome {
            Ok(done) if done.events > 0 => {
                let position = done.last.map(|at| at.position);
                appended.push(done);
                ActivityRecordResult {
                    id,
                    outcome: RecordOutcome::Recorded,
                    code: None,
                    message: None,
                    position,
                }
            }
            Ok(_) => ActivityRecordResult {
                id,
                outcome: RecordOutcome::Duplicate,
                code: None,
                message: None,
                position: None,
            },
            Err(e) => ActivityRecordResult::refused(id, ApiError::from(e)),
        });
    }
    let results = results
        .into_iter()
        .map(|r| r.expect("every record is answered"))
        .collect();
    Ok((results, appended))
}

/// The latest of `appended`, to wait for once for the whole batch.
pub(crate) fn latest(appended: Vec<Appended>) -> Appended {
    let last = appended.iter().filter_map(|a| a.last).max();
    Appended {
        aggregate_id: String::new(),
        events: appended.len(),
        last,
        observed: None,
        replayed: false,
    }
}

#[derive(Default)]
pub struct ActivityMutation;

#[Object]
impl ActivityMutation {
    /// What happened in accounts, reported by the platform: up to 5,000 records, each answered
    /// on its own (recorded, duplicate, or refused with a code). The platform's service
    /// principal only.
    #[graphql(guard = "Rule::Platform")]
    async fn report_activity(
        &self,
        ctx: &Context<'_>,
        records: Vec<ActivityRecordInput>,
    ) -> Result<ActivityReport, ApiError> {
        let platform = principal(ctx)?;
        let context = command_context(ctx, platform, None, None);
        let (results, appended) = ingest(
            services(ctx),
            &context,
            records.into_iter().map(Ok).collect(),
        )
        .await?;
        let receipt = settle(ctx, &latest(appended), ActivityRecord::TYPE).await;
        Ok(report(results, receipt.caught_up))
    }
}

/// Counts the outcomes of `results`.
fn report(results: Vec<ActivityRecordResult>, caught_up: bool) -> ActivityReport {
    let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count() as i32;
    ActivityReport {
        recorded: count(RecordOutcome::Recorded),
        duplicates: count(RecordOutcome::Duplicate),
        refused: count(RecordOutcome::Refused),
        results,
        caught_up,
    }
}
