//! The projector engine: one loop per projection or process manager, each tailing the global
//! log from its own checkpoint.
//!
//! Each batch runs in one transaction that takes the handler's advisory lock, reads the next
//! events (see `log`), applies them and advances the checkpoint. So a batch is applied wholly or
//! not at all, a crash at any moment loses nothing, and when several `serve` processes share a
//! database exactly one of them applies any given batch: the others find the lock taken and wait.
//!
//! In parts: `handler` (what a handler declares), `process_manager` (handlers that issue
//! commands), `runner` (the batch loop, its narrowing on a
//! failure and its wake-ups), `rebuild`, `status` (progress, lag, stuck events) and
//! `checkpoint` (where each handler stands, in the database).

mod checkpoint;
mod handler;
mod process_manager;
mod rebuild;
mod runner;
mod status;

pub use handler::{Consumes, EventHandler, EventRef, HandlerError};
pub use process_manager::{reaction_to, step, Managed, ProcessManager, Refusal};
pub use rebuild::RebuildReport;
pub use runner::Batch;
pub use status::{HandlerStatus, Lag, Stuck, PENDING_COUNT_CAP};

use crate::store::log::{LogError, LogPosition};
use checkpoint::checkpoint;
use sqlx::PgPool;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The channel the events table notifies on (see migrations/0001_event_store.sql).
pub const EVENTS_CHANNEL: &str = "igny8_events";

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
    #[error(
        "`{0}` is never rebuilt: a process manager could act again, and the seal chain is evidence"
    )]
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

/// See `Engine::readers_of`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadersOf {
    pub first: Vec<&'static str>,
    pub then: Vec<&'static str>,
}

pub struct Engine {
    pool: PgPool,
    config: EngineConfig,
    handlers: Vec<Arc<dyn EventHandler>>,
    /// Latest checkpoint each handler committed in this process, for read-your-writes waits.
    progress: HashMap<&'static str, watch::Sender<LogPosition>>,
    /// Bumped when a caller starts waiting for its write: the runners then look at the log at
    /// once instead of sleeping out their pacing (see `runner`).
    hurry: watch::Sender<u64>,
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
            hurry: watch::channel(0).0,
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
            .filter(|h| h.answers_wait() && h.consumes().includes(aggregate_type))
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
            .filter(|h| !h.is_process_manager() && h.answers_wait())
            .filter(|h| emitted.iter().any(|t| h.consumes().includes(t)))
            .map(|h| h.name())
            .collect();
        ReadersOf { first, then }
    }

    /// The handlers that can be rebuilt: projections, not process managers nor the sealer.
    pub fn projection_names(&self) -> Vec<&'static str> {
        self.handlers
            .iter()
            .filter(|h| h.is_rebuildable())
            .map(|h| h.name())
            .collect()
    }

    fn handler(&self, name: &str) -> Result<&Arc<dyn EventHandler>, EngineError> {
        self.handlers
            .iter()
            .find(|h| h.name() == name)
            .ok_or_else(|| EngineError::UnknownHandler(name.to_string()))
    }

    /// The newest event committed so far, in projector order: what "caught up" means now.
    pub async fn head(&self) -> Result<LogPosition, EngineError> {
        let row = sqlx::query(
            "SELECT transaction_id, position FROM events \
             ORDER BY transaction_id DESC, position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(LogPosition::default()),
            Some(row) => Ok(LogPosition {
                transaction_id: row.try_get("transaction_id")?,
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
                self.hurry.send_modify(|n| *n = n.wrapping_add(1));
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
}
