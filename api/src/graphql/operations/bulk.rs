//! Bulk actions: one mechanism for every list. A bulk request names an action, the items it
//! applies to (their ids, or the list's filter) and a `bulkKey`; each item runs as its own
//! command with the idempotency key `bulk:<bulkKey>:<action>:<id>`, so retrying the request
//! (same key) does nothing twice, and is answered per item: done, no-op, or refused with a
//! code and a message. One item's refusal never stops the others, and nothing is half-applied
//! within an item.
//!
//! Up to [`MAX_ITEMS`] named ids are carried out within the request and answered at once.
//! More, or a filter, start a bulk job (`jobs`): the runner carries the items out in the
//! background, in chunks, recording each item's result on the job; its progress is pushed over
//! `bulkJobProgress` and it can be cancelled.

use super::jobs::{find_job, BulkJobNode};
use crate::error::ApiError;
use crate::graphql::{command_context, principal, services, settle};
use async_graphql::{Context, Enum, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::error::Coded;
use domain::kit::event::{StoredAggregate, StoredEvent};
use domain::kit::values::Reason;
use domain::operations::bulk_job::{
    BulkJob, BulkJobCommand, ItemOutcome, ItemResult, JobSpec, MAX_ITEMS as MAX_JOB_ITEMS,
};
use futures::stream::{self, StreamExt};
use projections::{Appended, CommandBus, CommandContext};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

/// The most named items one request carries out itself; more run as a job.
pub const MAX_ITEMS: usize = 500;

/// Items run at once: enough to overlap round trips, few enough to leave the pool to others.
const CONCURRENCY: usize = 8;

/// An action a list offers in bulk. Each list's action type implements it; a job records the
/// value as JSON (so it must serialise everything the command needs), and the runner decodes
/// it by `KIND` to carry on after a restart.
pub trait BulkAction: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The aggregate each item is.
    type Aggregate: StoredAggregate<
            Services = (),
            Command: Clone + Send,
            Event: StoredEvent,
            Error: Coded + std::error::Error + Send + Sync + 'static,
        > + Clone
        + 'static;
    /// Stable name of the action type, as jobs record it (`payment`, `account_credits`).
    const KIND: &'static str;
    /// What the person running it must hold: the bulk field's own guard, checked again by
    /// the job's runner before every chunk (a job stops when its person loses it).
    const PERMISSION: Permission;

    /// The action's name in the items' idempotency keys (`payment-Approve`).
    fn name(&self) -> String;

    /// The command for one item, run by `actor` at `at`.
    fn command(
        &self,
        actor: &Actor,
        reason: &Reason,
        at: DateTime<Utc>,
    ) -> <Self::Aggregate as Aggregate>::Command;
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::operations::bulk_job::ItemOutcome")]
pub enum BulkOutcome {
    /// The command was carried out (now, or by an earlier try of the same bulk request).
    Done,
    /// Nothing to do: the item was already as asked.
    NoOp,
    /// The item refused; `code` and `message` say why.
    Refused,
}

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct BulkItemResult {
    #[sqlx(try_from = "String")]
    pub id: ID,
    #[sqlx(try_from = "String")]
    pub outcome: BulkOutcome,
    /// A stable error code when refused (`CONFLICT`, `NOT_FOUND`, …).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The log position of the item's last event, when it appended any.
    pub position: Option<i64>,
    /// True when an earlier try of this bulk request had already done it.
    pub replayed: bool,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

impl From<ItemResult> for BulkItemResult {
    fn from(result: ItemResult) -> Self {
        Self {
            id: ID(result.id.to_string()),
            outcome: result.outcome.into(),
            code: result.code,
            message: result.message,
            position: result.position,
            replayed: result.replayed,
            sort_value: None,
            sort_id: None,
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct BulkResult {
    /// The key the items' idempotency keys derive from; retry with the same key.
    pub bulk_key: String,
    /// One result per id, in the order given; empty when the items run as a `job`.
    pub items: Vec<BulkItemResult>,
    pub done: i32,
    pub no_op: i32,
    pub refused: i32,
    /// True when the read models showed every item's change (or the job) before this answer.
    pub caught_up: bool,
    /// The job carrying the items out, when there were more than 500 or they were chosen by a
    /// filter: follow it with `bulkJobProgress(id)` or `bulkJob(id)`.
    pub job: Option<BulkJobNode>,
}

/// The items a bulk request applies to.
pub enum Selection {
    /// Named, as given (an id that is not one is that item's refusal, or, in a job, the
    /// request's).
    Ids(Vec<ID>),
    /// Chosen by the list's filter, recorded as given beside the ids it matched.
    Filter {
        filter: serde_json::Value,
        ids: Vec<Uuid>,
    },
}

impl Selection {
    /// The items named by `ids` or chosen by `filter` (exactly one of them). `matching` finds
    /// the ids the filter lets through, at most `limit` of them.
    pub async fn of<F, Fut>(
        ids: Option<Vec<ID>>,
        filter: Option<F>,
        matching: impl FnOnce(F, usize) -> Fut,
    ) -> Result<Self, ApiError>
    where
        F: async_graphql::InputType,
        Fut: std::future::Future<Output = Result<Vec<Uuid>, ApiError>>,
    {
        match (ids, filter) {
            (Some(ids), None) => Ok(Self::Ids(ids)),
            (None, Some(filter)) => {
                let recorded =
                    filter.to_value().into_json().map(as_given).map_err(|_| {
                        ApiError::validation("the filter cannot be recorded as JSON")
                    })?;
                let ids = matching(filter, MAX_JOB_ITEMS + 1).await?;
                if ids.len() > MAX_JOB_ITEMS {
                    return Err(ApiError::validation(format!(
                        "the filter matches more than {MAX_JOB_ITEMS} items; narrow it"
                    )));
                }
                // None is the job's to refuse: a retry finds its job even once nothing matches.
                Ok(Self::Filter {
                    filter: recorded,
                    ids,
                })
            }
            _ => Err(ApiError::validation(
                "name the items either by `ids` or by `filter`, one of the two",
            )),
        }
    }
}

/// A filter as the caller gave it: the fields left out are not recorded as nulls.
fn as_given(filter: serde_json::Value) -> serde_json::Value {
    match filter {
        serde_json::Value::Object(fields) => fields
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name, as_given(value)))
            .collect(),
        other => other,
    }
}

/// Checks a bulk request's key: a person's mistake here is answered before any item runs.
/// The key becomes part of every item's idempotency key (`bulk:<key>:<action>:<id>`, at most
/// 200 printable ASCII characters), so it is held to what those allow.
fn checked_key(bulk_key: &str) -> Result<String, ApiError> {
    let key = bulk_key.trim();
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::validation(format!(
            "`bulkKey` must be 1 to {MAX_KEY_CHARS} printable ASCII characters without spaces"
        )));
    }
    Ok(key.to_string())
}

/// Leaves room in an item's idempotency key for the longest action name and the item's id.
const MAX_KEY_CHARS: usize = 120;

/// Each named id, parsed when it is one; an id named twice is the request's mistake.
fn parsed_ids(ids: &[ID]) -> Result<Vec<(ID, Option<Uuid>)>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::validation("`ids` must name at least one item"));
    }
    if ids.len() > MAX_JOB_ITEMS {
        return Err(ApiError::validation(format!(
            "a bulk request names at most {MAX_JOB_ITEMS} items, got {}; split it",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let parsed = id.trim().parse::<Uuid>().ok();
        if let Some(uuid) = parsed {
            if !seen.insert(uuid) {
                return Err(ApiError::validation(format!(
                    "`ids` names {uuid} more than once"
                )));
            }
        }
        items.push((id.clone(), parsed));
    }
    Ok(items)
}

/// Carries out `action` on the selected items: within the request when they are few and
/// named, else as a job. `action` must already be checked (its arguments parsed).
pub async fn run<B: BulkAction>(
    ctx: &Context<'_>,
    action: B,
    bulk_key: &str,
    reason: &str,
    selection: Selection,
) -> Result<BulkResult, ApiError> {
    let key = checked_key(bulk_key)?;
    let reason = Reason::parse(reason)?;
    let (items, filter) = match selection {
        Selection::Ids(ids) => {
            let items = parsed_ids(&ids)?;
            if items.len() <= MAX_ITEMS {
                return run_now(ctx, &action, key, reason, items).await;
            }
            let ids = items
                .into_iter()
                .map(|(id, parsed)| {
                    parsed.ok_or_else(|| {
                        ApiError::validation(format!(
                            "`{}` is not a valid id (a bulk job takes only valid ids)",
                            id.as_str()
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            (ids, None)
        }
        Selection::Filter { filter, ids } => (ids, Some(filter)),
    };
    start_job(ctx, &action, key, reason, items, filter).await
}

/// The items of a small bulk request, carried out now and answered one by one.
async fn run_now<B: BulkAction>(
    ctx: &Context<'_>,
    action: &B,
    key: String,
    reason: Reason,
    items: Vec<(ID, Option<Uuid>)>,
) -> Result<BulkResult, ApiError> {
    let me = principal(ctx)?;
    let bus = &services(ctx).bus;
    let context = command_context(ctx, me, None, Some(reason.to_string()));
    let outcomes: Vec<(ID, Result<Appended, ApiError>)> = stream::iter(items)
        .map(|(id, parsed)| {
            let (key, reason, context) = (&key, &reason, &context);
            async move {
                let Some(uuid) = parsed else {
                    return (id, Err(ApiError::validation("not a valid id")));
                };
                (id, run_item(bus, action, key, reason, uuid, context).await)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut result = BulkResult {
        bulk_key: key,
        items: Vec::with_capacity(outcomes.len()),
        done: 0,
        no_op: 0,
        refused: 0,
        caught_up: true,
        job: None,
    };
    let mut latest: Option<Appended> = None;
    for (id, outcome) in outcomes {
        if let Ok(appended) = &outcome {
            let at = appended.last.or(appended.observed);
            if at > latest.as_ref().and_then(|l| l.last.or(l.observed)) {
                latest = Some(appended.clone());
            }
        }
        let item = item_result(Uuid::nil(), outcome);
        match item.outcome {
            ItemOutcome::Done => result.done += 1,
            ItemOutcome::NoOp => result.no_op += 1,
            ItemOutcome::Refused => result.refused += 1,
        }
        result.items.push(BulkItemResult { id, ..item.into() });
    }
    if let Some(latest) = latest {
        result.caught_up = settle(ctx, &latest, B::Aggregate::TYPE).await.caught_up;
    }
    Ok(result)
}

/// Records the job, wakes the runner once the job is readable, and answers with the job.
async fn start_job<B: BulkAction>(
    ctx: &Context<'_>,
    action: &B,
    key: String,
    reason: Reason,
    items: Vec<Uuid>,
    filter: Option<serde_json::Value>,
) -> Result<BulkResult, ApiError> {
    let me = principal(ctx)?;
    let services = services(ctx);
    let arguments = serde_json::to_value(action)
        .map_err(|e| ApiError::internal(&e as &(dyn std::error::Error + 'static)))?;
    let spec = JobSpec {
        action: action.name(),
        list: B::KIND.to_string(),
        arguments,
        bulk_key: key.clone(),
        reason: reason.clone(),
        run_as: me.actor(),
        filter,
        items,
    };
    let id = spec.job_id();
    let context = command_context(ctx, me, None, Some(reason.to_string()));
    let appended = services
        .bus
        .execute::<BulkJob>(&id.to_string(), BulkJobCommand::Start(spec), &context)
        .await?;
    let caught_up = settle(ctx, &appended, BulkJob::TYPE).await.caught_up;
    services.jobs.notify_one();
    let job = find_job(&services.pool, id).await?;
    Ok(BulkResult {
        bulk_key: key,
        items: Vec::new(),
        done: 0,
        no_op: 0,
        refused: 0,
        caught_up: caught_up && job.is_some(),
        job,
    })
}

/// Runs `action` on item `id` with the item's idempotency key, as `context` says.
pub async fn run_item<B: BulkAction>(
    bus: &CommandBus,
    action: &B,
    key: &str,
    reason: &Reason,
    id: Uuid,
    context: &CommandContext,
) -> Result<Appended, ApiError> {
    let mut context = context.clone();
    context.idempotency_key = Some(format!("bulk:{key}:{}:{id}", action.name()));
    let command = action.command(&context.actor, reason, Utc::now());
    Ok(bus
        .execute::<B::Aggregate>(&id.to_string(), command, &context)
        .await?)
}

/// An item's result as a job records it.
pub fn item_result(id: Uuid, outcome: Result<Appended, ApiError>) -> ItemResult {
    match outcome {
        Ok(appended) => ItemResult {
            id,
            outcome: if appended.events > 0 {
                ItemOutcome::Done
            } else {
                ItemOutcome::NoOp
            },
            code: None,
            message: None,
            position: appended.last.map(|at| at.position),
            replayed: appended.replayed,
        },
        Err(error) => ItemResult {
            id,
            outcome: ItemOutcome::Refused,
            code: Some(error.code.as_str().to_string()),
            message: Some(error.message),
            position: None,
            replayed: false,
        },
    }
}

/// Runs `action` on each of `items` (a few at a time), for a job's runner: the results in the
/// items' order.
pub async fn run_items<B: BulkAction>(
    bus: &CommandBus,
    action: &B,
    spec: &JobSpec,
    items: &[Uuid],
    context: &CommandContext,
) -> Vec<ItemResult> {
    stream::iter(items.iter().copied())
        .map(|id| async move {
            let outcome = run_item(bus, action, &spec.bulk_key, &spec.reason, id, context).await;
            item_result(id, outcome)
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}
