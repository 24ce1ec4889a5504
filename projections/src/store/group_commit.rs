//! Group commit: the appends of concurrent commands written together, in one statement.
//!
//! Each command is decided on its own (load, handle) and then hands its events here. An append
//! that arrives while no write is in flight is written at once, alone, so a lone command waits
//! for nothing. Appends that arrive while writes are in flight queue up and go together in the
//! next one: one multi-row INSERT, one implicit transaction, one WAL flush for all of them.
//! A single INSERT is atomic, so a batch is in the log wholly or not at all: no command is ever
//! half in it, and a crash before its commit leaves none of it.
//!
//! Optimistic concurrency stays per command: each names the sequence it follows, and the unique
//! key on (aggregate type, id, sequence) refuses a stale one. That refusal fails the whole
//! statement, so the batch is then sorted out: the commands whose next sequence now exists
//! (another process appended first) are answered `Conflict` and decided again by their callers,
//! and the rest are written again without them. A statement the server rejects for another
//! reason is retried one command at a time, so only the command at fault fails. An error
//! that leaves the outcome unknown (a connection cut mid-commit) is reported to every command
//! of the batch and never retried here: the batch may have committed.
//!
//! Writes run in tasks of their own, not in the callers' futures: a caller that gives up (its
//! client disconnected) cannot cancel the write of the others in its batch.

use crate::store::bus::StoreError;
use crate::store::log::LogPosition;
use serde_json::Value;
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// How many batch writes may be in flight at once. Two keep the database busy while the next
/// batch gathers; more only split the queue into smaller batches.
const MAX_WRITES: usize = 2;
/// Events per statement at most; a longer queue goes in several.
const MAX_BATCH_EVENTS: usize = 1_000;

/// The events one command decided, to be appended after `after`, its aggregate's latest sequence
/// when it was decided.
pub(crate) struct AppendRequest {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub after: i64,
    pub event_types: Vec<String>,
    pub event_versions: Vec<String>,
    pub payloads: Vec<Value>,
    pub metadata: Value,
}

/// Why an append did not happen.
pub(crate) enum Append {
    /// Another writer appended at the same sequence first.
    Conflict,
    Failed(StoreError),
}

/// Batches written and commands they held, since the bus was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    pub batches: u64,
    pub commands: u64,
}

#[derive(Clone)]
pub(crate) struct GroupCommit(Arc<Shared>);

struct Shared {
    pool: PgPool,
    queue: Mutex<Queue>,
    batches: AtomicU64,
    commands: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    writes: usize,
}

struct Waiting {
    request: AppendRequest,
    reply: oneshot::Sender<Result<LogPosition, Append>>,
}

type Outcome = Result<LogPosition, Append>;

impl GroupCommit {
    pub fn new(pool: PgPool) -> Self {
        Self(Arc::new(Shared {
            pool,
            queue: Mutex::new(Queue::default()),
            batches: AtomicU64::new(0),
            commands: AtomicU64::new(0),
        }))
    }

    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.0.batches.load(Ordering::Relaxed),
            commands: self.0.commands.load(Ordering::Relaxed),
        }
    }

    /// Appends `request` with whatever else is ready; the position of its last event.
    pub async fn append(&self, request: AppendRequest) -> Outcome {
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = self.queue();
            queue.waiting.push(Waiting { request, reply });
            self.start_write(&mut queue);
        }
        answer.await.unwrap_or_else(|_| {
            Err(Append::Failed(
                "the batch write stopped before answering".into(),
            ))
        })
    }

    /// Starts a writer when work waits and fewer than `MAX_WRITES` run.
    fn start_write(&self, queue: &mut Queue) {
        if queue.waiting.is_empty() || queue.writes >= MAX_WRITES {
            return;
        }
        // No runtime: it is shutting down, and so are the callers waiting for their answers.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        queue.writes += 1;
        let writer = Writer(self.clone());
        runtime.spawn(async move { writer.drain().await });
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Every update leaves the queue consistent, so a panic elsewhere cannot poison it.
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next batch: the oldest waiting appends, up to `MAX_BATCH_EVENTS` events (at least one
    /// append, however long).
    fn next_batch(&self) -> Vec<Waiting> {
        let mut queue = self.queue();
        let mut events = 0;
        let take = queue
            .waiting
            .iter()
            .take_while(|w| {
                events += w.request.payloads.len();
                events <= MAX_BATCH_EVENTS
            })
            .count()
            .max(1)
            .min(queue.waiting.len());
        queue.waiting.drain(..take).collect()
    }

    /// Writes `batch`, answering each append in it.
    async fn write(&self, mut batch: Vec<Waiting>) {
        self.0.batches.fetch_add(1, Ordering::Relaxed);
        self.0
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        metrics::histogram!("igny8_group_commit_commands").record(batch.len() as f64);
        loop {
            let failure = match insert(&self.0.pool, &batch).await {
                Ok(positions) => {
                    for (waiting, at) in batch.into_iter().zip(positions) {
                        let _ = waiting.reply.send(at);
                    }
                    return;
                }
                Err(failure) => failure,
            };
            let rejected = matches!(failure, sqlx::Error::Database(_));
            if batch.len() == 1 || !rejected {
                // One command's own outcome, or an outcome nobody knows: answered as it is.
                let conflict = is_unique_violation(&failure);
                let message = failure.to_string();
                let mut failure = Some(failure);
                for waiting in batch {
                    let outcome = match (conflict, failure.take()) {
                        (true, _) => Append::Conflict,
                        (false, Some(first)) => Append::Failed(Box::new(first)),
                        (false, None) => Append::Failed(message.clone().into()),
                    };
                    let _ = waiting.reply.send(Err(outcome));
                }
                return;
            }
            if !is_unique_violation(&failure) {
                return self.write_one_by_one(batch).await;
            }
            match stale(&self.0.pool, &batch).await {
                Ok(stale) if !stale.is_empty() => {
                    let (lost, rest): (Vec<_>, Vec<_>) = batch
                        .into_iter()
                        .enumerate()
                        .partition(|(n, _)| stale.contains(n));
                    for (_, waiting) in lost {
                        let _ = waiting.reply.send(Err(Append::Conflict));
                    }
                    batch = rest.into_iter().map(|(_, w)| w).collect();
                    if batch.is_empty() {
                        return;
                    }
                }
                // Two appends of the batch at one sequence (a caller gave up its turn and the
                // next command on the aggregate came while it waited): one by one.
                Ok(_) => return self.write_one_by_one(batch).await,
                Err(e) => {
                    let failure = e.to_string();
                    for waiting in batch {
                        let _ = waiting
                            .reply
                            .send(Err(Append::Failed(failure.clone().into())));
                    }
                    return;
                }
            }
        }
    }

    async fn write_one_by_one(&self, batch: Vec<Waiting>) {
        for waiting in batch {
            let outcome = match insert(&self.0.pool, std::slice::from_ref(&waiting)).await {
                Ok(mut positions) => positions.remove(0),
                Err(e) if is_unique_violation(&e) => Err(Append::Conflict),
                Err(e) => Err(Append::Failed(Box::new(e))),
            };
            let _ = waiting.reply.send(outcome);
        }
    }
}

/// A running batch writer. Dropping it (when the queue is empty, or on a panic) gives its slot
/// back and, should work have arrived meanwhile, starts another: checking for work and leaving
/// happen under one lock, so no append is ever left waiting with no writer.
struct Writer(GroupCommit);

impl Writer {
    async fn drain(&self) {
        loop {
            let batch = self.0.next_batch();
            if batch.is_empty() {
                return;
            }
            self.0.write(batch).await;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut queue = self.0.queue();
        queue.writes -= 1;
        self.0.start_write(&mut queue);
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Appends every command of `batch` in one statement: for each, the position of its last event.
async fn insert(pool: &PgPool, batch: &[Waiting]) -> Result<Vec<Outcome>, sqlx::Error> {
    let events: usize = batch.iter().map(|w| w.request.payloads.len()).sum();
    let mut types = Vec::with_capacity(events);
    let mut ids = Vec::with_capacity(events);
    let mut sequences = Vec::with_capacity(events);
    let mut event_types = Vec::with_capacity(events);
    let mut versions = Vec::with_capacity(events);
    let mut payloads = Vec::with_capacity(events);
    let mut metadata = Vec::with_capacity(events);
    for Waiting { request, .. } in batch {
        for n in 0..request.payloads.len() {
            types.push(request.aggregate_type);
            ids.push(request.aggregate_id.as_str());
            sequences.push(request.after + 1 + n as i64);
            event_types.push(request.event_types[n].as_str());
            versions.push(request.event_versions[n].as_str());
            payloads.push(&request.payloads[n]);
            metadata.push(&request.metadata);
        }
    }
    // Into the table and columns postgres-es defines; one statement is its own transaction.
    let rows = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                             event_version, payload, metadata) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
                              $6::jsonb[], $7::jsonb[]) \
         RETURNING aggregate_type, aggregate_id, position, transaction_id",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&sequences)
    .bind(&event_types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .fetch_all(pool)
    .await?;
    let index: HashMap<(&str, &str), usize> = batch
        .iter()
        .enumerate()
        .map(|(n, w)| {
            let request = &w.request;
            ((request.aggregate_type, request.aggregate_id.as_str()), n)
        })
        .collect();
    let mut last: Vec<Option<LogPosition>> = vec![None; batch.len()];
    for row in &rows {
        let aggregate_type: &str = row.try_get("aggregate_type")?;
        let aggregate_id: &str = row.try_get("aggregate_id")?;
        let at = LogPosition {
            transaction_id: row.try_get("transaction_id")?,
            position: row.try_get("position")?,
        };
        if let Some(&n) = index.get(&(aggregate_type, aggregate_id)) {
            last[n] = last[n].max(Some(at));
        }
    }
    Ok(last
        .into_iter()
        .map(|at| at.ok_or_else(|| Append::Failed("the append returned no position".into())))
        .collect())
}

/// The commands of `batch` whose next sequence another writer has taken: those lost the race.
/// Every writer appends right after the latest sequence, so if any of a command's sequences is
/// taken, its first one is.
async fn stale(pool: &PgPool, batch: &[Waiting]) -> Result<Vec<usize>, sqlx::Error> {
    let types: Vec<&str> = batch.iter().map(|w| w.request.aggregate_type).collect();
    let ids: Vec<&str> = batch
        .iter()
        .map(|w| w.request.aggregate_id.as_str())
        .collect();
    let next: Vec<i64> = batch.iter().map(|w| w.request.after + 1).collect();
    let taken: Vec<i64> = sqlx::query_scalar(
        "SELECT r.n FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY \
                         AS r(aggregate_type, aggregate_id, sequence, n) \
         WHERE EXISTS (SELECT 1 FROM events e WHERE e.aggregate_type = r.aggregate_type \
                         AND e.aggregate_id = r.aggregate_id AND e.sequence = r.sequence)",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&next)
    .fetch_all(pool)
    .await?;
    Ok(taken.into_iter().map(|n| n as usize - 1).collect())
}
