//! Any aggregate's history, told from its own events alone: its versions (who, when, why, the
//! events, and a field-level diff of its state), and its state as of a version, a recording
//! time or a business time. Nothing here is stored: it is read from the log (and from the
//! snapshots, which are derived from it), so it cannot disagree with the log.
//!
//! A version is what one command appended to the aggregate: its events share a transaction.
//! It is numbered by its last event's sequence, so `version` is also "the aggregate after
//! sequence N", and `asOf: { version: N }` means the same N.

use super::audit_log::reason_of;
use super::diff::{diff, Change};
use super::redact::redact;
use crate::store::log::{self, LogError, RecordedEvent};
use chrono::{DateTime, Utc};
use domain::kit::event::{Read, StoredAggregate, StoredEvent};
use domain::kit::time;
use domain::{Actor, EventMetadata};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::marker::PhantomData;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("there is no aggregate type `{given}`; the types are {known}")]
    UnknownType { given: String, known: String },
    #[error("there is no {aggregate_type} with id `{id}`")]
    NotFound { aggregate_type: String, id: String },
    /// Asked about a moment before the aggregate existed.
    #[error("{0}")]
    NotYet(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{aggregate_type} event at position {position} cannot be read: {reason}")]
    Unreadable {
        aggregate_type: &'static str,
        position: i64,
        reason: String,
    },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An aggregate being folded, one event at a time, its state readable as JSON between events.
pub trait Replay: Send {
    /// Folds in one stored event (its log position names it in errors).
    fn apply(&mut self, stored: Stored<'_>) -> Result<(), HistoryError>;
    /// The state as the aggregate serialises it (as its snapshots hold it), secrets redacted.
    fn state(&self) -> Value;
    /// The state as its snapshots hold it, secrets and all: only ever stored, never shown.
    fn snapshot(&self) -> Value;
}

/// What a fold reads of a stored event.
#[derive(Clone, Copy)]
pub struct Stored<'a> {
    pub position: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: Payload<'a>,
}

/// A payload as read: already a JSON tree, or the text the database sent.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Json(&'a Value),
    Text(&'a str),
}

impl<'a> From<&'a RecordedEvent> for Stored<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        Self {
            position: event.at.position,
            event_type: &event.event_type,
            event_version: &event.event_version,
            payload: Payload::Json(&event.payload),
        }
    }
}

/// What history needs of an aggregate type: its name, the shape of its snapshots, and a fold.
pub trait Chronicle: Send + Sync {
    fn aggregate_type(&self) -> &'static str;
    fn state_version(&self) -> i32;
    /// A fold from the beginning, or from a snapshot's state.
    fn start(&self, snapshot: Option<Value>) -> Result<Box<dyn Replay>, HistoryError>;
}

/// The chronicle of `A`, through its own `apply`: nothing to write per aggregate.
pub fn chronicle_of<A>() -> Arc<dyn Chronicle>
where
    A: StoredAggregate + 'static,
    A::Event: StoredEvent,
{
    Arc::new(Chronicled::<A>(PhantomData))
}

struct Chronicled<A>(PhantomData<fn() -> A>);

impl<A> Chronicle for Chronicled<A>
where
    A: StoredAggregate + 'static,
    A::Event: StoredEvent,
{
    fn aggregate_type(&self) -> &'static str {
        A::TYPE
    }

    fn state_version(&self) -> i32 {
        A::STATE_VERSION
    }

    fn start(&self, snapshot: Option<Value>) -> Result<Box<dyn Replay>, HistoryError> {
        let state = match snapshot {
            None => A::default(),
            Some(state) => serde_json::from_value(state).map_err(|e| HistoryError::Unreadable {
                aggregate_type: A::TYPE,
                position: 0,
                reason: format!("its snapshot cannot be read: {e}"),
            })?,
        };
        Ok(Box::new(Folding(state)))
    }
}

struct Folding<A>(A);

impl<A> Replay for Folding<A>
where
    A: StoredAggregate,
    A::Event: StoredEvent,
{
    fn apply(&mut self, event: Stored<'_>) -> Result<(), HistoryError> {
        let unreadable = |reason: String| HistoryError::Unreadable {
            aggregate_type: A::TYPE,
            position: event.position,
            reason,
        };
        // An aggregate's own events decide its state: one this build cannot read (an unknown
        // type included) stops the fold rather than show a state that never was.
        let read = match event.payload {
            Payload::Json(payload) => {
                A::Event::read(event.event_type, event.event_version, payload)
            }
            Payload::Text(text) => A::Event::read_text(event.event_type, event.event_version, text),
        };
        match read {
            Ok(Read::Event(decoded)) => {
                self.0.apply(decoded);
                Ok(())
            }
            Ok(Read::Unknown) => Err(unreadable(format!(
                "its type `{}` is unknown to this build",
                event.event_type
            ))),
            Err(reason) => Err(unreadable(reason)),
        }
    }

    fn state(&self) -> Value {
        redact(self.snapshot())
    }

    fn snapshot(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }
}

/// Every aggregate type this build knows, by name.
#[derive(Clone)]
pub struct Chronicles(Arc<Vec<Arc<dyn Chronicle>>>);

impl Chronicles {
    pub fn new(chronicles: Vec<Arc<dyn Chronicle>>) -> Self {
        Self(Arc::new(chronicles))
    }

    pub fn types(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.aggregate_type()).collect()
    }

    pub fn get(&self, aggregate_type: &str) -> Result<&dyn Chronicle, HistoryError> {
        self.0
            .iter()
            .find(|c| c.aggregate_type() == aggregate_type)
            .map(|c| c.as_ref())
            .ok_or_else(|| HistoryError::UnknownType {
                given: aggregate_type.chars().take(64).collect(),
                known: self.types().join(", "),
            })
    }
}

/// One event of a version, its payload with secrets redacted.
#[derive(Debug, Clone)]
pub struct VersionEvent {
    pub sequence: i64,
    pub position: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
}

/// What one command did to an aggregate.
#[derive(Debug, Clone)]
pub struct Version {
    /// The sequence of its last event.
    pub version: i64,
    pub actor: Actor,
    /// Business time, as the command stated it.
    pub occurred_at: DateTime<Utc>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub events: Vec<VersionEvent>,
    /// The state before and after, field by field.
    pub changes: Vec<Change>,
}

/// Which versions to list. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub actor_id: Option<String>,
    /// An event type: versions with such an event.
    pub action: Option<String>,
    /// Business time, from (inclusive) and to (exclusive).
    pub occurred_from: Option<DateTime<Utc>>,
    pub occurred_to: Option<DateTime<Utc>>,
    /// A field path (`balance`, `status`, `grants`): versions that changed it or inside it.
    pub field: Option<String>,
}

impl HistoryFilter {
    fn admits(&self, metadata: &EventMetadata, events: &[RecordedEvent]) -> bool {
        self.actor_id
            .as_ref()
            .is_none_or(|actor| *actor == metadata.actor.id)
            && self
                .action
                .as_ref()
                .is_none_or(|action| events.iter().any(|e| e.event_type == *action))
            && self
                .occurred_from
                .is_none_or(|from| metadata.occurred_at >= from)
            && self.occurred_to.is_none_or(|to| metadata.occurred_at < to)
    }
}

/// A page of versions, oldest first.
pub struct HistoryPage {
    /// Up to `limit + 1` versions after the cursor: one more says another page follows.
    pub versions: Vec<Version>,
    /// All versions the filter admits, when asked for.
    pub total: Option<i64>,
}

/// Events read per statement while telling a history: most pages need one.
const CHUNK: i64 = 256;

/// The versions of one aggregate after version `after`, oldest first, at most `limit + 1` of
/// them. The log is folded from the beginning, in chunks, and only as far as the page needs
/// (to the end when a total is asked for); a version's state is only serialised when the
/// filter may admit it.
pub async fn history(
    pool: &PgPool,
    chronicle: &dyn Chronicle,
    aggregate_id: &str,
    filter: &HistoryFilter,
    after: Option<i64>,
    limit: usize,
    count: bool,
) -> Result<HistoryPage, HistoryError> {
    check_id(aggregate_id)?;
    let mut conn = pool.acquire().await?;
    // A page after a cursor starts from the state kept nearest before it; a total counts every
    // version, so it folds from the start.
    let start = match after {
        Some(after) if !count => {
            nearest_snapshot(&mut conn, chronicle, aggregate_id, after, None).await?
        }
        _ => None,
    };
    let mut read_through = start.as_ref().map_or(0, |(sequence, _)| *sequence);
    let mut page = Pager {
        chronicle,
        filter,
        after,
        limit,
        count,
        replay: chronicle.start(start.map(|(_, state)| state))?,
        state: None,
        versions: Vec::new(),
        total: 0,
    };
    // The first read is sized to the page: the events up to the cursor, one per version, and
    // one more to see whether the last version goes on. Versions of many events, or a filter
    // that passes over many, read on in larger chunks.
    let mut chunk = (after.unwrap_or(0) - read_through).max(0) + limit as i64 + 2;
    // Events of a version the last chunk cut through, kept for the next.
    let mut carried: Vec<RecordedEvent> = Vec::new();
    loop {
        let events = log::read_stream(
            &mut conn,
            chronicle.aggregate_type(),
            aggregate_id,
            read_through,
            read_through + chunk,
        )
        .await?;
        if read_through == 0 && events.is_empty() {
            return Err(not_found(chronicle, aggregate_id));
        }
        let ended = (events.len() as i64) < chunk;
        read_through += chunk;
        chunk = chunk.max(CHUNK);
        carried.extend(events);
        let complete = if ended {
            carried.len()
        } else {
            // The last version may go on in the next chunk.
            let tail = carried.last().map(|e| e.at.transaction_id);
            carried
                .iter()
                .rposition(|e| Some(e.at.transaction_id) != tail)
                .map_or(0, |i| i + 1)
        };
        let ready: Vec<RecordedEvent> = carried.drain(..complete).collect();
        for group in ready.chunk_by(|a, b| a.at.transaction_id == b.at.transaction_id) {
            if page.take(group)? {
                return Ok(page.finish());
            }
        }
        if ended {
            return Ok(page.finish());
        }
    }
}

/// A history page being filled, version by version.
struct Pager<'a> {
    chronicle: &'a dyn Chronicle,
    filter: &'a HistoryFilter,
    after: Option<i64>,
    limit: usize,
    count: bool,
    replay: Box<dyn Replay>,
    /// The state after the last version, when it was serialised: the next one's "before".
    state: Option<Value>,
    versions: Vec<Version>,
    total: i64,
}

impl Pager<'_> {
    /// Folds one version in; whether the page is done.
    fn take(&mut self, group: &[RecordedEvent]) -> Result<bool, HistoryError> {
        let first = &group[0];
        let last = group.last().map_or(first.sequence, |e| e.sequence);
        let metadata = first
            .metadata()
            .map_err(|e| unreadable(self.chronicle, first, e.reason))?;
        let full = self.versions.len() > self.limit;
        if self.done() {
            return Ok(true);
        }
        // The total counts every admitted version, on every page; the page holds those after
        // the cursor.
        let admitted = self.filter.admits(metadata, group);
        let on_page = !full && self.after.is_none_or(|after| last > after);
        let by_field = self.filter.field.as_ref();
        if !admitted || !(on_page || (self.count && by_field.is_some())) {
            for event in group {
                self.replay.apply(event.into())?;
            }
            self.state = None;
            self.total += i64::from(admitted && self.count);
            return Ok(false);
        }
        let before = self.state.take().unwrap_or_else(|| self.replay.state());
        for event in group {
            self.replay.apply(event.into())?;
        }
        let after = self.state.insert(self.replay.state());
        let changes = diff(&before, after);
        if by_field.is_some_and(|field| !changes.iter().any(|c| c.touches(field))) {
            return Ok(false);
        }
        self.total += 1;
        if on_page {
            self.versions.push(version(group, metadata, changes));
        }
        Ok(self.done())
    }

    /// Whether the page holds all it will: one version more than asked for (and no total to
    /// count on to the end).
    fn done(&self) -> bool {
        self.versions.len() > self.limit && !self.count
    }

    fn finish(self) -> HistoryPage {
        HistoryPage {
            versions: self.versions,
            total: self.count.then_some(self.total),
        }
    }
}

fn version(group: &[RecordedEvent], metadata: &EventMetadata, changes: Vec<Change>) -> Version {
    let first = &group[0];
    Version {
        version: group.last().map_or(first.sequence, |e| e.sequence),
        actor: metadata.actor.clone(),
        occurred_at: metadata.occurred_at,
        recorded_at: first.recorded_at,
        reason: reason_of(first, metadata),
        request_id: metadata.request_id.clone(),
        correlation_id: metadata.correlation_id.clone(),
        causation_id: metadata.causation_id.clone(),
        events: group
            .iter()
            .map(|e| VersionEvent {
                sequence: e.sequence,
                position: e.at.position,
                event_type: e.event_type.clone(),
                event_version: e.event_version.clone(),
                payload: redact(e.payload.clone()),
            })
            .collect(),
        changes,
    }
}

/// The moment to travel to.
#[derive(Debug, Clone, Copy)]
pub enum AsOf {
    /// After the event with this sequence.
    Version(i64),
    /// As the store had recorded it at this time.
    RecordedAt(DateTime<Utc>),
    /// After the events that had happened by this business time: the longest run of the
    /// aggregate's events, in sequence order, whose business times are all at or before it.
    /// (An event reported later but backdated before it is not folded in ahead of the events
    /// recorded before it; the answer names the event it stopped at.)
    OccurredAt(DateTime<Utc>),
}

/// The event a state as of a moment stopped at.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoppedAt {
    pub sequence: i64,
    pub position: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StateAsOf {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    /// The version the state is at (the sequence of `stopped_at`).
    pub version: i64,
    /// The aggregate's latest version now.
    pub latest_version: i64,
    pub stopped_at: StoppedAt,
    /// Secrets redacted.
    pub state: Value,
}

/// A moment one may travel to: a version counts from 1, and no time lies in the future.
fn check_moment(at: AsOf) -> Result<(), HistoryError> {
    let now = Utc::now();
    match at {
        AsOf::Version(v) if v < 1 => Err(HistoryError::Invalid(format!(
            "`version` counts from 1; got {v}"
        ))),
        AsOf::RecordedAt(t) | AsOf::OccurredAt(t) if t > now + time::MAX_CLOCK_SKEW => {
            Err(HistoryError::Invalid(format!(
                "cannot look into the future: {t} is later than now ({now})"
            )))
        }
        _ => Ok(()),
    }
}

/// Whether the store had recorded anything of the aggregate by `at`: the same question
/// `state_as_of` answers with `NotYet`, without folding anything.
pub async fn recorded_by(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, HistoryError> {
    check_id(aggregate_id)?;
    check_moment(AsOf::RecordedAt(at))?;
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3)",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(at)
    .fetch_one(pool)
    .await?)
}

/// The aggregate's state as of `at`, folded from its events (from its snapshot when that
/// lies at or before the moment and has today's shape).
pub async fn state_as_of(
    pool: &PgPool,
    chronicle: &dyn Chronicle,
    aggregate_id: &str,
    at: AsOf,
) -> Result<StateAsOf, HistoryError> {
    check_id(aggregate_id)?;
    check_moment(at)?;
    let aggregate_type = chronicle.aggregate_type();
    let latest: Option<i64> = sqlx::query_scalar(
        "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_one(pool)
    .await?;
    let Some(latest) = latest else {
        return Err(not_found(chronicle, aggregate_id));
    };
    let through = match at {
        AsOf::Version(v) if v > latest => {
            return Err(HistoryError::Invalid(format!(
                "{aggregate_type} {aggregate_id} has {latest} versions; there is no version {v}"
            )))
        }
        AsOf::Version(v) => v,
        AsOf::RecordedAt(t) => {
            let through: Option<i64> = if t < time::earliest() {
                None
            } else {
                sqlx::query_scalar(
                    "SELECT max(sequence) FROM events \
                     WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3",
                )
                .bind(aggregate_type)
                .bind(aggregate_id)
                .bind(t)
                .fetch_one(pool)
                .await?
            };
            through.ok_or_else(|| {
                HistoryError::NotYet(format!(
                    "{aggregate_type} {aggregate_id} did not exist yet at {t}: \
                     nothing about it had been recorded by then"
                ))
            })?
        }
        // Business times live in the metadata: found while folding, below.
        AsOf::OccurredAt(_) => latest,
    };
    let until = match at {
        AsOf::OccurredAt(t) => Some(t),
        _ => None,
    };
    let mut conn = pool.acquire().await?;
    let start = nearest_snapshot(&mut conn, chronicle, aggregate_id, through, until).await?;
    let from = start.as_ref().map_or(0, |(sequence, _)| *sequence);
    let mut replay = chronicle.start(start.map(|(_, state)| state))?;
    let folded = fold_range(
        &mut conn,
        chronicle,
        replay.as_mut(),
        aggregate_id,
        (from, through),
        until,
    )
    .await?;
    let stopped_at = folded.last.unwrap_or(from);
    if stopped_at == 0 {
        let AsOf::OccurredAt(t) = at else {
            return Err(not_found(chronicle, aggregate_id));
        };
        return Err(HistoryError::NotYet(format!(
            "{aggregate_type} {aggregate_id} did not exist yet at {t}: its first event happened later"
        )));
    }
    let stopped = log::read_stream(
        &mut conn,
        aggregate_type,
        aggregate_id,
        stopped_at - 1,
        stopped_at,
    )
    .await?
    .pop()
    .ok_or_else(|| not_found(chronicle, aggregate_id))?;
    drop(conn);
    let stopped = &stopped;
    let metadata = stopped
        .metadata()
        .map_err(|e| unreadable(chronicle, stopped, e.reason))?;
    Ok(StateAsOf {
        aggregate_type,
        aggregate_id: aggregate_id.to_string(),
        version: stopped.sequence,
        latest_version: latest,
        stopped_at: StoppedAt {
            sequence: stopped.sequence,
            position: stopped.at.position,
            event_type: stopped.event_type.clone(),
            occurred_at: metadata.occurred_at,
            recorded_at: stopped.recorded_at,
        },
        state: replay.state(),
    })
}

/// The kept state nearest before the moment: the aggregate's latest snapshot or one of its
/// history snapshots, whichever is later, at or before `through`. By business time (`until`)
/// only a history snapshot whose events all happened by then will do.
async fn nearest_snapshot(
    conn: &mut PgConnection,
    chronicle: &dyn Chronicle,
    aggregate_id: &str,
    through: i64,
    until: Option<DateTime<Utc>>,
) -> Result<Option<(i64, Value)>, HistoryError> {
    Ok(sqlx::query_as(
        "SELECT sequence, state FROM ( \
             SELECT sequence, payload AS state FROM aggregate_snapshots \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND state_version = $3 \
               AND sequence <= $4 AND $5::timestamptz IS NULL \
             UNION ALL \
             (SELECT sequence, state FROM history_snapshots \
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND state_version = $3 \
                AND sequence <= $4 AND ($5::timestamptz IS NULL OR occurred_through <= $5) \
              ORDER BY sequence DESC LIMIT 1) \
         ) kept ORDER BY sequence DESC LIMIT 1",
    )
    .bind(chronicle.aggregate_type())
    .bind(aggregate_id)
    .bind(chronicle.state_version())
    .bind(through)
    .bind(until)
    .fetch_optional(conn)
    .await?)
}

/// How far a fold from the log got.
pub(crate) struct Folded {
    /// The sequence of the last event folded in; none when none was.
    pub last: Option<i64>,
    /// The latest business time among the events folded in, starting from the one given;
    /// none once one of them had no readable business time.
    pub occurred_through: Option<DateTime<Utc>>,
}

/// Folds the aggregate's events with sequences in `(after, through]` into `replay`, reading
/// only what a fold needs (no metadata but the business time, payloads as text). With `until`,
/// it stops before the first event that happened after it.
pub(crate) async fn fold_range(
    conn: &mut PgConnection,
    chronicle: &dyn Chronicle,
    replay: &mut dyn Replay,
    aggregate_id: &str,
    (after, through): (i64, i64),
    until: Option<DateTime<Utc>>,
) -> Result<Folded, HistoryError> {
    let rows: Vec<(i64, i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT sequence, position, event_type, event_version, payload::text, \
                metadata ->> 'occurred_at' \
         FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
           AND sequence > $3 AND sequence <= $4 ORDER BY sequence",
    )
    .bind(chronicle.aggregate_type())
    .bind(aggregate_id)
    .bind(after)
    .bind(through)
    .fetch_all(conn)
    .await?;
    let mut folded = Folded {
        last: None,
        occurred_through: Some(DateTime::<Utc>::MIN_UTC),
    };
    for (sequence, position, event_type, event_version, payload, occurred) in &rows {
        let occurred = occurred
            .as_deref()
            .and_then(|text| text.parse::<DateTime<Utc>>().ok());
        if let Some(until) = until {
            let occurred = occurred.ok_or_else(|| HistoryError::Unreadable {
                aggregate_type: chronicle.aggregate_type(),
                position: *position,
                reason: "its metadata has no readable occurred_at".into(),
            })?;
            if occurred > until {
                break;
            }
        }
        replay.apply(Stored {
            position: *position,
            event_type,
            event_version,
            payload: Payload::Text(payload),
        })?;
        folded.last = Some(*sequence);
        folded.occurred_through = folded.occurred_through.zip(occurred).map(|(a, b)| a.max(b));
    }
    Ok(folded)
}

/// Ids are text in the log; one no aggregate could have is the caller's mistake, said as such
/// before it reaches a query.
fn check_id(id: &str) -> Result<(), HistoryError> {
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(HistoryError::Invalid(
            "an aggregate id is 1 to 200 characters, none of them control characters".into(),
        ));
    }
    Ok(())
}

fn not_found(chronicle: &dyn Chronicle, id: &str) -> HistoryError {
    HistoryError::NotFound {
        aggregate_type: chronicle.aggregate_type().to_string(),
        id: id.chars().take(100).collect(),
    }
}

fn unreadable(chronicle: &dyn Chronicle, event: &RecordedEvent, reason: String) -> HistoryError {
    HistoryError::Unreadable {
        aggregate_type: chronicle.aggregate_type(),
        position: event.at.position,
        reason,
    }
}
