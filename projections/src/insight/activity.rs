//! Projection `activity`: platform activity summed by day (records per kind, tag and status;
//! AI calls with their tokens and cost), the latest status of each content item, task and
//! automation run, and the days each person was seen. The dashboard and the reports read these.
//!
//! Activity arrives by the thousand, so a batch is first summed in memory and then written with
//! one statement per table (`INSERT … SELECT FROM unnest … ON CONFLICT DO UPDATE` adding to the
//! day's row), not one statement per record.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use domain::operations::activity::{Activity, ActivityEvent, ActivityRecord};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const NAME: &str = "activity";

pub struct ActivityProjection;

#[async_trait]
impl EventHandler for ActivityProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[ActivityRecord::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "read.activity_daily",
            "read.ai_usage_daily",
            "read.activity_items",
            "read.user_activity_days",
        ]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query(
            "TRUNCATE read.activity_daily, read.ai_usage_daily, read.activity_items, \
                      read.user_activity_days",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut sums = Sums::default();
        for event in events {
            if event.aggregate_type != ActivityRecord::TYPE {
                continue;
            }
            let Some(ActivityEvent::ActivityRecorded {
                account_id,
                activity,
            }) = event.decode::<ActivityEvent>()?
            else {
                continue;
            };
            let at = event.metadata()?.occurred_at;
            sums.add(account_id, at, &activity);
        }
        sums.write(conn).await
    }
}

type DayKey = (NaiveDate, Uuid, &'static str, String, String);
type AiKey = (NaiveDate, Uuid, &'static str, String, String, String);

#[derive(Default)]
struct DaySums {
    records: i64,
    words: i64,
    duration_ms: i64,
    timed: i64,
}

#[derive(Default)]
struct AiSums {
    calls: i64,
    failed: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_minor: i64,
    duration_ms: i64,
}

/// The latest report of one item in the batch.
struct Item {
    account_id: Uuid,
    tag: String,
    status: &'static str,
    words: i64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
}

/// A batch of records, summed by the rows they add to.
#[derive(Default)]
struct Sums {
    days: BTreeMap<DayKey, DaySums>,
    ai: BTreeMap<AiKey, AiSums>,
    items: BTreeMap<(&'static str, String), Item>,
    people: BTreeMap<(NaiveDate, Uuid, String), i64>,
}

fn outcome(succeeded: bool) -> &'static str {
    if succeeded {
        "succeeded"
    } else {
        "failed"
    }
}

impl Sums {
    fn add(&mut self, account_id: Uuid, at: DateTime<Utc>, activity: &Activity) {
        let day = at.date_naive();
        let kind = activity.kind().as_str();
        let (tag, status, words, duration) = match activity {
            Activity::Content {
                content_id,
                content_type,
                status,
                words,
            } => {
                self.item(
                    kind,
                    content_id.as_str(),
                    account_id,
                    content_type.as_str(),
                    status.as_str(),
                    *words,
                    at,
                );
                (content_type.as_str(), status.as_str(), *words, None)
            }
            Activity::Task {
                task_id,
                task_type,
                status,
            } => {
                self.item(
                    kind,
                    task_id.as_str(),
                    account_id,
                    task_type.as_str(),
                    status.as_str(),
                    0,
                    at,
                );
                (task_type.as_str(), status.as_str(), 0, None)
            }
            Activity::AutomationRun {
                run_id,
                automation,
                status,
                duration_ms,
            } => {
                self.item(
                    kind,
                    run_id.as_str(),
                    account_id,
                    automation.as_str(),
                    status.as_str(),
                    0,
                    at,
                );
                (automation.as_str(), status.as_str(), 0, *duration_ms)
            }
            Activity::Sync {
                target,
                succeeded,
                duration_ms,
            }
            | Activity::Publish {
                target,
                succeeded,
                duration_ms,
            } => (target.as_str(), outcome(*succeeded), 0, *duration_ms),
            Activity::AiCall {
                provider,
                model,
                operation,
                input_tokens,
                output_tokens,
                cost,
                duration_ms,
                succeeded,
            } => {
                let key = (
                    day,
                    account_id,
                    provider.as_str(),
                    model.as_str().to_string(),
                    operation.as_str().to_string(),
                    cost.currency.to_string(),
                );
                let sums = self.ai.entry(key).or_default();
                sums.calls += 1;
                sums.failed += i64::from(!succeeded);
                sums.input_tokens += input_tokens;
                sums.output_tokens += output_tokens;
                sums.cost_minor += cost.minor_units;
                sums.duration_ms += duration_ms;
                (
                    provider.as_str(),
                    outcome(*succeeded),
                    0,
                    Some(*duration_ms),
                )
            }
            Activity::UserActivity { user_id, action } => {
                let logins = self
                    .people
                    .entry((day, account_id, user_id.as_str().to_string()))
                    .or_default();
                *logins += i64::from(action.as_str() == "login");
                return;
            }
        };
        let sums = self
            .days
            .entry((day, account_id, kind, tag.to_string(), status.to_string()))
            .or_default();
        sums.records += 1;
        sums.words += words;
        if let Some(duration) = duration {
            sums.duration_ms += duration;
            sums.timed += 1;
        }
    }

    /// Keeps the latest report of an item within the batch (by business time, then log order).
    #[allow(clippy::too_many_arguments)]
    fn item(
        &mut self,
        kind: &'static str,
        id: &str,
        account_id: Uuid,
        tag: &str,
        status: &'static str,
        words: i64,
        at: DateTime<Utc>,
    ) {
        let entry = self.items.entry((kind, id.to_string())).or_insert(Item {
            account_id,
            tag: tag.to_string(),
            status,
            words,
            first_at: at,
            last_at: at,
        });
        entry.first_at = entry.first_at.min(at);
        if at >= entry.last_at {
            entry.last_at = at;
            entry.tag = tag.to_string();
            entry.status = status;
            entry.words = words;
        }
    }

    async fn write(self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        if !self.days.is_empty() {
            let mut columns = DayColumns::default();
            for ((day, account, kind, tag, status), sums) in self.days {
                columns.push(day, account, kind, tag, status, sums);
            }
            sqlx::query(
                "INSERT INTO read.activity_daily \
                   (day, account_id, kind, tag, status, records, words, duration_ms, timed) \
                 SELECT * FROM unnest($1::date[], $2::uuid[], $3::text[], $4::text[], \
                                      $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], \
                                      $9::bigint[]) \
                 ON CONFLICT (day, account_id, kind, tag, status) DO UPDATE SET \
                   records = activity_daily.records + excluded.records, \
                   words = activity_daily.words + excluded.words, \
                   duration_ms = activity_daily.duration_ms + excluded.duration_ms, \
                   timed = activity_daily.timed + excluded.timed",
            )
            .bind(columns.day)
            .bind(columns.account)
            .bind(columns.kind)
            .bind(columns.tag)
            .bind(columns.status)
            .bind(columns.records)
            .bind(columns.words)
            .bind(columns.duration_ms)
            .bind(columns.timed)
            .execute(&mut *conn)
            .await?;
        }
        if !self.ai.is_empty() {
            let mut columns = AiColumns::default();
            for (key, sums) in self.ai {
                columns.push(key, sums);
            }
            sqlx::query(
                "INSERT INTO read.ai_usage_daily \
                   (day, account_id, provider, model, operation, currency, calls, failed_calls, \
                    input_tokens, output_tokens, cost_minor, duration_ms) \
                 SELECT * FROM unnest($1::date[], $2::uuid[], $3::text[], $4::text[], \
                                      $5::text[], $6::text[], $7::bigint[], $8::bigint[], \
                                      $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[]) \
                 ON CONFLICT (day, account_id, provider, model, operation, currency) DO UPDATE SET \
                   calls = ai_usage_daily.calls + excluded.calls, \
                   failed_calls = ai_usage_daily.failed_calls + excluded.failed_calls, \
                   input_tokens = ai_usage_daily.input_tokens + excluded.input_tokens, \
                   output_tokens = ai_usage_daily.output_tokens + excluded.output_tokens, \
                   cost_minor = ai_usage_daily.cost_minor + excluded.cost_minor, \
                   duration_ms = ai_usage_daily.duration_ms + excluded.duration_ms",
            )
            .bind(columns.day)
            .bind(columns.account)
            .bind(columns.provider)
            .bind(columns.model)
            .bind(columns.operation)
            .bind(columns.currency)
            .bind(columns.calls)
            .bind(columns.failed)
            .bind(columns.input_tokens)
            .bind(columns.output_tokens)
            .bind(columns.cost_minor)
            .bind(columns.duration_ms)
            .execute(&mut *conn)
            .await?;
        }
        if !self.items.is_empty() {
            let mut kinds = Vec::new();
            let mut ids = Vec::new();
            let mut accounts = Vec::new();
            let mut tags = Vec::new();
            let mut statuses = Vec::new();
            let mut words = Vec::new();
            let mut firsts = Vec::new();
            let mut lasts = Vec::new();
            for ((kind, id), item) in self.items {
                kinds.push(kind);
                ids.push(id);
                accounts.push(item.account_id);
                tags.push(item.tag);
                statuses.push(item.status);
                words.push(item.words);
                firsts.push(item.first_at);
                lasts.push(item.last_at);
            }
            // A report older than the one kept (it arrived late) moves only the first sighting.
            sqlx::query(
                "INSERT INTO read.activity_items \
                   (kind, item_id, account_id, tag, status, words, first_at, last_at) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], \
                                      $5::text[], $6::bigint[], $7::timestamptz[], \
                                      $8::timestamptz[]) \
                 ON CONFLICT (kind, item_id) DO UPDATE SET \
                   first_at = least(activity_items.first_at, excluded.first_at), \
                   last_at = greatest(activity_items.last_at, excluded.last_at), \
                   tag = CASE WHEN excluded.last_at >= activity_items.last_at \
                              THEN excluded.tag ELSE activity_items.tag END, \
                   status = CASE WHEN excluded.last_at >= activity_items.last_at \
                                 THEN excluded.status ELSE activity_items.status END, \
                   words = CASE WHEN excluded.last_at >= activity_items.last_at \
                                THEN excluded.words ELSE activity_items.words END",
            )
            .bind(kinds)
            .bind(ids)
            .bind(accounts)
            .bind(tags)
            .bind(statuses)
            .bind(words)
            .bind(firsts)
            .bind(lasts)
            .execute(&mut *conn)
            .await?;
        }
        if !self.people.is_empty() {
            let mut days = Vec::new();
            let mut accounts = Vec::new();
            let mut users = Vec::new();
            let mut logins = Vec::new();
            for ((day, account, user), count) in self.people {
                days.push(day);
                accounts.push(account);
                users.push(user);
                logins.push(count);
            }
            sqlx::query(
                "INSERT INTO read.user_activity_days (day, account_id, user_id, logins) \
                 SELECT * FROM unnest($1::date[], $2::uuid[], $3::text[], $4::bigint[]) \
                 ON CONFLICT (day, account_id, user_id) DO UPDATE SET \
                   logins = user_activity_days.logins + excluded.logins",
            )
            .bind(days)
            .bind(accounts)
            .bind(users)
            .bind(logins)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct DayColumns {
    day: Vec<NaiveDate>,
    account: Vec<Uuid>,
    kind: Vec<&'static str>,
    tag: Vec<String>,
    status: Vec<String>,
    records: Vec<i64>,
    words: Vec<i64>,
    duration_ms: Vec<i64>,
    timed: Vec<i64>,
}

impl DayColumns {
    fn push(
        &mut self,
        day: NaiveDate,
        account: Uuid,
        kind: &'static str,
        tag: String,
        status: String,
        sums: DaySums,
    ) {
        self.day.push(day);
        self.account.push(account);
        self.kind.push(kind);
        self.tag.push(tag);
        self.status.push(status);
        self.records.push(sums.records);
        self.words.push(sums.words);
        self.duration_ms.push(sums.duration_ms);
        self.timed.push(sums.timed);
    }
}

#[derive(Default)]
struct AiColumns {
    day: Vec<NaiveDate>,
    account: Vec<Uuid>,
    provider: Vec<&'static str>,
    model: Vec<String>,
    operation: Vec<String>,
    currency: Vec<String>,
    calls: Vec<i64>,
    failed: Vec<i64>,
    input_tokens: Vec<i64>,
    output_tokens: Vec<i64>,
    cost_minor: Vec<i64>,
    duration_ms: Vec<i64>,
}

impl AiColumns {
    fn push(&mut self, key: AiKey, sums: AiSums) {
        let (day, account, provider, model, operation, currency) = key;
        self.day.push(day);
        self.account.push(account);
        self.provider.push(provider);
        self.model.push(model);
        self.operation.push(operation);
        self.currency.push(currency);
        self.calls.push(sums.calls);
        self.failed.push(sums.failed);
        self.input_tokens.push(sums.input_tokens);
        self.output_tokens.push(sums.output_tokens);
        self.cost_minor.push(sums.cost_minor);
        self.duration_ms.push(sums.duration_ms);
    }
}
