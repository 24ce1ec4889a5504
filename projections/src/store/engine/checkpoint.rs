//! Where each handler stands in the log, as the database holds it.

use super::EngineError;
use crate::store::log::{LogPosition, Xid8};
use sqlx::{PgConnection, PgPool, Row};

/// One handler's stored checkpoint.
pub(super) async fn checkpoint(pool: &PgPool, name: &str) -> Result<LogPosition, EngineError> {
    let stored = checkpoints(pool, &[name.to_string()]).await?;
    Ok(stored.first().map(|(_, at)| *at).unwrap_or_default())
}

pub(super) async fn checkpoints<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    names: &[String],
) -> Result<Vec<(String, LogPosition)>, EngineError> {
    let rows = sqlx::query(
        "SELECT name, last_transaction_id, last_position \
         FROM projection_checkpoints WHERE name = ANY($1)",
    )
    .bind(names)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            let at = LogPosition {
                transaction_id: row.try_get("last_transaction_id")?,
                position: row.try_get("last_position")?,
            };
            Ok((row.try_get("name")?, at))
        })
        .collect()
}

/// Moves each checkpoint to the last event its handler applied, in one statement.
pub(super) async fn advance(
    conn: &mut PgConnection,
    advanced: &[(&'static str, LogPosition, usize)],
) -> Result<(), EngineError> {
    let names: Vec<&str> = advanced.iter().map(|(name, ..)| *name).collect();
    let xids: Vec<Xid8> = advanced
        .iter()
        .map(|(_, at, _)| at.transaction_id)
        .collect();
    let positions: Vec<i64> = advanced.iter().map(|(_, at, _)| at.position).collect();
    let applied: Vec<i64> = advanced.iter().map(|(.., n)| *n as i64).collect();
    sqlx::query(
        "UPDATE projection_checkpoints c SET last_transaction_id = a.xid, \
         last_position = a.position, events_applied = c.events_applied + a.applied, \
         updated_at = now(), stuck_position = NULL, stuck_event_type = NULL, \
         stuck_cause = NULL, stuck_since = NULL \
         FROM unnest($1::text[], $2::xid8[], $3::bigint[], $4::bigint[]) \
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
