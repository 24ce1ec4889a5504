//! Every aggregate's state at every [`EVERY`]th version, kept so time travel to any moment
//! folds at most `EVERY - 1` events after the nearest one, not the whole history before it.
//!
//! Derived from the log by a handler on the projector engine, like any read model: after
//! commit, gap-safe, rebuildable, never written by commands. Each state is folded from the one
//! before it and the events between, through the aggregate's own `apply` (its chronicle). A
//! stretch a fold cannot read (an event this build does not know) gets no state: time travel
//! then folds, and reports, that event itself.

use super::history::{fold_range, Chronicle, Chronicles, HistoryError};
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::time::Duration;

pub const NAME: &str = "history_snapshots";

/// A state is kept after every this many events of an aggregate.
pub const EVERY: i64 = 1024;

pub struct HistorySnapshots {
    pub chronicles: Chronicles,
}

#[async_trait]
impl EventHandler for HistorySnapshots {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Everything
    }

    /// No command's answer shows a history snapshot.
    fn answers_wait(&self) -> bool {
        false
    }

    /// Few, large batches: at most one aggregate in `EVERY` events needs a fold.
    fn pace(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE history_snapshots")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events.iter().filter(|e| e.sequence % EVERY == 0) {
            if let Ok(chronicle) = self.chronicles.get(&event.aggregate_type) {
                keep(conn, chronicle, &event.aggregate_id, event.sequence).await?;
            }
        }
        Ok(())
    }
}

/// Keeps the aggregate's state after `sequence`, folded from its latest history snapshot
/// before it (or from the start).
async fn keep(
    conn: &mut PgConnection,
    chronicle: &dyn Chronicle,
    aggregate_id: &str,
    sequence: i64,
) -> Result<(), HandlerError> {
    let aggregate_type = chronicle.aggregate_type();
    let previous: Option<(i64, Value, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT sequence, state, occurred_through FROM history_snapshots \
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND state_version = $3 \
           AND sequence < $4 \
         ORDER BY sequence DESC LIMIT 1",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(chronicle.state_version())
    .bind(sequence)
    .fetch_optional(&mut *conn)
    .await?;
    let (from, state, occurred_through) = match previous {
        Some((from, state, occurred)) => (from, Some(state), occurred),
        None => (0, None, Some(DateTime::<Utc>::MIN_UTC)),
    };
    let folded = async {
        let mut replay = chronicle.start(state)?;
        let folded = fold_range(
            conn,
            chronicle,
            replay.as_mut(),
            aggregate_id,
            (from, sequence),
            None,
        )
        .await?;
        Ok::<_, HistoryError>((replay.snapshot(), folded))
    }
    .await;
    let (state, folded) = match folded {
        Ok(done) => done,
        Err(error @ (HistoryError::Database(_) | HistoryError::Log(_))) => return Err(error.into()),
        Err(unreadable) => {
            tracing::warn!(aggregate_type, aggregate_id, sequence, error = %unreadable,
                "no history snapshot here: the events before it cannot be folded");
            return Ok(());
        }
    };
    let occurred_through = occurred_through
        .zip(folded.occurred_through)
        .map(|(a, b)| a.max(b));
    sqlx::query(
        "INSERT INTO history_snapshots \
         (aggregate_type, aggregate_id, state_version, sequence, state, occurred_through) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(chronicle.state_version())
    .bind(sequence)
    .bind(state)
    .bind(occurred_through)
    .execute(conn)
    .await?;
    Ok(())
}
