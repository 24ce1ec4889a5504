//! Rebuilding projections: emptied tables replayed from the log in one transaction each.

use super::runner::apply;
use super::{Engine, EngineError, EventHandler, EventRef};
use crate::store::log::{self, LogPosition, RecordedEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events per `apply` during a rebuild. Large on purpose: the rebuild is one transaction, so
/// every batch that updates a row again leaves a version the transaction cannot clean up;
/// fewer, larger batches keep those chains short.
const REBUILD_BATCH: i64 = 20_000;

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub name: &'static str,
    pub events: u64,
    pub elapsed: Duration,
}

impl Engine {
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
        if let Some(kept) = handlers.iter().find(|h| !h.is_rebuildable()) {
            return Err(EngineError::NotRebuildable(kept.name()));
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
        let indexes = drop_secondary_indexes(&mut tx, handler.tables()).await?;
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
        for definition in &indexes {
            sqlx::query(definition).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE projection_checkpoints SET last_transaction_id = $2, \
             last_position = $3, events_applied = $4, updated_at = now(), \
             stuck_position = NULL, stuck_event_type = NULL, stuck_cause = NULL, \
             stuck_since = NULL WHERE name = $1",
        )
        .bind(name)
        .bind(at.transaction_id)
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
}

/// Drops the secondary indexes of `tables` (not those behind a primary key or a constraint) and
/// returns the statements that make them again. Inside the rebuild's transaction, which already
/// holds the tables' exclusive lock from `reset`'s `TRUNCATE`, this costs readers nothing more,
/// and a rollback brings the indexes back: one sort per index at the end instead of a million
/// index insertions.
async fn drop_secondary_indexes(
    conn: &mut sqlx::PgConnection,
    tables: &[&str],
) -> Result<Vec<String>, EngineError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
         WHERE i.indrelid = ANY($1::text[]::regclass[]) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    for (index, _) in &indexes {
        sqlx::query(&format!("DROP INDEX {index}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(indexes
        .into_iter()
        .map(|(_, definition)| definition)
        .collect())
}
