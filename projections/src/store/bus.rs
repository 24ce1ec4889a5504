//! The command bus: the one way anything is written to the event store.
//!
//! It runs cqrs-es aggregates through load / handle / append on the `events` table postgres-es
//! defines (see `run` for why the append is our own statement) and adds what the framework
//! leaves to us: typed metadata on every event (and a refusal when there is no actor), idempotency
//! keys, bounded retries on optimistic-concurrency conflicts, and the log position of what was
//! appended, so callers can wait for their own writes to reach the read models. Commands on one
//! aggregate take turns in a process (`turns`); the appends of concurrent commands are written
//! together (`group_commit`). Records that arrive by the thousand go through `batch`: many
//! commands, one load and one append.

mod batch;

pub use crate::store::group_commit::GroupCommitStats;
use crate::store::group_commit::{Append, AppendRequest, GroupCommit};
use crate::store::log::LogPosition;
use crate::store::turns::Turns;
use crate::store::warm::WarmAggregates;
pub use batch::BatchCommand;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use domain::kit::error::{Coded, ErrorCode};
use domain::kit::event::{Read, StoredAggregate, StoredEvent};
use domain::kit::values::Reason;
use domain::{Actor, EventMetadata};
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

/// An aggregate's state is snapshotted each time its history grows past a multiple of this.
const SNAPSHOT_EVERY: usize = 50;

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;
/// How long a retry waits for an identical request that is still running.
const IDEMPOTENCY_WAIT: Duration = Duration::from_secs(15);

/// Why the store failed: a database error, an unserializable value, an unreadable event.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Who asks, why, and on behalf of which request. Becomes the metadata of every event appended.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    /// Business time, if not now. Only service and system principals may set it.
    pub occurred_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
}

impl CommandContext {
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            request_id: None,
            correlation_id: None,
            causation_id: None,
            reason: None,
            client_addr: None,
            occurred_at: None,
            idempotency_key: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(at);
        self
    }

    /// Checks the context and turns it into event metadata.
    fn metadata<E>(&self, now: DateTime<Utc>) -> Result<EventMetadata, CommandError<E>> {
        let actor_id = self.actor.id.trim();
        if actor_id.is_empty() || actor_id.len() > 200 {
            return Err(CommandError::InvalidContext(
                "every command needs an actor: a principal id of 1 to 200 characters".into(),
            ));
        }
        let occurred_at = match self.occurred_at {
            None => now,
            Some(_) if !self.actor.kind.may_backdate() => {
                return Err(CommandError::Forbidden(format!(
                    "only service and system principals may set the business time; {} may not",
                    self.actor.kind
                )))
            }
            Some(at) => domain::kit::time::business_time(at, now)
                .map_err(|e| CommandError::InvalidContext(e.to_string()))?,
        };
        let reason = match &self.reason {
            Some(reason) => Some(
                Reason::parse(reason)
                    .map_err(|e| CommandError::InvalidContext(e.to_string()))?
                    .to_string(),
            ),
            None => None,
        };
        if let Some(key) = &self.idempotency_key {
            let printable = key.chars().all(|c| c.is_ascii_graphic());
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS || !printable {
                return Err(CommandError::InvalidContext(format!(
                    "an idempotency key has 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
                )));
            }
        }
        Ok(EventMetadata {
            actor: Actor::new(self.actor.kind, actor_id),
            request_id: self.request_id.clone(),
            correlation_id: self
                .correlation_id
                .clone()
                .or_else(|| self.request_id.clone())
                .unwrap_or_else(|| Uuid::now_v7().to_string()),
            causation_id: self.causation_id.clone(),
            reason,
            client_addr: self.client_addr.clone(),
            occurred_at,
            idempotency_key: self.idempotency_key.clone(),
        })
    }
}

/// What a command appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub aggregate_id: String,
    /// Events appended by this command (for a replayed idempotent command: by the first call).
    pub events: usize,
    /// The log position of the last event appended; `None` when the command changed nothing.
    pub last: Option<LogPosition>,
    /// When nothing was appended: the position of the aggregate's latest event, the state the
    /// command was decided on. A caller waiting to read its write waits for this instead, so a
    /// no-op (e.g. approving an approved payment) still answers with that state visible.
    pub observed: Option<LogPosition>,
    /// True when an idempotency key matched an earlier command and nothing new was appended.
    pub replayed: bool,
}

/// Why a command was not carried out. The first variant carries the aggregate's own refusal.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    /// The aggregate refused the command; its own code applies.
    #[error(transparent)]
    Rejected(E),
    /// `VALIDATION`: the context (reason, key, business time) is malformed.
    #[error("{0}")]
    InvalidContext(String),
    /// `FORBIDDEN`: the principal may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// `CONFLICT`: concurrent writers kept changing the aggregate; retrying later may succeed.
    #[error("the {aggregate} was changed concurrently {attempts} times in a row; try again")]
    Conflict {
        aggregate: &'static str,
        attempts: u32,
    },
    /// `CONFLICT`: the idempotency key belongs to a command for another aggregate.
    #[error("idempotency key `{0}` was already used for a different command")]
    KeyReused(String),
    /// `CONFLICT`: an identical request holding the key is still running.
    #[error("a request with idempotency key `{0}` is still in progress; retry shortly")]
    KeyBusy(String),
    /// `INTERNAL`: the store failed; the cause (kept as the error's source, so the one log line
    /// shows the whole chain) is logged, never shown.
    #[error("the event store failed")]
    Store(#[source] StoreError),
}

impl<E: Coded> Coded for CommandError<E> {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected(e) => e.code(),
            Self::InvalidContext(_) => ErrorCode::Validation,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Conflict { .. } | Self::KeyReused(_) | Self::KeyBusy(_) => ErrorCode::Conflict,
            Self::Store(_) => ErrorCode::Internal,
        }
    }
}

impl<E> From<sqlx::Error> for CommandError<E> {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(Box::new(e))
    }
}

/// The latest event appended under an idempotency key, and how many there were. The
/// `metadata ? 'idempotency_key'` condition is what lets PostgreSQL use the partial index
/// `events_idempotency_key`: without it the planner cannot prove the index covers the rows,
/// and walks the whole log backwards instead (27 ms at 56,000 events, growing with the log).
pub const EARLIER_WITH_KEY: &str =
    "SELECT aggregate_type, aggregate_id, position, transaction_id, \
        count(*) OVER () AS events \
     FROM events WHERE metadata ? 'idempotency_key' AND metadata ->> 'idempotency_key' = $1 \
     ORDER BY transaction_id DESC, position DESC LIMIT 1";

#[derive(Clone)]
pub struct CommandBus {
    pool: PgPool,
    max_attempts: u32,
    warm: WarmAggregates,
    turns: Turns,
    writes: GroupCommit,
}

impl CommandBus {
    pub fn new(pool: PgPool) -> Self {
        Self {
            writes: GroupCommit::new(pool.clone()),
            pool,
            max_attempts: 8,
            warm: WarmAggregates::default(),
            turns: Turns::default(),
        }
    }

    /// How many appends went together, so far: the batch sizes group commit reaches.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.writes.stats()
    }

    /// How many times a command is decided again after losing an optimistic-concurrency race
    /// before `CONFLICT` is returned.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `command` against the aggregate `aggregate_id` and appends what it decides.
    pub async fn execute<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<Appended, CommandError<A::Error>>
    where
        A: StoredAggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        self.execute_with::<A>(aggregate_id, command, context, &())
            .await
    }

    /// As `execute`, for an aggregate that decides with the help of `services` (what it needs
    /// from outside, e.g. encryption).
    pub async fn execute_with<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        services: &A::Services,
    ) -> Result<Appended, CommandError<A::Error>>
    where
        A: StoredAggregate + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        let metadata = context.metadata(Utc::now())?;
        let outcome = match &metadata.idempotency_key {
            None => self
                .run::<A>(aggregate_id, command, &metadata, services, false)
                .await
                .map(|(appended, _)| appended),
            Some(key) => {
                self.run_once::<A>(aggregate_id, command, &metadata, key, services)
                    .await
            }
        };
        let label = match &outcome {
            Ok(a) if a.replayed => "replayed",
            Ok(_) => "ok",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict { .. }) => "conflict",
            Err(_) => "error",
        };
        metrics::counter!("igny8_commands_total", "aggregate" => A::TYPE, "outcome" => label)
            .increment(1);
        outcome
    }

    /// Idempotent execution: a transaction-scoped advisory lock on the key serialises racing
    /// retries, and the events table itself (indexed on the key) remembers the first outcome, so
    /// even a crash between append and reply cannot make a retry append twice. Waiting is done
    /// by polling a non-blocking lock, so waiters hold no pooled connection.
    async fn run_once<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
        key: &str,
        services: &A::Services,
    ) -> Result<Appended, CommandError<A::Error>>
    where
        A: StoredAggregate + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        let deadline = tokio::time::Instant::now() + IDEMPOTENCY_WAIT;
        let mut pause = Duration::from_millis(2);
        let mut guard = loop {
            let mut tx = self.pool.begin().await?;
            let locked: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_xact_lock(hashtextextended('igny8:idempotency:' || $1, 0))",
            )
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            if locked {
                break tx;
            }
            drop(tx);
            if tokio::time::Instant::now() >= deadline {
                return Err(CommandError::KeyBusy(key.to_string()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        };
        let earlier = sqlx::query(EARLIER_WITH_KEY)
            .bind(key)
            .fetch_optional(&mut *guard)
            .await?;
        let outcome = match earlier {
            Some(row) => {
                let same_target = row.try_get::<&str, _>("aggregate_type")? == A::TYPE
                    && row.try_get::<&str, _>("aggregate_id")? == aggregate_id;
                if !same_target {
                    return Err(CommandError::KeyReused(key.to_string()));
                }
                Ok(Appended {
                    aggregate_id: aggregate_id.to_string(),
                    events: row.try_get::<i64, _>("events")? as usize,
                    last: Some(LogPosition {
                        transaction_id: row.try_get("transaction_id")?,
                        position: row.try_get("position")?,
                    }),
                    observed: None,
                    replayed: true,
                })
            }
            None => self
                .run::<A>(aggregate_id, command, metadata, services, false)
                .await
                .map(|(appended, _)| appended),
        };
        guard.rollback().await?;
        outcome
    }

    /// The aggregate as its events leave it now (a fresh load, not the warm copy), for a
    /// worker that plans its next commands from it (a bulk job's runner).
    pub async fn read<A>(&self, aggregate_id: &str) -> Result<A, CommandError<A::Error>>
    where
        A: StoredAggregate,
        A::Event: StoredEvent,
    {
        Ok(self.load::<A>(aggregate_id).await?.0)
    }

    /// As `execute`, also answering the aggregate as the command left it (as it was, when the
    /// command was a no-op): for a caller that needs what the aggregate decided, e.g. the
    /// number a register assigned. Without an idempotency key: a replayed answer has no state;
    /// such commands are idempotent by themselves.
    pub async fn execute_and_read<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<(Appended, A), CommandError<A::Error>>
    where
        A: StoredAggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        if context.idempotency_key.is_some() {
            return Err(CommandError::InvalidContext(
                "execute_and_read takes no idempotency key".into(),
            ));
        }
        let metadata = context.metadata(Utc::now())?;
        let (appended, state) = self
            .run::<A>(aggregate_id, command, &metadata, &(), true)
            .await?;
        Ok((appended, state.expect("run answers the state when asked")))
    }

    /// Load, decide, append; on an optimistic-concurrency conflict, reload and decide again.
    ///
    /// At most two statements per command, fewer on a warm aggregate (see `warm`) and under
    /// concurrency: one loads the snapshot and the events after it, one appends, shared with
    /// the commands ready at the same moment (see `group_commit`). postgres-es' commit took four
    /// for the append alone (BEGIN, INSERT, COMMIT, and a lookup of the position it cannot
    /// return); a single multi-row INSERT is atomic on its own and returns the positions.
    async fn run<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
        services: &A::Services,
        answer_state: bool,
    ) -> Result<(Appended, Option<A>), CommandError<A::Error>>
    where
        A: StoredAggregate + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        let metadata = serde_json::to_value(metadata.to_map())
            .map_err(|e| CommandError::Store(Box::new(e)))?;
        let _turn = self.turns.take(A::TYPE, aggregate_id).await;
        let mut attempt = 0;
        let mut trust_warm = true;
        loop {
            let warm = if trust_warm {
                self.warm.get::<A>(aggregate_id)
            } else {
                None
            };
            let from_warm = warm.is_some();
            let (mut aggregate, loaded) = match warm {
                Some(warm) => warm,
                None => self.load::<A>(aggregate_id).await?,
            };
            let sink = EventSink::default();
            let decided = aggregate.handle(command.clone(), services, &sink).await;
            let events = sink.collect().await;
            if from_warm && (decided.is_err() || events.is_empty()) {
                // Only an append proves the state was current: decide again on a fresh load.
                trust_warm = false;
                continue;
            }
            decided.map_err(CommandError::Rejected)?;
            if events.is_empty() {
                let observed = match loaded {
                    0 => None,
                    sequence => Some(self.locate(A::TYPE, aggregate_id, sequence).await?),
                };
                return Ok((
                    Appended {
                        aggregate_id: aggregate_id.to_string(),
                        events: 0,
                        last: None,
                        observed,
                        replayed: false,
                    },
                    answer_state.then_some(aggregate),
                ));
            }
            let count = events.len();
            let last_sequence = loaded + count as i64;
            // The sink has applied the events: this is the state as of `last_sequence`.
            let snapshot = (last_sequence as usize / SNAPSHOT_EVERY
                > loaded as usize / SNAPSHOT_EVERY)
                .then(|| serde_json::to_value(&aggregate).ok())
                .flatten();
            match self
                .append::<A>(aggregate_id, loaded, &events, &metadata)
                .await
            {
                Ok(last) => {
                    let state = answer_state.then(|| aggregate.clone());
                    self.warm.put(aggregate_id, aggregate, last_sequence);
                    if let Some(state) = snapshot {
                        self.save_snapshot::<A>(aggregate_id, last_sequence, state)
                            .await;
                    }
                    metrics::counter!("igny8_events_appended_total", "aggregate" => A::TYPE)
                        .increment(count as u64);
                    return Ok((
                        Appended {
                            aggregate_id: aggregate_id.to_string(),
                            events: count,
                            last: Some(last),
                            observed: None,
                            replayed: false,
                        },
                        state,
                    ));
                }
                Err(Append::Conflict) => {
                    self.warm.forget::<A>(aggregate_id);
                    if from_warm {
                        // A stale entry, not a lost race: it costs no attempt.
                        trust_warm = false;
                        continue;
                    }
                    attempt += 1;
                    if attempt >= self.max_attempts {
                        return Err(CommandError::Conflict {
                            aggregate: A::TYPE,
                            attempts: self.max_attempts,
                        });
                    }
                    tracing::debug!(
                        aggregate = A::TYPE,
                        aggregate_id,
                        attempt,
                        "write conflict, retrying"
                    );
                    tokio::time::sleep(jitter(attempt)).await;
                }
                Err(Append::Failed(e)) => return Err(CommandError::Store(e)),
            }
        }
    }

    /// The aggregate as of its latest event, and that event's sequence (0: no events yet): the
    /// snapshot, if one still deserializes, plus the events after it, read in one statement.
    async fn load<A: StoredAggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<(A, i64), CommandError<A::Error>>
    where
        A::Event: StoredEvent,
    {
        let rows: Vec<(bool, i64, serde_json::Value, String, String)> = sqlx::query_as(
            "WITH snapshot AS (SELECT sequence, payload FROM aggregate_snapshots \
                               WHERE aggregate_type = $1 AND aggregate_id = $2 \
                                 AND state_version = $3) \
             SELECT true, sequence, payload, '', '' FROM snapshot \
             UNION ALL \
             SELECT false, sequence, payload, event_type, event_version FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 \
               AND sequence > coalesce((SELECT sequence FROM snapshot), 0) \
             ORDER BY 1 DESC, 2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(A::STATE_VERSION)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows.into_iter().peekable();
        let (aggregate, sequence) = match rows.next_if(|(is_snapshot, ..)| *is_snapshot) {
            None => (A::default(), 0),
            Some((_, sequence, payload, ..)) => match serde_json::from_value::<A>(payload) {
                Ok(state) => (state, sequence),
                // An older shape of the aggregate: replay from the start instead.
                Err(_) => return self.replay::<A>(aggregate_id).await,
            },
        };
        fold(
            aggregate,
            sequence,
            rows.map(|(_, at, payload, event_type, version)| (at, payload, event_type, version)),
        )
    }

    /// The aggregate from all of its events, ignoring any snapshot.
    async fn replay<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<(A, i64), CommandError<A::Error>>
    where
        A::Event: StoredEvent,
    {
        let rows: Vec<(i64, serde_json::Value, String, String)> = sqlx::query_as(
            "SELECT sequence, payload, event_type, event_version FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_all(&self.pool)
        .await?;
        fold(A::default(), 0, rows)
    }

    /// Appends `events` after sequence `loaded`, with the appends of other commands ready now;
    /// the position of the last.
    async fn append<A: Aggregate>(
        &self,
        aggregate_id: &str,
        loaded: i64,
        events: &[A::Event],
        metadata: &serde_json::Value,
    ) -> Result<LogPosition, Append> {
        let payloads = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Append::Failed(Box::new(e)))?;
        self.writes
            .append(AppendRequest {
                aggregate_type: A::TYPE,
                aggregate_id: aggregate_id.to_string(),
                after: loaded,
                event_types: events.iter().map(DomainEvent::event_type).collect(),
                event_versions: events.iter().map(DomainEvent::event_version).collect(),
                payloads,
                metadata: metadata.clone(),
            })
            .await
    }

    /// Best effort: a snapshot that fails to save only costs the next load some replaying.
    async fn save_snapshot<A: StoredAggregate>(
        &self,
        aggregate_id: &str,
        sequence: i64,
        state: serde_json::Value,
    ) {
        let aggregate_type = A::TYPE;
        let saved = sqlx::query(
            "INSERT INTO aggregate_snapshots \
             (aggregate_type, aggregate_id, sequence, payload, state_version) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE \
             SET sequence = excluded.sequence, payload = excluded.payload, \
                 state_version = excluded.state_version, taken_at = now() \
             WHERE aggregate_snapshots.sequence < excluded.sequence \
                OR aggregate_snapshots.state_version <> excluded.state_version",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(sequence)
        .bind(state)
        .bind(A::STATE_VERSION)
        .execute(&self.pool)
        .await;
        if let Err(error) = saved {
            tracing::warn!(aggregate_type, aggregate_id, %error, "snapshot not saved");
        }
    }

    async fn locate<E>(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<LogPosition, CommandError<E>> {
        let row = sqlx::query(
            "SELECT position, transaction_id FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(sequence)
        .fetch_one(&self.pool)
        .await?;
        Ok(LogPosition {
            transaction_id: row.try_get("transaction_id")?,
            position: row.try_get("position")?,
        })
    }
}

/// Applies stored `(sequence, payload, type, version)` events in order to `aggregate`, which
/// stands at `sequence`; the state and sequence after the last. An event the aggregate cannot
/// read (an unknown type included: its own events decide its state) refuses the command.
fn fold<A: Aggregate>(
    mut aggregate: A,
    mut sequence: i64,
    events: impl IntoIterator<Item = (i64, serde_json::Value, String, String)>,
) -> Result<(A, i64), CommandError<A::Error>>
where
    A::Event: StoredEvent,
{
    for (at, payload, event_type, version) in events {
        let event = match A::Event::read(&event_type, &version, &payload) {
            Ok(Read::Event(event)) => event,
            Ok(Read::Unknown) => {
                return Err(CommandError::Store(StoreError::from(format!(
                    "{} event {at} has a type this build does not know: {event_type}",
                    A::TYPE
                ))))
            }
            Err(reason) => {
                return Err(CommandError::Store(StoreError::from(format!(
                    "{} event {at} ({event_type} v{version}) cannot be read: {reason}",
                    A::TYPE
                ))))
            }
        };
        aggregate.apply(event);
        sequence = at;
    }
    Ok((aggregate, sequence))
}

/// Randomised, growing back-off so that writers who collided do not collide again in lockstep.
fn jitter(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    let spread = Uuid::new_v4().as_u128() as u64 % (base + 1);
    Duration::from_millis(base / 2 + spread)
}
