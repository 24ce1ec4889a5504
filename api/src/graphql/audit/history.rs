//! History and time travel in GraphQL: any aggregate's versions with field-level diffs, and its
//! state as of a version, a recording time or a business time. Top-level by aggregate type and
//! id, and as `history` / `asOf` on every entity node (one line each, through `versions` and
//! `state_as_of` below).

use crate::error::ApiError;
use crate::graphql::kit::lists::{filter_text, DateRange};
use crate::graphql::kit::page::{wants_total, Page, PageRequest};
use crate::graphql::{services, Rule};
use async_graphql::{Context, Enum, InputObject, Object, OneofObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;
use projections::audit::{diff, history};
use serde_json::Value;

/// One field that differs between the state before a version and after it.
#[derive(SimpleObject, Debug, Clone)]
pub struct FieldChange {
    /// Dotted path into the state, e.g. `balance` or `grants.<id>.reversed`.
    pub path: String,
    pub kind: ChangeKind,
    /// Null when the field was added. Secrets read `"[redacted]"`.
    pub old: Option<Value>,
    /// Null when the field was removed. Secrets read `"[redacted]"`.
    pub new: Option<Value>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "diff::ChangeKind")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl From<diff::Change> for FieldChange {
    fn from(change: diff::Change) -> Self {
        Self {
            path: change.path,
            kind: change.kind.into(),
            old: change.old,
            new: change.new,
        }
    }
}

/// One event of a version, as stored (secrets redacted).
#[derive(SimpleObject, Debug, Clone)]
pub struct HistoryEvent {
    pub sequence: i64,
    /// Global log position.
    pub position: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
}

/// What one command did to an aggregate: who, when, why, the events, and the state's changes.
#[derive(SimpleObject, Debug, Clone)]
pub struct AggregateVersion {
    /// The sequence of the version's last event; `asOf: { version }` takes the same number.
    pub version: i64,
    pub actor_id: String,
    pub actor_kind: String,
    /// Business time, as the command stated it.
    pub occurred_at: DateTime<Utc>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub events: Vec<HistoryEvent>,
    pub changes: Vec<FieldChange>,
}

impl From<history::Version> for AggregateVersion {
    fn from(v: history::Version) -> Self {
        Self {
            version: v.version,
            actor_id: v.actor.id,
            actor_kind: v.actor.kind.as_str().to_string(),
            occurred_at: v.occurred_at,
            recorded_at: v.recorded_at,
            reason: v.reason,
            request_id: v.request_id,
            correlation_id: v.correlation_id,
            causation_id: v.causation_id,
            events: v
                .events
                .into_iter()
                .map(|e| HistoryEvent {
                    sequence: e.sequence,
                    position: e.position,
                    event_type: e.event_type,
                    event_version: e.event_version,
                    payload: e.payload,
                })
                .collect(),
            changes: v.changes.into_iter().map(FieldChange::from).collect(),
        }
    }
}

/// Which versions to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct HistoryFilter {
    pub actor_id: Option<String>,
    /// An event type, e.g. `CreditsAdjusted`: versions with such an event.
    pub action: Option<String>,
    /// Business time.
    pub occurred: Option<DateRange>,
    /// A field path, e.g. `balance`, `status`, `plan`: versions that changed it (or, for an
    /// object, anything inside it).
    pub field: Option<String>,
}

impl HistoryFilter {
    pub(crate) fn checked(&self) -> Result<history::HistoryFilter, ApiError> {
        let occurred = self.occurred.unwrap_or_default().checked()?;
        let text = |field: &str, value: &Option<String>| match value {
            Some(value) => filter_text(field, value),
            None => Ok(None),
        };
        Ok(history::HistoryFilter {
            actor_id: text("actorId", &self.actor_id)?,
            action: text("action", &self.action)?,
            occurred_from: occurred.from,
            occurred_to: occurred.to,
            field: text("field", &self.field)?,
        })
    }
}

/// The moment to travel to: exactly one of the three.
#[derive(OneofObject, Debug, Clone, Copy)]
pub enum AsOf {
    /// After the version (event sequence) with this number, counting from 1.
    Version(i64),
    /// As the store had recorded it at this time.
    RecordedAt(DateTime<Utc>),
    /// After the events that had happened by this business time: the longest run of the
    /// aggregate's events, in sequence order, whose business times are at or before it.
    OccurredAt(DateTime<Utc>),
}

impl From<AsOf> for history::AsOf {
    fn from(at: AsOf) -> Self {
        match at {
            AsOf::Version(v) => Self::Version(v),
            AsOf::RecordedAt(t) => Self::RecordedAt(t),
            AsOf::OccurredAt(t) => Self::OccurredAt(t),
        }
    }
}

/// The event a state as of a moment stopped at.
#[derive(SimpleObject, Debug, Clone)]
pub struct StoppedAt {
    pub sequence: i64,
    pub position: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// An aggregate's state as of a moment, folded from its own events.
#[derive(SimpleObject, Debug, Clone)]
pub struct AggregateState {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The version the state is at: the sequence of `stoppedAt`.
    pub version: i64,
    /// The aggregate's latest version now.
    pub latest_version: i64,
    pub stopped_at: StoppedAt,
    /// The state as the aggregate holds it (secrets redacted).
    pub state: Value,
}

impl From<history::StateAsOf> for AggregateState {
    fn from(s: history::StateAsOf) -> Self {
        Self {
            aggregate_type: s.aggregate_type.to_string(),
            aggregate_id: s.aggregate_id,
            version: s.version,
            latest_version: s.latest_version,
            stopped_at: StoppedAt {
                sequence: s.stopped_at.sequence,
                position: s.stopped_at.position,
                event_type: s.stopped_at.event_type,
                occurred_at: s.stopped_at.occurred_at,
                recorded_at: s.stopped_at.recorded_at,
            },
            state: s.state,
        }
    }
}

/// A page of an aggregate's versions, oldest first; the cursor is the version number.
pub(crate) async fn versions(
    ctx: &Context<'_>,
    aggregate_type: &str,
    aggregate_id: &str,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<HistoryFilter>,
) -> Result<Page<i64, AggregateVersion>, ApiError> {
    let page = PageRequest::<i64>::parse(first, after)?;
    let filter = filter.unwrap_or_default().checked()?;
    let services = services(ctx);
    let chronicle = services.chronicles.get(aggregate_type)?;
    let found = history::history(
        &services.pool,
        chronicle,
        aggregate_id,
        &filter,
        page.after,
        page.limit as usize,
        wants_total(ctx),
    )
    .await?;
    let rows: Vec<AggregateVersion> = found.versions.into_iter().map(Into::into).collect();
    Ok(page.finish(rows, found.total.unwrap_or(0), |v| v.version))
}

/// An aggregate's state as of `at`.
pub(crate) async fn state_as_of(
    ctx: &Context<'_>,
    aggregate_type: &str,
    aggregate_id: &str,
    at: AsOf,
) -> Result<AggregateState, ApiError> {
    let services = services(ctx);
    let chronicle = services.chronicles.get(aggregate_type)?;
    Ok(
        history::state_as_of(&services.pool, chronicle, aggregate_id, at.into())
            .await?
            .into(),
    )
}

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// The aggregate types whose history can be read, e.g. `account`, `payment`, `operator`.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn aggregate_types(&self, ctx: &Context<'_>) -> Vec<String> {
        let services = services(ctx);
        services
            .chronicles
            .types()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Any aggregate's versions, oldest first, each with who, when, why, its events and the
    /// field-level changes it made, read from the event log.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn aggregate_history(
        &self,
        ctx: &Context<'_>,
        aggregate_type: String,
        aggregate_id: ID,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(ctx, &aggregate_type, &aggregate_id, first, after, filter).await
    }

    /// Any aggregate's state as of a version, a recording time or a business time, folded
    /// from its events; says which event it stopped at.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn aggregate_as_of(
        &self,
        ctx: &Context<'_>,
        aggregate_type: String,
        aggregate_id: ID,
        as_of: AsOf,
    ) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, &aggregate_type, &aggregate_id, as_of).await
    }
}
