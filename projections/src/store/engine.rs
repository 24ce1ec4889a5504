//! The projector engine: one loop per projection or process manager, each tailing the global
//! log from its own checkpoint.
//!
//! Each batch runs in one transaction that takes the handler's advisory lock, reads the next
//! events (see `log`), applies them and advances the checkpoint. So a batch is applied wholly or
//! not at all, a crash at any moment loses nothing, and when several `serve` processes share a
//! database exactly one of them applies any given batch: the others find the lock taken and wait.

use crate::store::log::{self, LogError, LogPosition, RecordedEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The channel the events table notifies on (see migrations/0001_event_store.sql).
pub const EVENTS_CHANNEL: &str = "igny8_events";

pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Which events a handler reads, by aggregate type.
#[derive(Debug, Clone, Copy)]
pub enum Consumes {
    /// Every event in the log (e.g. the audit log).
    Everything,
    /// The events of these aggregate types.
    Only(&'static [&'static str]),
}

impl Consumes {
    pub fn includes(self, aggregate_type: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Only(types) => types.contains(&aggregate_type),
        }
    }
}

/// Something that consumes the log: a projection (writes read-model tables in the batch
/// transaction) or a process manager (issues idempotent commands).
///
/// A handler that cannot apply an event (it cannot be decoded, a bug, a constraint) fails its
/// batch. The engine then narrows the batch until the one event is found, applies everything
/// before it, and keeps the handler at that event, visibly (`status`, `/readyz`, a metric and
/// one ERROR line), retrying with back-off: it resumes by itself once a build that can apply
/// the event runs. Every other handler and the write path go on. An event of a type the
/// handler does not know is not a failure: `RecordedEvent::decode` skips it and counts it.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Stable name: the checkpoint key, the advisory-lock key and the `rebuild` argument.
    fn name(&self) -> &'static str;

    /// The events this handler reads. Read-your-writes derives from it which handlers a
    /// command's answer waits for.
    fn consumes(&self) -> Consumes;

    /// For a process manager: the aggregate types of the commands it issues.
    fn emits(&self) -> &'static [&'static str] {
        &[]
    }

    /// Empties the read model before a rebuild.
    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError>;

    /// Whether this handler acts on the world (issues commands) rather than folding into its
    /// own tables. Such a handler is never rebuilt: replaying it could act again, e.g. retry a
    /// grant that was refused at the time.
    fn is_process_manager(&self) -> bool {
        false
    }

    /// Applies a batch, in log order, inside the transaction that will advance the checkpoint.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError>;
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Events per batch transaction.
    pub batch_size: i64,
    /// Longest sleep between looks at the log when no notification arrives.
    pub poll_interval: Duration,
    /// Shortest time between the starts of two batches that were not full. Under a steady
    /// stream of commits this turns one batch transaction per commit into one per interval,
    /// so the projectors leave the database (and the two cores) to the writers; when commits
    /// are further apart than this, it adds no delay at all.
    pub min_batch_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            min_batch_interval: Duration::from_millis(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no projection or process manager is named `{0}`")]
    UnknownHandler(String),
    #[error("`{0}` is a process manager; it is never rebuilt, as replaying it could act again")]
    NotRebuildable(&'static str),
    #[error("the rebuild of `{0}` stopped before the end of the log; its old tables are kept")]
    RebuildInterrupted(&'static str),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("`{name}` cannot apply {event}: {source}")]
    Handler {
        name: &'static str,
        /// The event (or, for a batch of several, the last event) it was applying.
        event: EventRef,
        /// How many events the failed batch held: with one, `event` is the culprit.
        events: usize,
        source: HandlerError,
    },
}

/// Names an event in errors and status: its position and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub position: i64,
    pub event_type: String,
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.event_type, self.position)
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many events were applied (0: nothing to do yet).
    Applied(usize),
    /// Another runner holds the handler's lock.
    Locked,
}

/// A handler's progress, for `/readyz`, `/metrics` and GraphQL.
#[derive(Debug, Clone)]
pub struct HandlerStatus {
    pub name: String,
    pub checkpoint: LogPosition,
    pub events_applied: i64,
    pub updated_at: DateTime<Utc>,
    /// Events in the log after the checkpoint (counted up to `PENDING_COUNT_CAP`).
    pub pending: i64,
    /// Seconds since the oldest event not yet applied was recorded; 0 when caught up.
    pub lag_seconds: f64,
    /// Set while the handler is held at an event it cannot apply.
    pub stuck: Option<Stuck>,
}

/// An event a handler cannot apply, and since when it has been held there.
#[derive(Debug, Clone)]
pub struct Stuck {
    pub event: EventRef,
    pub cause: String,
    pub since: DateTime<Utc>,
}

/// Events per `apply` during a rebuild. Large on purpose: the rebuild is one transaction, so
/// every batch that updates a row again leaves a version the transaction cannot clean up;
/// fewer, larger batches keep those chains short.
const REBUILD_BATCH: i64 = 20_000;

/// Counting pending events costs O(pending); above this the figure only says "a lot".
pub const PENDING_COUNT_CAP: i64 = 100_000;

/// See `Engine::readers_of`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadersOf {
    pub first: Vec<&'static str>,
    pub then: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub name: &'static str,
    pub events: u64,
    pub elapsed: Duration,
}

pub struct Engine {
    pool: PgPool,
    config: EngineConfig,
    handlers: Vec<Arc<dyn EventHandler>>,
    /// Latest checkpoint each handler committed in this process, for read-your-writes waits.
    progress: HashMap<&'static str, watch::Sender<LogPosition>>,
}

impl Engine {
    /// Registers the handlers (creating their checkpoints if new).
    pub async fn new(
        pool: PgPool,
        config: EngineConfig,
        handlers: Vec<Arc<dyn EventHandler>>,
    ) -> Result<Arc<Self>, EngineError> {
        let mut progress = HashMap::new();
        for handler in &handlers {
            sqlx::query(
                "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(handler.name())
            .execute(&pool)
            .await?;
            progress.insert(handler.name(), watch::channel(LogPosition::default()).0);
        }
        Ok(Arc::new(Self {
            pool,
            config,
            handlers,
            progress,
        }))
    }

    pub fn handler_names(&self) -> Vec<&'static str> {
        self.handlers.iter().map(|h| h.name()).collect()
    }

    /// What a command on `aggregate_type` must reach before its answer shows it: `first`, every
    /// handler that reads that type; `then`, the projections that read what the process
    /// managers among them write (see `emits`). Derived from what handlers declare.
    pub fn readers_of(&self, aggregate_type: &str) -> ReadersOf {
        let first: Vec<&'static str> = self
            .handlers
            .iter()
            .filter(|h| h.consumes().includes(aggregate_type))
            .map(|h| h.name())
            .collect();
        let emitted: Vec<&str> = self
            .handlers
            .iter()
            .filter(|h| first.contains(&h.name()))
            .flat_map(|h| h.emits().iter().copied())
            .collect();
        let then = self
            .handlers
            .iter()
            .filter(|h| !h.is_process_manager())
            .filter(|h| emitted.iter().any(|t| h.consumes().includes(t)))
            .map(|h| h.name())
            .collect();
        ReadersOf { first, then }
    }

    /// The handlers that can be rebuilt: projections, not process managers.
    pub fn projection_names(&self) -> Vec<&'static str> {
        self.handlers
            .iter()
            .filter(|h| !h.is_process_manager())
            .map(|h| h.name())
            .collect()
    }

    fn handler(&self, name: &str) -> Result<&Arc<dyn EventHandler>, EngineError> {
        self.handlers
            .iter()
            .find(|h| h.name() == name)
            .ok_or_else(|| EngineError::UnknownHandler(name.to_string()))
    }

    /// Starts the runner plus the notification listener. They stop when `shutdown` is
    /// cancelled, after finishing the batch in hand; await the returned set to know they have.
    ///
    /// All handlers share a batch transaction because each transaction costs about eight
    /// round trips whatever it carries: one per handler made the projectors the busiest client
    /// of the database under write load (docs/benchmarks/README.md). A handler whose batch
    /// fails leaves the group for a runner of its own, so it stalls alone. A process manager's
    /// commands go through the bus on their own connections, idempotently, so a batch that
    /// rolls back after issuing them only replays them.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let (wake_tx, wake_rx) = watch::channel(0u64);
        let mut tasks = JoinSet::new();
        tasks.spawn(listen(self.pool.clone(), wake_tx, shutdown.clone()));
        if !self.handlers.is_empty() {
            let engine = Arc::clone(self);
            tasks.spawn(engine.run(self.handlers.clone(), wake_rx, shutdown));
        }
        tasks
    }

    /// Boxed because a runner may start another (for a projection that leaves its group).
    fn run(
        self: Arc<Self>,
        members: Vec<Arc<dyn EventHandler>>,
        wake: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(self.run_group(members, wake, shutdown))
    }

    async fn run_group(
        self: Arc<Self>,
        mut members: Vec<Arc<dyn EventHandler>>,
        mut wake: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) {
        let names = members
            .iter()
            .map(|h| h.name())
            .collect::<Vec<_>>()
            .join(",");
        let mut ejected = JoinSet::new();
        // After a wake-up the new events may still sit behind an older open transaction, so
        // the next looks come quickly and then back off towards the poll interval.
        let quick = Duration::from_millis(2);
        let mut idle = quick;
        let mut failures = 0u32;
        // A lone handler whose batch fails narrows its batches until the failing event is
        // found; `reported` remembers the stuck event already logged, so it is logged once.
        let mut limit = self.config.batch_size;
        let mut reported: Option<i64> = None;
        while !shutdown.is_cancelled() && !members.is_empty() {
            let started = tokio::time::Instant::now();
            let delay = match self.run_batch_of(&members, limit).await {
                Ok(Batch::Applied(n)) if n as i64 >= limit => {
                    limit = (limit * 2).min(self.config.batch_size);
                    continue;
                }
                Ok(Batch::Applied(n)) => {
                    failures = 0;
                    limit = (limit * 2).min(self.config.batch_size);
                    idle = if n > 0 {
                        quick
                    } else {
                        (idle * 2).min(self.config.poll_interval)
                    };
                    idle
                }
                Ok(Batch::Locked) => self.config.poll_interval,
                Err(EngineError::Handler { name, .. }) if members.len() > 1 => {
                    tracing::warn!(
                        projection = name,
                        "batch failed; it goes on in a runner of its own"
                    );
                    let (alone, rest) = members.into_iter().partition(|h| h.name() == name);
                    members = rest;
                    let engine = Arc::clone(&self);
                    ejected.spawn(engine.run(alone, wake.clone(), shutdown.clone()));
                    continue;
                }
                Err(EngineError::Handler { events, .. }) if events > 1 => {
                    // Apply what comes before the event that fails, and find that event.
                    limit = (events as i64 / 2).max(1);
                    continue;
                }
                Err(error) => {
                    // Retried, never skipped: the handler stays at the event (and `/readyz`
                    // says so) rather than silently diverging from the log.
                    failures += 1;
                    match &error {
                        EngineError::Handler {
                            name,
                            event,
                            source,
                            ..
                        } => {
                            if reported != Some(event.position) {
                                reported = Some(event.position);
                                tracing::error!(
                                    projection = name,
                                    position = event.position,
                                    event_type = %event.event_type,
                                    cause = %source,
                                    "cannot apply an event; the projection stops at it and retries"
                                );
                            }
                            let cause = source.to_string();
                            if let Err(e) = self.hold(name, event, &cause).await {
                                tracing::warn!(projection = name, error = %e, "cannot record the stuck event");
                            }
                        }
                        _ => {
                            tracing::error!(projection = names, %error, failures, "batch failed; will retry")
                        }
                    }
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(8)));
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff.min(Duration::from_secs(30))) => continue,
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = wake.changed() => {
                    if changed.is_ok() { idle = quick; }
                }
                _ = tokio::time::sleep(delay) => {}
            }
            let next = started + self.config.min_batch_interval;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(next) => {}
            }
        }
        while ejected.join_next().await.is_some() {}
        tracing::info!(projection = names, "runner stopped");
    }

    /// Records that `name` is held at `event`; cleared when its checkpoint next moves.
    async fn hold(&self, name: &str, event: &EventRef, cause: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE projection_checkpoints SET stuck_position = $2, stuck_event_type = $3, \
             stuck_cause = $4, \
             stuck_since = CASE WHEN stuck_position = $2 THEN stuck_since ELSE now() END \
             WHERE name = $1",
        )
        .bind(name)
        .bind(event.position)
        .bind(&event.event_type)
        .bind(cause)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Applies at most one batch for `handler`.
    pub async fn run_batch(&self, handler: &Arc<dyn EventHandler>) -> Result<Batch, EngineError> {
        self.run_batch_of(std::slice::from_ref(handler), self.config.batch_size)
            .await
    }

    /// Applies at most one batch for each of `handlers`, all in one transaction: each gets the
    /// events after its own checkpoint, and every checkpoint moves with its projection's rows.
    async fn run_batch_of(
        &self,
        handlers: &[Arc<dyn EventHandler>],
        limit: i64,
    ) -> Result<Batch, EngineError> {
        let names: Vec<&str> = handlers.iter().map(|h| h.name()).collect();
        // Most looks under concurrent writers find nothing new yet (the commit that woke us is
        // still behind an open transaction, or another runner took it). One statement says
        // so; the batch transaction below costs several round trips before it knows.
        if !self.has_visible_events(&names).await? {
            return Ok(Batch::Applied(0));
        }
        let mut tx = self.pool.begin().await?;
        // Checkpoints are read in a later statement than the locks are taken, so none can be
        // one that another runner moved in between.
        let locked: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM unnest($1::text[]) AS name \
             WHERE pg_try_advisory_xact_lock(projection_lock_key(name))",
        )
        .bind(&names)
        .fetch_all(&mut *tx)
        .await?;
        if locked.is_empty() {
            return Ok(Batch::Locked);
        }
        let checkpoints = checkpoints(&mut *tx, &locked).await?;
        let Some(from) = checkpoints.iter().map(|(_, at)| *at).min() else {
            return Ok(Batch::Locked);
        };
        let events = log::read_after(&mut tx, from, limit).await?;
        if events.is_empty() {
            return Ok(Batch::Applied(0));
        }
        let mut advanced = Vec::new();
        for handler in handlers {
            let Some((_, at)) = checkpoints.iter().find(|(name, _)| name == handler.name()) else {
                continue;
            };
            let mine = &events[events.partition_point(|e| e.at <= *at)..];
            let Some(last) = mine.last() else { continue };
            apply(handler.as_ref(), &mut tx, mine).await?;
            advanced.push((handler.name(), last.at, mine.len()));
        }
        advance(&mut tx, &advanced).await?;
        tx.commit().await?;
        for (name, last, applied) in advanced {
            self.publish(name, last);
            metrics::counter!("igny8_projection_events_applied_total", "projection" => name)
                .increment(applied as u64);
        }
        Ok(Batch::Applied(events.len()))
    }

    /// Whether events after any of the named checkpoints are visible to projectors now.
    async fn has_visible_events(&self, names: &[&str]) -> Result<bool, EngineError> {
        Ok(sqlx::query_scalar(
            // The first event after the checkpoint, found by the log-order index (a join on
            // the row comparison would scan the whole log), is visible iff the rest may be.
            "SELECT EXISTS (SELECT 1 FROM projection_checkpoints c CROSS JOIN LATERAL \
               (SELECT e.transaction_id FROM events e \
                 WHERE (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position) \
                 ORDER BY e.transaction_id, e.position LIMIT 1) first \
             WHERE c.name = ANY($1) AND first.transaction_id < pg_snapshot_xmin(pg_current_snapshot()))",
        )
        .bind(names)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The newest event committed so far, in projector order: what "caught up" means now.
    pub async fn head(&self) -> Result<LogPosition, EngineError> {
        let row = sqlx::query(
            "SELECT transaction_id::text AS xid, position FROM events \
             ORDER BY transaction_id DESC, position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(LogPosition::default()),
            Some(row) => Ok(LogPosition {
                transaction_id: log::parse_xid(row.try_get("xid")?)?,
                position: row.try_get("position")?,
            }),
        }
    }

    /// Applies batches until the handler has applied every event committed before the call.
    /// Events committed but still hidden behind an older open transaction are waited for, not
    /// skipped; a batch that another runner holds is left to that runner.
    pub async fn catch_up(&self, name: &str) -> Result<u64, EngineError> {
        let handler = self.handler(name)?;
        let target = self.head().await?;
        let mut total = 0u64;
        while checkpoint(&self.pool, handler.name()).await? < target {
            match self.run_batch(handler).await? {
                Batch::Applied(n) if n > 0 => total += n as u64,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        Ok(total)
    }

    /// Empties the handler's read model and replays the log into it, up to every event
    /// committed before the call, in one transaction: readers see the old tables until the new
    /// ones are complete. Waits for a running batch (the handler's lock) rather than racing it.
    pub async fn rebuild(&self, name: &str) -> Result<RebuildReport, EngineError> {
        let mut reports = self.rebuild_many(&[name]).await?;
        Ok(reports.remove(0))
    }

    /// Rebuilds several projections at once (see `rebuild`). The log is read and decoded once
    /// and handed to every projection, each applying it in its own transaction, concurrently:
    /// the whole takes about as long as the slowest projection rather than the sum of all.
    pub async fn rebuild_many(&self, names: &[&str]) -> Result<Vec<RebuildReport>, EngineError> {
        let handlers = names
            .iter()
            .map(|name| self.handler(name))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(manager) = handlers.iter().find(|h| h.is_process_manager()) {
            return Err(EngineError::NotRebuildable(manager.name()));
        }
        let target = self.head().await?;
        let (senders, receivers): (Vec<_>, Vec<_>) = handlers
            .iter()
            // Two batches in flight per projection: reading overlaps applying, memory stays
            // bounded by the slowest projection.
            .map(|_| mpsc::channel::<Arc<Vec<RecordedEvent>>>(2))
            .unzip();
        let appliers = handlers
            .iter()
            .zip(receivers)
            .map(|(handler, batches)| self.rebuild_one(handler.as_ref(), target, batches));
        // Each projection commits or fails on its own: one that cannot apply an event keeps its
        // old tables without holding back the others.
        let (read, rebuilt) = tokio::join!(
            self.read_for_rebuild(target, senders),
            futures::future::join_all(appliers)
        );
        // A reader failure is the cause of the appliers' "interrupted".
        read?;
        rebuilt.into_iter().collect()
    }

    /// Reads the log up to `target` once, handing each batch to every rebuilding projection.
    async fn read_for_rebuild(
        &self,
        target: LogPosition,
        projections: Vec<mpsc::Sender<Arc<Vec<RecordedEvent>>>>,
    ) -> Result<(), EngineError> {
        let mut conn = self.pool.acquire().await?;
        let mut from = LogPosition::default();
        while from < target && projections.iter().any(|p| !p.is_closed()) {
            let events = log::read_after(&mut conn, from, REBUILD_BATCH).await?;
            let Some(last) = events.last().map(|e| e.at) else {
                // Committed events are still hidden behind an older open transaction.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let batch = Arc::new(events);
            for projection in &projections {
                // A projection that failed has hung up; its own error says why.
                let _ = projection.send(Arc::clone(&batch)).await;
            }
            from = last;
        }
        Ok(())
    }

    /// One projection's rebuild transaction, fed by `read_for_rebuild`.
    async fn rebuild_one(
        &self,
        handler: &dyn EventHandler,
        target: LogPosition,
        mut batches: mpsc::Receiver<Arc<Vec<RecordedEvent>>>,
    ) -> Result<RebuildReport, EngineError> {
        let started = Instant::now();
        let name = handler.name();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(projection_lock_key($1))")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        handler
            .reset(&mut tx)
            .await
            .map_err(|source| EngineError::Handler {
                name,
                event: EventRef {
                    position: 0,
                    event_type: "(reset)".into(),
                },
                events: 0,
                source,
            })?;
        let mut at = LogPosition::default();
        let mut total = 0u64;
        while let Some(events) = batches.recv().await {
            apply(handler, &mut tx, &events).await?;
            total += events.len() as u64;
            at = events.last().map_or(at, |e| e.at);
        }
        if at < target {
            // The reader stopped early: keep the old tables rather than commit half of them.
            return Err(EngineError::RebuildInterrupted(name));
        }
        sqlx::query(
            "UPDATE projection_checkpoints SET last_transaction_id = $2::text::xid8, \
             last_position = $3, events_applied = $4, updated_at = now(), \
             stuck_position = NULL, stuck_event_type = NULL, stuck_cause = NULL, \
             stuck_since = NULL WHERE name = $1",
        )
        .bind(name)
        .bind(at.transaction_id.to_string())
        .bind(at.position)
        .bind(total as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.publish(name, at);
        Ok(RebuildReport {
            name,
            events: total,
            elapsed: started.elapsed(),
        })
    }

    /// Follows the checkpoints this process commits for `name`.
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<LogPosition>> {
        self.progress.get(name).map(watch::Sender::subscribe)
    }

    fn publish(&self, name: &str, at: LogPosition) {
        if let Some(sender) = self.progress.get(name) {
            sender.send_if_modified(|current| {
                let newer = at != *current;
                *current = at;
                newer
            });
        }
    }

    /// Waits until every named handler has applied the event at `at`, or `timeout` passes.
    /// Returns whether they all did. Progress made by another node is seen by polling.
    pub async fn wait_for(&self, names: &[&str], at: LogPosition, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            let Some(sender) = self.progress.get(name) else {
                continue;
            };
            let mut local = sender.subscribe();
            loop {
                if *local.borrow_and_update() >= at {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return false,
                    _ = local.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(25)) => {
                        if matches!(checkpoint(&self.pool, name).await, Ok(stored) if stored >= at) {
                            break;
                        }
                    }
                }
            }
        }
        true
    }

    /// Every registered handler's progress and lag.
    pub async fn status(&self) -> Result<Vec<HandlerStatus>, EngineError> {
        let rows = sqlx::query(
            "SELECT c.name, c.last_transaction_id::text AS xid, c.last_position, \
                    c.events_applied, c.updated_at, c.stuck_position, c.stuck_event_type, \
                    c.stuck_cause, c.stuck_since, \
                    (SELECT count(*) FROM (SELECT 1 FROM events e \
                       WHERE (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position) \
                       LIMIT $1) pending) AS pending, \
                    (SELECT e.recorded_at FROM events e \
                       WHERE (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position) \
                       ORDER BY e.transaction_id, e.position LIMIT 1) AS oldest_pending \
             FROM projection_checkpoints c WHERE c.name = ANY($2) ORDER BY c.name",
        )
        .bind(PENDING_COUNT_CAP)
        .bind(self.handler_names())
        .fetch_all(&self.pool)
        .await?;
        let now = Utc::now();
        rows.iter()
            .map(|row| {
                let oldest: Option<DateTime<Utc>> = row.try_get("oldest_pending")?;
                let stuck = match row.try_get::<Option<i64>, _>("stuck_position")? {
                    None => None,
                    Some(position) => Some(Stuck {
                        event: EventRef {
                            position,
                            event_type: row
                                .try_get::<Option<String>, _>("stuck_event_type")?
                                .unwrap_or_default(),
                        },
                        cause: row
                            .try_get::<Option<String>, _>("stuck_cause")?
                            .unwrap_or_default(),
                        since: row
                            .try_get::<Option<DateTime<Utc>>, _>("stuck_since")?
                            .unwrap_or(now),
                    }),
                };
                Ok(HandlerStatus {
                    name: row.try_get("name")?,
                    checkpoint: LogPosition {
                        transaction_id: log::parse_xid(row.try_get("xid")?)?,
                        position: row.try_get("last_position")?,
                    },
                    events_applied: row.try_get("events_applied")?,
                    updated_at: row.try_get("updated_at")?,
                    pending: row.try_get("pending")?,
                    lag_seconds: oldest
                        .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
                    stuck,
                })
            })
            .collect()
    }
}

async fn apply(
    handler: &dyn EventHandler,
    conn: &mut PgConnection,
    events: &[RecordedEvent],
) -> Result<(), EngineError> {
    handler
        .apply(conn, events)
        .await
        .map_err(|source| EngineError::Handler {
            name: handler.name(),
            event: events.last().map_or(
                EventRef {
                    position: 0,
                    event_type: String::new(),
                },
                |e| EventRef {
                    position: e.at.position,
                    event_type: e.event_type.clone(),
                },
            ),
            events: events.len(),
            source,
        })
}

/// One handler's stored checkpoint.
async fn checkpoint(pool: &PgPool, name: &str) -> Result<LogPosition, EngineError> {
    let stored = checkpoints(pool, &[name.to_string()]).await?;
    Ok(stored.first().map(|(_, at)| *at).unwrap_or_default())
}

async fn checkpoints<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    names: &[String],
) -> Result<Vec<(String, LogPosition)>, EngineError> {
    let rows = sqlx::query(
        "SELECT name, last_transaction_id::text AS xid, last_position \
         FROM projection_checkpoints WHERE name = ANY($1)",
    )
    .bind(names)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            let at = LogPosition {
                transaction_id: log::parse_xid(row.try_get("xid")?)?,
                position: row.try_get("last_position")?,
            };
            Ok((row.try_get("name")?, at))
        })
        .collect()
}

/// Moves each checkpoint to the last event its handler applied, in one statement.
async fn advance(
    conn: &mut PgConnection,
    advanced: &[(&'static str, LogPosition, usize)],
) -> Result<(), EngineError> {
    let names: Vec<&str> = advanced.iter().map(|(name, ..)| *name).collect();
    let xids: Vec<String> = advanced
        .iter()
        .map(|(_, at, _)| at.transaction_id.to_string())
        .collect();
    let positions: Vec<i64> = advanced.iter().map(|(_, at, _)| at.position).collect();
    let applied: Vec<i64> = advanced.iter().map(|(.., n)| *n as i64).collect();
    sqlx::query(
        "UPDATE projection_checkpoints c SET last_transaction_id = a.xid::xid8, \
         last_position = a.position, events_applied = c.events_applied + a.applied, \
         updated_at = now(), stuck_position = NULL, stuck_event_type = NULL, \
         stuck_cause = NULL, stuck_since = NULL \
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
              AS a(name, xid, position, applied) \
         WHERE c.name = a.name",
    )
    .bind(&names)
    .bind(&xids)
    .bind(&positions)
    .bind(&applied)
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns notifications on the events channel into wake-ups for every runner. If the listening
/// connection drops, sqlx reconnects; runners meanwhile fall back to polling.
async fn listen(pool: PgPool, wake: watch::Sender<u64>, shutdown: CancellationToken) {
    let mut listener = loop {
        let attempt = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(EVENTS_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for new events; polling meanwhile");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            received = listener.recv() => match received {
                Ok(_) => { wake.send_modify(|n| *n = n.wrapping_add(1)); }
                Err(error) => {
                    tracing::warn!(%error, "event notifications interrupted");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
