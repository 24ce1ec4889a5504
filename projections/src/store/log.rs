//! Reading the global event log in an order that never skips a late commit.
//!
//! Positions come from a sequence, so under concurrent writers position 11 can commit before
//! position 10. A reader that remembered "I am at 11" would then miss 10 forever. Instead the log
//! is read in (transaction id, position) order and only below the oldest transaction still
//! running (`pg_snapshot_xmin`): every transaction below that bound has finished, so nothing can
//! later appear behind a checkpoint. The price is that one long-running writing transaction
//! anywhere in the cluster holds the projectors back until it ends.

use chrono::{DateTime, Utc};
use domain::kit::event::{Read, StoredEvent};
use domain::EventMetadata;
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::PgRow;
use sqlx::postgres::{
    PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::{PgConnection, Row};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A PostgreSQL `xid8` (a 64-bit transaction id that never wraps around), read and written as
/// itself: compared as text, `1000` would sort before `999`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xid8(pub u64);

/// `xid8` and `xid8[]`, by their fixed OIDs (no lookup by name).
const XID8_OID: Oid = Oid(5069);
const XID8_ARRAY_OID: Oid = Oid(271);

impl sqlx::Type<Postgres> for Xid8 {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(XID8_OID)
    }
}

impl PgHasArrayType for Xid8 {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(XID8_ARRAY_OID)
    }
}

impl sqlx::Encode<'_, Postgres> for Xid8 {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        buf.extend_from_slice(&self.0.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl sqlx::Decode<'_, Postgres> for Xid8 {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value.as_bytes()?.try_into()?;
                Ok(Self(u64::from_be_bytes(bytes)))
            }
            PgValueFormat::Text => Ok(Self(value.as_str()?.parse()?)),
        }
    }
}

impl fmt::Display for Xid8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A point in the log: the writing transaction and the event's position. Ordered the way the
/// projector reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    pub transaction_id: Xid8,
    pub position: i64,
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.position, self.transaction_id)
    }
}

/// One event as the log holds it, metadata already typed.
///
/// Reading never fails on an event's content: a row whose metadata cannot be decoded (a
/// hand-made row, a bug in an older writer) is still handed on, and only a handler that needs
/// that metadata fails, at that event (see `metadata`). So one bad row stops the handlers that
/// consume it, never the reader, the write path or the other handlers.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub at: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    metadata: Result<EventMetadata, String>,
    pub recorded_at: DateTime<Utc>,
    /// The payload as decoded by the first handler that read it, for the others in the batch:
    /// every handler shares the batch's events, so each event is decoded once, however many
    /// handlers read it.
    decoded: OnceLock<Arc<dyn Any + Send + Sync>>,
}

/// An event a handler cannot apply as it stands: why, and where.
#[derive(Debug, thiserror::Error)]
#[error("{event_type} v{version} at position {position} cannot be read: {reason}")]
pub struct UndecodableEvent {
    pub position: i64,
    pub event_type: String,
    pub version: String,
    pub reason: String,
}

impl RecordedEvent {
    /// Who, when and why; an error naming the event when the stored metadata is unreadable.
    pub fn metadata(&self) -> Result<&EventMetadata, UndecodableEvent> {
        self.metadata
            .as_ref()
            .map_err(|reason| self.undecodable(format!("metadata: {reason}")))
    }

    /// The event as `E`, or `None` when this build does not know its type (a newer writer during
    /// a rolling upgrade): such events are skipped, and counted in
    /// `igny8_events_skipped_total`. A known type that cannot be read is an error.
    pub fn decode<E: StoredEvent + Clone + Send + Sync + 'static>(
        &self,
    ) -> Result<Option<E>, UndecodableEvent> {
        match self.read::<E>() {
            Ok(Read::Event(event)) => Ok(Some(event)),
            Ok(Read::Unknown) => {
                metrics::counter!("igny8_events_skipped_total",
                    "aggregate" => self.aggregate_type.clone(), "event_type" => self.event_type.clone())
                .increment(1);
                Ok(None)
            }
            Err(reason) => Err(self.undecodable(reason)),
        }
    }

    /// The payload read as `E`: decoded by the first caller, shared with later ones.
    fn read<E: StoredEvent + Clone + Send + Sync + 'static>(&self) -> Result<Read<E>, String> {
        let decode = || E::read(&self.event_type, &self.event_version, &self.payload);
        let cached = self
            .decoded
            .get_or_init(|| Arc::new(decode()) as Arc<dyn Any + Send + Sync>);
        match cached.downcast_ref::<Result<Read<E>, String>>() {
            Some(read) => read.clone(),
            // Read as another event type first (a handler that decodes foreign events).
            None => decode(),
        }
    }

    /// The error for this event, for a handler that cannot read it.
    pub fn undecodable(&self, reason: impl Into<String>) -> UndecodableEvent {
        UndecodableEvent {
            position: self.at.position,
            event_type: self.event_type.clone(),
            version: self.event_version.clone(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

const COLUMNS: &str = "position, transaction_id, aggregate_type, \
     aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at";

/// The next `limit` events after `after`, all from finished transactions.
pub async fn read_after(
    conn: &mut PgConnection,
    after: LogPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events \
         WHERE (transaction_id, position) > ($1, $2) \
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY transaction_id, position \
         LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(after.transaction_id)
        .bind(after.position)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}

/// The events of one aggregate with sequences after `after` and up to `through`, in sequence
/// order (for history and time travel).
pub async fn read_stream(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    after: i64,
    through: i64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
         AND sequence > $3 AND sequence <= $4 ORDER BY sequence"
    );
    let rows = sqlx::query(&sql)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(after)
        .bind(through)
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &PgRow) -> Result<RecordedEvent, LogError> {
    let position: i64 = row.try_get("position")?;
    let transaction_id = row.try_get("transaction_id")?;
    // Decoded straight from the column's bytes (not through a `Value`): this runs for every
    // event every projector reads. A row that is not a map of strings is reported, not fatal.
    let metadata = row
        .try_get::<sqlx::types::Json<HashMap<String, String>>, _>("metadata")
        .map_err(|e| format!("not a map of strings: {e}"))
        .and_then(|map| EventMetadata::from_map(&map.0));
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
        decoded: OnceLock::new(),
    })
}
