//! Reading the global event log in an order that never skips a late commit.
//!
//! Positions come from a sequence, so under concurrent writers position 11 can commit before
//! position 10. A reader that remembered "I am at 11" would then miss 10 forever. Instead the log
//! is read in (transaction id, position) order and only below the oldest transaction still
//! running (`pg_snapshot_xmin`): every transaction below that bound has finished, so nothing can
//! later appear behind a checkpoint. The price is that one long-running writing transaction
//! anywhere in the cluster holds the projectors back until it ends.

use chrono::{DateTime, Utc};
use domain::EventMetadata;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;
use std::fmt;

/// A point in the log: the writing transaction and the event's position. Ordered the way the
/// projector reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    pub transaction_id: i64,
    pub position: i64,
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.position, self.transaction_id)
    }
}

/// One event as the log holds it, metadata already typed.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub at: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("event at position {position} has unreadable metadata: {reason}")]
    BadMetadata { position: i64, reason: String },
}

const COLUMNS: &str = "position, transaction_id::text AS xid, aggregate_type, \
     aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at";

/// The next `limit` events after `after`, all from finished transactions.
pub async fn read_after(
    conn: &mut PgConnection,
    after: LogPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events \
         WHERE (transaction_id, position) > ($1::text::xid8, $2) \
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY transaction_id, position \
         LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(after.transaction_id.to_string())
        .bind(after.position)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}

/// The events of one aggregate, in sequence order (for history and time travel).
pub async fn read_stream(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
         ORDER BY sequence"
    );
    let rows = sqlx::query(&sql)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) fn parse_xid(text: &str) -> Result<i64, sqlx::Error> {
    text.parse()
        .map_err(|e| sqlx::Error::Decode(format!("transaction id `{text}`: {e}").into()))
}

fn decode(row: &PgRow) -> Result<RecordedEvent, LogError> {
    let position: i64 = row.try_get("position")?;
    let transaction_id = parse_xid(row.try_get("xid")?)?;
    let raw: sqlx::types::Json<HashMap<String, String>> = row.try_get("metadata")?;
    let metadata = EventMetadata::from_map(&raw.0)
        .map_err(|reason| LogError::BadMetadata { position, reason })?;
    Ok(RecordedEvent {
        at: LogPosition {
            transaction_id,
            position,
        },
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata,
        recorded_at: row.try_get("recorded_at")?,
    })
}
