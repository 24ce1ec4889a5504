//! The batch loop: all handlers share a batch transaction; a handler whose batch fails leaves
//! the group, narrows its batches down to the event it cannot apply and is held there.

use super::checkpoint::{advance, checkpoints};
use super::{Engine, EngineError, EventHandler, EventRef, EVENTS_CHANNEL};
use crate::store::log::{self, RecordedEvent};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many events were applied (0: nothing to do yet).
    Applied(usize),
    /// Another runner holds the handler's lock.
    Locked,
}

impl Engine {
    /// Starts the runner plus the notification listener. They stop when `shutdown` is
    /// cancelled, after finishing the batch in hand; await the returned set to know they have.
    ///
    /// The handlers that answers wait for share a batch transaction because each transaction
    /// costs about eight round trips whatever it carries: one per handler made the projectors
    /// the busiest client of the database under write load (docs/benchmarks/README.md). A
    /// handler no answer waits for (the sealer) runs alone, off that path. A handler whose batch
    /// fails leaves the group for a runner of its own, so it stalls alone. A process manager's
    /// commands go through the bus on their own connections, idempotently, so a batch that
    /// rolls back after issuing them only replays them.
    ///
    /// Runners pace their batches (`min_batch_interval`) except when a caller waits for its
    /// write to show (`wait_for`): then the next batch starts as soon as the one in hand ends.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let (wake_tx, wake_rx) = watch::channel(0u64);
        let mut tasks = JoinSet::new();
        tasks.spawn(listen(self.pool.clone(), wake_tx, shutdown.clone()));
        let (shared, apart): (Vec<_>, Vec<_>) = self
            .handlers
            .iter()
            .cloned()
            .partition(|h| h.answers_wait());
        let groups = std::iter::once(shared).chain(apart.into_iter().map(|h| vec![h]));
        for group in groups.filter(|g| !g.is_empty()) {
            let engine = Arc::clone(self);
            tasks.spawn(engine.run(group, wake_rx.clone(), shutdown.clone()));
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
        // Only the runners answers wait for are hurried; the others keep their pace. The quiet
        // channel's sender lives as long as this loop, so its receiver never fires.
        let quiet = watch::channel(0u64);
        let mut hurry = match members.iter().any(|h| h.answers_wait()) {
            true => self.hurry.subscribe(),
            false => quiet.1.clone(),
        };
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
        // The shortest time between the starts of two batches: the engine's, or longer for a
        // group whose members ask to be paced.
        let pace = members
            .iter()
            .filter_map(|h| h.pace())
            .max()
            .unwrap_or_default()
            .max(self.config.min_batch_interval);
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
                _ = hurry.changed() => { idle = quick; continue; }
                changed = wake.changed() => {
                    if changed.is_ok() { idle = quick; }
                }
                _ = tokio::time::sleep(delay) => {}
            }
            let next = started + pace;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = hurry.changed() => {}
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
}

/// Applies `events` (nothing, when there are none); a failure names the batch's last event.
pub(super) async fn apply(
    handler: &dyn EventHandler,
    conn: &mut PgConnection,
    events: &[RecordedEvent],
) -> Result<(), EngineError> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    handler
        .apply(conn, events)
        .await
        .map_err(|source| EngineError::Handler {
            name: handler.name(),
            event: EventRef {
                position: last.at.position,
                event_type: last.event_type.clone(),
            },
            events: events.len(),
            source,
        })
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
