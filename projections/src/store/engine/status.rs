//! Each handler's progress, lag and, when it is held at an event, why.

use super::{Engine, EngineError, EventRef};
use crate::store::log::LogPosition;
use chrono::{DateTime, Utc};
use sqlx::Row;

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

/// Counting pending events costs O(pending); above this the figure only says "a lot".
pub const PENDING_COUNT_CAP: i64 = 100_000;

impl Engine {
    /// Every registered handler's progress and lag.
    pub async fn status(&self) -> Result<Vec<HandlerStatus>, EngineError> {
        let rows = sqlx::query(
            "SELECT c.name, c.last_transaction_id, c.last_position, \
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
                        transaction_id: row.try_get("last_transaction_id")?,
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

    /// How far behind the log the handlers are, at a glance: the largest lag in seconds and how
    /// many are held at an event. One index lookup per handler (no pending counts), so a
    /// dashboard may ask on every view.
    pub async fn lag(&self) -> Result<Lag, EngineError> {
        let (oldest, stuck): (Option<DateTime<Utc>>, i64) = sqlx::query_as(
            "SELECT min((SELECT e.recorded_at FROM events e \
                          WHERE (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position) \
                          ORDER BY e.transaction_id, e.position LIMIT 1)), \
                    count(*) FILTER (WHERE c.stuck_position IS NOT NULL) \
             FROM projection_checkpoints c WHERE c.name = ANY($1)",
        )
        .bind(self.handler_names())
        .fetch_one(&self.pool)
        .await?;
        Ok(Lag {
            max_lag_seconds: oldest.map_or(0.0, |t| {
                (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
            }),
            stuck: stuck as usize,
        })
    }
}

/// See [`Engine::lag`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    pub max_lag_seconds: f64,
    pub stuck: usize,
}
