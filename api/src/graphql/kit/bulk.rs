//! Bulk actions: one mechanism for every list. A bulk request names an action, the ids it
//! applies to and a `bulkKey`; each item runs as its own command with the idempotency key
//! `bulk:<bulkKey>:<action>:<id>`, so retrying the request (same key) does nothing
//! twice, and answers per item: done, no-op, or refused with a code and a message. One item's
//! refusal never stops the others, and nothing is half-applied within an item.

use crate::error::ApiError;
use crate::graphql::{command_context, principal, services, settle};
use async_graphql::{Context, Enum, SimpleObject, ID};
use domain::kit::error::Coded;
use domain::kit::event::{StoredAggregate, StoredEvent};
use domain::kit::values::Reason;
use futures::stream::{self, StreamExt};
use projections::Appended;
use uuid::Uuid;

/// The most items one request may name. Larger bulks are split by the caller.
pub const MAX_ITEMS: usize = 500;

/// Items run at once: enough to overlap round trips, few enough to leave the pool to others.
const CONCURRENCY: usize = 8;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum BulkOutcome {
    /// The command was carried out (now, or by an earlier try of the same bulk request).
    Done,
    /// Nothing to do: the item was already as asked.
    NoOp,
    /// The item refused; `code` and `message` say why.
    Refused,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct BulkItemResult {
    pub id: ID,
    pub outcome: BulkOutcome,
    /// A stable error code when refused (`CONFLICT`, `NOT_FOUND`, …).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The log position of the item's last event, when it appended any.
    pub position: Option<i64>,
    /// True when an earlier try of this bulk request had already done it.
    pub replayed: bool,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct BulkResult {
    /// The key the items' idempotency keys derive from; retry with the same key.
    pub bulk_key: String,
    /// One result per id, in the order given.
    pub items: Vec<BulkItemResult>,
    pub done: i32,
    pub no_op: i32,
    pub refused: i32,
    /// True when the read models showed every item's change before this answer.
    pub caught_up: bool,
}

/// A bulk request's key, reason and items (each id as given, and parsed when it is one).
struct Checked {
    key: String,
    reason: Reason,
    items: Vec<(ID, Option<Uuid>)>,
}

/// Checks a bulk request's key, reason and ids: a person's mistake here is answered before
/// any item runs. An id that is not one is the item's refusal, not the request's.
fn checked(bulk_key: &str, reason: &str, ids: &[ID]) -> Result<Checked, ApiError> {
    let key = bulk_key.trim();
    if key.is_empty() || key.chars().count() > 200 || key.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "`bulkKey` must be 1 to 200 characters without control characters",
        ));
    }
    let reason = Reason::parse(reason)?;
    if ids.is_empty() {
        return Err(ApiError::validation("`ids` must name at least one item"));
    }
    if ids.len() > MAX_ITEMS {
        return Err(ApiError::validation(format!(
            "a bulk request names at most {MAX_ITEMS} items, got {}; split it",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
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
    Ok(Checked {
        key: key.to_string(),
        reason,
        items,
    })
}

/// Runs `command(id)` on each item's aggregate `A` (the item's id is the aggregate's), then
/// waits once for the read models to show them all. `action` names the action in the items'
/// idempotency keys, so one key reused for another action is not mistaken for a retry.
pub async fn run<A, F>(
    ctx: &Context<'_>,
    action: &str,
    bulk_key: &str,
    reason: &str,
    ids: &[ID],
    command: F,
) -> Result<BulkResult, ApiError>
where
    A: StoredAggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
    A::Event: StoredEvent,
    A::Error: Coded + std::error::Error + 'static,
    F: Fn(Uuid) -> A::Command,
{
    let Checked { key, reason, items } = checked(bulk_key, reason, ids)?;
    let me = principal(ctx)?;
    let bus = &services(ctx).bus;
    let outcomes: Vec<(ID, Result<Appended, ApiError>)> = stream::iter(items)
        .map(|(id, parsed)| {
            let mut context = command_context(ctx, me, None, Some(reason.to_string()));
            let command = parsed.map(&command);
            let key = &key;
            async move {
                let Some((uuid, command)) = parsed.zip(command) else {
                    return (id, Err(ApiError::validation("not a valid id")));
                };
                context.idempotency_key = Some(format!("bulk:{key}:{action}:{uuid}"));
                let outcome = bus
                    .execute::<A>(&uuid.to_string(), command, &context)
                    .await
                    .map_err(ApiError::from);
                (id, outcome)
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
    };
    let mut latest: Option<Appended> = None;
    for (id, outcome) in outcomes {
        let item = match outcome {
            Ok(appended) => {
                let done = appended.events > 0;
                let item = BulkItemResult {
                    id,
                    outcome: if done {
                        BulkOutcome::Done
                    } else {
                        BulkOutcome::NoOp
                    },
                    code: None,
                    message: None,
                    position: appended.last.map(|at| at.position),
                    replayed: appended.replayed,
                };
                let at = appended.last.or(appended.observed);
                if at > latest.as_ref().and_then(|l| l.last.or(l.observed)) {
                    latest = Some(appended);
                }
                item
            }
            Err(error) => BulkItemResult {
                id,
                outcome: BulkOutcome::Refused,
                code: Some(error.code.as_str().to_string()),
                message: Some(error.message),
                position: None,
                replayed: false,
            },
        };
        match item.outcome {
            BulkOutcome::Done => result.done += 1,
            BulkOutcome::NoOp => result.no_op += 1,
            BulkOutcome::Refused => result.refused += 1,
        }
        result.items.push(item);
    }
    if let Some(latest) = latest {
        result.caught_up = settle(ctx, &latest, A::TYPE).await.caught_up;
    }
    Ok(result)
}
