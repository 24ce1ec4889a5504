//! What the platform reports of a demo account's day: its AI calls (one per credit
//! consumption, with tokens and cost), the content they produced and its publication, the
//! tasks behind it, automation runs, syncs with its site, and its people signing in. Recorded
//! through the bus's batch path, as the platform's reports are; every record's id derives from
//! the account, the day and its place, so seeding twice records nothing twice.

use super::{Script, OPERATIONS};
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use domain::ai_config::provider::Provider;
use domain::kit::money::{Currency, Money};
use domain::kit::values::{ModelName, OperationType};
use domain::operations::activity::{
    record_id, AccountOpenings, Activity, ActivityCommand, ActivityRecord, ContentStatus,
    PlatformId, RunStatus, Tag, TaskStatus, UserAction,
};
use domain::Actor;
use projections::store::bus::BatchCommand;
use projections::{CommandBus, CommandContext};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

const CONTENT_TYPES: &[&str] = &["blog_post", "page", "product", "category"];

fn provider_of(model: &str) -> Provider {
    match model {
        m if m.starts_with("dall-e") => Provider::Dalle,
        m if m.starts_with("claude") => Provider::Anthropic,
        m if m.starts_with("runware") => Provider::Runware,
        _ => Provider::Openai,
    }
}

/// Reports the activity of `script`'s account on `day`, whose credit consumptions were
/// `calls` (indexes into `OPERATIONS`). Answers how many records were recorded now.
pub(super) async fn report_day(
    bus: &CommandBus,
    platform: &Actor,
    script: &Script,
    day: i64,
    start: DateTime<Utc>,
    calls: &[usize],
) -> Result<usize, ApiError> {
    let opened = start + Duration::days(script.opened_day) + Duration::hours(9);
    let accounts = AccountOpenings(HashMap::from([(script.id, opened)]));
    let mut rng = StdRng::seed_from_u64((script.index as u64) << 20 | day as u64 | 1 << 40);
    let mut records: Vec<(DateTime<Utc>, Activity)> = Vec::new();
    let at = |hour: i64, minute: i64| {
        start + Duration::days(day) + Duration::hours(hour) + Duration::minutes(minute)
    };
    let id = |what: &str, n: usize| {
        PlatformId::parse("id", &format!("demo-{}-{day}-{what}-{n}", script.index))
    };
    for person in 0..=(script.index % 3) {
        let user_id = PlatformId::parse("userId", &format!("demo-user-{}-{person}", script.index))?;
        records.push((
            at(8, person as i64),
            Activity::UserActivity {
                user_id,
                action: UserAction::Login,
            },
        ));
    }
    for (n, &operation) in calls.iter().enumerate() {
        let (operation, model, _) = OPERATIONS[operation];
        let input_tokens = rng.gen_range(400..3_000);
        let output_tokens = rng.gen_range(200..1_600);
        let succeeded = rng.gen_range(0..40) != 0;
        let minute = 10 * n as i64;
        records.push((
            at(13 + n as i64, minute),
            Activity::AiCall {
                provider: provider_of(model),
                model: ModelName::parse(model)?,
                operation: OperationType::parse(operation)?,
                input_tokens,
                output_tokens,
                // About a cent per thousand tokens.
                cost: Money::new(
                    (input_tokens + 3 * output_tokens) / 1_000 + 1,
                    Currency::parse("USD")?,
                ),
                duration_ms: rng.gen_range(800..9_000),
                succeeded,
            },
        ));
        if operation != "content_generation" || !succeeded {
            continue;
        }
        let content_id = id("content", n)?;
        let published = rng.gen_bool(0.7);
        let task_id = id("task", n)?;
        let task_type = Tag::parse("taskType", "write_article")?;
        records.push((
            at(12 + n as i64, minute),
            Activity::Task {
                task_id: task_id.clone(),
                task_type: task_type.clone(),
                status: TaskStatus::Pending,
            },
        ));
        records.push((
            at(13 + n as i64, minute + 5),
            Activity::Content {
                content_id,
                content_type: Tag::parse(
                    "contentType",
                    CONTENT_TYPES[rng.gen_range(0..CONTENT_TYPES.len())],
                )?,
                status: if published {
                    ContentStatus::Published
                } else {
                    ContentStatus::Draft
                },
                words: rng.gen_range(500..2_400),
            },
        ));
        // A few tasks are still open when the year ends.
        if day < 360 || rng.gen_bool(0.5) {
            records.push((
                at(13 + n as i64, minute + 6),
                Activity::Task {
                    task_id,
                    task_type,
                    status: TaskStatus::Completed,
                },
            ));
        }
        if published {
            records.push((
                at(13 + n as i64, minute + 7),
                Activity::Publish {
                    target: Tag::parse("target", "wordpress")?,
                    succeeded: rng.gen_range(0..20) != 0,
                    duration_ms: Some(rng.gen_range(300..4_000)),
                },
            ));
        }
    }
    if script.index % 3 != 2 {
        records.push((
            at(6, 0),
            Activity::Sync {
                target: Tag::parse("target", "wordpress")?,
                succeeded: rng.gen_range(0..30) != 0,
                duration_ms: Some(rng.gen_range(200..2_500)),
            },
        ));
    }
    if (day + script.index as i64) % 3 == 0 {
        let run_id = id("run", 0)?;
        let automation = Tag::parse("automation", "weekly_content")?;
        records.push((
            at(5, 0),
            Activity::AutomationRun {
                run_id: run_id.clone(),
                automation: automation.clone(),
                status: RunStatus::Started,
                duration_ms: None,
            },
        ));
        records.push((
            at(5, 20),
            Activity::AutomationRun {
                run_id,
                automation,
                status: if rng.gen_range(0..10) == 0 {
                    RunStatus::Failed
                } else {
                    RunStatus::Succeeded
                },
                duration_ms: Some(rng.gen_range(60_000..1_200_000)),
            },
        ));
    }
    let batch = records
        .into_iter()
        .enumerate()
        .map(|(n, (occurred_at, activity))| {
            Ok(BatchCommand {
                aggregate_id: record_id(activity.kind(), &id("record", n)?),
                command: ActivityCommand::Record {
                    account_id: script.id,
                    occurred_at,
                    activity,
                },
                context: CommandContext::new(platform.clone()).occurred_at(occurred_at),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut recorded = 0;
    for outcome in bus.execute_batch::<ActivityRecord>(batch, &accounts).await {
        match outcome {
            Ok(appended) => recorded += appended.events,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recorded)
}
